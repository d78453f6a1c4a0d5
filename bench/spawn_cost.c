/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spawn_cost - what one sandboxed /bin/true costs, side by side with plain
 * fork+exec and bubblewrap in the same run, and what each layer adds.
 *
 *   spawn_cost [-n N] [-g GAP_US]
 *
 * Every row runs N spawns of /bin/true (spawn + wait + free) and prints
 * p50, p99 and mean in microseconds; the ratios compare toolgate's full
 * isolation with bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc.
 * The indented rows switch one layer off at a time in a sandbox without
 * the pool, so the difference to "full, no pool" is that layer's cost.
 * Rows run interleaved, one spawn each per round. -g pauses before every spawn, as a broker between
 * calls does (the pool refills, caches cool down). Run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "tg.h"

extern char **environ;

struct stats {
	double p50, p99, mean;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct stats summarize(uint64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)ns[i];
	int i99 = (int)((double)n * 0.99);
	if (i99 >= n)
		i99 = n - 1;
	return (struct stats){.p50 = (double)ns[n / 2] / 1000.0,
	                      .p99 = (double)ns[i99] / 1000.0,
	                      .mean = sum / n / 1000.0};
}

static void print_row(const char *name, struct stats s)
{
	printf("%-34s p50 %8.0f us   p99 %8.0f us   mean %8.0f us\n", name, s.p50, s.p99, s.mean);
	fflush(stdout);
}

