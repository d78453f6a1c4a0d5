/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rlimit.c - per-process resource limits, the backstop under the cgroup.
 *
 *   RLIMIT_CORE   0: a crashing tool must not write its memory (which may
 *                 hold secrets it was given) to disk.
 *   RLIMIT_FSIZE  the largest file the program may write (workspace, /tmp).
 *   RLIMIT_NOFILE descriptors per process (default 1024).
 *   RLIMIT_CPU    optional CPU-seconds backstop: SIGXCPU, then SIGKILL one
 *                 second later, even if the broker's timer fails.
 *
 * Never RLIMIT_NPROC: it counts every process of the uid on the host (we run
 * as uid 0 inside and out), so it would limit the broker, not the sandbox.
 * The pids cgroup does that job.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/resource.h>

#include "internal.h"

static int add(struct tg_rlimit_plan *p, int resource, rlim_t soft, rlim_t hard)
{
	if (p->n >= TG_ARRAY_SIZE(p->r))
		return -E2BIG;
	p->r[p->n].resource = resource;
	p->r[p->n].lim.rlim_cur = soft;
	p->r[p->n].lim.rlim_max = hard;
	p->n++;
	return 0;
}

static int note(char ***prot, const char *name, uint64_t v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "rlimit:%s=%" PRIu64, name, v);
	return tg_strv_push(prot, buf);
}

int tg_rlimit_prepare(const struct tg_spawn_limits *lim, struct tg_rlimit_plan *ret, char ***prot)
{
	struct tg_rlimit_plan p = {0};
	uint64_t nofile = lim->nofile ? lim->nofile : 1024;
	/* Only root may raise a hard limit; rootless, ours is the ceiling. */
	struct rlimit cur;
	if (geteuid() != 0 && getrlimit(RLIMIT_NOFILE, &cur) == 0 &&
	    cur.rlim_max != RLIM_INFINITY && nofile > cur.rlim_max)
		nofile = cur.rlim_max;
	int r = add(&p, RLIMIT_CORE, 0, 0);
	if (r == 0)
		r = note(prot, "core", 0);
	if (r == 0)
		r = add(&p, RLIMIT_NOFILE, nofile, nofile);
	if (r == 0)
		r = note(prot, "nofile", nofile);
	if (r == 0 && lim->file_size_bytes) {
		r = add(&p, RLIMIT_FSIZE, lim->file_size_bytes, lim->file_size_bytes);
		if (r == 0)
			r = note(prot, "fsize", lim->file_size_bytes);
	}
	if (r == 0 && lim->cpu_time_s) {
		r = add(&p, RLIMIT_CPU, lim->cpu_time_s, lim->cpu_time_s + 1);
		if (r == 0)
			r = note(prot, "cpu", lim->cpu_time_s);
	}
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

TG_CHILD_FN int tg_rlimit_child_apply(const struct tg_rlimit_plan *p, struct tg_child_report *r)
{
	for (size_t i = 0; i < p->n; i++) {
		/* Raising NOFILE above the broker's hard limit needs
		 * CAP_SYS_RESOURCE, which the child still holds here. */
		if (setrlimit((__rlimit_resource_t)p->r[i].resource, &p->r[i].lim) < 0) {
			tg_child_fail(r, "setrlimit", "", errno);
			return -1;
		}
	}
	return 0;
}
