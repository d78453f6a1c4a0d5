/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate run - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate run: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
