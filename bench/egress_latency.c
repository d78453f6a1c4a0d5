/* SPDX-License-Identifier: Apache-2.0 */
/*
 * egress_latency: the cost of a tool call with per-endpoint egress rules
 * (its own network namespace, veth pair, addresses, routes, nftables chain
 * + sets + counters), side by side with the same call without egress and
 * with bwrap, in one run; plus what each kernel step costs on its own.
 *
 *   egress (pool)     client -> broker -> decide -> prepared namespace from
 *                     the pool -> nftables transaction -> sandbox running
 *                     /bin/true -> counters, nftables teardown -> audit -> reply
 *   egress (no pool)  the same, the namespace and veth made in the call
 *   no egress         the same tool with network: none
 *   bwrap             bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc true
 *
 * usage: egress_latency [-n CALLS] [--no-bwrap]     (as root)
 * The rules name 198.18.0.0/15 addresses (benchmarking space) and
 * localhost; /bin/true sends nothing anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "../broker/egress.h"
#include "bench.h"
#include "broker.h"
#include "policy.h"
#include "tg.h"
#include "toolgate.h"

extern char **environ;

static int bench_bwrap(double *lat, int n)
{
	char *bw[] = {"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",    "/", "--dev",
	              "/dev",           "--proc",        "/proc",     "true", NULL};
	for (int i = 0; i < n + 5; i++) {
		double t0 = now_us();
		pid_t pid;
		if (posix_spawn(&pid, bw[0], NULL, NULL, bw, environ) != 0)
			return -1;
		int status;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			return -1;
		if (i >= 5)
			lat[i - 5] = now_us() - t0;
	}
	return 0;
}

/* n calls of tool through a fresh in-process broker; warm-up excluded. */
static int bench_calls(const char *policy, const char *audit, const char *tool, double *lat, int n)
{
	struct tg_broker_config cfg = {.policy_path = policy, .audit_path = audit};
	struct tg_broker *b = NULL;
	struct tg_error *err = NULL;
	if (tg_broker_new(&cfg, &b, &err) < 0 || tg_broker_start(b, &err) < 0) {
		fprintf(stderr, "egress_latency: broker: %s\n", tg_error_msg(err));
		return -1;
	}
	tg_client *c = NULL;
	if (tg_client_open(tg_broker_url(b), &c) < 0)
		return -1;
	/* Let the pool fill and the names resolve, as on a broker that has
	 * been up for a moment. */
	usleep(300 * 1000);
	int r = 0;
	for (int i = 0; i < n + 10 && r == 0; i++) {
		double t0 = now_us();
		tg_result *res = NULL;
		int cr = tg_call(c, tool, NULL, &res);
		double dt = now_us() - t0;
		if (cr < 0 || tg_result_status(res) != TG_STATUS_OK) {
			fprintf(stderr, "egress_latency: %s: %s %s\n", tool,
			        cr < 0 ? tg_client_strerror(cr)
			               : tg_status_name(tg_result_status(res)),
			        res ? tg_result_reason(res) : "");
			r = -1;
		}
		tg_result_free(res);
		if (i >= 10)
			lat[i - 10] = dt;
	}
	tg_client_close(c);
	tg_broker_free(b, 0, 0);
	unlink(audit);
	return r;
}

/* ---------------------------------------------------------------------------
 * The kernel steps alone.
 */

static int step_netns(double *lat, int n)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		if (unshare(CLONE_NEWNET) < 0)
			return -1;
		int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (setns(self, CLONE_NEWNET) < 0)
			abort();
		lat[i] = now_us() - t0;
		close(ns);
	}
	close(self);
	return 0;
}

struct kernel_costs {
	struct stats netns, prepared, rules, veth_del;
};

static int claim_block(const struct tg_egress_pool *pool, unsigned *ret, int *ret_fd)
{
	for (unsigned b = pool->n_blocks; b-- > 0;) {
		char name[32];
		snprintf(name, sizeof(name), "block-%u", b);
		if (tg_egress_lock_try(name, ret_fd) == 0) {
			*ret = b;
			return 0;
		}
	}
	return -EBUSY;
}

