/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool.c - compile one entry of `tools`: its parameters (types, bounds,
 * patterns, defaults), its argv template and its settings overlaid on
 * `defaults`. The binary is pinned in binary.c.
 *
 * Templates: each command element is literal text and placeholders.
 * "{name}" renders a scalar parameter inside an element; "{name...}" must
 * be a whole element and expands an array into one element per item.
 * "{{" and "}}" are literal braces; any other "{" must open a placeholder,
 * so a typo cannot silently become literal text.
 */
#include <string.h>

#include "internal.h"

static const char *const ptype_names[] = {"string", "integer", "boolean", "path", "array"};

const char *tgp_ptype_name(enum tgp_ptype t)
{
	return (size_t)t < TG_ARRAY_SIZE(ptype_names) ? ptype_names[t] : "?";
}

static json_t *node_to_json(const struct tgp_node *n)
{
	switch (n->kind) {
	case TGP_SCALAR:
		switch (n->stype) {
		case TGP_STR:
			return json_stringn_nocheck(n->str, n->len);
		case TGP_INT:
			return n->int_overflow ? json_real(n->fval) : json_integer(n->ival);
		case TGP_FLOAT:
			return json_real(n->fval);
		case TGP_BOOL:
			return json_boolean(n->bval);
		case TGP_NULL:
			return json_null();
		}
		return NULL;
	case TGP_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n->n; i++)
			if (json_array_append_new(a, node_to_json(n->items[i])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	case TGP_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; o && i < n->n; i++)
			if (json_object_set_new(o, n->pairs[i].key->str,
			                        node_to_json(n->pairs[i].value)) < 0) {
				json_decref(o);
				return NULL;
			}
		return o;
	}
	}
	return NULL;
}

/* Keep a jansson value for the policy's lifetime. */
static json_t *keep_json(struct tgp_ctx *c, json_t *j)
{
	if (!j) {
		c->oom = true;
		return NULL;
	}
	if (tgp_arena_defer(&c->p->arena, (void (*)(void *))json_decref, j) < 0) {
		c->oom = true;
		return NULL;
	}
	return j;
}

