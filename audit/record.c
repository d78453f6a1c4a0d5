/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct tg_audit_record -> one JSON line, fields in the fixed order of
 * docs/audit.md. The order is what makes the hash rule simple: jansson keeps
 * insertion order, so the bytes of a record are a function of its values,
 * and `hash` is always the last member.
 *
 * No floating-point value is ever written: a real in params is recorded as a
 * string of its JSON text, so no two serializers can disagree on digits.
 */
#include <string.h>

#include "internal.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < need + 1)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need + 1;
}

/* A JSON string for s. The broker hands us text that may come from outside
 * (a reason quoting a bad value); an invalid byte must not make the record
 * unwritable, so it becomes U+FFFD. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t n = strlen(s);
	_cleanup_free_ char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq_len(p + i, n - i);
		if (l == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	out[o] = '\0';
	return json_string(out);
}

static json_t *jint(uint64_t v)
{
	/* JSON integers here are non-negative and below 2^63 (docs/audit.md). */
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static int set(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static json_t *jstrv(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v[i]; i++)
		if (json_array_append_new(a, jstr(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static bool has_real(const json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_REAL:
		return true;
	case JSON_OBJECT:
		json_object_foreach ((json_t *)v, k, e) {
			if (has_real(e))
				return true;
		}
		return false;
	case JSON_ARRAY:
		json_array_foreach (v, i, e) {
			if (has_real(e))
				return true;
		}
		return false;
	default:
		return false;
	}
}

/* A deep copy of params with every real replaced by the string of its JSON
 * text. */
static json_t *params_copy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_REAL: {
		_cleanup_free_ char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		return text ? json_string(text) : NULL;
	}
	case JSON_OBJECT: {
		json_t *o = json_object();
		const char *k;
		json_t *e;
		json_object_foreach ((json_t *)v, k, e) {
			if (!o || json_object_set_new(o, k, params_copy(e)) < 0) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	case JSON_ARRAY: {
		json_t *a = json_array();
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e) {
			if (!a || json_array_append_new(a, params_copy(e)) < 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	default:
		return json_deep_copy(v);
	}
}

/* event, session: what every record's body starts with (seq and time come
 * before them, added under the writer's lock). */
static json_t *new_head(const char *event, const char *session)
{
	json_t *o = json_object();
	if (!o || set(o, "event", json_string(event)) < 0 || set(o, "session", jstr(session)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int add_call_fields(json_t *o, const struct tg_audit_record *r)
{
	int e = 0;
	if (r->has_peer) {
		json_t *peer = json_object();
		if (!peer || set(peer, "pid", json_integer(r->peer_pid)) < 0 ||
		    set(peer, "uid", json_integer(r->peer_uid)) < 0) {
			json_decref(peer);
			return -ENOMEM;
		}
		e = e ?: set(o, "peer", peer);
	}
	if (r->has_request_id)
		e = e ?: set(o, "request_id", jint(r->request_id));
	if (r->tool)
		e = e ?: set(o, "tool", jstr(r->tool));
	if (r->params)
		/* Shared, not copied, when there is nothing to convert: the record
		 * only reads it (jansson's reference counts are atomic). */
		e = e
		            ?: set(o, "params",
		                   has_real(r->params) ? params_copy(r->params)
		                                       : json_incref((json_t *)r->params));
	if (r->decision)
		e = e ?: set(o, "decision", jstr(r->decision));
	if (r->reason)
		e = e ?: set(o, "reason", jstr(r->reason));
	if (r->rule)
		e = e ?: set(o, "rule", jstr(r->rule));
	if (r->argv)
		e = e ?: set(o, "argv", jstrv(r->argv));
	if (r->status)
		e = e ?: set(o, "status", jstr(r->status));
	if (r->has_exit && r->event != TG_AUDIT_SESSION_END) {
		e = e ?: set(o, "exit_code", json_integer(r->exit_code));
		e = e ?: set(o, "signal", json_integer(r->signal));
	}
	if (e)
		return e;
	if (r->has_usage) {
		json_t *u = json_object();
		if (!u || set(u, "wall_ms", jint(r->wall_ms)) < 0 ||
		    set(u, "cpu_ms", jint(r->cpu_ms)) < 0 ||
		    set(u, "max_rss_kb", jint(r->max_rss_kb)) < 0) {
			json_decref(u);
			return -ENOMEM;
		}
		e = e ?: set(o, "usage", u);
	}
	if (r->has_output) {
		e = e ?: set(o, "stdout_bytes", jint(r->stdout_bytes));
		e = e ?: set(o, "stderr_bytes", jint(r->stderr_bytes));
		e = e ?: set(o, "truncated", json_boolean(r->truncated));
		e = e ?: set(o, "redactions", jint(r->redactions));
	}
	if (r->stdout_sha256)
		e = e ?: set(o, "stdout_sha256", jstr(r->stdout_sha256));
	if (r->stderr_sha256)
		e = e ?: set(o, "stderr_sha256", jstr(r->stderr_sha256));
	if (r->binary_sha256)
		e = e ?: set(o, "binary_sha256", jstr(r->binary_sha256));
	if (e)
		return e;
	if (r->has_egress) {
		json_t *g = json_object();
		if (!g || set(g, "allowed", json_boolean(r->egress_allowed)) < 0 ||
		    set(g, "dropped_packets", jint(r->egress_dropped_packets)) < 0) {
			json_decref(g);
			return -ENOMEM;
		}
		e = e ?: set(o, "egress", g);
	}
	if (r->protections)
		e = e ?: set(o, "protections", jstrv(r->protections));
	return e;
}

static int add_session_fields(json_t *o, const struct tg_audit_record *r)
{
	int e = 0;
	if (r->policy_sha256)
		e = e ?: set(o, "policy_sha256", jstr(r->policy_sha256));
	if (r->policy_path)
		e = e ?: set(o, "policy_path", jstr(r->policy_path));
	if (r->workspace)
		e = e ?: set(o, "workspace", jstr(r->workspace));
	if (r->command)
		e = e ?: set(o, "command", jstrv(r->command));
	if (r->event == TG_AUDIT_SESSION_END && r->has_session_exit) {
		e = e ?: set(o, "exit_code", json_integer(r->session_exit_code));
		e = e ?: set(o, "signal", json_integer(r->session_signal));
	}
	return e;
}

int tg_audit_record_build(const struct tg_audit_record *r, const char *session, bool keyed,
                          json_t **ret, struct tg_error **err)
{
	switch (r->event) {
	case TG_AUDIT_SESSION_START:
	case TG_AUDIT_POLICY_LOADED:
	case TG_AUDIT_CALL:
	case TG_AUDIT_SESSION_END:
		break;
	default:
		/* recovery records are the writer's alone: a caller that could
		 * write one could explain away damage. */
		return tg_error_set(err, -EINVAL, "audit record: event %d cannot be appended",
		                    (int)r->event);
	}
	if (r->decision && strcmp(r->decision, "allow") != 0 && strcmp(r->decision, "deny") != 0)
		return tg_error_set(err, -EINVAL, "audit record: decision '%s' is not allow|deny",
		                    r->decision);
	_cleanup_json_ json_t *o = new_head(tg_audit_event_name(r->event), session);
	if (!o)
		return tg_error_set(err, -ENOMEM, "out of memory");
	int e = add_call_fields(o, r);
	e = e ?: add_session_fields(o, r);
	if (keyed)
		e = e ?: set(o, "mac", json_string(TG_AUDIT_MAC_HMAC));
	if (e)
		return tg_error_set(err, e, "audit record: out of memory");
	*ret = steal_pointer(&o);
	return 0;
}

int tg_audit_recovery_build(const struct tg_audit_recovery *rec, const char *session, bool keyed,
                            json_t **ret)
{
	_cleanup_json_ json_t *o = new_head(TG_AUDIT_EVENT_RECOVERY, session);
	if (!o)
		return -ENOMEM;
	int e = 0;
	if (rec->torn) {
		e = e ?: set(o, "torn_bytes", jint(rec->torn_bytes));
		e = e ?: set(o, "torn_sha256", json_string(rec->torn_sha256));
	}
	if (rec->unterminated)
		e = e ?: set(o, "unterminated_session", jstr(rec->unterminated));
	if (keyed)
		e = e ?: set(o, "mac", json_string(TG_AUDIT_MAC_HMAC));
	if (e)
		return e;
	*ret = steal_pointer(&o);
	return 0;
}

int tg_audit_body_dump(const json_t *obj, char **ret, size_t *ret_len)
{
	char *d = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!d)
		return -ENOMEM;
	size_t n = strlen(d);
	/* compact: "{" members "}", never empty here (event, session) */
	if (n < 3 || d[0] != '{' || d[n - 1] != '}') {
		free(d);
		return -EIO;
	}
	*ret = d;
	*ret_len = n;
	return 0;
}

/* jansson's compact dump of a small object into buf; its length or 0. */
static size_t dump_small(json_t *o, char *buf, size_t cap)
{
	if (!o)
		return 0;
	size_t n = json_dumpb(o, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return n >= 2 && n <= cap && buf[n - 1] == '}' ? n : 0;
}

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = need + 1024;
	char *nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

int tg_audit_record_seal_line(const char *body, size_t body_len, uint64_t seq, const char *prev,
                              const struct tg_audit_key *key, char **buf, size_t *cap,
                              size_t *ret_len, char ret_hash[TG_SHA256_HEX_LEN])
{
	char now[TG_RFC3339_LEN];
	tg_time_rfc3339(now);
	/*
	 * The line is jansson's compact serialization of one object whose
	 * members are {seq, time} + the body's members + {prev}. Compact output
	 * is "{" m1 "," m2 ... "}", so joining the three dumps at their braces
	 * gives exactly the bytes of dumping the whole object (a unit test holds
	 * us to that), while the big part was serialized outside the lock.
	 */
	char head[128], tail[128];
	json_t *h = json_object();
	if (h && (set(h, "seq", jint(seq)) < 0 || set(h, "time", json_string(now)) < 0)) {
		json_decref(h);
		h = NULL;
	}
	json_t *p = json_object();
	if (p && set(p, "prev", json_string(prev)) < 0) {
		json_decref(p);
		p = NULL;
	}
	size_t hn = dump_small(h, head, sizeof(head)), pn = dump_small(p, tail, sizeof(tail));
	if (hn == 0 || pn == 0)
		return -ENOMEM;
	size_t n = (hn - 1) + 1 + (body_len - 2) + 1 + (pn - 1);
	if (grow(buf, cap, n + TG_AUDIT_TAIL_LEN + 1) < 0)
		return -ENOMEM;
	char *line = *buf, *o = line;
	memcpy(o, head, hn - 1);
	o += hn - 1;
	*o++ = ',';
	memcpy(o, body + 1, body_len - 2);
	o += body_len - 2;
	*o++ = ',';
	memcpy(o, tail + 1, pn - 1);
	/* the record without its hash member ends here, in '}' */
	size_t pre = n - 1;
	char hash[TG_SHA256_HEX_LEN];
	tg_audit_hash(key, line, pre, hash);
	memcpy(line + pre, TG_AUDIT_HASH_KEY, TG_AUDIT_HASH_KEY_LEN);
	memcpy(line + pre + TG_AUDIT_HASH_KEY_LEN, hash, TG_AUDIT_HEX_LEN);
	memcpy(line + pre + TG_AUDIT_HASH_KEY_LEN + TG_AUDIT_HEX_LEN, "\"}\n", 3);
	*ret_len = pre + TG_AUDIT_TAIL_LEN + 1;
	memcpy(ret_hash, hash, TG_SHA256_HEX_LEN);
	return 0;
}
