/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate mcp: the policy's tools as an MCP server on stdio. */
#include <string.h>
#include <sys/signalfd.h>

#include "broker.h"
#include "cli.h"
#include "mcp.h"
#include "signals.h"
#include "tg.h"

static void help(FILE *out)
{
	fprintf(out,
	        "usage: toolgate mcp --policy FILE [--audit FILE] [--workspace DIR]\n"
	        "\n"
	        "Serve the policy's tools as an MCP server on stdin/stdout (JSON-RPC 2.0, one\n"
	        "message per line; logs on stderr). Every tools/call is decided, run in a fresh\n"
	        "sandbox, sanitized and audited exactly like a call through the broker.\n"
	        "Protocol versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05.\n"
	        "Exits 0 when stdin closes. See docs/mcp.md.\n");
}

int tg_cmd_mcp(int argc, char **argv)
{
	struct tg_broker_config cfg = {0};
	int c = tg_cli_broker_args("mcp", argc, argv, false, help, &cfg);
	if (c >= 0)
		return c;
	if (optind < argc)
		return tg_cli_usage_error("mcp", "unexpected argument '%s'", argv[optind]);

	sigset_t sigs;
	tg_cli_block_signals(&sigs);
	struct tg_broker *b = NULL;
	int r = tg_cli_broker_new("mcp", &cfg, &b);
	if (r != 0)
		return r;
	/* SIGTERM / SIGINT / SIGHUP end the session cleanly (session_end is
	 * written, sandboxes are killed and removed). */
	_cleanup_close_ int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	r = tg_mcp_serve(b, STDIN_FILENO, stdout, sfd);
	tg_broker_free(b, 0, 0);
	return r < 0 ? TG_EXIT_FAILURE : TG_EXIT_OK;
}
