/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile.c - the node tree -> the model: workspace, defaults, agent,
 * sanitize, audit; units, env, seccomp names, egress rules and mounts (the
 * helpers tool.c uses too). Tools themselves are compiled in tool.c.
 *
 * Nodes of the wrong kind were reported by validate.c and are skipped here.
 */
#include <arpa/inet.h>
#include <math.h>
#include <seccomp.h>
#include <string.h>

#include "internal.h"

#define OUTPUT_MAX (64ull << 20)

static const struct tg_seccomp_spec seccomp_default = {.mode = TG_SECCOMP_DEFAULT};
static const struct tg_seccomp_spec seccomp_strict = {.mode = TG_SECCOMP_STRICT};
static const struct tg_network network_none = {.egress_enabled = false};

/* Tool limits when the policy sets none (docs/policy.md, "limits"). */
static const struct tg_limits builtin_tool_limits = {
        .timeout_ms = 10000,
        .cpu_millis = 1000,
        .memory_bytes = 256ull << 20,
        .pids = 64,
        .output_bytes = 1ull << 20,
        .file_size_bytes = 64ull << 20,
};
/* The agent runs as long as its session; it gets memory and tasks caps. */
static const struct tg_limits builtin_agent_limits = {
        .memory_bytes = 1ull << 30,
        .pids = 256,
};
static const struct tgp_env builtin_env[] = {
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
        {"LANG", "C.UTF-8"},
};

static char *adup(struct tgp_ctx *c, const char *s)
{
	char *d = tgp_strdup(&c->p->arena, s);
	if (!d && s)
		c->oom = true;
	return d;
}

static void *aalloc(struct tgp_ctx *c, size_t n, size_t size)
{
	void *p = tgp_alloc_array(&c->p->arena, n ? n : 1, size);
	if (!p)
		c->oom = true;
	return p;
}

/* An absolute, normalized host path; relative ones resolve against the
 * policy file's directory. */
static const char *host_path(struct tgp_ctx *c, const char *s)
{
	_cleanup_free_ char *abs = tg_path_join_abs(c->base_dir, s);
	if (!abs) {
		c->oom = true;
		return NULL;
	}
	return adup(c, abs);
}

enum tg_ws_mode tgp_ws_mode(const struct tgp_node *n, enum tg_ws_mode dflt)
{
	if (!tgp_is_text(n))
		return dflt;
	if (strcmp(n->str, "none") == 0)
		return TG_WS_NONE;
	if (strcmp(n->str, "ro") == 0)
		return TG_WS_RO;
	if (strcmp(n->str, "rw") == 0)
		return TG_WS_RW;
	return dflt;
}

pcre2_code *tgp_compile_regex(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                              const char *pattern, uint32_t extra_flags)
{
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, strlen(pattern),
	                               PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C | extra_flags, &errcode,
	                               &erroff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", errcode);
		tgp_error(c, n, key, "invalid regex: %s at offset %zu", (const char *)msg,
		          (size_t)erroff);
		return NULL;
	}
	if (tgp_arena_defer(&c->p->arena, (void (*)(void *))pcre2_code_free, re) < 0) {
		c->oom = true;
		return NULL;
	}
	return re;
}

/* ---------------------------------------------------------------------------
 * Limits.
 */
static bool size_value(struct tgp_ctx *c, const struct tgp_node *n, const char *key, uint64_t *ret)
{
	if (!tgp_is_text(n))
		return false;
	if (tg_parse_size(n->str, ret) < 0) {
		tgp_error(c, n, key,
		          "invalid size '%s' (a number with B, KiB, MiB or GiB, e.g. 64MiB)",
		          n->str);
		return false;
	}
	return true;
}

static bool duration_value(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                           uint64_t *ret)
{
	if (!tgp_is_text(n))
		return false;
	if (tg_parse_duration_ms(n->str, ret) < 0) {
		tgp_error(c, n, key,
		          "invalid duration '%s' (a number with ms, s, m or h, e.g. 10s)", n->str);
		return false;
	}
	return true;
}

