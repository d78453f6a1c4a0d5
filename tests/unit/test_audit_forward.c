/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding to syslog: the RFC 5424 messages a test datagram socket
 * receives (no system syslog involved), and that a receiver that is slow,
 * missing or too small never blocks or fails an append: drops are counted.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>

#include "audit.h"
#include "tg.h"
#include "tempdir.h"

static char *sec, *pub;

static int setup(void **state)
{
	(void)state;
	if (tempdir_make("audit-fwd") < 0)
		return -1;
	_cleanup_free_ char *k = path_of("keys");
	struct tg_error *err = NULL;
	return tg_audit_keygen(k, &sec, &pub, &err);
}

static int teardown(void **state)
{
	(void)state;
	free(sec);
	free(pub);
	return tempdir_remove();
}

/* A datagram socket bound at path, like syslogd's /dev/log. */
static int receiver(const char *path, int rcvbuf)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static struct tg_audit_writer *open_w(const char *log, const char *sock, const char *sign)
{
	struct tg_audit_options o = {.path = log,
	                             .session = "fw",
	                             .fsync = TG_AUDIT_SYNC_NEVER,
	                             .syslog_socket = sock,
	                             .sign_key_file = sign,
	                             .checkpoint_every = 3};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_open(&o, &w, &err) < 0)
		fail_msg("open: %s", tg_error_msg(err));
	return w;
}

static void append(struct tg_audit_writer *w, enum tg_audit_event ev, const char *tool,
                   const json_t *params)
{
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_audit_record r = {.event = ev, .tool = tool, .params = params};
	assert_int_equal(tg_audit_append(w, &r, &err), 0);
}

static void test_messages(void **state)
{
	(void)state;
	_cleanup_free_ char *log = path_of("m.jsonl"), *sock = path_of("syslog.sock");
	_cleanup_close_ int rx = receiver(sock, 0);
	struct tg_audit_writer *w = open_w(log, sock, sec);
	append(w, TG_AUDIT_SESSION_START, NULL, NULL);
	append(w, TG_AUDIT_CALL, "echo", NULL);
	append(w, TG_AUDIT_CALL, "cat", NULL); /* + a checkpoint after it */
	append(w, TG_AUDIT_SESSION_END, NULL, NULL);
	assert_int_equal(tg_audit_close(w), 0); /* + a final checkpoint */

	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(log, 1 << 20, &buf, &len), 0);
	char host[256] = "";
	gethostname(host, sizeof(host));
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *events[] = {"session_start", "call",        "call",
	                        "checkpoint",    "session_end", "checkpoint"};
	char *line = buf;
	for (size_t i = 0; i < TG_ARRAY_SIZE(events); i++) {
		char msg[8192];
		ssize_t n = recv(rx, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		assert_true(n > 0);
		msg[n] = '\0';
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		_cleanup_json_ json_t *rec = json_loads(line, 0, NULL);
		const char *time = json_string_value(json_object_get(rec, "time"));
		/* <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG */
		_cleanup_free_ char *want = tg_strdup_printf("<86>1 %s %s toolgate %s %s - %s",
		                                             time, host, pid, events[i], line);
		assert_string_equal(msg, want);
		line = nl + 1;
	}
	char extra[16];
	assert_int_equal(recv(rx, extra, sizeof(extra), MSG_DONTWAIT), -1);
	unlink(sock);
}

static void test_never_blocks(void **state)
{
	(void)state;
	_cleanup_free_ char *log = path_of("full.jsonl"), *sock = path_of("slow.sock");
	/* a receiver that never reads, with a small queue */
	_cleanup_close_ int rx = receiver(sock, 4096);
	struct tg_audit_writer *w = open_w(log, sock, NULL);
	uint64_t t0 = tg_now_mono_ns();
	for (int i = 0; i < 3000; i++)
		append(w, TG_AUDIT_CALL, "t", NULL);
	uint64_t ms = (tg_now_mono_ns() - t0) / 1000000u;
	struct tg_audit_stats st;
	tg_audit_get_stats(w, &st);
	assert_int_equal(st.records, 3000);
	assert_true(st.forwarded > 0);
	assert_true(st.forward_dropped > 0);
	assert_int_equal(st.forwarded + st.forward_dropped, 3000);
	/* no waiting on the receiver: far below any send timeout */
	assert_true(ms < 5000);

	/* a record larger than a datagram may be: dropped, still appended */
	json_t *big = json_object();
	char *blob = malloc(300000);
	memset(blob, 'x', 299999);
	blob[299999] = '\0';
	json_object_set_new(big, "code", json_string(blob));
	free(blob);
	while (recv(rx, (char[8192]){0}, 8192, MSG_DONTWAIT) > 0)
		;
	tg_audit_get_stats(w, &st);
	uint64_t dropped = st.forward_dropped;
	append(w, TG_AUDIT_CALL, "big", big);
	json_decref(big);
	tg_audit_get_stats(w, &st);
	assert_int_equal(st.forward_dropped, dropped + 1);
	assert_int_equal(tg_audit_close(w), 0);
	unlink(sock);
}

static void test_missing_receiver(void **state)
{
	(void)state;
	_cleanup_free_ char *log = path_of("missing.jsonl"), *sock = path_of("later.sock");
	unlink(sock);
	struct tg_audit_writer *w = open_w(log, sock, NULL);
	append(w, TG_AUDIT_SESSION_START, NULL, NULL);
	struct tg_audit_stats st;
	tg_audit_get_stats(w, &st);
	assert_int_equal(st.forwarded, 0);
	assert_int_equal(st.forward_dropped, 1);
	/* syslog comes up: within about a second records flow */
	_cleanup_close_ int rx = receiver(sock, 0);
	for (int i = 0; i < 150; i++) {
		append(w, TG_AUDIT_CALL, "t", NULL);
		tg_audit_get_stats(w, &st);
		if (st.forwarded > 0)
			break;
		usleep(20000);
	}
	assert_true(st.forwarded > 0);
	/* syslog restarts (a new socket file): the writer reconnects */
	close(rx);
	unlink(sock);
	rx = receiver(sock, 0);
	uint64_t before = st.forwarded;
	for (int i = 0; i < 150; i++) {
		append(w, TG_AUDIT_CALL, "t", NULL);
		tg_audit_get_stats(w, &st);
		if (st.forwarded > before)
			break;
		usleep(20000);
	}
	assert_true(st.forwarded > before);
	char msg[8192];
	assert_true(recv(rx, msg, sizeof(msg), MSG_DONTWAIT) > 0);
	assert_int_equal(tg_audit_close(w), 0);
	unlink(sock);
	/* a path that cannot be a socket address is refused at open */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	struct tg_audit_options o = {.path = log, .session = "x", .syslog_socket = longp};
	struct tg_audit_writer *w2 = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w2, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_messages),
	        cmocka_unit_test(test_never_blocks),
	        cmocka_unit_test(test_missing_receiver),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
