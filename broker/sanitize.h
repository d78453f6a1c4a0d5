/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sanitize.h (private to the broker) - make what a tool printed safe to hand
 * to an agent and an LLM: strip terminal escape sequences and control
 * characters, repair UTF-8, and redact secrets (built-in detectors and the
 * policy's PCRE2 patterns, matched under match/depth limits).
 *
 * Order: strip ANSI -> strip control -> UTF-8 repair -> redactions. Each step
 * works on the previous step's output, so a secret split by an escape
 * sequence is still found.
 */
#ifndef TG_BROKER_SANITIZE_H
#define TG_BROKER_SANITIZE_H

#include <stddef.h>
#include <stdint.h>

struct tg_sanitize_config;

struct tg_sanitize_report {
	uint64_t redactions; /* replacements made (a region a rule could not check counts) */
	uint64_t limit_hits; /* times a rule could not check a region: it hit a PCRE2
	                        limit, failed or ran out of time; that region was redacted */
};

/*
 * Sanitize in[0..len) per cfg into a new buffer. Returns 0 and *ret (owned
 * by the caller, NUL-terminated for convenience, length in *ret_len) and
 * what the redactions did in *ret_report (may be NULL); or -ENOMEM.
 * Redaction fails closed and never makes a call slow: what a pattern could
 * not check within its match limits and time budget is redacted.
 */
int tg_sanitize(const struct tg_sanitize_config *cfg, const uint8_t *in, size_t len, char **ret,
                size_t *ret_len, struct tg_sanitize_report *ret_report);

#endif /* TG_BROKER_SANITIZE_H */
