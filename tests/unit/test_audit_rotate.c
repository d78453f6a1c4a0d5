/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation by size: where the boundaries fall, the chain across files,
 * numbering and `keep`, continuing after a reopen or a rotation done by
 * hand, repair after a crash in the middle of a rotation, a rotation that
 * fails, and damage to a real rotated set (plain, HMAC, signed).
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
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

static char *sec, *pub, *hkey;

static int setup(void **state)
{
	(void)state;
	if (tempdir_make("audit-rot") < 0)
		return -1;
	_cleanup_free_ char *k = path_of("keys");
	struct tg_error *err = NULL;
	if (tg_audit_keygen(k, &sec, &pub, &err) < 0)
		return -1;
	hkey = path_of("hmac.key");
	_cleanup_close_ int fd = open(hkey, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	return tg_write_all(fd, "0123456789abcdef0123456789abcdef", 32);
}

static int teardown(void **state)
{
	(void)state;
	free(sec);
	free(pub);
	free(hkey);
	return tempdir_remove();
}

struct wopts {
	uint64_t rotate;
	unsigned keep;
	const char *key;
	const char *sign;
	uint64_t every;
};

static struct tg_audit_writer *open_w(const char *p, const struct wopts *wo)
{
	struct tg_audit_options o = {.path = p,
	                             .session = "sess",
	                             .fsync = TG_AUDIT_SYNC_BATCH,
	                             .rotate_bytes = wo->rotate,
	                             .rotate_keep = wo->keep,
	                             .key_file = wo->key,
	                             .sign_key_file = wo->sign,
	                             .checkpoint_every = wo->every};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_open(&o, &w, &err) < 0)
		fail_msg("open %s: %s", p, tg_error_msg(err));
	return w;
}

static void append_calls(struct tg_audit_writer *w, int n)
{
	_cleanup_error_ struct tg_error *err = NULL;
	for (int i = 0; i < n; i++) {
		char tool[32];
		snprintf(tool, sizeof(tool), "tool-%04d", i);
		struct tg_audit_record r = {
		        .event = TG_AUDIT_CALL, .tool = tool, .reason = "because"};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
}

static void session(const char *p, const struct wopts *wo, int calls)
{
	struct tg_audit_writer *w = open_w(p, wo);
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_audit_record s = {.event = TG_AUDIT_SESSION_START};
	struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END};
	assert_int_equal(tg_audit_append(w, &s, &err), 0);
	append_calls(w, calls);
	assert_int_equal(tg_audit_append(w, &e, &err), 0);
	assert_int_equal(tg_audit_close(w), 0);
}

static char **rotated_set(const char *p)
{
	char **v = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_rotated_files(p, &v, &err), 0);
	return v;
}

static struct tg_audit_verify_result verify_set(char *const *files, const char *key,
                                                const char *pubkey, bool partial)
{
	struct tg_audit_verify_options o = {
	        .key_file = key, .pubkey_file = pubkey, .partial = partial};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_verify_with(files, tg_strv_len(files), &o, &res, &err) < 0)
		fail_msg("verify: %s", tg_error_msg(err));
	return res;
}

static void expect_intact(char *const *files, const char *key, const char *pubkey, uint64_t records)
{
	struct tg_audit_verify_result res = verify_set(files, key, pubkey, false);
	if (res.damage != TG_AUDIT_INTACT)
		fail_msg("%s at %s:%" PRIu64 ": %s", tg_audit_damage_name(res.damage), res.file,
		         res.line, res.detail);
	if (records)
		assert_int_equal(res.records, records);
	tg_audit_verify_result_clear(&res);
}

static json_t *first_or_last(const char *path, bool last)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(path, 1 << 22, &buf, &len), 0);
	assert_true(len > 0 && buf[len - 1] == '\n');
	buf[len - 1] = '\0';
	char *line = buf;
	if (last) {
		char *nl = strrchr(buf, '\n');
		line = nl ? nl + 1 : buf;
	} else {
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = '\0';
	}
	json_t *o = json_loads(line, 0, NULL);
	assert_non_null(o);
	return o;
}

static off_t size_of(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_size;
}

