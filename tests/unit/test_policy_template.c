/* SPDX-License-Identifier: Apache-2.0 */
/*
 * argv templating: embedded and whole-element placeholders, array expansion,
 * absent optional parameters, defaults, literal braces; argv is built from
 * the template only (no shell, no re-expansion of values); command[0] must
 * be a fixed, absolute, executable file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "tg.h"

static struct tg_policy *load(const char *text)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer("t.yaml", "/tmp", text, strlen(text), &p, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		print_error("%s\n", s);
	}
	tg_diags_clear(&diags);
	assert_int_equal(r, 0);
	return p;
}

/* The first diagnostic of a policy that must not load. */
static char *load_error(const char *text)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	assert_int_equal(tg_policy_load_buffer("t.yaml", "/tmp", text, strlen(text), &p, &diags),
	                 -EINVAL);
	assert_true(diags.count >= 1);
	char *s = tg_diag_format(&diags.items[0]);
	tg_diags_clear(&diags);
	return s;
}

/* argv as compact JSON, or "deny:<code>". */
static char *run(struct tg_policy *p, const char *tool, const char *params)
{
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loads(params, 0, &jerr);
	assert_non_null(j);
	struct tg_verdict *v = NULL;
	assert_int_equal(tg_policy_decide(p, tool, j, &v), 0);
	char *out;
	if (v->allow) {
		_cleanup_json_ json_t *a = json_array();
		for (size_t i = 0; v->argv[i]; i++)
			json_array_append_new(a, json_string(v->argv[i]));
		out = json_dumps(a, JSON_COMPACT);
	} else {
		out = tg_strdup_printf("deny:%s", tg_deny_code_name(v->code));
	}
	tg_verdict_free(v);
	return out;
}

#define EXPECT(p, tool, params, expected)                         \
	do {                                                      \
		_cleanup_free_ char *got_ = run(p, tool, params); \
		assert_string_equal(got_, expected);              \
	} while (0)

static const char *policy_text =
        "version: 1\n"
        "tools:\n"
        "  - name: embed\n"
        "    command: [/bin/echo, '--x={v}', '{a}-{b}', 'pre{v}post']\n"
        "    params:\n"
        "      v: {type: string, required: true}\n"
        "      a: {type: integer, default: 7}\n"
        "      b: {type: boolean, default: true}\n"
        "  - name: whole\n"
        "    command: [/bin/echo, '{v}']\n"
        "    params:\n"
        "      v: {type: string, required: true}\n"
        "  - name: expand\n"
        "    command: [/bin/echo, before, '{items...}', after, '{more...}']\n"
        "    params:\n"
        "      items: {type: array, items: {type: string}}\n"
        "      more: {type: array, items: {type: integer}, default: [1, 2]}\n"
        "  - name: optional\n"
        "    command: [/bin/echo, '{w}', '--opt={o}', '{o}', '{o}{w}', end]\n"
        "    params:\n"
        "      w: {type: string, required: true}\n"
        "      o: {type: string}\n"
        "  - name: defaults\n"
        "    command: [/bin/echo, '{s}', '{i}', '{b}', '{list...}']\n"
        "    params:\n"
        "      s: {type: string, default: hello}\n"
        "      i: {type: integer, default: -3}\n"
        "      b: {type: boolean, default: false}\n"
        "      list: {type: array, items: {type: string}, default: [x, y]}\n"
        "  - name: braces\n"
        "    command: [/usr/bin/awk, '{{ print ${n} }}', 'a}b', '{{{v}}}']\n"
        "    params:\n"
        "      n: {type: integer, default: 2}\n"
        "      v: {type: string, default: z}\n";

static void test_embedded(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	EXPECT(p, "embed", "{\"v\": \"abc\"}",
	       "[\"/bin/echo\",\"--x=abc\",\"7-true\",\"preabcpost\"]");
	EXPECT(p, "embed", "{\"v\": \"\", \"a\": -1, \"b\": false}",
	       "[\"/bin/echo\",\"--x=\",\"-1-false\",\"prepost\"]");
	tg_policy_unref(p);
}

static void test_whole_element_is_one_argument(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	/* No shell: spaces, quotes and metacharacters stay in one element. */
	EXPECT(p, "whole", "{\"v\": \"a b; rm -rf / $(id) `id` 'q' \\\"d\\\"\"}",
	       "[\"/bin/echo\",\"a b; rm -rf / $(id) `id` 'q' \\\"d\\\"\"]");
	/* A value that looks like a placeholder is not expanded again. */
	EXPECT(p, "whole", "{\"v\": \"{v}\"}", "[\"/bin/echo\",\"{v}\"]");
	EXPECT(p, "whole", "{\"v\": \"line1\\nline2\"}", "[\"/bin/echo\",\"line1\\nline2\"]");
	tg_policy_unref(p);
}

