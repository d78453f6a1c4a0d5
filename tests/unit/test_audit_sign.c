/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 checkpoints: keygen, checkpoints by count, by time and at close,
 * verify with the public key alone, and every way to attack them: a
 * signature changed, forged with another key, a checkpoint removed, records
 * rewritten under a checkpoint (with the SHA-256 chain recomputed, as an
 * attacker who can write the file would), with and without HMAC.
 */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "audit.h"
#include "../../audit/internal.h"
#include "tg.h"
#include "tempdir.h"
#include "loglines.h"

static char *sec, *pub, *sec2, *pub2, *hkey;

static int setup(void **state)
{
	(void)state;
	if (tempdir_make("audit-sign") < 0)
		return -1;
	_cleanup_free_ char *k1 = path_of("keys"), *k2 = path_of("other");
	struct tg_error *err = NULL;
	if (tg_audit_keygen(k1, &sec, &pub, &err) < 0 ||
	    tg_audit_keygen(k2, &sec2, &pub2, &err) < 0)
		return -1;
	hkey = path_of("hmac.key");
	put_bytes(hkey, "0123456789abcdef0123456789abcdef", 32, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(sec);
	free(pub);
	free(sec2);
	free(pub2);
	free(hkey);
	return tempdir_remove();
}

static struct tg_audit_writer *open_w(const char *p, const char *key, const char *sign,
                                      uint64_t every, uint64_t interval_ms)
{
	struct tg_audit_options o = {.path = p,
	                             .session = "sess",
	                             .fsync = TG_AUDIT_SYNC_NEVER,
	                             .key_file = key,
	                             .sign_key_file = sign,
	                             .checkpoint_every = every,
	                             .checkpoint_interval_ms = interval_ms};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_open(&o, &w, &err) < 0)
		fail_msg("open %s: %s", p, tg_error_msg(err));
	return w;
}

static void append(struct tg_audit_writer *w, enum tg_audit_event ev, const char *tool)
{
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_audit_record r = {.event = ev, .tool = tool, .reason = "because"};
	assert_int_equal(tg_audit_append(w, &r, &err), 0);
}

/* session_start, n calls, session_end; closed. */
static void make_log(const char *p, int n, const char *key, const char *sign, uint64_t every)
{
	struct tg_audit_writer *w = open_w(p, key, sign, every, 0);
	append(w, TG_AUDIT_SESSION_START, NULL);
	for (int i = 0; i < n; i++) {
		char tool[16];
		snprintf(tool, sizeof(tool), "tool%d", i);
		append(w, TG_AUDIT_CALL, tool);
	}
	append(w, TG_AUDIT_SESSION_END, NULL);
	assert_int_equal(tg_audit_close(w), 0);
}

static struct tg_audit_verify_result verify(char *const *files, size_t n, const char *key,
                                            const char *pubkey, bool no_seal)
{
	struct tg_audit_verify_options o = {
	        .key_file = key, .pubkey_file = pubkey, .ignore_seal = no_seal};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	if (tg_audit_verify_with(files, n, &o, &res, &err) < 0)
		fail_msg("verify: %s", tg_error_msg(err));
	return res;
}

static void expect(const char *p, const char *key, const char *pubkey, bool no_seal,
                   enum tg_audit_damage d, uint64_t line, const char *detail_has)
{
	char *files[] = {(char *)p};
	struct tg_audit_verify_result res = verify(files, 1, key, pubkey, no_seal);
	if (res.damage != d || (d != TG_AUDIT_INTACT && res.line != line) ||
	    (detail_has && (!res.detail || !strstr(res.detail, detail_has))))
		fail_msg("want %s at line %" PRIu64 " (%s), got %s at line %" PRIu64 ": %s",
		         tg_audit_damage_name(d), line, detail_has ? detail_has : "-",
		         tg_audit_damage_name(res.damage), res.line, res.detail ? res.detail : "-");
	tg_audit_verify_result_clear(&res);
}

/* ---------------------------------------------------------------------------
 * A log as lines, and what an attacker with write access does to it.
 */
static void drop_line(struct lines *l, size_t i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(char *));
	l->n--;
}

static json_t *line_json(const char *line)
{
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	return o;
}

/* Renumber, re-chain and re-hash every line, as someone who can write the
 * file and knows the format (not the keys) can. */
