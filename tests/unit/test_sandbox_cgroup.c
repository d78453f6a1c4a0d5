/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup detection and the v2 / v1 paths of sandbox-shim/cgroup.c.
 *
 * v2 (and mixed layouts) run against a fake cgroupfs tree in a temp dir:
 * the code takes its paths from a mountinfo text, and in fake mode knob
 * files are plain files created on write. v1 runs for real on this machine
 * (memory, pids, cpu, cpuacct and freezer are v1 here) when it has them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "../../sandbox-shim/internal.h" /* relative: other modules have an internal.h too */

static char tmp[] = "/tmp/tg-cg-test-XXXXXX";

static void put(const char *rel, const char *content)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(tg_mkdir_p(dir, 0755), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *get(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	char *s = NULL;
	if (tg_read_file(path, 1 << 20, &s, NULL) < 0)
		return NULL;
	return s;
}

static bool exists(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return access(path, F_OK) == 0;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (de->d_type == DT_DIR)
				rm_rf(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/tg-cg-test-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tmp);
	return 0;
}

static char *mountinfo_v2(void)
{
	return tg_strdup_printf("22 1 0:21 / /proc rw,relatime - proc proc rw\n"
	                        "30 25 0:26 / %s/cg2 rw,nosuid,nodev shared:4 - cgroup2 cgroup2 "
	                        "rw,nsdelegate\n",
	                        tmp);
}

/* A systemd-style delegated v2 cgroup with every controller we use. */
static void test_v2_detect_and_spawn(void **state)
{
	(void)state;
	put("cg2/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	put("cg2/svc/app/cgroup.controllers", "cpu memory pids\n");
	put("cg2/svc/app/cgroup.subtree_control", "");
	_cleanup_free_ char *mi = mountinfo_v2();
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, "0::/svc/app\n", true, &cg, &err), 0);
	assert_string_equal(cg.summary, "v2(memory,pids,cpu)");
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_MEMORY), TG_CG_V2);
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_PIDS), TG_CG_V2);
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_CPU), TG_CG_V2);
	/* cpu time and kill are core v2 features, not separate controllers */
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_CPUACCT), TG_CG_ABSENT);
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_FREEZER), TG_CG_ABSENT);

	assert_int_equal(tg_cg_open_instance(&cg, "t1", &err), 0);
	/* controllers handed down: ours, the toolgate parent, the instance */
	_cleanup_free_ char *own = get("cg2/svc/app/cgroup.subtree_control");
	assert_string_equal(own, "+memory +pids +cpu");
	_cleanup_free_ char *par = get("cg2/svc/app/toolgate/cgroup.subtree_control");
	assert_string_equal(par, "+memory +pids +cpu");
	char inst_rel[256];
	snprintf(inst_rel, sizeof(inst_rel), "cg2/svc/app/toolgate/%d.0.t1", (int)getpid());
	assert_true(exists(inst_rel));

	struct tg_spawn_limits lim = {.memory_bytes = 64u << 20, .pids = 10, .cpu_millis = 500};
	struct tg_cg_child cc = {0};
	_cleanup_strv_free_ char **prot = NULL;
	assert_int_equal(tg_cg_child_create(&cg, &lim, NULL, &cc, &prot, &err), 0);
	assert_int_equal(cc.n, 1);
	char rel[512];
	snprintf(rel, sizeof(rel), "%s/c0/memory.max", inst_rel);
	_cleanup_free_ char *mem = get(rel);
	assert_string_equal(mem, "67108864");
	snprintf(rel, sizeof(rel), "%s/c0/memory.swap.max", inst_rel);
	_cleanup_free_ char *swap = get(rel);
	assert_string_equal(swap, "0");
	snprintf(rel, sizeof(rel), "%s/c0/pids.max", inst_rel);
	_cleanup_free_ char *pids = get(rel);
	assert_string_equal(pids, "11"); /* + the sandbox's init */
	snprintf(rel, sizeof(rel), "%s/c0/cpu.max", inst_rel);
	_cleanup_free_ char *cpu = get(rel);
	assert_string_equal(cpu, "50000 100000");
	assert_true(cc.d[0].procs_fd >= 0);
	/* v2: the child is cloned into the directory (cgroup.procs only as a
	 * fallback) */
	assert_true(cc.into_fd >= 0);
	assert_int_equal(cc.into_fd, cc.d[0].dir_fd);
	assert_string_equal(prot[0], "cgroup:v2:memory=67108864");
	assert_string_equal(prot[1], "cgroup:v2:pids=10");
	assert_string_equal(prot[2], "cgroup:v2:cpu=500m");

	/* What the kernel would report after an OOM kill. */
	snprintf(rel, sizeof(rel), "%s/c0/memory.events", inst_rel);
	put(rel, "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
	snprintf(rel, sizeof(rel), "%s/c0/memory.peak", inst_rel);
	put(rel, "67100000\n");
	snprintf(rel, sizeof(rel), "%s/c0/cpu.stat", inst_rel);
	put(rel, "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
	struct tg_cg_usage u;
	tg_cg_child_usage(&cg, &cc, &u);
	assert_true(u.oom);
	assert_true(u.have_peak);
	assert_int_equal(u.peak_bytes, 67100000);
	assert_true(u.have_cpu);
	assert_int_equal(u.cpu_ns, 2500000);

	assert_int_equal(tg_cg_child_remove(&cg, &cc), 0);
	snprintf(rel, sizeof(rel), "%s/c0", inst_rel);
	assert_false(exists(rel));
	tg_cg_close(&cg);
	assert_false(exists(inst_rel));
	assert_false(exists("cg2/svc/app/toolgate"));
	tg_cg_free(&cg);
}

/* After the broker moved into its leaf, its cgroups still go under the
 * cgroup it came from. */
static void test_v2_leaf_recognised(void **state)
{
	(void)state;
	put("cg2/svc/cgroup.controllers", "memory pids\n");
	put("cg2/svc/cgroup.subtree_control", "memory pids\n");
	put("cg2/svc/" TG_CG_V2_LEAF "/cgroup.controllers", "memory pids\n");
	_cleanup_free_ char *mi = mountinfo_v2();
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, "0::/svc/" TG_CG_V2_LEAF "\n", true, &cg, &err), 0);
	assert_string_equal(cg.summary, "v2(memory,pids)");
	char want[4096];
	snprintf(want, sizeof(want), "%s/cg2/svc/toolgate", tmp);
	assert_string_equal(cg.h[0].parent, want);
	/* cpu is not available: a cpu limit fails closed, naming it */
	struct tg_spawn_limits lim = {.cpu_millis = 1000};
	struct tg_cg_child cc = {0};
	_cleanup_strv_free_ char **prot = NULL;
	assert_int_equal(tg_cg_open_instance(&cg, "t2", &err), 0);
	assert_int_equal(tg_cg_child_create(&cg, &lim, NULL, &cc, &prot, &err), -EOPNOTSUPP);
	assert_non_null(strstr(tg_error_msg(err), "cpu"));
	tg_cg_close(&cg);
	tg_cg_free(&cg);
}

