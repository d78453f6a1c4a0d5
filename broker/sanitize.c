/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The output sanitizer: tool output -> text that is safe to hand to an agent
 * and an LLM (and to show on a terminal).
 *
 * One pass decodes UTF-8 into units (a code point, or one maximal invalid
 * subpart) and runs them through the escape-sequence state machine, then the
 * control filter, then the UTF-8 repair, appending what survives; a second
 * stage runs the redaction patterns over that text. Working on decoded units
 * is what keeps the steps in the order sanitize.h states without mangling
 * valid text: a byte 0x9B inside "ě" (C4 9B) is a continuation byte, never
 * the 8-bit CSI, which only a lone 0x9B (or U+009B) is.
 *
 * Decisions (the sanitize section of the policy docs should quote them):
 * - Escapes: CSI (ESC [ / U+009B) up to its final byte 0x40-0x7E; OSC
 *   (ESC ] / U+009D) up to BEL or ST; DCS, SOS, PM, APC (ESC P X ^ _ /
 *   U+0090 U+0098 U+009E U+009F) up to ST (ESC \ or U+009C); other ESC
 *   sequences (ESC, intermediates 0x20-0x2F, final 0x30-0x7E). A byte that
 *   cannot continue a sequence ends it (what was consumed is dropped) and is
 *   processed as text; CAN and SUB cancel a sequence; an unterminated
 *   sequence at the end is dropped.
 * - Controls: C0 but \n and \t, DEL, and C1 (U+0080-U+009F, and lone bytes
 *   0x80-0x9F) are removed. \r is kept only right before \n (CRLF text stays
 *   CRLF); elsewhere it is removed, because a bare \r lets output overwrite
 *   what a terminal showed before it.
 * - UTF-8: invalid sequences, overlongs, surrogates and a sequence cut at the
 *   end become one U+FFFD per maximal subpart (replace) or vanish (drop).
 * - Redactions: each rule in order on the previous rule's output; all
 *   non-overlapping, non-empty matches are replaced by the literal
 *   replacement. Redaction fails closed: where a rule could not look (its
 *   match hit PCRE2's match/depth/heap limit, failed, or the rule's time
 *   budget ran out), the rest of the output is replaced as if it matched
 *   (a match could have spanned lines). A crafted output cannot slow a
 *   call down, and cannot smuggle a secret past a rule by making it give
 *   up. Logged, and counted for the audit record.
 */
#include <string.h>

#include "policy.h"
#include "sanitize.h"
#include "tg.h"

/* The most time one rule may spend on one output. */
#define RULE_BUDGET_NS (250u * 1000000u)

struct buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

enum esc_state { S_GROUND = 0, S_ESC, S_ESC_INTER, S_CSI, S_STR, S_STR_ESC };

struct san {
	const struct tg_sanitize_config *cfg;
	enum esc_state st;
	bool str_bel; /* this string (OSC) also ends at BEL */
	bool pending_cr;
	struct buf out;
};

/*
 * Decode one unit at s[0..n): its length, and *cp the code point or -1 for
 * an invalid unit (the maximal subpart of an ill-formed sequence: the lead
 * byte and the continuation bytes that fit it so far, at least one byte).
 */
static size_t decode(const uint8_t *s, size_t n, int32_t *cp)
{
	uint8_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t need;
	uint8_t lo = 0x80, hi = 0xBF;
	int32_t v;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		*cp = -1; /* continuation byte, C0/C1 overlong lead, F5-FF */
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n) {
			*cp = -1; /* cut at the end */
			return i;
		}
		uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
		if (s[i] < l || s[i] > h) {
			*cp = -1;
			return i;
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return need + 1;
}

/* The C1 control a unit stands for (U+0080-U+009F, or a lone byte
 * 0x80-0x9F: the 8-bit form), or -1. */
static int32_t c1_of(int32_t cp, const uint8_t *bytes, size_t len)
{
	if (cp >= 0x80 && cp <= 0x9F)
		return cp;
	if (cp < 0 && len == 1 && bytes[0] >= 0x80 && bytes[0] <= 0x9F)
		return bytes[0];
	return -1;
}

