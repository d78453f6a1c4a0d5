/* SPDX-License-Identifier: Apache-2.0 */
/* PCRE2 limits: every pattern in a policy is matched against untrusted text
 * (parameter values, tool output), so every match runs under a match limit
 * and a depth limit. A hostile value then costs at most a bounded amount of
 * work instead of exponential backtracking (ReDoS). */
#include "policy.h"

/* Enough for any sane pattern on inputs up to a few MiB; small enough that
 * the worst case stays in the low milliseconds. */
#define TG_PCRE2_MATCH_LIMIT 100000u
#define TG_PCRE2_DEPTH_LIMIT 1000u

pcre2_match_context *tg_policy_new_match_context(void)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	if (!mc)
		return NULL;
	pcre2_set_match_limit(mc, TG_PCRE2_MATCH_LIMIT);
	pcre2_set_depth_limit(mc, TG_PCRE2_DEPTH_LIMIT);
	return mc;
}
