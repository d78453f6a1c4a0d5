/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rootless operation: the same sandboxes opened and spawned by an ordinary
 * user (nobody), through a user namespace. The test process is root; each
 * test forks a child that drops to uid/gid 65534, does the work and writes
 * what it saw to a pipe; the parent checks it.
 *
 * Skipped where the kernel does not let an ordinary user create a user
 * namespace (sysctls, AppArmor).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sandbox.h"
#include "tg.h"

#define NOBODY 65534

static char init_path[PATH_MAX];
static char probe_path[PATH_MAX];
static char rtdir[64];

static int become_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -1;
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	const char *build = getenv("TG_BUILD_DIR");
	if (build) {
		snprintf(init_path, sizeof(init_path), "%s/toolgate-init", build);
		snprintf(probe_path, sizeof(probe_path), "%s/tests/sbx_probe", build);
	} else {
		char *dir = dirname(exe);
		snprintf(init_path, sizeof(init_path), "%s/../toolgate-init", dir);
		snprintf(probe_path, sizeof(probe_path), "%s/sbx_probe", dir);
	}
	snprintf(rtdir, sizeof(rtdir), "/tmp/tg-unit-rootless-XXXXXX");
	if (!mkdtemp(rtdir) || chown(rtdir, NOBODY, NOBODY) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(rtdir);
}

/* Can nobody make a user namespace here at all? */
static bool userns_allowed(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(become_nobody() == 0 && unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* In a child running as nobody: open a sandbox, spawn argv (through the
 * probe when probe is set), print what happened to out. */
static void as_nobody(char **argv, bool probe, uint64_t memory, char *out, size_t cap)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = fdopen(p[1], "w");
		if (!f || become_nobody() < 0)
			_exit(1);
		struct tg_error *err = NULL;
		struct tg_sandbox *sb = NULL;
		struct tg_seccomp *filt = NULL;
		struct tg_sandbox_config cfg = {
		        .runtime_dir = rtdir, .init_path = init_path, .instance = "unit-rootless"};
		if (tg_sandbox_open(&cfg, &sb, &err) < 0 ||
		    tg_seccomp_build(TG_SECCOMP_PROFILE_DEFAULT, NULL, &filt, &err) < 0) {
			fprintf(f, "open failed: %s\n", tg_error_msg(err));
			fclose(f);
			_exit(2);
		}
		char *envp[] = {"PATH=/usr/bin:/bin", "ASAN_OPTIONS=detect_leaks=0", NULL};
		struct tg_spawn_spec spec = {
		        .path = argv[0],
		        .exec_fd = -1,
		        .argv = argv,
		        .envp = envp,
		        .root = TG_ROOT_DEFAULT,
		        .stdin_fd = -1,
		        .stdout_fd = p[1],
		        .stderr_fd = p[1],
		        .seccomp = filt,
		        .netns_fd = -1,
		        .limits.memory_bytes = memory,
		};
		if (probe) {
			spec.path = NULL;
			spec.exec_fd = open(probe_path, O_PATH | O_CLOEXEC);
		}
		struct tg_child *c = NULL;
		fflush(f);
		if (tg_sandbox_spawn(sb, &spec, &c, &err) < 0) {
			fprintf(f, "spawn failed: %s\n", tg_error_msg(err));
		} else {
			bool user = false;
			for (char **i = tg_child_protections(c)->items; *i; i++)
				user |= strcmp(*i, "ns:user") == 0;
			struct tg_child_exit e;
			tg_child_wait(c, &e);
			tg_child_free(c);
			fprintf(f, "exit=%d\nns_user=%d\n", e.exit_code, user);
		}
		tg_error_free(err);
		tg_seccomp_free(filt);
		tg_sandbox_free(sb);
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
}

static void test_rootless_sandbox(void **state)
{
	(void)state;
	if (!userns_allowed())
		skip();
	char out[8192];
	char *argv[] = {"/bin/sh", "-c",
	                "id -u; tr -s ' ' </proc/self/uid_map; echo x >/dev/null && echo devnull; "
	                "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status | tr -d '\\t'; "
	                "(echo y >/usr/z) 2>/dev/null || echo usr-ro",
	                NULL};
	as_nobody(argv, false, 0, out, sizeof(out));
	assert_string_equal(out,
	                    "0\n 0 65534 1\ndevnull\nCapEff:0000000000000000\n"
	                    "CapBnd:0000000000000000\nNoNewPrivs:1\nusr-ro\nexit=0\nns_user=1\n");
}

static void test_rootless_seccomp(void **state)
{
	(void)state;
	if (!userns_allowed())
		skip();
	char out[8192];
	char *argv[] = {"sbx_probe", "syscalls", NULL};
	as_nobody(argv, true, 0, out, sizeof(out));
	/* the filter holds in a user namespace too: above all, no nested one */
	assert_non_null(strstr(out, "unshare=EPERM\n"));
	assert_non_null(strstr(out, "mount=EPERM\n"));
	assert_non_null(strstr(out, "clone_newns=EPERM\n"));
	assert_non_null(strstr(out, "exit=0\n"));
}

/* A limit the user's cgroups cannot enforce (not delegated): refused. */
static void test_rootless_fail_closed(void **state)
{
	(void)state;
	if (!userns_allowed())
		skip();
	char out[8192];
	char *argv[] = {"/bin/true", NULL};
	as_nobody(argv, false, 64u << 20, out, sizeof(out));
	if (strstr(out, "exit=0"))
		skip(); /* this user's cgroups are delegated: the limit held */
	assert_non_null(strstr(out, "spawn failed: "));
	assert_non_null(strstr(out, "memory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rootless_sandbox),
	        cmocka_unit_test(test_rootless_seccomp),
	        cmocka_unit_test(test_rootless_fail_closed),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
