/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: chain across reopen, fsync modes, 8 concurrent appenders,
 * disk full (a tiny tmpfs in a private mount namespace) and a writer killed
 * with SIGKILL mid-stream.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "audit.h"
#include "tg.h"
#include "tempdir.h"

static int setup(void **state)
{
	(void)state;
	return tempdir_make("audit-wr");
}

static int teardown(void **state)
{
	(void)state;
	return tempdir_remove();
}

static void verify_intact(const char *p, uint64_t records, bool open_session)
{
	char *files[] = {(char *)p};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	if (res.damage != TG_AUDIT_INTACT)
		fail_msg("%s: %s at line %" PRIu64 ": %s", p, tg_audit_damage_name(res.damage),
		         res.line, res.detail);
	assert_int_equal(res.records, records);
	assert_int_equal(res.open_session, open_session);
	tg_audit_verify_result_clear(&res);
}

static struct tg_audit_writer *open_w(const char *p, const char *session, enum tg_audit_fsync mode)
{
	struct tg_audit_options o = {.path = p, .session = session, .fsync = mode};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_open(&o, &w, &err) < 0)
		fail_msg("open %s: %s", p, tg_error_msg(err));
	return w;
}

static void append_n(struct tg_audit_writer *w, enum tg_audit_event ev, int n)
{
	_cleanup_error_ struct tg_error *err = NULL;
	for (int i = 0; i < n; i++) {
		struct tg_audit_record r = {.event = ev, .tool = "t", .decision = "allow"};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
}

static void test_chain_across_reopen(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("reopen.jsonl");
	for (int round = 0; round < 3; round++) {
		struct tg_audit_writer *w = open_w(p, "s", TG_AUDIT_SYNC_BATCH);
		assert_int_equal(tg_audit_seq(w), (uint64_t)round * 4);
		append_n(w, TG_AUDIT_SESSION_START, 1);
		append_n(w, TG_AUDIT_CALL, 2);
		append_n(w, TG_AUDIT_SESSION_END, 1);
		assert_int_equal(tg_audit_close(w), 0);
	}
	verify_intact(p, 12, false);
	/* open and close without a record changes nothing */
	assert_int_equal(tg_audit_close(open_w(p, "s", TG_AUDIT_SYNC_NEVER)), 0);
	verify_intact(p, 12, false);
	assert_int_equal(tg_audit_close(NULL), 0);
}

static void test_fsync_modes(void **state)
{
	(void)state;
	const enum tg_audit_fsync modes[] = {TG_AUDIT_SYNC_ALWAYS, TG_AUDIT_SYNC_BATCH,
	                                     TG_AUDIT_SYNC_NEVER};
	for (size_t m = 0; m < TG_ARRAY_SIZE(modes); m++) {
		char name[32];
		snprintf(name, sizeof(name), "mode%zu.jsonl", m);
		_cleanup_free_ char *p = path_of(name);
		struct tg_audit_writer *w = open_w(p, "s", modes[m]);
		append_n(w, TG_AUDIT_SESSION_START, 1);
		append_n(w, TG_AUDIT_CALL, 200);
		/* the records are in the file when append returns, in every mode */
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_true(st.st_size > 200 * 100);
		verify_intact(p, 201, true);
		append_n(w, TG_AUDIT_SESSION_END, 1);
		assert_int_equal(tg_audit_close(w), 0);
		verify_intact(p, 202, false);
	}
}

struct thr {
	struct tg_audit_writer *w;
	int id;
	int n;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < t->n; i++) {
		char tool[32];
		snprintf(tool, sizeof(tool), "thread%d-%d", t->id, i);
		struct tg_audit_record r = {.event = TG_AUDIT_CALL, .tool = tool};
		struct tg_error *err = NULL;
		if (tg_audit_append(t->w, &r, &err) < 0) {
			tg_error_free(err);
			return (void *)1;
		}
	}
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("threads.jsonl");
	struct tg_audit_writer *w = open_w(p, "s", TG_AUDIT_SYNC_BATCH);
	append_n(w, TG_AUDIT_SESSION_START, 1);
	pthread_t th[8];
	struct thr t[8];
	for (int i = 0; i < 8; i++) {
		t[i] = (struct thr){.w = w, .id = i, .n = 500};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	append_n(w, TG_AUDIT_SESSION_END, 1);
	assert_int_equal(tg_audit_seq(w), 4002);
	assert_int_equal(tg_audit_close(w), 0);
	verify_intact(p, 4002, false);
}

/* In a child (no cmocka there: a failed check exits non-zero). */
#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			_exit(1);                                                             \
		}                                                                             \
	} while (0)

