/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks: monotonic for durations, wall clock (UTC, µs) for records. */
#include <time.h>

#include "tg.h"

uint64_t tg_now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tg_time_rfc3339(char out[TG_RFC3339_LEN])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, TG_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TG_RFC3339_LEN - n, ".%06ldZ", ts.tv_nsec / 1000);
}
