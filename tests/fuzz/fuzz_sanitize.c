/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary tool output through the sanitizer, with every
 * stripping mode and a few redaction patterns. Checks what the sanitizer
 * promises: valid UTF-8 out, no ESC and no C0 control but \n \t (and \r only
 * before \n) when stripping, a NUL terminator.
 */
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "sanitize.h"
#include "tg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_redact_rule rules[3];
static const char *patterns[] = {"AKIA[0-9A-Z]{16}", "(?i)bearer\\s+[A-Za-z0-9._~+/-]+=*",
                                 "(a|aa)+$"};

static void init(void)
{
	for (size_t i = 0; i < 3; i++) {
		int ec;
		PCRE2_SIZE eo;
		rules[i].name = (char *)patterns[i];
		rules[i].re = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
		                            PCRE2_UTF, &ec, &eo, NULL);
		rules[i].replace = i == 1 ? "Bearer [X]" : NULL;
		if (!rules[i].re)
			abort();
	}
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += k + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	uint8_t mode = size > 0 ? data[0] : 0;
	struct tg_sanitize_config cfg = {
	        .strip_ansi = mode & 1,
	        .strip_control = mode & 2,
	        .utf8 = mode & 4 ? TG_UTF8_DROP : TG_UTF8_REPLACE,
	        .rules = rules,
	        .n_rules = mode & 8 ? 3 : 0,
	};
	char *out = NULL;
	size_t len = 0;
	if (tg_sanitize(&cfg, data, size, &out, &len, NULL) < 0)
		return 0;
	if (out[len] != '\0' || !valid_utf8((const uint8_t *)out, len))
		abort();
	if (cfg.strip_control)
		for (size_t i = 0; i < len; i++) {
			uint8_t b = (uint8_t)out[i];
			if ((b < 0x20 && b != '\n' && b != '\t' && b != '\r') || b == 0x7f ||
			    (b == '\r' && out[i + 1] != '\n'))
				abort();
		}
	free(out);
	return 0;
}
