/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `toolgate audit replay POLICY LOG`: recorded calls decided again by the
 * real policy engine. cmd_audit.c lives in the `toolgate` executable, so it
 * is compiled into this test directly.
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

static int setup(void **state)
{
	(void)state;
	return tempdir_make("audit-rep");
}

static int teardown(void **state)
{
	(void)state;
	return tempdir_remove();
}

/* One call record: tool, params as JSON text (NULL: none), decision, status. */
struct rcall {
	const char *tool;
	const char *params;
	const char *decision;
	const char *status;
};

static void make_log(const char *path, const struct rcall *calls, size_t n)
{
	struct tg_audit_options o = {.path = path, .session = "s"};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ json_t *params =
		        calls[i].params ? json_loads(calls[i].params, 0, NULL) : NULL;
		struct tg_audit_record r = {.event = TG_AUDIT_CALL,
		                            .tool = calls[i].tool,
		                            .params = params,
		                            .decision = calls[i].decision,
		                            .status = calls[i].status};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
	struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
	assert_int_equal(tg_audit_append(w, &e, &err), 0);
	assert_int_equal(tg_audit_close(w), 0);
}

static const char policy[] = "version: 1\n"
                             "tools:\n"
                             "  - name: echo\n"
                             "    command: [/bin/echo, \"{msg}\"]\n"
                             "    params:\n"
                             "      msg: {type: string, max_length: 5, required: true}\n";

static void test_replay(void **state)
{
	(void)state;
	_cleanup_free_ char *pol = path_of("policy.yaml");
	put_file(pol, policy);
	_cleanup_free_ char *same = path_of("same.jsonl");
	const struct rcall ok[] = {
	        {"echo", "{\"msg\":\"hi\"}", "allow", "OK"},
	        {"echo", "{\"msg\":\"far too long\"}", "deny", "DENIED"},
	        {"nope", "{}", "deny", "DENIED"},
	        /* not replayable: hashed params, none, refused before deciding */
	        {"echo",
	         "{\"msg\":\"sha256:"
	         "0000000000000000000000000000000000000000000000000000000000000000\"}",
	         "allow", "OK"},
	        {"echo", NULL, "allow", "OK"},
	        {"echo", "{\"msg\":\"x\"}", "deny", "INVALID"},
	};
	make_log(same, ok, TG_ARRAY_SIZE(ok));
	int rc = run("replay", pol, same, NULL);
	if (rc != TG_EXIT_OK)
		fail_msg("rc %d: %s%s", rc, out, errb);
	assert_non_null(strstr(out, "replayed 3 calls: 3 same, 0 differ; 3 skipped"));

	_cleanup_free_ char *diff = path_of("diff.jsonl");
	const struct rcall changed[] = {
	        {"echo", "{\"msg\":\"hi\"}", "allow", "OK"},
	        {"echo", "{\"msg\":\"far too long\"}", "allow", "OK"}, /* policy got stricter */
	};
	make_log(diff, changed, TG_ARRAY_SIZE(changed));
	assert_int_equal(run("replay", pol, diff, NULL), TG_EXIT_FAILURE);
	assert_non_null(strstr(out, ":3: seq 3: tool echo: recorded allow, now deny"));
	assert_non_null(strstr(out, "1 differ"));

	/* a bad policy, a missing log */
	_cleanup_free_ char *bad = path_of("bad.yaml");
	put_file(bad, "version: 1\nbogus: true\n");
	assert_int_equal(run("replay", bad, same, NULL), TG_EXIT_DATAERR);
	assert_int_equal(run("replay", pol, "/nonexistent/log", NULL), TG_EXIT_NOINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replay),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
