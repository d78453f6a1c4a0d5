/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading policies: every error, with its exact FILE:LINE:COL and key path,
 * all of them in one go; YAML syntax errors with libyaml's position; JSON
 * policies through the same parser with the same positions.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "srcdir.h"
#include "tg.h"

/* Load tests/policies/NAME (diagnostics name it NAME); return the load
 * result and the formatted diagnostics, one per line. */
static int load(const char *name, struct tg_policy **ret, char **ret_diags)
{
	char path[8192], dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/policies", src_dir());
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(path, 1u << 20, &buf, &len), 0);
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer(name, dir, buf, len, &p, &diags);
	size_t cap = 1;
	for (size_t i = 0; i < diags.count; i++)
		cap += strlen(diags.items[i].msg) + strlen(diags.items[i].key) + 256;
	char *out = calloc(1, cap);
	assert_non_null(out);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		strcat(out, s);
		strcat(out, "\n");
	}
	tg_diags_clear(&diags);
	if (ret)
		*ret = p;
	else
		tg_policy_unref(p);
	*ret_diags = out;
	return r;
}

static void expect_errors(const char *name, const char *expected)
{
	_cleanup_free_ char *got = NULL;
	int r = load(name, NULL, &got);
	if (strcmp(got, expected) != 0)
		print_error("%s: expected:\n%s\ngot:\n%s\n", name, expected, got);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(got, expected);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_errors("bad_unknown_key.yaml",
	              "bad_unknown_key.yaml:5:5: tools[0].parms: unknown key (expected one of: "
	              "name, description, command, params, workspace, limits, seccomp, network, "
	              "rate, env, filesystem)\n"
	              "bad_unknown_key.yaml:8:27: tools[0].params.msg.max_lenght: unknown key "
	              "(expected one of: type, description, required, default, max_length, "
	              "pattern, enum, allow_leading_dash, min, max, within, must_exist, kind, "
	              "items, max_items)\n");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_errors("bad_type.yaml",
	              "bad_type.yaml:2:17: max_concurrent: expected an integer, got a string\n"
	              "bad_type.yaml:5:14: tools[0].command: expected a list, got a string\n"
	              "bad_type.yaml:6:16: tools[0].workspace: expected one of: none, ro, rw; got "
	              "'yes'\n"
	              "bad_type.yaml:7:13: tools[0].params: expected a mapping, got a list\n"
	              "bad_type.yaml:11:35: tools[1].params.f.required: expected a boolean (true "
	              "or false), got a string\n"
	              "bad_type.yaml:11:55: tools[1].params.f.max_length: must be at least 0 (got "
	              "-1)\n");
}

static void test_bad_regex(void **state)
{
	(void)state;
	expect_errors("bad_regex.yaml",
	              "bad_regex.yaml:6:36: tools[0].params.url.pattern: invalid regex: missing "
	              "closing parenthesis at offset 13\n"
	              "bad_regex.yaml:9:16: sanitize.redact[0].pattern: invalid regex: missing "
	              "terminating ] for character class at offset 3\n");
}

static void test_bad_units(void **state)
{
	(void)state;
	expect_errors("bad_units.yaml",
	              "bad_units.yaml:3:21: defaults.limits.timeout: invalid duration '10' (a "
	              "number with ms, s, m or h, e.g. 10s)\n"
	              "bad_units.yaml:3:48: defaults.limits.output: invalid size '1 MiB' (a number "
	              "with B, KiB, MiB or GiB, e.g. 64MiB)\n"
	              "bad_units.yaml:7:23: tools[0].limits.timeout: invalid duration '5sec' (a "
	              "number with ms, s, m or h, e.g. 10s)\n"
	              "bad_units.yaml:7:40: tools[0].limits.file_size: invalid size '64XiB' (a "
	              "number with B, KiB, MiB or GiB, e.g. 64MiB)\n"
	              "bad_units.yaml:7:55: tools[0].limits.output: must be between 1B and 64MiB "
	              "(it is kept in memory)\n"
	              "bad_units.yaml:8:27: tools[0].rate.per: invalid duration 'soon' (a number "
	              "with ms, s, m or h, e.g. 1m)\n");
}

