/* SPDX-License-Identifier: Apache-2.0 */
/* The output sanitizer: escapes, controls, UTF-8, redactions, hostile input.
 * Each case is one line: config, input, expected output. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "sanitize.h"
#include "tg.h"

struct rules {
	struct tg_redact_rule r[8];
	size_t n;
};

static void add_rule(struct rules *rs, const char *pattern, const char *replace)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec,
	                               &eo, NULL);
	assert_non_null(re);
	rs->r[rs->n++] = (struct tg_redact_rule){
	        .name = strdup(pattern), .re = re, .replace = replace ? strdup(replace) : NULL};
}

static void free_rules(struct rules *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].name);
		free(rs->r[i].replace);
		pcre2_code_free(rs->r[i].re);
	}
	rs->n = 0;
}

static const struct tg_sanitize_config all = {
        .strip_ansi = true, .strip_control = true, .utf8 = TG_UTF8_REPLACE};

static uint64_t last_limit_hits; /* of the last run() */

static char *run(const struct tg_sanitize_config *cfg, const char *in, size_t len, size_t *out_len,
                 uint64_t *red)
{
	char *out = NULL;
	struct tg_sanitize_report rep;
	assert_int_equal(tg_sanitize(cfg, (const uint8_t *)in, len, &out, out_len, &rep), 0);
	assert_non_null(out);
	assert_int_equal(out[*out_len], '\0');
	if (red)
		*red = rep.redactions;
	last_limit_hits = rep.limit_hits;
	return out;
}

/* Valid UTF-8, no surrogates, no overlongs (an independent check). */
static bool valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3;
			cp = c & 0x07;
		} else
			return false;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

struct scase {
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct scase cases[] = {
        /* CSI: colours, cursor moves, private modes, intermediates */
        {"\x1b[31mred\x1b[0m", 0, "red"},
        {"a\x1b[2J\x1b[Hb", 0, "ab"},
        {"x\x1b[?1049hy\x1b[ q", 0, "xy"},
        /* 8-bit CSI: U+009B and a lone byte 0x9B */
        {"a\xc2\x9b"
         "31mb",
         0, "ab"},
        {"a\x9b"
         "31mb",
         0, "ab"},
        /* OSC ended by BEL, by ST, and the 8-bit forms */
        {"t\x1b]0;title\x07u", 0, "tu"},
        {"t\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\u", 0, "tlinku"},
        {"t\xc2\x9d"
         "0;x\xc2\x9cu",
         0, "tu"},
        /* DCS, SOS, PM, APC strings up to ST */
        {"a\x1bPq#0;2;0;0;0\x1b\\b", 0, "ab"},
        {"a\x1bXsos\x1b\\b\x1b^pm\x1b\\c\x1b_apc\x1b\\d", 0, "abcd"},
        {"a\xc2\x90"
         "dcs\xc2\x9c"
         "b",
         0, "ab"},
        /* two-byte and charset sequences */
        {"a\x1b"
         "7b\x1b"
         "8c\x1b(Bd\x1b"
         "cE",
         0, "abcdE"},
        /* an ESC that starts nothing is dropped alone; CAN aborts a sequence */
        {"a\x1b\nb", 0, "a\nb"},
        {"a\x1b[12\x18"
         "b",
         0, "ab"},
        /* a sequence cut by a newline ends there */
        {"a\x1b[3\n1m", 0, "a\n1m"},
        /* unterminated at the end: dropped */
        {"ok\x1b]0;never ends", 0, "ok"},
        {"ok\x1b", 0, "ok"},
        /* controls: C0 but \n \t, DEL, C1; \r only before \n */
        {"a\x01\x02\x07\x08\x7f"
         "b\tc\n",
         0, "ab\tc\n"},
        {"line\r\nnext\r\n", 0, "line\r\nnext\r\n"},
        {"safe\rEVIL\n", 0, "safeEVIL\n"},
        {"a\r\r\nb\r", 0, "a\r\nb"},
        {"a\r\x1b[K\nb", 0, "a\r\nb"},
        {"a\xc2\x85"
         "b\xc2\x80"
         "c",
         0, "abc"},
        {"a\x85"
         "b",
         0, "ab"},
        {"nul\0byte", 8, "nulbyte"},
        /* UTF-8: valid multi-byte text untouched (0x9B inside a character is not a CSI) */
        {"\xc4\x9b \xe2\x82\xac \xf0\x9f\x98\x80", 0, "\xc4\x9b \xe2\x82\xac \xf0\x9f\x98\x80"},
        /* invalid, overlong, surrogate, too large, cut at the end: one U+FFFD per
         * maximal subpart; a stray byte 0x80-0x9F is an 8-bit C1 control and
         * goes with the controls */
        {"a\xffz", 0, "a\xef\xbf\xbdz"},
        {"\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe0\x80\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xbf\xbf", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 0, "\xef\xbf\xbd"},
        {"\xf8\xa0\xa0\xa0\xa0", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"end\xe2\x82", 0, "end\xef\xbf\xbd"},
        {"end\xf0\x9f\x98", 0, "end\xef\xbf\xbd"},
        {"\xe2\x82z", 0, "\xef\xbf\xbdz"},
        {"", 0, ""},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		size_t ol;
		_cleanup_free_ char *out = run(&all, cases[i].in, len, &ol, NULL);
		if (ol != strlen(cases[i].want) || memcmp(out, cases[i].want, ol) != 0)
			fail_msg("case %zu: got \"%s\"", i, out);
		assert_true(valid_utf8((const uint8_t *)out, ol));
	}
}