static void rechain(struct lines *l, const char *key_file)
{
	struct tg_audit_key *key = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	if (key_file)
		assert_int_equal(tg_audit_key_load(key_file, &key, &err), 0);
	char prev[TG_SHA256_HEX_LEN] = TG_AUDIT_ZERO_HASH;
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_json_ json_t *o = line_json(l->v[i]);
		json_object_set_new(o, "seq", json_integer((json_int_t)i + 1));
		json_object_set_new(o, "prev", json_string(prev));
		json_object_del(o, "hash");
		_cleanup_free_ char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		size_t bl = strlen(body);
		char h[TG_SHA256_HEX_LEN];
		tg_audit_hash(key, body, bl - 1, h);
		free(l->v[i]);
		l->v[i] = tg_strdup_printf("%.*s,\"hash\":\"%s\"}\n", (int)(bl - 1), body, h);
		memcpy(prev, h, sizeof(prev));
	}
	tg_audit_key_free(key);
}

static size_t find_event(const struct lines *l, const char *event, size_t nth)
{
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_json_ json_t *o = line_json(l->v[i]);
		if (strcmp(json_string_value(json_object_get(o, "event")), event) == 0 &&
		    nth-- == 0)
			return i;
	}
	fail_msg("no %s", event);
	return 0;
}

/* Set a member of line i to a string value (re-serialized: rechain after). */
static void set_member(struct lines *l, size_t i, const char *name, const char *value)
{
	_cleanup_json_ json_t *o = line_json(l->v[i]);
	json_object_set_new(o, name, json_string(value));
	_cleanup_free_ char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	free(l->v[i]);
	l->v[i] = tg_strdup_printf("%s\n", s);
}

/* ---------------------------------------------------------------------------
 */

static void test_keygen(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	_cleanup_free_ char *s = NULL, *p = NULL;
	size_t sl, pl;
	assert_int_equal(tg_read_file(sec, 4096, &s, &sl), 0);
	assert_int_equal(tg_read_file(pub, 4096, &p, &pl), 0);
	assert_int_equal(sl, strlen("ed25519-secret:") + 64 + 1);
	assert_int_equal(strncmp(s, "ed25519-secret:", 15), 0);
	assert_int_equal(pl, strlen("ed25519:") + 64 + 1);
	assert_int_equal(strncmp(p, "ed25519:", 8), 0);
	/* the public key is the secret's */
	struct tg_audit_signer *sg = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_signer_load(sec, &sg, &err), 0);
	assert_memory_equal(tg_audit_signer_pubkey(sg), p + 8, 64);
	uint8_t pk[TG_AUDIT_PUBKEY_LEN];
	assert_int_equal(tg_audit_pubkey_load(pub, pk, &err), 0);
	char sig[TG_AUDIT_SIG_HEX_LEN];
	tg_audit_checkpoint_sign(sg, 7, TG_AUDIT_ZERO_HASH, sig);
	assert_true(tg_audit_checkpoint_verify(pk, 7, TG_AUDIT_ZERO_HASH, sig));
	assert_false(tg_audit_checkpoint_verify(pk, 8, TG_AUDIT_ZERO_HASH, sig));
	tg_audit_signer_free(sg);

	/* keys are never replaced */
	_cleanup_free_ char *k1 = path_of("keys");
	assert_int_equal(tg_audit_keygen(k1, NULL, NULL, &err), -EEXIST);
	tg_error_freep(&err);
	/* the two kinds are not mixed up */
	assert_int_equal(tg_audit_pubkey_load(sec, pk, &err), -EINVAL);
	assert_non_null(strstr(tg_error_msg(err), "secret key"));
	tg_error_freep(&err);
	assert_int_equal(tg_audit_signer_load(pub, &sg, &err), -EINVAL);
	tg_error_freep(&err);
	assert_int_equal(tg_audit_pubkey_load(hkey, pk, &err), -EINVAL);
}

