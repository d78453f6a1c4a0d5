/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c - the structure of policy v1: which keys exist where, what kind
 * of value each takes, fixed word sets and integer ranges. The schema is the
 * table below, documented field by field in docs/policy.md.
 *
 * Everything is checked and every problem reported (the walk never stops at
 * the first). What a value means (units, regexes, templates, syscall names,
 * addresses, binaries) is compile.c's business; it skips nodes of the wrong
 * kind, which were reported here, so nothing is reported twice.
 */
#include <string.h>

#include "internal.h"

enum vkind {
	VK_ANY = 0,
	VK_STR,    /* a string (numbers are accepted as their text) */
	VK_INT,    /* an integer, optionally within [min, max] */
	VK_NUM,    /* an integer or a decimal number */
	VK_BOOL,   /* true / false */
	VK_WORD,   /* one of words */
	VK_SCALAR, /* any non-null scalar */
	VK_MAP,    /* a mapping with the keys in keys */
	VK_DICT,   /* a mapping of free names (checked by keyname) to values */
	VK_SEQ,    /* a list of items */
	VK_ALT,    /* a scalar matching alts[0] or a mapping matching alts[1] */
};

enum vkeyname { KEYNAME_ANY = 0, KEYNAME_ENV, KEYNAME_PARAM };

struct vspec;
struct vkey {
	const char *name;
	const struct vspec *spec;
	bool required;
};

struct vspec {
	enum vkind kind;
	const struct vkey *keys;
	const struct vspec *items; /* VK_SEQ items, VK_DICT values */
	const char *const *words;
	bool ranged;
	int64_t min, max;
	enum vkeyname keyname;
	const struct vspec *alts[2];
	/* Runs after the node passed the structural checks. */
	void (*extra)(struct tgp_ctx *c, const struct tgp_node *n, const char *key);
};

/* ---------------------------------------------------------------------------
 * Extra checks.
 */
static bool name_ok(const char *s, size_t max, bool lower_only)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool lower = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		bool ok = lower_only ? lower || (i > 0 && (ch == '_' || ch == '-'))
		                     : lower || (ch >= 'A' && ch <= 'Z') || ch == '_';
		if (!lower_only && i == 0 && ch >= '0' && ch <= '9')
			ok = false;
		if (!ok)
			return false;
	}
	return true;
}

static void check_version(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	if (n->ival != 1)
		tgp_error(c, n, key, "unsupported version %lld (this toolgate reads version 1)",
		          (long long)n->ival);
}

static void exactly_one(struct tgp_ctx *c, const struct tgp_node *n, const char *key, const char *a,
                        const char *b)
{
	bool has_a = tgp_get(n, a) != NULL, has_b = tgp_get(n, b) != NULL;
	if (has_a && has_b)
		tgp_error(c, n, key, "give either '%s' or '%s', not both", a, b);
	else if (!has_a && !has_b)
		tgp_error(c, n, key, "needs '%s' or '%s'", a, b);
}

static void check_seccomp_map(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	exactly_one(c, n, key, "allow", "deny");
}

static void check_egress_rule(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	exactly_one(c, n, key, "host", "cidr");
}

static void check_redact(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	exactly_one(c, n, key, "builtin", "pattern");
}

static void check_audit(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	/* checkpoints are signatures: without a key they would silently not be */
	char kb[TGP_KEY_MAX];
	const struct tgp_node *cp = tgp_get(n, "checkpoint");
	if (cp && !tgp_get(n, "sign_key"))
		tgp_error(c, cp, tgp_key(kb, key, "checkpoint"),
		          "needs 'sign_key' (checkpoints are signed)");
}

static void check_fs_entry(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *type = tgp_get(n, "type");
	bool tmpfs = tgp_is_text(type) && strcmp(type->str, "tmpfs") == 0;
	const struct tgp_node *src = tgp_get(n, "source"), *size = tgp_get(n, "size");
	if (tmpfs) {
		if (src)
			tgp_error(c, src, tgp_key(kb, key, "source"), "a tmpfs has no source");
		if (!tgp_get(n, "target"))
			tgp_error(c, n, tgp_key(kb, key, "target"), "required for a tmpfs");
	} else {
		if (!src)
			tgp_error(c, n, tgp_key(kb, key, "source"), "required for a bind mount");
		if (size)
			tgp_error(c, size, tgp_key(kb, key, "size"), "only a tmpfs has a size");
	}
}

