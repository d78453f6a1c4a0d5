/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup_spawn.c - one spawn's cgroups: created (or taken from the pool),
 * limited, joined by the child, read for usage, killed, removed. The
 * layout, detection and the v1 / v2 rules are in cgroup.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define BIT(c) (1u << (c))

/* ---------------------------------------------------------------------------
 * Per spawn.
 */

static void cc_remove_all(struct tg_cgroups *cg, struct tg_cg_child *cc)
{
	tg_cg_child_close_fds(cc);
	for (size_t i = 0; i < cc->n; i++) {
		tg_cg_remove_dir(cg, cc->d[i].path);
		free(cc->d[i].path);
	}
	cc->n = 0;
}

static int write_limits(struct tg_cgroups *cg, const struct tg_cg_hier *h, const char *dir,
                        const struct tg_spawn_limits *lim, char ***prot, struct tg_error **err)
{
	char v[64], note[96];
	const char *ver = h->version == TG_CG_V2 ? "v2" : "v1";
	int r = 0;
	if ((h->ctrls & BIT(TG_CG_MEMORY))) {
		if (lim->memory_bytes) {
			snprintf(v, sizeof(v), "%" PRIu64, lim->memory_bytes);
			if (h->version == TG_CG_V2) {
				r = tg_cg_knob_write(cg, dir, "memory.max", v);
				/* No swap either: the limit is the limit. ENOENT: the
				 * kernel has no swap accounting, so nothing to cap. */
				if (r == 0) {
					int s = tg_cg_knob_write(cg, dir, "memory.swap.max", "0");
					if (s < 0 && s != -ENOENT)
						r = s;
				}
			} else {
				r = tg_cg_knob_write(cg, dir, "memory.limit_in_bytes", v);
				/* memsw exists only with swap accounting; without it
				 * there is nothing more to cap. */
				if (r == 0) {
					int s = tg_cg_knob_write(cg, dir,
					                         "memory.memsw.limit_in_bytes", v);
					if (s < 0 && s != -ENOENT)
						r = s;
				}
				if (r == 0)
					tg_cg_knob_write(cg, dir, "memory.swappiness", "0");
			}
			if (r < 0)
				return tg_error_set(err, r, "cgroup %s memory limit (%s): %m", ver,
				                    dir);
		}
		snprintf(note, sizeof(note), "cgroup:%s:memory=%s", ver,
		         lim->memory_bytes ? v : "max");
		if ((r = tg_strv_push(prot, note)) < 0)
			return r;
	}
	if ((h->ctrls & BIT(TG_CG_PIDS)) && lim->pids) {
		/* +1: the sandbox's init is ours, not the program's. */
		snprintf(v, sizeof(v), "%" PRIu64, lim->pids + 1);
		r = tg_cg_knob_write(cg, dir, "pids.max", v);
		if (r < 0)
			return tg_error_set(err, r, "cgroup %s pids limit (%s): %m", ver, dir);
		snprintf(note, sizeof(note), "cgroup:%s:pids=%" PRIu64, ver, lim->pids);
		if ((r = tg_strv_push(prot, note)) < 0)
			return r;
	}
	if ((h->ctrls & BIT(TG_CG_CPU)) && lim->cpu_millis) {
		uint64_t period = 100000, quota = (uint64_t)lim->cpu_millis * period / 1000;
		if (quota < 1000)
			quota = 1000;
		if (h->version == TG_CG_V2) {
			snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64, quota, period);
			r = tg_cg_knob_write(cg, dir, "cpu.max", v);
		} else {
			snprintf(v, sizeof(v), "%" PRIu64, period);
			r = tg_cg_knob_write(cg, dir, "cpu.cfs_period_us", v);
			snprintf(v, sizeof(v), "%" PRIu64, quota);
			if (r == 0)
				r = tg_cg_knob_write(cg, dir, "cpu.cfs_quota_us", v);
		}
		if (r < 0)
			return tg_error_set(err, r, "cgroup %s cpu limit (%s): %m", ver, dir);
		snprintf(note, sizeof(note), "cgroup:%s:cpu=%um", ver, lim->cpu_millis);
		if ((r = tg_strv_push(prot, note)) < 0)
			return r;
	}
	return 0;
}

