/* SPDX-License-Identifier: Apache-2.0 */
/*
 * call_latency: the cost of one tool call through the whole path, side by
 * side with the baselines, in one run.
 *
 *   toolgate   client -> nng ipc -> broker -> policy decision -> fresh
 *              sandbox (pid/mnt/ipc/uts/net namespaces, pivot_root, cgroup,
 *              caps dropped, seccomp, init) running /bin/true -> capture,
 *              sanitize -> audit record (fsync batch) -> reply
 *   fork+exec  posix_spawn("/bin/true") + waitpid: no isolation at all
 *   bwrap      bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true
 *
 * usage: call_latency [-n CALLS] [--no-bwrap]     (as root)
 * Prints p50 / p99 / mean per method and the ratio of toolgate to each.
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

static int bench_exec(char *const argv[], double *lat, int n)
{
	for (int i = 0; i < n + 5; i++) {
		double t0 = now_us();
		if (spawn_wait(argv) < 0)
			return -1;
		if (i >= 5) /* warm-up */
			lat[i - 5] = now_us() - t0;
	}
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
	const char *policy = d.policy, *audit = d.audit, *ws = d.ws;
	FILE *f = fopen(policy, "w");
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
	        ws);
	fclose(f);

	struct tg_broker_config cfg = {.policy_path = policy, .audit_path = audit};
	struct tg_broker *b = NULL;
	struct tg_error *err = NULL;
	if (tg_broker_new(&cfg, &b, &err) < 0 || tg_broker_start(b, &err) < 0) {
		fprintf(stderr, "call_latency: broker: %s\n", tg_error_msg(err));
		return 1;
	}
	tg_client *c = NULL;
	int r = tg_client_open(tg_broker_url(b), &c);
	if (r < 0) {
		fprintf(stderr, "call_latency: client: %s\n", tg_client_strerror(r));
		return 1;
	}

	double *lat = calloc((size_t)n, sizeof(double));
	struct stats results[3];
	int nres = 0;

	for (int i = 0; i < n + 10; i++) {
		double t0 = now_us();
		tg_result *res = NULL;
		r = tg_call(c, "true", NULL, &res);
		double dt = now_us() - t0;
		if (r < 0 || tg_result_status(res) != TG_STATUS_OK) {
			fprintf(stderr, "call_latency: call failed: %s %s\n",
			        r < 0 ? tg_client_strerror(r)
			              : tg_status_name(tg_result_status(res)),
			        res ? tg_result_reason(res) : "");
			return 1;
		}
		tg_result_free(res);
		if (i >= 10)
			lat[i - 10] = dt;
	}
	results[nres++] = summarize("toolgate call (full isolation)", lat, n);
	tg_client_close(c);
	tg_broker_free(b, 0, 0);

	char *true_argv[] = {"/bin/true", NULL};
	if (bench_exec(true_argv, lat, n) < 0) {
		fprintf(stderr, "call_latency: fork+exec failed\n");
		return 1;
	}
	results[nres++] = summarize("fork+exec (no isolation)", lat, n);

	if (with_bwrap) {
		char *bw[] = {"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",    "/", "--dev",
		              "/dev",           "--proc",        "/proc",     "true", NULL};
		if (bench_exec(bw, lat, n) < 0) {
			fprintf(stderr,
			        "call_latency: bwrap failed (installed? scripts/bootstrap)\n");
			return 1;
		}
		results[nres++] = summarize("bwrap --unshare-all", lat, n);
	}

	printf("call_latency: %d calls each, /bin/true, microseconds\n", n);
	printf("%-32s %10s %10s %10s\n", "method", "p50", "p99", "mean");
	for (int i = 0; i < nres; i++)
		printf("%-32s %10.0f %10.0f %10.0f\n", results[i].name, results[i].p50,
		       results[i].p99, results[i].mean);
	for (int i = 1; i < nres; i++)
		printf("ratio toolgate / %-20s p50 %.2f  p99 %.2f\n", results[i].name,
		       results[0].p50 / results[i].p50, results[0].p99 / results[i].p99);
	free(lat);
	unlink(audit);
	unlink(policy);
	rmdir(ws);
	rmdir(dir);
	return 0;
}
