/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `toolgate policy check` and `toolgate policy explain`: output and exit
 * codes. The command is compiled into this test (cli/ builds no library), and
 * stdout / stderr are captured around each call.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "srcdir.h"

#include "../../cli/args.c"
#include "../../cli/cmd_policy.c"

struct captured {
	int rc;
	char *out, *err;
};

static char *slurp(FILE *f)
{
	fflush(f);
	_cleanup_free_ char *s = NULL;
	size_t len;
	assert_int_equal(tg_read_fd(fileno(f), 1u << 20, &s, &len), 0);
	return steal_pointer(&s);
}

/* Run `toolgate policy ARGS...` with cwd = tests/policies. */
static struct captured run(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)"policy";
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	char dir[4096], cwd[4096];
	snprintf(dir, sizeof(dir), "%s/tests/policies", src_dir());
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	FILE *out = tmpfile(), *err = tmpfile();
	assert_non_null(out);
	assert_non_null(err);
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	struct captured c = {.rc = tg_cmd_policy(argc, argv)};
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	assert_int_equal(chdir(cwd), 0);
	rewind(out);
	rewind(err);
	c.out = slurp(out);
	c.err = slurp(err);
	fclose(out);
	fclose(err);
	return c;
}

static void captured_free(struct captured *c)
{
	free(c->out);
	free(c->err);
}

static void test_check(void **state)
{
	(void)state;
	struct captured c = run("check", "good.yaml", "good.json", NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.out, "good.yaml: ok (2 tools, sha256 "));
	assert_non_null(strstr(c.out, "good.json: ok (2 tools, sha256 "));
	assert_string_equal(c.err, "");
	captured_free(&c);

	c = run("check", "good.yaml", "bad_duplicate_tool.yaml", "bad_missing_version.yaml", NULL);
	assert_int_equal(c.rc, 65);
	assert_string_equal(c.err, "bad_duplicate_tool.yaml:7:11: tools[2].name: duplicate tool "
	                           "name 'echo' (first at line 3)\n"
	                           "bad_missing_version.yaml:2:1: version: required key missing\n");
	assert_non_null(strstr(c.out, "good.yaml: ok"));
	captured_free(&c);

	c = run("check", "bad_type.yaml", "does-not-exist.yaml", NULL);
	assert_int_equal(c.rc, 66);
	assert_non_null(
	        strstr(c.err, "does-not-exist.yaml: cannot read: No such file or directory\n"));
	captured_free(&c);

	c = run("check", NULL);
	assert_int_equal(c.rc, 64);
	captured_free(&c);
	c = run("check", "--bogus", "good.yaml", NULL);
	assert_int_equal(c.rc, 64);
	captured_free(&c);
	c = run("check", "--help", NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.out, "usage: toolgate policy check FILE..."));
	captured_free(&c);
	c = run("frobnicate", NULL);
	assert_int_equal(c.rc, 64);
	captured_free(&c);
}

