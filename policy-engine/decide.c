/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decide.c - request -> verdict. Pure: the only system calls are fstat/stat
 * of the pinned binary and, for path parameters, openat2 (path.c).
 *
 * Order: tool -> binary unchanged -> unknown parameters -> each declared
 * parameter in policy order (missing / default / type / encoding / leading
 * dash / bounds / enum / pattern / path) -> argv. The first refusal decides.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

bool tgp_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		p += n + 1;
	}
	return true;
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Untrusted names go into reasons, logs and terminals: keep them short and
 * printable. */
static void printable(char out[80], const char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o < 64; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (strlen(s) > 64)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
}

static int deny(char **ret_reason, int code, const char *label, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int deny(char **ret_reason, int code, const char *label, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	char *reason = tg_strdup_printf("parameter '%s': %s", label, msg);
	if (!reason)
		return -ENOMEM;
	*ret_reason = reason;
	return code;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* NUL, UTF-8 and leading dash: the checks every string-like value gets. */
static int check_text(const struct tgp_param *prm, const char *label, const char *s, size_t len,
                      char **ret_reason)
{
	if (memchr(s, '\0', len))
		return deny(ret_reason, TG_DENY_ENCODING, label, "contains a NUL byte");
	if (!tgp_utf8_valid(s, len))
		return deny(ret_reason, TG_DENY_ENCODING, label, "is not valid UTF-8");
	/* A value like "--output=/etc/passwd" must not become an option of the
	 * tool (argument injection). */
	if (s[0] == '-' && !prm->allow_leading_dash)
		return deny(ret_reason, TG_DENY_LEADING_DASH, label,
		            "starts with '-' (the parameter does not allow_leading_dash)");
	return TG_DENY_NONE;
}

static int check_string(const struct tg_policy *p, const struct tgp_param *prm, const char *label,
                        const json_t *value, bool skip_enum, char **ret_reason)
{
	if (!json_is_string(value))
		return deny(ret_reason, TG_DENY_TYPE, label, "expected a string, got %s",
		            json_type_name(value));
	const char *s = json_string_value(value);
	size_t len = json_string_length(value);
	int r = check_text(prm, label, s, len, ret_reason);
	if (r != TG_DENY_NONE)
		return r;
	if (prm->has_max_length) {
		size_t n = utf8_chars(s, len);
		if (n > prm->max_length)
			return deny(ret_reason, TG_DENY_BOUND, label,
			            "longer than max_length %" PRIu64 " (%zu characters)",
			            prm->max_length, n);
	}
	if (!skip_enum && prm->enum_values) {
		for (size_t i = 0; i < json_array_size(prm->enum_values); i++)
			if (json_equal(json_array_get(prm->enum_values, i), value))
				return TG_DENY_NONE;
		return deny(ret_reason, TG_DENY_ENUM, label, "not one of the allowed values");
	}
	if (prm->re) {
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		if (!md)
			return -ENOMEM;
		/* Already checked as UTF-8 above; the match and depth limits of
		 * p->mctx bound the work a hostile value can cause. */
		int m = pcre2_match(prm->re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md,
		                    p->mctx);
		pcre2_match_data_free(md);
		if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
		    m == PCRE2_ERROR_HEAPLIMIT)
			return deny(
			        ret_reason, TG_DENY_PATTERN, label,
			        "too costly to match against pattern '%s' (match limit); refused",
			        prm->pattern);
		if (m == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		if (m < 0)
			return deny(ret_reason, TG_DENY_PATTERN, label,
			            "does not match pattern '%s'", prm->pattern);
	}
	return TG_DENY_NONE;
}

/* Strict decimal, as a command line gives it: "42", "-7"; no spaces, no
 * "0x", no "1e3". */
static bool parse_int(const char *s, json_int_t *ret)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return false;
	*ret = (json_int_t)v;
	return true;
}

static int check_integer(const struct tgp_param *prm, const char *label, const json_t *value,
                         bool skip_enum, json_int_t *ret, char **ret_reason)
{
	json_int_t v;
	if (json_is_integer(value)) {
		v = json_integer_value(value);
	} else if (json_is_string(value)) {
		const char *s = json_string_value(value);
		size_t len = json_string_length(value);
		if (memchr(s, '\0', len) || !tgp_utf8_valid(s, len))
			return deny(ret_reason, TG_DENY_ENCODING, label,
			            "contains a NUL byte or invalid UTF-8");
		if (!parse_int(s, &v))
			return deny(ret_reason, TG_DENY_TYPE, label, "expected an integer");
	} else {
		return deny(ret_reason, TG_DENY_TYPE, label, "expected an integer, got %s",
		            json_type_name(value));
	}
	if (prm->has_min && v < prm->min)
		return deny(ret_reason, TG_DENY_BOUND, label, "%lld is below min %lld",
		            (long long)v, (long long)prm->min);
	if (prm->has_max && v > prm->max)
		return deny(ret_reason, TG_DENY_BOUND, label, "%lld is above max %lld",
		            (long long)v, (long long)prm->max);
	if (!skip_enum && prm->enum_values) {
		bool found = false;
		for (size_t i = 0; i < json_array_size(prm->enum_values); i++)
			found |= json_integer_value(json_array_get(prm->enum_values, i)) == v;
		if (!found)
			return deny(ret_reason, TG_DENY_ENUM, label,
			            "not one of the allowed values");
	}
	*ret = v;
	return TG_DENY_NONE;
}

int tgp_check_value(const struct tg_policy *p, const struct tgp_param *prm, const char *label,
                    const json_t *value, bool check_path, bool skip_enum, struct tgp_paths *paths,
                    json_t **ret_norm, char **ret_reason)
{
	json_t *norm = NULL;
	int r;
	switch (prm->type) {
	case TGP_P_STRING:
		r = check_string(p, prm, label, value, skip_enum, ret_reason);
		if (r != TG_DENY_NONE)
			return r;
		norm = json_incref((json_t *)value);
		break;
	case TGP_P_INTEGER: {
		json_int_t v = 0;
		r = check_integer(prm, label, value, skip_enum, &v, ret_reason);
		if (r != TG_DENY_NONE)
			return r;
		norm = json_integer(v);
		break;
	}
	case TGP_P_BOOLEAN:
		if (json_is_string(value) &&
		    memchr(json_string_value(value), '\0', json_string_length(value)))
			return deny(ret_reason, TG_DENY_ENCODING, label, "contains a NUL byte");
		if (json_is_boolean(value))
			norm = json_incref((json_t *)value);
		else if (json_is_string(value) && strcmp(json_string_value(value), "true") == 0)
			norm = json_true();
		else if (json_is_string(value) && strcmp(json_string_value(value), "false") == 0)
			norm = json_false();
		else
			return deny(ret_reason, TG_DENY_TYPE, label,
			            "expected a boolean (true or false), got %s",
			            json_type_name(value));
		break;
	case TGP_P_PATH: {
		if (!json_is_string(value))
			return deny(ret_reason, TG_DENY_TYPE, label, "expected a path, got %s",
			            json_type_name(value));
		const char *s = json_string_value(value);
		r = check_text(prm, label, s, json_string_length(value), ret_reason);
		if (r != TG_DENY_NONE)
			return r;
		if (!*s)
			return deny(ret_reason, TG_DENY_PATH, label, "empty path");
		if (!check_path) {
			norm = json_incref((json_t *)value);
			break;
		}
		_cleanup_free_ char *resolved = NULL, *why = NULL;
		r = tgp_resolve_path(p, prm, s, paths, &resolved, &why);
		if (r < 0)
			return r;
		if (r != TG_DENY_NONE)
			return deny(ret_reason, r, label, "%s", why);
		norm = json_string(resolved);
		break;
	}
	case TGP_P_ARRAY: {
		if (json_is_object(value) || json_is_null(value))
			return deny(ret_reason, TG_DENY_TYPE, label, "expected an array, got %s",
			            json_type_name(value));
		/* One scalar is a one-item array: NAME=VALUE given once. */
		size_t n = json_is_array(value) ? json_array_size(value) : 1;
		if (prm->has_max_items && n > prm->max_items)
			return deny(ret_reason, TG_DENY_BOUND, label,
			            "%zu items, more than max_items %" PRIu64, n, prm->max_items);
		if (!prm->items)
			return deny(ret_reason, TG_DENY_TYPE, label, "has no item type");
		_cleanup_json_ json_t *arr = json_array();
		if (!arr)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			const json_t *item =
			        json_is_array(value) ? json_array_get(value, i) : value;
			char ilabel[TGP_KEY_MAX];
			snprintf(ilabel, sizeof(ilabel), "%s[%zu]", label, i);
			json_t *inorm = NULL;
			r = tgp_check_value(p, prm->items, ilabel, item, check_path, false, paths,
			                    &inorm, ret_reason);
			if (r != TG_DENY_NONE)
				return r;
			if (json_array_append_new(arr, inorm) < 0)
				return -ENOMEM;
		}
		norm = steal_pointer(&arr);
		break;
	}
	}
	if (!norm)
		return -ENOMEM;
	*ret_norm = norm;
	return TG_DENY_NONE;
}

