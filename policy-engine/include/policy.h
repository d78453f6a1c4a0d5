/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - the policy engine: YAML/JSON policy v1 -> validated, compiled,
 * immutable policy; and the pure decision
 *
 *     tg_policy_decide(policy, tool, params) -> verdict
 *
 * The engine does no process or network work. It reads the policy file and,
 * for path parameters, looks at the filesystem (openat2) to resolve paths.
 * Rate limits are configuration here; their counters live in the broker.
 *
 * Pipeline (one file each): load.c (YAML -> node tree with positions) ->
 * validate.c (schema: keys, types, ranges) -> compile.c (regexes, templates,
 * units) -> decide.c (request -> verdict).
 *
 * Thread safety: a loaded policy is immutable and may be used from any number
 * of threads; tg_policy_ref/unref are atomic, so a reload can swap policies
 * while calls still hold the old one.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>

struct tg_policy;

/* ---------------------------------------------------------------------------
 * Diagnostics: every problem found in a policy, with its position.
 */
struct tg_diag {
	char *file;    /* the policy file name as given */
	unsigned line; /* 1-based; 0 when the problem has no position (I/O) */
	unsigned col;  /* 1-based */
	char *key;     /* dotted path of the offending key, e.g. "tools[2].params.url.pattern";
	                  "" for the document itself */
	char *msg;     /* what is wrong, e.g. "invalid regex: missing ) at offset 7" */
};

struct tg_diags {
	struct tg_diag *items;
	size_t count;
};

/* Free the items (not the struct itself, which is usually on the stack). */
void tg_diags_clear(struct tg_diags *d);
/* "FILE:LINE:COL: key: message" (or "FILE: message" without position / key).
 * Caller frees; NULL on ENOMEM. */
char *tg_diag_format(const struct tg_diag *d);

/* ---------------------------------------------------------------------------
 * Loading.
 */

/*
 * Load, validate and compile a policy from a file (YAML; JSON is accepted
 * with the same schema and the same error positions). Relative paths inside
 * the policy (workspace, audit.path) are resolved against the directory of
 * the file.
 *
 * Returns 0 and *ret (a new reference, release with tg_policy_unref), or a
 * negative errno: -EINVAL when the policy has errors, each one appended to
 * *diags (all of them, not only the first); -ENOENT, -EACCES... when the
 * file cannot be read (also one diag). diags may be NULL.
 */
int tg_policy_load_file(const char *path, struct tg_policy **ret, struct tg_diags *diags);

/* The same from memory; name is used in diagnostics, base_dir resolves
 * relative paths (NULL: the current directory). */
int tg_policy_load_buffer(const char *name, const char *base_dir, const char *buf, size_t len,
                          struct tg_policy **ret, struct tg_diags *diags);

struct tg_policy *tg_policy_ref(struct tg_policy *p);
void tg_policy_unref(struct tg_policy *p); /* accepts NULL */

/* ---------------------------------------------------------------------------
 * Units, shared with the command line.
 */

/* "64MiB", "1GiB", "512KiB", "1024" (bytes), "10B". 0 or -EINVAL/-ERANGE. */
int tg_parse_size(const char *s, uint64_t *ret);
/* "10s", "500ms", "1m", "2h", "1.5s". Result in milliseconds. */
int tg_parse_duration_ms(const char *s, uint64_t *ret);

/* ---------------------------------------------------------------------------
 * The compiled model. All of it is owned by the policy and valid while a
 * reference to the policy is held.
 */

enum tg_ws_mode { TG_WS_NONE = 0, TG_WS_RO, TG_WS_RW };

/* Resource limits. 0 means "no limit" for every field but output_bytes. */
struct tg_limits {
	uint64_t timeout_ms;      /* wall clock for the whole call */
	uint32_t cpu_millis;      /* CPU bandwidth: 1000 = one CPU ("cpu: 1.0") */
	uint64_t memory_bytes;    /* memory (cgroup) */
	uint64_t pids;            /* tasks (cgroup) */
	uint64_t output_bytes;    /* kept per stream (stdout, stderr) */
	uint64_t file_size_bytes; /* largest file the tool may write (RLIMIT_FSIZE) */
};

