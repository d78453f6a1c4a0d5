/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verify: every kind of damage on one file and across two rotated files,
 * seals, HMAC, torn lines and their recovery. A case is one line: a log, a
 * mutation, the expected damage, line and seq.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "audit.h"
#include "../../audit/internal.h"
#include "tg.h"
#include "tempdir.h"
#include "loglines.h"

static int setup(void **state)
{
	(void)state;
	return tempdir_make("audit-ver");
}

static int teardown(void **state)
{
	(void)state;
	return tempdir_remove();
}

/* A log: session_start, n calls, and (when end) session_end. */
static void make_log(const char *path, int n, bool end, const char *key)
{
	struct tg_audit_options o = {.path = path, .session = "sess-1", .key_file = key};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START, .policy_sha256 = "ab"};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	for (int i = 0; i < n; i++) {
		char tool[16];
		snprintf(tool, sizeof(tool), "tool%d", i);
		struct tg_audit_record r = {.event = TG_AUDIT_CALL,
		                            .tool = tool,
		                            .decision = i % 3 ? "allow" : "deny",
		                            .reason = "because"};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
	if (end) {
		struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
		assert_int_equal(tg_audit_append(w, &e, &err), 0);
	}
	assert_int_equal(tg_audit_close(w), 0);
}

static void expect(char *const *files, size_t n, const char *key, enum tg_audit_damage d,
                   const char *file, uint64_t line, uint64_t seq)
{
	struct tg_audit_verify_result res;
	struct tg_audit_verify_options o = {.key_file = key};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify_with(files, n, &o, &res, &err), 0);
	if (res.damage != d || (d != TG_AUDIT_INTACT && (res.line != line || res.seq != seq)))
		fail_msg("want %s at %" PRIu64 " (seq %" PRIu64 "), got %s at %s:%" PRIu64
		         " (seq %" PRIu64 "): %s",
		         tg_audit_damage_name(d), line, seq, tg_audit_damage_name(res.damage),
		         res.file ? res.file : "-", res.line, res.seq,
		         res.detail ? res.detail : "-");
	if (d != TG_AUDIT_INTACT)
		assert_string_equal(res.file, file);
	tg_audit_verify_result_clear(&res);
}

enum mutation {
	M_NONE,
	M_MODIFY,
	M_DELETE,
	M_SWAP,
	M_INSERT_COPY,
	M_TRUNCATE,
	M_CUT_END,
	M_GARBAGE
};

/* Apply a mutation at line index i (0-based) of l. */
static void mutate(struct lines *l, enum mutation m, size_t i)
{
	switch (m) {
	case M_NONE:
		break;
	case M_MODIFY: {
		char *t = strstr(l->v[i], "because");
		assert_non_null(t);
		t[0] = 'B';
		break;
	}
	case M_DELETE:
		free(l->v[i]);
		memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(char *));
		l->n--;
		break;
	case M_SWAP: {
		char *t = l->v[i];
		l->v[i] = l->v[i + 1];
		l->v[i + 1] = t;
		break;
	}
	case M_INSERT_COPY: /* a copy of line 2 (index 1) inserted before index i */
		memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(char *));
		l->v[i] = strdup(l->v[1]);
		l->n++;
		break;
	case M_TRUNCATE: /* cut the last line in its middle */
		l->v[l->n - 1][strlen(l->v[l->n - 1]) / 2] = '\0';
		break;
	case M_CUT_END: /* the last i records disappear */
		while (i-- > 0)
			free(l->v[--l->n]);
		break;
	case M_GARBAGE:
		free(l->v[i]);
		l->v[i] = strdup("{\"seq\":\n");
		break;
	}
}

struct dcase {
	enum mutation m;
	size_t at;
	enum tg_audit_damage want;
	uint64_t line; /* 1-based, in the file named by in_second */
	uint64_t seq;
};

/* The log has 10 records: seq 1 session_start, 2..9 calls, 10 session_end. */
static const struct dcase cases[] = {
        {M_NONE, 0, TG_AUDIT_INTACT, 0, 0},
        {M_MODIFY, 4, TG_AUDIT_MODIFIED, 5, 5},
        {M_DELETE, 4, TG_AUDIT_DELETED, 5, 5},
        {M_DELETE, 0, TG_AUDIT_DELETED, 1, 1},
        {M_SWAP, 4, TG_AUDIT_REORDERED, 5, 5},
        {M_INSERT_COPY, 5, TG_AUDIT_INSERTED, 6, 6},
        {M_INSERT_COPY, 9, TG_AUDIT_INSERTED, 10, 10},
        {M_TRUNCATE, 0, TG_AUDIT_TRUNCATED, 10, 10},
        {M_CUT_END, 1, TG_AUDIT_TRUNCATED, 10, 10}, /* session_end lost: the seal says so */
        {M_CUT_END, 3, TG_AUDIT_TRUNCATED, 8, 8},
        {M_GARBAGE, 6, TG_AUDIT_MALFORMED, 7, 7},
};