static void test_boundaries(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("b.jsonl");
	const uint64_t limit = 2000;
	struct wopts wo = {.rotate = limit};
	session(p, &wo, 40);
	_cleanup_strv_free_ char **set = rotated_set(p);
	size_t n = tg_strv_len(set);
	assert_true(n >= 6);
	assert_string_equal(set[n - 1], p);
	int64_t seq = 0;
	const char *prev = NULL;
	_cleanup_json_ json_t *keep_last = NULL;
	for (size_t i = 0; i < n; i++) {
		/* every rotated file reached the limit with its last record, and
		 * not before it */
		if (i + 1 < n) {
			_cleanup_json_ json_t *last = first_or_last(set[i], true);
			assert_non_null(last);
			off_t sz = size_of(set[i]);
			assert_true(sz >= (off_t)limit);
			_cleanup_free_ char *buf = NULL;
			size_t len;
			assert_int_equal(tg_read_file(set[i], 1 << 20, &buf, &len), 0);
			buf[len - 1] = '\0';
			size_t last_len = strlen(strrchr(buf, '\n') + 1) + 1;
			assert_true(sz - (off_t)last_len < (off_t)limit);
		}
		if (size_of(set[i]) == 0)
			continue;
		/* the first record of each file continues the chain */
		_cleanup_json_ json_t *first = first_or_last(set[i], false);
		if (i == 0) {
			assert_int_equal(json_integer_value(json_object_get(first, "seq")), 1);
		} else {
			assert_int_equal(json_integer_value(json_object_get(first, "seq")),
			                 seq + 1);
			assert_string_equal(json_string_value(json_object_get(first, "prev")),
			                    prev);
		}
		json_decref(keep_last);
		keep_last = first_or_last(set[i], true);
		seq = json_integer_value(json_object_get(keep_last, "seq"));
		prev = json_string_value(json_object_get(keep_last, "hash"));
	}
	assert_int_equal(seq, 42);
	expect_intact(set, NULL, NULL, 42);

	/* a reopened log goes on (and rotates on) where it was */
	session(p, &wo, 40);
	_cleanup_strv_free_ char **set2 = rotated_set(p);
	assert_true(tg_strv_len(set2) > n);
	expect_intact(set2, NULL, NULL, 84);
	/* and without rotation configured the same log is continued too */
	wo.rotate = 0;
	session(p, &wo, 3);
	_cleanup_strv_free_ char **set3 = rotated_set(p);
	assert_int_equal(tg_strv_len(set3), tg_strv_len(set2));
	expect_intact(set3, NULL, NULL, 89);
}

static void test_keep_and_partial(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("keep.jsonl");
	struct wopts wo = {.rotate = 1500, .keep = 3};
	session(p, &wo, 60);
	_cleanup_strv_free_ char **set = rotated_set(p);
	assert_int_equal(tg_strv_len(set), 4);
	_cleanup_free_ char *four = tg_strdup_printf("%s.4", p);
	assert_int_equal(access(four, F_OK), -1);
	/* the oldest files are gone: the chain starts in the middle */
	struct tg_audit_verify_result res = verify_set(set, NULL, NULL, false);
	assert_int_equal(res.damage, TG_AUDIT_DELETED);
	assert_non_null(strstr(res.detail, "rotated files left out"));
	tg_audit_verify_result_clear(&res);
	res = verify_set(set, NULL, NULL, true);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.first_seq > 1);
	assert_int_equal(res.last_seq, 62);
	tg_audit_verify_result_clear(&res);
	/* --partial does not excuse damage after the start */
	char *mid[] = {set[0], set[2], set[3], NULL};
	res = verify_set(mid, NULL, NULL, true);
	assert_int_equal(res.damage, TG_AUDIT_DELETED);
	assert_string_equal(res.file, set[2]);
	assert_int_equal(res.line, 1);
	tg_audit_verify_result_clear(&res);
}

static void test_continue_after_manual_rotation(void **state)
{
	(void)state;
	/* logrotate-style: the log moved away, an empty one in its place */
	_cleanup_free_ char *p = path_of("manual.jsonl");
	_cleanup_free_ char *p1 = tg_strdup_printf("%s.1", p);
	struct wopts wo = {0};
	session(p, &wo, 3);
	assert_int_equal(rename(p, p1), 0);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	session(p, &wo, 2);
	_cleanup_json_ json_t *first = first_or_last(p, false);
	assert_int_equal(json_integer_value(json_object_get(first, "seq")), 6);
	_cleanup_strv_free_ char **set = rotated_set(p);
	expect_intact(set, NULL, NULL, 9);
	/* ...or no file at all: the same */
	_cleanup_free_ char *p2 = tg_strdup_printf("%s.2", p);
	assert_int_equal(rename(p1, p2), 0);
	assert_int_equal(rename(p, p1), 0);
	session(p, &wo, 1);
	_cleanup_strv_free_ char **set2 = rotated_set(p);
	assert_int_equal(tg_strv_len(set2), 3);
	expect_intact(set2, NULL, NULL, 12);
}

