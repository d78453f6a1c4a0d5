/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate call - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_call(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate call: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