static void test_placeholders(void **state)
{
	(void)state;
	expect_errors("bad_placeholder.yaml",
	              "bad_placeholder.yaml:4:26: tools[0].command[1]: unknown placeholder "
	              "'{mesage}': no parameter 'mesage'\n"
	              "bad_placeholder.yaml:8:25: tools[1].command[1]: '{files...}' must be a "
	              "whole argument\n"
	              "bad_placeholder.yaml:8:42: tools[1].command[2]: array parameter 'files' "
	              "must be expanded as a whole argument: '{files...}'\n"
	              "bad_placeholder.yaml:8:53: tools[1].command[3]: invalid placeholder '{awk "
	              "$1}' (write {{ and }} for literal braces)\n"
	              "bad_placeholder.yaml:8:65: tools[1].command[4]: unclosed '{' (write {{ for "
	              "a literal brace)\n"
	              "bad_placeholder.yaml:14:7: tools[2].params.extra: declared but not used in "
	              "command\n");
}

static void test_duplicate_tool(void **state)
{
	(void)state;
	expect_errors("bad_duplicate_tool.yaml",
	              "bad_duplicate_tool.yaml:7:11: tools[2].name: duplicate tool name 'echo' "
	              "(first at line 3)\n");
}

static void test_missing_version(void **state)
{
	(void)state;
	expect_errors("bad_missing_version.yaml",
	              "bad_missing_version.yaml:2:1: version: required key missing\n");
}

static void test_bad_syscall(void **state)
{
	(void)state;
	expect_errors("bad_syscall.yaml",
	              "bad_syscall.yaml:3:28: defaults.seccomp.deny[1]: unknown syscall 'ptrce'\n"
	              "bad_syscall.yaml:5:12: agent.seccomp: give either 'allow' or 'deny', not "
	              "both\n"
	              "bad_syscall.yaml:9:31: tools[0].seccomp.allow[1]: unknown syscall "
	              "'not_a_syscall'\n"
	              "bad_syscall.yaml:12:14: tools[1].seccomp: expected one of: default, strict; "
	              "got 'paranoid'\n");
}

static void test_bad_cidr(void **state)
{
	(void)state;
	expect_errors("bad_cidr.yaml",
	              "bad_cidr.yaml:7:18: tools[0].network.egress[0].cidr: invalid CIDR "
	              "'192.0.2.0/33': prefix length must be 0-32\n"
	              "bad_cidr.yaml:8:18: tools[0].network.egress[1].cidr: invalid CIDR "
	              "'192.0.2.1/24': host bits are set after /24\n"
	              "bad_cidr.yaml:9:18: tools[0].network.egress[2].cidr: invalid CIDR "
	              "'300.1.2.3': '300.1.2.3' is not an IPv4 address\n"
	              "bad_cidr.yaml:10:18: tools[0].network.egress[3].cidr: invalid CIDR "
	              "'2001:db8::/129': prefix length must be 0-128\n"
	              "bad_cidr.yaml:11:47: tools[0].network.egress[4].ports[1]: must be between 1 "
	              "and 65535 (got 70000)\n"
	              "bad_cidr.yaml:12:18: tools[0].network.egress[5].host: invalid host name "
	              "'-bad.example.com'\n"
	              "bad_cidr.yaml:13:11: tools[0].network.egress[6]: needs 'host' or 'cidr'\n");
}

static void test_yaml_syntax(void **state)
{
	(void)state;
	expect_errors("bad_syntax.yaml", "bad_syntax.yaml:5:5: YAML syntax error: did not find "
	                                 "expected ',' or ']' while parsing a flow sequence\n");
}

static void test_json_errors(void **state)
{
	(void)state;
	expect_errors("bad_policy.json",
	              "bad_policy.json:7:58: tools[0].params.msg.max_length: expected an integer, "
	              "got a string\n"
	              "bad_policy.json:8:28: tools[0].limits.memory: invalid size 'lots' (a number "
	              "with B, KiB, MiB or GiB, e.g. 64MiB)\n"
	              "bad_policy.json:11:22: audit.fsync: expected one of: always, batch, never; "
	              "got 'sometimes'\n");
}

/* Inline documents: the errors of the document itself. */
static void expect_buffer(const char *text, const char *expected)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer("inline.yaml", "/tmp", text, strlen(text), &p, &diags);
	assert_int_equal(r, -EINVAL);
	assert_null(p);
	assert_true(diags.count >= 1);
	_cleanup_free_ char *s = tg_diag_format(&diags.items[0]);
	if (strcmp(s, expected) != 0)
		print_error("expected: %s\ngot:      %s\n", expected, s);
	assert_string_equal(s, expected);
	tg_diags_clear(&diags);
}

