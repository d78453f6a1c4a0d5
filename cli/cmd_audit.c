/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate audit - TEMPORARY: being written in this change. */
#include "cli.h"

int tg_cmd_audit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "toolgate audit: not built yet\n");
	return TG_EXIT_SOFTWARE;
}
