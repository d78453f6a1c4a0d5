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

int tg_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int r = pthread_condattr_init(&ca);
	if (r == 0)
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return -r;
}

void tg_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t mono_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(mono_ns / 1000000000u),
	                      .tv_nsec = (long)(mono_ns % 1000000000u)};
	pthread_cond_timedwait(c, m, &ts);
}