static int run_argv(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

struct variant {
	const char *name;
	unsigned root;
	bool limits;
	bool pool;
	enum tg_seccomp_profile profile;
	char *const *argv; /* not NULL: a plain fork+exec of this, no sandbox */
};

static struct tg_sandbox *pooled, *plain;
static struct tg_seccomp *def, *strict;

/* Per-phase microseconds of the last sandboxed run, and its wait + free. */
static uint32_t last_phase[TG_PHASE_COUNT + 1];

static uint64_t one_run(const struct variant *v)
{
	uint64_t t0 = tg_now_mono_ns();
	if (v->argv) {
		if (run_argv(v->argv) < 0) {
			fprintf(stderr, "spawn_cost: %s failed\n", v->argv[0]);
			exit(1);
		}
		return tg_now_mono_ns() - t0;
	}
	static char *argv[] = {"true", NULL};
	static char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct tg_spawn_spec spec = {
	        .path = "/bin/true",
	        .exec_fd = -1,
	        .argv = argv,
	        .envp = envp,
	        .root = v->root,
	        .stdin_fd = -1,
	        .stdout_fd = -1,
	        .stderr_fd = -1,
	        .seccomp = v->profile == TG_SECCOMP_PROFILE_STRICT ? strict : def,
	        .netns_fd = -1,
	};
	if (v->limits)
		spec.limits = (struct tg_spawn_limits){
		        .memory_bytes = 256u << 20, .pids = 64, .cpu_millis = 1000};
	struct tg_error *err = NULL;
	struct tg_child *c;
	struct tg_child_exit e;
	if (tg_sandbox_spawn(v->pool ? pooled : plain, &spec, &c, &err) < 0) {
		fprintf(stderr, "spawn_cost: %s: %s\n", v->name, tg_error_msg(err));
		exit(1);
	}
	uint64_t spawned = tg_now_mono_ns();
	memcpy(last_phase, tg_child_timing(c), TG_PHASE_COUNT * sizeof(uint32_t));
	if (tg_child_wait(c, &e) < 0 || e.exit_code != 0) {
		fprintf(stderr, "spawn_cost: %s: /bin/true failed (%d)\n", v->name, e.exit_code);
		exit(1);
	}
	tg_child_free(c);
	uint64_t end = tg_now_mono_ns();
	last_phase[TG_PHASE_COUNT] = (uint32_t)((end - spawned) / 1000u);
	return end - t0;
}

int main(int argc, char **argv)
{
	int n = 200, gap_us = 0;
	int opt;
	while ((opt = getopt(argc, argv, "n:g:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'g')
			gap_us = atoi(optarg);
		else {
			fprintf(stderr, "usage: spawn_cost [-n N] [-g GAP_US]\n");
			return 64;
		}
	}
	if (n < 10)
		n = 10;

	char exe[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l < 0)
		return 1;
	exe[l] = '\0';
	char init_path[PATH_MAX];
	snprintf(init_path, sizeof(init_path), "%s/../toolgate-init", dirname(exe));

	char rt[] = "/tmp/tg-spawn-cost-XXXXXX";
	if (!mkdtemp(rt)) {
		perror("mkdtemp");
		return 1;
	}
	struct tg_error *err = NULL;
	struct tg_sandbox_config cfg = {
	        .runtime_dir = rt, .init_path = init_path, .instance = "bench-pool"};
	if (tg_sandbox_open(&cfg, &pooled, &err) < 0) {
		fprintf(stderr, "spawn_cost: %s\n", tg_error_msg(err));
		return 1;
	}
	cfg.instance = "bench-nopool";
	cfg.pool = -1;
	if (tg_sandbox_open(&cfg, &plain, &err) < 0) {
		fprintf(stderr, "spawn_cost: %s\n", tg_error_msg(err));
		return 1;
	}
	if (tg_seccomp_build(TG_SECCOMP_PROFILE_DEFAULT, NULL, &def, &err) < 0 ||
	    tg_seccomp_build(TG_SECCOMP_PROFILE_STRICT, NULL, &strict, &err) < 0) {
		fprintf(stderr, "spawn_cost: %s\n", tg_error_msg(err));
		return 1;
	}

	static char *plain_argv[] = {"/bin/true", NULL};
	static char *bwrap_argv[] = {
	        "/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",    "/", "--dev",
	        "/dev",           "--proc",        "/proc",     "true", NULL};
	bool have_bwrap = access(bwrap_argv[0], X_OK) == 0;
	/* Rows run interleaved (one spawn of each per round), so background
	 * kernel work (namespace teardown, the pool refilling) weighs on every
	 * row alike. The layer rows switch one layer off in a sandbox without
	 * the pool (which builds every layer inline): their difference to
	 * row 3 is that layer's cost. */
	const struct variant rows[] = {
	        {"toolgate full", TG_ROOT_DEFAULT, true, true, TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"fork+exec /bin/true", 0, false, false, 0, plain_argv},
	        {"bwrap --unshare-all", 0, false, false, 0, bwrap_argv},
	        {"toolgate full, no pool", TG_ROOT_DEFAULT, true, false, TG_SECCOMP_PROFILE_DEFAULT,
	         NULL},
	        {"  no pool, no cgroup limits", TG_ROOT_DEFAULT, false, false,
	         TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"  no pool, no /proc", TG_ROOT_DEFAULT & ~TG_ROOT_PROC, true, false,
	         TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"  no pool, no /etc", TG_ROOT_DEFAULT & ~TG_ROOT_ETC, true, false,
	         TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"  no pool, no /dev", TG_ROOT_DEFAULT & ~TG_ROOT_DEV, true, false,
	         TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"  no pool, no /tmp", TG_ROOT_DEFAULT & ~TG_ROOT_TMP, true, false,
	         TG_SECCOMP_PROFILE_DEFAULT, NULL},
	        {"  no pool, strict seccomp", TG_ROOT_DEFAULT, true, false,
	         TG_SECCOMP_PROFILE_STRICT, NULL},
	};
	size_t nrows = TG_ARRAY_SIZE(rows);
	uint64_t *t[TG_ARRAY_SIZE(rows)];
	for (size_t r = 0; r < nrows; r++)
		t[r] = calloc((size_t)n, sizeof(uint64_t));
	/* phases of row 0 (pool) and row 3 (no pool) */
	uint64_t *ph[2][TG_PHASE_COUNT + 1];
	for (int k = 0; k < 2; k++)
		for (int i = 0; i <= TG_PHASE_COUNT; i++)
			ph[k][i] = calloc((size_t)n, sizeof(uint64_t));
	for (int r = 0; r < 20; r++) /* warm up caches and the pool */
		one_run(&rows[0]);
	for (int i = 0; i < n; i++) {
		for (size_t r = 0; r < nrows; r++) {
			if (rows[r].argv == bwrap_argv && !have_bwrap)
				continue;
			if (gap_us)
				usleep((useconds_t)gap_us);
			t[r][i] = one_run(&rows[r]);
			if (r == 0 || r == 3)
				for (int k = 0; k <= TG_PHASE_COUNT; k++)
					ph[r == 3][k][i] = (uint64_t)last_phase[k] * 1000u;
		}
	}

	printf("spawn_cost: %d runs of /bin/true per row, interleaved%s; cgroups %s\n", n,
	       gap_us ? " with a pause before each" : "", tg_sandbox_cgroup_summary(pooled));
	struct stats s[TG_ARRAY_SIZE(rows)];
	for (size_t r = 0; r < nrows; r++) {
		if (rows[r].argv == bwrap_argv && !have_bwrap)
			continue;
		s[r] = summarize(t[r], n);
		if (r < 4)
			print_row(rows[r].name, s[r]);
		else
			printf("%-34s p50 %8.0f us   p99 %8.0f us   (layer ~%.0f us)\n",
			       rows[r].name, s[r].p50, s[r].p99, s[3].p50 - s[r].p50);
		free(t[r]);
	}
	printf("\nwhere a spawn's time goes (p50 per phase, us)   with pool   no pool\n");
	for (int k = 0; k <= TG_PHASE_COUNT; k++) {
		struct stats a = summarize(ph[0][k], n), b = summarize(ph[1][k], n);
		printf("  %-44s %9.0f %9.0f\n",
		       k < TG_PHASE_COUNT ? tg_spawn_phase_name((enum tg_spawn_phase)k)
		                          : "program runs, exits; wait + free",
		       a.p50, b.p50);
		free(ph[0][k]);
		free(ph[1][k]);
	}
	printf("\nthe pool saves ~%.0f us (p50)\n", s[3].p50 - s[0].p50);
	printf("toolgate full / fork+exec: %.2fx (p50)\n", s[0].p50 / s[1].p50);
	if (have_bwrap)
		printf("toolgate full / bwrap:     %.2fx (p50), %.2fx (p99)   target <= 0.50x\n",
		       s[0].p50 / s[2].p50, s[0].p99 / s[2].p99);

	tg_seccomp_free(def);
	tg_seccomp_free(strict);
	tg_sandbox_free(plain);
	tg_sandbox_free(pooled);
	rmdir(rt);
	return 0;
}
