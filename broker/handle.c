/* SPDX-License-Identifier: Apache-2.0 */
/* One call, start to end: decide -> rate limits -> run -> audit. Shared by
 * the wire server and the in-process (MCP) front end, so both take the very
 * same path. */
#include <string.h>

#include "internal.h"

void tg_call_outcome_clear(struct tg_call_outcome *o)
{
	tg_exec_result_clear(&o->exec);
	free(o->rule);
	tg_strv_free(o->argv);
	memset(o, 0, sizeof(*o));
}

static void fill_common(struct tg_audit_record *rec, const struct tg_call_ctx *ctx)
{
	rec->event = TG_AUDIT_CALL;
	rec->has_peer = ctx->has_peer;
	rec->peer_pid = ctx->peer_pid;
	rec->peer_uid = ctx->peer_uid;
	rec->has_request_id = ctx->has_request_id;
	rec->request_id = ctx->request_id;
}

/* Append; on failure the caller's answer becomes UNAVAILABLE and carries no
 * output: a call whose record cannot be written is not reported as done. */
static void append_or_fail(struct tg_broker *b, const struct tg_audit_record *rec,
                           struct tg_exec_result *res)
{
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_append(b->audit, rec, &err) == 0)
		return;
	tg_log(TG_LOG_ERR, "audit: cannot write record: %s", tg_error_msg(err));
	free(res->reason);
	res->reason =
	        tg_strdup_printf("audit log unwritable (%s): call refused", tg_error_msg(err));
	res->status = TOOLGATE__STATUS__STATUS_UNAVAILABLE;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
	res->out_len = res->err_len = 0;
}

/* Before a call runs: make sure its record will find disk space afterwards
 * (tg_audit_reserve), so that nothing runs unaudited. False, with res
 * refused UNAVAILABLE, when it would not. */
static bool reserve_record(struct tg_broker *b, struct tg_audit_record *rec, char *const *argv,
                           struct tg_exec_result *res)
{
	_cleanup_error_ struct tg_error *err = NULL;
	rec->argv = argv;
	if (tg_audit_reserve(b->audit, rec, &rec->reserved, &err) == 0)
		return true;
	tg_log(TG_LOG_ERR, "audit: %s", tg_error_msg(err));
	res->status = TOOLGATE__STATUS__STATUS_UNAVAILABLE;
	res->reason =
	        tg_strdup_printf("audit log unwritable (%s): call refused", tg_error_msg(err));
	return false;
}

void tg_broker_audit_refused(struct tg_broker *b, const struct tg_call_ctx *ctx,
                             Toolgate__Status status, const char *reason)
{
	struct tg_policy_set *set = tg_policy_set_get(b);
	struct tg_audit_record rec = {0};
	fill_common(&rec, ctx);
	rec.decision = "deny";
	rec.reason = reason;
	rec.status = tg_proto_status_name(status);
	rec.policy_sha256 = tg_policy_sha256(set->policy);
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_append(b->audit, &rec, &err) < 0)
		tg_log(TG_LOG_ERR, "audit: cannot write record: %s", tg_error_msg(err));
	tg_policy_set_put(set);
}

static const char *status_name(Toolgate__Status s)
{
	return tg_proto_status_name(s);
}

void tg_broker_handle_call(struct tg_broker *b, const struct tg_call_ctx *ctx, const char *tool,
                           const json_t *params, const char *invalid_reason,
                           struct tg_call_outcome *out)
{
	memset(out, 0, sizeof(*out));
	struct tg_exec_result *res = &out->exec;
	res->exit_code = -1;
	struct tg_policy_set *set = tg_policy_set_get(b);
	struct tg_policy *policy = set->policy;
	const struct tg_audit_section *asec = tg_policy_audit(policy);

	struct tg_audit_record rec = {0};
	fill_common(&rec, ctx);
	rec.tool = tool;
	rec.policy_sha256 = tg_policy_sha256(policy);
	_cleanup_json_ json_t *audit_params = tg_params_for_audit(params, asec->params);
	rec.params = audit_params;