static void test_array_expansion(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	EXPECT(p, "expand", "{\"items\": [\"a\", \"b c\", \"\"]}",
	       "[\"/bin/echo\",\"before\",\"a\",\"b c\",\"\",\"after\",\"1\",\"2\"]");
	EXPECT(p, "expand", "{\"items\": []}", "[\"/bin/echo\",\"before\",\"after\",\"1\",\"2\"]");
	EXPECT(p, "expand", "{}", "[\"/bin/echo\",\"before\",\"after\",\"1\",\"2\"]");
	EXPECT(p, "expand", "{\"items\": \"one\", \"more\": [\"5\"]}",
	       "[\"/bin/echo\",\"before\",\"one\",\"after\",\"5\"]");
	EXPECT(p, "expand", "{\"more\": []}", "[\"/bin/echo\",\"before\",\"after\"]");
	EXPECT(p, "expand", "{\"more\": [\"x\"]}", "deny:type");
	tg_policy_unref(p);
}

static void test_optional_absent(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	/* Every element that uses an absent optional parameter goes, whether
	 * the placeholder is the whole element or embedded. */
	EXPECT(p, "optional", "{\"w\": \"w\"}", "[\"/bin/echo\",\"w\",\"end\"]");
	EXPECT(p, "optional", "{\"w\": \"w\", \"o\": \"o\"}",
	       "[\"/bin/echo\",\"w\",\"--opt=o\",\"o\",\"ow\",\"end\"]");
	/* An empty string is a value, not an absence. */
	EXPECT(p, "optional", "{\"w\": \"w\", \"o\": \"\"}",
	       "[\"/bin/echo\",\"w\",\"--opt=\",\"\",\"w\",\"end\"]");
	/* null is the same as absent. */
	EXPECT(p, "optional", "{\"w\": \"w\", \"o\": null}", "[\"/bin/echo\",\"w\",\"end\"]");
	tg_policy_unref(p);
}

static void test_defaults(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	EXPECT(p, "defaults", "{}", "[\"/bin/echo\",\"hello\",\"-3\",\"false\",\"x\",\"y\"]");
	EXPECT(p, "defaults", "{\"s\": \"bye\", \"i\": \"4\", \"b\": \"true\", \"list\": []}",
	       "[\"/bin/echo\",\"bye\",\"4\",\"true\"]");
	/* The normalized params the verdict carries: defaults filled, strings
	 * converted. */
	struct tg_verdict *v = NULL;
	_cleanup_json_ json_t *in = json_pack("{s:s}", "i", "12");
	assert_int_equal(tg_policy_decide(p, "defaults", in, &v), 0);
	assert_true(v->allow);
	_cleanup_free_ char *norm = json_dumps(v->params, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(norm, "{\"b\":false,\"i\":12,\"list\":[\"x\",\"y\"],\"s\":\"hello\"}");
	tg_verdict_free(v);
	tg_policy_unref(p);
}

static void test_braces(void **state)
{
	(void)state;
	struct tg_policy *p = load(policy_text);
	EXPECT(p, "braces", "{}", "[\"/usr/bin/awk\",\"{ print $2 }\",\"a}b\",\"{z}\"]");
	EXPECT(p, "braces", "{\"n\": 5, \"v\": \"}{\"}",
	       "[\"/usr/bin/awk\",\"{ print $5 }\",\"a}b\",\"{}{}\"]");
	tg_policy_unref(p);
}

static void test_program_errors(void **state)
{
	(void)state;
	struct {
		const char *cmd, *expected;
	} cases[] = {
	        {"['{p}']",
	         "t.yaml:4:15: tools[0].command[0]: the program must be a fixed path, not "
	         "a placeholder"},
	        {"[echo, '{p}']",
	         "t.yaml:4:15: tools[0].command[0]: the program must be an absolute "
	         "path, got 'echo'"},
	        {"[/etc/passwd, '{p}']",
	         "t.yaml:4:15: tools[0].command[0]: /etc/passwd: not executable"},
	        {"[/tmp, '{p}']", "t.yaml:4:15: tools[0].command[0]: /tmp: not a regular file"},
	        {"[/nonexistent/bin, '{p}']", "t.yaml:4:15: tools[0].command[0]: /nonexistent/bin: "
	                                      "No such file or directory"},
	        {"[/bin/echo, '{p}', 5, true]",
	         "t.yaml:4:36: tools[0].command[3]: expected a string, got a boolean"},
	};
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text =
		        tg_strdup_printf("version: 1\ntools:\n  - name: t\n    command: %s\n"
		                         "    params: {p: {type: string}}\n",
		                         cases[i].cmd);
		_cleanup_free_ char *err = load_error(text);
		assert_string_equal(err, cases[i].expected);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_embedded),
	        cmocka_unit_test(test_whole_element_is_one_argument),
	        cmocka_unit_test(test_array_expansion),
	        cmocka_unit_test(test_optional_absent),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_braces),
	        cmocka_unit_test(test_program_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