/* ---------------------------------------------------------------------------
 * argv.
 */
static int render_scalar(const json_t *v, char *buf, size_t size, const char **ret)
{
	if (json_is_string(v)) {
		*ret = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*ret = buf;
	} else if (json_is_boolean(v)) {
		*ret = json_is_true(v) ? "true" : "false";
	} else {
		return -EINVAL;
	}
	return 0;
}

static int build_argv(const struct tgp_tool *t, json_t *const *vals, char ***ret)
{
	_cleanup_strv_free_ char **argv = calloc(t->n_args + 1, sizeof(char *));
	size_t n = 0, cap = t->n_args;
	if (!argv)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_args; i++) {
		const struct tgp_arg *a = &t->args[i];
		if (a->expand) {
			const json_t *arr = vals[a->segs[0].param];
			size_t k = json_array_size(arr); /* 0 when absent */
			if (k == 0)
				continue;
			char **nv = realloc(argv, (cap + k + 1) * sizeof(char *));
			if (!nv)
				return -ENOMEM;
			argv = nv;
			cap += k;
			for (size_t j = 0; j < k; j++) {
				char num[32];
				const char *s;
				if (render_scalar(json_array_get(arr, j), num, sizeof(num), &s) < 0)
					return -EINVAL;
				argv[n] = strdup(s);
				if (!argv[n])
					return -ENOMEM;
				argv[++n] = NULL;
			}
			continue;
		}
		/* An element that uses an absent optional parameter (no value, no
		 * default) is dropped whole: "--max-count={n}" disappears with n. */
		bool absent = false;
		size_t len = 0;
		for (size_t j = 0; j < a->n_segs; j++)
			if (!a->segs[j].lit && !vals[a->segs[j].param])
				absent = true;
		if (absent)
			continue;
		char num[32];
		for (size_t j = 0; j < a->n_segs; j++) {
			const char *s;
			if (a->segs[j].lit) {
				len += a->segs[j].lit_len;
			} else {
				if (render_scalar(vals[a->segs[j].param], num, sizeof(num), &s) < 0)
					return -EINVAL;
				len += strlen(s);
			}
		}
		char *out = malloc(len + 1), *o = out;
		if (!out)
			return -ENOMEM;
		for (size_t j = 0; j < a->n_segs; j++) {
			const char *s;
			size_t sl;
			if (a->segs[j].lit) {
				s = a->segs[j].lit;
				sl = a->segs[j].lit_len;
			} else {
				render_scalar(vals[a->segs[j].param], num, sizeof(num), &s);
				sl = strlen(s);
			}
			memcpy(o, s, sl);
			o += sl;
		}
		*o = '\0';
		argv[n] = out;
		argv[++n] = NULL;
	}
	*ret = steal_pointer(&argv);
	return 0;
}