static void test_modes(void **state)
{
	(void)state;
	size_t ol;
	/* drop mode removes invalid sequences instead of replacing them */
	struct tg_sanitize_config drop = all;
	drop.utf8 = TG_UTF8_DROP;
	_cleanup_free_ char *a = run(&drop, "a\xff\xc0\xafz\xe2\x82", 8, &ol, NULL);
	assert_string_equal(a, "az");
	/* no stripping: escapes and controls pass, UTF-8 is still repaired */
	struct tg_sanitize_config none = {.utf8 = TG_UTF8_REPLACE};
	_cleanup_free_ char *b = run(&none, "\x1b[31mx\r\xff", 8, &ol, NULL);
	assert_string_equal(b, "\x1b[31mx\r\xef\xbf\xbd");
	_cleanup_free_ char *b2 = run(&none, "\xe0\x80\xaf\xed\xa0\x80", 6, &ol, NULL);
	assert_non_null(b2);
	assert_int_equal(ol, 18); /* six maximal subparts, six U+FFFD */
	/* controls only: ESC is a control, the rest of the sequence is text */
	struct tg_sanitize_config ctl = {.strip_control = true};
	_cleanup_free_ char *c = run(&ctl, "\x1b[31mx", 6, &ol, NULL);
	assert_string_equal(c, "[31mx");
	/* NULL config: only UTF-8 repair */
	char *d = NULL;
	assert_int_equal(tg_sanitize(NULL, (const uint8_t *)"\xff", 1, &d, &ol, NULL), 0);
	assert_string_equal(d, "\xef\xbf\xbd");
	free(d);
}

static void test_redactions(void **state)
{
	(void)state;
	struct rules rs = {0};
	add_rule(&rs, "AKIA[0-9A-Z]{16}", NULL);
	add_rule(&rs, "(?i)bearer\\s+[A-Za-z0-9._~+/-]+=*", "Bearer [REDACTED]");
	add_rule(&rs,
	         "-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\\s\\S]*?-----END (?:[A-Z]+ )?PRIVATE "
	         "KEY-----",
	         "[PRIVATE KEY]");
	add_rule(&rs, "sk-[A-Za-z0-9]{20,}", "[KEY]");
	struct tg_sanitize_config cfg = all;
	cfg.rules = rs.r;
	cfg.n_rules = rs.n;
	size_t ol;
	uint64_t red;
	const char *in = "id=AKIAABCDEFGHIJKLMNOP and AKIAQRSTUVWXYZ234567\n"
	                 "Authorization: Bearer abc.def-ghi\n"
	                 "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE "
	                 "KEY-----\n"
	                 "token sk-aaaaaaaaaaaaaaaaaaaaaaaa done\n";
	_cleanup_free_ char *out = run(&cfg, in, strlen(in), &ol, &red);
	assert_string_equal(out, "id=[REDACTED] and [REDACTED]\n"
	                         "Authorization: Bearer [REDACTED]\n"
	                         "[PRIVATE KEY]\n"
	                         "token [KEY] done\n");
	assert_int_equal(red, 5);

	/* a secret split by escape sequences and controls is still found */
	const char *split = "AKIA\x1b[31mABCDEFGH\x1b]0;x\x07IJKL\x01MNOP!";
	_cleanup_free_ char *o2 = run(&cfg, split, strlen(split), &ol, &red);
	assert_string_equal(o2, "[REDACTED]!");
	assert_int_equal(red, 1);

	/* nothing to redact: nothing counted; replacement is literal */
	struct rules lit = {0};
	add_rule(&lit, "x(y)", "$1\\0");
	add_rule(&lit, "q*", "E"); /* matches empty everywhere: ignored */
	cfg.rules = lit.r;
	cfg.n_rules = lit.n;
	_cleanup_free_ char *o3 = run(&cfg, "axyb", 4, &ol, &red);
	assert_string_equal(o3, "a$1\\0b");
	assert_int_equal(red, 1);
	_cleanup_free_ char *o4 = run(&cfg, "\xc3\xa9qq\xc3\xa9", 6, &ol, &red);
	assert_string_equal(o4, "\xc3\xa9"
	                        "E\xc3\xa9");
	assert_int_equal(red, 1);
	free_rules(&lit);
	free_rules(&rs);
}

/* The builtins (a policy's defaults) on realistic secrets: a large PEM
 * key is removed whole, its body lines included, without a limit hit. */
