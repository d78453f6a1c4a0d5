/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h (private to policy-engine) - what the pipeline stages share:
 *
 *   load.c      YAML/JSON text -> node tree (every node keeps line:col)
 *   validate.c  node tree -> structural errors (unknown keys, kinds, ranges)
 *   compile.c   node tree -> the model (units, env, seccomp, network, ...)
 *   tool.c      tools: params, templates, pinned binaries
 *   decide.c    request -> verdict (pure), with path.c for path params
 *
 * Everything a loaded policy owns lives in its arena; what needs a real
 * destructor (PCRE2 codes, jansson values, fds) is registered with
 * tgp_arena_defer and released when the arena goes.
 */
#ifndef TG_POLICY_INTERNAL_H
#define TG_POLICY_INTERNAL_H

#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include "policy.h"
#include "tg.h"

/* ---------------------------------------------------------------------------
 * Arena: many small allocations, freed at once.
 */
struct tgp_chunk;
struct tgp_defer;
struct tgp_arena {
	struct tgp_chunk *chunks;
	struct tgp_defer *defers;
};

/* Zeroed memory, 16-byte aligned; NULL on ENOMEM. */
void *tgp_alloc(struct tgp_arena *a, size_t n);
void *tgp_alloc_array(struct tgp_arena *a, size_t n, size_t size);
char *tgp_strndup(struct tgp_arena *a, const char *s, size_t n);
char *tgp_strdup(struct tgp_arena *a, const char *s);
char *tgp_printf(struct tgp_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run fn(ptr) when the arena is freed (in reverse order); -ENOMEM on failure,
 * in which case fn(ptr) has already run. */
int tgp_arena_defer(struct tgp_arena *a, void (*fn)(void *), void *ptr);
void tgp_arena_free(struct tgp_arena *a);

/* ---------------------------------------------------------------------------
 * The node tree (load.c). Scalars are typed the way YAML 1.2's core schema
 * types plain scalars (JSON's types fall out of the same rules): quoted
 * scalars are always strings.
 */
enum tgp_kind { TGP_SCALAR = 0, TGP_MAP, TGP_SEQ };
enum tgp_stype { TGP_STR = 0, TGP_INT, TGP_FLOAT, TGP_BOOL, TGP_NULL };

struct tgp_node;
struct tgp_pair {
	struct tgp_node *key; /* always a scalar */
	struct tgp_node *value;
};

struct tgp_node {
	enum tgp_kind kind;
	enum tgp_stype stype; /* scalars */
	unsigned line, col;   /* 1-based */
	const char *str;      /* scalars: the text, NUL-terminated */
	size_t len;
	bool int_overflow; /* a plain integer that does not fit int64 */
	int64_t ival;
	double fval; /* TGP_INT and TGP_FLOAT */
	bool bval;
	size_t n; /* items / pairs */
	struct tgp_node **items;
	struct tgp_pair *pairs;
};

/* ---------------------------------------------------------------------------
 * Diagnostics while loading.
 */
#define TGP_MAX_ERRORS 200
#define TGP_KEY_MAX    512

struct tgp_ctx {
	const char *file;
	const char *base_dir;  /* absolute; relative paths resolve against it */
	struct tg_diags diags; /* collected here, sorted and handed out at the end */
	unsigned n_errors;
	bool oom;
	struct tg_policy *p;   /* the policy being built */
	struct tgp_arena *tmp; /* the node tree's arena */
};

/* Record an error at node n (NULL: no position) for key path `key`. */
void tgp_error(struct tgp_ctx *c, const struct tgp_node *n, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void tgp_error_at(struct tgp_ctx *c, unsigned line, unsigned col, const char *key, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* Stable sort by position; then move them into out (may be NULL). */
void tgp_diags_finish(struct tgp_ctx *c, struct tg_diags *out);

/* Key paths: "parent.child" and "parent[i]". buf is TGP_KEY_MAX bytes. */
const char *tgp_key(char *buf, const char *parent, const char *child);
const char *tgp_key_index(char *buf, const char *parent, size_t i);

/* ---------------------------------------------------------------------------
 * Node helpers.
 */
/* The value for key in a mapping (first occurrence), or NULL. */
const struct tgp_node *tgp_get(const struct tgp_node *map, const char *key);
const char *tgp_stype_name(const struct tgp_node *n);
static inline bool tgp_is_scalar(const struct tgp_node *n)
{
	return n && n->kind == TGP_SCALAR;
}
/* A scalar usable as text: strings and numbers (not null / booleans). */
static inline bool tgp_is_text(const struct tgp_node *n)
{
	return tgp_is_scalar(n) && n->stype != TGP_NULL && n->stype != TGP_BOOL;
}
static inline bool tgp_is_int(const struct tgp_node *n)
{
	return tgp_is_scalar(n) && n->stype == TGP_INT && !n->int_overflow;
}
static inline bool tgp_is_bool(const struct tgp_node *n)
{
	return tgp_is_scalar(n) && n->stype == TGP_BOOL;
}
static inline bool tgp_is_map(const struct tgp_node *n)
{
	return n && n->kind == TGP_MAP;
}
static inline bool tgp_is_seq(const struct tgp_node *n)
{
	return n && n->kind == TGP_SEQ;
}

/* ---------------------------------------------------------------------------
 * The compiled model.
 */
enum tgp_ptype { TGP_P_STRING = 0, TGP_P_INTEGER, TGP_P_BOOLEAN, TGP_P_PATH, TGP_P_ARRAY };
enum tgp_pkind { TGP_KIND_ANY = 0, TGP_KIND_FILE, TGP_KIND_DIR };

enum tgp_root_anchor {
	TGP_ANCHOR_WORKSPACE = 0, /* the policy's workspace (tg_policy_set_workspace) */
	TGP_ANCHOR_ENTRY,         /* the source of the tool's filesystem entry over it */
	TGP_ANCHOR_HOST,          /* the same path on the host */
};

struct tgp_param {
	const char *name;
	enum tgp_ptype type;
	const char *description; /* NULL when none */
	bool required;
	json_t *def; /* normalized default, or NULL */

	/* string, path */
	bool allow_leading_dash;
	/* string */
	bool has_max_length;
	uint64_t max_length; /* in characters (code points) */
	const char *pattern; /* the text, for messages and schemas */
	pcre2_code *re;
	json_t *enum_values; /* array, or NULL */
	/* integer */
	bool has_min, has_max;
	int64_t min, max;
	/* path: the root is the directory `rel` below a trusted anchor, resolved
	 * without following any symlink (the part below the anchor may be
	 * writable by the agent); see compile_path_root */
	const char *within; /* normalized sandbox path */
	enum tgp_root_anchor anchor_kind;
	const char *anchor; /* TGP_ANCHOR_ENTRY / _HOST: a host directory */
	const char *rel;    /* below the anchor, "" for the anchor itself */
	bool root_writable; /* the tool's mount over the root is writable */
	bool must_exist;
	enum tgp_pkind pkind;
	/* array */
	struct tgp_param *items;
	bool has_max_items;
	uint64_t max_items;
};

/* One argv element of a template: literal pieces and placeholders. */
struct tgp_seg {
	const char *lit; /* literal text, or NULL for a placeholder */
	size_t lit_len;
	size_t param; /* placeholder: index into the tool's params */
};

struct tgp_arg {
	struct tgp_seg *segs;
	size_t n_segs;
	bool expand; /* "{name...}": segs[0] is the array placeholder */
};

struct tgp_tool {
	const char *name;
	const char *description;
	const char *rule; /* "tools[3] (name)" */
	struct tgp_param *params;
	size_t n_params;
	struct tgp_arg *args;
	size_t n_args;
	char **envp;
	struct tg_limits limits;
	enum tg_ws_mode workspace;
	const struct tg_seccomp_spec *seccomp;
	const struct tg_network *network;
	struct tg_rate rate;
	struct tg_fs_entry *fs;
	size_t n_fs;
	/* the pinned binary */
	const char *exe;
	int exec_fd;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char sha256[TG_SHA256_HEX_LEN];
};

struct tgp_env {
	const char *name, *value;
};

/* A host directory the agent can write (writable.c). */
struct tgp_writable {
	const char *dir;
	const char *what;      /* "agent.filesystem[0]", "tools[2].filesystem[1]" */
	const char *canonical; /* dir with the host's symlinks resolved at load, or "" */
	bool have_id;          /* dev/ino of dir at load (it exists) */
	dev_t dev;
	ino_t ino;
};

struct tg_policy {
	atomic_uint refs;
	struct tgp_arena arena;
	const char *file;
	char sha256[TG_SHA256_HEX_LEN];
	const char *workspace;
	struct tg_agent_config agent;
	struct tg_sanitize_config sanitize;
	struct tg_audit_section audit;
	uint32_t max_concurrent;
	struct tgp_writable *writable; /* bind sources the agent can write through */
	size_t n_writable;
	struct tgp_tool *tools;
	size_t n_tools;
	size_t *by_name; /* tool indexes sorted by name, for bsearch */
	pcre2_match_context *mctx;

	/* defaults, used while compiling tools */
	struct tg_limits def_limits;
	const struct tg_seccomp_spec *def_seccomp;
	const struct tg_network *def_network;
	struct tgp_env *def_env;
	size_t n_def_env;
};

/* ---------------------------------------------------------------------------
 * Stages.
 */
/* load.c: parse buf into a node tree in ctx->tmp; NULL (with errors) on
 * failure. */
const struct tgp_node *tgp_load_tree(struct tgp_ctx *c, const char *buf, size_t len);
/* validate.c: structural schema; errors to c. */
void tgp_validate(struct tgp_ctx *c, const struct tgp_node *root);
/* compile.c: fill c->p from the tree; errors to c. */
void tgp_compile(struct tgp_ctx *c, const struct tgp_node *root);
/* tool.c: compile tools[i]. */
void tgp_compile_tool(struct tgp_ctx *c, const struct tgp_node *n, size_t i, struct tgp_tool *t);
/* compile.c, used by tool.c. */
void tgp_compile_limits(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                        struct tg_limits *inout, bool agent);
const struct tg_seccomp_spec *tgp_compile_seccomp(struct tgp_ctx *c, const struct tgp_node *n,
                                                  const char *key);
const struct tg_network *tgp_compile_network(struct tgp_ctx *c, const struct tgp_node *n,
                                             const char *key);
void tgp_compile_fs(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                    struct tg_fs_entry **ret, size_t *ret_n);
/* Overlay env map n (may be NULL) on base; a NULL-terminated "K=V" vector in
 * the policy arena. */
char **tgp_compile_env(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                       const struct tgp_env *base, size_t n_base);
enum tg_ws_mode tgp_ws_mode(const struct tgp_node *n, enum tg_ws_mode dflt);
/* Compile a PCRE2 pattern for the policy (freed with it); NULL with an error
 * reported at n. */
pcre2_code *tgp_compile_regex(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                              const char *pattern, uint32_t extra_flags);

/* builtins.c: the builtin redaction patterns. */
struct tgp_builtin {
	const char *name;
	const char *pattern;
	const char *description;
};
extern const struct tgp_builtin tgp_builtins[];
extern const size_t tgp_n_builtins;

/* decide.c: check one value against a param; used for defaults and enum
 * values at load too (check_path false: no filesystem access). Returns a
 * deny code (TG_DENY_NONE when fine), *ret_norm (new reference) and, on
 * deny, *ret_reason (malloc'ed); or -ENOMEM. */
struct tgp_paths;
int tgp_check_value(const struct tg_policy *p, const struct tgp_param *prm, const char *label,
                    const json_t *value, bool check_path, bool skip_enum, struct tgp_paths *paths,
                    json_t **ret_norm, char **ret_reason);
bool tgp_utf8_valid(const char *s, size_t len);

/* path.c */
struct tgp_paths {
	struct tg_verdict_path *items;
	size_t n;
};
/* Resolve a path value inside prm's root. Returns TG_DENY_NONE and
 * *ret_path (sandbox side, malloc'ed) and appends its descriptor to paths;
 * TG_DENY_PATH with *ret_reason; or -ENOMEM. */
int tgp_resolve_path(const struct tg_policy *p, const struct tgp_param *prm, const char *value,
                     struct tgp_paths *paths, char **ret_path, char **ret_reason);
void tgp_paths_clear(struct tgp_paths *paths);

/* writable.c: refuse host paths the broker opens by name (the workspace,
 * bind sources, path roots) that lie below a directory the agent can
 * write. After every tool is compiled. */
void tgp_check_writable(struct tgp_ctx *c, const struct tgp_node *root);

/* binary.c */
/* Pin t->exe: open, check, hash. Errors reported at n. */
void tgp_pin_binary(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                    struct tgp_tool *t);
/* 0 when the pinned binary is unchanged; else a reason (malloc'ed) in
 * *ret_reason and 1; -ENOMEM. */
int tgp_binary_changed(const struct tgp_tool *t, char **ret_reason);

/* Name lookups. */
const struct tgp_tool *tgp_find_tool(const struct tg_policy *p, const char *name, size_t *ret_i);
const char *tgp_ws_name(enum tg_ws_mode m);
const char *tgp_seccomp_mode_name(enum tg_seccomp_mode m);
const char *tgp_ptype_name(enum tgp_ptype t);

#endif /* TG_POLICY_INTERNAL_H */