static bool is_under(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Sandbox paths the tool's root makes itself (sandbox.h TG_ROOT_*), and
 * "/", which holds them. */
static bool synthesized_root(const char *path)
{
	static const char *const made[] = {"/proc", "/sys", "/dev", "/etc", "/tmp", "/run"};
	if (strcmp(path, "/") == 0)
		return true;
	for (size_t i = 0; i < TG_ARRAY_SIZE(made); i++)
		if (is_under(path, made[i]))
			return true;
	return false;
}

/* A path parameter's root, `within`, and where its objects come from.
 *
 * The tool's mounts, in the order the broker makes them: the workspace on
 * /workspace, then its filesystem entries. The last one at or over the
 * root is the one the tool sees the root through, so it decides both the
 * host directory the root is resolved in and whether pinned objects may
 * be written. A mount *below* the root is refused: a pinned object would
 * not go through it (a tmpfs masking /workspace/secrets, a read-only entry
 * over part of a writable one). A root no mount covers is the same path on
 * the host, pinned read-only, unless the sandbox makes that path itself.
 *
 * At decide time the root is opened as `rel` below `anchor` without
 * following any symlink: the part below the anchor may be the agent's to
 * write (rm -r /workspace/src; ln -s / /workspace/src). */
static void compile_path_root(struct tgp_ctx *c, const struct tgp_tool *t, const struct tgp_node *n,
                              const char *key, struct tgp_param *prm)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *within = tgp_get(n, "within");
	const char *w = tgp_is_text(within) ? within->str : "/workspace";
	const struct tgp_node *at = within ? within : n;
	const char *wkey = tgp_key(kb, key, "within");
	if (w[0] != '/' || strstr(w, "/../") ||
	    (strlen(w) >= 3 && !strcmp(w + strlen(w) - 3, "/.."))) {
		tgp_error(c, at, wkey, "must be an absolute sandbox path without '..'");
		return;
	}
	_cleanup_free_ char *norm = tg_path_join_abs("/", w);
	if (!norm) {
		c->oom = true;
		return;
	}
	prm->within = tgp_strdup(&c->p->arena, norm);
	if (!prm->within) {
		c->oom = true;
		return;
	}

	bool ws = t->workspace != TG_WS_NONE;
	/* Mounts below the root. */
	for (size_t k = 0; k < t->n_fs; k++) {
		const char *target = t->fs[k].target ? t->fs[k].target : t->fs[k].source;
		if (target && is_under(target, norm) && strcmp(target, norm) != 0) {
			tgp_error(
			        c, at, wkey,
			        "%s has the tool's filesystem[%zu] mounted below it (%s): pinned "
			        "objects would not go through that mount; choose a root beside it",
			        norm, k, target);
			return;
		}
	}
	if (ws && is_under("/workspace", norm) && strcmp(norm, "/workspace") != 0) {
		tgp_error(c, at, wkey,
		          "%s has the workspace mounted below it: choose a root inside /workspace "
		          "or beside it",
		          norm);
		return;
	}
	/* The mount over it: the last filesystem entry, else the workspace. */
	const struct tg_fs_entry *over = NULL;
	for (size_t k = 0; k < t->n_fs; k++) {
		const char *target = t->fs[k].target ? t->fs[k].target : t->fs[k].source;
		if (target && is_under(norm, target))
			over = &t->fs[k];
	}
	if (over) {
		if (over->type == TG_FS_TMPFS || !over->source) {
			tgp_error(
			        c, at, wkey,
			        "%s is on a tmpfs of the tool's own sandbox: nothing there exists "
			        "before the call to check",
			        norm);
			return;
		}
		const char *target = over->target ? over->target : over->source;
		prm->anchor_kind = TGP_ANCHOR_ENTRY;
		prm->anchor = over->source;
		prm->rel = tgp_strdup(&c->p->arena,
		                      norm + strlen(target) + (norm[strlen(target)] == '/'));
		prm->root_writable = !over->readonly;
	} else if (is_under(norm, "/workspace")) {
		/* /workspace is the policy's workspace directory on the host. */
		if (!c->p->workspace) {
			tgp_error(c, at, wkey,
			          "%s is inside /workspace but the policy has no 'workspace'",
			          norm);
			return;
		}
		if (!ws) {
			tgp_error(c, at, wkey,
			          "%s is inside /workspace but the tool has workspace: none", norm);
			return;
		}
		prm->anchor_kind = TGP_ANCHOR_WORKSPACE;
		prm->rel = tgp_strdup(&c->p->arena, norm + strlen("/workspace") +
		                                            (norm[strlen("/workspace")] == '/'));
		prm->root_writable = t->workspace == TG_WS_RW;
	} else if (synthesized_root(norm)) {
		/* The tool's /proc, /dev, /etc, /tmp, ... are made for it; the
		 * host's objects there are not what it would see (and the
		 * broker's /proc is the broker's). */
		tgp_error(c, at, wkey,
		          "%s is made by the sandbox for each call, not taken from the host: "
		          "path parameters name host files (in /workspace, under a filesystem "
		          "entry of the tool, or another host directory)",
		          norm);
		return;
	} else {
		/* Any other root is the same path on the host (the operator's
		 * to name, symlinks and all); its objects are bound read-only. */
		prm->anchor_kind = TGP_ANCHOR_HOST;
		prm->anchor = prm->within;
		prm->rel = "";
		prm->root_writable = false;
	}
	if (!prm->rel)
		c->oom = true;
}

/* Decide-time reasons start with "parameter 'x': "; at load the key path
 * already says which parameter. */
static const char *strip_label(const char *reason)
{
	const char *p = strstr(reason, "': ");
	return strncmp(reason, "parameter '", 11) == 0 && p ? p + 3 : reason;
}