static void test_repair_interrupted_rotation(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("crash.jsonl");
	_cleanup_free_ char *p1 = tg_strdup_printf("%s.1", p);
	_cleanup_free_ char *tmp = tg_strdup_printf("%s.rotating", p);
	struct wopts wo = {.rotate = 1500};
	session(p, &wo, 12);
	_cleanup_strv_free_ char **before = rotated_set(p);
	size_t n = tg_strv_len(before);
	assert_true(n >= 2);
	/* a crash after step 3 (the log linked as .1 after the shift) and
	 * before step 4, with the temporary file left behind */
	for (size_t i = n - 1; i >= 1; i--) {
		_cleanup_free_ char *from = tg_strdup_printf("%s.%zu", p, i);
		_cleanup_free_ char *to = tg_strdup_printf("%s.%zu", p, i + 1);
		assert_int_equal(rename(from, to), 0);
	}
	assert_int_equal(link(p, p1), 0);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	session(p, &(struct wopts){0}, 1);
	assert_int_equal(access(tmp, F_OK), -1);
	/* .1 was the extra name and is gone; the numbers have a gap, the
	 * order is right */
	assert_int_equal(access(p1, F_OK), -1);
	_cleanup_strv_free_ char **after = rotated_set(p);
	assert_int_equal(tg_strv_len(after), n);
	expect_intact(after, NULL, NULL, 14 + 3);
	/* the next rotation fills the gap */
	session(p, &wo, 12);
	assert_int_equal(access(p1, F_OK), 0);
	_cleanup_strv_free_ char **later = rotated_set(p);
	expect_intact(later, NULL, NULL, 14 + 3 + 14);
}

static void test_failed_rotation(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("fail.jsonl");
	_cleanup_free_ char *tmp = tg_strdup_printf("%s.rotating", p);
	_cleanup_free_ char *p1 = tg_strdup_printf("%s.1", p);
	/* something in the way of the new file */
	assert_int_equal(mkdir(tmp, 0700), 0);
	struct wopts wo = {.rotate = 1000};
	struct tg_audit_writer *w = open_w(p, &wo);
	append_calls(w, 20);
	struct tg_audit_stats st;
	tg_audit_get_stats(w, &st);
	assert_int_equal(st.rotations, 0);
	assert_int_equal(st.records, 20);
	assert_int_equal(access(p1, F_OK), -1);
	/* it is tried again later, and works once the way is clear */
	assert_int_equal(rmdir(tmp), 0);
	append_calls(w, 400);
	tg_audit_get_stats(w, &st);
	assert_true(st.rotations >= 1);
	assert_int_equal(tg_audit_close(w), 0);
	_cleanup_strv_free_ char **set = rotated_set(p);
	expect_intact(set, NULL, NULL, 420);
}

static void *appender(void *arg)
{
	append_calls(arg, 300);
	return NULL;
}

static void test_concurrent_rotation(void **state)
{
	(void)state;
	/* 8 threads, group commit running, signed, rotating every few KiB: no
	 * file is rotated twice in a row, each ends signed, the set is intact */
	_cleanup_free_ char *p = path_of("conc.jsonl");
	struct wopts wo = {.rotate = 8192, .sign = sec, .every = 50};
	struct tg_audit_writer *w = open_w(p, &wo);
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, appender, w), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	struct tg_audit_stats st;
	tg_audit_get_stats(w, &st);
	assert_int_equal(tg_audit_close(w), 0);
	_cleanup_strv_free_ char **set = rotated_set(p);
	size_t n = tg_strv_len(set);
	/* The final checkpoint written by close may fill the file past the
	 * limit and rotate it once more, after the stats were read. */
	assert_true(n - 1 == st.rotations || n - 1 == st.rotations + 1);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_true(size_of(set[i]) >= 8192);
		_cleanup_json_ json_t *last = first_or_last(set[i], true);
		assert_string_equal(json_string_value(json_object_get(last, "event")),
		                    "checkpoint");
	}
	struct tg_audit_verify_result res = verify_set(set, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.records - res.checkpoints, 2400);
	tg_audit_verify_result_clear(&res);
}

