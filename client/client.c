/* SPDX-License-Identifier: Apache-2.0 */
/* The connection to the broker and the request/response exchange. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "internal.h"

struct tg_client {
	nng_socket sock;
	uint32_t timeout_ms;
	atomic_uint_fast64_t next_id;
	/* Set when the connection to the broker went away; calls in flight
	 * then fail instead of waiting for a reconnect that would re-send
	 * them (a tool call must never run twice behind the caller's back). */
	atomic_bool broken;
	atomic_int pipes;
};

static int map_nng(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ENOENT:
		return -ENOENT;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
	case NNG_ENOTSUP:
		return -EINVAL;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return -ECONNRESET;
	case NNG_EPERM:
		return -EACCES;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

TG_EXPORT const char *tg_client_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "no broker socket at that address";
	case -ECONNREFUSED:
		return "no broker is listening at that address";
	case -ECONNRESET:
		return "the broker closed the connection";
	case -ETIMEDOUT:
		return "the broker did not answer in time";
	case -EPROTO:
		return "the broker's answer could not be decoded";
	case -EDESTADDRREQ:
		return "no broker address: pass a URL or set TOOLGATE_URL";
	case -EINVAL:
		return "invalid argument";
	case -EILSEQ:
		return "a value is not valid UTF-8";
	case -ENOMEM:
		return "out of memory";
	case -EACCES:
		return "permission denied on the broker socket";
	case -EMSGSIZE:
		return "message too large";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	tg_client *c = arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&c->pipes, 1);
		atomic_store(&c->broken, false);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		if (atomic_fetch_sub(&c->pipes, 1) <= 1)
			atomic_store(&c->broken, true);
	}
}

