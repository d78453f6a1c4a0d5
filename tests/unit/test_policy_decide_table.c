/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decision table: tests/unit/policy_cases.txt, one case per line,
 *
 *   policy file | tool | params JSON | allow | deny:<code> | check
 *
 * check is, for allow, the expected argv as a JSON array (exact) or else a
 * substring of the reason; for deny, a substring of the reason. Policies come
 * from tests/policies/ and are loaded with their base directory set to a
 * fresh temporary directory (TMP) holding ws/ (the workspace: files,
 * directories, symlinks in and out) and bin/ (copies of /bin/true for the
 * pinned-binary cases, some changed after load).
 *
 * Substitutions: "@TMP@" in policies, params and checks is TMP; in params
 * string values "\\xHH" becomes the raw byte HH (JSON itself cannot carry
 * invalid UTF-8).
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "policy.h"
#include "srcdir.h"
#include "tg.h"

#define MAX_POLICIES 16

static char tmp[256];

struct loaded {
	char name[128];
	struct tg_policy *p;
};
static struct loaded policies[MAX_POLICIES];
static size_t n_policies;

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
		n++;
	char *out = malloc(strlen(s) + n * tl + 1), *o = out;
	assert_non_null(out);
	for (const char *p = s;;) {
		const char *q = strstr(p, from);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

static void write_file(const char *rel, const char *content)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, content, strlen(content)), 0);
}

static void copy_true(const char *rel)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char path[4096];
	assert_int_equal(tg_read_file("/bin/true", 64u << 20, &buf, &len), 0);
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, buf, len), 0);
}

static void sub(const char *rel, const char *target)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if (target)
		assert_int_equal(symlink(target, path), 0);
	else
		assert_int_equal(mkdir(path, 0755), 0);
}

/* The temporary tree the cases refer to. */
static void make_tree(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/tg-policy-table-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	sub("ws", NULL);
	sub("ws/sub", NULL);
	sub("ws/dir", NULL);
	sub("ws/out", NULL);
	sub("outside", NULL); /* a writable mount's source, outside the workspace */
	sub("bin", NULL);
	write_file("ws/a.txt", "a\n");
	write_file("ws/b.txt", "b\n");
	write_file("ws/sub/c.txt", "c\n");
	write_file("ws/-dash.txt", "dash\n");
	write_file("ws/data.txt", "3\n1\n2\n");
	write_file("secret.txt", "secret\n");
	sub("ws/link_in", "a.txt");          /* stays inside */
	sub("ws/sub/link_up", "../b.txt");   /* inside, through .. */
	sub("ws/link_out", "../secret.txt"); /* relative escape */
	sub("ws/link_abs", "/etc/passwd");   /* absolute escape */
	sub("ws/link_dir_out", "..");        /* a directory escape */
	sub("ws/out/link_out", "../../secret.txt");
	sub("ws/dangling_out", "../nonexistent");
	sub("ws/out/dangle", "d/../../.."); /* ENOENT until d exists, then out of the root */
	copy_true("bin/same");
	copy_true("bin/modified");
	copy_true("bin/replaced");
	copy_true("bin/removed");
	copy_true("bin/touched");
}

/* After the policies are loaded: change some pinned binaries. */
static void change_binaries(void)
{
	char path[512], path2[512];
	snprintf(path, sizeof(path), "%s/bin/modified", tmp);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, "x", 1), 0);

	copy_true("bin/replaced.new");
	snprintf(path, sizeof(path), "%s/bin/replaced.new", tmp);
	snprintf(path2, sizeof(path2), "%s/bin/replaced", tmp);
	assert_int_equal(rename(path, path2), 0);

	snprintf(path, sizeof(path), "%s/bin/removed", tmp);
	assert_int_equal(unlink(path), 0);

	/* Same bytes, new times: still a change (ctime moves too). */
	snprintf(path, sizeof(path), "%s/bin/touched", tmp);
	struct timespec ts[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static struct tg_policy *policy(const char *name)
{
	for (size_t i = 0; i < n_policies; i++)
		if (strcmp(policies[i].name, name) == 0)
			return policies[i].p;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/policies/%s", src_dir(), name);
	_cleanup_free_ char *raw = NULL, *text = NULL;
	size_t len;
	assert_int_equal(tg_read_file(path, 1u << 20, &raw, &len), 0);
	text = replace_all(raw, "@TMP@", tmp);
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer(name, tmp, text, strlen(text), &p, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		print_error("%s\n", s);
	}
	tg_diags_clear(&diags);
	assert_int_equal(r, 0);
	assert_true(n_policies < MAX_POLICIES);
	snprintf(policies[n_policies].name, sizeof(policies[0].name), "%s", name);
	policies[n_policies++].p = p;
	return p;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* "\\xHH" in string values -> the raw byte. */
static json_t *unescape_bytes(json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v), o = 0;
		_cleanup_free_ char *out = malloc(len + 1);
		assert_non_null(out);
		for (size_t i = 0; i < len; i++) {
			unsigned hv;
			if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' &&
			    sscanf(s + i + 2, "%2x", &hv) == 1) {
				out[o++] = (char)hv;
				i += 3;
			} else {
				out[o++] = s[i];
			}
		}
		return json_stringn_nocheck(out, o);
	}
	if (json_is_array(v)) {
		json_t *a = json_array();
		for (size_t i = 0; i < json_array_size(v); i++)
			json_array_append_new(a, unescape_bytes(json_array_get(v, i)));
		return a;
	}
	if (json_is_object(v)) {
		json_t *o = json_object(), *val;
		const char *k;
		json_object_foreach (v, k, val) {
			json_object_set_new(o, k, unescape_bytes(val));
		}
		return o;
	}
	return json_incref(v);
}

