/* SPDX-License-Identifier: Apache-2.0 */
/* The wire server: one nng REP socket, N workers, each with its own context
 * so a slow tool never blocks another caller. Every request is answered with
 * a typed status, undecodable ones included. */
#include <string.h>

#include "internal.h"

#include <nng/protocol/reqrep0/rep.h>

static void peer_of(nng_msg *msg, struct tg_call_ctx *ctx)
{
	nng_pipe p = nng_msg_get_pipe(msg);
	uint64_t pid = 0, uid = 0;
	/* SO_PEERCRED through nng: the kernel's view of who connected, with
	 * the pid translated into our pid namespace. Only ipc has it. */
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
	    nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) == 0) {
		ctx->has_peer = true;
		ctx->peer_pid = (int64_t)pid;
		ctx->peer_uid = (int64_t)uid;
	}
}

static nng_msg *pack_response(const Toolgate__Response *resp)
{
	size_t len = toolgate__response__get_packed_size(resp);
	nng_msg *m = NULL;
	if (nng_msg_alloc(&m, len) != 0)
		return NULL;
	toolgate__response__pack(resp, nng_msg_body(m));
	return m;
}

static nng_msg *simple_response(uint64_t request_id, Toolgate__Status status, const char *reason)
{
	Toolgate__Response resp = TOOLGATE__RESPONSE__INIT;
	resp.version = TG_PROTO_VERSION;
	resp.request_id = request_id;
	resp.status = status;
	resp.reason = (char *)(reason ? reason : "");
	return pack_response(&resp);
}