static void compile_param(struct tgp_ctx *c, const struct tgp_tool *t, const struct tgp_node *n,
                          const char *key, const char *name, struct tgp_param *prm, bool item)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	struct tg_policy *p = c->p;
	prm->name = tgp_strdup(&p->arena, name);
	if (!tgp_is_map(n))
		return;
	const struct tgp_node *v, *type = tgp_get(n, "type");
	if (!tgp_is_text(type))
		return;
	for (size_t i = 0; i < TG_ARRAY_SIZE(ptype_names); i++)
		if (strcmp(type->str, ptype_names[i]) == 0)
			prm->type = (enum tgp_ptype)i;
	if ((v = tgp_get(n, "description")) && tgp_is_text(v))
		prm->description = tgp_strdup(&p->arena, v->str);
	if ((v = tgp_get(n, "required")) && tgp_is_bool(v))
		prm->required = v->bval;
	if ((v = tgp_get(n, "allow_leading_dash")) && tgp_is_bool(v))
		prm->allow_leading_dash = v->bval;
	if ((v = tgp_get(n, "max_length")) && tgp_is_int(v) && v->ival >= 0) {
		prm->has_max_length = true;
		prm->max_length = (uint64_t)v->ival;
	}
	if ((v = tgp_get(n, "pattern")) && tgp_is_text(v)) {
		prm->pattern = tgp_strdup(&p->arena, v->str);
		/* DOLLAR_ENDONLY: '$' is the end of the value, not "before a final
		 * newline", so '^[a-z]+$' cannot be passed with "abc\n". */
		prm->re = tgp_compile_regex(c, v, tgp_key(kb, key, "pattern"), v->str,
		                            PCRE2_DOLLAR_ENDONLY);
	}
	if ((v = tgp_get(n, "min")) && tgp_is_int(v)) {
		prm->has_min = true;
		prm->min = v->ival;
	}
	if ((v = tgp_get(n, "max")) && tgp_is_int(v)) {
		prm->has_max = true;
		prm->max = v->ival;
	}
	if (prm->has_min && prm->has_max && prm->min > prm->max)
		tgp_error(c, tgp_get(n, "max"), tgp_key(kb, key, "max"), "is less than min (%lld)",
		          (long long)prm->min);
	if ((v = tgp_get(n, "must_exist")) && tgp_is_bool(v))
		prm->must_exist = v->bval;
	if ((v = tgp_get(n, "kind")) && tgp_is_text(v))
		prm->pkind = strcmp(v->str, "dir") == 0 ? TGP_KIND_DIR : TGP_KIND_FILE;
	if (prm->type == TGP_P_PATH)
		compile_path_root(c, t, n, key, prm);
	if ((v = tgp_get(n, "max_items")) && tgp_is_int(v) && v->ival >= 0) {
		prm->has_max_items = true;
		prm->max_items = (uint64_t)v->ival;
	}
	if (prm->type == TGP_P_ARRAY && (v = tgp_get(n, "items")) && tgp_is_map(v)) {
		prm->items = tgp_alloc(&p->arena, sizeof(*prm->items));
		if (!prm->items) {
			c->oom = true;
			return;
		}
		compile_param(c, t, v, tgp_key(kb, key, "items"), name, prm->items, true);
	}

	/* enum values and the default must pass the parameter's own checks:
	 * a policy that could never allow its own default is a bug. */
	if ((v = tgp_get(n, "enum")) && tgp_is_seq(v) &&
	    (prm->type == TGP_P_STRING || prm->type == TGP_P_INTEGER)) {
		if (v->n == 0)
			tgp_error(c, v, tgp_key(kb, key, "enum"), "must list at least one value");
		json_t *values = keep_json(c, json_array());
		for (size_t i = 0; values && i < v->n; i++) {
			_cleanup_json_ json_t *norm = NULL, *raw = node_to_json(v->items[i]);
			_cleanup_free_ char *reason = NULL;
			if (!raw) {
				c->oom = true;
				return;
			}
			int r = tgp_check_value(p, prm, name, raw, false, true, NULL, &norm,
			                        &reason);
			if (r < 0) {
				c->oom = true;
				return;
			}
			if (r != TG_DENY_NONE)
				tgp_error(c, v->items[i],
				          tgp_key_index(kb2, tgp_key(kb, key, "enum"), i), "%s",
				          strip_label(reason));
			else if (json_array_append(values, norm) < 0)
				c->oom = true;
		}
		prm->enum_values = values;
	}
	if (!item && (v = tgp_get(n, "default"))) {
		_cleanup_json_ json_t *norm = NULL, *raw = node_to_json(v);
		_cleanup_free_ char *reason = NULL;
		if (!raw) {
			c->oom = true;
			return;
		}
		int r = tgp_check_value(p, prm, name, raw, false, false, NULL, &norm, &reason);
		if (r < 0)
			c->oom = true;
		else if (r != TG_DENY_NONE)
			tgp_error(c, v, tgp_key(kb, key, "default"), "%s", strip_label(reason));
		else
			prm->def = keep_json(c, json_incref(raw));
	}
}

static void compile_params(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                           struct tgp_tool *t)
{
	char kb[TGP_KEY_MAX];
	if (!tgp_is_map(n) || n->n == 0)
		return;
	t->params = tgp_alloc_array(&c->p->arena, n->n, sizeof(*t->params));
	if (!t->params) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < n->n; i++)
		compile_param(c, t, n->pairs[i].value, tgp_key(kb, key, n->pairs[i].key->str),
		              n->pairs[i].key->str, &t->params[t->n_params++], false);
}

static bool param_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

