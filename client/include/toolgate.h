/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolgate.h - the agent-side client library.
 *
 * An agent reaches its tools through one broker socket, whose URL is in
 * $TOOLGATE_URL inside a `toolgate run` jail. This library speaks the wire
 * protocol (proto/toolgate.proto) over nng; it is also built as a shared
 * library (libtoolgate.so) for bindings such as the Python module.
 *
 *     tg_client *c;
 *     if (tg_client_open(NULL, &c) != 0) ...            // NULL: $TOOLGATE_URL
 *     tg_params *p = tg_params_new();
 *     tg_params_add_string(p, "code", "print(6*7)");
 *     tg_result *r;
 *     if (tg_call(c, "python", p, &r) == 0) {
 *             if (tg_result_status(r) == TG_STATUS_OK)
 *                     fwrite(tg_result_stdout(r, NULL), 1, ..., stdout);
 *             tg_result_free(r);
 *     }
 *     tg_params_free(p);
 *     tg_client_close(c);
 *
 * Errors: functions return 0 or a negative errno. Transport failures are
 * -ECONNREFUSED / -ENOENT (no broker at that URL), -ECONNRESET (the broker
 * went away mid-call), -ETIMEDOUT, -EPROTO (an undecodable answer), -EINVAL
 * (bad arguments), -ENOMEM. A call the broker answered returns 0 whatever
 * its status: look at tg_result_status().
 *
 * Thread safety: a tg_client may be used by several threads at once (each
 * call uses its own nng context); tg_params and tg_result are not shared.
 *
 * Ownership: whatever a function hands back through a `ret` pointer is the
 * caller's, to release with the matching _free / _close; pointers returned
 * by tg_result_* accessors belong to the result and live until
 * tg_result_free. A complete program: examples/client.c.
 */
#ifndef TOOLGATE_H
#define TOOLGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_client tg_client;
typedef struct tg_params tg_params;
typedef struct tg_result tg_result;

/* The wire statuses (values match proto/toolgate.proto). */
typedef enum tg_status {
	TG_STATUS_OK = 1,
	TG_STATUS_DENIED = 2,
	TG_STATUS_INVALID = 3,
	TG_STATUS_RATE_LIMITED = 4,
	TG_STATUS_TIMEOUT = 5,
	TG_STATUS_OOM = 6,
	TG_STATUS_OUTPUT_LIMIT = 7,
	TG_STATUS_UNAVAILABLE = 8,
	TG_STATUS_INTERNAL = 9,
} tg_status;

/* "OK", "DENIED", ... ; static storage. */
const char *tg_status_name(tg_status s);
/* A description of a negative errno returned by this library; static storage. */
const char *tg_client_strerror(int err);

/* ---------------------------------------------------------------------------
 * Connection.
 */

/*
 * Connect to the broker at url (ipc://PATH, tcp://HOST:PORT); NULL means
 * $TOOLGATE_URL. Fails fast (-ENOENT / -ECONNREFUSED) when nobody listens.
 * On success *ret is owned by the caller: release with tg_client_close.
 */
int tg_client_open(const char *url, tg_client **ret);
/* Close the connection and free the client. Accepts NULL. */
void tg_client_close(tg_client *c);
/* Give up on a call after timeout_ms (0: wait as long as the broker runs,
 * which is the default: the broker enforces each tool's own timeout). */
void tg_client_set_timeout(tg_client *c, uint32_t timeout_ms);

/* ---------------------------------------------------------------------------
 * Parameters. Adding a name that is already present turns it into an
 * array (in order), like NAME=VALUE pairs on the command line.
 */
tg_params *tg_params_new(void);    /* NULL on ENOMEM; free with tg_params_free */
void tg_params_free(tg_params *p); /* accepts NULL */
int tg_params_add_string(tg_params *p, const char *name, const char *value);
int tg_params_add_int(tg_params *p, const char *name, int64_t value);
int tg_params_add_bool(tg_params *p, const char *name, bool value);
/*
 * Add every member of a JSON object ('{"name": value, ...}'; values are
 * strings, integers, booleans or arrays of those). On a parse error returns
 * -EINVAL and, when errbuf is not NULL, writes a message naming the position.
 */
int tg_params_add_json(tg_params *p, const char *json, char *errbuf, size_t errbuf_len);

/* ---------------------------------------------------------------------------
 * Calls.
 */

/*
 * Ask the broker to run `tool` with `params` (may be NULL). Returns 0 and
 * *ret (owned by the caller; free with tg_result_free) when the broker
 * answered, whatever it answered; a negative errno when it could not be
 * reached or answered garbage.
 */
int tg_call(tg_client *c, const char *tool, const tg_params *params, tg_result **ret);

/*
 * The tools this caller may use, as a JSON array of
 * {"name", "description", "inputSchema"} objects. *ret_json is owned by the
 * caller (free()).
 */
int tg_tools(tg_client *c, char **ret_json);

void tg_result_free(tg_result *r); /* accepts NULL */

tg_status tg_result_status(const tg_result *r);
/* Why the call was denied / failed ("" when OK). Owned by r. */
const char *tg_result_reason(const tg_result *r);
/* The tool's exit code (-1 when a signal ended it) and that signal (0 if none). */
int tg_result_exit_code(const tg_result *r);
int tg_result_signal(const tg_result *r);
/* Sanitized output; not NUL-terminated (len in *ret_len). Owned by r. */
const uint8_t *tg_result_stdout(const tg_result *r, size_t *ret_len);
const uint8_t *tg_result_stderr(const tg_result *r, size_t *ret_len);
bool tg_result_truncated(const tg_result *r);
uint32_t tg_result_redactions(const tg_result *r);
uint32_t tg_result_retry_after_ms(const tg_result *r);
uint64_t tg_result_request_id(const tg_result *r);
/* The rule that decided, and the argv the tool ran with (NULL-terminated).
 * Both owned by r. */
const char *tg_result_rule(const tg_result *r);
const char *const *tg_result_argv(const tg_result *r);
/* Usage of the call. */
uint64_t tg_result_wall_ms(const tg_result *r);
uint64_t tg_result_cpu_ms(const tg_result *r);
uint64_t tg_result_max_rss_kb(const tg_result *r);
/* The whole result as one JSON object (what `toolgate call --json` prints).
 * Caller frees. NULL on ENOMEM. */
char *tg_result_to_json(const tg_result *r);

#ifdef __cplusplus
}
#endif

#endif /* TOOLGATE_H */
