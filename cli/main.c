/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate: one multi-call binary; this file only dispatches. */
#include <string.h>

#include "cli.h"

static const struct tg_cli_command commands[] = {
        {"run", "run an agent jailed, with a broker for its tool calls", tg_cmd_run},
        {"broker", "serve tool calls for agents (foreground daemon)", tg_cmd_broker},
        {"call", "call a tool through the broker", tg_cmd_call},
        {"tools", "list the tools this caller may use", tg_cmd_tools},
        {"policy", "check a policy, or explain a decision", tg_cmd_policy},
        {"audit", "verify, show, replay audit logs; make checkpoint keys", tg_cmd_audit},
        {"mcp", "serve the policy's tools as an MCP server on stdio", tg_cmd_mcp},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: toolgate COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'toolgate COMMAND --help' describes a command. Version %s.\n", TG_VERSION);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return TG_EXIT_USAGE;
	}
	if (tg_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return TG_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("toolgate %s\n", TG_VERSION);
		return TG_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "toolgate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return TG_EXIT_USAGE;
}