static bool add_seg(struct tgp_ctx *c, struct tgp_arg *a, const char *lit, size_t len, size_t param)
{
	/* Elements are short; grow one by one (load time only). */
	struct tgp_seg *segs = tgp_alloc_array(&c->p->arena, a->n_segs + 1, sizeof(*segs));
	if (!segs) {
		c->oom = true;
		return false;
	}
	if (a->n_segs)
		memcpy(segs, a->segs, a->n_segs * sizeof(*segs));
	segs[a->n_segs].lit = lit ? tgp_strndup(&c->p->arena, lit, len) : NULL;
	segs[a->n_segs].lit_len = len;
	segs[a->n_segs].param = param;
	if (lit && !segs[a->n_segs].lit) {
		c->oom = true;
		return false;
	}
	a->segs = segs;
	a->n_segs++;
	return true;
}

/* Parse one command element; false (with an error) when it is malformed. */
static bool compile_arg(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                        struct tgp_tool *t, struct tgp_arg *a, bool *used)
{
	const char *s = n->str;
	size_t len = n->len;
	_cleanup_free_ char *lit = malloc(len + 1);
	size_t lit_len = 0;
	bool ok = true;
	if (!lit) {
		c->oom = true;
		return false;
	}
	for (size_t i = 0; i < len;) {
		if (s[i] == '}') {
			lit[lit_len++] = '}';
			i += (i + 1 < len && s[i + 1] == '}') ? 2 : 1;
			continue;
		}
		if (s[i] != '{') {
			lit[lit_len++] = s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '{') {
			lit[lit_len++] = '{';
			i += 2;
			continue;
		}
		const char *close = memchr(s + i, '}', len - i);
		if (!close) {
			tgp_error(c, n, key, "unclosed '{' (write {{ for a literal brace)");
			return false;
		}
		const char *name = s + i + 1;
		size_t nlen = (size_t)(close - name);
		bool expand = nlen > 3 && memcmp(close - 3, "...", 3) == 0;
		if (expand)
			nlen -= 3;
		if (!param_name_ok(name, nlen)) {
			tgp_error(c, n, key,
			          "invalid placeholder '%.*s' (write {{ and }} for literal braces)",
			          (int)(close - (s + i) + 1), s + i);
			return false;
		}
		size_t k = 0;
		while (k < t->n_params && !(strlen(t->params[k].name) == nlen &&
		                            !memcmp(t->params[k].name, name, nlen)))
			k++;
		if (k == t->n_params) {
			tgp_error(c, n, key, "unknown placeholder '{%.*s}': no parameter '%.*s'",
			          (int)(nlen + (expand ? 3 : 0)), name, (int)nlen, name);
			ok = false;
		} else if (expand) {
			if (i != 0 || close != s + len - 1) {
				tgp_error(c, n, key, "'{%.*s...}' must be a whole argument",
				          (int)nlen, name);
				ok = false;
			} else if (t->params[k].type != TGP_P_ARRAY) {
				tgp_error(c, n, key,
				          "'{%.*s...}' expands an array but '%.*s' is a %s",
				          (int)nlen, name, (int)nlen, name,
				          tgp_ptype_name(t->params[k].type));
				ok = false;
			} else {
				a->expand = true;
			}
		} else if (t->params[k].type == TGP_P_ARRAY) {
			tgp_error(c, n, key,
			          "array parameter '%.*s' must be expanded as a whole argument: "
			          "'{%.*s...}'",
			          (int)nlen, name, (int)nlen, name);
			ok = false;
		}
		if (ok) {
			used[k] = true;
			if ((lit_len && !add_seg(c, a, lit, lit_len, 0)) ||
			    !add_seg(c, a, NULL, 0, k))
				return false;
			lit_len = 0;
		}
		i = (size_t)(close - s) + 1;
	}
	if (ok && (lit_len || a->n_segs == 0) && !add_seg(c, a, lit, lit_len, 0))
		return false;
	return ok;
}