static void test_explain(void **state)
{
	(void)state;
	struct captured c = run("explain", "design_example.yaml", "sort", "order=-r", NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.out, "decision:  allow\n"));
	assert_non_null(strstr(c.out, "rule:      tools[3] (sort)\n"));
	assert_non_null(strstr(c.out, "argv:      /usr/bin/sort -r /workspace/data.txt\n"));
	assert_non_null(strstr(c.out, "env:       PATH=/usr/bin:/bin LANG=C.UTF-8\n"));
	assert_non_null(strstr(c.out, "limits:    timeout 10000ms, cpu 1.000, memory 256MiB"));
	assert_non_null(strstr(c.out, "network:   none\n"));
	assert_non_null(strstr(c.out, "seccomp:   default\n"));
	captured_free(&c);

	c = run("explain", "design_example.yaml", "python", "code=print('hi there')", NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(
	        strstr(c.out, "argv:      /usr/bin/python3 -I -c 'print('\\''hi there'\\'')'\n"));
	assert_non_null(strstr(c.out, "limits:    timeout 5000ms, cpu 1.000, memory 128MiB"));
	captured_free(&c);

	c = run("explain", "design_example.yaml", "fetch", "url=https://evil.example/", NULL);
	assert_int_equal(c.rc, 77);
	assert_non_null(strstr(c.out, "decision:  deny (pattern)\n"));
	assert_non_null(strstr(c.out, "reason:    parameter 'url': does not match pattern"));
	assert_non_null(strstr(c.out, "egress:    docs.example.com tcp ports 443\n"));
	assert_non_null(strstr(c.out, "egress:    192.0.2.0/24 tcp ports 80\n"));
	assert_non_null(strstr(c.out, "rate:      30 calls per 60000ms (burst 30)\n"));
	captured_free(&c);

	c = run("explain", "--json", "design_example.yaml", "sort", "--params-json",
	        "{\"order\": \"-n\"}", NULL);
	assert_int_equal(c.rc, 0);
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loads(c.out, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "decision")), "allow");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "argv"), 1)), "-n");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "binary_sha256"))), 64);
	assert_string_equal(json_string_value(json_object_get(j, "workspace")), "ro");
	captured_free(&c);

	c = run("explain", "design_example.yaml", "nope", "--json", NULL);
	assert_int_equal(c.rc, 77);
	json_decref(j);
	j = json_loads(c.out, 0, &jerr);
	assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
	assert_string_equal(json_string_value(json_object_get(j, "code")), "unknown_tool");
	assert_true(json_is_null(json_object_get(j, "argv")));
	captured_free(&c);

	/* --workspace: paths resolve where a broker started with it would. */
	char ws[] = "/tmp/tg-explain-ws-XXXXXX", f[512];
	assert_non_null(mkdtemp(ws));
	snprintf(f, sizeof(f), "%s/only-here.txt", ws);
	close(open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	c = run("explain", "good.yaml", "cat", "files=only-here.txt", NULL);
	assert_int_equal(c.rc, 77);
	assert_non_null(strstr(c.out, "decision:  deny (path)"));
	captured_free(&c);
	c = run("explain", "good.yaml", "cat", "files=only-here.txt", "--workspace", ws, NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.out, "path:      /workspace/only-here.txt, bound at "
	                              "/run/toolgate/args/0/only-here.txt (ro)\n"));
	assert_non_null(strstr(c.out, "argv:      /bin/cat /run/toolgate/args/0/only-here.txt\n"));
	captured_free(&c);
	c = run("explain", "good.yaml", "cat", "--workspace", "/nonexistent-tg", NULL);
	assert_int_equal(c.rc, 66);
	captured_free(&c);
	unlink(f);
	rmdir(ws);

	/* Repeating a name builds an array. */
	c = run("explain", "good.yaml", "cat", "files=a", "files=b", "files=c", "files=d",
	        "files=e", NULL);
	assert_int_equal(c.rc, 77);
	assert_non_null(strstr(c.out, "5 items, more than max_items 4"));
	captured_free(&c);

	c = run("explain", "bad_type.yaml", "echo", NULL);
	assert_int_equal(c.rc, 65);
	assert_non_null(strstr(c.err, "bad_type.yaml:2:17: max_concurrent:"));
	captured_free(&c);
	c = run("explain", "missing.yaml", "echo", NULL);
	assert_int_equal(c.rc, 66);
	captured_free(&c);
	c = run("explain", "good.yaml", NULL);
	assert_int_equal(c.rc, 64);
	captured_free(&c);
	c = run("explain", "good.yaml", "echo", "novalue", NULL);
	assert_int_equal(c.rc, 64);
	assert_non_null(strstr(c.err, "expected NAME=VALUE"));
	captured_free(&c);
	c = run("explain", "good.yaml", "echo", "--params-json", "[1]", NULL);
	assert_int_equal(c.rc, 64);
	captured_free(&c);
	c = run("explain", "--help", NULL);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.out, "usage: toolgate policy explain FILE TOOL"));
	captured_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_check),
	        cmocka_unit_test(test_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
