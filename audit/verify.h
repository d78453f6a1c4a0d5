/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.h (private to audit/) - what verify.c and classify.c share: lines
 * of several files read as one sequence, each line analyzed on its own.
 */
#ifndef TG_AUDIT_VERIFY_H
#define TG_AUDIT_VERIFY_H

#include "internal.h"

/* One line with its own checks done (envelope, hash), not the chain's. */
struct tg_audit_item {
	bool present;
	size_t fi; /* index of its file */
	char *data;
	size_t len;
	uint64_t lineno;
	off_t offset;
	bool terminated;
	bool too_long;
	int parse_rc; /* 0: a record envelope; -EBADMSG: not a record (why) */
	const char *why;
	struct tg_audit_parsed p;
	bool hash_ok;      /* its hash (or HMAC) matches its bytes */
	bool unverifiable; /* keyed, and no key was given */
};

/* The lines of files[fi..] in order, from start_offset/start_lineno of the
 * first one. */
struct tg_audit_cursor {
	char *const *files;
	size_t n_files;
	size_t fi;
	off_t start_offset;
	uint64_t start_lineno;
	const struct tg_audit_key *key;
	struct tg_audit_reader *rd;
};

/* 1 and *it (owned by the caller: filled into a zeroed item), 0 at the end
 * of the last file, -errno with *err. */
int tg_audit_cursor_next(struct tg_audit_cursor *c, struct tg_audit_item *it,
                         struct tg_error **err);
void tg_audit_cursor_clear(struct tg_audit_cursor *c);
void tg_audit_item_analyze(struct tg_audit_item *it, const struct tg_audit_key *key);
void tg_audit_item_clear(struct tg_audit_item *it);

/* True when la is a good record with seq `expect` and prev `prev`. */
bool tg_audit_item_fits(const struct tg_audit_item *la, uint64_t expect, const char *prev);

/*
 * cur is a good record (envelope and hash) that does not chain: seq is not
 * `expect` or prev is not `prev`. Decide which damage that is (deleted,
 * inserted, reordered, modified) with la, the line after it, and when needed
 * one scan of the rest; fill res. 0, or -errno when the scan cannot read.
 */
int tg_audit_classify(const struct tg_audit_cursor *c, const struct tg_audit_item *cur,
                      const struct tg_audit_item *la, uint64_t expect, const char *prev,
                      struct tg_audit_verify_result *res, struct tg_error **err);

/* Record the first damage in res; detail is taken over (NULL: the kind's name). */
void tg_audit_damage_set(struct tg_audit_verify_result *res, enum tg_audit_damage kind,
                         const char *file, uint64_t line, uint64_t seq, char *detail);

#endif /* TG_AUDIT_VERIFY_H */