void tgp_compile_limits(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                        struct tg_limits *inout, bool agent)
{
	char kb[TGP_KEY_MAX];
	if (!tgp_is_map(n))
		return;
	const struct tgp_node *v;
	uint64_t u;
	if ((v = tgp_get(n, "timeout")) && duration_value(c, v, tgp_key(kb, key, "timeout"), &u))
		inout->timeout_ms = u;
	if ((v = tgp_get(n, "cpu")) && tgp_is_scalar(v) &&
	    (v->stype == TGP_INT || v->stype == TGP_FLOAT)) {
		double cpus = v->fval;
		long long millis = llround(cpus * 1000.0);
		if (cpus < 0 || cpus > 1024)
			tgp_error(c, v, tgp_key(kb, key, "cpu"),
			          "must be between 0 (no limit) and 1024 CPUs");
		else if (cpus > 0 && millis == 0)
			tgp_error(c, v, tgp_key(kb, key, "cpu"), "too small (at least 0.001)");
		else
			inout->cpu_millis = (uint32_t)millis;
	}
	if ((v = tgp_get(n, "memory")) && size_value(c, v, tgp_key(kb, key, "memory"), &u))
		inout->memory_bytes = u;
	if ((v = tgp_get(n, "pids")) && tgp_is_int(v) && v->ival >= 0)
		inout->pids = (uint64_t)v->ival;
	if ((v = tgp_get(n, "file_size")) && size_value(c, v, tgp_key(kb, key, "file_size"), &u))
		inout->file_size_bytes = u;
	if (!agent && (v = tgp_get(n, "output")) &&
	    size_value(c, v, tgp_key(kb, key, "output"), &u)) {
		if (u == 0 || u > OUTPUT_MAX)
			tgp_error(c, v, tgp_key(kb, key, "output"),
			          "must be between 1B and 64MiB (it is kept in memory)");
		else
			inout->output_bytes = u;
	}
}

/* ---------------------------------------------------------------------------
 * seccomp.
 */
const struct tg_seccomp_spec *tgp_compile_seccomp(struct tgp_ctx *c, const struct tgp_node *n,
                                                  const char *key)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	if (tgp_is_text(n))
		return strcmp(n->str, "strict") == 0 ? &seccomp_strict : &seccomp_default;
	if (!tgp_is_map(n))
		return NULL;
	const struct tgp_node *list = tgp_get(n, "allow");
	const char *which = "allow";
	enum tg_seccomp_mode mode = TG_SECCOMP_ALLOW;
	if (!list) {
		list = tgp_get(n, "deny");
		which = "deny";
		mode = TG_SECCOMP_DENY;
	}
	if (!tgp_is_seq(list))
		return NULL;
	const char *lkey = tgp_key(kb, key, which);
	if (list->n == 0) {
		tgp_error(c, list, lkey, "list at least one syscall");
		return NULL;
	}
	struct tg_seccomp_spec *spec = aalloc(c, 1, sizeof(*spec));
	char **names = aalloc(c, list->n + 1, sizeof(char *));
	if (!spec || !names)
		return NULL;
	spec->mode = mode;
	spec->syscalls = names;
	size_t k = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct tgp_node *it = list->items[i];
		if (!tgp_is_text(it))
			continue;
		/* Resolved for the native ABI: names unknown to libseccomp would
		 * be silently ignored by a filter, i.e. not enforced. */
		if (seccomp_syscall_resolve_name(it->str) == __NR_SCMP_ERROR) {
			tgp_error(c, it, tgp_key_index(kb2, lkey, i), "unknown syscall '%s'",
			          it->str);
			continue;
		}
		names[k++] = adup(c, it->str);
	}
	return spec;
}

/* ---------------------------------------------------------------------------
 * Network.
 */
static bool hostname_ok(const char *s)
{
	size_t len = strlen(s);
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? s[i] : '.';
		if (ch == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && label > 0))
			return false;
		label++;
	}
	return true;
}

static void check_cidr(struct tgp_ctx *c, const struct tgp_node *n, const char *key)
{
	char addr[64];
	const char *s = n->str, *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr)) {
		tgp_error(c, n, key, "invalid CIDR '%s'", s);
		return;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	unsigned char bin[16];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	unsigned maxlen = family == AF_INET6 ? 128 : 32;
	if (inet_pton(family, addr, bin) != 1) {
		tgp_error(c, n, key, "invalid CIDR '%s': '%s' is not an IPv%c address", s, addr,
		          family == AF_INET6 ? '6' : '4');
		return;
	}
	unsigned prefix = maxlen;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (*p < '0' || *p > '9' || *end || errno || v > maxlen) {
			tgp_error(c, n, key, "invalid CIDR '%s': prefix length must be 0-%u", s,
			          maxlen);
			return;
		}
		prefix = (unsigned)v;
	}
	/* 192.0.2.1/24 is almost always a typo for 192.0.2.0/24 or
	 * 192.0.2.1/32; do not guess which. */
	for (unsigned bit = prefix; bit < maxlen; bit++)
		if (bin[bit / 8] & (0x80u >> (bit % 8))) {
			tgp_error(c, n, key, "invalid CIDR '%s': host bits are set after /%u", s,
			          prefix);
			return;
		}
}