static int kernel_steps(int n, double *lat, struct kernel_costs *kc)
{
	if (step_netns(lat, n) < 0)
		return -1;
	kc->netns = summarize("netns (unshare + setns back)", lat, n);

	struct tg_egress_pool pool;
	struct tg_error *err = NULL;
	struct mnl_socket *rtnl = NULL, *nft = NULL;
	unsigned block;
	int block_fd;
	if (tg_egress_pool_init(&pool, getenv("TOOLGATE_EGRESS_POOL4"),
	                        getenv("TOOLGATE_EGRESS_POOL6"), &err) < 0 ||
	    claim_block(&pool, &block, &block_fd) < 0 || tg_rtnl_open(&rtnl) < 0 ||
	    tg_nft_open(&nft) < 0)
		return -1;

	/* netns + veth + addresses + routes: what the pool does off the path. */
	struct tg_netns ns;
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		if (tg_netns_create(rtnl, &pool, block, (unsigned)i % TG_EGRESS_SLOTS, &ns, &err) <
		    0) {
			fprintf(stderr, "egress_latency: %s\n", tg_error_msg(err));
			return -1;
		}
		lat[i] = now_us() - t0;
		tg_netns_release(&ns);
		/* the kernel tears it down on its own; wait for that so the
		 * slot can be reused without -EEXIST */
		if ((unsigned)i % TG_EGRESS_SLOTS == TG_EGRESS_SLOTS - 1)
			usleep(500 * 1000);
	}
	kc->prepared = summarize("netns + veth + addresses + routes", lat, n);
	usleep(300 * 1000);

	/* The call's nftables objects: add, read counters, remove. */
	bool created = false;
	if (tg_nft_table_ensure(nft, false, &created, &err) < 0) {
		fprintf(stderr, "egress_latency: %s\n", tg_error_msg(err));
		return -1;
	}
	uint16_t ports[] = {80, 443};
	struct tg_egress_rule rules[] = {
	        {.cidr = "198.18.0.0/15", .ports = ports, .n_ports = 2, .proto = TG_NET_TCP},
	        {.cidr = "198.19.255.1", .proto = TG_NET_BOTH},
	};
	struct tg_network net = {.egress_enabled = true, .egress = rules, .n_egress = 2};
	struct tg_egress_plan plan;
	if (tg_egress_plan_build(&net, NULL, &plan, &err) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char ifname[IFNAMSIZ];
		tg_egress_ifname(block, 0, ifname);
		struct tg_egress_stats st;
		double t0 = now_us();
		if (tg_nft_call_add(nft, block, 0, ifname, &plan, pool.has6, &err) < 0 ||
		    tg_nft_call_stats(nft, block, 0, &st) < 0 ||
		    tg_nft_call_del(nft, block, 0, ifname, &plan) < 0) {
			fprintf(stderr, "egress_latency: nft: %s\n", tg_error_msg(err));
			return -1;
		}
		lat[i] = now_us() - t0;
	}
	kc->rules = summarize("nft: add + counters + remove", lat, n);
	tg_egress_plan_clear(&plan);
	if (created)
		tg_nft_table_delete(nft);

	/* What teardown would cost if done by hand: a synchronous veth
	 * delete (a few samples only, it is slow). */
	int m = n < 5 ? n : 5;
	for (int i = 0; i < m; i++) {
		unsigned slot = TG_EGRESS_SLOTS - 1 - (unsigned)i;
		if (tg_netns_create(rtnl, &pool, block, slot, &ns, &err) < 0)
			return -1;
		double t0 = now_us();
		int r = tg_netns_delete_link(rtnl, ns.ifname);
		lat[i] = now_us() - t0;
		tg_netns_release(&ns);
		if (r < 0)
			return -1;
	}
	kc->veth_del = summarize("veth delete, synchronous", lat, m);
	mnl_socket_close(rtnl);
	mnl_socket_close(nft);
	close(block_fd);
	return 0;
}