/* ---------------------------------------------------------------------------
 * The decision.
 */
static int set_deny(struct tg_verdict *v, enum tg_deny_code code, char *reason)
{
	if (!reason)
		return -ENOMEM;
	v->allow = false;
	v->code = code;
	v->reason = reason;
	return 0;
}

/* The argv value of a path parameter (or an array of paths) whose items
 * were resolved into paths->items[first..]: their pinned names. Borrowed
 * from `owner`; NULL when out of memory. */
static json_t *pinned_value(const struct tgp_param *prm, const struct tgp_paths *paths,
                            size_t first, json_t *owner)
{
	json_t *v;
	if (prm->type == TGP_P_PATH) {
		v = json_string(paths->items[first].arg);
	} else {
		v = json_array();
		for (size_t i = first; v && i < paths->n; i++)
			if (json_array_append_new(v, json_string(paths->items[i].arg)) < 0) {
				json_decref(v);
				v = NULL;
			}
	}
	if (!v || json_array_append_new(owner, v) < 0)
		return NULL;
	return v;
}

static int decide_params(const struct tg_policy *p, const struct tgp_tool *t, const json_t *params,
                         struct tg_verdict *v)
{
	char name[80];
	if (params && !json_is_object(params))
		return set_deny(v, TG_DENY_TYPE,
		                strdup("parameters must be a JSON object of name: value"));
	const char *key;
	json_t *val;
	json_object_foreach ((json_t *)params, key, val) {
		size_t k = 0;
		while (k < t->n_params && strcmp(t->params[k].name, key) != 0)
			k++;
		if (k == t->n_params) {
			printable(name, key);
			return set_deny(v, TG_DENY_UNKNOWN_PARAM,
			                tg_strdup_printf("unknown parameter '%s'", name));
		}
	}

