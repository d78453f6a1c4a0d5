/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `toolgate audit verify|show|keygen` through tg_cmd_audit itself, with its
 * stdout/stderr captured: exit codes, messages, filters. (replay needs the
 * policy engine: test_audit_replay.c.)
 *
 * cmd_audit.c lives in the `toolgate` executable, not in a library, so it is
 * compiled into this test directly.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../../cli/args.c"
#include "../../cli/cmd_audit.c"
#include "tempdir.h"
#include "audit_cli_run.h"

/* The policy engine is not exercised here: weak stand-ins keep this test
 * linkable on its own; the real engine, when linked, wins. */
__attribute__((weak)) int tg_policy_load_file(const char *path, struct tg_policy **ret,
                                              struct tg_diags *diags)
{
	return -ENOSYS;
}
__attribute__((weak)) void tg_policy_unref(struct tg_policy *p)
{
}
__attribute__((weak)) const char *tg_policy_sha256(const struct tg_policy *p)
{
	return "";
}
__attribute__((weak)) int tg_policy_decide(const struct tg_policy *p, const char *tool,
                                           const json_t *params, struct tg_verdict **ret)
{
	return -ENOSYS;
}
__attribute__((weak)) void tg_verdict_free(struct tg_verdict *v)
{
}
__attribute__((weak)) void tg_diags_clear(struct tg_diags *d)
{
}
__attribute__((weak)) char *tg_diag_format(const struct tg_diag *d)
{
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	return tempdir_make("audit-cli");
}

static int teardown(void **state)
{
	(void)state;
	return tempdir_remove();
}

static void make_log(const char *path, const char *session, bool end, const char *key)
{
	struct tg_audit_options o = {.path = path, .session = session, .key_file = key};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START, .policy_path = "/p.yaml"};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	const char *tools[] = {"python", "fetch", "python", "cat"};
	for (int i = 0; i < 4; i++) {
		struct tg_audit_record r = {.event = TG_AUDIT_CALL,
		                            .tool = tools[i],
		                            .decision = i == 1 ? "deny" : "allow",
		                            .reason = i == 1 ? "url does not match\x1b[31m" : "ok",
		                            .status = i == 1 ? "DENIED" : "OK",
		                            .has_exit = i != 1,
		                            .exit_code = i};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
	if (end) {
		struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
		assert_int_equal(tg_audit_append(w, &e, &err), 0);
	}
	assert_int_equal(tg_audit_close(w), 0);
}