/* Split "a | b | params | expect | check": two fields from the left, two
 * from the right, the params JSON (which may contain '|') in between. */
static bool split(char *line, char *f[5])
{
	char *p = line;
	for (int i = 0; i < 2; i++) {
		char *bar = strchr(p, '|');
		if (!bar)
			return false;
		*bar = '\0';
		f[i] = trim(p);
		p = bar + 1;
	}
	char *last = strrchr(p, '|');
	if (!last)
		return false;
	*last = '\0';
	f[4] = trim(last + 1);
	char *mid = strrchr(p, '|');
	if (!mid)
		return false;
	*mid = '\0';
	f[3] = trim(mid + 1);
	f[2] = trim(p);
	return true;
}

static bool argv_equals(char *const *argv, const char *expected_json)
{
	json_error_t jerr;
	_cleanup_json_ json_t *exp = json_loads(expected_json, 0, &jerr);
	if (!json_is_array(exp))
		return false;
	size_t n = 0;
	while (argv && argv[n])
		n++;
	if (n != json_array_size(exp))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!json_is_string(json_array_get(exp, i)) ||
		    strcmp(json_string_value(json_array_get(exp, i)), argv[i]) != 0)
			return false;
	return true;
}

static char *argv_str(char *const *argv)
{
	_cleanup_json_ json_t *a = json_array();
	for (size_t i = 0; argv && argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	return json_dumps(a, JSON_COMPACT);
}

/* One case; returns true when it holds (else prints why). */
static bool run_case(unsigned lineno, char *f[5], double *ret_ms)
{
	_cleanup_free_ char *params_text = replace_all(f[2], "@TMP@", tmp);
	_cleanup_free_ char *check = replace_all(f[4], "@TMP@", tmp);
	json_error_t jerr;
	_cleanup_json_ json_t *raw = NULL, *params = NULL;
	if (strcmp(params_text, "null") != 0) {
		raw = json_loads(params_text, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
		if (!raw) {
			print_error("line %u: bad params JSON: %s\n", lineno, jerr.text);
			return false;
		}
		params = unescape_bytes(raw);
	}
	struct tg_policy *p = policy(f[0]);
	struct tg_verdict *v = NULL;
	uint64_t t0 = tg_now_mono_ns();
	int r = tg_policy_decide(p, f[1], params, &v);
	*ret_ms = (double)(tg_now_mono_ns() - t0) / 1e6;
	if (r < 0) {
		print_error("line %u: decide failed: %s\n", lineno, strerror(-r));
		return false;
	}
	bool ok = true;
	_cleanup_free_ char *got_argv = v->allow ? argv_str(v->argv) : NULL;
	if (strcmp(f[3], "allow") == 0) {
		ok = v->allow;
		if (ok && check[0] == '[')
			ok = argv_equals(v->argv, check);
		else if (ok && check[0])
			ok = v->reason && strstr(v->reason, check);
		if (ok)
			ok = v->exec_fd >= 0 && v->binary_sha256 && strlen(v->binary_sha256) == 64;
	} else if (strncmp(f[3], "deny:", 5) == 0) {
		ok = !v->allow && strcmp(tg_deny_code_name(v->code), f[3] + 5) == 0 && v->reason &&
		     strstr(v->reason, check) && v->argv == NULL && v->exec_fd == -1;
	} else {
		print_error("line %u: expected 'allow' or 'deny:<code>', got '%s'\n", lineno, f[3]);
		ok = false;
	}
	if (!ok)
		print_error("line %u: %s %s %s: expected %s [%s], got %s:%s [%s] argv %s\n", lineno,
		            f[0], f[1], f[2], f[3], check, v->allow ? "allow" : "deny",
		            tg_deny_code_name(v->code), v->reason ? v->reason : "",
		            got_argv ? got_argv : "-");
	tg_verdict_free(v);
	return ok;
}

static void test_decision_table(void **state)
{
	(void)state;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/unit/policy_cases.txt", src_dir());
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	assert_non_null(f);

	/* Load every policy the table names before any binary changes. */
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		char *fields[5], *t = trim(line);
		if (*t && *t != '#' && split(t, fields))
			policy(fields[0]);
	}
	change_binaries();
	rewind(f);

	unsigned lineno = 0, cases = 0, failed = 0;
	double worst = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *fields[5], *t = trim(line);
		if (!*t || *t == '#')
			continue;
		if (!split(t, fields)) {
			print_error("line %u: expected 5 fields separated by '|'\n", lineno);
			failed++;
			continue;
		}
		double ms = 0;
		cases++;
		if (!run_case(lineno, fields, &ms))
			failed++;
		/* A decision is microseconds; a hostile regex value must not
		 * turn it into seconds. */
		if (ms > 250) {
			print_error("line %u: took %.1f ms\n", lineno, ms);
			failed++;
		}
		if (ms > worst)
			worst = ms;
	}
	print_message("%u cases, %u failed, slowest %.3f ms\n", cases, failed, worst);
	assert_true(cases >= 60);
	assert_int_equal(failed, 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_policies; i++)
		tg_policy_unref(policies[i].p);
	if (tmp[0] && nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		print_error("cannot remove %s\n", tmp);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	make_tree();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decision_table),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