/* Which keys each parameter type takes, beyond the common ones. */
static const char *const param_keys_common[] = {"type", "description", "required", "default", NULL};
static const char *const *param_keys_for(const char *type)
{
	static const char *const string_keys[] = {"max_length", "pattern", "enum",
	                                          "allow_leading_dash", NULL};
	static const char *const integer_keys[] = {"min", "max", "enum", NULL};
	static const char *const boolean_keys[] = {NULL};
	static const char *const path_keys[] = {"within", "must_exist", "kind",
	                                        "allow_leading_dash", NULL};
	static const char *const array_keys[] = {"items", "max_items", NULL};
	if (strcmp(type, "string") == 0)
		return string_keys;
	if (strcmp(type, "integer") == 0)
		return integer_keys;
	if (strcmp(type, "boolean") == 0)
		return boolean_keys;
	if (strcmp(type, "path") == 0)
		return path_keys;
	if (strcmp(type, "array") == 0)
		return array_keys;
	return NULL;
}

static bool in_words(const char *const *words, const char *s)
{
	for (size_t i = 0; words[i]; i++)
		if (strcmp(words[i], s) == 0)
			return true;
	return false;
}

static bool known_param_key(const char *k)
{
	static const char *const types[] = {"string", "integer", "boolean", "path", "array"};
	for (size_t i = 0; i < TG_ARRAY_SIZE(types); i++)
		if (in_words(param_keys_for(types[i]), k))
			return true;
	return false;
}

static void check_param_common(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                               bool item)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *type = tgp_get(n, "type");
	if (!tgp_is_text(type))
		return; /* reported: missing or not a word */
	const char *const *extra_keys = param_keys_for(type->str);
	if (!extra_keys)
		return;
	for (size_t i = 0; i < n->n; i++) {
		const struct tgp_node *k = n->pairs[i].key;
		if (in_words(param_keys_common, k->str) || in_words(extra_keys, k->str))
			continue;
		if (!known_param_key(k->str))
			continue; /* reported as an unknown key */
		/* A known key that belongs to another type. */
		tgp_error(c, k, tgp_key(kb, key, k->str), "not valid for a parameter of type %s",
		          type->str);
	}
	const struct tgp_node *req = tgp_get(n, "required"), *def = tgp_get(n, "default");
	if (item) {
		if (req)
			tgp_error(c, req, tgp_key(kb, key, "required"),
			          "not valid in items (the array parameter is required or not)");
		if (def)
			tgp_error(c, def, tgp_key(kb, key, "default"),
			          "not valid in items (give the array parameter a default)");
		if (strcmp(type->str, "array") == 0)
			tgp_error(c, type, tgp_key(kb, key, "type"),
			          "arrays of arrays are not supported");
	} else if (def && tgp_is_bool(req) && req->bval) {
		tgp_error(c, def, tgp_key(kb, key, "default"),
		          "a required parameter cannot have a default");
	}
	if (strcmp(type->str, "array") == 0 && !tgp_get(n, "items"))
		tgp_error(c, n, tgp_key(kb, key, "items"), "required for type array");
}

static void check_param(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	check_param_common(c, n, key, false);
}

static void check_item(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	check_param_common(c, n, key, true);
}

static void check_tool(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *name = tgp_get(n, "name"), *cmd = tgp_get(n, "command");
	if (tgp_is_text(name) && !name_ok(name->str, 64, true))
		tgp_error(c, name, tgp_key(kb, key, "name"),
		          "invalid tool name '%s' (1-64 of a-z 0-9 _ -, starting with a letter "
		          "or digit)",
		          name->str);
	if (tgp_is_seq(cmd) && cmd->n == 0)
		tgp_error(c, cmd, tgp_key(kb, key, "command"), "must not be empty");
}

static void check_tools(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	for (size_t i = 0; i < n->n; i++) {
		const struct tgp_node *a = tgp_get(n->items[i], "name");
		if (!tgp_is_text(a))
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct tgp_node *b = tgp_get(n->items[j], "name");
			if (tgp_is_text(b) && strcmp(a->str, b->str) == 0) {
				tgp_error(c, a, tgp_key(kb, tgp_key_index(kb2, key, i), "name"),
				          "duplicate tool name '%s' (first at line %u)", a->str,
				          b->line);
				break;
			}
		}
	}
}

/* ---------------------------------------------------------------------------
 * The schema.
 */
