/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCP server on stdio (JSON-RPC 2.0, newline-delimited). It speaks the
 * tools part of MCP: initialize (version negotiation), ping, tools/list
 * (paginated, an inputSchema per tool generated from the policy), tools/call
 * (each call on its own thread, through tg_broker_call), and
 * notifications/cancelled (kills the call's process tree). See docs/mcp.md.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "mcp.h"
#include "tg.h"
#include "tg_proto.h"

#define LATEST_VERSION "2025-11-25"
/* A line longer than this cannot be a sane request. */
#define MAX_LINE  ((size_t)16 << 20)
#define PAGE_SIZE 100
/* Calls running at once; past it tools/call answers an error. */
#define MAX_CALLS 64

/* JSON-RPC error codes. */
#define RPC_PARSE_ERROR      -32700
#define RPC_INVALID_REQUEST  -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS   -32602
#define RPC_INTERNAL_ERROR   -32603
#define RPC_NOT_INITIALIZED  -32002

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

struct call;

struct server {
	struct tg_broker *broker;
	FILE *out;
	pthread_mutex_t out_lock;
	int out_error;
	pthread_mutex_t lock; /* guards calls, n_calls */
	struct call *calls;
	unsigned n_calls;
	bool initialized;
};

struct call {
	struct call *next;
	struct server *srv;
	json_t *id; /* the request id (number or string) */
	char *tool;
	json_t *args;
	int cancel[2]; /* writing to cancel[1] kills the call */
	atomic_bool cancelled;
	atomic_bool done;
	pthread_t thread;
};

static void send_msg(struct server *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return;
	pthread_mutex_lock(&s->out_lock);
	if (fputs(text, s->out) == EOF || fputc('\n', s->out) == EOF || fflush(s->out) == EOF)
		s->out_error = -EIO;
	pthread_mutex_unlock(&s->out_lock);
	free(text);
}

static void send_result(struct server *s, json_t *id, json_t *result)
{
	send_msg(s, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void send_error(struct server *s, json_t *id, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void send_error(struct server *s, json_t *id, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A cut may have split a character (a tool name from the client):
	 * keep the answer valid JSON rather than lose it. */
	json_t *check = json_string(msg);
	if (!check)
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	json_decref(check);
	send_msg(s, json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
	                      id ? id : json_null(), "error", "code", code, "message", msg));
}

/* ---------------------------------------------------------------------------
 * initialize, ping, tools/list
 */

static void on_initialize(struct server *s, json_t *id, json_t *params)
{
	const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
	const char *version = LATEST_VERSION;
	for (size_t i = 0; asked && i < TG_ARRAY_SIZE(versions); i++)
		if (strcmp(asked, versions[i]) == 0)
			version = versions[i];
	s->initialized = true;
	send_result(s, id,
	            json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", version,
	                      "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
	                      "toolgate", "version", TG_VERSION, "instructions",
	                      "Every tool call is checked against a policy, run in a fresh "
	                      "sandbox, and audited. A refused call comes back with isError "
	                      "and the reason."));
}

static void on_tools_list(struct server *s, json_t *id, json_t *params)
{
	size_t offset = 0;
	json_t *cursor = json_object_get(params, "cursor");
	if (cursor && !json_is_null(cursor)) {
		const char *c = json_string_value(cursor);
		char *end = NULL;
		unsigned long v = c ? strtoul(c, &end, 10) : 0;
		if (!c || !*c || *end) {
			send_error(s, id, RPC_INVALID_PARAMS, "invalid cursor");
			return;
		}
		offset = v;
	}
	_cleanup_json_ json_t *all = tg_broker_tools(s->broker);
	if (!all) {
		send_error(s, id, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (offset > json_array_size(all)) {
		send_error(s, id, RPC_INVALID_PARAMS, "invalid cursor");
		return;
	}
	json_t *page = json_array();
	for (size_t i = offset; page && i < json_array_size(all) && i < offset + PAGE_SIZE; i++)
		json_array_append(page, json_array_get(all, i));
	json_t *result = json_pack("{s:o}", "tools", page ? page : json_array());
	if (offset + PAGE_SIZE < json_array_size(all)) {
		char next[32];
		snprintf(next, sizeof(next), "%zu", offset + PAGE_SIZE);
		json_object_set_new(result, "nextCursor", json_string(next));
	}
	send_result(s, id, result);
}

/* ---------------------------------------------------------------------------
 * tools/call
 */

static bool tool_exists(struct server *s, const char *name)
{
	_cleanup_json_ json_t *all = tg_broker_tools(s->broker);
	size_t i;
	json_t *t;
	json_array_foreach (all, i, t) {
		const char *n = json_string_value(json_object_get(t, "name"));
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

static json_t *text_item(const char *text, size_t len)
{
	json_t *t = json_stringn(text, len);
	if (!t)
		t = json_string("(output was not valid UTF-8)");
	return json_pack("{s:s, s:o}", "type", "text", "text", t);
}

/* The call's outcome as an MCP CallToolResult: tool output is text content;
 * a refusal or failure is isError with the reason. */
static json_t *call_result(const struct tg_call_result *r)
{
	json_t *content = json_array();
	bool is_error = r->status != TOOLGATE__STATUS__STATUS_OK || r->exit_code != 0;
	if (r->out && r->out_len)
		json_array_append_new(content, text_item(r->out, r->out_len));
	if (r->err && r->err_len) {
		_cleanup_free_ char *e =
		        tg_strdup_printf("[stderr]\n%.*s", (int)r->err_len, r->err);
		if (e)
			json_array_append_new(content, text_item(e, strlen(e)));
	}
	_cleanup_free_ char *why = NULL;
	if (r->status != TOOLGATE__STATUS__STATUS_OK)
		why = tg_strdup_printf("%s: %s", tg_proto_status_name(r->status),
		                       r->reason ? r->reason : "");
	else if (r->signal)
		why = tg_strdup_printf("the tool was killed by signal %d", r->signal);
	else if (r->exit_code != 0)
		why = tg_strdup_printf("the tool exited with code %d", r->exit_code);
	if (why)
		json_array_append_new(content, text_item(why, strlen(why)));
	if (json_array_size(content) == 0)
		json_array_append_new(content, text_item("", 0));
	return json_pack("{s:o, s:b}", "content", content, "isError", is_error);
}

static void *call_main(void *arg)
{
	struct call *c = arg;
	struct tg_call_result r;
	/* Unknown tools too go through the broker, so probing for names is
	 * decided and audited like any call; MCP then wants a protocol error. */
	tg_broker_call(c->srv->broker, c->tool, c->args, c->cancel[0], &r);
	/* A cancelled request gets no response (MCP: the receiver of a
	 * cancellation does not answer the request). */
	bool unknown = r.status == TOOLGATE__STATUS__STATUS_DENIED && !tool_exists(c->srv, c->tool);
	if (!atomic_load(&c->cancelled) && unknown)
		send_error(c->srv, c->id, RPC_INVALID_PARAMS, "Unknown tool: %s", c->tool);
	else if (!atomic_load(&c->cancelled))
		send_result(c->srv, c->id, call_result(&r));
	tg_call_result_clear(&r);
	atomic_store(&c->done, true);
	return NULL;
}

static void call_free(struct call *c)
{
	json_decref(c->id);
	json_decref(c->args);
	free(c->tool);
	if (c->cancel[0] >= 0)
		close(c->cancel[0]);
	if (c->cancel[1] >= 0)
		close(c->cancel[1]);
	free(c);
}

/* Join and free the calls that have finished. */
static void reap_calls(struct server *s, bool all)
{
	pthread_mutex_lock(&s->lock);
	struct call **pp = &s->calls;
	while (*pp) {
		struct call *c = *pp;
		if (all || atomic_load(&c->done)) {
			*pp = c->next;
			s->n_calls--;
			pthread_mutex_unlock(&s->lock);
			pthread_join(c->thread, NULL);
			call_free(c);
			pthread_mutex_lock(&s->lock);
			pp = &s->calls;
			continue;
		}
		pp = &c->next;
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_tools_call(struct server *s, json_t *id, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	if (!name) {
		send_error(s, id, RPC_INVALID_PARAMS, "tools/call needs a tool name");
		return;
	}
	if (args && !json_is_object(args) && !json_is_null(args)) {
		send_error(s, id, RPC_INVALID_PARAMS, "arguments must be an object");
		return;
	}
	reap_calls(s, false);
	if (s->n_calls >= MAX_CALLS) {
		send_error(s, id, RPC_INTERNAL_ERROR, "too many calls in flight (%d)", MAX_CALLS);
		return;
	}
	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		send_error(s, id, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	c->srv = s;
	c->cancel[0] = c->cancel[1] = -1;
	c->id = json_incref(id);
	c->tool = strdup(name);
	c->args = args && json_is_object(args) ? json_deep_copy(args) : json_object();
	atomic_init(&c->cancelled, false);
	atomic_init(&c->done, false);
	if (!c->tool || !c->args || pipe2(c->cancel, O_CLOEXEC) < 0) {
		call_free(c);
		send_error(s, id, RPC_INTERNAL_ERROR, "cannot start the call");
		return;
	}
	if (pthread_create(&c->thread, NULL, call_main, c) != 0) {
		call_free(c);
		send_error(s, id, RPC_INTERNAL_ERROR, "cannot start the call");
		return;
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->calls;
	s->calls = c;
	s->n_calls++;
	pthread_mutex_unlock(&s->lock);
}

static void cancel_call(struct call *c)
{
	if (atomic_exchange(&c->cancelled, true))
		return;
	ssize_t n = write(c->cancel[1], "x", 1);
	(void)n;
}

static void on_cancelled(struct server *s, json_t *params)
{
	json_t *rid = json_object_get(params, "requestId");
	if (!rid)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct call *c = s->calls; c; c = c->next)
		if (json_equal(c->id, rid))
			cancel_call(c);
	pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------------------
 * Dispatch
 */

static void dispatch(struct server *s, json_t *msg)
{
	if (!json_is_object(msg)) {
		send_error(s, NULL, RPC_INVALID_REQUEST,
		           json_is_array(msg) ? "batches are not supported"
		                              : "a message must be a JSON object");
		return;
	}
	json_t *id = json_object_get(msg, "id");
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	const char *version = json_string_value(json_object_get(msg, "jsonrpc"));
	if (!method) {
		/* A response to a request of ours: we send none; ignore. */
		if (id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
			return;
		send_error(s, id, RPC_INVALID_REQUEST, "no method");
		return;
	}
	if (!version || strcmp(version, "2.0") != 0) {
		if (id)
			send_error(s, id, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
		return;
	}
	if (id && !json_is_string(id) && !json_is_integer(id)) {
		send_error(s, NULL, RPC_INVALID_REQUEST, "id must be a string or an integer");
		return;
	}
	if (params && !json_is_object(params)) {
		if (id)
			send_error(s, id, RPC_INVALID_PARAMS, "params must be an object");
		return;
	}
	if (!id) { /* notifications */
		if (strcmp(method, "notifications/cancelled") == 0)
			on_cancelled(s, params);
		else if (strcmp(method, "notifications/initialized") == 0)
			s->initialized = true;
		return;
	}
	if (strcmp(method, "initialize") == 0)
		on_initialize(s, id, params);
	else if (strcmp(method, "ping") == 0)
		send_result(s, id, json_object());
	else if (!s->initialized)
		send_error(s, id, RPC_NOT_INITIALIZED, "initialize first");
	else if (strcmp(method, "tools/list") == 0)
		on_tools_list(s, id, params);
	else if (strcmp(method, "tools/call") == 0)
		on_tools_call(s, id, params);
	else
		send_error(s, id, RPC_METHOD_NOT_FOUND, "Method not found: %s", method);
}

/* Handle the complete lines in buf[0..*len) and keep the partial rest. A line
 * that grows past MAX_LINE is answered with a parse error and skipped up to
 * its newline. */
static void handle_lines(struct server *s, char *buf, size_t *len, bool *skipping)
{
	size_t start = 0;
	for (size_t i = 0; i < *len; i++) {
		if (buf[i] != '\n')
			continue;
		size_t n = i - start;
		char *line = buf + start;
		start = i + 1;
		if (*skipping) {
			*skipping = false;
			continue;
		}
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n == 0)
			continue;
		json_error_t jerr;
		json_t *msg = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!msg) {
			send_error(s, NULL, RPC_PARSE_ERROR, "parse error: %s at column %d",
			           jerr.text, jerr.column);
			continue;
		}
		dispatch(s, msg);
		json_decref(msg);
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	if (*len > MAX_LINE) {
		send_error(s, NULL, RPC_PARSE_ERROR, "message too large (over %zu bytes)",
		           MAX_LINE);
		*len = 0;
		*skipping = true;
	}
}

/* Wait up to grace_ms for the calls in flight to finish and answer. */
static void wait_calls(struct server *s, int grace_ms)
{
	for (int waited = 0; waited < grace_ms; waited += 10) {
		reap_calls(s, false);
		pthread_mutex_lock(&s->lock);
		unsigned n = s->n_calls;
		pthread_mutex_unlock(&s->lock);
		if (n == 0)
			return;
		usleep(10000);
	}
}

int tg_mcp_serve(struct tg_broker *b, int in_fd, FILE *out, int sig_fd)
{
	struct server s = {.broker = b, .out = out};
	pthread_mutex_init(&s.out_lock, NULL);
	pthread_mutex_init(&s.lock, NULL);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	bool skipping = false, signalled = false;
	while (buf) {
		struct pollfd pfd[2] = {{.fd = in_fd, .events = POLLIN},
		                        {.fd = sig_fd, .events = POLLIN}};
		int pr = poll(pfd, sig_fd >= 0 ? 2 : 1, 1000);
		reap_calls(&s, false);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		if (sig_fd >= 0 && pfd[1].revents) {
			signalled = true;
			break;
		}
		if (!pfd[0].revents)
			continue;
		if (len == cap) {
			char *nb = cap < 2 * MAX_LINE ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				len = 0;
				skipping = true;
				continue;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(in_fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break; /* EOF: the client is gone */
		len += (size_t)n;
		handle_lines(&s, buf, &len, &skipping);
	}
	if (buf && len > 0 && len < cap && !signalled) {
		buf[len] = '\n';
		len++;
		handle_lines(&s, buf, &len, &skipping);
	}
	free(buf);
	/* Input closed: answer what finishes soon, then stop the rest. */
	if (!signalled)
		wait_calls(&s, 2000);
	pthread_mutex_lock(&s.lock);
	for (struct call *c = s.calls; c; c = c->next)
		cancel_call(c);
	pthread_mutex_unlock(&s.lock);
	reap_calls(&s, true);
	pthread_mutex_destroy(&s.lock);
	pthread_mutex_destroy(&s.out_lock);
	return s.out_error;
}