static void test_checkpoints_by_count_and_close(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("count.jsonl");
	/* 1 start + 7 calls + 1 end = 9 records, a checkpoint after every 3,
	 * then one at close for the last 0: none needed when the count just
	 * signed everything */
	make_log(p, 7, NULL, sec, 3);
	struct lines l = {0};
	read_lines(p, &l);
	assert_int_equal(l.n, 12);
	const size_t cps[] = {3, 7, 11};
	for (size_t i = 0; i < 3; i++) {
		_cleanup_json_ json_t *o = line_json(l.v[cps[i]]);
		_cleanup_json_ json_t *before = line_json(l.v[cps[i] - 1]);
		assert_string_equal(json_string_value(json_object_get(o, "event")), "checkpoint");
		assert_int_equal(json_integer_value(json_object_get(o, "signed_seq")),
		                 json_integer_value(json_object_get(before, "seq")));
		assert_string_equal(json_string_value(json_object_get(o, "signed_hash")),
		                    json_string_value(json_object_get(before, "hash")));
	}
	free_lines(&l);
	char *files[] = {p};
	struct tg_audit_verify_result res = verify(files, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.signatures_checked);
	assert_int_equal(res.checkpoints, 3);
	assert_int_equal(res.signed_seq, 12);
	assert_false(res.open_session); /* a checkpoint after session_end does not open it */
	tg_audit_verify_result_clear(&res);
	/* without the public key: the chain alone, checkpoints counted */
	res = verify(files, 1, NULL, NULL, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_false(res.signatures_checked);
	assert_int_equal(res.checkpoints, 3);
	tg_audit_verify_result_clear(&res);

	/* no count: one checkpoint, at close */
	_cleanup_free_ char *q = path_of("close.jsonl");
	make_log(q, 4, NULL, sec, 0);
	read_lines(q, &l);
	assert_int_equal(l.n, 7);
	assert_int_equal(find_event(&l, "checkpoint", 0), 6);
	free_lines(&l);
	expect(q, NULL, pub, false, TG_AUDIT_INTACT, 0, NULL);

	/* a second session continues the log; reopening a log that ends in a
	 * checkpoint after session_end needs no recovery */
	struct tg_audit_writer *w = open_w(q, NULL, sec, 0, 0);
	append(w, TG_AUDIT_SESSION_START, NULL);
	append(w, TG_AUDIT_SESSION_END, NULL);
	assert_int_equal(tg_audit_close(w), 0);
	char *qf[] = {q};
	res = verify(qf, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.recoveries, 0);
	assert_int_equal(res.checkpoints, 2);
	assert_int_equal(res.records, 10);
	tg_audit_verify_result_clear(&res);
}

static void test_checkpoints_by_time(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("time.jsonl");
	char *files[] = {p};
	struct tg_audit_writer *w = open_w(p, NULL, sec, 0, 100);
	append(w, TG_AUDIT_SESSION_START, NULL);
	/* written, not signed yet: verify says so while the writer is there */
	struct tg_audit_verify_result res = verify(files, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.unsigned_records, 1);
	tg_audit_verify_result_clear(&res);
	/* the idle log gets its checkpoint from the background thread */
	for (int i = 0; i < 100 && tg_audit_seq(w) < 2; i++)
		usleep(20000);
	assert_int_equal(tg_audit_seq(w), 2);
	res = verify(files, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.unsigned_records, 0);
	assert_int_equal(res.checkpoints, 1);
	tg_audit_verify_result_clear(&res);
	/* nothing new: no new checkpoint */
	usleep(250000);
	assert_int_equal(tg_audit_seq(w), 2);
	append(w, TG_AUDIT_CALL, "t");
	append(w, TG_AUDIT_SESSION_END, NULL);
	assert_int_equal(tg_audit_close(w), 0);
	res = verify(files, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.checkpoints >= 2);
	assert_int_equal(res.signed_seq, res.last_seq);
	tg_audit_verify_result_clear(&res);
}

/* One attack on a signed log of 9 records with checkpoints every 3 (lines:
 * 0-2 records, 3 cp, 4-6 records, 7 cp, 8-10 records, 11 cp). */
static void attacks(const char *key)
{
	_cleanup_free_ char *p = path_of(key ? "attack-keyed.jsonl" : "attack.jsonl");
	make_log(p, 7, key, sec, 3);
	struct lines orig, l;
	read_lines(p, &orig);
	assert_int_equal(orig.n, 12);
#define RESET()                                        \
	do {                                           \
		free_lines(&l);                        \
		for (size_t i_ = 0; i_ < orig.n; i_++) \
			l.v[i_] = strdup(orig.v[i_]);  \
		l.n = orig.n;                          \
	} while (0)
	l.n = 0;

	RESET();
	expect(p, key, pub, false, TG_AUDIT_INTACT, 0, NULL);
	/* the wrong public key */
	expect(p, key, pub2, false, TG_AUDIT_BAD_SIGNATURE, 4, "another key");

	/* a signature changed, chain left alone: the hash shows it */
	RESET();
	char *sig = strstr(l.v[7], "\"sig\":\"") + 7;
	sig[5] = sig[5] == 'a' ? 'b' : 'a';
	write_lines(p, &l, 0, l.n);
	expect(p, key, pub, false, TG_AUDIT_MODIFIED, 8, NULL);
	if (!key) {
		/* ...and with the chain recomputed (no key needed for that): the
		 * signature shows it */
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_BAD_SIGNATURE, 8, "does not verify");

		/* a record under a checkpoint rewritten, chain recomputed */
		RESET();
		char *b = strstr(l.v[5], "because");
		b[0] = 'B';
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_MODIFIED, 8, "changed after they were signed");
		/* the chain alone cannot see that (the reason for signatures) */
		expect(p, key, NULL, true, TG_AUDIT_INTACT, 0, NULL);

		/* ...and the checkpoint re-signed with another key */
		_cleanup_json_ json_t *cp = line_json(l.v[7]);
		struct tg_audit_signer *other = NULL;
		_cleanup_error_ struct tg_error *err = NULL;
		assert_int_equal(tg_audit_signer_load(sec2, &other, &err), 0);
		char nsig[TG_AUDIT_SIG_HEX_LEN];
		tg_audit_checkpoint_sign(other, 7, json_string_value(json_object_get(cp, "prev")),
		                         nsig);
		set_member(&l, 7, "pubkey", tg_audit_signer_pubkey(other));
		set_member(&l, 7, "sig", nsig);
		tg_audit_signer_free(other);
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_BAD_SIGNATURE, 8, "another key");

		/* a checkpoint in the middle removed, the rest renumbered */
		RESET();
		drop_line(&l, 7);
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_MODIFIED, 11, "changed after they were signed");

		/* the last checkpoint removed: the end is not signed */
		RESET();
		drop_line(&l, 11);
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_TRUNCATED, 9, "not signed");
		/* the seal saw it too */
		expect(p, key, NULL, false, TG_AUDIT_TRUNCATED, 12, "closed at seq 12");

		/* every checkpoint removed */
		RESET();
		drop_line(&l, 11);
		drop_line(&l, 7);
		drop_line(&l, 3);
		rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, TG_AUDIT_BAD_SIGNATURE, 1, "not signed");
	}
	/* the kinds of damage of an unsigned log are named the same in a
	 * signed one: a copy inserted, two records swapped, a torn end */
	RESET();
	for (size_t i = l.n; i > 5; i--)
		l.v[i] = l.v[i - 1];
	l.v[5] = strdup(l.v[1]);
	l.n++;
	write_lines(p, &l, 0, l.n);
	expect(p, key, pub, false, TG_AUDIT_INSERTED, 6, NULL);
	RESET();
	char *t = l.v[4];
	l.v[4] = l.v[5];
	l.v[5] = t;
	write_lines(p, &l, 0, l.n);
	expect(p, key, pub, false, TG_AUDIT_REORDERED, 5, NULL);
	RESET();
	l.v[11][strlen(l.v[11]) / 2] = '\0';
	write_lines(p, &l, 0, l.n);
	expect(p, key, pub, false, TG_AUDIT_TRUNCATED, 12, "torn last line");

	/* a checkpoint removed, chain not recomputed: deleted */
	RESET();
	drop_line(&l, 3);
	write_lines(p, &l, 0, l.n);
	expect(p, key, pub, true, TG_AUDIT_DELETED, 4, NULL);
	/* a checkpoint with a member missing */
	RESET();
	{
		_cleanup_json_ json_t *o = line_json(l.v[3]);
		json_object_del(o, "sig");
		_cleanup_free_ char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		free(l.v[3]);
		l.v[3] = tg_strdup_printf("%s\n", s);
		if (!key)
			rechain(&l, NULL);
		write_lines(p, &l, 0, l.n);
		expect(p, key, pub, true, key ? TG_AUDIT_MODIFIED : TG_AUDIT_MALFORMED, 4, NULL);
	}
	free_lines(&l);
	free_lines(&orig);
