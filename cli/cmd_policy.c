/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate policy - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_policy(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate policy: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