/* Damage to a real rotated set: a file lost, files out of order, the end of
 * a rotated file cut, a record changed; each named in the right file. */
static void damage(const char *name, const struct wopts *wo, const char *pubkey)
{
	_cleanup_free_ char *p = path_of(name);
	session(p, wo, 30);
	_cleanup_strv_free_ char **set = rotated_set(p);
	size_t n = tg_strv_len(set);
	assert_true(n >= 4);
	expect_intact(set, wo->key, pubkey, 0);
	struct tg_audit_verify_result res;

	/* a file in the middle missing */
	char *gap[8] = {0};
	for (size_t i = 0, j = 0; i < n && j < 7; i++)
		if (i != 1)
			gap[j++] = set[i];
	res = verify_set(gap, wo->key, pubkey, false);
	assert_int_equal(res.damage, TG_AUDIT_DELETED);
	assert_string_equal(res.file, set[2]);
	assert_int_equal(res.line, 1);
	tg_audit_verify_result_clear(&res);

	/* two files swapped */
	char *swapped[8] = {0};
	for (size_t i = 0; i < n && i < 7; i++)
		swapped[i] = set[i];
	swapped[1] = set[2];
	swapped[2] = set[1];
	res = verify_set(swapped, wo->key, pubkey, false);
	assert_true(res.damage == TG_AUDIT_REORDERED || res.damage == TG_AUDIT_DELETED);
	assert_string_equal(res.file, set[2]);
	tg_audit_verify_result_clear(&res);

	/* the last record of a rotated file cut off */
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(set[1], 1 << 20, &buf, &len), 0);
	buf[len - 1] = '\0';
	size_t keep = (size_t)(strrchr(buf, '\n') - buf) + 1;
	assert_int_equal(truncate(set[1], (off_t)keep), 0);
	res = verify_set(set, wo->key, pubkey, false);
	assert_int_equal(res.damage, TG_AUDIT_DELETED);
	assert_string_equal(res.file, set[2]);
	assert_int_equal(res.line, 1);
	tg_audit_verify_result_clear(&res);
	buf[len - 1] = '\n';
	_cleanup_close_ int fd = open(set[1], O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(tg_write_all(fd, buf, len), 0);
	expect_intact(set, wo->key, pubkey, 0);

	/* a record changed in a rotated file */
	char *t = strstr(buf, "because");
	t[0] = 'B';
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	res = verify_set(set, wo->key, pubkey, false);
	assert_int_equal(res.damage, TG_AUDIT_MODIFIED);
	assert_string_equal(res.file, set[1]);
	tg_audit_verify_result_clear(&res);
}

static void test_damage_plain(void **state)
{
	(void)state;
	damage("d-plain.jsonl", &(struct wopts){.rotate = 1200}, NULL);
}

static void test_damage_hmac(void **state)
{
	(void)state;
	damage("d-hmac.jsonl", &(struct wopts){.rotate = 1200, .key = hkey}, NULL);
}

static void test_damage_signed(void **state)
{
	(void)state;
	struct wopts wo = {.rotate = 1500, .sign = sec, .every = 4};
	damage("d-signed.jsonl", &wo, pub);
	/* every rotated file ends with a checkpoint */
	_cleanup_free_ char *p = path_of("s2.jsonl");
	session(p, &wo, 30);
	_cleanup_strv_free_ char **set = rotated_set(p);
	for (size_t i = 0; set[i + 1]; i++) {
		_cleanup_json_ json_t *last = first_or_last(set[i], true);
		assert_string_equal(json_string_value(json_object_get(last, "event")),
		                    "checkpoint");
	}
	expect_intact(set, NULL, pub, 0);
	/* keyed and signed */
	wo.key = hkey;
	damage("d-both.jsonl", &wo, pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_boundaries),
	        cmocka_unit_test(test_keep_and_partial),
	        cmocka_unit_test(test_continue_after_manual_rotation),
	        cmocka_unit_test(test_repair_interrupted_rotation),
	        cmocka_unit_test(test_failed_rotation),
	        cmocka_unit_test(test_concurrent_rotation),
	        cmocka_unit_test(test_damage_plain),
	        cmocka_unit_test(test_damage_hmac),
	        cmocka_unit_test(test_damage_signed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