/* The HMAC key of the keyed variants (NULL: plain SHA-256). */
static const char *damage_key;

static void damage_single_file(void)
{
	_cleanup_free_ char *p = path_of(damage_key ? "one-keyed.jsonl" : "one.jsonl");
	make_log(p, 8, true, damage_key);
	struct lines orig = {0};
	read_lines(p, &orig);
	assert_int_equal(orig.n, 10);
	for (size_t c = 0; c < TG_ARRAY_SIZE(cases); c++) {
		struct lines l = {.n = orig.n};
		for (size_t i = 0; i < orig.n; i++)
			l.v[i] = strdup(orig.v[i]);
		mutate(&l, cases[c].m, cases[c].at);
		write_lines(p, &l, 0, l.n);
		char *files[] = {p};
		print_message("case %zu%s\n", c, damage_key ? " (HMAC)" : "");
		expect(files, 1, damage_key, cases[c].want, p, cases[c].line, cases[c].seq);
		free_lines(&l);
	}
	free_lines(&orig);
}

static void damage_rotated_files(void)
{
	/* The chain goes on across files: the first 4 records in audit.jsonl.1,
	 * the rest in audit.jsonl (which carries the seal). */
	const char *key = damage_key;
	_cleanup_free_ char *p = path_of(key ? "rot-keyed.jsonl" : "rot.jsonl");
	_cleanup_free_ char *p1 = tg_strdup_printf("%s.1", p);
	make_log(p, 8, true, key);
	struct lines orig = {0};
	read_lines(p, &orig);
	const size_t split = 4;
	for (size_t c = 0; c < TG_ARRAY_SIZE(cases); c++) {
		struct lines l = {.n = orig.n};
		for (size_t i = 0; i < orig.n; i++)
			l.v[i] = strdup(orig.v[i]);
		mutate(&l, cases[c].m, cases[c].at);
		write_lines(p1, &l, 0, split);
		write_lines(p, &l, split, l.n);
		char *files[] = {p1, p};
		bool second = cases[c].line > split;
		print_message("rotated case %zu%s\n", c, key ? " (HMAC)" : "");
		expect(files, 2, key, cases[c].want, second ? p : p1,
		       second ? cases[c].line - split : cases[c].line, cases[c].seq);
		free_lines(&l);
	}
	/* damage at the boundary: the first line of the second file deleted,
	 * and the two lines around the boundary swapped */
	struct lines l = {.n = orig.n};
	for (size_t i = 0; i < orig.n; i++)
		l.v[i] = strdup(orig.v[i]);
	write_lines(p1, &l, 0, split);
	write_lines(p, &l, split + 1, l.n);
	char *files[] = {p1, p};
	expect(files, 2, key, TG_AUDIT_DELETED, p, 1, split + 1);
	mutate(&l, M_SWAP, split - 1);
	write_lines(p1, &l, 0, split);
	write_lines(p, &l, split, l.n);
	expect(files, 2, key, TG_AUDIT_REORDERED, p1, split, split);
	/* files given in the wrong order */
	write_lines(p1, &orig, 0, split);
	write_lines(p, &orig, split, orig.n);
	char *wrong[] = {p, p1};
	expect(wrong, 2, key, TG_AUDIT_REORDERED, p, 1, 1);
	/* the second file alone: its first records are missing */
	char *alone[] = {p};
	expect(alone, 1, key, TG_AUDIT_DELETED, p, 1, 1);
	free_lines(&l);
	free_lines(&orig);
}

static void test_damage_single_file(void **state)
{
	(void)state;
	damage_key = NULL;
	damage_single_file();
}

static void test_damage_rotated_files(void **state)
{
	(void)state;
	damage_key = NULL;
	damage_rotated_files();
}

static void test_damage_keyed(void **state)
{
	(void)state;
	_cleanup_free_ char *key = path_of("damage.key");
	put_bytes(key, "0123456789abcdef0123456789abcdef", 32, false);
	damage_key = key;
	damage_single_file();
	damage_rotated_files();
	damage_key = NULL;
}

