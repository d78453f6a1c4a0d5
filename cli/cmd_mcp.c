/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate mcp - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_mcp(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate mcp: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