static void compile_rule(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                         struct tg_egress_rule *r)
{
	char kb[TGP_KEY_MAX];
	const struct tgp_node *host = tgp_get(n, "host"), *cidr = tgp_get(n, "cidr");
	const struct tgp_node *ports = tgp_get(n, "ports"), *proto = tgp_get(n, "proto");
	unsigned char bin[16];
	if (tgp_is_text(host)) {
		const char *k = tgp_key(kb, key, "host");
		if (inet_pton(AF_INET, host->str, bin) == 1 ||
		    inet_pton(AF_INET6, host->str, bin) == 1)
			tgp_error(c, host, k, "'%s' is an address; write it as cidr", host->str);
		else if (!hostname_ok(host->str))
			tgp_error(c, host, k, "invalid host name '%s'", host->str);
		else
			r->host = adup(c, host->str);
	}
	if (tgp_is_text(cidr)) {
		check_cidr(c, cidr, tgp_key(kb, key, "cidr"));
		r->cidr = adup(c, cidr->str);
	}
	if (tgp_is_seq(ports) && ports->n > 0) {
		r->ports = aalloc(c, ports->n, sizeof(uint16_t));
		for (size_t i = 0; r->ports && i < ports->n; i++)
			if (tgp_is_int(ports->items[i]))
				r->ports[r->n_ports++] = (uint16_t)ports->items[i]->ival;
	}
	r->proto = TG_NET_TCP;
	if (tgp_is_text(proto))
		r->proto = strcmp(proto->str, "udp") == 0    ? TG_NET_UDP
		           : strcmp(proto->str, "both") == 0 ? TG_NET_BOTH
		                                             : TG_NET_TCP;
}

const struct tg_network *tgp_compile_network(struct tgp_ctx *c, const struct tgp_node *n,
                                             const char *key)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	if (tgp_is_text(n))
		return &network_none;
	if (!tgp_is_map(n))
		return NULL;
	const struct tgp_node *eg = tgp_get(n, "egress");
	if (!tgp_is_seq(eg))
		return NULL;
	const char *ekey = tgp_key(kb, key, "egress");
	if (eg->n == 0) {
		tgp_error(c, eg, ekey, "empty; write 'network: none' for no network");
		return NULL;
	}
	struct tg_network *net = aalloc(c, 1, sizeof(*net));
	struct tg_egress_rule *rules = aalloc(c, eg->n, sizeof(*rules));
	if (!net || !rules)
		return NULL;
	net->egress_enabled = true;
	net->egress = rules;
	for (size_t i = 0; i < eg->n; i++)
		if (tgp_is_map(eg->items[i]))
			compile_rule(c, eg->items[i], tgp_key_index(kb2, ekey, i),
			             &rules[net->n_egress++]);
	const struct tgp_node *quota = tgp_get(n, "quota"), *conn = tgp_get(n, "connections");
	if (quota)
		size_value(c, quota, tgp_key(kb, key, "quota"), &net->quota_bytes);
	if (tgp_is_map(conn)) {
		const struct tgp_node *rate = tgp_get(conn, "rate"), *per = tgp_get(conn, "per"),
		                      *burst = tgp_get(conn, "burst");
		const char *ckey = tgp_key(kb, key, "connections");
		uint64_t ms = 0;
		if (tgp_is_int(rate) && duration_value(c, per, tgp_key(kb2, ckey, "per"), &ms) &&
		    ms == 0)
			tgp_error(c, per, kb2, "must be longer than 0");
		else if (tgp_is_int(rate) && ms > 0) {
			net->conn_rate = (uint32_t)rate->ival;
			net->conn_per_ms = ms;
			net->conn_burst =
			        tgp_is_int(burst) ? (uint32_t)burst->ival : net->conn_rate;
		}
	}
	return net;
}

/* ---------------------------------------------------------------------------
 * Filesystem entries and env.
 */
static bool sandbox_path_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p;) {
		while (*p == '/')
			p++;
		const char *seg = p;
		while (*p && *p != '/')
			p++;
		if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return false;
	}
	return true;
}