static void test_documents(void **state)
{
	(void)state;
	expect_buffer("", "inline.yaml:1:1: empty policy (expected a mapping with 'version: 1')");
	expect_buffer(
	        "- a\n- b\n",
	        "inline.yaml:1:1: a policy is a mapping (version: 1, tools: ...), not a list");
	expect_buffer("version: 1\n---\nversion: 1\n",
	              "inline.yaml:2:1: more than one YAML document; a policy is one document");
	expect_buffer("version: 1\nversion: 1\n",
	              "inline.yaml:2:1: version: duplicate key (first at line 1)");
	expect_buffer("version: 1\n\xff: 2\n",
	              "inline.yaml:2:1: YAML syntax error: invalid leading UTF-8 octet");
	expect_buffer("version: \"\\0\"\n", "inline.yaml:1:10: value contains a NUL byte");
	expect_buffer("version: 1\ntools:\n  - name: x\n    command: [/bin/true]\n    bad: 1\n",
	              "inline.yaml:5:5: tools[0].bad: unknown key (expected one of: name, "
	              "description, command, params, workspace, limits, seccomp, network, rate, "
	              "env, filesystem)");
	/* A self-referencing alias must not loop; an alias bomb must not blow
	 * up (both are bounded, then refused). */
	expect_buffer("a: &x [*x]\n", "inline.yaml:1:4: nested too deeply (more than 64 levels)");
	const char *bomb = "version: 1\n"
	                   "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	                   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	                   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	expect_buffer(bomb, "inline.yaml:2:8: document too large (aliases expand to more than "
	                    "200000 nodes)");
}

static void test_unreadable(void **state)
{
	(void)state;
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	assert_int_equal(tg_policy_load_file("/nonexistent/policy.yaml", &p, &diags), -ENOENT);
	assert_int_equal(diags.count, 1);
	assert_int_equal(diags.items[0].line, 0);
	_cleanup_free_ char *s = tg_diag_format(&diags.items[0]);
	assert_string_equal(s, "/nonexistent/policy.yaml: cannot read: No such file or directory");
	tg_diags_clear(&diags);
	/* diags may be NULL. */
	assert_int_equal(tg_policy_load_file("/nonexistent/policy.yaml", &p, NULL), -ENOENT);
	const char *bad = "version: 2\n";
	assert_int_equal(tg_policy_load_buffer("x", NULL, bad, strlen(bad), &p, NULL), -EINVAL);
}

static void decide_argv(struct tg_policy *p, const char *tool, const char *params, char **ret_json)
{
	_cleanup_json_ json_t *j = json_loads(params, 0, NULL);
	struct tg_verdict *v = NULL;
	assert_int_equal(tg_policy_decide(p, tool, j, &v), 0);
	_cleanup_json_ json_t *vj = tg_verdict_to_json(v);
	/* Everything but the rule text, which is the same anyway. */
	json_object_del(vj, "binary_sha256");
	*ret_json = json_dumps(vj, JSON_SORT_KEYS | JSON_COMPACT);
	tg_verdict_free(v);
}

/* The same policy as YAML and JSON decides the same. */
static void test_json_equals_yaml(void **state)
{
	(void)state;
	struct tg_policy *y = NULL, *j = NULL;
	_cleanup_free_ char *dy = NULL, *dj = NULL;
	assert_int_equal(load("good.yaml", &y, &dy), 0);
	assert_int_equal(load("good.json", &j, &dj), 0);
	assert_string_equal(dy, "");
	assert_string_equal(dj, "");
	assert_int_equal(tg_policy_tool_count(y), 2);
	assert_int_equal(tg_policy_tool_count(j), 2);
	const char *calls[][2] = {
	        {"echo", "{\"msg\": \"abc\"}"},
	        {"echo", "{\"msg\": \"ABC\"}"},
	        {"echo", "{}"},
	        {"cat", "{\"files\": [\"x\", \"y\", \"z\", \"w\", \"v\"]}"},
	        {"nope", "{}"},
	};
	for (size_t i = 0; i < TG_ARRAY_SIZE(calls); i++) {
		_cleanup_free_ char *a = NULL, *b = NULL;
		decide_argv(y, calls[i][0], calls[i][1], &a);
		decide_argv(j, calls[i][0], calls[i][1], &b);
		assert_string_equal(a, b);
	}
	/* Positions and names come from the file; the workspace resolves
	 * against its directory. */
	assert_string_equal(tg_policy_file(y), "good.yaml");
	const char *ws = tg_policy_workspace(j);
	assert_non_null(ws);
	assert_non_null(strstr(ws, "/tests/policies/ws"));
	assert_int_equal(ws[0], '/');
	tg_policy_unref(y);
	tg_policy_unref(j);
}