static void test_dispatch_and_help(void **state)
{
	(void)state;
	assert_int_equal(run(NULL), TG_EXIT_USAGE);
	assert_int_equal(run("--help", NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, "verify"));
	assert_int_equal(run("frobnicate", NULL), TG_EXIT_USAGE);
	const char *subs[] = {"verify", "show", "replay", "keygen"};
	for (size_t i = 0; i < TG_ARRAY_SIZE(subs); i++) {
		assert_int_equal(run(subs[i], "--help", NULL), TG_EXIT_OK);
		assert_non_null(strstr(out, "usage: toolgate audit"));
	}
	assert_int_equal(run("verify", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("verify", "--bogus", "x", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("verify", "--pubkey", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("verify", "--rotated", "a", "b", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("show", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("replay", "only-policy", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("keygen", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("keygen", "a", "b", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("keygen", "--force", "a", NULL), TG_EXIT_USAGE);
}

static void test_verify_outputs(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("v.jsonl");
	make_log(p, "s1", true, NULL);
	assert_int_equal(run("verify", p, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, ": intact, 6 records, closed at seq 6 (sealed)"));
	assert_null(strstr(out, "open"));

	_cleanup_free_ char *o = path_of("open.jsonl");
	make_log(o, "s2", false, NULL);
	assert_int_equal(run("verify", o, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, "unterminated: session s2 has no session_end"));

	/* damage: flip a letter in line 3 */
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(p, 1 << 20, &buf, &len), 0);
	char *l3 = strstr(buf, "\"fetch\"");
	l3[1] = 'F';
	_cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(tg_write_all(fd, buf, len), 0);
	assert_int_equal(run("verify", p, NULL), TG_EXIT_FAILURE);
	assert_non_null(strstr(out, ":3: modified: record seq 3: hash mismatch"));
	assert_non_null(strstr(out, "2 records verified before it"));

	assert_int_equal(run("verify", "/nonexistent/log", NULL), TG_EXIT_NOINPUT);
	assert_non_null(strstr(errb, "No such file"));

	/* keyed */
	_cleanup_free_ char *key = path_of("k");
	_cleanup_close_ int kfd = open(key, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(tg_write_all(kfd, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 36), 0);
	_cleanup_free_ char *kp = path_of("keyed.jsonl");
	make_log(kp, "s3", true, key);
	assert_int_equal(run("verify", kp, NULL), TG_EXIT_USAGE);
	assert_non_null(strstr(errb, "--key"));
	assert_int_equal(run("verify", "--key", key, kp, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, "HMAC-SHA256 checked"));
	assert_int_equal(run("verify", "--key", "/nonexistent", kp, NULL), TG_EXIT_NOINPUT);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_show(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("show.jsonl");
	make_log(p, "sA", true, NULL);
	assert_int_equal(run("show", p, NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 1 + 6);
	assert_non_null(strstr(out, "TIME"));
	assert_non_null(strstr(out, "[session_start]"));
	assert_non_null(strstr(out, "policy /p.yaml"));
	/* controls from the log are not echoed to the terminal */
	assert_non_null(strstr(out, "url does not match?[31m"));

	assert_int_equal(run("show", p, "--json", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 6);
	/* --json prints the very lines of the log */
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(p, 1 << 20, &buf, &len), 0);
	assert_string_equal(out, buf);

	assert_int_equal(run("show", p, "--tool", "python", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 1 + 2);
	assert_int_equal(run("show", p, "--decision", "deny", "--json", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "\"tool\":\"fetch\""));
	assert_int_equal(run("show", p, "--session", "other", "--json", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 0);
	assert_int_equal(run("show", p, "--since", "2h", "--json", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 6);
	assert_int_equal(run("show", p, "--until", "1999-12-31", "--json", NULL), TG_EXIT_OK);
	assert_int_equal(count_lines(out), 0);
	assert_int_equal(
	        run("show", p, "--since", "2000-01-01T00:00Z", "--until", "2999", "--json", NULL),
	        TG_EXIT_OK);
	assert_int_equal(count_lines(out), 6);
	assert_int_equal(run("show", p, "--since", "yesterday", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("show", p, "--decision", "maybe", NULL), TG_EXIT_USAGE);
	assert_int_equal(run("show", p, "--tool", NULL), TG_EXIT_USAGE);

	/* a bad line is skipped and named; the rest is shown */
	_cleanup_close_ int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_int_equal(tg_write_all(fd, "garbage\n", 8), 0);
	assert_int_equal(run("show", p, "--json", NULL), TG_EXIT_FAILURE);
	assert_int_equal(count_lines(out), 6);
	assert_non_null(strstr(errb, ":7: not a JSON object"));
	assert_int_equal(run("show", "/nonexistent/x", NULL), TG_EXIT_NOINPUT);
}

static void test_keygen_and_pubkey(void **state)
{
	(void)state;
	_cleanup_free_ char *kd = path_of("keys");
	_cleanup_free_ char *sec = path_of("keys/audit-sign.key");
	_cleanup_free_ char *pub = path_of("keys/audit-sign.pub");
	assert_int_equal(run("keygen", kd, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, sec));
	assert_non_null(strstr(out, pub));
	struct stat st;
	assert_int_equal(stat(kd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* never replaced */
	assert_int_equal(run("keygen", kd, NULL), 73);
	assert_non_null(strstr(errb, "already there"));

	/* a signed log, checkpoints every 2 records */
	_cleanup_free_ char *p = path_of("signed.jsonl");
	struct tg_audit_options o = {
	        .path = p, .session = "sg", .sign_key_file = sec, .checkpoint_every = 2};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START};
	struct tg_audit_record c = {.event = TG_AUDIT_CALL, .tool = "python", .decision = "allow"};
	struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	assert_int_equal(tg_audit_append(w, &c, &err), 0);
	assert_int_equal(tg_audit_append(w, &e, &err), 0);
	assert_int_equal(tg_audit_close(w), 0);
	assert_int_equal(run("verify", "--pubkey", pub, p, NULL), TG_EXIT_OK);
	assert_non_null(
	        strstr(out, ": intact, 5 records, 2 checkpoints: Ed25519 signatures checked"));
	assert_int_equal(run("verify", p, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, "2 checkpoints (signatures not checked: --pubkey)"));
	/* the secret key is not a public key */
	assert_int_equal(run("verify", "--pubkey", sec, p, NULL), TG_EXIT_NOINPUT);
	assert_non_null(strstr(errb, "this is the secret key"));
	/* another key pair */
	_cleanup_free_ char *kd2 = path_of("keys2");
	_cleanup_free_ char *pub2 = path_of("keys2/audit-sign.pub");
	assert_int_equal(run("keygen", kd2, NULL), TG_EXIT_OK);
	assert_int_equal(run("verify", "--pubkey", pub2, p, NULL), TG_EXIT_FAILURE);
	assert_non_null(
	        strstr(out, ":3: bad signature: record seq 3: checkpoint signed with another key"));
	/* show lists checkpoints */
	assert_int_equal(run("show", p, NULL), TG_EXIT_OK);
	assert_non_null(strstr(out, "[checkpoint]"));
	assert_non_null(strstr(out, "signed seq 2 (key "));
	/* an unsigned log is not signed */
	_cleanup_free_ char *u = path_of("unsigned.jsonl");
	make_log(u, "u", true, NULL);
	assert_int_equal(run("verify", "--pubkey", pub, u, NULL), TG_EXIT_FAILURE);
	assert_non_null(strstr(out, ":1: bad signature: record seq 1: no checkpoint"));
}

static void test_rotated_and_partial(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("rot.jsonl");
	struct tg_audit_options o = {
	        .path = p, .session = "r", .rotate_bytes = 600, .rotate_keep = 2};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	for (int i = 0; i < 20; i++) {
		struct tg_audit_record c = {
		        .event = TG_AUDIT_CALL, .tool = "python", .reason = "r"};
		assert_int_equal(tg_audit_append(w, &c, &err), 0);
	}
	assert_int_equal(tg_audit_close(w), 0);
	_cleanup_free_ char *p1 = path_of("rot.jsonl.1"), *p2 = path_of("rot.jsonl.2");
	/* the rotated set, oldest first, found from the live file */
	assert_int_equal(run("verify", "--rotated", p, NULL), TG_EXIT_FAILURE);
	assert_non_null(strstr(out, "deleted"));
	assert_non_null(strstr(out, "were earlier rotated files left out?"));
	assert_int_equal(run("verify", "--rotated", "--partial", p, NULL), TG_EXIT_OK);
	_cleanup_free_ char *want = tg_strdup_printf("%s, %s, %s: intact", p2, p1, p);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "partial: the chain is taken to start at seq"));
	assert_int_equal(run("verify", "--partial", p1, p, NULL), TG_EXIT_OK);
	assert_int_equal(run("verify", "--partial", p2, p, NULL), TG_EXIT_FAILURE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dispatch_and_help),
	        cmocka_unit_test(test_keygen_and_pubkey),
	        cmocka_unit_test(test_rotated_and_partial),
	        cmocka_unit_test(test_verify_outputs),
	        cmocka_unit_test(test_show),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
