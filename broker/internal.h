/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h (private to the broker) - shared structures of the broker's
 * files. See broker.h for the public surface. */
#ifndef TG_BROKER_INTERNAL_H
#define TG_BROKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <nng/nng.h>

#include "audit.h"
#include "broker.h"
#include "policy.h"
#include "sandbox.h"
#include "tg.h"
#include "tg_proto.h"

/* A loaded policy and what the broker builds from it once per load. Calls
 * hold a reference for their whole duration, so a reload never changes the
 * rules under a running call. */
struct tg_policy_set {
	atomic_uint refs;
	struct tg_policy *policy;
	pthread_mutex_t filters_lock;
	/* seccomp filters, built on first use per distinct seccomp spec. */
	struct filter_entry {
		const struct tg_seccomp_spec *spec;
		struct tg_seccomp *filter;
	} * filters;
	size_t n_filters;
};

struct tg_policy_set *tg_policy_set_get(struct tg_broker *b); /* new ref of the current set */
void tg_policy_set_put(struct tg_policy_set *s);
/* The compiled filter for spec (NULL spec: the default profile). 0 or -errno. */
int tg_policy_set_filter(struct tg_policy_set *s, const struct tg_seccomp_spec *spec,
                         const struct tg_seccomp **ret, struct tg_error **err);

struct tg_worker {
	struct tg_broker *broker;
	pthread_t thread;
	nng_ctx ctx;
	nng_aio *aio;
	bool started;
	pthread_mutex_t idle_lock; /* orders "idle" changes against the stopper's cancel */
	bool idle;                 /* waiting in recv: safe to cancel */
	atomic_bool done;
};

struct tg_ratelimit;
struct tg_egress;
struct tg_prepared;

struct tg_broker {
	/* configuration (owned copies) */
	char *policy_path;
	char *listen_url;
	char *audit_path;
	char *workspace;
	unsigned n_workers;

	char *session;
	char *runtime_dir; /* private, 0700; removed at free */
	int runtime_lock;  /* flock()ed for the broker's life: see runtime.c */
	char *socket_path; /* host path of the ipc socket, or NULL */
	char *url;

	pthread_mutex_t lock; /* guards `current` */
	struct tg_policy_set *current;

	struct tg_sandbox *sandbox;
	struct tg_prepared *prepared; /* sandboxes built ahead of calls (prepared.h) */
	struct tg_audit_writer *audit;
	pthread_mutex_t audit_lock; /* serializes "append then answer" decisions on failure */
	struct tg_ratelimit *rate;
	struct tg_egress *egress; /* per-call networks (egress.h) */

	/* server */
	nng_socket sock;
	bool sock_open;
	struct tg_worker *workers;
	atomic_bool stopping;
	bool stopped;
	atomic_uint in_flight;

	/* agent of `toolgate run` */
	pthread_mutex_t agent_lock;
	struct tg_child *agent;
};

/* runtime.c: the private runtime directory BASE/SESSION (0700), locked for
 * the broker's life; stale ones of dead brokers are removed first. */
int tg_runtime_dir_create(const char *base, const char *session, char **ret_dir, int *ret_lock,
                          struct tg_error **err);
/* Remove the (by then empty but for the lock) directory and drop the lock. */
void tg_runtime_dir_remove(const char *dir, int lock);

/* params.c: wire parameters <-> JSON. */
/* Convert the request's params to a JSON object. -EINVAL with *reason
 * (owned) for duplicate names, invalid UTF-8, too deep nesting. */
int tg_params_from_wire(const Toolgate__CallRequest *call, json_t **ret, char **reason);
/* The form of params that goes into the audit log per audit.params. New ref
 * or NULL (none). */
json_t *tg_params_for_audit(const json_t *params, enum tg_audit_params_mode mode);

/* The outcome of one call, filled by tg_broker_execute. */
struct tg_exec_result {
	Toolgate__Status status;
	char *reason; /* owned; NULL when OK */
	int exit_code;
	int signal;
	char *out, *err; /* sanitized (owned) */
	size_t out_len, err_len;
	uint64_t out_bytes, err_bytes; /* raw byte counts */
	char out_sha256[TG_SHA256_HEX_LEN], err_sha256[TG_SHA256_HEX_LEN];
	bool truncated;
	uint64_t redactions;
	uint64_t redaction_limit_hits; /* regions a rule could not check (redacted whole) */
	uint32_t retry_after_ms;
	uint64_t wall_ms, cpu_ms, max_rss_kb;
	char **protections;
	bool ran;
	/* The ended sandbox, freed (cgroup removal) by tg_exec_result_clear:
	 * after the answer is sent, off the caller's wait. */
	struct tg_child *child;
	/* The call ran with its own network and the egress rules (egress.h). */
	bool egress;
	uint64_t egress_dropped_packets, egress_sent_packets, egress_sent_bytes;
};
void tg_exec_result_clear(struct tg_exec_result *r);

/* mounts.c: the workspace (per ws) and then every filesystem entry, as
 * sandbox mounts, into out (room for 1 + n_fs). Returns the count. The
 * mounts borrow the strings of b and fs. */
size_t tg_broker_policy_mounts(const struct tg_broker *b, enum tg_ws_mode ws,
                               const struct tg_fs_entry *fs, size_t n_fs, struct tg_mount *out);

/* executor.c: run an allowed verdict in a fresh sandbox. cancel_fd >= 0
 * kills the call when it becomes readable. Always fills *res. */
void tg_broker_execute(struct tg_broker *b, struct tg_policy_set *set, const struct tg_verdict *v,
                       int cancel_fd, struct tg_exec_result *res);

/* handle.c: the whole path for one call, shared by the wire and MCP. */
struct tg_call_ctx {
	uint64_t request_id;
	bool has_request_id;
	bool has_peer;
	int64_t peer_pid, peer_uid;
	int cancel_fd;
};
struct tg_call_outcome {
	struct tg_exec_result exec;
	char *rule;
	char **argv;
};
void tg_call_outcome_clear(struct tg_call_outcome *o);
void tg_broker_handle_call(struct tg_broker *b, const struct tg_call_ctx *ctx, const char *tool,
                           const json_t *params, const char *invalid_reason,
                           struct tg_call_outcome *out);
/* Audit a request refused before any decision: INVALID (undecodable, bad
 * version, too deep) or UNAVAILABLE (the broker is shutting down). */
void tg_broker_audit_refused(struct tg_broker *b, const struct tg_call_ctx *ctx,
                             Toolgate__Status status, const char *reason);

/* server.c */
int tg_server_start(struct tg_broker *b, struct tg_error **err);
void tg_server_stop(struct tg_broker *b);

/* ratelimit.c: token buckets per tool for this session, and max_concurrent. */
struct tg_ratelimit *tg_ratelimit_new(void);
void tg_ratelimit_free(struct tg_ratelimit *r);
/* Take a token for `tool` under `rate` (calls == 0: unlimited). Returns true
 * when allowed; else false and *retry_after_ms. */
bool tg_ratelimit_take(struct tg_ratelimit *r, const char *tool, const struct tg_rate *rate,
                       uint64_t now_ms, uint32_t *retry_after_ms);
/* max_concurrent: true when a slot was taken (release with _leave). */
bool tg_ratelimit_enter(struct tg_ratelimit *r, uint32_t max_concurrent);
void tg_ratelimit_leave(struct tg_ratelimit *r);

#endif /* TG_BROKER_INTERNAL_H */
