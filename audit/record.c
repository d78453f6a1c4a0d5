/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct tg_audit_record -> one JSON line, fields in the fixed order of
 * docs/audit.md. The order is what makes the hash rule simple: the bytes of
 * a record are a function of its values, and `hash` is always the last
 * member. Members are written straight into a buffer (buf.c) in the very
 * form jansson's compact dump has; only params, a JSON value from outside,
 * goes through jansson.
 *
 * No floating-point value is ever written: a real in params is recorded as a
 * string of its JSON text, so no two serializers can disagree on digits.
 */
#include <string.h>

#include "internal.h"

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

static void put_str(struct tg_audit_buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	tg_audit_buf_key(b, key);
	tg_audit_buf_str(b, v);
}

static void put_uint(struct tg_audit_buf *b, const char *key, uint64_t v)
{
	tg_audit_buf_key(b, key);
	tg_audit_buf_uint(b, v);
}

static void put_int(struct tg_audit_buf *b, const char *key, int64_t v)
{
	tg_audit_buf_key(b, key);
	tg_audit_buf_int(b, v);
}

static void put_bool(struct tg_audit_buf *b, const char *key, bool v)
{
	tg_audit_buf_key(b, key);
	tg_audit_buf_bool(b, v);
}

static void put_strv(struct tg_audit_buf *b, const char *key, char *const *v)
{
	if (!v)
		return;
	tg_audit_buf_key(b, key);
	tg_audit_buf_strv(b, v);
}

/* event, session: what every record's body starts with (seq and time come
 * before them, added under the writer's lock). */
static void put_head(struct tg_audit_buf *b, const char *event, const char *session)
{
	put_str(b, "event", event);
	put_str(b, "session", session);
}

static int put_params(struct tg_audit_buf *b, const json_t *params)
{
	tg_audit_buf_key(b, "params");
	if (!has_real(params))
		return tg_audit_buf_json(b, params);
	_cleanup_json_ json_t *copy = params_copy(params);
	return copy ? tg_audit_buf_json(b, copy) : -ENOMEM;
}

static int put_call_fields(struct tg_audit_buf *b, const struct tg_audit_record *r)
{
	if (r->has_peer) {
		tg_audit_buf_key(b, "peer");
		tg_audit_buf_raw(b, "{", 1);
		put_int(b, "pid", r->peer_pid);
		put_int(b, "uid", r->peer_uid);
		tg_audit_buf_raw(b, "}", 1);
	}
	if (r->has_request_id)
		put_uint(b, "request_id", r->request_id);
	put_str(b, "tool", r->tool);
	if (r->params) {
		int e = put_params(b, r->params);
		if (e < 0)
			return e;
	}
	put_str(b, "decision", r->decision);
	put_str(b, "reason", r->reason);
	put_str(b, "rule", r->rule);
	put_strv(b, "argv", r->argv);
	put_strv(b, "paths", r->paths);
	put_str(b, "status", r->status);
	if (r->has_exit && r->event != TG_AUDIT_SESSION_END) {
		put_int(b, "exit_code", r->exit_code);
		put_int(b, "signal", r->signal);
	}
	if (r->has_usage) {
		tg_audit_buf_key(b, "usage");
		tg_audit_buf_raw(b, "{", 1);
		put_uint(b, "wall_ms", r->wall_ms);
		put_uint(b, "cpu_ms", r->cpu_ms);
		put_uint(b, "max_rss_kb", r->max_rss_kb);
		tg_audit_buf_raw(b, "}", 1);
	}
	if (r->has_output) {
		put_uint(b, "stdout_bytes", r->stdout_bytes);
		put_uint(b, "stderr_bytes", r->stderr_bytes);
		put_bool(b, "truncated", r->truncated);
		put_uint(b, "redactions", r->redactions);
		if (r->redaction_limit_hits)
			put_uint(b, "redaction_limit_hits", r->redaction_limit_hits);
	}
	put_str(b, "stdout_sha256", r->stdout_sha256);
	put_str(b, "stderr_sha256", r->stderr_sha256);
	put_str(b, "binary_sha256", r->binary_sha256);
	if (r->has_egress) {
		tg_audit_buf_key(b, "egress");
		tg_audit_buf_raw(b, "{", 1);
		put_bool(b, "allowed", r->egress_allowed);
		put_uint(b, "dropped_packets", r->egress_dropped_packets);
		if (r->has_egress_sent)
			put_uint(b, "sent_bytes", r->egress_sent_bytes);
		tg_audit_buf_raw(b, "}", 1);
	}
	put_strv(b, "protections", r->protections);
	return 0;
}

static void put_session_fields(struct tg_audit_buf *b, const struct tg_audit_record *r)
{
	put_str(b, "policy_sha256", r->policy_sha256);
	put_str(b, "policy_path", r->policy_path);
	put_str(b, "workspace", r->workspace);
	put_strv(b, "command", r->command);
	if (r->event == TG_AUDIT_SESSION_END && r->has_session_exit) {
		put_int(b, "exit_code", r->session_exit_code);
		put_int(b, "signal", r->session_signal);
	}
}