enum tg_seccomp_mode {
	TG_SECCOMP_DEFAULT = 0, /* deny-list: see docs/security.md */
	TG_SECCOMP_STRICT,      /* allow-list that runs python3, sh, coreutils, curl */
	TG_SECCOMP_ALLOW,       /* "strict" plus the listed syscalls */
	TG_SECCOMP_DENY,        /* "default" plus the listed syscalls */
};

struct tg_seccomp_spec {
	enum tg_seccomp_mode mode;
	char **syscalls; /* NULL-terminated names for ALLOW / DENY; validated at load */
};

enum tg_net_proto { TG_NET_TCP = 1, TG_NET_UDP = 2, TG_NET_BOTH = 3 };

struct tg_egress_rule {
	char *host;      /* a DNS name to resolve, or NULL */
	char *cidr;      /* "192.0.2.0/24", "2001:db8::/32", "198.51.100.7", or NULL */
	uint16_t *ports; /* n_ports entries; n_ports == 0 means every port */
	size_t n_ports;
	enum tg_net_proto proto; /* default TCP */
};

struct tg_network {
	bool egress_enabled; /* false: "network: none" (empty netns, only lo) */
	struct tg_egress_rule *egress;
	size_t n_egress;
	uint64_t quota_bytes; /* `quota`: bytes one call may send out; 0 = no quota */
	uint32_t conn_rate;   /* `connections: {rate, per, burst}`: new connections per */
	uint64_t conn_per_ms; /*   conn_per_ms, at most conn_burst at once; rate 0 = no limit */
	uint32_t conn_burst;  /*   (burst defaults to rate) */
};

struct tg_rate {
	uint32_t calls;  /* tokens per period; 0: no rate limit */
	uint64_t per_ms; /* the period */
	uint32_t burst;  /* bucket size; defaults to calls */
};

enum tg_fs_type { TG_FS_BIND = 0, TG_FS_TMPFS };

/* One filesystem entry of agent.filesystem / a tool's filesystem. */
struct tg_fs_entry {
	enum tg_fs_type type;
	char *source;  /* host path (bind); NULL for tmpfs */
	char *target;  /* path inside the sandbox; defaults to source */
	bool readonly; /* mode: ro (default for binds) */
	uint64_t size; /* tmpfs size in bytes; 0 = the default (64 MiB) */
};

/* The agent section: how `toolgate run` jails the agent. */
struct tg_agent_config {
	struct tg_fs_entry *fs; /* in order */
	size_t n_fs;
	struct tg_limits limits;   /* timeout 0 = none; output unused */
	char **envp;               /* NULL-terminated "KEY=VALUE" */
	enum tg_ws_mode workspace; /* default rw */
	const struct tg_seccomp_spec *seccomp;
};

enum tg_utf8_mode { TG_UTF8_REPLACE = 0, TG_UTF8_DROP };

struct tg_redact_rule {
	char *name;     /* the builtin's name, or the pattern text */
	pcre2_code *re; /* compiled with PCRE2_UTF; match with tg_policy_new_match_context() */
	char *replace;  /* replacement text, default "[REDACTED]" */
};

struct tg_sanitize_config {
	bool strip_ansi;    /* ANSI/VT escape sequences (CSI, OSC, ...) */
	bool strip_control; /* C0/C1 controls but \n, \t (and \r before \n) */
	enum tg_utf8_mode utf8;
	struct tg_redact_rule *rules;
	size_t n_rules;
};

enum tg_audit_params_mode { TG_AUDIT_PARAMS_FULL = 0, TG_AUDIT_PARAMS_HASH, TG_AUDIT_PARAMS_NONE };
enum tg_audit_fsync_mode { TG_AUDIT_FSYNC_BATCH = 0, TG_AUDIT_FSYNC_ALWAYS, TG_AUDIT_FSYNC_NEVER };

