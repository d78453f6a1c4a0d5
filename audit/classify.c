/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What kind of damage a record that does not chain is (docs/audit.md
 * "Classifying damage"). The record itself is intact (its hash matches its
 * bytes), so the question is only where it belongs:
 *
 *   seq == expected, prev wrong   -> inserted when the next line chains to the
 *                                    record before; else modified (this record
 *                                    or the one before it was replaced)
 *   seq >  expected               -> the expected record comes later: reordered;
 *                                    the next line chains to the record before:
 *                                    inserted (a copy: the same seq comes again
 *                                    later) or reordered (moved ahead);
 *                                    else deleted (a gap)
 *   seq <  expected               -> inserted when the next line chains to the
 *                                    record before (or nothing follows); else
 *                                    reordered (seq goes backwards)
 */
#include <inttypes.h>
#include <string.h>

#include "verify.h"

typedef bool (*match_fn)(const struct tg_audit_item *it, uint64_t seq, const char *prev);

static bool match_seq(const struct tg_audit_item *it, uint64_t seq, const char *prev)
{
	(void)prev;
	return it->parse_rc == 0 && it->hash_ok && it->p.seq == seq;
}

static bool match_chain(const struct tg_audit_item *it, uint64_t seq, const char *prev)
{
	return tg_audit_item_fits(it, seq, prev);
}

/* Scan from `from` (included, or not) to the end of the last file for the
 * first line that matches. 1 and *ret (owned), 0 when none, -errno. */
static int scan(const struct tg_audit_cursor *c, const struct tg_audit_item *from, bool include,
                match_fn match, uint64_t seq, const char *prev, struct tg_audit_item *ret,
                struct tg_error **err)
{
	struct tg_audit_cursor s = {
	        .files = c->files,
	        .n_files = c->n_files,
	        .fi = from->fi,
	        .start_offset = from->offset,
	        .start_lineno = from->lineno,
	        .key = c->key,
	};
	bool first = true;
	int r;
	for (;;) {
		struct tg_audit_item it = {0};
		r = tg_audit_cursor_next(&s, &it, err);
		if (r <= 0)
			break;
		if ((include || !first) && match(&it, seq, prev)) {
			*ret = it;
			r = 1;
			break;
		}
		first = false;
		tg_audit_item_clear(&it);
	}
	tg_audit_cursor_clear(&s);
	return r;
}

int tg_audit_classify(const struct tg_audit_cursor *c, const struct tg_audit_item *cur,
                      const struct tg_audit_item *la, uint64_t expect, const char *prev,
                      struct tg_audit_verify_result *res, struct tg_error **err)
{
	const char *file = c->files[cur->fi];
	uint64_t s = cur->p.seq, line = cur->lineno;
	bool la_fits = tg_audit_item_fits(la, expect, prev);
	struct tg_audit_item found = {0};
	int r = 0;

	if (s == expect) {
		if (la_fits)
			tg_audit_damage_set(
			        res, TG_AUDIT_INSERTED, file, line, expect,
			        tg_strdup_printf("seq %" PRIu64
			                         " does not belong to this chain (its "
			                         "prev is not the hash of the record before it, "
			                         "and the next line chains without it)",
			                         s));
		else
			tg_audit_damage_set(
			        res, TG_AUDIT_MODIFIED, file, line, expect,
			        strdup("prev does not match the hash of the record before it: "
			               "that record or this one was replaced"));
		return 0;
	}
	if (s > expect) {
		if (la_fits) {
			r = scan(c, la, false, match_seq, s, NULL, &found, err);
			if (r < 0)
				return r;
			if (r == 1 && strcmp(found.p.hash, cur->p.hash) == 0)
				tg_audit_damage_set(
				        res, TG_AUDIT_INSERTED, file, line, expect,
				        tg_strdup_printf("a copy of seq %" PRIu64 " (%s:%" PRIu64
				                         ") was inserted here",
				                         s, c->files[found.fi], found.lineno));
			else if (r == 1)
				tg_audit_damage_set(
				        res, TG_AUDIT_INSERTED, file, line, expect,
				        tg_strdup_printf(
				                "seq %" PRIu64 " does not belong here (the "
				                "chain's seq %" PRIu64 " is at %s:%" PRIu64 ")",
				                s, s, c->files[found.fi], found.lineno));
			else
				tg_audit_damage_set(
				        res, TG_AUDIT_REORDERED, file, line, expect,
				        tg_strdup_printf("seq %" PRIu64
				                         " is out of place: seq %" PRIu64
				                         " follows it",
				                         s, expect));
			tg_audit_item_clear(&found);
			return 0;
		}
		r = la->present ? scan(c, la, true, match_chain, expect, prev, &found, err) : 0;
		if (r < 0)
			return r;
		if (r == 1)
			tg_audit_damage_set(res, TG_AUDIT_REORDERED, file, line, expect,
			                    tg_strdup_printf("records out of order: seq %" PRIu64
			                                     " comes where seq %" PRIu64
			                                     " belongs, which is at "
			                                     "%s:%" PRIu64,
			                                     s, expect, c->files[found.fi],
			                                     found.lineno));
		else if (strcmp(cur->p.prev, prev) == 0)
			tg_audit_damage_set(
			        res, TG_AUDIT_MODIFIED, file, line, expect,
			        tg_strdup_printf("seq %" PRIu64 " where %" PRIu64
			                         " was expected although prev chains: the record "
			                         "was rewritten",
			                         s, expect));
		else if (expect == 1)
			tg_audit_damage_set(
			        res, TG_AUDIT_DELETED, file, line, expect,
			        tg_strdup_printf("the log starts at seq %" PRIu64
			                         ": records 1..%" PRIu64
			                         " are missing (were earlier rotated files left "
			                         "out?)",
			                         s, s - 1));
		else if (s == expect + 1)
			tg_audit_damage_set(
			        res, TG_AUDIT_DELETED, file, line, expect,
			        tg_strdup_printf("record seq %" PRIu64 " is missing", expect));
		else
			tg_audit_damage_set(res, TG_AUDIT_DELETED, file, line, expect,
			                    tg_strdup_printf("records seq %" PRIu64 "..%" PRIu64
			                                     " are missing",
			                                     expect, s - 1));
		tg_audit_item_clear(&found);
		return 0;
	}
	if (la_fits || !la->present)
		tg_audit_damage_set(res, TG_AUDIT_INSERTED, file, line, expect,
		                    tg_strdup_printf("seq %" PRIu64
		                                     " appears again after seq %" PRIu64
		                                     ": a copy of an earlier record was inserted",
		                                     s, expect - 1));
	else
		tg_audit_damage_set(res, TG_AUDIT_REORDERED, file, line, expect,
		                    tg_strdup_printf("seq goes backwards: %" PRIu64
		                                     " after %" PRIu64,
		                                     s, expect - 1));
	return 0;
}