#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct vspec v_str = {.kind = VK_STR};
static const struct vspec v_bool = {.kind = VK_BOOL};
static const struct vspec v_num = {.kind = VK_NUM};
static const struct vspec v_any = {.kind = VK_ANY};
static const struct vspec v_int_any = {.kind = VK_INT};
static const struct vspec v_uint = {.kind = VK_INT, .ranged = true, .min = 0, .max = INT64_MAX};
static const struct vspec v_count = {.kind = VK_INT, .ranged = true, .min = 1, .max = 1000000000};
static const struct vspec v_size = {.kind = VK_STR}; /* units: compile.c */
static const struct vspec v_str_list = {.kind = VK_SEQ, .items = &v_str};
static const struct vspec v_ws = {.kind = VK_WORD, .words = WORDS("none", "ro", "rw")};
static const struct vspec v_env = {.kind = VK_DICT, .keyname = KEYNAME_ENV, .items = &v_str};

static const struct vkey limit_keys[] = {
        {.name = "timeout", .spec = &v_str},
        {.name = "cpu", .spec = &v_num},
        {.name = "memory", .spec = &v_size},
        {.name = "pids", .spec = &v_uint},
        {.name = "output", .spec = &v_size},
        {.name = "file_size", .spec = &v_size},
        {.name = NULL},
};
static const struct vkey agent_limit_keys[] = {
        {.name = "timeout", .spec = &v_str},    {.name = "cpu", .spec = &v_num},
        {.name = "memory", .spec = &v_size},    {.name = "pids", .spec = &v_uint},
        {.name = "file_size", .spec = &v_size}, {.name = NULL},
};
static const struct vspec v_limits = {.kind = VK_MAP, .keys = limit_keys};
static const struct vspec v_agent_limits = {.kind = VK_MAP, .keys = agent_limit_keys};

static const struct vkey seccomp_keys[] = {{.name = "allow", .spec = &v_str_list},
                                           {.name = "deny", .spec = &v_str_list},
                                           {.name = NULL}};
static const struct vspec v_seccomp = {
        .kind = VK_ALT,
        .alts = {&(const struct vspec){.kind = VK_WORD, .words = WORDS("default", "strict")},
                 &(const struct vspec){
                         .kind = VK_MAP, .keys = seccomp_keys, .extra = check_seccomp_map}},
};

static const struct vspec v_port = {.kind = VK_INT, .ranged = true, .min = 1, .max = 65535};
static const struct vkey egress_keys[] = {
        {.name = "host", .spec = &v_str},
        {.name = "cidr", .spec = &v_str},
        {.name = "ports", .spec = &(const struct vspec){.kind = VK_SEQ, .items = &v_port}},
        {.name = "proto",
         .spec = &(const struct vspec){.kind = VK_WORD, .words = WORDS("tcp", "udp", "both")}},
        {.name = NULL},
};
static const struct vspec v_egress_rule = {
        .kind = VK_MAP, .keys = egress_keys, .extra = check_egress_rule};
static const struct vkey conn_keys[] = {{.name = "rate", .spec = &v_count, .required = true},
                                        {.name = "per", .spec = &v_str, .required = true},
                                        {.name = "burst", .spec = &v_count},
                                        {.name = NULL}};
static const struct vkey network_keys[] = {
        {.name = "egress",
         .spec = &(const struct vspec){.kind = VK_SEQ, .items = &v_egress_rule},
         .required = true},
        {.name = "quota", .spec = &v_size},
        {.name = "connections", .spec = &(const struct vspec){.kind = VK_MAP, .keys = conn_keys}},
        {.name = NULL},
};
static const struct vspec v_network = {
        .kind = VK_ALT,
        .alts = {&(const struct vspec){.kind = VK_WORD, .words = WORDS("none")},
                 &(const struct vspec){.kind = VK_MAP, .keys = network_keys}},
};

static const struct vkey fs_keys[] = {
        {.name = "source", .spec = &v_str},
        {.name = "target", .spec = &v_str},
        {.name = "mode",
         .spec = &(const struct vspec){.kind = VK_WORD, .words = WORDS("ro", "rw")}},
        {.name = "type",
         .spec = &(const struct vspec){.kind = VK_WORD, .words = WORDS("bind", "tmpfs")}},
        {.name = "size", .spec = &v_size},
        {.name = NULL},
};
static const struct vspec v_fs = {
        .kind = VK_SEQ,
        .items = &(const struct vspec){.kind = VK_MAP, .keys = fs_keys, .extra = check_fs_entry},
};