static bool hier_needed(const struct tg_cg_hier *h, const struct tg_spawn_limits *lim)
{
	if (!lim || h->version == TG_CG_V2)
		return true; /* limits, usage and kill all live in the one v2 cgroup */
	if (h->ctrls & (BIT(TG_CG_MEMORY) | BIT(TG_CG_CPUACCT) | BIT(TG_CG_FREEZER)))
		return true; /* oom, peak, cpu time, kill */
	if ((h->ctrls & BIT(TG_CG_PIDS)) && lim->pids)
		return true;
	if ((h->ctrls & BIT(TG_CG_CPU)) && lim->cpu_millis)
		return true;
	return false;
}

/* mkdir the spawn's cgroup in every hierarchy it needs (all of them when
 * lim is NULL) and open the cgroup.procs the child writes to. */
static int create_dirs(struct tg_cgroups *cg, const struct tg_spawn_limits *lim,
                       struct tg_cg_child *ret, struct tg_error **err)
{
	struct tg_cg_child cc = {.into_fd = -1};
	unsigned seq = atomic_fetch_add(&cg->seq, 1);
	for (size_t i = 0; i < cg->n; i++) {
		const struct tg_cg_hier *h = &cg->h[i];
		if (!h->inst || !hier_needed(h, lim))
			continue;
		struct tg_cg_dir *d = &cc.d[cc.n];
		d->hier = (int)i;
		d->procs_fd = d->dir_fd = -1;
		d->path = tg_strdup_printf("%s/c%u", h->inst, seq);
		if (!d->path) {
			cc_remove_all(cg, &cc);
			return tg_error_set(err, -ENOMEM, "out of memory");
		}
		if (mkdir(d->path, 0755) < 0) {
			int r = tg_error_set(err, -errno, "mkdir %s: %m", d->path);
			free(d->path);
			cc_remove_all(cg, &cc);
			return r;
		}
		cc.n++;
		/* How the child gets in, cheapest first. v1: the child writes "0"
		 * to "tasks", moving only itself (single-threaded), which the
		 * kernel does without the global threadgroup lock that a
		 * cgroup.procs write takes (an RCU grace period: 1-20 ms when
		 * spawns are spaced out). v2: clone3(CLONE_INTO_CGROUP) with the
		 * directory; cgroup.procs only when clone3 is not available. */
		const char *knob = h->version == TG_CG_V1 ? "tasks" : "cgroup.procs";
		_cleanup_free_ char *procs = tg_strdup_printf("%s/%s", d->path, knob);
		if (!procs) {
			cc_remove_all(cg, &cc);
			return tg_error_set(err, -ENOMEM, "out of memory");
		}
		d->procs_fd = open(procs, O_WRONLY | O_CLOEXEC | (cg->fake ? O_CREAT : 0), 0644);
		if (h->version == TG_CG_V2 && d->procs_fd >= 0) {
			d->dir_fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (d->dir_fd >= 0)
				cc.into_fd = d->dir_fd;
		}
		if (d->procs_fd < 0 || (h->version == TG_CG_V2 && d->dir_fd < 0)) {
			int r = tg_error_set(err, -errno, "open %s: %m", procs);
			cc_remove_all(cg, &cc);
			return r;
		}
	}
	*ret = cc;
	return 0;
}

int tg_cg_spare_create(struct tg_cgroups *cg, struct tg_cg_child *ret)
{
	return create_dirs(cg, NULL, ret, NULL);
}

