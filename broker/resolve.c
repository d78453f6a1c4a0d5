/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve.c - host names of egress rules -> addresses, resolved by the
 * broker (never by the tool) and cached.
 *
 * getaddrinfo goes through the host's nsswitch (files, dns, ...) exactly as
 * any program on the host would, but hides the answer's TTL. So an answer
 * is kept for a fixed refresh interval and resolved again on the next use
 * after that; if the refresh fails, the previous answer keeps serving for a
 * bounded time (a resolver outage should not cut every tool off at once),
 * after which the name counts as unresolvable and calls that need it are
 * refused. A call uses the addresses it started with until it ends; they
 * are also what its /etc/hosts says, so the tool connects to exactly the
 * addresses the rules allow.
 */
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "egress.h"

struct entry {
	char *name;
	struct tg_addr *addrs;
	size_t n;
	uint64_t resolved_ms; /* when addrs were fetched; 0: never */
};

struct tg_resolver {
	pthread_mutex_t lock;
	uint64_t refresh_ms;
	struct entry *v;
	size_t n;
};

int tg_resolver_new(uint64_t refresh_ms, struct tg_resolver **ret)
{
	struct tg_resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->refresh_ms = refresh_ms ? refresh_ms : TG_RESOLVE_REFRESH_MS;
	*ret = r;
	return 0;
}

void tg_resolver_free(struct tg_resolver *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].addrs);
	}
	free(r->v);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct entry *find(struct tg_resolver *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

static int copy_out(const struct entry *e, struct tg_addr **ret, size_t *ret_n)
{
	struct tg_addr *c = calloc(e->n ? e->n : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c, e->addrs, e->n * sizeof(*c));
	*ret = c;
	*ret_n = e->n;
	return 0;
}

/* getaddrinfo, deduplicated, A and AAAA. */
static int resolve_now(const char *name, struct tg_addr **ret, size_t *ret_n, struct tg_error **err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(name, NULL, &hints, &res);
	if (g != 0) {
		int code = g == EAI_NONAME || g == EAI_NODATA ? -ENOENT
		           : g == EAI_MEMORY                  ? -ENOMEM
		                                              : -EAGAIN;
		return tg_error_set(err, code, "cannot resolve %s: %s", name,
		                    g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
	}
	struct tg_addr *v = calloc(TG_RESOLVE_MAX_ADDRS, sizeof(*v));
	if (!v) {
		freeaddrinfo(res);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai && n < TG_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
		struct tg_addr a = {.family = ai->ai_family};
		if (ai->ai_family == AF_INET)
			memcpy(a.a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6)
			memcpy(a.a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = v[k].family == a.family && memcmp(v[k].a, a.a, 16) == 0;
		if (!dup)
			v[n++] = a;
	}
	freeaddrinfo(res);
	if (n == 0) {
		free(v);
		return tg_error_set(err, -ENOENT, "cannot resolve %s: no IPv4 or IPv6 address",
		                    name);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int tg_resolver_lookup(struct tg_resolver *r, const char *name, struct tg_addr **ret, size_t *ret_n,
                       struct tg_error **err)
{
	uint64_t now = tg_now_mono_ms();
	pthread_mutex_lock(&r->lock);
	struct entry *e = find(r, name);
	if (e && e->resolved_ms && now - e->resolved_ms < r->refresh_ms) {
		int c = copy_out(e, ret, ret_n);
		pthread_mutex_unlock(&r->lock);
		return c < 0 ? tg_error_set(err, c, "out of memory") : 0;
	}
	pthread_mutex_unlock(&r->lock);

	/* Not under the lock: a slow resolver must not stall calls whose
	 * names are cached. Two calls may resolve the same name at once;
	 * the later answer wins. */
	struct tg_addr *addrs = NULL;
	size_t n = 0;
	_cleanup_error_ struct tg_error *rerr = NULL;
	int rr = resolve_now(name, &addrs, &n, &rerr);

	pthread_mutex_lock(&r->lock);
	e = find(r, name);
	int out;
	if (rr == 0) {
		if (!e) {
			struct entry *nv = realloc(r->v, (r->n + 1) * sizeof(*nv));
			char *dup = strdup(name);
			if (!nv || !dup) {
				if (nv)
					r->v = nv;
				free(dup);
				free(addrs);
				pthread_mutex_unlock(&r->lock);
				return tg_error_set(err, -ENOMEM, "out of memory");
			}
			r->v = nv;
			e = &r->v[r->n++];
			*e = (struct entry){.name = dup};
		}
		free(e->addrs);
		e->addrs = addrs;
		e->n = n;
		e->resolved_ms = now;
		out = copy_out(e, ret, ret_n);
		if (out < 0)
			tg_error_set(err, out, "out of memory");
	} else if (e && e->resolved_ms && now - e->resolved_ms < TG_RESOLVE_STALE_MS) {
		/* Availability over freshness, for a bounded time: the last good
		 * answer was the policy's own host. */
		tg_log(TG_LOG_WARN, "egress: %s; using the answer from %llu s ago",
		       tg_error_msg(rerr), (unsigned long long)((now - e->resolved_ms) / 1000));
		out = copy_out(e, ret, ret_n);
		if (out < 0)
			tg_error_set(err, out, "out of memory");
	} else {
		out = rr;
		if (err && !*err)
			*err = steal_pointer(&rerr);
	}
	pthread_mutex_unlock(&r->lock);
	return out;
}
