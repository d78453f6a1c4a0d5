/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying a log: the algorithm of docs/audit.md "Verification", step by
 * step. Lines of all files are read in order as one sequence; each line is
 * checked on its own (envelope, hash) and then against the chain (seq,
 * prev). The first line that fails is classified (classify.c) with one line
 * of lookahead, and, when that is not enough, one scan of the rest.
 */
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "verify.h"

void tg_audit_item_clear(struct tg_audit_item *it)
{
	free(it->data);
	tg_audit_parsed_clear(&it->p);
	memset(it, 0, sizeof(*it));
}

void tg_audit_item_analyze(struct tg_audit_item *it, const struct tg_audit_key *key)
{
	if (it->too_long) {
		it->why = "line too long";
		it->parse_rc = -EBADMSG;
		return;
	}
	it->parse_rc = tg_audit_parse_line(it->data, it->len, &it->p, &it->why);
	if (it->parse_rc < 0)
		return;
	if (it->p.keyed && !key) {
		it->unverifiable = true;
		return;
	}
	char h[TG_SHA256_HEX_LEN];
	tg_audit_hash(it->p.keyed ? key : NULL, it->data, it->p.body_len, h);
	it->hash_ok = strcmp(h, it->p.hash) == 0;
}

int tg_audit_cursor_next(struct tg_audit_cursor *c, struct tg_audit_item *it, struct tg_error **err)
{
	for (;;) {
		if (!c->rd) {
			if (c->fi >= c->n_files)
				return 0;
			int r = tg_audit_reader_open_at(c->files[c->fi], c->start_offset,
			                                c->start_lineno, &c->rd, err);
			c->start_offset = 0;
			c->start_lineno = 1;
			if (r < 0)
				return r;
		}
		const struct tg_audit_line *l;
		int r = tg_audit_reader_next_raw(c->rd, &l, err);
		if (r < 0)
			return r;
		if (r == 1) {
			it->data = malloc(l->len + 1);
			if (!it->data)
				return tg_error_set(err, -ENOMEM, "out of memory");
			memcpy(it->data, l->data, l->len + 1);
			it->len = l->len;
			it->lineno = l->lineno;
			it->offset = l->offset;
			it->terminated = l->terminated;
			it->too_long = l->too_long;
			it->fi = c->fi;
			it->present = true;
			tg_audit_item_analyze(it, c->key);
			return 1;
		}
		tg_audit_reader_free(c->rd);
		c->rd = NULL;
		c->fi++;
	}
}

void tg_audit_cursor_clear(struct tg_audit_cursor *c)
{
	tg_audit_reader_free(c->rd);
	c->rd = NULL;
}

void tg_audit_verify_result_clear(struct tg_audit_verify_result *r)
{
	if (!r)
		return;
	free(r->file);
	free(r->detail);
	free(r->open_session_id);
	free(r->recovery_detail);
	memset(r, 0, sizeof(*r));
}

void tg_audit_damage_set(struct tg_audit_verify_result *res, enum tg_audit_damage kind,
                         const char *file, uint64_t line, uint64_t seq, char *detail)
{
	res->damage = kind;
	res->file = strdup(file);
	res->line = line;
	res->seq = seq;
	res->detail = detail ? detail : strdup(tg_audit_damage_name(kind));
}

struct vstate {
	char *const *files;
	size_t n_files;
	const struct tg_audit_key *key;
	struct tg_audit_verify_result *res;
	uint64_t expect;
	char prev[TG_SHA256_HEX_LEN];
	bool keyed_known, keyed;
	bool skipped_torn; /* the line before the current one was a recorded torn line */
	bool have_seal;
	uint64_t seal_seq;
	char seal_hash[TG_SHA256_HEX_LEN];
	char *last_event;   /* of the last record that is not a checkpoint */
	char *last_session; /* likewise */
	size_t last_fi;
	uint64_t last_lineno;
	/* signatures */
	bool have_pubkey;
	uint8_t pk[TG_AUDIT_PUBKEY_LEN];
	char pk_hex[TG_SHA256_HEX_LEN];
	uint64_t last_cp_seq;     /* the last good checkpoint (0: none yet) */
	bool unsigned_at;         /* records after it: the first one is at */
	size_t unsigned_fi;       /* ...this file */
	uint64_t unsigned_lineno; /* ...and line */
};