static int child_verify_records(const char *p, uint64_t *ret)
{
	char *files[] = {(char *)p};
	struct tg_audit_verify_result res;
	struct tg_error *err = NULL;
	if (tg_audit_verify(files, 1, &res, &err) < 0) {
		tg_error_free(err);
		return -1;
	}
	int intact = res.damage == TG_AUDIT_INTACT;
	if (!intact)
		fprintf(stderr, "verify: %s: %s\n", tg_audit_damage_name(res.damage), res.detail);
	*ret = res.records;
	tg_audit_verify_result_clear(&res);
	return intact ? 0 : -1;
}

static void disk_full_child(const char *mnt)
{
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0700") == 0);
	char p[128], filler[128];
	snprintf(p, sizeof(p), "%s/audit.jsonl", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	/* most of the space taken by something else */
	int ffd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(ffd >= 0);
	static char block[4096];
	while (write(ffd, block, sizeof(block)) == (ssize_t)sizeof(block))
		;
	close(ffd);
	CHECK(truncate(filler, 128 * 1024) == 0);

	struct tg_audit_options o = {.path = p, .session = "s", .fsync = TG_AUDIT_SYNC_ALWAYS};
	struct tg_audit_writer *w = NULL;
	struct tg_error *err = NULL;
	CHECK(tg_audit_open(&o, &w, &err) == 0);
	static char reason[1500];
	memset(reason, 'r', sizeof(reason) - 1);
	uint64_t ok = 0;
	int r = 0;
	for (int i = 0; i < 10000; i++) {
		struct tg_audit_record rec = {.event = TG_AUDIT_CALL, .reason = reason};
		r = tg_audit_append(w, &rec, &err);
		if (r < 0)
			break;
		ok++;
	}
	CHECK(r == -ENOSPC);
	CHECK(err && strstr(tg_error_msg(err), "No space left"));
	tg_error_free(err);
	err = NULL;
	CHECK(tg_audit_seq(w) == ok);
	/* the failed record left nothing behind: the log still verifies */
	uint64_t n = 0;
	CHECK(child_verify_records(p, &n) == 0 && n == ok);
	/* still failing closed while the disk is full */
	struct tg_audit_record rec = {.event = TG_AUDIT_CALL, .reason = reason};
	CHECK(tg_audit_append(w, &rec, &err) == -ENOSPC);
	tg_error_free(err);
	err = NULL;
	/* space comes back: the writer goes on with the same chain */
	CHECK(unlink(filler) == 0);
	CHECK(tg_audit_append(w, &rec, &err) == 0);
	CHECK(tg_audit_close(w) == 0);
	CHECK(child_verify_records(p, &n) == 0 && n == ok + 1);
	CHECK(umount(mnt) == 0);
	_exit(0);
}

static void test_disk_full_fails_closed(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	_cleanup_free_ char *mnt = path_of("mnt");
	assert_int_equal(mkdir(mnt, 0700), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		disk_full_child(mnt);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(mnt), 0);
}

static void fill_disk(const char *path)
{
	int ffd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	CHECK(ffd >= 0);
	static char block[4096];
	while (write(ffd, block, sizeof(block)) == (ssize_t)sizeof(block))
		;
	while (write(ffd, block, 1) == 1)
		;
	close(ffd);
}

static void reserve_child(const char *mnt)
{
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=512k,mode=0700") == 0);
	char p[128], filler[128];
	snprintf(p, sizeof(p), "%s/audit.jsonl", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	struct tg_audit_options o = {.path = p, .session = "s", .fsync = TG_AUDIT_SYNC_BATCH};
	struct tg_audit_writer *w = NULL;
	struct tg_error *err = NULL;
	CHECK(tg_audit_open(&o, &w, &err) == 0);
	static char reason[1500];
	memset(reason, 'r', sizeof(reason) - 1);
	char *argv[] = {"/bin/echo", reason, NULL};
	/* before the run: what is known then */
	struct tg_audit_record pre = {.event = TG_AUDIT_CALL, .tool = "echo", .argv = argv};
	size_t a = 0, b = 0;
	CHECK(tg_audit_reserve(w, &pre, &a, &err) == 0 && a > sizeof(reason));
	CHECK(tg_audit_reserve(w, &pre, &b, &err) == 0 && b == a);
	/* the disk fills up while the two calls run */
	fill_disk(filler);
	/* both records still find their space: the calls ran audited */
	struct tg_audit_record post = pre;
	post.reason = reason; /* the run added a long reason */
	post.has_exit = post.has_usage = post.has_output = true;
	post.reserved = a;
	CHECK(tg_audit_append(w, &post, &err) == 0);
	post.reserved = b;
	CHECK(tg_audit_append(w, &post, &err) == 0);
	/* calls go on while reserved space lasts; then they are refused before
	 * they run, and every one that was let in got its record */
	int admitted = 0, r = 0;
	for (int i = 0; i < 1000; i++) {
		size_t n = 0;
		r = tg_audit_reserve(w, &pre, &n, &err);
		if (r < 0)
			break;
		post.reserved = n;
		CHECK(tg_audit_append(w, &post, &err) == 0);
		admitted++;
	}
	CHECK(r == -ENOSPC);
	CHECK(strstr(tg_error_msg(err), "no space for the audit record of this call"));
	tg_error_free(err);
	err = NULL;
	/* space comes back: calls are admitted again */
	CHECK(unlink(filler) == 0);
	size_t n = 0;
	CHECK(tg_audit_reserve(w, &pre, &n, &err) == 0);
	post.reserved = n;
	CHECK(tg_audit_append(w, &post, &err) == 0);
	CHECK(tg_audit_close(w) == 0);
	uint64_t records = 0;
	CHECK(child_verify_records(p, &records) == 0 && records == (uint64_t)admitted + 3);
	/* the preallocation went back to the filesystem at close */
	struct stat st;
	CHECK(stat(p, &st) == 0);
	CHECK((uint64_t)st.st_blocks * 512 <= (uint64_t)st.st_size + 8192);
	CHECK(umount(mnt) == 0);
	_exit(0);
}

static void test_reserve_before_run(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	_cleanup_free_ char *mnt = path_of("mnt2");
	assert_int_equal(mkdir(mnt, 0700), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		reserve_child(mnt);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(mnt), 0);

	/* on a roomy disk a reservation is only arithmetic after the first */
	_cleanup_free_ char *p = path_of("reserve.jsonl");
	struct tg_audit_writer *w = open_w(p, "s", TG_AUDIT_SYNC_NEVER);
	struct tg_audit_record pre = {.event = TG_AUDIT_CALL, .tool = "t"};
	_cleanup_error_ struct tg_error *err = NULL;
	for (int i = 0; i < 100; i++) {
		size_t n = 0;
		assert_int_equal(tg_audit_reserve(w, &pre, &n, &err), 0);
		pre.reserved = n;
		assert_int_equal(tg_audit_append(w, &pre, &err), 0);
		pre.reserved = 0;
	}
	struct tg_audit_record bad = {.event = TG_AUDIT_RECOVERY};
	size_t n;
	assert_int_equal(tg_audit_reserve(w, &bad, &n, &err), -EINVAL);
	assert_int_equal(tg_audit_close(w), 0);
	verify_intact(p, 100, true);
}

static void test_sigkill_mid_stream(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("killed.jsonl");
	int ready[2];
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tg_audit_writer *w = NULL;
		struct tg_audit_options o = {
		        .path = p, .session = "doomed", .fsync = TG_AUDIT_SYNC_NEVER};
		struct tg_error *err = NULL;
		CHECK(tg_audit_open(&o, &w, &err) == 0);
		struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START};
		CHECK(tg_audit_append(w, &s, &err) == 0);
		CHECK(write(ready[1], "x", 1) == 1);
		for (;;) {
			struct tg_audit_record r = {.event = TG_AUDIT_CALL, .tool = "loop"};
			CHECK(tg_audit_append(w, &r, &err) == 0);
		}
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	usleep(20000);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	/* What is there is intact, and the unfinished session is said to be open
	 * with no writer behind it. */
	char *files[] = {p};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.open_session);
	assert_false(res.writer_active);
	assert_false(res.sealed);
	uint64_t before = res.records;
	assert_true(before > 1);
	tg_audit_verify_result_clear(&res);

	/* The next writer continues and says what happened. */
	struct tg_audit_writer *w = open_w(p, "next", TG_AUDIT_SYNC_BATCH);
	assert_int_equal(tg_audit_seq(w), before + 1);
	append_n(w, TG_AUDIT_SESSION_START, 1);
	append_n(w, TG_AUDIT_SESSION_END, 1);
	assert_int_equal(tg_audit_close(w), 0);
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.recoveries, 1);
	assert_non_null(strstr(res.recovery_detail, "session doomed ended without session_end"));
	assert_int_equal(res.records, before + 3);
	tg_audit_verify_result_clear(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chain_across_reopen),
	        cmocka_unit_test(test_fsync_modes),
	        cmocka_unit_test(test_concurrent_appends),
	        cmocka_unit_test(test_disk_full_fails_closed),
	        cmocka_unit_test(test_reserve_before_run),
	        cmocka_unit_test(test_sigkill_mid_stream),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
