/* SPDX-License-Identifier: Apache-2.0 */
/* mcp.h (private to the CLI) - the MCP server on stdio: JSON-RPC 2.0, one
 * JSON object per line, over a broker used in-process, so every tools/call
 * takes the same decide -> run -> sanitize -> audit path as a wire call. */
#ifndef TG_CLI_MCP_H
#define TG_CLI_MCP_H

#include <stdio.h>

struct tg_broker;

/* Serve MCP on in_fd/out until in_fd reaches EOF (then calls in flight get
 * a short grace to finish and answer) or sig_fd (a signalfd, or -1) becomes
 * readable (then they are cancelled at once). Returns 0, or -EIO when `out`
 * failed. Logs go to stderr only. */
int tg_mcp_serve(struct tg_broker *b, int in_fd, FILE *out, int sig_fd);

#endif /* TG_CLI_MCP_H */