/* Is `la` the record that must come next (a good record that chains)? */
bool tg_audit_item_fits(const struct tg_audit_item *la, uint64_t expect, const char *prev)
{
	return la && la->present && la->parse_rc == 0 && la->hash_ok && la->p.seq == expect &&
	       strcmp(la->p.prev, prev) == 0;
}

/* A recovery record that names exactly the bytes of `bad` as torn. */
static bool recovery_names(const struct tg_audit_item *la, const struct tg_audit_item *bad)
{
	if (!la->present || la->parse_rc != 0 || !la->hash_ok ||
	    strcmp(la->p.event, TG_AUDIT_EVENT_RECOVERY) != 0)
		return false;
	const json_t *n = json_object_get(la->p.obj, "torn_bytes");
	const json_t *h = json_object_get(la->p.obj, "torn_sha256");
	if (!json_is_integer(n) || !json_is_string(h) ||
	    (uint64_t)json_integer_value(n) != bad->len)
		return false;
	char hex[TG_SHA256_HEX_LEN];
	tg_sha256_hex(bad->data, bad->len, hex);
	return strcmp(hex, json_string_value(h)) == 0;
}

static void note_recovery(struct vstate *st, const struct tg_audit_item *it)
{
	struct tg_audit_verify_result *res = st->res;
	res->recoveries++;
	if (res->recovery_detail)
		return;
	const json_t *n = json_object_get(it->p.obj, "torn_bytes");
	const json_t *u = json_object_get(it->p.obj, "unterminated_session");
	_cleanup_free_ char *torn = NULL, *unterm = NULL;
	if (json_is_integer(n))
		torn = tg_strdup_printf("a torn line of %" JSON_INTEGER_FORMAT
		                        " bytes (crash mid-write) at line %" PRIu64,
		                        json_integer_value(n), it->lineno - 1);
	if (json_is_string(u))
		unterm = tg_strdup_printf("session %s ended without session_end",
		                          json_string_value(u));
	res->recovery_detail = tg_strdup_printf(
	        "%s:%" PRIu64 " (seq %" PRIu64 "): recovery: %s%s%s", st->files[it->fi], it->lineno,
	        it->p.seq, torn ? torn : "", torn && unterm ? "; " : "", unterm ? unterm : "");
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A checkpoint that chains (docs/audit.md "Checkpoints"): its members, and
 * with a public key its signature. 0 good, 1 damage recorded. */
static int check_checkpoint(struct vstate *st, const struct tg_audit_item *it)
{
	struct tg_audit_verify_result *res = st->res;
	const char *file = st->files[it->fi];
	const json_t *o = it->p.obj;
	const json_t *sseq = json_object_get(o, "signed_seq");
	const char *sh = json_string_value(json_object_get(o, "signed_hash"));
	const char *pk = json_string_value(json_object_get(o, "pubkey"));
	const char *sig = json_string_value(json_object_get(o, "sig"));
	if (!json_is_integer(sseq) || json_integer_value(sseq) < 1 || !sh || !is_hex(sh, 64) ||
	    !pk || !is_hex(pk, 64) || !sig || !is_hex(sig, 128)) {
		tg_audit_damage_set(res, TG_AUDIT_MALFORMED, file, it->lineno, st->expect,
		                    strdup("checkpoint with a missing or bad signed_seq, "
		                           "signed_hash, pubkey or sig"));
		return 1;
	}
	res->checkpoints++;
	if (!st->have_pubkey)
		return 0;
	uint64_t s = (uint64_t)json_integer_value(sseq);
	if (strcmp(pk, st->pk_hex) != 0) {
		tg_audit_damage_set(res, TG_AUDIT_BAD_SIGNATURE, file, it->lineno, st->expect,
		                    tg_strdup_printf("checkpoint signed with another key (pubkey "
		                                     "%.16s...), not the one given (%.16s...)",
		                                     pk, st->pk_hex));
		return 1;
	}
	if (!tg_audit_checkpoint_verify(st->pk, s, sh, sig)) {
		tg_audit_damage_set(res, TG_AUDIT_BAD_SIGNATURE, file, it->lineno, st->expect,
		                    strdup("the Ed25519 signature does not verify: the checkpoint "
		                           "was forged or changed"));
		return 1;
	}
	if (s != it->p.seq - 1 || strcmp(sh, it->p.prev) != 0) {
		tg_audit_damage_set(
		        res, TG_AUDIT_MODIFIED, file, it->lineno, st->expect,
		        tg_strdup_printf("the records before this checkpoint were changed after "
		                         "they were signed: it signs seq %" PRIu64 " with hash "
		                         "%.16s..., the chain has seq %" PRIu64 " with hash "
		                         "%.16s... (a record in seq %" PRIu64 "..%" PRIu64
		                         " was rewritten, or one was removed or added)",
		                         s, sh, it->p.seq - 1, it->p.prev, st->last_cp_seq + 1,
		                         it->p.seq - 1));
		return 1;
	}
	st->last_cp_seq = it->p.seq;
	st->unsigned_at = false;
	return 0;
}

/* Check a record that chains; 0 to go on, 1 when it is damage after all. */
static int accept(struct vstate *st, const struct tg_audit_item *it)
{
	struct tg_audit_verify_result *res = st->res;
	const char *file = st->files[it->fi];
	if (strcmp(it->p.event, TG_AUDIT_EVENT_RECOVERY) == 0) {
		const json_t *n = json_object_get(it->p.obj, "torn_bytes");
		const json_t *h = json_object_get(it->p.obj, "torn_sha256");
		if ((n && !json_is_integer(n)) || (h && !json_is_string(h)) || (!n != !h)) {
			tg_audit_damage_set(
			        res, TG_AUDIT_MALFORMED, file, it->lineno, st->expect,
			        strdup("recovery record with bad torn_bytes/torn_sha256"));
			return 1;
		}
		if (n && !st->skipped_torn) {
			tg_audit_damage_set(
			        res, TG_AUDIT_DELETED, file, it->lineno, st->expect,
			        strdup("the torn line this recovery record names is missing"));
			return 1;
		}
		note_recovery(st, it);
	}
	if (st->have_seal && it->p.seq == st->seal_seq && strcmp(it->p.hash, st->seal_hash) != 0) {
		tg_audit_damage_set(res, TG_AUDIT_MODIFIED, file, it->lineno, st->expect,
		                    tg_strdup_printf("record seq %" PRIu64
		                                     " does not match the seal (%s%s): "
		                                     "the log was rewritten after it was closed",
		                                     it->p.seq, st->files[st->n_files - 1],
		                                     TG_AUDIT_SEAL_SUFFIX));
		return 1;
	}
	bool checkpoint = strcmp(it->p.event, TG_AUDIT_EVENT_CHECKPOINT) == 0;
	if (checkpoint && check_checkpoint(st, it))
		return 1;
	if (res->records == 0)
		res->first_seq = it->p.seq;
	res->records++;
	res->last_seq = it->p.seq;
	st->expect++;
	memcpy(st->prev, it->p.hash, sizeof(st->prev));
	if (!checkpoint) {
		/* whether a session is open is a matter of the records a
		 * checkpoint follows, not of the checkpoint */
		free(st->last_event);
		free(st->last_session);
		st->last_event = strdup(it->p.event);
		st->last_session = strdup(it->p.session);
		if (!st->unsigned_at) {
			st->unsigned_at = true;
			st->unsigned_fi = it->fi;
			st->unsigned_lineno = it->lineno;
		}
	}
	st->last_fi = it->fi;
	st->last_lineno = it->lineno;
	return 0;
}

/* Checks of a single line: 0 good, 1 damage recorded, 2 a recorded torn line
 * to skip, -errno to stop (keyed log without a key). */
static int check_line(struct vstate *st, const struct tg_audit_item *it,
                      const struct tg_audit_item *la, struct tg_error **err)
{
	struct tg_audit_verify_result *res = st->res;
	const char *file = st->files[it->fi];
	/* A line (even one that looks like a record: a crash can cut just the
	 * '\n') is a recorded torn line when the next record is the recovery
	 * record that names its exact bytes and chains where it would have. */
	if (it->terminated && !it->too_long && recovery_names(la, it) &&
	    tg_audit_item_fits(la, st->expect, st->prev))
		return 2;
	if (la->present && la->parse_rc == 0 && la->unverifiable && !st->keyed_known)
		return tg_error_set(err, -ENOKEY,
		                    "%s: the log is keyed (HMAC-SHA256): verify it with its key "
		                    "(--key)",
		                    st->files[la->fi]);
	if (it->parse_rc < 0 || !it->terminated) {
		if (!it->terminated && !it->too_long) {
			tg_audit_damage_set(
			        res, TG_AUDIT_TRUNCATED, file, it->lineno, st->expect,
			        tg_strdup_printf("torn last line: %zu bytes without a newline (a "
			                         "crash mid-write; the next writer will add a "
			                         "recovery record)",
			                         it->len));
			return 1;
		}
		tg_audit_damage_set(res, TG_AUDIT_MALFORMED, file, it->lineno, st->expect,
		                    tg_strdup_printf("not a record: %s", it->why));
		return 1;
	}
	if (!st->keyed_known) {
		st->keyed_known = true;
		st->keyed = it->p.keyed;
		if (st->keyed && !st->key)
			return tg_error_set(err, -ENOKEY,
			                    "%s: the log is keyed (HMAC-SHA256): verify it with "
			                    "its key (--key)",
			                    file);
		if (!st->keyed && st->key) {
			tg_audit_damage_set(
			        res, TG_AUDIT_MODIFIED, file, it->lineno, st->expect,
			        strdup("record is not keyed, but a key was given: every "
			               "record of a keyed log carries \"mac\""));
			return 1;
		}
	}
	if (it->p.keyed != st->keyed) {
		tg_audit_damage_set(res, TG_AUDIT_MODIFIED, file, it->lineno, st->expect,
		                    tg_strdup_printf("record is %s but the log is %s",
		                                     it->p.keyed ? "keyed" : "not keyed",
		                                     st->keyed ? "keyed" : "not"));
		return 1;
	}
	if (!it->hash_ok) {
		tg_audit_damage_set(
		        res, TG_AUDIT_MODIFIED, file, it->lineno, st->expect,
		        strdup(st->keyed ? "HMAC mismatch: the record was changed after it was "
		                           "written, or the key is wrong"
		                         : "hash mismatch: the record was changed after it was "
		                           "written"));
		return 1;
	}
	return 0;
}

static int load_seal(struct vstate *st, const struct tg_audit_verify_options *opts)
{
	if ((opts && opts->ignore_seal) || st->n_files == 0)
		return 0;
	const char *last = st->files[st->n_files - 1];
	int r = tg_audit_seal_read(last, &st->seal_seq, st->seal_hash);
	if (r == 1) {
		st->have_seal = true;
		return 0;
	}
	if (r == -EBADMSG) {
		_cleanup_free_ char *seal = tg_strdup_printf("%s%s", last, TG_AUDIT_SEAL_SUFFIX);
		tg_audit_damage_set(st->res, TG_AUDIT_MALFORMED, seal ? seal : last, 1, 0,
		                    strdup("not a valid seal ({\"seq\":N,\"hash\":\"<64 hex>\"})"));
		return 1;
	}
	return 0; /* none, or unreadable: nothing to check against */
}

static void finish(struct vstate *st)
{
	struct tg_audit_verify_result *res = st->res;
	if (res->damage != TG_AUDIT_INTACT)
		return;
	if (st->have_seal) {
		if (res->last_seq < st->seal_seq) {
			const char *last = st->files[st->n_files - 1];
			tg_audit_damage_set(
			        res, TG_AUDIT_TRUNCATED, last,
			        st->last_fi == st->n_files - 1 ? st->last_lineno + 1 : 1,
			        res->last_seq + 1,
			        tg_strdup_printf("the log was closed at seq %" PRIu64
			                         " (%s%s) but ends at seq %" PRIu64
			                         ": its last %" PRIu64 " record(s) are missing",
			                         st->seal_seq, last, TG_AUDIT_SEAL_SUFFIX,
			                         res->last_seq, st->seal_seq - res->last_seq));
			return;
		}
		res->sealed = true;
		res->sealed_seq = st->seal_seq;
	}
	res->keyed = st->keyed;
	const char *last = st->files[st->n_files - 1];
	if (res->records > 0 && st->last_event && strcmp(st->last_event, "session_end") != 0) {
		res->open_session = true;
		res->open_session_id = st->last_session ? strdup(st->last_session) : NULL;
		res->writer_active = tg_audit_writer_active(last);
	}
	res->signatures_checked = st->have_pubkey;
	res->signed_seq = st->last_cp_seq;
	if (!st->have_pubkey || !st->unsigned_at)
		return;
	/* Records after the last checkpoint: a writer signs them within its
	 * checkpoint interval and at close; without one at work they are
	 * records nobody vouches for. */
	if (tg_audit_writer_active(last)) {
		res->unsigned_records = res->last_seq - st->last_cp_seq;
		return;
	}
	const char *file = st->files[st->unsigned_fi];
	if (st->last_cp_seq == 0)
		tg_audit_damage_set(res, TG_AUDIT_BAD_SIGNATURE, file, st->unsigned_lineno,
		                    res->first_seq,
		                    strdup("no checkpoint signed with this key: the log is not "
		                           "signed (or its checkpoints were removed)"));
	else
		tg_audit_damage_set(
		        res, TG_AUDIT_TRUNCATED, file, st->unsigned_lineno, st->last_cp_seq + 1,
		        tg_strdup_printf("the signed log ends at seq %" PRIu64 ": records %" PRIu64
		                         "..%" PRIu64 " after the last checkpoint are not "
		                         "signed (its writer stopped before its final checkpoint, "
		                         "or the checkpoints after them were removed)",
		                         st->last_cp_seq, st->last_cp_seq + 1, res->last_seq));
}

/* --partial: the first record is where the chain starts. */
static void start_partial(struct vstate *st, const struct tg_audit_item *first)
{
	if (!first->present || first->parse_rc != 0)
		return;
	st->expect = first->p.seq;
	memcpy(st->prev, first->p.prev, sizeof(st->prev));
}

int tg_audit_verify_with(char *const *files, size_t n_files,
                         const struct tg_audit_verify_options *opts,
                         struct tg_audit_verify_result *ret, struct tg_error **err)
{
	struct tg_audit_verify_result res = {0};
	struct tg_audit_key *key = NULL;
	if (sodium_init() < 0)
		return tg_error_set(err, -EIO, "libsodium failed to initialize");
	struct vstate st = {.files = files, .n_files = n_files, .res = &res, .expect = 1};
	if (opts && opts->pubkey_file) {
		int r = tg_audit_pubkey_load(opts->pubkey_file, st.pk, err);
		if (r < 0)
			return r;
		st.have_pubkey = true;
		tg_hex(st.pk, sizeof(st.pk), st.pk_hex);
	}
	if (opts && opts->key_file) {
		int r = tg_audit_key_load(opts->key_file, &key, err);
		if (r < 0)
			return r;
	}
	st.key = key;
	memcpy(st.prev, TG_AUDIT_ZERO_HASH, sizeof(st.prev));
	struct tg_audit_cursor c = {
	        .files = files, .n_files = n_files, .key = key, .start_lineno = 1};
	struct tg_audit_item cur = {0}, la = {0};
	int r = load_seal(&st, opts);
	if (r == 0)
		r = tg_audit_cursor_next(&c, &cur, err);
	if (r >= 0 && cur.present)
		r = tg_audit_cursor_next(&c, &la, err);
	if (r >= 0 && opts && opts->partial)
		start_partial(&st, &cur);
	while (r >= 0 && cur.present && res.damage == TG_AUDIT_INTACT) {
		int k = check_line(&st, &cur, &la, err);
		if (k < 0) {
			r = k;
			break;
		}
		if (k == 1)
			break;
		if (k == 2) {
			st.skipped_torn = true;
		} else if (tg_audit_item_fits(&cur, st.expect, st.prev)) {
			if (accept(&st, &cur))
				break;
			st.skipped_torn = false;
		} else {
			r = tg_audit_classify(&c, &cur, &la, st.expect, st.prev, &res, err);
			break;
		}
		tg_audit_item_clear(&cur);
		cur = la;
		memset(&la, 0, sizeof(la));
		if (cur.present)
			r = tg_audit_cursor_next(&c, &la, err);
	}
	if (r >= 0)
		finish(&st);
	tg_audit_item_clear(&cur);
	tg_audit_item_clear(&la);
	tg_audit_cursor_clear(&c);
	tg_audit_key_free(key);
	free(st.last_event);
	free(st.last_session);
	if (r < 0) {
		tg_audit_verify_result_clear(&res);
		return r;
	}
	*ret = res;
	return 0;
}

int tg_audit_verify(char *const *files, size_t n_files, struct tg_audit_verify_result *ret,
                    struct tg_error **err)
{
	return tg_audit_verify_with(files, n_files, NULL, ret, err);
}