	if (invalid_reason) {
		res->status = TOOLGATE__STATUS__STATUS_INVALID;
		res->reason = strdup(invalid_reason);
		rec.decision = "deny";
		rec.reason = invalid_reason;
		rec.status = status_name(res->status);
		append_or_fail(b, &rec, res);
		tg_policy_set_put(set);
		return;
	}

	struct tg_verdict *v = NULL;
	if (tg_policy_decide(policy, tool, params, &v) < 0) {
		res->status = TOOLGATE__STATUS__STATUS_INTERNAL;
		res->reason = strdup("out of memory while deciding");
		rec.decision = "deny";
		rec.reason = res->reason;
		rec.status = status_name(res->status);
		append_or_fail(b, &rec, res);
		tg_policy_set_put(set);
		return;
	}
	out->rule = v->rule ? strdup(v->rule) : NULL;
	rec.rule = v->rule;
	rec.decision = v->allow ? "allow" : "deny";
	/* What each path value was checked as (argv names where the tool got
	 * it): borrowed from the verdict. */
	_cleanup_free_ char **checked = NULL;
	if (v->allow && v->n_paths && (checked = calloc(v->n_paths + 1, sizeof(char *)))) {
		for (size_t i = 0; i < v->n_paths; i++)
			checked[i] = v->paths[i].path;
		rec.paths = checked;
	}

	uint32_t retry_ms = 0;
	bool entered = false;
	if (!v->allow) {
		res->status = TOOLGATE__STATUS__STATUS_DENIED;
		res->reason = strdup(v->reason ? v->reason : "denied");
	} else if (!(entered = tg_ratelimit_enter(b->rate, tg_policy_max_concurrent(policy)))) {
		/* Checked before the bucket: a call refused here spends no token. */
		res->status = TOOLGATE__STATUS__STATUS_RATE_LIMITED;
		res->retry_after_ms = 100;
		res->reason = tg_strdup_printf("max_concurrent (%u) calls already in flight",
		                               tg_policy_max_concurrent(policy));
	} else if (!tg_ratelimit_take(b->rate, v->tool, v->rate, tg_now_mono_ms(), &retry_ms)) {
		res->status = TOOLGATE__STATUS__STATUS_RATE_LIMITED;
		res->retry_after_ms = retry_ms;
		res->reason = tg_strdup_printf(
		        "rate limit of tool '%s' (%u calls per %llu ms) reached; retry after %u ms",
		        v->tool, v->rate->calls, (unsigned long long)v->rate->per_ms, retry_ms);
	} else if (!reserve_record(b, &rec, v->argv, res)) {
		/* refused UNAVAILABLE: its record could not be written after it */
	} else {
		/* A tool with egress rules gets them in place (or is refused
		 * UNAVAILABLE) inside the executor: see egress.h. */
		tg_broker_execute(b, set, v, ctx->cancel_fd, res);
		out->argv = tg_strv_dup(v->argv);
	}
	if (entered)
		tg_ratelimit_leave(b->rate);

	if (v->allow)
		rec.argv = v->argv;
	rec.status = status_name(res->status);
	rec.reason = res->reason ? res->reason : v->reason;
	rec.binary_sha256 = v->allow ? v->binary_sha256 : NULL;
	if (res->ran) {
		rec.has_exit = true;
		rec.exit_code = res->exit_code;
		rec.signal = res->signal;
		rec.has_usage = true;
		rec.wall_ms = res->wall_ms;
		rec.cpu_ms = res->cpu_ms;
		rec.max_rss_kb = res->max_rss_kb;
		rec.has_output = true;
		rec.stdout_bytes = res->out_bytes;
		rec.stderr_bytes = res->err_bytes;
		rec.truncated = res->truncated;
		rec.redactions = res->redactions;
		rec.redaction_limit_hits = res->redaction_limit_hits;
		rec.stdout_sha256 = res->out_sha256;
		rec.stderr_sha256 = res->err_sha256;
		rec.has_egress = true;
		rec.egress_allowed = res->egress;
		rec.egress_dropped_packets = res->egress_dropped_packets;
		rec.has_egress_sent = res->egress;
		rec.egress_sent_bytes = res->egress_sent_bytes;
		rec.protections = res->protections;
	}
	append_or_fail(b, &rec, res);
	tg_verdict_free(v);
	tg_policy_set_put(set);
}
