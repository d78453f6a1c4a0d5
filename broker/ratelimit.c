/* SPDX-License-Identifier: Apache-2.0 */
/* Rate limits of this session: a token bucket per tool (`rate: {calls, per,
 * burst}`) and a cap on calls in flight (`max_concurrent`). Buckets are keyed
 * by tool name and survive a policy reload, so reloading cannot be used to
 * refill them. */
#include <string.h>

#include "internal.h"

struct bucket {
	struct bucket *next;
	char *tool;
	double tokens;
	uint64_t last_ms;
};

struct tg_ratelimit {
	pthread_mutex_t lock;
	struct bucket *buckets;
	uint32_t in_flight;
};

struct tg_ratelimit *tg_ratelimit_new(void)
{
	struct tg_ratelimit *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

void tg_ratelimit_free(struct tg_ratelimit *r)
{
	if (!r)
		return;
	for (struct bucket *b = r->buckets, *n; b; b = n) {
		n = b->next;
		free(b->tool);
		free(b);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct bucket *find_bucket(struct tg_ratelimit *r, const char *tool, double burst,
                                  uint64_t now_ms)
{
	for (struct bucket *b = r->buckets; b; b = b->next)
		if (strcmp(b->tool, tool) == 0)
			return b;
	struct bucket *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->tool = strdup(tool);
	if (!b->tool) {
		free(b);
		return NULL;
	}
	b->tokens = burst;
	b->last_ms = now_ms;
	b->next = r->buckets;
	r->buckets = b;
	return b;
}

bool tg_ratelimit_take(struct tg_ratelimit *r, const char *tool, const struct tg_rate *rate,
                       uint64_t now_ms, uint32_t *retry_after_ms)
{
	if (!rate || rate->calls == 0 || rate->per_ms == 0)
		return true;
	double burst = rate->burst ? rate->burst : rate->calls;
	double per_token_ms = (double)rate->per_ms / rate->calls;
	bool ok;
	pthread_mutex_lock(&r->lock);
	struct bucket *b = find_bucket(r, tool, burst, now_ms);
	if (!b) {
		/* Fail closed: no memory for the bucket means no call. */
		pthread_mutex_unlock(&r->lock);
		*retry_after_ms = 1000;
		return false;
	}
	/* Threads read the clock before taking the lock: a time older than
	 * the bucket's must not wrap into a refill. */
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) / per_token_ms;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		ok = true;
	} else {
		double wait = (1.0 - b->tokens) * per_token_ms;
		*retry_after_ms = (uint32_t)(wait + 0.999);
		if (*retry_after_ms == 0)
			*retry_after_ms = 1;
		ok = false;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

bool tg_ratelimit_enter(struct tg_ratelimit *r, uint32_t max_concurrent)
{
	bool ok = true;
	pthread_mutex_lock(&r->lock);
	if (max_concurrent && r->in_flight >= max_concurrent)
		ok = false;
	else
		r->in_flight++;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void tg_ratelimit_leave(struct tg_ratelimit *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->in_flight)
		r->in_flight--;
	pthread_mutex_unlock(&r->lock);
}
