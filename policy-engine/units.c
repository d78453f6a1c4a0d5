/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes (B, KiB, MiB, GiB, TiB; also KB/MB/GB as powers of 1000) and
 * durations (ms, s, m, h; decimals allowed) as the policy writes them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct unit {
	const char *suffix;
	double factor;
};

/* Parse "<number><suffix>" with an optional decimal part. */
static int parse_with_units(const char *s, const struct unit *units, size_t n_units,
                            double default_factor, uint64_t *ret)
{
	if (!s || !*s)
		return -EINVAL;
	const char *p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s)
		return -EINVAL;
	if (*p == '.') {
		const char *frac = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == frac)
			return -EINVAL;
	}
	size_t numlen = (size_t)(p - s);
	char num[64];
	if (numlen >= sizeof(num))
		return -ERANGE;
	memcpy(num, s, numlen);
	num[numlen] = '\0';
	double factor = -1;
	if (*p == '\0') {
		factor = default_factor;
	} else {
		for (size_t i = 0; i < n_units; i++)
			if (strcmp(p, units[i].suffix) == 0)
				factor = units[i].factor;
	}
	if (factor < 0)
		return -EINVAL;
	double v = strtod(num, NULL) * factor;
	if (!isfinite(v) || v >= 18446744073709551615.0)
		return -ERANGE;
	*ret = (uint64_t)llround(v);
	return 0;
}

int tg_parse_size(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {
	        {"B", 1},
	        {"KiB", 1024.0},
	        {"MiB", 1024.0 * 1024},
	        {"GiB", 1024.0 * 1024 * 1024},
	        {"TiB", 1024.0 * 1024 * 1024 * 1024},
	        {"KB", 1e3},
	        {"MB", 1e6},
	        {"GB", 1e9},
	        {"TB", 1e12},
	        {"k", 1024.0},
	        {"K", 1024.0},
	        {"M", 1024.0 * 1024},
	        {"G", 1024.0 * 1024 * 1024},
	};
	return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), 1, ret);
}

int tg_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {
	        {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"min", 60e3}, {"h", 3600e3},
	};
	/* A bare number is ambiguous for a duration; require a unit. */
	return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), -1, ret);
}