static void test_builtin_private_key(void **state)
{
	(void)state;
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	const char *text = "version: 1\n";
	assert_int_equal(tg_policy_load_buffer("t.yaml", "/tmp", text, strlen(text), &p, &diags),
	                 0);
	tg_diags_clear(&diags);
	char in[16384];
	size_t n = (size_t)snprintf(in, sizeof(in), "before\n-----BEGIN RSA PRIVATE KEY-----\n");
	for (int line = 0; line < 150; line++) { /* 9.6 KB: a 16384-bit key */
		for (int i = 0; i < 64; i++)
			in[n++] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			        [(line * 7 + i) % 64];
		in[n++] = '\n';
	}
	n += (size_t)snprintf(in + n, sizeof(in) - n, "-----END RSA PRIVATE KEY-----\nafter\n");
	size_t ol;
	uint64_t red;
	_cleanup_free_ char *o = run(tg_policy_sanitize(p), in, n, &ol, &red);
	assert_string_equal(o, "before\n[REDACTED]\nafter\n");
	assert_int_equal(last_limit_hits, 0);
	tg_policy_unref(p);
}

/* A secret hidden behind input that makes a rule give up is redacted with
 * everything after the point where the rule gave up. */
static void test_limit_fails_closed(void **state)
{
	(void)state;
	struct rules rs = {0};
	add_rule(&rs, "(a|aa)+b|SECRETTOKEN", NULL);
	struct tg_sanitize_config cfg = all;
	cfg.rules = rs.r;
	cfg.n_rules = rs.n;
	const char *in = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa SECRETTOKEN\n"
	                 "clean SECRETTOKEN line\n";
	size_t ol;
	uint64_t red;
	_cleanup_free_ char *o = run(&cfg, in, strlen(in), &ol, &red);
	assert_string_equal(o, "[REDACTED]");
	assert_int_equal(last_limit_hits, 1);
	assert_int_equal(red, 1);
	/* What comes before it is kept. */
	const char *in2 =
	        "ok SECRETTOKEN\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nrest\n";
	_cleanup_free_ char *o2 = run(&cfg, in2, strlen(in2), &ol, &red);
	assert_string_equal(o2, "ok [REDACTED][REDACTED]");
	free_rules(&rs);
}

static void test_redos_is_bounded(void **state)
{
	(void)state;
	struct rules rs = {0};
	add_rule(&rs, "(a+)+$", NULL);
	add_rule(&rs, "(a|aa)+b", NULL);
	add_rule(&rs, "AKIA[0-9A-Z]{16}", NULL);
	struct tg_sanitize_config cfg = all;
	cfg.rules = rs.r;
	cfg.n_rules = rs.n;
	const size_t n = 1u << 20;
	_cleanup_free_ char *in = malloc(n);
	/* one long line, then many short hostile lines */
	memset(in, 'a', n);
	in[n - 1] = '!';
	uint64_t t0 = tg_now_mono_ns();
	size_t ol;
	uint64_t red;
	_cleanup_free_ char *o1 = run(&cfg, in, n, &ol, &red);
	/* Fail closed: what a rule could not check within its limits is
	 * redacted, not passed on. */
	assert_string_equal(o1, "[REDACTED]");
	assert_true(last_limit_hits > 0);
	for (size_t i = 0; i + 20 < n; i += 20) {
		memset(in + i, 'a', 19);
		in[i + 19] = '\n';
	}
	memcpy(in + n / 2, "AKIAABCDEFGHIJKLMNOP", 20);
	_cleanup_free_ char *o2 = run(&cfg, in, n, &ol, &red);
	uint64_t ms = (tg_now_mono_ns() - t0) / 1000000;
	print_message("ReDoS inputs took %" PRIu64 " ms\n", ms);
	/* a limit, not a hang: a few rules' budgets at most */
	assert_true(ms < 3000);
	/* the secret is gone either way */
	assert_null(strstr(o2, "AKIA"));
	assert_non_null(strstr(o2, "[REDACTED]"));
	assert_true(last_limit_hits > 0);
	free_rules(&rs);
}

static void test_random_bytes(void **state)
{
	(void)state;
	const size_t n = 1u << 20;
	_cleanup_free_ uint8_t *in = malloc(n);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i] = (uint8_t)x;
	}
	const struct tg_sanitize_config cfgs[] = {
	        all,
	        {.strip_ansi = true, .strip_control = true, .utf8 = TG_UTF8_DROP},
	        {.utf8 = TG_UTF8_REPLACE},
	};
	for (size_t c = 0; c < TG_ARRAY_SIZE(cfgs); c++) {
		char *out = NULL;
		size_t ol;
		assert_int_equal(tg_sanitize(&cfgs[c], in, n, &out, &ol, NULL), 0);
		assert_true(valid_utf8((const uint8_t *)out, ol));
		if (cfgs[c].strip_control)
			for (size_t i = 0; i < ol; i++) {
				uint8_t b = (uint8_t)out[i];
				assert_false(b < 0x20 && b != '\n' && b != '\t' && b != '\r');
				assert_false(b == 0x7f);
				if (b == '\r')
					assert_int_equal(out[i + 1], '\n');
			}
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_modes),
	        cmocka_unit_test(test_redactions),
	        cmocka_unit_test(test_limit_fails_closed),
	        cmocka_unit_test(test_builtin_private_key),
	        cmocka_unit_test(test_redos_is_bounded),
	        cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