static void write_policy(const char *path, const char *ws)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror("egress_latency: policy");
		exit(1);
	}
	fprintf(f,
	        "version: 1\n"
	        "workspace: %s\n"
	        "tools:\n"
	        "  - name: egress\n"
	        "    command: [/bin/true]\n"
	        "    workspace: none\n"
	        "    network:\n"
	        "      egress:\n"
	        "        - {cidr: 198.18.0.0/15, ports: [80, 443]}\n"
	        "        - {cidr: 198.19.255.1, proto: both}\n"
	        "        - {host: localhost, ports: [8080]}\n"
	        "      quota: 1MiB\n"
	        "  - name: plain\n"
	        "    command: [/bin/true]\n"
	        "    workspace: none\n"
	        "audit: {params: full, fsync: batch}\n",
	        ws);
	fclose(f);
}

int main(int argc, char **argv)
{
	int n;
	bool with_bwrap;
	if (!bench_args("egress_latency", argc, argv, &n, &with_bwrap))
		return 64;
	bench_find_init();
	char dir[] = "/tmp/tg-bench-egress.XXXXXX";
	struct bench_dir d;
	if (!bench_dir_make(dir, &d))
		return 1;
	const char *policy = d.policy, *audit = d.audit, *ws = d.ws;
	write_policy(policy, ws);

	double *lat = calloc((size_t)n, sizeof(double));
	struct kernel_costs kc;
	if (kernel_steps(n < 100 ? n : 100, lat, &kc) < 0) {
		fprintf(stderr, "egress_latency: kernel steps failed (root? nftables?)\n");
		return 1;
	}

	struct stats results[4];
	int nres = 0;
	if (bench_calls(policy, audit, "egress", lat, n) < 0)
		return 1;
	results[nres++] = summarize("toolgate call, egress (pool)", lat, n);
	setenv("TOOLGATE_EGRESS_PREPARED", "0", 1);
	if (bench_calls(policy, audit, "egress", lat, n) < 0)
		return 1;
	results[nres++] = summarize("toolgate call, egress (no pool)", lat, n);
	unsetenv("TOOLGATE_EGRESS_PREPARED");
	if (bench_calls(policy, audit, "plain", lat, n) < 0)
		return 1;
	results[nres++] = summarize("toolgate call, no egress", lat, n);
	if (with_bwrap) {
		if (bench_bwrap(lat, n) < 0) {
			fprintf(stderr, "egress_latency: bwrap failed (installed?)\n");
			return 1;
		}
		results[nres++] = summarize("bwrap --unshare-all", lat, n);
	}

	printf("egress_latency: %d calls each, /bin/true, microseconds\n", n);
	printf("%-36s %10s %10s %10s\n", "method", "p50", "p99", "mean");
	for (int i = 0; i < nres; i++)
		printf("%-36s %10.0f %10.0f %10.0f\n", results[i].name, results[i].p50,
		       results[i].p99, results[i].mean);
	if (with_bwrap)
		for (int i = 0; i < 2; i++)
			printf("ratio %-30s / bwrap  p50 %.2f  p99 %.2f\n", results[i].name,
			       results[i].p50 / results[nres - 1].p50,
			       results[i].p99 / results[nres - 1].p99);
	printf("\nkernel steps alone, microseconds\n");
	const struct stats *ks[] = {&kc.netns, &kc.prepared, &kc.rules, &kc.veth_del};
	for (size_t i = 0; i < TG_ARRAY_SIZE(ks); i++)
		printf("%-36s %10.0f %10.0f %10.0f\n", ks[i]->name, ks[i]->p50, ks[i]->p99,
		       ks[i]->mean);
	free(lat);
	bench_dir_remove(&d);
	return 0;
}