/* A unit that survived the escape filter: controls, then UTF-8 repair. */
static void emit(struct san *z, int32_t cp, const uint8_t *bytes, size_t len, int32_t c1)
{
	const struct tg_sanitize_config *cfg = z->cfg;
	if (cfg->strip_control) {
		bool ctl = (cp >= 0 && cp < 0x20 && cp != '\n' && cp != '\t' && cp != '\r') ||
		           cp == 0x7F || c1 >= 0;
		if (ctl)
			return; /* dropped controls do not separate \r from \n */
		if (cp == '\r') {
			z->pending_cr = true; /* an earlier pending \r is dropped */
			return;
		}
		if (z->pending_cr) {
			z->pending_cr = false;
			if (cp == '\n')
				put(&z->out, "\r", 1);
		}
	}
	if (cp >= 0)
		put(&z->out, bytes, len);
	else if (cfg->utf8 == TG_UTF8_REPLACE)
		put(&z->out, "\xEF\xBF\xBD", 3);
}

static bool is_string_intro(int32_t c)
{
	return c == 'P' || c == 'X' || c == '^' || c == '_';
}

/* One unit through the escape-sequence state machine. */
static void feed(struct san *z, int32_t cp, const uint8_t *bytes, size_t len)
{
	int32_t c1 = c1_of(cp, bytes, len);
	if (!z->cfg->strip_ansi) {
		emit(z, cp, bytes, len, c1);
		return;
	}
	for (;;) {
		switch (z->st) {
		case S_GROUND:
			if (cp == 0x1B) {
				z->st = S_ESC;
			} else if (c1 == 0x9B) {
				z->st = S_CSI;
			} else if (c1 == 0x9D || c1 == 0x90 || c1 == 0x98 || c1 == 0x9E ||
			           c1 == 0x9F) {
				z->st = S_STR;
				z->str_bel = c1 == 0x9D;
			} else {
				emit(z, cp, bytes, len, c1);
			}
			return;
		case S_ESC:
			if (cp == '[') {
				z->st = S_CSI;
			} else if (cp == ']' || is_string_intro(cp)) {
				z->st = S_STR;
				z->str_bel = cp == ']';
			} else if (cp == 0x1B) {
				/* a new sequence starts */
			} else if (cp >= 0x20 && cp <= 0x2F) {
				z->st = S_ESC_INTER;
			} else if (cp >= 0x30 && cp <= 0x7E) {
				z->st = S_GROUND; /* a complete two-byte sequence */
			} else {
				z->st = S_GROUND; /* not a sequence: drop the ESC only */
				continue;
			}
			return;
		case S_ESC_INTER:
			if (cp >= 0x20 && cp <= 0x2F)
				return;
			if (cp >= 0x30 && cp <= 0x7E) {
				z->st = S_GROUND;
				return;
			}
			z->st = cp == 0x1B ? S_ESC : S_GROUND;
			if (cp == 0x1B)
				return;
			continue;
		case S_CSI:
			if (cp >= 0x20 && cp <= 0x3F)
				return; /* parameters and intermediates */
			if (cp >= 0x40 && cp <= 0x7E) {
				z->st = S_GROUND;
				return;
			}
			z->st = cp == 0x1B ? S_ESC : S_GROUND;
			if (cp == 0x1B)
				return;
			continue; /* aborted: this unit is text again */
		case S_STR:
			if ((cp == 0x07 && z->str_bel) || c1 == 0x9C || cp == 0x18 || cp == 0x1A)
				z->st = S_GROUND;
			else if (cp == 0x1B)
				z->st = S_STR_ESC;
			return; /* string content is dropped */
		case S_STR_ESC:
			if (cp == '\\') {
				z->st = S_GROUND; /* ST */
				return;
			}
			z->st = S_ESC; /* the ESC ended the string and starts a sequence */
			continue;
		}
	}
}

