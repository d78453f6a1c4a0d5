/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate broker - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_broker(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate broker: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
