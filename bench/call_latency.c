/* SPDX-License-Identifier: Apache-2.0 */
/*
 * call_latency: the cost of one tool call through the whole path, side by
 * side with the baselines, in one run.
 *
 *   toolgate   client -> nng ipc -> broker -> policy decision -> fresh
 *              sandbox (pid/mnt/ipc/uts/net namespaces, pivot_root, cgroup,
 *              caps dropped, Landlock, seccomp, init) running /bin/true ->
 *              capture, sanitize -> audit record (fsync batch) -> reply;
 *              twice: as the broker runs by default (the tool's sandbox was
 *              prepared ahead, see broker/prepared.h) and with
 *              TOOLGATE_PREPARED=0 (every sandbox built on the call's path)
 *   fork+exec  posix_spawn("/bin/true") + waitpid: no isolation at all
 *   bwrap      bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true
 *
 * The methods run in interleaved blocks (ROUNDS rounds of n/ROUNDS calls
 * each, every method in each round), so a load change on the machine
 * during the run weighs on all of them alike. Twice: with calls back to
 * back (the stress case: whatever the broker does between calls competes
 * with the next one), then paced, PACE_US apart, as an agent makes calls
 * (it thinks between them); the pause is outside the timed part, for
 * every method alike.
 *
 * usage: call_latency [-n CALLS] [--no-bwrap]     (as root)
 * Prints p50 / p99 / mean per method and the ratios of toolgate to each.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "broker.h"
#include "tg.h"
#include "toolgate.h"

extern char **environ;

static int spawn_wait(char *const argv[])
{
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (r != 0)
		return -r;
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int bench_exec(char *const argv[], double *lat, int n, useconds_t gap_us)
{
	for (int i = 0; i < n + 5; i++) {
		if (gap_us)
			usleep(gap_us);
		double t0 = now_us();
		if (spawn_wait(argv) < 0)
			return -1;
		if (i >= 5) /* warm-up */
			lat[i - 5] = now_us() - t0;
	}
	return 0;
}

#define ROUNDS  4
#define WARMUP  10
#define PACE_US 5000

enum method { M_PREPARED, M_INLINE, M_EXEC, M_BWRAP, M_COUNT };

static const char *const method_names[M_COUNT] = {
        "toolgate call (prepared)",
        "toolgate call (built per call)",
        "fork+exec (no isolation)",
        "bwrap --unshare-all",
};

/* One block of toolgate calls through a broker of its own. */
static int bench_toolgate(const char *policy, const char *audit, bool prepared, double *lat, int n,
                          useconds_t gap_us)
{
	setenv("TOOLGATE_PREPARED", prepared ? "8" : "0", 1);
	struct tg_broker_config cfg = {.policy_path = policy, .audit_path = audit};
	struct tg_broker *b = NULL;
	struct tg_error *err = NULL;
	if (tg_broker_new(&cfg, &b, &err) < 0 || tg_broker_start(b, &err) < 0) {
		fprintf(stderr, "call_latency: broker: %s\n", tg_error_msg(err));
		return -1;
	}
	tg_client *c = NULL;
	int r = tg_client_open(tg_broker_url(b), &c);
	if (r < 0) {
		fprintf(stderr, "call_latency: client: %s\n", tg_client_strerror(r));
		return -1;
	}
	for (int i = 0; i < n + WARMUP; i++) {
		if (gap_us)
			usleep(gap_us);
		double t0 = now_us();
		tg_result *res = NULL;
		r = tg_call(c, "true", NULL, &res);
		double dt = now_us() - t0;
		if (r < 0 || tg_result_status(res) != TG_STATUS_OK) {
			fprintf(stderr, "call_latency: call failed: %s %s\n",
			        r < 0 ? tg_client_strerror(r)
			              : tg_status_name(tg_result_status(res)),
			        res ? tg_result_reason(res) : "");
			return -1;
		}
		tg_result_free(res);
		if (i >= WARMUP)
			lat[i - WARMUP] = dt;
	}
	tg_client_close(c);
	tg_broker_free(b, 0, 0);
	return 0;
}

int main(int argc, char **argv)
{
	int n;
	bool with_bwrap;
	if (!bench_args("call_latency", argc, argv, &n, &with_bwrap))
		return 64;
	bench_find_init();
	char dir[] = "/tmp/tg-bench.XXXXXX";
	struct bench_dir d;
	if (!bench_dir_make(dir, &d))
		return 1;
	FILE *f = fopen(d.policy, "w");
	if (!f)
		return 1;
	fprintf(f,
	        "version: 1\n"
	        "workspace: %s\n"
	        "tools:\n"
	        "  - name: \"true\"\n"
	        "    command: [/bin/true]\n"
	        "    workspace: rw\n"
	        "audit: {params: full, fsync: batch}\n",
	        d.ws);
	fclose(f);

	int per = (n + ROUNDS - 1) / ROUNDS;
	n = per * ROUNDS;
	int methods = with_bwrap ? M_COUNT : M_BWRAP;
	double *lat[M_COUNT];
	for (int m = 0; m < M_COUNT; m++)
		lat[m] = calloc((size_t)n, sizeof(double));
	char *true_argv[] = {"/bin/true", NULL};
	char *bw[] = {"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",    "/", "--dev",
	              "/dev",           "--proc",        "/proc",     "true", NULL};
	static const useconds_t paces[] = {0, PACE_US};
	for (size_t pi = 0; pi < TG_ARRAY_SIZE(paces); pi++) {
		useconds_t gap = paces[pi];
		for (int round = 0; round < ROUNDS; round++) {
			for (int m = 0; m < methods; m++) {
				double *out = lat[m] + round * per;
				int r;
				switch (m) {
				case M_PREPARED:
				case M_INLINE:
					r = bench_toolgate(d.policy, d.audit, m == M_PREPARED, out,
					                   per, gap);
					break;
				case M_EXEC:
					r = bench_exec(true_argv, out, per, gap);
					break;
				default:
					r = bench_exec(bw, out, per, gap);
					if (r < 0)
						fprintf(stderr,
						        "call_latency: bwrap failed (installed? "
						        "scripts/bootstrap)\n");
					break;
				}
				if (r < 0)
					return 1;
			}
		}
		struct stats st[M_COUNT];
		for (int m = 0; m < methods; m++)
			st[m] = summarize(method_names[m], lat[m], n);
		if (gap)
			printf("\ncalls paced %u ms apart (pause not timed):\n", gap / 1000);
		else
			printf("call_latency: %d calls per method in %d interleaved rounds, "
			       "/bin/true, "
			       "microseconds\n\ncalls back to back:\n",
			       n, ROUNDS);
		printf("%-32s %10s %10s %10s\n", "method", "p50", "p99", "mean");
		for (int m = 0; m < methods; m++)
			printf("%-32s %10.0f %10.0f %10.0f\n", st[m].name, st[m].p50, st[m].p99,
			       st[m].mean);
		for (int t = M_PREPARED; t <= M_INLINE; t++)
			for (int m = M_EXEC; m < methods; m++)
				printf("ratio %-30s / %-26s p50 %.2f  p99 %.2f\n", st[t].name,
				       st[m].name, st[t].p50 / st[m].p50, st[t].p99 / st[m].p99);
	}
	for (int m = 0; m < M_COUNT; m++)
		free(lat[m]);
	bench_dir_remove(&d);
	return 0;
}