#undef RESET
}

static void test_attacks(void **state)
{
	(void)state;
	attacks(NULL);
}

static void test_attacks_keyed(void **state)
{
	(void)state;
	attacks(hkey);
	/* a keyed log needs its HMAC key, also when a public key is given */
	_cleanup_free_ char *p = path_of("keyed-signed.jsonl");
	make_log(p, 2, hkey, sec, 0);
	char *files[] = {p};
	struct tg_audit_verify_options o = {.pubkey_file = pub};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify_with(files, 1, &o, &res, &err), -ENOKEY);
}

static void test_unsigned_log_with_pubkey(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("plain.jsonl");
	make_log(p, 3, NULL, NULL, 0);
	expect(p, NULL, pub, false, TG_AUDIT_BAD_SIGNATURE, 1, "not signed");
	expect(p, NULL, NULL, false, TG_AUDIT_INTACT, 0, NULL);
	/* an empty log has nothing to sign */
	_cleanup_free_ char *e = path_of("empty.jsonl");
	put_bytes(e, "", 0, false);
	expect(e, NULL, pub, false, TG_AUDIT_INTACT, 0, NULL);
	/* a bad public key file is an error, not a verdict */
	char *files[] = {p};
	struct tg_audit_verify_options o = {.pubkey_file = "/nonexistent/key.pub"};
	struct tg_audit_verify_result res;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_verify_with(files, 1, &o, &res, &err), -ENOENT);
}