/* v2 mounted but without our controllers (this machine's layout), v1
 * carrying them, cpu and cpuacct co-mounted. */
static void test_v1_and_mixed_detect(void **state)
{
	(void)state;
	put("unified/cgroup.controllers", "hugetlb\n");
	put("memory/cgroup.procs", "");
	put("pids/cgroup.procs", "");
	put("cpu,cpuacct/cgroup.procs", "");
	put("freezer/cgroup.procs", "");
	_cleanup_free_ char *mi =
	        tg_strdup_printf("32 31 0:29 / %1$s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	                         "35 31 0:32 / %1$s/memory rw - cgroup cgroup rw,memory\n"
	                         "37 31 0:34 / %1$s/freezer rw - cgroup cgroup rw,freezer\n"
	                         "39 31 0:36 / %1$s/pids rw - cgroup cgroup rw,pids\n"
	                         "40 31 0:37 / %1$s/systemd rw - cgroup cgroup rw,name=systemd\n"
	                         "41 31 0:38 / %1$s/unified rw - cgroup2 cgroup2 rw\n",
	                         tmp);
	const char *self = "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/\n"
	                   "2:cpu,cpuacct:/\n0::/\n";
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, self, true, &cg, &err), 0);
	assert_string_equal(cg.summary, "v1(memory,pids,cpu,cpuacct,freezer)");
	assert_int_equal(cg.n, 4); /* cpu and cpuacct share a hierarchy */
	assert_int_equal(cg.of[TG_CG_CPU], cg.of[TG_CG_CPUACCT]);
	tg_cg_free(&cg);

	/* Now v2 has memory and pids, v1 keeps cpu: a mixed layout. */
	put("unified/cgroup.controllers", "memory pids\n");
	memset(&cg, 0, sizeof(cg));
	assert_int_equal(tg_cg_detect(mi, self, true, &cg, &err), 0);
	assert_string_equal(cg.summary, "v2(memory,pids) v1(cpu)");
	assert_int_equal(tg_cg_version_of(&cg, TG_CG_FREEZER), TG_CG_ABSENT);
	tg_cg_free(&cg);
}