static void test_open_session_and_seal(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("open.jsonl");
	make_log(p, 3, false, NULL);
	char *files[] = {p};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.open_session);
	assert_false(res.writer_active);
	assert_string_equal(res.open_session_id, "sess-1");
	assert_true(res.sealed);
	assert_int_equal(res.sealed_seq, 4);
	assert_int_equal(res.records, 4);
	tg_audit_verify_result_clear(&res);

	/* while a writer holds the log, verify says so */
	struct tg_audit_options o = {.path = p, .session = "sess-2"};
	struct tg_audit_writer *w = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_writer *w2 = NULL;
	assert_int_equal(tg_audit_open(&o, &w2, &err), -EBUSY);
	tg_error_freep(&err);
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.open_session);
	assert_true(res.writer_active);
	/* the new writer recorded that sess-1 never ended */
	assert_int_equal(res.recoveries, 1);
	assert_non_null(strstr(res.recovery_detail, "session sess-1 ended without session_end"));
	tg_audit_verify_result_clear(&res);
	assert_int_equal(tg_audit_close(w), 0);

	/* a bad seal is itself reported */
	_cleanup_free_ char *seal = tg_strdup_printf("%s.seal", p);
	put_bytes(seal, "{\"seq\":\"x\"}\n", 12, false);
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_MALFORMED);
	assert_string_equal(res.file, seal);
	tg_audit_verify_result_clear(&res);
	struct tg_audit_verify_options no_seal = {.ignore_seal = true};
	assert_int_equal(tg_audit_verify_with(files, 1, &no_seal, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	tg_audit_verify_result_clear(&res);

	/* an empty log is intact with no records */
	_cleanup_free_ char *e = path_of("empty.jsonl");
	put_bytes(e, "", 0, false);
	char *ef[] = {e};
	assert_int_equal(tg_audit_verify(ef, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.records, 0);
	assert_false(res.open_session);
	tg_audit_verify_result_clear(&res);
	char *missing[] = {"/nonexistent/log"};
	assert_int_equal(tg_audit_verify(missing, 1, &res, &err), -ENOENT);
}

static void test_hmac(void **state)
{
	(void)state;
	_cleanup_free_ char *key = path_of("hmac.key");
	_cleanup_free_ char *key2 = path_of("other.key");
	put_bytes(key, "0123456789abcdef0123456789abcdef", 32, false);
	put_bytes(key2, "0123456789abcdef0123456789abcdeX", 32, false);
	_cleanup_free_ char *p = path_of("keyed.jsonl");
	make_log(p, 5, true, key);
	char *files[] = {p};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	/* keyed log without the key: an error, not a verdict */
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), -ENOKEY);
	assert_non_null(strstr(tg_error_msg(err), "--key"));
	tg_error_freep(&err);
	expect(files, 1, key, TG_AUDIT_INTACT, p, 0, 0);
	expect(files, 1, key2, TG_AUDIT_MODIFIED, p, 1, 1);
	struct tg_audit_verify_options o = {.key_file = key};
	assert_int_equal(tg_audit_verify_with(files, 1, &o, &res, &err), 0);
	assert_true(res.keyed);
	tg_audit_verify_result_clear(&res);

	/* a writer without the key (or with a key on an unkeyed log) refuses */
	struct tg_audit_options wo = {.path = p, .session = "s"};
	struct tg_audit_writer *w = NULL;
	assert_int_equal(tg_audit_open(&wo, &w, &err), -ENOKEY);
	tg_error_freep(&err);
	wo.key_file = key2;
	assert_int_equal(tg_audit_open(&wo, &w, &err), -EBADMSG);
	tg_error_freep(&err);

	/* stripping the HMAC and rebuilding a plain SHA-256 chain does not pass
	 * a verify with the key */
	_cleanup_free_ char *plain = path_of("plain.jsonl");
	make_log(plain, 5, true, NULL);
	char *pf[] = {plain};
	expect(pf, 1, key, TG_AUDIT_MODIFIED, plain, 1, 1);
	wo.path = plain;
	wo.key_file = key;
	assert_int_equal(tg_audit_open(&wo, &w, &err), -EINVAL);
	tg_error_freep(&err);

	/* modify a keyed record */
	struct lines l = {0};
	read_lines(p, &l);
	mutate(&l, M_MODIFY, 3);
	write_lines(p, &l, 0, l.n);
	expect(files, 1, key, TG_AUDIT_MODIFIED, p, 4, 4);
	free_lines(&l);
}