static void compile_command(struct tgp_ctx *c, const struct tgp_node *tool, const char *tkey,
                            struct tgp_tool *t)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	const struct tgp_node *cmd = tgp_get(tool, "command");
	if (!tgp_is_seq(cmd) || cmd->n == 0)
		return;
	const char *ckey = tgp_key(kb, tkey, "command");
	_cleanup_free_ bool *used = calloc(t->n_params + 1, sizeof(bool));
	t->args = tgp_alloc_array(&c->p->arena, cmd->n, sizeof(*t->args));
	if (!used || !t->args) {
		c->oom = true;
		return;
	}
	bool ok = true;
	for (size_t i = 0; i < cmd->n; i++) {
		const struct tgp_node *e = cmd->items[i];
		if (!tgp_is_text(e)) {
			ok = false;
			continue;
		}
		ok &= compile_arg(c, e, tgp_key_index(kb2, ckey, i), t, &t->args[t->n_args++],
		                  used);
	}
	const struct tgp_node *exe = cmd->items[0];
	if (ok && (t->args[0].n_segs != 1 || !t->args[0].segs[0].lit)) {
		tgp_error(c, exe, tgp_key_index(kb2, ckey, 0),
		          "the program must be a fixed path, not a placeholder");
		ok = false;
	}
	if (ok) {
		t->exe = t->args[0].segs[0].lit;
		tgp_pin_binary(c, exe, tgp_key_index(kb2, ckey, 0), t);
	}
	/* A declared parameter the command never uses is almost always a typo
	 * in a placeholder. */
	const struct tgp_node *params = tgp_get(tool, "params");
	for (size_t k = 0; ok && k < t->n_params; k++)
		if (!used[k])
			tgp_error(c, params->pairs[k].key,
			          tgp_key(kb2, tgp_key(kb, tkey, "params"), t->params[k].name),
			          "declared but not used in command");
}

static void compile_rate(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                         struct tg_rate *r)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *calls = tgp_get(n, "calls"), *per = tgp_get(n, "per"),
	                      *burst = tgp_get(n, "burst");
	if (!tgp_is_int(calls) || !tgp_is_text(per))
		return;
	uint64_t ms;
	if (tg_parse_duration_ms(per->str, &ms) < 0 || ms == 0) {
		tgp_error(c, per, tgp_key(kb, key, "per"),
		          "invalid duration '%s' (a number with ms, s, m or h, e.g. 1m)", per->str);
		return;
	}
	r->calls = (uint32_t)calls->ival;
	r->per_ms = ms;
	r->burst = tgp_is_int(burst) ? (uint32_t)burst->ival : r->calls;
}

void tgp_compile_tool(struct tgp_ctx *c, const struct tgp_node *n, size_t i, struct tgp_tool *t)
{
	char tkey[TGP_KEY_MAX], kb[TGP_KEY_MAX];
	struct tg_policy *p = c->p;
	tgp_key_index(tkey, "tools", i);
	memset(t, 0, sizeof(*t));
	t->exec_fd = -1;
	const struct tgp_node *v;
	if ((v = tgp_get(n, "name")) && tgp_is_text(v))
		t->name = tgp_strdup(&p->arena, v->str);
	t->rule = tgp_printf(&p->arena, "tools[%zu] (%s)", i, t->name ? t->name : "?");
	if ((v = tgp_get(n, "description")) && tgp_is_text(v))
		t->description = tgp_strdup(&p->arena, v->str);

	t->workspace = tgp_ws_mode(tgp_get(n, "workspace"), TG_WS_RO);
	t->limits = p->def_limits;
	tgp_compile_limits(c, tgp_get(n, "limits"), tgp_key(kb, tkey, "limits"), &t->limits, false);
	t->seccomp = tgp_compile_seccomp(c, tgp_get(n, "seccomp"), tgp_key(kb, tkey, "seccomp"));
	if (!t->seccomp)
		t->seccomp = p->def_seccomp;
	t->network = tgp_compile_network(c, tgp_get(n, "network"), tgp_key(kb, tkey, "network"));
	if (!t->network)
		t->network = p->def_network;
	compile_rate(c, tgp_get(n, "rate"), tgp_key(kb, tkey, "rate"), &t->rate);
	t->envp = tgp_compile_env(c, tgp_get(n, "env"), tgp_key(kb, tkey, "env"), p->def_env,
	                          p->n_def_env);
	tgp_compile_fs(c, tgp_get(n, "filesystem"), tgp_key(kb, tkey, "filesystem"), &t->fs,
	               &t->n_fs);

	compile_params(c, tgp_get(n, "params"), tgp_key(kb, tkey, "params"), t);
	compile_command(c, n, tkey, t);
	if (!t->rule)
		c->oom = true;
}

const struct tgp_tool *tgp_find_tool(const struct tg_policy *p, const char *name, size_t *ret_i)
{
	size_t lo = 0, hi = p->n_tools;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tgp_tool *t = &p->tools[p->by_name[mid]];
		int r = strcmp(name, t->name ? t->name : "");
		if (r == 0) {
			if (ret_i)
				*ret_i = p->by_name[mid];
			return t;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