/* No cgroups at all: limits fail closed, a spawn without limits is fine. */
static void test_absent(void **state)
{
	(void)state;
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(
	        tg_cg_detect("22 1 0:21 / /proc rw - proc proc rw\n", "0::/\n", true, &cg, &err),
	        0);
	assert_string_equal(cg.summary, "none");
	struct tg_cg_child cc = {0};
	_cleanup_strv_free_ char **prot = NULL;
	struct tg_spawn_limits none = {0};
	assert_int_equal(tg_cg_child_create(&cg, &none, NULL, &cc, &prot, &err), 0);
	assert_int_equal(cc.n, 0);
	struct tg_spawn_limits mem = {.memory_bytes = 1 << 20};
	assert_int_equal(tg_cg_child_create(&cg, &mem, NULL, &cc, &prot, &err), -EOPNOTSUPP);
	assert_non_null(strstr(tg_error_msg(err), "memory"));
	tg_cg_free(&cg);
}

/* Our cgroup outside the mount's root (another cgroup namespace): unusable. */
static void test_foreign_root(void **state)
{
	(void)state;
	put("memory/cgroup.procs", "");
	_cleanup_free_ char *mi =
	        tg_strdup_printf("35 31 0:32 /other %s/memory rw - cgroup cgroup rw,memory\n", tmp);
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, "4:memory:/mine\n", true, &cg, &err), 0);
	assert_string_equal(cg.summary, "none");
	tg_cg_free(&cg);
}

static pid_t dead_pid(void)
{
	for (pid_t p = 4000000; p > 1000; p -= 7919)
		if (kill(p, 0) < 0 && errno == ESRCH)
			return p;
	return 0;
}

static unsigned long long my_starttime(void)
{
	_cleanup_free_ char *s = NULL;
	assert_int_equal(tg_read_file("/proc/self/stat", 4096, &s, NULL), 0);
	char *p = strrchr(s, ')');
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	assert_non_null(p);
	return strtoull(p + 1, NULL, 10);
}

/* A crashed broker's instance is removed at the next open; a live one stays. */
static void test_stale_removed(void **state)
{
	(void)state;
	put("cg2/svc/cgroup.controllers", "memory pids\n");
	put("cg2/svc/cgroup.subtree_control", "memory pids\n");
	pid_t dead = dead_pid();
	assert_true(dead > 0);
	char rel[512], alive[512], reused[512];
	snprintf(rel, sizeof(rel), "cg2/svc/toolgate/%d.42.crashed/c7/cgroup.procs", (int)dead);
	put(rel, "");
	/* ours: pid and start time match */
	snprintf(alive, sizeof(alive), "cg2/svc/toolgate/%d.%llu.alive/cgroup.procs", (int)getpid(),
	         my_starttime());
	put(alive, "");
	/* our pid, but another start time: the owner died and the pid was reused */
	snprintf(reused, sizeof(reused), "cg2/svc/toolgate/%d.%llu.reused/cgroup.procs",
	         (int)getpid(), my_starttime() + 1);
	put(reused, "");
	_cleanup_free_ char *mi = mountinfo_v2();
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, "0::/svc\n", true, &cg, &err), 0);
	assert_int_equal(tg_cg_remove_stale(&cg), 2);
	snprintf(rel, sizeof(rel), "cg2/svc/toolgate/%d.42.crashed", (int)dead);
	assert_false(exists(rel));
	*strrchr(reused, '/') = '\0';
	assert_false(exists(reused));
	assert_true(exists(alive));
	tg_cg_free(&cg);
}