int tg_cg_child_create(struct tg_cgroups *cg, const struct tg_spawn_limits *lim,
                       struct tg_cg_child *spare, struct tg_cg_child *ret, char ***prot,
                       struct tg_error **err)
{
	static const struct {
		enum tg_cg_ctrl c;
		const char *what;
	} need[] = {{TG_CG_MEMORY, "memory"}, {TG_CG_PIDS, "pids"}, {TG_CG_CPU, "cpu"}};
	uint64_t asked[] = {lim->memory_bytes, lim->pids, lim->cpu_millis};
	for (size_t i = 0; i < TG_ARRAY_SIZE(need); i++) {
		if (asked[i] && cg->of[need[i].c] < 0) {
			if (spare)
				cc_remove_all(cg, spare);
			return tg_error_set(err, -EOPNOTSUPP,
			                    "a %s limit was asked for, but no %s cgroup controller "
			                    "(v2 or v1) is available%s%s",
			                    need[i].what, need[i].what,
			                    cg->why[need[i].c] ? ": " : "",
			                    cg->why[need[i].c] ? cg->why[need[i].c] : "");
		}
	}
	struct tg_cg_child cc;
	if (spare) {
		cc = *spare;
		*spare = (struct tg_cg_child){.into_fd = -1};
	} else {
		int r = create_dirs(cg, lim, &cc, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cc.n; i++) {
		int r = write_limits(cg, &cg->h[cc.d[i].hier], cc.d[i].path, lim, prot, err);
		if (r < 0) {
			cc_remove_all(cg, &cc);
			return r;
		}
	}
	*ret = cc;
	return 0;
}

TG_CHILD_FN int tg_cg_child_join(const struct tg_cg_child *cc, bool into_done,
                                 struct tg_child_report *r)
{
	for (size_t i = 0; i < cc->n; i++) {
		/* Already there: clone3 created us inside it. */
		if (into_done && cc->d[i].dir_fd >= 0 && cc->d[i].dir_fd == cc->into_fd)
			continue;
		/* "0" is the writing process itself, whatever its pid namespace. */
		if (write(cc->d[i].procs_fd, "0", 1) != 1) {
			tg_child_fail(r, "join cgroup", cc->d[i].path, errno);
			return -1;
		}
	}
	return 0;
}

void tg_cg_child_close_fds(struct tg_cg_child *cc)
{
	for (size_t i = 0; i < cc->n; i++) {
		if (cc->d[i].procs_fd >= 0)
			close(cc->d[i].procs_fd);
		if (cc->d[i].dir_fd >= 0)
			close(cc->d[i].dir_fd);
		cc->d[i].procs_fd = cc->d[i].dir_fd = -1;
	}
	cc->into_fd = -1;
}

int tg_cg_child_kill(struct tg_cgroups *cg, struct tg_cg_child *cc)
{
	/* The v2 cgroup or the v1 freezer first: they stop forks while killing. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cc->n; i++) {
			const struct tg_cg_hier *h = &cg->h[cc->d[i].hier];
			bool first = h->version == TG_CG_V2 || (h->ctrls & BIT(TG_CG_FREEZER));
			if (first == (pass == 0))
				tg_cg_kill_dir(cg, h, cc->d[i].path);
		}
	}
	return 0;
}

void tg_cg_child_usage(struct tg_cgroups *cg, const struct tg_cg_child *cc, struct tg_cg_usage *ret)
{
	struct tg_cg_usage u = {0};
	for (size_t i = 0; i < cc->n; i++) {
		const struct tg_cg_hier *h = &cg->h[cc->d[i].hier];
		const char *dir = cc->d[i].path;
		uint64_t v;
		if (h->version == TG_CG_V2) {
			if ((h->ctrls & BIT(TG_CG_MEMORY)) &&
			    tg_cg_knob_read_key(dir, "memory.events", "oom_kill", &v) == 0 && v > 0)
				u.oom = true;
			if ((h->ctrls & BIT(TG_CG_MEMORY)) &&
			    tg_cg_knob_read_u64(dir, "memory.peak", &v) == 0)
				u.peak_bytes = v, u.have_peak = true;
			if (tg_cg_knob_read_key(dir, "cpu.stat", "usage_usec", &v) == 0)
				u.cpu_ns = v * 1000, u.have_cpu = true;
			continue;
		}
		if (h->ctrls & BIT(TG_CG_MEMORY)) {
			if (tg_cg_knob_read_key(dir, "memory.oom_control", "oom_kill", &v) == 0 &&
			    v > 0)
				u.oom = true;
			if (tg_cg_knob_read_u64(dir, "memory.max_usage_in_bytes", &v) == 0)
				u.peak_bytes = v, u.have_peak = true;
		}
		if ((h->ctrls & BIT(TG_CG_CPUACCT)) &&
		    tg_cg_knob_read_u64(dir, "cpuacct.usage", &v) == 0)
			u.cpu_ns = v, u.have_cpu = true;
	}
	*ret = u;
}

int tg_cg_child_remove(struct tg_cgroups *cg, struct tg_cg_child *cc)
{
	int ret = 0;
	tg_cg_child_close_fds(cc);
	for (size_t i = 0; i < cc->n; i++) {
		int r = tg_cg_remove_dir(cg, cc->d[i].path);
		if (r < 0) {
			/* Something survived the sandbox: kill it and try again. */
			tg_cg_kill_dir(cg, &cg->h[cc->d[i].hier], cc->d[i].path);
			r = tg_cg_remove_dir(cg, cc->d[i].path);
		}
		if (r < 0 && ret == 0)
			ret = r;
		free(cc->d[i].path);
		cc->d[i].path = NULL;
	}
	cc->n = 0;
	return ret;
}
