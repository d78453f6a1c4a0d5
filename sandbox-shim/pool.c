/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - work done ahead of spawns, on a background thread.
 *
 * Three things cost a spawn more than they need to when done on the
 * caller's critical path, and none depends on the spec:
 *   - a fresh network + ipc namespace pair (lo up): ~0.4-1 ms of kernel work;
 *   - the empty per-spawn cgroups (a mkdir in every hierarchy, the join
 *     descriptors): ~0.1-0.2 ms on v1;
 *   - the base of the default root (tmpfs, /usr, /etc, /dev, /tmp, the
 *     links), built in a fresh mount namespace and pivoted into, so the
 *     spawn only joins it and adds /proc and its own mounts; detaching the
 *     old root waits for an RCU grace period (30 us-1 ms).
 * The thread keeps `target` of each ready, refilling when a sandbox has been
 * freed (in the gap between calls: making cgroups and namespaces takes the
 * kernel locks a spawn needs, and the CPU a running program wants), or at
 * once when a spawn found it empty. A spawn takes one of each, or
 * makes its own inline when the pool is empty (a burst): the pool only ever
 * changes latency, never isolation. Every item serves one sandbox and is
 * never reused: a pooled namespace dies with its sandbox, a pooled cgroup
 * is removed with it.
 *
 * The thread also closes, off the caller's path, the descriptors that keep
 * an ended sandbox's mount namespace alive: tearing down ~40 mounts (and
 * another grace period) then happens here instead of in the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define POOL_MAX 16

struct tg_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	unsigned target;
	struct tg_cgroups *cg;
	const struct tg_mount_plan *base;       /* NULL: no base namespaces */
	bool ns_failed, cg_failed, base_failed; /* the kernel refused once: stop trying */
	size_t n_ns, n_cg, n_base, n_close;
	int ns[POOL_MAX][2]; /* net, ipc */
	struct tg_cg_child cgs[POOL_MAX];
	int bases[POOL_MAX];
	int to_close[64];
};

static bool want_ns(const struct tg_pool *p)
{
	return !p->ns_failed && p->n_ns < p->target;
}

static bool want_cg(const struct tg_pool *p)
{
	return !p->cg_failed && p->cg->n > 0 && p->n_cg < p->target;
}

static bool want_base(const struct tg_pool *p)
{
	return !p->base_failed && p->base && p->n_base < p->target;
}

static void *pool_main(void *arg)
{
	struct tg_pool *p = arg;
	/* The caller's signals are not ours to take. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	_cleanup_close_ int orig_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int orig_ipc = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int orig_mnt = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	pthread_mutex_lock(&p->lock);
	if (orig_net < 0 || orig_ipc < 0)
		p->ns_failed = true;
	if (orig_mnt < 0)
		p->base_failed = true;
	while (!p->stop) {
		/* Closing first: it frees what the next items will need. */
		if (p->n_close > 0) {
			int fd = p->to_close[--p->n_close];
			pthread_mutex_unlock(&p->lock);
			close(fd);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		bool ns = want_ns(p), cg = want_cg(p), base = want_base(p);
		if (!ns && !cg && !base) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		int net = -1, ipc = -1, mnt = -1, r_ns = 0, r_cg = 0, r_base = 0;
		struct tg_cg_child spare = {0};
		if (ns)
			r_ns = tg_ns_make_pair(orig_net, orig_ipc, &net, &ipc);
		if (cg)
			r_cg = tg_cg_spare_create(p->cg, &spare);
		if (base)
			r_base = tg_mount_make_base(p->base, orig_mnt, &mnt);
		pthread_mutex_lock(&p->lock);
		if (base && r_base < 0)
			p->base_failed = true;
		else if (base)
			p->bases[p->n_base++] = mnt;
		if (ns && r_ns < 0)
			p->ns_failed = true;
		else if (ns) {
			p->ns[p->n_ns][0] = net;
			p->ns[p->n_ns][1] = ipc;
			p->n_ns++;
		}
		if (cg && r_cg < 0)
			p->cg_failed = true;
		else if (cg)
			p->cgs[p->n_cg++] = spare;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int tg_pool_start(unsigned target, struct tg_cgroups *cg, const struct tg_mount_plan *base,
                  struct tg_pool **ret, struct tg_error **err)
{
	struct tg_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return tg_error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->target = target < POOL_MAX ? target : POOL_MAX;
	p->cg = cg;
	p->base = base;
	int r = pthread_create(&p->thread, NULL, pool_main, p);
	if (r != 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return tg_error_set(err, -r, "spawn pool thread: %m");
	}
	*ret = p;
	return 0;
}

void tg_pool_stop(struct tg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->n_ns; i++) {
		close(p->ns[i][0]);
		close(p->ns[i][1]);
	}
	for (size_t i = 0; i < p->n_cg; i++)
		tg_cg_child_remove(p->cg, &p->cgs[i]);
	for (size_t i = 0; i < p->n_base; i++)
		close(p->bases[i]);
	for (size_t i = 0; i < p->n_close; i++)
		close(p->to_close[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

bool tg_pool_take_ns(struct tg_pool *p, int *ret_net, int *ret_ipc)
{
	if (!p)
		return false;
	bool got = false;
	pthread_mutex_lock(&p->lock);
	if (p->n_ns > 0) {
		p->n_ns--;
		*ret_net = p->ns[p->n_ns][0];
		*ret_ipc = p->ns[p->n_ns][1];
		got = true;
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

bool tg_pool_take_cg(struct tg_pool *p, struct tg_cg_child *ret)
{
	if (!p)
		return false;
	bool got = false;
	pthread_mutex_lock(&p->lock);
	if (p->n_cg > 0) {
		*ret = p->cgs[--p->n_cg];
		got = true;
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

bool tg_pool_owns_cg(struct tg_pool *p, const char *path)
{
	if (!p)
		return false;
	bool found = false;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_cg && !found; i++)
		for (size_t j = 0; j < p->cgs[i].n && !found; j++)
			found = strcmp(p->cgs[i].d[j].path, path) == 0;
	pthread_mutex_unlock(&p->lock);
	return found;
}

bool tg_pool_take_base(struct tg_pool *p, int *ret)
{
	if (!p)
		return false;
	bool got = false;
	pthread_mutex_lock(&p->lock);
	if (p->n_base > 0) {
		*ret = p->bases[--p->n_base];
		got = true;
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

void tg_pool_close_later(struct tg_pool *p, int fd)
{
	if (fd < 0)
		return;
	if (p) {
		pthread_mutex_lock(&p->lock);
		if (p->n_close < TG_ARRAY_SIZE(p->to_close)) {
			p->to_close[p->n_close++] = fd;
			pthread_cond_signal(&p->cond);
			fd = -1;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (fd >= 0)
		close(fd);
}

void tg_pool_kick(struct tg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