TG_EXPORT int tg_client_open(const char *url, tg_client **ret)
{
	if (!ret)
		return -EINVAL;
	if (!url || !*url)
		url = getenv("TOOLGATE_URL");
	if (!url || !*url)
		return -EDESTADDRREQ;
	tg_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	uint64_t seed = 0;
	/* Request ids only correlate records; start somewhere random so two
	 * clients of one session are told apart in the log. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) << 20;
	atomic_init(&c->next_id, (seed >> 16) | 1);
	atomic_init(&c->broken, false);
	atomic_init(&c->pipes, 0);
	int rv = nng_req0_open(&c->sock);
	if (rv != 0) {
		free(c);
		return map_nng(rv);
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, TG_PROTO_MAX_RESPONSE);
	/* Never re-send a request on a timer: a call runs at most once. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, on_pipe, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, on_pipe, c);
	rv = nng_dial(c->sock, url, NULL, 0);
	if (rv != 0) {
		nng_close(c->sock);
		free(c);
		return map_nng(rv);
	}
	*ret = c;
	return 0;
}

TG_EXPORT void tg_client_close(tg_client *c)
{
	if (!c)
		return;
	nng_close(c->sock);
	free(c);
}

TG_EXPORT void tg_client_set_timeout(tg_client *c, uint32_t timeout_ms)
{
	if (c)
		c->timeout_ms = timeout_ms;
}

/* An aio whose completion can be waited for with a timeout, so that a call
 * notices when the broker goes away instead of waiting for a reconnect. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void waiter_cb(void *arg)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void waiter_arm(struct waiter *w)
{
	pthread_mutex_lock(&w->lock);
	w->done = false;
	pthread_mutex_unlock(&w->lock);
}

static uint64_t now_ms(void);

/* Wait for an aio, giving up when the connection breaks or time runs out. */
static int wait_aio(tg_client *c, nng_aio *aio, struct waiter *w, uint64_t deadline_ms)
{
	bool cancelled = false;
	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		if (!cancelled &&
		    (atomic_load(&c->broken) || (deadline_ms && now_ms() >= deadline_ms))) {
			pthread_mutex_unlock(&w->lock);
			nng_aio_cancel(aio);
			pthread_mutex_lock(&w->lock);
			cancelled = true;
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	int rv = nng_aio_result(aio);
	if (rv == 0)
		return 0; /* completed, even if just in time */
	if (cancelled)
		return atomic_load(&c->broken) ? -ECONNRESET : -ETIMEDOUT;
	return map_nng(rv);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One request/response exchange on a fresh context. */
static int exchange(tg_client *c, const Toolgate__Request *req, Toolgate__Response **ret)
{
	size_t len = toolgate__request__get_packed_size(req);
	if (len > TG_PROTO_MAX_REQUEST)
		return -EMSGSIZE;
	if (atomic_load(&c->broken))
		return -ECONNRESET;
	nng_msg *msg = NULL;
	int rv = nng_msg_alloc(&msg, len);
	if (rv != 0)
		return map_nng(rv);
	toolgate__request__pack(req, nng_msg_body(msg));

	nng_ctx ctx;
	nng_aio *aio = NULL;
	struct waiter w = {.done = false};
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(msg);
		return map_nng(rv);
	}
	if ((rv = nng_aio_alloc(&aio, waiter_cb, &w)) != 0) {
		nng_msg_free(msg);
		nng_ctx_close(ctx);
		return map_nng(rv);
	}
	uint64_t deadline = c->timeout_ms ? now_ms() + c->timeout_ms : 0;
	int r;
	nng_aio_set_msg(aio, msg);
	waiter_arm(&w);
	nng_ctx_send(ctx, aio);
	if ((r = wait_aio(c, aio, &w, deadline)) < 0) {
		nng_msg_free(nng_aio_get_msg(aio));
		goto out;
	}
	waiter_arm(&w);
	nng_ctx_recv(ctx, aio);
	if ((r = wait_aio(c, aio, &w, deadline)) < 0)
		goto out;
	nng_msg *reply = nng_aio_get_msg(aio);
	Toolgate__Response *resp =
	        toolgate__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
	nng_msg_free(reply);
	if (!resp) {
		r = -EPROTO;
		goto out;
	}
	*ret = resp;
	r = 0;
out:
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return r;
}

TG_EXPORT int tg_call(tg_client *c, const char *tool, const tg_params *params, tg_result **ret)
{
	if (!c || !tool || !*tool || !ret)
		return -EINVAL;
	struct tg_wire_params wp;
	int r = tg_wire_params_build(params, &wp);
	if (r < 0)
		return r;
	Toolgate__CallRequest call = TOOLGATE__CALL_REQUEST__INIT;
	call.tool = (char *)tool;
	call.params = wp.params;
	call.n_params = wp.n;
	Toolgate__Request req = TOOLGATE__REQUEST__INIT;
	req.version = TG_PROTO_VERSION;
	req.request_id = atomic_fetch_add(&c->next_id, 1);
	req.body_case = TOOLGATE__REQUEST__BODY_CALL;
	req.call = &call;
	Toolgate__Response *resp = NULL;
	r = exchange(c, &req, &resp);
	tg_wire_params_free(&wp);
	if (r < 0)
		return r;
	return tg_result_from_wire(resp, ret);
}

TG_EXPORT int tg_tools(tg_client *c, char **ret_json)
{
	if (!c || !ret_json)
		return -EINVAL;
	Toolgate__ListToolsRequest list = TOOLGATE__LIST_TOOLS_REQUEST__INIT;
	Toolgate__Request req = TOOLGATE__REQUEST__INIT;
	req.version = TG_PROTO_VERSION;
	req.request_id = atomic_fetch_add(&c->next_id, 1);
	req.body_case = TOOLGATE__REQUEST__BODY_LIST_TOOLS;
	req.list_tools = &list;
	Toolgate__Response *resp = NULL;
	int r = exchange(c, &req, &resp);
	if (r < 0)
		return r;
	if (resp->status != TOOLGATE__STATUS__STATUS_OK ||
	    resp->body_case != TOOLGATE__RESPONSE__BODY_TOOLS) {
		toolgate__response__free_unpacked(resp, NULL);
		return -EPROTO;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < resp->tools->n_tools; i++) {
		const Toolgate__ToolInfo *t = resp->tools->tools[i];
		json_t *schema =
		        json_loads(t->input_schema_json ? t->input_schema_json : "{}", 0, NULL);
		json_t *o = json_pack("{s:s, s:s, s:o}", "name", t->name ? t->name : "",
		                      "description", t->description ? t->description : "",
		                      "inputSchema", schema ? schema : json_object());
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	toolgate__response__free_unpacked(resp, NULL);
	if (!arr)
		return -ENOMEM;
	char *s = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (!s)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}