static void put_mac(struct tg_audit_buf *b, bool keyed)
{
	if (keyed)
		put_str(b, "mac", TG_AUDIT_MAC_HMAC);
}

int tg_audit_record_body(const struct tg_audit_record *r, const char *session, bool keyed,
                         struct tg_audit_buf *b, struct tg_error **err)
{
	switch (r->event) {
	case TG_AUDIT_SESSION_START:
	case TG_AUDIT_POLICY_LOADED:
	case TG_AUDIT_CALL:
	case TG_AUDIT_SESSION_END:
		break;
	default:
		/* recovery and checkpoint records are the writer's alone: a
		 * caller that could write one could explain away damage. */
		return tg_error_set(err, -EINVAL, "audit record: event %d cannot be appended",
		                    (int)r->event);
	}
	if (r->decision && strcmp(r->decision, "allow") != 0 && strcmp(r->decision, "deny") != 0)
		return tg_error_set(err, -EINVAL, "audit record: decision '%s' is not allow|deny",
		                    r->decision);
	put_head(b, tg_audit_event_name(r->event), session);
	int e = put_call_fields(b, r);
	if (e == 0) {
		put_session_fields(b, r);
		put_mac(b, keyed);
	}
	if (e == 0 && b->oom)
		e = -ENOMEM;
	if (e < 0)
		return tg_error_set(err, e, "audit record: %s",
		                    e == -ENOMEM ? "out of memory" : "params cannot be serialized");
	return 0;
}

int tg_audit_recovery_body(const struct tg_audit_recovery *rec, const char *session, bool keyed,
                           struct tg_audit_buf *b)
{
	put_head(b, TG_AUDIT_EVENT_RECOVERY, session);
	if (rec->torn) {
		put_uint(b, "torn_bytes", rec->torn_bytes);
		put_str(b, "torn_sha256", rec->torn_sha256);
	}
	put_str(b, "unterminated_session", rec->unterminated);
	put_mac(b, keyed);
	return b->oom ? -ENOMEM : 0;
}

int tg_audit_checkpoint_body(const struct tg_audit_checkpoint *cp, const char *session, bool keyed,
                             struct tg_audit_buf *b)
{
	put_head(b, TG_AUDIT_EVENT_CHECKPOINT, session);
	put_uint(b, "signed_seq", cp->signed_seq);
	put_str(b, "signed_hash", cp->signed_hash);
	put_str(b, "pubkey", cp->pubkey);
	put_str(b, "sig", cp->sig);
	put_mac(b, keyed);
	return b->oom ? -ENOMEM : 0;
}

int tg_audit_line_finish(struct tg_audit_buf *line, const char *body, size_t body_len, uint64_t seq,
                         const char *time, const char *prev, const struct tg_audit_key *key,
                         char ret_hash[TG_SHA256_HEX_LEN])
{
	/*
	 * The line is the compact serialization of one object whose members
	 * are {seq, time} + the body's members + {prev}, then the hash member:
	 * the body was serialized outside the writer's lock, the rest is added
	 * here, under it.
	 */
	size_t start = line->len;
	tg_audit_buf_raw(line, "{", 1);
	put_uint(line, "seq", seq);
	put_str(line, "time", time);
	tg_audit_buf_raw(line, ",", 1);
	tg_audit_buf_raw(line, body, body_len);
	put_str(line, "prev", prev);
	tg_audit_buf_raw(line, "}", 1);
	/* room for the tail, so nothing below can fail */
	tg_audit_buf_raw(line, TG_AUDIT_HASH_KEY TG_AUDIT_ZERO_HASH "\"}\n", TG_AUDIT_TAIL_LEN + 1);
	if (line->oom)
		return -ENOMEM;
	/* the record without its hash member ends at that '}' */
	size_t pre = line->len - TG_AUDIT_TAIL_LEN - 1 - start;
	char *l = line->data + start;
	char hash[TG_SHA256_HEX_LEN];
	tg_audit_hash(key, l, pre - 1, hash);
	char *o = l + pre - 1;
	memcpy(o, TG_AUDIT_HASH_KEY, TG_AUDIT_HASH_KEY_LEN);
	memcpy(o + TG_AUDIT_HASH_KEY_LEN, hash, TG_AUDIT_HEX_LEN);
	memcpy(o + TG_AUDIT_HASH_KEY_LEN + TG_AUDIT_HEX_LEN, "\"}\n", 3);
	line->len = start + pre - 1 + TG_AUDIT_TAIL_LEN + 1;
	line->data[line->len] = '\0';
	memcpy(ret_hash, hash, TG_SHA256_HEX_LEN);
	return 0;
}