/* The DESIGN.md example loads and keeps what it says. */
static void test_design_example(void **state)
{
	(void)state;
	struct tg_policy *p = NULL;
	_cleanup_free_ char *d = NULL;
	assert_int_equal(load("design_example.yaml", &p, &d), 0);
	assert_int_equal(tg_policy_tool_count(p), 4);
	assert_string_equal(tg_policy_tool_name(p, 0), "python");
	assert_string_equal(tg_policy_tool_description(p, 0), "Run a Python snippet in /workspace");
	assert_null(tg_policy_tool_description(p, 1));
	const struct tg_agent_config *a = tg_policy_agent(p);
	assert_int_equal(a->n_fs, 2);
	assert_string_equal(a->fs[0].source, "/usr");
	assert_string_equal(a->fs[0].target, "/usr");
	assert_true(a->fs[0].readonly);
	assert_int_equal(a->fs[1].type, TG_FS_TMPFS);
	assert_string_equal(a->fs[1].target, "/tmp");
	assert_false(a->fs[1].readonly);
	assert_int_equal(a->fs[1].size, 64ull << 20);
	assert_int_equal(a->limits.memory_bytes, 1ull << 30);
	assert_int_equal(a->limits.pids, 256);
	assert_int_equal(a->limits.timeout_ms, 0);
	assert_int_equal(a->workspace, TG_WS_RW);
	const struct tg_sanitize_config *s = tg_policy_sanitize(p);
	assert_true(s->strip_ansi);
	assert_int_equal(s->n_rules, 2);
	assert_string_equal(s->rules[0].name, "aws_access_key");
	assert_string_equal(s->rules[1].replace, "[REDACTED]");
	const struct tg_audit_section *au = tg_policy_audit(p);
	assert_non_null(strstr(au->path, "/tests/policies/audit.jsonl"));
	assert_int_equal(au->params, TG_AUDIT_PARAMS_FULL);
	assert_int_equal(au->fsync, TG_AUDIT_FSYNC_BATCH);
	char sha[TG_SHA256_HEX_LEN], path[4096];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/tests/policies/design_example.yaml", src_dir());
	assert_int_equal(tg_read_file(path, 1u << 20, &buf, &len), 0);
	tg_sha256_hex(buf, len, sha);
	assert_string_equal(tg_policy_sha256(p), sha);
	tg_policy_unref(p);
}

static void check_loads(const char *name, const char *dir, const char *text, size_t len)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer(name, dir, text, len, &p, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		print_error("%s\n", s);
	}
	tg_diags_clear(&diags);
	assert_int_equal(r, 0);
	tg_policy_unref(p);
}

/* Every complete policy in docs/ (the ```yaml blocks of docs/policy.md that
 * start with "version: 1") and every examples/ *policy*.{yaml,json} passes
 * `policy check`, so the documentation cannot drift from the loader. */
static void test_docs_and_examples(void **state)
{
	(void)state;
	char path[8192], dir[4096];
	snprintf(path, sizeof(path), "%s/docs/policy.md", src_dir());
	_cleanup_free_ char *md = NULL;
	size_t len, blocks = 0;
	assert_int_equal(tg_read_file(path, 1u << 20, &md, &len), 0);
	for (char *b = strstr(md, "```yaml\nversion: 1\n"); b;
	     b = strstr(b, "```yaml\nversion: 1\n")) {
		b += strlen("```yaml\n");
		char *end = strstr(b, "```");
		assert_non_null(end);
		check_loads("docs/policy.md", "/tmp", b, (size_t)(end - b));
		blocks++;
		b = end;
	}
	assert_true(blocks >= 2);

	snprintf(dir, sizeof(dir), "%s/examples", src_dir());
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		bool ext = (n > 5 && !strcmp(de->d_name + n - 5, ".yaml")) ||
		           (n > 5 && !strcmp(de->d_name + n - 5, ".json"));
		if (!ext || !strstr(de->d_name, "policy"))
			continue;
		_cleanup_free_ char *text = NULL;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(tg_read_file(path, 1u << 20, &text, &len), 0);
		check_loads(de->d_name, dir, text, len);
	}
	closedir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unknown_key),     cmocka_unit_test(test_wrong_type),
	        cmocka_unit_test(test_bad_regex),       cmocka_unit_test(test_bad_units),
	        cmocka_unit_test(test_placeholders),    cmocka_unit_test(test_duplicate_tool),
	        cmocka_unit_test(test_missing_version), cmocka_unit_test(test_bad_syscall),
	        cmocka_unit_test(test_bad_cidr),        cmocka_unit_test(test_yaml_syntax),
	        cmocka_unit_test(test_json_errors),     cmocka_unit_test(test_documents),
	        cmocka_unit_test(test_unreadable),      cmocka_unit_test(test_json_equals_yaml),
	        cmocka_unit_test(test_design_example),  cmocka_unit_test(test_docs_and_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
