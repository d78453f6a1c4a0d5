/* SPDX-License-Identifier: Apache-2.0 */
/* prepared.c - sandboxes prepared ahead of calls (see prepared.h).
 *
 * One builder thread. It also frees what is discarded, so neither the call
 * path nor a reload waits for a sandbox's teardown. It lives as long as the
 * prepared sandboxes: their init's parent-death signal is tied to the
 * thread that spawned them. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "internal.h"
#include "prepared.h"

/* After a failed build, the next attempt for that tool waits this long. */
#define RETRY_MS 5000
/* The builder wakes at least this often to expire idle sandboxes. */
#define TICK_MS 1000

struct entry {
	struct tg_policy_set *set; /* a reference */
	long tool;
	/* the template: a deferred copy of the call's spec */
	struct tg_spawn_spec spec;
	struct tg_mount *mounts;
	char *path;
	char **envp;
	/* the sandbox, when one is ready */
	struct tg_child *child;
	int out_fd, err_fd;
	bool building;     /* the builder works on it, outside the lock */
	bool dead;         /* dropped while building: the builder discards it after */
	uint64_t used_ms;  /* last take */
	uint64_t ready_ms; /* when the ready one was built */
	uint64_t retry_ms; /* no build before this (after a failure) */
	struct entry *next;
};

struct tg_prepared {
	struct tg_sandbox *sb;
	unsigned max_tools, idle_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop;
	const struct tg_policy_set *current; /* compared only */
	struct entry *entries;               /* most recently used first */
	unsigned n_entries;
	struct entry *discard; /* for the builder to free, outside the lock */
	uint64_t hits, misses; /* takes that found one ready, and not */
};

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	tg_child_free(e->child);
	if (e->out_fd >= 0)
		close(e->out_fd);
	if (e->err_fd >= 0)
		close(e->err_fd);
	tg_policy_set_put(e->set);
	free(e->mounts);
	free(e->path);
	tg_strv_free(e->envp);
	free(e);
}

static struct entry *entry_new(struct tg_policy_set *set, long tool,
                               const struct tg_spawn_spec *spec)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->out_fd = e->err_fd = -1;
	e->tool = tool;
	e->spec = *spec;
	e->spec.argv = NULL;
	e->spec.deferred = true;
	e->spec.stdin_fd = e->spec.stdout_fd = e->spec.stderr_fd = -1;
	e->path = spec->path ? strdup(spec->path) : NULL;
	e->envp = spec->envp ? tg_strv_dup(spec->envp) : NULL;
	if (spec->n_mounts)
		e->mounts = malloc(spec->n_mounts * sizeof(*e->mounts));
	if ((spec->path && !e->path) || (spec->envp && !e->envp) ||
	    (spec->n_mounts && !e->mounts)) {
		entry_free(e);
		return NULL;
	}
	if (spec->n_mounts)
		memcpy(e->mounts, spec->mounts, spec->n_mounts * sizeof(*e->mounts));
	e->spec.path = e->path;
	e->spec.envp = e->envp;
	e->spec.mounts = e->mounts;
	atomic_fetch_add(&set->refs, 1);
	e->set = set;
	return e;
}

/* Unlink e (under the lock) and hand it to the builder to free. */
static void drop(struct tg_prepared *p, struct entry *e)
{
	for (struct entry **pp = &p->entries; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			p->n_entries--;
			break;
		}
	}
	if (e->building) {
		e->dead = true; /* the builder frees it when done */
		return;
	}
	e->next = p->discard;
	p->discard = e;
}

static int build(struct tg_prepared *p, struct entry *e, struct tg_child **ret, int *ret_out,
                 int *ret_err)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	int r = tg_capture_pipe(out);
	if (r == 0 && (r = tg_capture_pipe(err)) < 0) {
		close(out[0]);
		close(out[1]);
	}
	if (r < 0) {
		tg_log(TG_LOG_WARN, "prepared sandbox of tool %ld: pipe: %s", e->tool,
		       strerror(-r));
		return r;
	}
	struct tg_spawn_spec s = e->spec;
	s.stdout_fd = out[1];
	s.stderr_fd = err[1];
	_cleanup_error_ struct tg_error *error = NULL;
	r = tg_sandbox_spawn(p->sb, &s, ret, &error);
	close(out[1]);
	close(err[1]);
	if (r < 0) {
		close(out[0]);
		close(err[0]);
		/* Not fatal: the call path spawns this tool itself, and reports
		 * the same error to the caller if it persists. */
		tg_log(TG_LOG_WARN, "prepared sandbox of tool %ld: %s", e->tool,
		       tg_error_msg(error));
		return r;
	}
	*ret_out = out[0];
	*ret_err = err[0];
	return 0;
}

/* The next entry that wants a sandbox built, or NULL; and how long until
 * something is due (*wait_ms). Under the lock. */
