/* SPDX-License-Identifier: Apache-2.0 */
/* Verdicts: names of deny codes, freeing, and the JSON form that `policy
 * explain --json`, audit records and the MCP front end show. */
#include <string.h>

#include "internal.h"

static const char *const deny_names[] = {
        [TG_DENY_NONE] = "none",
        [TG_DENY_UNKNOWN_TOOL] = "unknown_tool",
        [TG_DENY_UNKNOWN_PARAM] = "unknown_param",
        [TG_DENY_MISSING_PARAM] = "missing_param",
        [TG_DENY_TYPE] = "type",
        [TG_DENY_BOUND] = "bound",
        [TG_DENY_PATTERN] = "pattern",
        [TG_DENY_ENUM] = "enum",
        [TG_DENY_LEADING_DASH] = "leading_dash",
        [TG_DENY_ENCODING] = "encoding",
        [TG_DENY_PATH] = "path",
        [TG_DENY_BINARY_CHANGED] = "binary_changed",
        [TG_DENY_UNSUPPORTED] = "unsupported",
};

const char *tg_deny_code_name(enum tg_deny_code c)
{
	if ((size_t)c < TG_ARRAY_SIZE(deny_names) && deny_names[c])
		return deny_names[c];
	return "unknown";
}

const char *tgp_ws_name(enum tg_ws_mode m)
{
	switch (m) {
	case TG_WS_NONE:
		return "none";
	case TG_WS_RO:
		return "ro";
	case TG_WS_RW:
		return "rw";
	}
	return "?";
}

const char *tgp_seccomp_mode_name(enum tg_seccomp_mode m)
{
	switch (m) {
	case TG_SECCOMP_DEFAULT:
		return "default";
	case TG_SECCOMP_STRICT:
		return "strict";
	case TG_SECCOMP_ALLOW:
		return "allow";
	case TG_SECCOMP_DENY:
		return "deny";
	}
	return "?";
}

void tg_verdict_free(struct tg_verdict *v)
{
	if (!v)
		return;
	free(v->reason);
	free(v->rule);
	free(v->tool);
	tg_strv_free(v->argv);
	tg_strv_free(v->envp);
	json_decref(v->params);
	struct tgp_paths paths = {.items = v->paths, .n = v->n_paths};
	tgp_paths_clear(&paths);
	free(v);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *env_json(char *const *envp)
{
	json_t *o = json_object();
	for (size_t i = 0; o && envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');
		if (!eq)
			continue;
		_cleanup_free_ char *k = strndup(envp[i], (size_t)(eq - envp[i]));
		if (!k || json_object_set_new(o, k, json_string(eq + 1)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *limits_json(const struct tg_limits *l)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "timeout_ms", (json_int_t)l->timeout_ms,
	                 "cpu_millis", (json_int_t)l->cpu_millis, "memory_bytes",
	                 (json_int_t)l->memory_bytes, "pids", (json_int_t)l->pids, "output_bytes",
	                 (json_int_t)l->output_bytes, "file_size_bytes",
	                 (json_int_t)l->file_size_bytes);
}

static json_t *seccomp_json(const struct tg_seccomp_spec *s)
{
	if (!s)
		return json_null();
	json_t *o = json_pack("{s:s}", "mode", tgp_seccomp_mode_name(s->mode));
	if (o && s->syscalls && json_object_set_new(o, "syscalls", strv_json(s->syscalls)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *proto_name(enum tg_net_proto p)
{
	return p == TG_NET_UDP ? "udp" : p == TG_NET_BOTH ? "both" : "tcp";
}

static json_t *network_json(const struct tg_network *n)
{
	if (!n)
		return json_null();
	if (!n->egress_enabled)
		return json_string("none");
	json_t *rules = json_array();
	for (size_t i = 0; rules && i < n->n_egress; i++) {
		const struct tg_egress_rule *r = &n->egress[i];
		json_t *ports = json_array();
		for (size_t j = 0; ports && j < r->n_ports; j++)
			json_array_append_new(ports, json_integer(r->ports[j]));
		json_t *o = json_pack("{s:o*, s:o*, s:o, s:s}", "host",
		                      r->host ? json_string(r->host) : NULL, "cidr",
		                      r->cidr ? json_string(r->cidr) : NULL, "ports", ports,
		                      "proto", proto_name(r->proto));
		if (!o || json_array_append_new(rules, o) < 0) {
			json_decref(rules);
			return NULL;
		}
	}
	json_t *o = json_pack("{s:o}", "egress", rules);
	if (o && n->quota_bytes)
		json_object_set_new(o, "quota", json_integer((json_int_t)n->quota_bytes));
	if (o && n->conn_rate)
		json_object_set_new(o, "connections",
		                    json_pack("{s:I, s:I, s:I}", "rate", (json_int_t)n->conn_rate,
		                              "per_ms", (json_int_t)n->conn_per_ms, "burst",
		                              (json_int_t)n->conn_burst));
	return o;
}

static json_t *fs_json(const struct tg_fs_entry *fs, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		const struct tg_fs_entry *f = &fs[i];
		json_t *o =
		        json_pack("{s:s, s:o*, s:s?, s:s, s:I}", "type",
		                  f->type == TG_FS_TMPFS ? "tmpfs" : "bind", "source",
		                  f->source ? json_string(f->source) : NULL, "target", f->target,
		                  "mode", f->readonly ? "ro" : "rw", "size", (json_int_t)f->size);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The objects path parameters resolved to and where the tool gets them. */
static json_t *paths_json(const struct tg_verdict *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < v->n_paths; i++) {
		const struct tg_verdict_path *vp = &v->paths[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s}", "path", vp->path, "bound_at",
		                      vp->bind, "arg", vp->arg, "exists", vp->exists, "mode",
		                      vp->writable ? "rw" : "ro");
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(o);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *rate_json(const struct tg_rate *r)
{
	if (!r || r->calls == 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "calls", (json_int_t)r->calls, "per_ms",
	                 (json_int_t)r->per_ms, "burst", (json_int_t)r->burst);
}

json_t *tg_verdict_to_json(const struct tg_verdict *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "decision",
	                      v->allow ? "allow" : "deny", "code", tg_deny_code_name(v->code),
	                      "reason", v->reason, "rule", v->rule, "tool", v->tool);
	if (!o)
		return NULL;
	int r = 0;
	r |= json_object_set_new(o, "argv", v->allow ? strv_json(v->argv) : json_null());
	if (v->allow) {
		r |= json_object_set_new(o, "env", env_json(v->envp));
		r |= json_object_set_new(o, "params", json_incref(v->params));
		r |= json_object_set_new(o, "binary_sha256", json_string(v->binary_sha256));
		r |= json_object_set_new(o, "paths", paths_json(v));
	}
	if (v->tool_index >= 0) {
		r |= json_object_set_new(o, "limits", limits_json(&v->limits));
		r |= json_object_set_new(o, "workspace", json_string(tgp_ws_name(v->workspace)));
		r |= json_object_set_new(o, "mounts", fs_json(v->fs, v->n_fs));
		r |= json_object_set_new(o, "seccomp", seccomp_json(v->seccomp));
		r |= json_object_set_new(o, "network", network_json(v->network));
		r |= json_object_set_new(o, "rate", rate_json(v->rate));
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}