static void test_killed_writer(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("killed.jsonl");
	int ready[2];
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tg_audit_options o = {.path = p,
		                             .session = "doomed",
		                             .fsync = TG_AUDIT_SYNC_NEVER,
		                             .sign_key_file = sec,
		                             .checkpoint_every = 50};
		struct tg_audit_writer *w = NULL;
		struct tg_error *err = NULL;
		if (tg_audit_open(&o, &w, &err) < 0)
			_exit(1);
		for (int i = 0;; i++) {
			struct tg_audit_record r = {.event = i ? TG_AUDIT_CALL
			                                       : TG_AUDIT_SESSION_START,
			                            .tool = "loop"};
			if (tg_audit_append(w, &r, &err) < 0)
				_exit(1);
			if (i == 200 && write(ready[1], "x", 1) != 1)
				_exit(1);
		}
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	char *files[] = {p};
	/* the chain is intact; its end is not signed and nobody is writing */
	struct tg_audit_verify_result res = verify(files, 1, NULL, NULL, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_true(res.open_session);
	uint64_t checkpoints = res.checkpoints;
	assert_true(checkpoints >= 4);
	tg_audit_verify_result_clear(&res);
	res = verify(files, 1, NULL, pub, false);
	if (res.damage == TG_AUDIT_INTACT) {
		/* killed right after a checkpoint */
		assert_int_equal(res.signed_seq, res.last_seq);
	} else {
		assert_int_equal(res.damage, TG_AUDIT_TRUNCATED);
		assert_non_null(strstr(res.detail, "not signed"));
	}
	tg_audit_verify_result_clear(&res);
	/* the next writer recovers, and its checkpoints cover it all */
	struct tg_audit_writer *w = open_w(p, NULL, sec, 50, 0);
	append(w, TG_AUDIT_SESSION_START, NULL);
	append(w, TG_AUDIT_SESSION_END, NULL);
	assert_int_equal(tg_audit_close(w), 0);
	res = verify(files, 1, NULL, pub, false);
	assert_int_equal(res.damage, TG_AUDIT_INTACT);
	assert_int_equal(res.recoveries, 1);
	assert_int_equal(res.signed_seq, res.last_seq);
	tg_audit_verify_result_clear(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keygen),
	        cmocka_unit_test(test_checkpoints_by_count_and_close),
	        cmocka_unit_test(test_checkpoints_by_time),
	        cmocka_unit_test(test_attacks),
	        cmocka_unit_test(test_attacks_keyed),
	        cmocka_unit_test(test_unsigned_log_with_pubkey),
	        cmocka_unit_test(test_killed_writer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
