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

/*
 * Sanitize in[0..len) per cfg into a new buffer. Returns 0 and *ret (owned
 * by the caller, NUL-terminated for convenience, length in *ret_len) and the
 * number of redactions made in *ret_redactions; or -ENOMEM. A redaction
 * pattern that hits its match limit on this input counts as no match for
 * that position (and is logged once); it never makes the call slow.
 */
int tg_sanitize(const struct tg_sanitize_config *cfg, const uint8_t *in, size_t len, char **ret,
                size_t *ret_len, uint64_t *ret_redactions);

#endif /* TG_BROKER_SANITIZE_H */