static const struct vspec v_item;
#define PARAM_KEYS(items_spec)                                                                    \
	{                                                                                         \
		{.name = "type",                                                                  \
		 .spec = &(const struct vspec){.kind = VK_WORD,                                   \
		                               .words = WORDS("string", "integer", "boolean",     \
		                                              "path", "array")},                  \
		 true},                                                                           \
		        {.name = "description", .spec = &v_str},                                  \
		        {.name = "required", .spec = &v_bool},                                    \
		        {.name = "default", .spec = &v_any},                                      \
		        {.name = "max_length", .spec = &v_uint},                                  \
		        {.name = "pattern", .spec = &v_str},                                      \
		        {.name = "enum",                                                          \
		         .spec =                                                                  \
		                 &(const struct vspec){                                           \
		                         .kind = VK_SEQ,                                          \
		                         .items = &(const struct vspec){.kind = VK_SCALAR}}},     \
		        {.name = "allow_leading_dash", .spec = &v_bool},                          \
		        {.name = "min", .spec = &v_int_any}, {.name = "max", .spec = &v_int_any}, \
		        {.name = "within", .spec = &v_str},                                       \
		        {.name = "must_exist", .spec = &v_bool},                                  \
		        {.name = "kind",                                                          \
		         .spec = &(const struct vspec){.kind = VK_WORD,                           \
		                                       .words = WORDS("file", "dir")}},           \
		        {.name = "items", .spec = items_spec},                                    \
		        {.name = "max_items", .spec = &v_uint}, {.name = NULL},                   \
	}
static const struct vkey item_keys[] = PARAM_KEYS(&v_item);
static const struct vspec v_item = {.kind = VK_MAP, .keys = item_keys, .extra = check_item};
static const struct vkey param_keys[] = PARAM_KEYS(&v_item);
static const struct vspec v_params = {
        .kind = VK_DICT,
        .keyname = KEYNAME_PARAM,
        .items = &(const struct vspec){.kind = VK_MAP, .keys = param_keys, .extra = check_param},
};

static const struct vkey rate_keys[] = {{.name = "calls", .spec = &v_count, .required = true},
                                        {.name = "per", .spec = &v_str, .required = true},
                                        {.name = "burst", .spec = &v_count},
                                        {.name = NULL}};

static const struct vkey tool_keys[] = {
        {.name = "name", .spec = &v_str, .required = true},
        {.name = "description", .spec = &v_str},
        {.name = "command", .spec = &v_str_list, .required = true},
        {.name = "params", .spec = &v_params},
        {.name = "workspace", .spec = &v_ws},
        {.name = "limits", .spec = &v_limits},
        {.name = "seccomp", .spec = &v_seccomp},
        {.name = "network", .spec = &v_network},
        {.name = "rate", .spec = &(const struct vspec){.kind = VK_MAP, .keys = rate_keys}},
        {.name = "env", .spec = &v_env},
        {.name = "filesystem", .spec = &v_fs},
        {.name = NULL},
};
static const struct vspec v_tools = {
        .kind = VK_SEQ,
        .items = &(const struct vspec){.kind = VK_MAP, .keys = tool_keys, .extra = check_tool},
        .extra = check_tools,
};

static const struct vkey defaults_keys[] = {
        {.name = "limits", .spec = &v_limits},
        {.name = "network", .spec = &v_network},
        {.name = "seccomp", .spec = &v_seccomp},
        {.name = "env", .spec = &v_env},
        {.name = NULL},
};
static const struct vkey agent_keys[] = {
        {.name = "filesystem", .spec = &v_fs},   {.name = "limits", .spec = &v_agent_limits},
        {.name = "env", .spec = &v_env},         {.name = "workspace", .spec = &v_ws},
        {.name = "seccomp", .spec = &v_seccomp}, {.name = NULL},
};
static const struct vkey redact_keys[] = {{.name = "builtin", .spec = &v_str},
                                          {.name = "pattern", .spec = &v_str},
                                          {.name = "replace", .spec = &v_str},
                                          {.name = NULL}};
static const struct vkey sanitize_keys[] = {
        {.name = "strip_ansi", .spec = &v_bool},
        {.name = "strip_control", .spec = &v_bool},
        {.name = "utf8",
         .spec = &(const struct vspec){.kind = VK_WORD, .words = WORDS("replace", "drop")}},
        {.name = "redact",
         .spec = &(const struct vspec){.kind = VK_SEQ,
                                       .items = &(const struct vspec){.kind = VK_MAP,
                                                                      .keys = redact_keys,
                                                                      .extra = check_redact}}},
        {.name = NULL},
};
static const struct vspec v_cp_every = {
        .kind = VK_INT, .ranged = true, .min = 0, .max = 1000000000};