/* ---------------------------------------------------------------------------
 * The real v1 hierarchy of this machine.
 */
static void test_real_v1(void **state)
{
	(void)state;
	_cleanup_free_ char *mi = NULL, *self = NULL;
	assert_int_equal(tg_read_file("/proc/self/mountinfo", 4 << 20, &mi, NULL), 0);
	assert_int_equal(tg_read_file("/proc/self/cgroup", 1 << 20, &self, NULL), 0);
	struct tg_cgroups cg = {0};
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_cg_detect(mi, self, false, &cg, &err), 0);
	if (tg_cg_version_of(&cg, TG_CG_MEMORY) != TG_CG_V1) {
		tg_cg_free(&cg);
		skip();
	}
	assert_int_equal(tg_cg_open_instance(&cg, "unit-v1", &err), 0);
	struct tg_spawn_limits lim = {.memory_bytes = 32u << 20, .pids = 5, .cpu_millis = 250};
	struct tg_cg_child cc = {0};
	_cleanup_strv_free_ char **prot = NULL;
	assert_int_equal(tg_cg_child_create(&cg, &lim, NULL, &cc, &prot, &err), 0);
	assert_int_equal(cc.into_fd, -1);
	for (size_t i = 0; i < cc.n; i++) {
		const struct tg_cg_hier *h = &cg.h[cc.d[i].hier];
		char path[4096];
		_cleanup_free_ char *v = NULL;
		/* v1: the child moves itself through "tasks", which skips the
		 * global threadgroup lock that a cgroup.procs write takes */
		char fdpath[64], target[4096];
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", cc.d[i].procs_fd);
		ssize_t tl = readlink(fdpath, target, sizeof(target) - 1);
		assert_true(tl > 6);
		target[tl] = '\0';
		assert_string_equal(target + tl - 6, "/tasks");
		if (h->ctrls & (1u << TG_CG_MEMORY)) {
			snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", cc.d[i].path);
			assert_int_equal(tg_read_file(path, 4096, &v, NULL), 0);
			assert_int_equal(strtoull(v, NULL, 10), 32u << 20);
		} else if (h->ctrls & (1u << TG_CG_PIDS)) {
			snprintf(path, sizeof(path), "%s/pids.max", cc.d[i].path);
			assert_int_equal(tg_read_file(path, 4096, &v, NULL), 0);
			assert_int_equal(atoi(v), 6);
		} else if (h->ctrls & (1u << TG_CG_CPU)) {
			snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", cc.d[i].path);
			assert_int_equal(tg_read_file(path, 4096, &v, NULL), 0);
			assert_int_equal(atoi(v), 25000);
		}
	}
	/* usage of an empty cgroup: no oom, zero cpu */
	struct tg_cg_usage u;
	tg_cg_child_usage(&cg, &cc, &u);
	assert_false(u.oom);
	char inst[4096];
	snprintf(inst, sizeof(inst), "%s", cg.h[cg.of[TG_CG_MEMORY]].inst);
	assert_int_equal(tg_cg_child_remove(&cg, &cc), 0);
	tg_cg_close(&cg);
	assert_int_equal(access(inst, F_OK), -1);
	tg_cg_free(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_v2_detect_and_spawn, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_v2_leaf_recognised, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_v1_and_mixed_detect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreign_root, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_removed, setup, teardown),
	        cmocka_unit_test(test_real_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