static nng_msg *handle_list(struct tg_broker *b, const Toolgate__Request *req)
{
	_cleanup_json_ json_t *tools = tg_broker_tools(b);
	size_t n = json_array_size(tools);
	Toolgate__ToolInfo *infos = calloc(n ? n : 1, sizeof(*infos));
	Toolgate__ToolInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	char **schemas = calloc(n ? n : 1, sizeof(char *));
	nng_msg *m = NULL;
	if (!tools || !infos || !ptrs || !schemas) {
		m = simple_response(req->request_id, TOOLGATE__STATUS__STATUS_INTERNAL,
		                    "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tools, i);
		toolgate__tool_info__init(&infos[i]);
		infos[i].name = (char *)json_string_value(json_object_get(t, "name"));
		const char *d = json_string_value(json_object_get(t, "description"));
		infos[i].description = (char *)(d ? d : "");
		schemas[i] = json_dumps(json_object_get(t, "inputSchema"), JSON_COMPACT);
		infos[i].input_schema_json = schemas[i] ? schemas[i] : (char *)"{}";
		ptrs[i] = &infos[i];
	}
	Toolgate__ToolList list = TOOLGATE__TOOL_LIST__INIT;
	list.n_tools = n;
	list.tools = ptrs;
	Toolgate__Response resp = TOOLGATE__RESPONSE__INIT;
	resp.version = TG_PROTO_VERSION;
	resp.request_id = req->request_id;
	resp.status = TOOLGATE__STATUS__STATUS_OK;
	resp.reason = (char *)"";
	resp.body_case = TOOLGATE__RESPONSE__BODY_TOOLS;
	resp.tools = &list;
	m = pack_response(&resp);
out:
	for (size_t i = 0; schemas && i < n; i++)
		free(schemas[i]);
	free(schemas);
	free(ptrs);
	free(infos);
	return m;
}

/* Run the call and pack its answer. The outcome is left in *o for the
 * caller to clear once the answer is sent: clearing frees the ended sandbox,
 * which need not delay the answer. */
static nng_msg *handle_call(struct tg_broker *b, const Toolgate__Request *req,
                            struct tg_call_ctx *ctx, struct tg_call_outcome *o_out)
{
	const Toolgate__CallRequest *call = req->call;
	_cleanup_json_ json_t *params = NULL;
	_cleanup_free_ char *invalid = NULL;
	const char *tool = call->tool ? call->tool : "";
	if (!*tool)
		invalid = strdup("call without a tool name");
	else if (tg_params_from_wire(call, &params, &invalid) < 0 && !invalid)
		invalid = strdup("out of memory decoding parameters");

	struct tg_call_outcome *o = o_out;
	tg_broker_handle_call(b, ctx, tool, params, invalid, o);
	struct tg_exec_result *res = &o->exec;

	Toolgate__Usage usage = TOOLGATE__USAGE__INIT;
	usage.wall_ms = res->wall_ms;
	usage.cpu_ms = res->cpu_ms;
	usage.max_rss_kb = res->max_rss_kb;
	Toolgate__CallResult cr = TOOLGATE__CALL_RESULT__INIT;
	cr.exit_code = res->exit_code;
	cr.signal = res->signal;
	cr.stdout_data.data = (uint8_t *)res->out;
	cr.stdout_data.len = res->out ? res->out_len : 0;
	cr.stderr_data.data = (uint8_t *)res->err;
	cr.stderr_data.len = res->err ? res->err_len : 0;
	cr.truncated = res->truncated;
	cr.redactions = (uint32_t)res->redactions;
	cr.usage = &usage;
	cr.rule = o->rule ? o->rule : (char *)"";
	cr.n_argv = tg_strv_len(o->argv);
	cr.argv = o->argv;
	cr.retry_after_ms = res->retry_after_ms;
	cr.stdout_bytes = res->out_bytes;
	cr.stderr_bytes = res->err_bytes;

	Toolgate__Response resp = TOOLGATE__RESPONSE__INIT;
	resp.version = TG_PROTO_VERSION;
	resp.request_id = req->request_id;
	resp.status = res->status;
	resp.reason = res->reason ? res->reason : (char *)"";
	resp.body_case = TOOLGATE__RESPONSE__BODY_CALL;
	resp.call = &cr;
	return pack_response(&resp);
}

/* Decode, dispatch, encode. Never returns NULL unless out of memory. */
static nng_msg *handle_message(struct tg_broker *b, nng_msg *msg, struct tg_call_outcome *o)
{
	struct tg_call_ctx ctx = {.cancel_fd = -1};
	peer_of(msg, &ctx);
	size_t len = nng_msg_len(msg);
	if (len > TG_PROTO_MAX_REQUEST) {
		_cleanup_free_ char *why = tg_strdup_printf(
		        "request too large: %zu bytes (at most %zu)", len, TG_PROTO_MAX_REQUEST);
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_INVALID, why);
		return simple_response(0, TOOLGATE__STATUS__STATUS_INVALID, why);
	}
	/* Request, call, param, value, then lists of lists: a value list may
	 * nest a few levels (params.c bounds what it accepts); this only keeps
	 * the decoder's recursion bounded. */
	if (!tg_proto_request_depth_ok(nng_msg_body(msg), len, 16)) {
		const char *why = "request nests messages too deep (at most 16 levels)";
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_INVALID, why);
		return simple_response(0, TOOLGATE__STATUS__STATUS_INVALID, why);
	}
	Toolgate__Request *req = toolgate__request__unpack(NULL, len, nng_msg_body(msg));
	if (!req) {
		_cleanup_free_ char *why = tg_strdup_printf(
		        "undecodable request (%zu bytes): not a toolgate.Request message", len);
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_INVALID, why);
		return simple_response(0, TOOLGATE__STATUS__STATUS_INVALID, why);
	}
	ctx.has_request_id = true;
	ctx.request_id = req->request_id;
	nng_msg *reply = NULL;
	if (req->version != TG_PROTO_VERSION) {
		_cleanup_free_ char *why = tg_strdup_printf(
		        "protocol version %u not supported (this broker speaks %d)", req->version,
		        TG_PROTO_VERSION);
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_INVALID, why);
		reply = simple_response(req->request_id, TOOLGATE__STATUS__STATUS_INVALID, why);
	} else if (atomic_load(&b->stopping)) {
		const char *why = "broker is shutting down";
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_UNAVAILABLE, why);
		reply = simple_response(req->request_id, TOOLGATE__STATUS__STATUS_UNAVAILABLE, why);
	} else if (req->body_case == TOOLGATE__REQUEST__BODY_CALL) {
		reply = handle_call(b, req, &ctx, o);
	} else if (req->body_case == TOOLGATE__REQUEST__BODY_LIST_TOOLS) {
		reply = handle_list(b, req);
	} else {
		const char *why = "request has no body (neither call nor list_tools)";
		tg_broker_audit_refused(b, &ctx, TOOLGATE__STATUS__STATUS_INVALID, why);
		reply = simple_response(req->request_id, TOOLGATE__STATUS__STATUS_INVALID, why);
	}
	toolgate__request__free_unpacked(req, NULL);
	return reply;
}

