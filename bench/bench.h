/* SPDX-License-Identifier: Apache-2.0 */
/* bench.h - what the latency benchmarks share: a clock, percentiles, the
 * command line (-n CALLS, --no-bwrap), and a work directory with a policy
 * for an in-process broker. Header-only: each benchmark is one program. */
#ifndef TG_BENCH_H
#define TG_BENCH_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	const char *name;
	double p50, p99, mean;
};

/* Sorts v. */
static inline struct stats summarize(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	return (struct stats){
	        .name = name, .p50 = v[n / 2], .p99 = v[(int)((n - 1) * 0.99)], .mean = sum / n};
}

/* -n CALLS (at least 10; default 300) and --no-bwrap. false on bad usage
 * (already reported). */
static inline bool bench_args(const char *prog, int argc, char **argv, int *ret_n, bool *ret_bwrap)
{
	int n = 300;
	bool bwrap = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--no-bwrap") == 0) {
			bwrap = false;
		} else {
			fprintf(stderr, "usage: %s [-n CALLS] [--no-bwrap]\n", prog);
			return false;
		}
	}
	*ret_n = n < 10 ? 10 : n;
	*ret_bwrap = bwrap;
	return true;
}

/* A benchmark lives in build/bench/: its broker finds toolgate-init in
 * build/ through TOOLGATE_INIT, unless that is set already. */
static inline void bench_find_init(void)
{
	char self[512];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (sl <= 0 || getenv("TOOLGATE_INIT"))
		return;
	self[sl] = '\0';
	char *slash = strrchr(self, '/');
	if (slash) {
		strcpy(slash, "/../toolgate-init");
		setenv("TOOLGATE_INIT", self, 0);
	}
}

/* A work directory (template like "/tmp/tg-bench.XXXXXX", modified in place)
 * and the paths of its policy, audit log and workspace. */
struct bench_dir {
	char dir[256], policy[256], audit[256], ws[256];
};

static inline bool bench_dir_make(char *tmpl, struct bench_dir *d)
{
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return false;
	}
	snprintf(d->dir, sizeof(d->dir), "%s", tmpl);
	snprintf(d->policy, sizeof(d->policy), "%s/policy.yaml", tmpl);
	snprintf(d->audit, sizeof(d->audit), "%s/audit.jsonl", tmpl);
	snprintf(d->ws, sizeof(d->ws), "%s/ws", tmpl);
	return true;
}

static inline int bench_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Remove the work directory and whatever the runs left in it (audit log,
 * seal, rotated files). */
static inline void bench_dir_remove(const struct bench_dir *d)
{
	nftw(d->dir, bench_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* TG_BENCH_H */
