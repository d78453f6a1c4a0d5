/* SPDX-License-Identifier: Apache-2.0 */
/* Call results: accessors over the decoded response, and its JSON form. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const Toolgate__CallResult *call_of(const tg_result *r)
{
	if (!r || !r->resp || r->resp->body_case != TOOLGATE__RESPONSE__BODY_CALL)
		return NULL;
	return r->resp->call;
}

int tg_result_from_wire(Toolgate__Response *resp, tg_result **ret)
{
	tg_result *r = calloc(1, sizeof(*r));
	if (!r) {
		toolgate__response__free_unpacked(resp, NULL);
		return -ENOMEM;
	}
	r->resp = resp;
	const Toolgate__CallResult *c = call_of(r);
	size_t n = c ? c->n_argv : 0;
	r->argv = calloc(n + 1, sizeof(char *));
	if (!r->argv) {
		tg_result_free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		r->argv[i] = c->argv[i];
	*ret = r;
	return 0;
}

TG_EXPORT void tg_result_free(tg_result *r)
{
	if (!r)
		return;
	if (r->resp)
		toolgate__response__free_unpacked(r->resp, NULL);
	free(r->argv);
	free(r);
}

TG_EXPORT const char *tg_status_name(tg_status s)
{
	return tg_proto_status_name((Toolgate__Status)s);
}

TG_EXPORT tg_status tg_result_status(const tg_result *r)
{
	/* A status this client does not know is treated as a broker failure. */
	if (!r || !r->resp || r->resp->status < TOOLGATE__STATUS__STATUS_OK ||
	    r->resp->status > TOOLGATE__STATUS__STATUS_INTERNAL)
		return TG_STATUS_INTERNAL;
	return (tg_status)r->resp->status;
}

TG_EXPORT const char *tg_result_reason(const tg_result *r)
{
	return r && r->resp && r->resp->reason ? r->resp->reason : "";
}

TG_EXPORT int tg_result_exit_code(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c ? c->exit_code : -1;
}

TG_EXPORT int tg_result_signal(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c ? c->signal : 0;
}

TG_EXPORT const uint8_t *tg_result_stdout(const tg_result *r, size_t *ret_len)
{
	const Toolgate__CallResult *c = call_of(r);
	if (ret_len)
		*ret_len = c ? c->stdout_data.len : 0;
	return c && c->stdout_data.data ? c->stdout_data.data : (const uint8_t *)"";
}

TG_EXPORT const uint8_t *tg_result_stderr(const tg_result *r, size_t *ret_len)
{
	const Toolgate__CallResult *c = call_of(r);
	if (ret_len)
		*ret_len = c ? c->stderr_data.len : 0;
	return c && c->stderr_data.data ? c->stderr_data.data : (const uint8_t *)"";
}

TG_EXPORT bool tg_result_truncated(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c && c->truncated;
}

TG_EXPORT uint32_t tg_result_redactions(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c ? c->redactions : 0;
}

TG_EXPORT uint32_t tg_result_retry_after_ms(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c ? c->retry_after_ms : 0;
}

TG_EXPORT uint64_t tg_result_request_id(const tg_result *r)
{
	return r && r->resp ? r->resp->request_id : 0;
}

TG_EXPORT const char *tg_result_rule(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c && c->rule ? c->rule : "";
}

TG_EXPORT const char *const *tg_result_argv(const tg_result *r)
{
	return r ? r->argv : NULL;
}

TG_EXPORT uint64_t tg_result_wall_ms(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c && c->usage ? c->usage->wall_ms : 0;
}

TG_EXPORT uint64_t tg_result_cpu_ms(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c && c->usage ? c->usage->cpu_ms : 0;
}

TG_EXPORT uint64_t tg_result_max_rss_kb(const tg_result *r)
{
	const Toolgate__CallResult *c = call_of(r);
	return c && c->usage ? c->usage->max_rss_kb : 0;
}

/* Output is sanitized into valid UTF-8 by the broker; should a broker send
 * anything else, keep the JSON valid rather than fail the whole result. */
static json_t *text(const uint8_t *data, size_t len)
{
	json_t *s = json_stringn((const char *)data, len);
	if (s)
		return s;
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = data[i] < 0x80 ? (char)data[i] : '?';
	copy[len] = '\0';
	s = json_stringn(copy, len);
	free(copy);
	return s;
}

TG_EXPORT char *tg_result_to_json(const tg_result *r)
{
	if (!r)
		return NULL;
	size_t out_len, err_len;
	const uint8_t *out = tg_result_stdout(r, &out_len);
	const uint8_t *err = tg_result_stderr(r, &err_len);
	json_t *argv = json_array();
	for (size_t i = 0; argv && r->argv && r->argv[i]; i++)
		json_array_append_new(argv, json_string(r->argv[i]));
	json_t *o = json_pack(
	        "{s:s, s:s, s:I, s:i, s:i, s:o, s:o, s:b, s:i, s:s, s:o, s:{s:I, s:I, s:I}}",
	        "status", tg_status_name(tg_result_status(r)), "reason", tg_result_reason(r),
	        "request_id", (json_int_t)tg_result_request_id(r), "exit_code",
	        tg_result_exit_code(r), "signal", tg_result_signal(r), "stdout", text(out, out_len),
	        "stderr", text(err, err_len), "truncated", tg_result_truncated(r), "redactions",
	        (int)tg_result_redactions(r), "rule", tg_result_rule(r), "argv",
	        argv ? argv : json_array(), "usage", "wall_ms", (json_int_t)tg_result_wall_ms(r),
	        "cpu_ms", (json_int_t)tg_result_cpu_ms(r), "max_rss_kb",
	        (json_int_t)tg_result_max_rss_kb(r));
	if (!o)
		return NULL;
	if (tg_result_status(r) == TG_STATUS_RATE_LIMITED)
		json_object_set_new(o, "retry_after_ms", json_integer(tg_result_retry_after_ms(r)));
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}