static void *worker_main(void *arg)
{
	struct tg_worker *w = arg;
	struct tg_broker *b = w->broker;
	while (!atomic_load(&b->stopping)) {
		pthread_mutex_lock(&w->idle_lock);
		w->idle = true;
		pthread_mutex_unlock(&w->idle_lock);
		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		pthread_mutex_lock(&w->idle_lock);
		w->idle = false;
		pthread_mutex_unlock(&w->idle_lock);
		int rv = nng_aio_result(w->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || rv == NNG_ESTATE)
			break;
		if (rv != 0)
			continue;
		nng_msg *msg = nng_aio_get_msg(w->aio);
		atomic_fetch_add(&b->in_flight, 1);
		struct tg_call_outcome outcome = {0};
		nng_msg *reply = handle_message(b, msg, &outcome);
		nng_msg_free(msg);
		if (reply) {
			nng_aio_set_msg(w->aio, reply);
			nng_ctx_send(w->ctx, w->aio);
			nng_aio_wait(w->aio);
			if (nng_aio_result(w->aio) != 0)
				nng_msg_free(reply);
		}
		tg_call_outcome_clear(&outcome);
		atomic_fetch_sub(&b->in_flight, 1);
	}
	atomic_store(&w->done, true);
	return NULL;
}

int tg_server_start(struct tg_broker *b, struct tg_error **err)
{
	int rv = nng_rep0_open(&b->sock);
	if (rv != 0)
		return tg_error_set(err, -EIO, "nng: open rep socket: %s", nng_strerror(rv));
	b->sock_open = true;
	/* The transport bound: past it nng closes the connection; between
	 * MAX_REQUEST and this, we still answer INVALID. */
	nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, TG_PROTO_MAX_TRANSPORT);

	nng_listener l;
	rv = nng_listener_create(&l, b->sock, b->url);
	if (rv != 0)
		return tg_error_set(err, -EINVAL, "listen on %s: %s", b->url, nng_strerror(rv));
	if (b->socket_path) {
		/* Only the owner (and root) may connect; the directory is 0700 too. */
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
		if (rv != 0)
			return tg_error_set(err, -EIO, "set socket permissions: %s",
			                    nng_strerror(rv));
	}
	rv = nng_listener_start(l, 0);
	if (rv != 0)
		return tg_error_set(err, rv == NNG_EADDRINUSE ? -EADDRINUSE : -EIO,
		                    "listen on %s: %s", b->url, nng_strerror(rv));

	b->workers = calloc(b->n_workers, sizeof(*b->workers));
	if (!b->workers)
		return tg_error_set(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < b->n_workers; i++) {
		struct tg_worker *w = &b->workers[i];
		w->broker = b;
		pthread_mutex_init(&w->idle_lock, NULL);
		if ((rv = nng_ctx_open(&w->ctx, b->sock)) != 0 ||
		    (rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0)
			return tg_error_set(err, -EIO, "nng context: %s", nng_strerror(rv));
		int pr = pthread_create(&w->thread, NULL, worker_main, w);
		if (pr != 0)
			return tg_error_set(err, -pr, "start worker: %m");
		w->started = true;
	}
	return 0;
}

void tg_server_stop(struct tg_broker *b)
{
	if (b->stopped)
		return;
	b->stopped = true;
	atomic_store(&b->stopping, true);
	/* Idle workers wait in recv: cancel until each has seen the flag. Busy
	 * ones finish their call and answer it (their send is never cancelled),
	 * then stop. */
	for (bool all_done = false; !all_done;) {
		all_done = true;
		for (unsigned i = 0; b->workers && i < b->n_workers; i++) {
			struct tg_worker *w = &b->workers[i];
			if (!w->started || atomic_load(&w->done))
				continue;
			all_done = false;
			/* Under the lock: a worker that has just received a
			 * request is no longer idle, and its answer's send must
			 * never be the thing cancelled. */
			pthread_mutex_lock(&w->idle_lock);
			if (w->idle)
				nng_aio_cancel(w->aio);
			pthread_mutex_unlock(&w->idle_lock);
		}
		if (!all_done)
			usleep(2000);
	}
	for (unsigned i = 0; b->workers && i < b->n_workers; i++) {
		struct tg_worker *w = &b->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
	}
	if (b->sock_open) {
		nng_close(b->sock);
		b->sock_open = false;
	}
	for (unsigned i = 0; b->workers && i < b->n_workers; i++) {
		nng_aio_free(b->workers[i].aio);
		b->workers[i].aio = NULL;
		pthread_mutex_destroy(&b->workers[i].idle_lock);
	}
	free(b->workers);
	b->workers = NULL;
}