void tgp_compile_fs(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                    struct tg_fs_entry **ret, size_t *ret_n)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	if (!tgp_is_seq(n) || n->n == 0)
		return;
	struct tg_fs_entry *fs = aalloc(c, n->n, sizeof(*fs));
	if (!fs)
		return;
	size_t k = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct tgp_node *e = n->items[i];
		if (!tgp_is_map(e))
			continue;
		const char *ekey = tgp_key_index(kb, key, i);
		struct tg_fs_entry *f = &fs[k++];
		const struct tgp_node *type = tgp_get(e, "type"), *src = tgp_get(e, "source"),
		                      *tgt = tgp_get(e, "target"), *mode = tgp_get(e, "mode"),
		                      *size = tgp_get(e, "size");
		f->type = tgp_is_text(type) && strcmp(type->str, "tmpfs") == 0 ? TG_FS_TMPFS
		                                                               : TG_FS_BIND;
		if (f->type == TG_FS_BIND && tgp_is_text(src))
			f->source = (char *)host_path(c, src->str);
		if (tgp_is_text(tgt)) {
			if (!sandbox_path_ok(tgt->str)) {
				tgp_error(c, tgt, tgp_key(kb2, ekey, "target"),
				          "must be an absolute path without '..'");
			} else {
				_cleanup_free_ char *norm = tg_path_join_abs("/", tgt->str);
				if (!norm)
					c->oom = true;
				else if (strcmp(norm, "/") == 0)
					tgp_error(c, tgt, tgp_key(kb2, ekey, "target"),
					          "cannot mount over the sandbox root");
				else
					f->target = adup(c, norm);
			}
		} else if (f->source && strcmp(f->source, "/") == 0) {
			tgp_error(c, src, tgp_key(kb2, ekey, "source"),
			          "/ without a target would mount over the sandbox root");
		} else if (f->source) {
			f->target = f->source;
		}
		f->readonly = f->type == TG_FS_BIND;
		if (tgp_is_text(mode))
			f->readonly = strcmp(mode->str, "ro") == 0;
		uint64_t sz;
		if (size && size_value(c, size, tgp_key(kb2, ekey, "size"), &sz))
			f->size = sz;
	}
	*ret = fs;
	*ret_n = k;
}

char **tgp_compile_env(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                       const struct tgp_env *base, size_t n_base)
{
	size_t extra = tgp_is_map(n) ? n->n : 0;
	struct tgp_env *all = aalloc(c, n_base + extra, sizeof(*all));
	if (!all)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n_base; i++)
		all[k++] = base[i];
	for (size_t i = 0; i < extra; i++) {
		const struct tgp_node *name = n->pairs[i].key, *val = n->pairs[i].value;
		if (!tgp_is_text(val))
			continue;
		size_t j = 0;
		while (j < k && strcmp(all[j].name, name->str) != 0)
			j++;
		all[j].name = name->str;
		all[j].value = val->str;
		if (j == k)
			k++;
	}
	char **envp = aalloc(c, k + 1, sizeof(char *));
	for (size_t i = 0; envp && i < k; i++) {
		envp[i] = tgp_printf(&c->p->arena, "%s=%s", all[i].name, all[i].value);
		if (!envp[i])
			c->oom = true;
	}
	(void)key;
	return envp;
}

/* defaults.env as a list the tools overlay. */
static void compile_default_env(struct tgp_ctx *c, const struct tgp_node *n)
{
	struct tg_policy *p = c->p;
	if (!tgp_is_map(n)) {
		p->def_env = (struct tgp_env *)builtin_env;
		p->n_def_env = TG_ARRAY_SIZE(builtin_env);
		return;
	}
	p->def_env = aalloc(c, n->n, sizeof(*p->def_env));
	for (size_t i = 0; p->def_env && i < n->n; i++) {
		if (!tgp_is_text(n->pairs[i].value))
			continue;
		p->def_env[p->n_def_env].name = adup(c, n->pairs[i].key->str);
		p->def_env[p->n_def_env].value = adup(c, n->pairs[i].value->str);
		p->n_def_env++;
	}
}

/* ---------------------------------------------------------------------------
 * Sections.
 */