struct tg_audit_section {
	char *path; /* absolute; NULL when the policy does not name one */
	enum tg_audit_params_mode params;
	enum tg_audit_fsync_mode fsync;
	char *key;                 /* `key`: HMAC-SHA256 key file (absolute), or NULL */
	char *sign_key;            /* `sign_key`: Ed25519 secret key file (absolute), or NULL */
	uint64_t checkpoint_every; /* `checkpoint.every` (1000); 0 = not by count */
	uint64_t checkpoint_interval_ms; /* `checkpoint.interval` (60s); 0 = not by time */
	uint64_t rotate_bytes;           /* `rotate`: a size; 0 = no rotation */
	uint32_t rotate_keep;            /* `rotate_keep`: rotated files kept; 0 = all */
	bool syslog;                     /* `syslog`: also send each record to /dev/log */
};

/* The hex SHA-256 of the policy file's bytes. */
const char *tg_policy_sha256(const struct tg_policy *p);
/* The file name the policy was loaded from (as given). */
const char *tg_policy_file(const struct tg_policy *p);
/* Absolute host path of `workspace`, or NULL when the policy has none. */
const char *tg_policy_workspace(const struct tg_policy *p);
/* Serve `dir` (absolute, canonical) as the workspace instead (the broker's
 * --workspace): /workspace, and the path parameters under it, are that
 * directory from now on. Only for a policy nobody else uses yet. 0;
 * -EXDEV with *ret_why (owned) when the agent could replace it or a host
 * path the policy names inside it (see writable.c); -ENOMEM. */
int tg_policy_set_workspace(struct tg_policy *p, const char *dir, char **ret_why);
const struct tg_agent_config *tg_policy_agent(const struct tg_policy *p);
const struct tg_sanitize_config *tg_policy_sanitize(const struct tg_policy *p);
const struct tg_audit_section *tg_policy_audit(const struct tg_policy *p);
/* Calls allowed in flight at once across all tools (top-level
 * `max_concurrent`); 0 = no cap. */
uint32_t tg_policy_max_concurrent(const struct tg_policy *p);

size_t tg_policy_tool_count(const struct tg_policy *p);
const char *tg_policy_tool_name(const struct tg_policy *p, size_t i);
const char *tg_policy_tool_description(const struct tg_policy *p, size_t i);
/* Tool i's network (never NULL for a valid i: "none" when it has none). */
const struct tg_network *tg_policy_tool_network(const struct tg_policy *p, size_t i);
/* JSON Schema (draft 2020-12, "type": "object") of tool i's parameters:
 * types, patterns, enums, bounds, required, defaults, descriptions.
 * New reference. */
json_t *tg_policy_tool_schema(const struct tg_policy *p, size_t i);

/* A new PCRE2 match context carrying the engine's match and depth limits,
 * for matching the policy's regexes (redactions) against untrusted text
 * without letting it make a match slow (ReDoS). Caller frees with
 * pcre2_match_context_free. NULL on ENOMEM. */
pcre2_match_context *tg_policy_new_match_context(void);

/* ---------------------------------------------------------------------------
 * Decisions.
 */

/* Why a call was denied; stable, for tests and machines. */
enum tg_deny_code {
	TG_DENY_NONE = 0,
	TG_DENY_UNKNOWN_TOOL,
	TG_DENY_UNKNOWN_PARAM,
	TG_DENY_MISSING_PARAM,
	TG_DENY_TYPE,           /* wrong JSON type, or not convertible ("abc" for an integer) */
	TG_DENY_BOUND,          /* max_length, min, max, max_items */
	TG_DENY_PATTERN,        /* pattern did not match (or hit the match limit) */
	TG_DENY_ENUM,           /* not one of enum */
	TG_DENY_LEADING_DASH,   /* starts with '-' without allow_leading_dash */
	TG_DENY_ENCODING,       /* NUL byte or invalid UTF-8 */
	TG_DENY_PATH,           /* escapes its root, missing, wrong kind, ... */
	TG_DENY_BINARY_CHANGED, /* command[0] changed on disk since the policy was loaded */
	TG_DENY_UNSUPPORTED,    /* needs a feature this build cannot enforce */
};