static const struct vkey checkpoint_keys[] = {
        {.name = "every", .spec = &v_cp_every},
        {.name = "interval", .spec = &v_str}, /* a duration: compile.c */
        {.name = NULL},
};
static const struct vkey audit_keys[] = {
        {.name = "path", .spec = &v_str},
        {.name = "params",
         .spec = &(const struct vspec){.kind = VK_WORD, .words = WORDS("full", "hash", "none")}},
        {.name = "fsync",
         .spec = &(const struct vspec){.kind = VK_WORD,
                                       .words = WORDS("always", "batch", "never")}},
        {.name = "key", .spec = &v_str},
        {.name = "sign_key", .spec = &v_str},
        {.name = "checkpoint",
         .spec = &(const struct vspec){.kind = VK_MAP, .keys = checkpoint_keys}},
        {.name = "rotate", .spec = &v_size},
        {.name = "rotate_keep",
         .spec = &(const struct vspec){.kind = VK_INT, .ranged = true, .min = 0, .max = 100000}},
        {.name = "syslog", .spec = &v_bool},
        {.name = NULL},
};
static const struct vkey root_keys[] = {
        {.name = "version",
         .spec = &(const struct vspec){.kind = VK_INT, .extra = check_version},
         .required = true},
        {.name = "workspace", .spec = &v_str},
        {.name = "defaults", .spec = &(const struct vspec){.kind = VK_MAP, .keys = defaults_keys}},
        {.name = "agent", .spec = &(const struct vspec){.kind = VK_MAP, .keys = agent_keys}},
        {.name = "tools", .spec = &v_tools},
        {.name = "sanitize", .spec = &(const struct vspec){.kind = VK_MAP, .keys = sanitize_keys}},
        {.name = "audit",
         .spec = &(const struct vspec){.kind = VK_MAP, .keys = audit_keys, .extra = check_audit}},
        {.name = "max_concurrent",
         .spec = &(const struct vspec){.kind = VK_INT, .ranged = true, .min = 0, .max = 1000000}},
        {.name = NULL},
};
static const struct vspec v_root = {.kind = VK_MAP, .keys = root_keys};

/* ---------------------------------------------------------------------------
 * The walk.
 */
static void list_words(char *buf, size_t size, const char *const *words)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; words[i] && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", words[i]);
}

static void list_keys(char *buf, size_t size, const struct vkey *keys)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; keys[i].name && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", keys[i].name);
}

static bool check(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                  const struct vspec *s);

static bool check_key_name(struct tgp_ctx *c, const struct tgp_node *k, const char *key,
                           enum vkeyname kn)
{
	switch (kn) {
	case KEYNAME_ANY:
		return true;
	case KEYNAME_ENV:
		if (name_ok(k->str, 255, false))
			return true;
		tgp_error(c, k, key, "invalid environment variable name (A-Z a-z 0-9 _)");
		return false;
	case KEYNAME_PARAM:
		if (name_ok(k->str, 64, false))
			return true;
		tgp_error(c, k, key,
		          "invalid parameter name (1-64 of A-Z a-z 0-9 _, not starting with a "
		          "digit)");
		return false;
	}
	return false;
}

static bool check_dups(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	char kb[TGP_KEY_MAX];
	bool ok = true;
	for (size_t i = 0; i < n->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(n->pairs[i].key->str, n->pairs[j].key->str) == 0) {
				tgp_error(
				        c, n->pairs[i].key, tgp_key(kb, key, n->pairs[i].key->str),
				        "duplicate key (first at line %u)", n->pairs[j].key->line);
				ok = false;
				break;
			}
	return ok;
}

static bool check_map(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                      const struct vspec *s)
{
	char kb[TGP_KEY_MAX], expected[1024];
	bool ok = check_dups(c, n, key);
	for (size_t i = 0; i < n->n; i++) {
		const struct tgp_node *k = n->pairs[i].key;
		const struct vkey *vk = NULL;
		for (size_t j = 0; s->keys[j].name; j++)
			if (strcmp(s->keys[j].name, k->str) == 0)
				vk = &s->keys[j];
		if (!vk) {
			list_keys(expected, sizeof(expected), s->keys);
			tgp_error(c, k, tgp_key(kb, key, k->str),
			          "unknown key (expected one of: %s)", expected);
			ok = false;
			continue;
		}
		ok &= check(c, n->pairs[i].value, tgp_key(kb, key, k->str), vk->spec);
	}
	for (size_t j = 0; s->keys[j].name; j++)
		if (s->keys[j].required && !tgp_get(n, s->keys[j].name)) {
			tgp_error(c, n, tgp_key(kb, key, s->keys[j].name), "required key missing");
			ok = false;
		}
	return ok;
}