static void compile_agent(struct tgp_ctx *c, const struct tgp_node *n)
{
	struct tg_agent_config *a = &c->p->agent;
	a->limits = builtin_agent_limits;
	a->workspace = TG_WS_RW;
	a->seccomp = &seccomp_default;
	const struct tgp_node *env = tgp_get(n, "env");
	if (env)
		a->envp = tgp_compile_env(c, env, "agent.env", NULL, 0);
	else
		a->envp = tgp_compile_env(c, NULL, NULL, c->p->def_env, c->p->n_def_env);
	if (!n)
		return;
	tgp_compile_fs(c, tgp_get(n, "filesystem"), "agent.filesystem", &a->fs, &a->n_fs);
	tgp_compile_limits(c, tgp_get(n, "limits"), "agent.limits", &a->limits, true);
	a->workspace = tgp_ws_mode(tgp_get(n, "workspace"), TG_WS_RW);
	const struct tg_seccomp_spec *s =
	        tgp_compile_seccomp(c, tgp_get(n, "seccomp"), "agent.seccomp");
	if (s)
		a->seccomp = s;
}

static bool add_rule(struct tgp_ctx *c, struct tg_redact_rule *r, const struct tgp_node *at,
                     const char *key, const char *name, const char *pattern, const char *replace)
{
	r->name = adup(c, name);
	r->replace = adup(c, replace ? replace : "[REDACTED]");
	r->re = tgp_compile_regex(c, at, key, pattern, 0);
	return r->re != NULL;
}

static void compile_sanitize(struct tgp_ctx *c, const struct tgp_node *n)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	struct tg_sanitize_config *s = &c->p->sanitize;
	s->strip_ansi = true;
	s->strip_control = true;
	s->utf8 = TG_UTF8_REPLACE;
	const struct tgp_node *v, *redact = tgp_get(n, "redact");
	if ((v = tgp_get(n, "strip_ansi")) && tgp_is_bool(v))
		s->strip_ansi = v->bval;
	if ((v = tgp_get(n, "strip_control")) && tgp_is_bool(v))
		s->strip_control = v->bval;
	if ((v = tgp_get(n, "utf8")) && tgp_is_text(v))
		s->utf8 = strcmp(v->str, "drop") == 0 ? TG_UTF8_DROP : TG_UTF8_REPLACE;

	if (!redact) {
		/* No redact list: every builtin detector is on. */
		s->rules = aalloc(c, tgp_n_builtins, sizeof(*s->rules));
		for (size_t i = 0; s->rules && i < tgp_n_builtins; i++)
			if (add_rule(c, &s->rules[s->n_rules], NULL, "sanitize.redact",
			             tgp_builtins[i].name, tgp_builtins[i].pattern, NULL))
				s->n_rules++;
		return;
	}
	if (!tgp_is_seq(redact) || redact->n == 0)
		return;
	s->rules = aalloc(c, redact->n, sizeof(*s->rules));
	for (size_t i = 0; s->rules && i < redact->n; i++) {
		const struct tgp_node *e = redact->items[i];
		const char *ekey = tgp_key_index(kb, "sanitize.redact", i);
		const struct tgp_node *b = tgp_get(e, "builtin"), *pat = tgp_get(e, "pattern"),
		                      *rep = tgp_get(e, "replace");
		const char *replace = tgp_is_text(rep) ? rep->str : NULL;
		if (tgp_is_text(b)) {
			size_t j = 0;
			while (j < tgp_n_builtins && strcmp(tgp_builtins[j].name, b->str) != 0)
				j++;
			if (j == tgp_n_builtins) {
				char names[512];
				size_t o = 0;
				for (size_t k = 0; k < tgp_n_builtins && o < sizeof(names); k++)
					o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s",
					                      k ? ", " : "", tgp_builtins[k].name);
				tgp_error(c, b, tgp_key(kb2, ekey, "builtin"),
				          "unknown builtin '%s' (known: %s)", b->str, names);
				continue;
			}
			if (add_rule(c, &s->rules[s->n_rules], b, tgp_key(kb2, ekey, "builtin"),
			             b->str, tgp_builtins[j].pattern, replace))
				s->n_rules++;
		} else if (tgp_is_text(pat)) {
			if (add_rule(c, &s->rules[s->n_rules], pat, tgp_key(kb2, ekey, "pattern"),
			             pat->str, pat->str, replace))
				s->n_rules++;
		}
	}
}