static struct entry *next_job(struct tg_prepared *p, uint64_t now, uint64_t *wait_ms)
{
	*wait_ms = TICK_MS;
	for (struct entry *e = p->entries; e; e = e->next) {
		if (e->building)
			continue;
		/* A tool not called for idle_ms: its sandbox (or its attempts
		 * to build one) go. */
		uint64_t last = e->used_ms > e->ready_ms ? e->used_ms : e->ready_ms;
		if (now >= last + p->idle_ms) {
			drop(p, e);
			*wait_ms = 0;
			return NULL;
		}
		if (e->child)
			continue;
		if (now >= e->retry_ms)
			return e;
		if (e->retry_ms - now < *wait_ms)
			*wait_ms = e->retry_ms - now;
	}
	return NULL;
}

static void *builder_main(void *arg)
{
	struct tg_prepared *p = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (p->discard) {
			struct entry *e = p->discard;
			p->discard = e->next;
			pthread_mutex_unlock(&p->lock);
			entry_free(e);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		uint64_t wait_ms;
		struct entry *e = next_job(p, tg_now_mono_ms(), &wait_ms);
		if (!e) {
			if (wait_ms > 0)
				tg_cond_wait_until(&p->cond, &p->lock,
				                   tg_now_mono_ns() + wait_ms * 1000000u);
			continue;
		}
		e->building = true;
		pthread_mutex_unlock(&p->lock);
		struct tg_child *child = NULL;
		int out = -1, err = -1;
		int r = build(p, e, &child, &out, &err);
		pthread_mutex_lock(&p->lock);
		e->building = false;
		if (e->dead) {
			pthread_mutex_unlock(&p->lock);
			tg_child_free(child);
			if (out >= 0) {
				close(out);
				close(err);
			}
			entry_free(e);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		uint64_t now = tg_now_mono_ms();
		if (r < 0) {
			e->retry_ms = now + RETRY_MS;
		} else {
			e->child = child;
			e->out_fd = out;
			e->err_fd = err;
			e->ready_ms = now;
		}
	}
	/* Stopping: everything goes, in this thread (see the top). */
	while (p->entries)
		drop(p, p->entries);
	struct entry *d = p->discard;
	p->discard = NULL;
	pthread_mutex_unlock(&p->lock);
	while (d) {
		struct entry *next = d->next;
		entry_free(d);
		d = next;
	}
	return NULL;
}

int tg_prepared_new(struct tg_sandbox *sb, unsigned max_tools, unsigned idle_ms,
                    struct tg_prepared **ret, struct tg_error **err)
{
	struct tg_prepared *p = calloc(1, sizeof(*p));
	if (!p)
		return tg_error_set(err, -ENOMEM, "out of memory");
	p->sb = sb;
	p->max_tools = max_tools;
	p->idle_ms = idle_ms;
	pthread_mutex_init(&p->lock, NULL);
	int cr = tg_cond_init_monotonic(&p->cond);
	if (cr < 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return tg_error_set(err, cr, "prepared sandboxes: %m");
	}
	if (max_tools > 0) {
		int r = pthread_create(&p->thread, NULL, builder_main, p);
		if (r != 0) {
			tg_prepared_free(p);
			return tg_error_set(err, -r, "prepared sandboxes: thread: %m");
		}
		p->started = true;
	}
	*ret = p;
	return 0;
}

void tg_prepared_free(struct tg_prepared *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		tg_log(TG_LOG_DEBUG,
		       "prepared sandboxes: %" PRIu64 " calls found one ready, %" PRIu64 " did not",
		       p->hits, p->misses);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

bool tg_prepared_take(struct tg_prepared *p, struct tg_policy_set *set, long tool,
                      const struct tg_spawn_spec *spec, struct tg_prepared_child *ret)
{
	if (!p || !p->started || tool < 0)
		return false;
	bool hit = false;
	pthread_mutex_lock(&p->lock);
	if (set != p->current || p->stop) {
		/* A call still under a replaced policy: not worth preparing. */
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	struct entry *e = NULL, **pp;
	for (pp = &p->entries; *pp; pp = &(*pp)->next) {
		if ((*pp)->set == set && (*pp)->tool == tool) {
			e = *pp;
			*pp = e->next; /* moved to the front below */
			p->n_entries--;
			break;
		}
	}
	if (e && e->child)
		p->hits++;
	else
		p->misses++;
	if (e && e->child) {
		*ret = (struct tg_prepared_child){
		        .child = e->child, .out_fd = e->out_fd, .err_fd = e->err_fd};
		e->child = NULL;
		e->out_fd = e->err_fd = -1;
		hit = true;
	}
	if (!e) {
		/* Room for it: the least recently used tool goes. */
		while (p->n_entries >= p->max_tools && p->entries) {
			struct entry *last = p->entries;
			while (last->next)
				last = last->next;
			drop(p, last);
		}
		e = entry_new(set, tool, spec);
	}
	if (e) {
		e->used_ms = tg_now_mono_ms();
		e->next = p->entries;
		p->entries = e;
		p->n_entries++;
	}
	/* Build the next one now: it overlaps with this call's program. */
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return hit;
}

void tg_prepared_flush(struct tg_prepared *p, const struct tg_policy_set *current)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->current = current;
	while (p->entries)
		drop(p, p->entries);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