const char *tg_deny_code_name(enum tg_deny_code c); /* "unknown_tool", ... */

/* Where the broker binds the objects that path parameters resolved to,
 * inside the tool's sandbox: TG_PIN_DIR "/<index>/<name>". */
#define TG_PIN_DIR "/run/toolgate/args"

/* A path parameter's value as decide() resolved it. The tool does not get
 * the path it was checked under (the agent may rename things on the way to
 * it between the check and the use): the broker binds the very object that
 * was checked, by its descriptor, at `bind` in the tool's sandbox, and argv
 * names it there. */
struct tg_verdict_path {
	char *path;    /* the canonical sandbox path that was checked */
	char *bind;    /* TG_PIN_DIR/<n>/<name>: where the object is bound for the tool */
	char *arg;     /* what argv gets: `bind`, or `bind`/<missing part> */
	int fd;        /* O_PATH|O_CLOEXEC, owned by the verdict: the object itself when
	                  it exists, else its deepest existing ancestor directory */
	bool exists;   /* false: fd is that ancestor, and arg names a path below it */
	bool writable; /* the tool may write it: the mount it lies on in the tool's
	                  sandbox is writable (workspace: rw, or a rw filesystem entry) */
};

struct tg_verdict {
	bool allow;
	enum tg_deny_code code;
	char *reason; /* why, for people: "parameter 'code': longer than max_length 10 (12)" */
	char *rule;   /* the rule that decided: "tools[0] (python)", or "none" for unknown tools */
	char *tool;   /* the requested name */
	long tool_index; /* index in the policy, -1 when unknown */
	char **argv;     /* allow only: NULL-terminated; argv[0] is command[0] (absolute) */
	char **envp;     /* allow only: NULL-terminated "KEY=VALUE": defaults.env + tool env */
	json_t *params;  /* allow only: normalized values (defaults filled, types coerced) */
	struct tg_limits limits; /* defaults.limits overlaid by the tool's */
	enum tg_ws_mode workspace;
	const struct tg_seccomp_spec *seccomp; /* borrowed from the policy */
	const struct tg_network *network;      /* borrowed from the policy */
	const struct tg_rate *rate;            /* borrowed; calls == 0 when none */
	const struct tg_fs_entry *fs;          /* borrowed: the tool's extra filesystem entries */
	size_t n_fs;
	/* The pinned binary: command[0] was opened (O_PATH) and hashed at load;
	 * decide() checks it has not changed since (else TG_DENY_BINARY_CHANGED)
	 * and the broker executes this very descriptor. Borrowed; -1 / NULL on deny. */
	int exec_fd;
	const char *binary_sha256;
	/* allow only: one entry per path value (array items included), in the
	 * order of the tool's params. Closed by tg_verdict_free. */
	struct tg_verdict_path *paths;
	size_t n_paths;
};

/*
 * Decide whether `tool` may run with `params` (a JSON object whose values are
 * strings, integers, booleans or arrays of those; NULL means no parameters).
 * String values are converted for integer ("42") and boolean ("true") params
 * and a scalar is accepted for an array param (one item), so NAME=VALUE input
 * from a command line decides like typed JSON.
 *
 * Returns 0 and *ret (allow or deny; free with tg_verdict_free), or a
 * negative errno for failures that are not decisions (-ENOMEM).
 */
int tg_policy_decide(const struct tg_policy *p, const char *tool, const json_t *params,
                     struct tg_verdict **ret);
void tg_verdict_free(struct tg_verdict *v); /* accepts NULL */

/* The verdict for people and machines (policy explain --json): at least
 * decision, reason, rule, argv; plus env, limits, workspace, seccomp,
 * network/egress, rate. New reference. */
json_t *tg_verdict_to_json(const struct tg_verdict *v);

#endif /* TG_POLICY_H */
