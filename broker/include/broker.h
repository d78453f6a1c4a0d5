/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker.h - the broker: serves tool calls for agents.
 *
 * For each request: decode (bounded) -> policy decision -> rate limits ->
 * run the allowed binary in a fresh sandbox (sandbox-shim) with the verdict's
 * limits -> capture and sanitize its output -> append an audit record ->
 * answer with a typed status. Every request is answered and audited,
 * undecodable ones included; a slow tool never blocks other callers (each
 * worker owns an nng context).
 *
 * Files: broker.c (lifecycle, policy swap), server.c (nng REP, workers),
 * handle.c (one request, start to end), executor.c (verdict -> spawn spec,
 * capture, timeout), capture.c, params.c (wire <-> JSON), ratelimit.c,
 * agent.c (the jailed agent of `toolgate run`), sanitize.c.
 */
#ifndef TG_BROKER_H
#define TG_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct tg_error;
struct tg_broker;

struct tg_broker_config {
	const char *policy_path; /* required */
	/* Where to listen: ipc://PATH, or loopback tcp:// (others are refused). NULL: an ipc socket
	 * (mode 0600) in a private runtime directory (mode 0700). */
	const char *listen_url;
	/* The audit log. NULL: the policy's audit.path, else
	 * ./toolgate-audit.jsonl. */
	const char *audit_path;
	const char *workspace; /* overrides the policy's workspace */
	unsigned workers;      /* calls served at once; 0 = 16 */
	/* Where private runtime files go (socket, staging). NULL: /run/toolgate
	 * as root, else $XDG_RUNTIME_DIR/toolgate or /tmp/toolgate-UID. */
	const char *runtime_root;
	char *const *command; /* recorded in session_start (the agent's argv), or NULL */
};

/*
 * Load the policy, open the audit log (writing session_start and
 * policy_loaded), prepare the sandbox context. Nothing listens yet.
 * Returns 0 and *ret, or a negative errno with *err set (a bad policy's
 * diagnostics are in the message, one per line).
 */
int tg_broker_new(const struct tg_broker_config *cfg, struct tg_broker **ret,
                  struct tg_error **err);

/* Listen and start the workers. */
int tg_broker_start(struct tg_broker *b, struct tg_error **err);

/* The URL agents connect to, and the ipc socket's host path (NULL for tcp). */
const char *tg_broker_url(const struct tg_broker *b);
const char *tg_broker_socket_path(const struct tg_broker *b);
const char *tg_broker_session(const struct tg_broker *b);

/*
 * Reload the policy from its file. Atomic: calls in flight finish under the
 * policy they started with; a bad new policy is refused (-EINVAL, *err has
 * the diagnostics) and the old one keeps serving. Writes policy_loaded.
 */
int tg_broker_reload(struct tg_broker *b, struct tg_error **err);

/* Stop taking requests, let the calls in flight finish and answer, stop the
 * workers. Idempotent. */
void tg_broker_stop(struct tg_broker *b);

/* Stop (if needed), write session_end with the given exit status (exit code,
 * or -1 and a signal), close the audit log, remove every runtime file, free.
 * Accepts NULL. */
void tg_broker_free(struct tg_broker *b, int exit_code, int signal);

/* ---------------------------------------------------------------------------
 * The jailed agent of `toolgate run`.
 */
struct tg_agent_exit {
	int exit_code; /* -1 when a signal ended it */
	int signal;
	bool oom;
};

/*
 * Run argv as the agent, jailed per the policy's `agent` section: its only
 * way out is this broker's socket, bind-mounted in and named by
 * $TOOLGATE_URL; the `toolgate` client is at /run/toolgate/bin/toolgate (on
 * PATH). Inherits stdin/stdout/stderr. Blocks until the agent's whole tree
 * has ended. Signals given to tg_broker_signal_agent are forwarded.
 */
int tg_broker_run_agent(struct tg_broker *b, char *const *argv, struct tg_agent_exit *ret,
                        struct tg_error **err);
/* Forward a signal to the running agent (no-op when none runs). Async-safe
 * enough for a signal-handling thread (not for a signal handler). */
void tg_broker_signal_agent(struct tg_broker *b, int sig);

/* ---------------------------------------------------------------------------
 * In-process calls (the MCP front end): the same decide -> run -> sanitize
 * -> audit path as a wire request.
 */
struct tg_call_result {
	int status;   /* a Toolgate__Status value */
	char *reason; /* owned */
	int exit_code;
	int signal;
	char *out; /* sanitized stdout (owned, NUL-terminated) */
	size_t out_len;
	char *err; /* sanitized stderr (owned) */
	size_t err_len;
	bool truncated;
	uint32_t redactions;
	uint32_t retry_after_ms;
	uint64_t wall_ms, cpu_ms, max_rss_kb;
};

/* Run one call; `cancel_fd`, when >= 0, kills the call when it becomes
 * readable. Returns 0 (look at ret->status) or -ENOMEM. */
int tg_broker_call(struct tg_broker *b, const char *tool, const json_t *params, int cancel_fd,
                   struct tg_call_result *ret);
void tg_call_result_clear(struct tg_call_result *r);

/* The tools as a JSON array of {name, description, inputSchema}. New ref. */
json_t *tg_broker_tools(struct tg_broker *b);

#endif /* TG_BROKER_H */
