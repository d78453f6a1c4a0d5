/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate tools - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_tools(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate tools: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