/* Apply one redaction rule to *text; on success *text may be replaced. */
static int redact_rule(const struct tg_redact_rule *rule, pcre2_match_context *mctx,
                       struct buf *text, struct tg_sanitize_report *rep)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(rule->re, NULL);
	if (!md)
		return -ENOMEM;
	uint32_t utf = 0;
	pcre2_pattern_info(rule->re, PCRE2_INFO_ALLOPTIONS, &utf);
	utf &= PCRE2_UTF;
	const char *repl = rule->replace ? rule->replace : "[REDACTED]";
	const char *name = rule->name ? rule->name : "?";
	size_t repl_len = strlen(repl);
	struct buf out = {0};
	size_t off = 0, copied = 0;
	uint64_t n = 0;
	uint64_t t0 = tg_now_mono_ns();
	const char *s = text->p ? text->p : "";
	while (off <= text->len) {
		/* The text is valid UTF-8 by construction: skip PCRE2's check,
		 * which would otherwise rescan the subject on every call. */
		int rc = pcre2_match(rule->re, (PCRE2_SPTR)s, text->len, off, PCRE2_NO_UTF_CHECK,
		                     md, mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		bool budget = rc >= 0 && tg_now_mono_ns() - t0 > RULE_BUDGET_NS;
		if (rc < 0 || budget) {
			bool limit = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
			             rc == PCRE2_ERROR_HEAPLIMIT;
			tg_log(TG_LOG_WARN,
			       "sanitize: redaction '%s' %s; the rest of the output is redacted",
			       name,
			       budget  ? "ran out of time"
			       : limit ? "hit its match limit"
			               : "failed");
			/* What it could not check goes, as if it matched: all of it,
			 * since a match could have spanned lines. */
			rep->limit_hits++;
			put(&out, s + copied, off - copied);
			put(&out, repl, repl_len);
			n++;
			copied = text->len;
			break;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t ms = ov[0], me = ov[1];
		if (me <= ms || ms < copied) {
			/* empty match (or \K oddities): nothing to redact here;
			 * move one character on */
			size_t p = ms > off ? ms : off;
			if (p >= text->len)
				break;
			p++;
			while (utf && p < text->len && ((uint8_t)s[p] & 0xC0) == 0x80)
				p++;
			off = p;
		} else {
			put(&out, s + copied, ms - copied);
			put(&out, repl, repl_len);
			copied = off = me;
			n++;
		}
	}
	pcre2_match_data_free(md);
	if (n == 0) {
		free(out.p);
		return 0;
	}
	put(&out, s + copied, text->len - copied);
	if (out.oom) {
		free(out.p);
		return -ENOMEM;
	}
	free(text->p);
	*text = out;
	rep->redactions += n;
	return 0;
}

int tg_sanitize(const struct tg_sanitize_config *cfg, const uint8_t *in, size_t len, char **ret,
                size_t *ret_len, struct tg_sanitize_report *ret_report)
{
	static const struct tg_sanitize_config none = {0};
	if (!cfg)
		cfg = &none;
	struct san z = {.cfg = cfg};
	/* Worst case: every byte an invalid unit becoming 3 bytes of U+FFFD. */
	z.out.cap = len + len / 2 + 16;
	z.out.p = malloc(z.out.cap);
	if (!z.out.p)
		return -ENOMEM;
	for (size_t i = 0; i < len;) {
		int32_t cp;
		size_t l = decode(in + i, len - i, &cp);
		feed(&z, cp, in + i, l);
		i += l;
	}
	/* a pending \r, an unterminated sequence: dropped */
	struct tg_sanitize_report rep = {0};
	if (cfg->n_rules > 0 && !z.out.oom) {
		pcre2_match_context *mctx = tg_policy_new_match_context();
		if (!mctx) {
			free(z.out.p);
			return -ENOMEM;
		}
		for (size_t i = 0; i < cfg->n_rules && !z.out.oom; i++) {
			if (!cfg->rules[i].re)
				continue;
			if (redact_rule(&cfg->rules[i], mctx, &z.out, &rep) < 0)
				z.out.oom = true;
		}
		pcre2_match_context_free(mctx);
	}
	if (z.out.oom || z.out.len + 1 > z.out.cap) {
		free(z.out.p);
		return -ENOMEM;
	}
	z.out.p[z.out.len] = '\0';
	*ret = z.out.p;
	*ret_len = z.out.len;
	if (ret_report)
		*ret_report = rep;
	return 0;
}