static bool check(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                  const struct vspec *s)
{
	char kb[TGP_KEY_MAX], words[512];
	bool ok = true;
	switch (s->kind) {
	case VK_ANY:
		break;
	case VK_STR:
		if (!tgp_is_text(n)) {
			tgp_error(c, n, key, "expected a string, got %s", tgp_stype_name(n));
			return false;
		}
		break;
	case VK_INT:
		if (tgp_is_scalar(n) && n->stype == TGP_INT && n->int_overflow) {
			tgp_error(c, n, key, "integer out of range");
			return false;
		}
		if (!tgp_is_int(n)) {
			tgp_error(c, n, key, "expected an integer, got %s", tgp_stype_name(n));
			return false;
		}
		if (s->ranged && (n->ival < s->min || n->ival > s->max)) {
			if (s->max == INT64_MAX)
				tgp_error(c, n, key, "must be at least %lld (got %lld)",
				          (long long)s->min, (long long)n->ival);
			else
				tgp_error(c, n, key, "must be between %lld and %lld (got %lld)",
				          (long long)s->min, (long long)s->max, (long long)n->ival);
			return false;
		}
		break;
	case VK_NUM:
		if (!tgp_is_scalar(n) || (n->stype != TGP_INT && n->stype != TGP_FLOAT)) {
			tgp_error(c, n, key, "expected a number, got %s", tgp_stype_name(n));
			return false;
		}
		break;
	case VK_BOOL:
		if (!tgp_is_bool(n)) {
			tgp_error(c, n, key, "expected a boolean (true or false), got %s",
			          tgp_stype_name(n));
			return false;
		}
		break;
	case VK_WORD:
		if (!tgp_is_text(n) || !in_words(s->words, n->str)) {
			list_words(words, sizeof(words), s->words);
			if (tgp_is_text(n))
				tgp_error(c, n, key, "expected one of: %s; got '%s'", words,
				          n->str);
			else
				tgp_error(c, n, key, "expected one of: %s; got %s", words,
				          tgp_stype_name(n));
			return false;
		}
		break;
	case VK_SCALAR:
		if (!tgp_is_scalar(n) || n->stype == TGP_NULL) {
			tgp_error(c, n, key, "expected a single value, got %s", tgp_stype_name(n));
			return false;
		}
		break;
	case VK_MAP:
		if (!tgp_is_map(n)) {
			tgp_error(c, n, key, "expected a mapping, got %s", tgp_stype_name(n));
			return false;
		}
		ok = check_map(c, n, key, s);
		break;
	case VK_DICT:
		if (!tgp_is_map(n)) {
			tgp_error(c, n, key, "expected a mapping, got %s", tgp_stype_name(n));
			return false;
		}
		ok = check_dups(c, n, key);
		for (size_t i = 0; i < n->n; i++) {
			const char *k = tgp_key(kb, key, n->pairs[i].key->str);
			ok &= check_key_name(c, n->pairs[i].key, k, s->keyname);
			ok &= check(c, n->pairs[i].value, k, s->items);
		}
		break;
	case VK_SEQ:
		if (!tgp_is_seq(n)) {
			tgp_error(c, n, key, "expected a list, got %s", tgp_stype_name(n));
			return false;
		}
		for (size_t i = 0; i < n->n; i++)
			ok &= check(c, n->items[i], tgp_key_index(kb, key, i), s->items);
		break;
	case VK_ALT:
		if (tgp_is_map(n))
			return check(c, n, key, s->alts[1]);
		if (tgp_is_text(n))
			return check(c, n, key, s->alts[0]);
		list_words(words, sizeof(words), s->alts[0]->words);
		tgp_error(c, n, key, "expected one of: %s, or a mapping; got %s", words,
		          tgp_stype_name(n));
		return false;
	}
	/* Containers run their extra checks even when a child was wrong, so
	 * that every problem is reported in one go; the extras cope with
	 * children of the wrong kind. */
	if (s->extra)
		s->extra(c, n, key);
	return ok;
}

void tgp_validate(struct tgp_ctx *c, const struct tgp_node *root)
{
	check(c, root, "", &v_root);
}