/* Torn last lines of every shape: verify reports truncated; the next writer
 * recovers; verify then passes and names the recovery. */
static void torn_case(const char *name, const char *tail, size_t tail_len, bool tail_is_last_record)
{
	_cleanup_free_ char *p = path_of(name);
	make_log(p, 3, true, NULL);
	if (tail_is_last_record) {
		/* the last record without its '\n' */
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(truncate(p, st.st_size - 1), 0);
	} else {
		put_bytes(p, tail, tail_len, true);
	}
	char *files[] = {p};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_audit_verify_options o = {.ignore_seal = tail_is_last_record};
	assert_int_equal(tg_audit_verify_with(files, 1, &o, &res, &err), 0);
	bool terminated = !tail_is_last_record && memchr(tail, '\n', tail_len);
	assert_int_equal(res.damage, terminated ? TG_AUDIT_MALFORMED : TG_AUDIT_TRUNCATED);
	tg_audit_verify_result_clear(&res);

	struct tg_audit_options wo = {.path = p, .session = "sess-2"};
	struct tg_audit_writer *w = NULL;
	assert_int_equal(tg_audit_open(&wo, &w, &err), 0);
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START};
	struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	assert_int_equal(tg_audit_append(w, &e, &err), 0);
	assert_int_equal(tg_audit_close(w), 0);
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	if (res.damage != TG_AUDIT_INTACT)
		fail_msg("%s: %s at %" PRIu64 ": %s", name, tg_audit_damage_name(res.damage),
		         res.line, res.detail);
	assert_int_equal(res.recoveries, 1);
	assert_non_null(strstr(res.recovery_detail, "torn line"));
	assert_false(res.open_session);
	tg_audit_verify_result_clear(&res);

	/* deleting the torn evidence is noticed */
	struct lines l = {0};
	read_lines(p, &l);
	size_t torn_idx = tail_is_last_record ? 4 : 5;
	mutate(&l, M_DELETE, torn_idx);
	write_lines(p, &l, 0, l.n);
	assert_int_equal(tg_audit_verify(files, 1, &res, &err), 0);
	assert_int_equal(res.damage, TG_AUDIT_DELETED);
	tg_audit_verify_result_clear(&res);
	free_lines(&l);
}

static void test_torn_and_recovery(void **state)
{
	(void)state;
	torn_case("torn1.jsonl", "{\"seq\":6,\"time\":\"20", 19, false);
	torn_case("torn2.jsonl", "\0\0\0", 3, false); /* NULs, as after a power loss */
	torn_case("torn3.jsonl", "\x01\x02garbage\n", 10, false);
	torn_case("torn4.jsonl", NULL, 0, true);
}

static void test_hostile_lines(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("hostile.jsonl");
	const char *bad[] = {
	        "\n",
	        "[]\n",
	        "{\"seq\":1}\n",
	        "{\"seq\":1,\"hash\":\"" TG_AUDIT_ZERO_HASH "\"}\n",
	        "{\"seq\":1,\"time\":\"t\",\"event\":\"call\",\"session\":\"s\",\"prev\":\"x\","
	        "\"hash\":\"" TG_AUDIT_ZERO_HASH "\"}\n",
	        "{\"seq\":1,\"hash\":\"0\",\"hash\":\"" TG_AUDIT_ZERO_HASH "\"}\n",
	};
	char *files[] = {p};
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		put_bytes(p, bad[i], strlen(bad[i]), false);
		expect(files, 1, NULL, TG_AUDIT_MALFORMED, p, 1, 1);
	}
	/* a huge line without a newline is bounded, not slurped */
	_cleanup_free_ char *big = malloc(TG_AUDIT_MAX_LINE + 10);
	memset(big, 'a', TG_AUDIT_MAX_LINE + 10);
	put_bytes(p, big, TG_AUDIT_MAX_LINE + 10, false);
	expect(files, 1, NULL, TG_AUDIT_MALFORMED, p, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_damage_single_file),
	        cmocka_unit_test(test_damage_rotated_files),
	        cmocka_unit_test(test_damage_keyed),
	        cmocka_unit_test(test_open_session_and_seal),
	        cmocka_unit_test(test_hmac),
	        cmocka_unit_test(test_torn_and_recovery),
	        cmocka_unit_test(test_hostile_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