static void compile_audit(struct tgp_ctx *c, const struct tgp_node *n)
{
	struct tg_audit_section *a = &c->p->audit;
	a->params = TG_AUDIT_PARAMS_FULL;
	a->fsync = TG_AUDIT_FSYNC_BATCH;
	const struct tgp_node *v;
	if ((v = tgp_get(n, "path")) && tgp_is_text(v))
		a->path = (char *)host_path(c, v->str);
	if ((v = tgp_get(n, "params")) && tgp_is_text(v))
		a->params = strcmp(v->str, "hash") == 0   ? TG_AUDIT_PARAMS_HASH
		            : strcmp(v->str, "none") == 0 ? TG_AUDIT_PARAMS_NONE
		                                          : TG_AUDIT_PARAMS_FULL;
	if ((v = tgp_get(n, "fsync")) && tgp_is_text(v))
		a->fsync = strcmp(v->str, "always") == 0  ? TG_AUDIT_FSYNC_ALWAYS
		           : strcmp(v->str, "never") == 0 ? TG_AUDIT_FSYNC_NEVER
		                                          : TG_AUDIT_FSYNC_BATCH;
	if ((v = tgp_get(n, "key")) && tgp_is_text(v))
		a->key = (char *)host_path(c, v->str);
	if ((v = tgp_get(n, "sign_key")) && tgp_is_text(v))
		a->sign_key = (char *)host_path(c, v->str);
	const struct tgp_node *cp = tgp_get(n, "checkpoint");
	a->checkpoint_every = 1000;
	a->checkpoint_interval_ms = 60000;
	if ((v = tgp_get(cp, "every")) && tgp_is_int(v) && v->ival >= 0)
		a->checkpoint_every = (uint64_t)v->ival;
	if ((v = tgp_get(cp, "interval")))
		duration_value(c, v, "audit.checkpoint.interval", &a->checkpoint_interval_ms);
	if ((v = tgp_get(n, "rotate")))
		size_value(c, v, "audit.rotate", &a->rotate_bytes);
	if ((v = tgp_get(n, "rotate_keep")) && tgp_is_int(v) && v->ival >= 0)
		a->rotate_keep = (uint32_t)v->ival;
	if ((v = tgp_get(n, "syslog")) && tgp_is_bool(v))
		a->syslog = v->bval;
}

static const char *tool_name(const struct tgp_tool *t)
{
	return t->name ? t->name : "";
}

static void compile_tools(struct tgp_ctx *c, const struct tgp_node *n)
{
	struct tg_policy *p = c->p;
	if (!tgp_is_seq(n) || n->n == 0)
		return;
	p->tools = aalloc(c, n->n, sizeof(*p->tools));
	p->by_name = aalloc(c, n->n, sizeof(*p->by_name));
	if (!p->tools || !p->by_name)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (!tgp_is_map(n->items[i]))
			continue;
		/* Every entry gets a slot, so tools[i] in messages and rules is
		 * the i-th entry of the file. */
		tgp_compile_tool(c, n->items[i], i, &p->tools[p->n_tools++]);
	}
	/* Sorted index for lookups by name (insertion sort: load time only). */
	for (size_t i = 0; i < p->n_tools; i++) {
		size_t j = i;
		while (j > 0 && strcmp(tool_name(&p->tools[p->by_name[j - 1]]),
		                       tool_name(&p->tools[i])) > 0) {
			p->by_name[j] = p->by_name[j - 1];
			j--;
		}
		p->by_name[j] = i;
	}
}

void tgp_compile(struct tgp_ctx *c, const struct tgp_node *root)
{
	struct tg_policy *p = c->p;
	const struct tgp_node *v, *defaults = tgp_get(root, "defaults");

	if ((v = tgp_get(root, "workspace")) && tgp_is_text(v))
		p->workspace = host_path(c, v->str);

	p->def_limits = builtin_tool_limits;
	tgp_compile_limits(c, tgp_get(defaults, "limits"), "defaults.limits", &p->def_limits,
	                   false);
	p->def_seccomp = tgp_compile_seccomp(c, tgp_get(defaults, "seccomp"), "defaults.seccomp");
	if (!p->def_seccomp)
		p->def_seccomp = &seccomp_default;
	p->def_network = tgp_compile_network(c, tgp_get(defaults, "network"), "defaults.network");
	if (!p->def_network)
		p->def_network = &network_none;
	compile_default_env(c, tgp_get(defaults, "env"));

	compile_agent(c, tgp_get(root, "agent"));
	compile_sanitize(c, tgp_get(root, "sanitize"));
	compile_audit(c, tgp_get(root, "audit"));
	if ((v = tgp_get(root, "max_concurrent")) && tgp_is_int(v) && v->ival >= 0)
		p->max_concurrent = (uint32_t)v->ival;
	compile_tools(c, tgp_get(root, "tools"));
	tgp_check_writable(c, root);
}