	json_t *stack_vals[16];
	_cleanup_free_ json_t **heap_vals = NULL;
	json_t **vals = stack_vals;
	if (t->n_params > TG_ARRAY_SIZE(stack_vals)) {
		vals = heap_vals = calloc(t->n_params, sizeof(json_t *));
		if (!vals)
			return -ENOMEM;
	}
	_cleanup_json_ json_t *norm = json_object();
	_cleanup_json_ json_t *pinned = json_array(); /* owns argv values of path params */
	struct tgp_paths paths = {0};
	int r = norm && pinned ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < t->n_params; k++) {
		const struct tgp_param *prm = &t->params[k];
		const json_t *in = params ? json_object_get(params, prm->name) : NULL;
		vals[k] = NULL;
		if (json_is_null(in))
			in = NULL;
		if (!in && prm->required) {
			r = set_deny(
			        v, TG_DENY_MISSING_PARAM,
			        tg_strdup_printf("missing required parameter '%s'", prm->name));
			if (r == 0)
				r = 1;
			break;
		}
		if (!in)
			in = prm->def;
		if (!in)
			continue;
		json_t *out = NULL;
		char *reason = NULL;
		size_t first_path = paths.n;
		int c = tgp_check_value(p, prm, prm->name, in, true, false, &paths, &out, &reason);
		if (c < 0) {
			r = c;
		} else if (c != TG_DENY_NONE) {
			r = set_deny(v, (enum tg_deny_code)c, reason);
			if (r == 0)
				r = 1;
		} else if (json_object_set_new(norm, prm->name, out) < 0) {
			r = -ENOMEM;
		} else if (paths.n > first_path) {
			/* A path (or paths): argv names where the checked objects
			 * will be bound, not the paths they were checked under. */
			vals[k] = pinned_value(prm, &paths, first_path, pinned);
			if (!vals[k])
				r = -ENOMEM;
		} else {
			vals[k] = out; /* borrowed from norm */
		}
	}
	if (r == 0)
		r = build_argv(t, vals, &v->argv);
	if (r != 0) {
		tgp_paths_clear(&paths);
		return r < 0 ? r : 0;
	}
	v->params = steal_pointer(&norm);
	v->paths = paths.items;
	v->n_paths = paths.n;
	v->allow = true;
	return 0;
}

int tg_policy_decide(const struct tg_policy *p, const char *tool, const json_t *params,
                     struct tg_verdict **ret)
{
	char name[80];
	struct tg_verdict *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->exec_fd = -1;
	v->tool_index = -1;
	v->tool = strdup(tool ? tool : "");
	size_t idx;
	const struct tgp_tool *t = tool ? tgp_find_tool(p, tool, &idx) : NULL;
	int r = 0;
	if (!v->tool) {
		r = -ENOMEM;
	} else if (!t) {
		printable(name, v->tool);
		v->rule = strdup("none");
		r = set_deny(v, TG_DENY_UNKNOWN_TOOL, tg_strdup_printf("unknown tool '%s'", name));
		if (!v->rule)
			r = -ENOMEM;
	} else {
		v->tool_index = (long)idx;
		v->rule = strdup(t->rule);
		v->limits = t->limits;
		v->workspace = t->workspace;
		v->seccomp = t->seccomp;
		v->network = t->network;
		v->rate = &t->rate;
		v->fs = t->fs;
		v->n_fs = t->n_fs;
		char *why = NULL;
		r = v->rule ? tgp_binary_changed(t, &why) : -ENOMEM;
		if (r > 0)
			r = set_deny(v, TG_DENY_BINARY_CHANGED, why);
		else if (r == 0)
			r = decide_params(p, t, params, v);
	}
	if (r == 0 && v->allow) {
		v->envp = tg_strv_dup(t->envp);
		v->reason = tg_strdup_printf("allowed by %s", t->rule);
		if (!v->envp || !v->reason)
			r = -ENOMEM;
		v->exec_fd = t->exec_fd;
		v->binary_sha256 = t->sha256;
	}
	if (r < 0) {
		tg_verdict_free(v);
		return r;
	}
	*ret = v;
	return 0;
}
