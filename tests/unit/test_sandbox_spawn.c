/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real sandboxes on a real kernel (root): exit statuses, stdio, the
 * namespaces, the root filesystem, capabilities, seccomp, cgroup limits,
 * killing, descriptors, exec_fd, failures, concurrency. After every test:
 * no cgroup of ours, no mount leaked into our namespace, no child left.
 *
 * The adversarial checks run tests/sbx_probe inside the sandbox through
 * exec_fd (the binary is not in the sandbox's root), and some of them run
 * it on the host first, to show that what fails inside works outside.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "../../sandbox-shim/internal.h" /* relative: other modules have an internal.h too */

extern char **environ;

static struct tg_sandbox *sb;
static struct tg_seccomp *filt_default, *filt_strict;
static char rtdir[PATH_MAX];
static char probe_path[PATH_MAX];
static int probe_fd = -1;
static char *mountinfo_before;

static char *env_probe[] = {"PATH=/usr/bin:/bin", "ASAN_OPTIONS=detect_leaks=0", NULL};

/* The cgroups of every child freed during a test: gone by its teardown. */
static pthread_mutex_t freed_lock = PTHREAD_MUTEX_INITIALIZER;
static char **freed_cgroups;

static void free_child(struct tg_child *c)
{
	pthread_mutex_lock(&freed_lock);
	for (size_t i = 0; i < c->cg.n; i++)
		tg_strv_push(&freed_cgroups, c->cg.d[i].path);
	pthread_mutex_unlock(&freed_lock);
	tg_child_free(c);
}

/* ---------------------------------------------------------------------------
 * Helpers.
 */

struct run {
	struct tg_child_exit exit;
	char out[16384];
	char err[16384];
	size_t out_len, err_len;
	int spawn_r;
	char spawn_err[512];
};

static struct tg_spawn_spec spec_for(char **argv)
{
	return (struct tg_spawn_spec){
	        .path = argv[0],
	        .exec_fd = -1,
	        .argv = argv,
	        .envp = env_probe,
	        .root = TG_ROOT_DEFAULT,
	        .stdin_fd = -1,
	        .stdout_fd = -1,
	        .stderr_fd = -1,
	        .seccomp = filt_default,
	        .netns_fd = -1,
	};
}

static struct tg_spawn_spec probe_spec(char **argv)
{
	struct tg_spawn_spec s = spec_for(argv);
	s.path = NULL;
	s.exec_fd = probe_fd;
	return s;
}

static void drain(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);
	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
}

/* Spawn, collect stdout/stderr until both close, wait. With until set, stop
 * reading once stdout contains it and call hook(child) before waiting. */
static void run_spec_hook(struct tg_spawn_spec *spec, struct run *r, const char *until,
                          void (*hook)(struct tg_child *))
{
	memset(r, 0, sizeof(*r));
	int out[2], err[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	spec->stdout_fd = out[1];
	spec->stderr_fd = err[1];
	struct tg_child *c = NULL;
	_cleanup_error_ struct tg_error *e = NULL;
	r->spawn_r = tg_sandbox_spawn(sb, spec, &c, &e);
	close(out[1]);
	close(err[1]);
	if (r->spawn_r < 0) {
		snprintf(r->spawn_err, sizeof(r->spawn_err), "%s", tg_error_msg(e));
		close(out[0]);
		close(err[0]);
		return;
	}
	bool out_open = true, err_open = true;
	while (out_open || err_open) {
		struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0},
		                      {err_open ? err[0] : -1, POLLIN, 0}};
		assert_true(poll(p, 2, 20000) > 0);
		if (p[0].revents) {
			size_t before = r->out_len;
			drain(out[0], r->out, sizeof(r->out), &r->out_len);
			if (r->out_len == before)
				out_open = false;
		}
		if (p[1].revents) {
			size_t before = r->err_len;
			drain(err[0], r->err, sizeof(r->err), &r->err_len);
			if (r->err_len == before)
				err_open = false;
		}
		if (until && strstr(r->out, until)) {
			hook(c);
			until = NULL;
		}
	}
	assert_int_equal(tg_child_wait(c, &r->exit), 0);
	free_child(c);
	close(out[0]);
	close(err[0]);
}

static void run_spec(struct tg_spawn_spec *spec, struct run *r)
{
	run_spec_hook(spec, r, NULL, NULL);
	if (r->spawn_r < 0)
		fail_msg("spawn failed: %s", r->spawn_err);
}

static void run_argv(char **argv, struct run *r)
{
	struct tg_spawn_spec s = spec_for(argv);
	run_spec(&s, r);
}

static void run_probe(char **argv, struct run *r)
{
	struct tg_spawn_spec s = probe_spec(argv);
	run_spec(&s, r);
}

/* The probe on the host, without any sandbox. */
static void run_probe_host(char **argv, char *out, size_t cap)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	/* fork, not posix_spawn: glibc's posix_spawn child trips ASan's
	 * no-return check on its private stack (a false positive). */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execve(probe_path, argv, env_probe);
		_exit(127);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

/* "name=value" from a probe's output. */
static const char *field(const char *out, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *l = out; l && *l;) {
		if (strncmp(l, name, nl) == 0 && l[nl] == '=') {
			const char *v = l + nl + 1;
			size_t n = strcspn(v, "\n");
			snprintf(buf, cap, "%.*s", (int)n, v);
			return buf;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return "(missing)";
}

#define assert_field(out, name, want)                                              \
	do {                                                                       \
		char buf_[256];                                                    \
		const char *got_ = field(out, name, buf_, sizeof(buf_));           \
		if (strcmp(got_, want) != 0)                                       \
			fail_msg("%s: got \"%s\", want \"%s\"", name, got_, want); \
	} while (0)

static bool has_protection(struct tg_child *c, const char *p)
{
	for (char **i = tg_child_protections(c)->items; i && *i; i++)
		if (strcmp(*i, p) == 0)
			return true;
	return false;
}

/* Is a process with this comm alive anywhere on the host? */
static bool comm_alive(const char *name)
{
	DIR *d = opendir("/proc");
	bool found = false;
	struct dirent *de;
	while (d && (de = readdir(d)) && !found) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/proc/%.200s/comm", de->d_name);
		_cleanup_free_ char *comm = NULL;
		if (tg_read_file(path, 256, &comm, NULL) == 0) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* ---------------------------------------------------------------------------
 * Fixtures: one sandbox context for the file; leftovers checked per test.
 */

static int group_setup(void **state)
{
	(void)state;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	char *dir = dirname(exe); /* build/tests */
	const char *build = getenv("TG_BUILD_DIR");
	char init[PATH_MAX];
	if (build) {
		snprintf(init, sizeof(init), "%s/toolgate-init", build);
		snprintf(probe_path, sizeof(probe_path), "%s/tests/sbx_probe", build);
	} else {
		snprintf(init, sizeof(init), "%s/../toolgate-init", dir);
		snprintf(probe_path, sizeof(probe_path), "%s/sbx_probe", dir);
	}
	probe_fd = open(probe_path, O_PATH | O_CLOEXEC);
	if (probe_fd < 0) {
		fprintf(stderr, "%s: %m\n", probe_path);
		return -1;
	}
	snprintf(rtdir, sizeof(rtdir), "/tmp/tg-unit-spawn-XXXXXX");
	if (!mkdtemp(rtdir))
		return -1;
	struct tg_sandbox_config cfg = {
	        .runtime_dir = rtdir, .init_path = init, .instance = "unit-spawn"};
	struct tg_error *err = NULL;
	if (tg_sandbox_open(&cfg, &sb, &err) < 0 ||
	    tg_seccomp_build(TG_SECCOMP_PROFILE_DEFAULT, NULL, &filt_default, &err) < 0 ||
	    tg_seccomp_build(TG_SECCOMP_PROFILE_STRICT, NULL, &filt_strict, &err) < 0) {
		fprintf(stderr, "setup: %s\n", tg_error_msg(err));
		tg_error_free(err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char inst[PATH_MAX] = "";
	if (sb && sb->cg.n > 0 && sb->cg.h[0].inst)
		snprintf(inst, sizeof(inst), "%s", sb->cg.h[0].inst);
	tg_seccomp_free(filt_default);
	tg_seccomp_free(filt_strict);
	tg_sandbox_free(sb);
	close(probe_fd);
	rmdir(rtdir);
	/* The instance's cgroups are gone with the context. */
	if (inst[0] && access(inst, F_OK) == 0) {
		fprintf(stderr, "leftover cgroup %s\n", inst);
		return -1;
	}
	return 0;
}

/* The lines of our mount table that concern us: our runtime dir and the
 * temp dirs the tests bind. (Other programs on the machine may mount and
 * unmount elsewhere meanwhile.) */
static char *our_mounts(void)
{
	_cleanup_free_ char *all = NULL;
	if (tg_read_file("/proc/self/mountinfo", 4 << 20, &all, NULL) < 0)
		return NULL;
	size_t cap = strlen(all) + 1, len = 0;
	char *out = calloc(1, cap);
	for (char *line = all; out && line && *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
		char buf[8192];
		snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
		if (strstr(buf, rtdir) || strstr(buf, "tg-unit-") || strstr(buf, "toolgate")) {
			memcpy(out + len, line, n);
			len += n;
		}
		line = nl ? nl + 1 : NULL;
	}
	return out;
}

static int test_setup(void **state)
{
	(void)state;
	mountinfo_before = our_mounts();
	return mountinfo_before ? 0 : -1;
}

static int test_teardown(void **state)
{
	(void)state;
	int bad = 0;
	_cleanup_free_ char *now = our_mounts();
	if (!now || strcmp(now, mountinfo_before) != 0) {
		fprintf(stderr, "leftover: a mount of ours in our namespace:\n%s\n",
		        now ? now : "");
		bad = -1;
	}
	free(mountinfo_before);
	mountinfo_before = NULL;
	for (char **p = freed_cgroups; p && *p; p++) {
		if (access(*p, F_OK) == 0) {
			fprintf(stderr, "leftover cgroup %s\n", *p);
			bad = -1;
		}
	}
	tg_strv_free(freed_cgroups);
	freed_cgroups = NULL;
	/* What remains are the pool's spares: empty. */
	for (size_t i = 0; i < sb->cg.n; i++) {
		DIR *d = opendir(sb->cg.h[i].inst);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			char path[PATH_MAX + 256];
			snprintf(path, sizeof(path), "%s/%s/cgroup.procs", sb->cg.h[i].inst,
			         de->d_name);
			_cleanup_free_ char *procs = NULL;
			if (tg_read_file(path, 4096, &procs, NULL) == 0 && procs[0]) {
				fprintf(stderr, "leftover process in %s\n", path);
				bad = -1;
			}
		}
		if (d)
			closedir(d);
	}
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
		fprintf(stderr, "leftover: a child process\n");
		bad = -1;
	}
	return bad;
}

/* ---------------------------------------------------------------------------
 * Exit statuses and stdio.
 */

static void test_true(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/true", NULL};
	run_argv(argv, &r);
	assert_int_equal(r.exit.exit_code, 0);
	assert_int_equal(r.exit.signal, 0);
	assert_false(r.exit.exec_failed);
	assert_false(r.exit.killed);
	assert_false(r.exit.oom);
}

static void test_exit_code(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
	run_argv(argv, &r);
	assert_int_equal(r.exit.exit_code, 3);
	assert_int_equal(r.exit.signal, 0);
}

static void test_signal_exit(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
	run_argv(argv, &r);
	assert_int_equal(r.exit.exit_code, -1);
	assert_int_equal(r.exit.signal, SIGTERM);
	assert_false(r.exit.killed);
}

static void test_stdio(void **state)
{
	(void)state;
	int in[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "from stdin\n", 11), 11);
	close(in[1]);
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "cat; echo out; echo err >&2", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.stdin_fd = in[0];
	run_spec(&s, &r);
	close(in[0]);
	assert_int_equal(r.exit.exit_code, 0);
	assert_string_equal(r.out, "from stdin\nout\n");
	assert_string_equal(r.err, "err\n");
}

static void test_env_cwd_hostname_hosts(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c",
	                "env | sort; pwd; cat /proc/sys/kernel/hostname; grep pinned /etc/hosts",
	                NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", "A=1", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.envp = envp;
	s.cwd = "/tmp";
	s.hostname = "box7";
	s.etc_hosts = "192.0.2.7\tpinned.example.com\n";
	run_spec(&s, &r);
	assert_int_equal(r.exit.exit_code, 0);
	/* exactly our environment (sh adds PWD) */
	assert_string_equal(r.out, "A=1\nPATH=/usr/bin:/bin\nPWD=/tmp\n/tmp\nbox7\n"
	                           "192.0.2.7\tpinned.example.com\n");
}

/* ---------------------------------------------------------------------------
 * Namespaces and the filesystem.
 */

static void test_net_only_lo(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe", "net", NULL};
	run_probe(argv, &r);
	assert_field(r.out, "ifaces", "lo ");
	assert_field(r.out, "lo_up", "yes");
	/* and the same without the namespace pool (the clone makes the netns) */
	struct tg_sandbox *nopool = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	char init[PATH_MAX];
	snprintf(init, sizeof(init), "%s/../toolgate-init", dirname(strdupa(probe_path)));
	struct tg_sandbox_config cfg = {
	        .runtime_dir = rtdir, .init_path = init, .instance = "unit-nopool", .pool = -1};
	assert_int_equal(tg_sandbox_open(&cfg, &nopool, &err), 0);
	struct tg_sandbox *saved = sb;
	sb = nopool;
	run_probe(argv, &r);
	sb = saved;
	tg_sandbox_free(nopool);
	assert_field(r.out, "ifaces", "lo ");
	assert_field(r.out, "lo_up", "yes");
}

static void test_joined_netns(void **state)
{
	(void)state;
	/* The broker's own namespace (here: ours) when it hands one in. */
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(host >= 0);
	struct run r;
	char *argv[] = {"sbx_probe", "net", NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	s.netns_fd = host;
	struct tg_child *c;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_sandbox_spawn(sb, &s, &c, &err), 0);
	assert_true(has_protection(c, "ns:net:broker"));
	free_child(c);
	run_spec(&s, &r);
	close(host);
	char buf[256];
	assert_true(strcmp(field(r.out, "ifaces", buf, sizeof(buf)), "lo ") != 0);
}

/* Even in a network namespace shared with the host (a broker's egress
 * namespace), the sandbox cannot reach an abstract unix socket outside it:
 * Landlock scopes them (where the kernel has it; else the test skips). */
static void test_abstract_socket_scoped(void **state)
{
	(void)state;
	if (tg_landlock_abi() < 6)
		skip();
	char name[64];
	snprintf(name, sizeof(name), "tg-unit-abstract-%d", (int)getpid());
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path + 1, name, strlen(name));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(listen(ls, 4), 0);
	char *argv[] = {"sbx_probe", "abstract", name, NULL};
	char host[256];
	run_probe_host(argv, host, sizeof(host));
	assert_string_equal(host, "abstract=ok\n");
	int netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct run r;
	struct tg_spawn_spec s = probe_spec(argv);
	s.netns_fd = netns;
	run_spec(&s, &r);
	close(netns);
	close(ls);
	assert_string_equal(r.out, "abstract=EPERM\n");
}

static void test_pid_ns(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe", "pids", NULL};
	run_probe(argv, &r);
	/* init and the probe, nothing of the host */
	assert_field(r.out, "pids", "1 2 ");
}

static void test_host_files_unreachable(void **state)
{
	(void)state;
	char secret[] = "/tmp/tg-unit-secret-XXXXXX";
	int fd = mkstemp(secret);
	assert_true(fd >= 0);
	close(fd);
	struct run r;
	char *argv[] = {"sbx_probe", "read",        secret,        "/root",
	                "/work",     "/etc/shadow", "/etc/passwd", NULL};
	run_probe(argv, &r);
	unlink(secret);
	assert_field(r.out, secret, "ENOENT");
	assert_field(r.out, "/root", "ENOENT");
	assert_field(r.out, "/work", "ENOENT");
	assert_field(r.out, "/etc/shadow", "ENOENT");
	assert_field(r.out, "/etc/passwd", "ok"); /* the generated one */
}

static void test_binds_ro_rw(void **state)
{
	(void)state;
	char ro[] = "/tmp/tg-unit-ro-XXXXXX", rw[] = "/tmp/tg-unit-rw-XXXXXX";
	assert_non_null(mkdtemp(ro));
	assert_non_null(mkdtemp(rw));
	struct tg_mount mounts[] = {
	        {.type = TG_MOUNT_BIND, .source = ro, .target = "/data", .flags = TG_MOUNT_RO},
	        {.type = TG_MOUNT_BIND, .source = rw, .target = "/work/space"},
	        {.type = TG_MOUNT_TMPFS, .target = "/scratch", .size = 1 << 20},
	        {.type = TG_MOUNT_BIND,
	         .source = "/nonexistent-tg",
	         .target = "/opt/x",
	         .flags = TG_MOUNT_OPTIONAL},
	};
	struct run r;
	char *argv[] = {"sbx_probe",  "write",     "/data/x",  "/work/space/x",
	                "/scratch/x", "/usr/x",    "/newfile", "/etc/passwd",
	                "/dev/x",     "/dev/null", "/tmp/x",   NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	s.mounts = mounts;
	s.n_mounts = TG_ARRAY_SIZE(mounts);
	run_spec(&s, &r);
	assert_field(r.out, "/data/x", "EROFS");
	assert_field(r.out, "/work/space/x", "ok");
	assert_field(r.out, "/scratch/x", "ok");
	assert_field(r.out, "/usr/x", "EROFS");
	assert_field(r.out, "/newfile", "EROFS");
	assert_field(r.out, "/etc/passwd", "EROFS");
	assert_field(r.out, "/dev/x", "EROFS");
	assert_field(r.out, "/dev/null", "ok");
	assert_field(r.out, "/tmp/x", "ok");
	char host[PATH_MAX];
	snprintf(host, sizeof(host), "%s/x", rw);
	assert_int_equal(access(host, F_OK), 0);
	unlink(host);
	rmdir(rw);
	rmdir(ro);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, text, strlen(text)), 0);
}

static int open_in(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_PATH | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* TG_MOUNT_BIND_FD binds the object that was opened, wherever it has been
 * moved since, read-only or not as asked, and refuses (ESTALE) once that
 * object cannot be reached as itself: a check-then-use race cannot hand
 * the program something else. */
static void test_pinned_binds(void **state)
{
	(void)state;
	char d[] = "/tmp/tg-unit-pin-XXXXXX", path[PATH_MAX], path2[PATH_MAX];
	assert_non_null(mkdtemp(d));
	put(d, "a.txt", "checked\n");
	put(d, "b.txt", "other\n");
	snprintf(path, sizeof(path), "%s/sub", d);
	assert_int_equal(mkdir(path, 0755), 0);
	put(d, "sub/in.txt", "inside\n");
	_cleanup_close_ int fa = open_in(d, "a.txt");
	_cleanup_close_ int fsub = open_in(d, "sub");

	/* The directory is renamed and a symlink put where it was: the bind
	 * still gets the directory itself. */
	snprintf(path2, sizeof(path2), "%s/sub.moved", d);
	assert_int_equal(rename(path, path2), 0);
	assert_int_equal(symlink("/etc", path), 0);
	struct tg_mount mounts[] = {
	        {.type = TG_MOUNT_BIND_FD,
	         .source_fd = fa,
	         .target = "/run/pin/0/a.txt",
	         .flags = TG_MOUNT_RO},
	        {.type = TG_MOUNT_BIND_FD, .source_fd = fsub, .target = "/run/pin/1/sub"},
	};
	struct run r;
	char *argv[] = {"sbx_probe", "write", "/run/pin/0/a.txt", "/run/pin/1/sub/new", NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	s.mounts = mounts;
	s.n_mounts = TG_ARRAY_SIZE(mounts);
	run_spec(&s, &r);
	assert_field(r.out, "/run/pin/0/a.txt", "EROFS");
	assert_field(r.out, "/run/pin/1/sub/new", "ok");
	snprintf(path2, sizeof(path2), "%s/sub.moved/new", d);
	assert_int_equal(access(path2, F_OK), 0);

	char *cat[] = {"/bin/cat", "/run/pin/0/a.txt", "/run/pin/1/sub/in.txt", NULL};
	s = spec_for(cat);
	s.mounts = mounts;
	s.n_mounts = TG_ARRAY_SIZE(mounts);
	run_spec(&s, &r);
	assert_string_equal(r.out, "checked\ninside\n");

	/* Renamed over: the path now leads to another file. Refused. */
	char b[PATH_MAX], a[PATH_MAX];
	snprintf(b, sizeof(b), "%s/b.txt", d);
	snprintf(a, sizeof(a), "%s/a.txt", d);
	assert_int_equal(rename(b, a), 0);
	s = spec_for(cat);
	s.mounts = mounts;
	s.n_mounts = 1;
	run_spec_hook(&s, &r, NULL, NULL);
	assert_int_equal(r.spawn_r, -ESTALE);
	assert_non_null(strstr(r.spawn_err, "/run/pin/0/a.txt"));
	/* Unlinked: refused too. */
	assert_int_equal(unlink(a), 0);
	run_spec_hook(&s, &r, NULL, NULL);
	assert_int_equal(r.spawn_r, -ESTALE);

	unlink(path);
	snprintf(path, sizeof(path), "rm -rf '%s'", d);
	assert_int_equal(system(path), 0);
}

/* A deferred spawn is a sandbox with every layer in place whose init waits:
 * nothing runs until tg_child_start brings argv and envp; one discarded
 * unstarted goes away cleanly. */
static void test_deferred_start(void **state)
{
	(void)state;
	int out[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	struct tg_spawn_spec s = spec_for((char *[]){"/bin/sh", NULL});
	s.argv = NULL;
	s.deferred = true;
	s.stdout_fd = out[1];
	struct tg_child *c = NULL;
	_cleanup_error_ struct tg_error *e = NULL;
	assert_int_equal(tg_sandbox_spawn(sb, &s, &c, &e), 0);
	close(out[1]);
	assert_true(has_protection(c, "seccomp:default"));
	/* Prepared, idle: no output, still running. */
	struct pollfd p = {.fd = out[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 100), 0);
	struct pollfd pp = {.fd = tg_child_pidfd(c), .events = POLLIN};
	assert_int_equal(poll(&pp, 1, 0), 0);

	char *argv[] = {"sh", "-c", "echo \"$0 $GREETING $$\"", NULL};
	char *envp[] = {"GREETING=hello", NULL};
	assert_int_equal(tg_child_start(c, argv, envp, &e), 0);
	/* Once only. */
	assert_int_equal(tg_child_start(c, argv, envp, &e), -EINVAL);
	char buf[256] = "";
	size_t len = 0;
	for (;;) {
		ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	/* The program is pid 2: init (pid 1) forked it only now. */
	assert_string_equal(buf, "sh hello 2\n");
	struct tg_child_exit ex;
	assert_int_equal(tg_child_wait(c, &ex), 0);
	assert_int_equal(ex.exit_code, 0);
	free_child(c);
	close(out[0]);

	/* Discarded without a start: freed like any child, nothing left. */
	s = spec_for((char *[]){"/bin/true", NULL});
	s.deferred = true;
	c = NULL;
	assert_int_equal(tg_sandbox_spawn(sb, &s, &c, &e), 0);
	free_child(c);

	/* The init died meanwhile: starting it fails, no SIGPIPE. */
	c = NULL;
	assert_int_equal(tg_sandbox_spawn(sb, &s, &c, &e), 0);
	assert_int_equal(tg_child_kill(c), 0);
	struct pollfd dead = {.fd = tg_child_pidfd(c), .events = POLLIN};
	assert_int_equal(poll(&dead, 1, 5000), 1);
	char *t[] = {"/bin/true", NULL};
	tg_error_free(e);
	e = NULL;
	assert_true(tg_child_start(c, t, NULL, &e) < 0);
	free_child(c);
}

static void test_proc_protected(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe",
	                "write",
	                "/proc/sysrq-trigger",
	                "/proc/sys/kernel/hostname",
	                "/proc/sys/vm/drop_caches",
	                "/proc/self/oom_score_adj",
	                NULL};
	run_probe(argv, &r);
	char buf[64];
	/* no sysrq-trigger on some kernels: then it cannot be created either */
	const char *sysrq = field(r.out, "/proc/sysrq-trigger", buf, sizeof(buf));
	assert_true(strcmp(sysrq, "EROFS") == 0 || strcmp(sysrq, "ENOENT") == 0);
	assert_field(r.out, "/proc/sys/kernel/hostname", "EROFS");
	assert_field(r.out, "/proc/sys/vm/drop_caches", "EROFS");
	assert_field(r.out, "/proc/self/oom_score_adj", "EROFS");
	/* masked: present but empty */
	char *argv2[] = {"/bin/sh", "-c",
	                 "for f in keys timer_list interrupts; do "
	                 "[ -e /proc/$f ] && printf '%s=%s\\n' $f $(wc -c </proc/$f); done; "
	                 "[ -d /proc/acpi ] && echo acpi=$(ls -A /proc/acpi | wc -l); true",
	                 NULL};
	run_argv(argv2, &r);
	assert_null(strstr(r.out, "=1"));
	for (const char *p = r.out; (p = strchr(p, '=')); p++)
		assert_int_equal(p[1], '0');
}

static void test_caps_nnp(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c",
	                "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "
	                "/proc/self/status | tr -d '\\t'; id -u",
	                NULL};
	run_argv(argv, &r);
	assert_string_equal(r.out, "CapInh:0000000000000000\nCapPrm:0000000000000000\n"
	                           "CapEff:0000000000000000\nCapBnd:0000000000000000\n"
	                           "CapAmb:0000000000000000\nNoNewPrivs:1\nSeccomp:2\n0\n");
}

static void test_fds(void **state)
{
	(void)state;
	/* A descriptor of ours without O_CLOEXEC must not leak in either. */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 0);
	struct run r;
	char *argv[] = {"sbx_probe", "fds", NULL};
	run_probe(argv, &r);
	close(leak);
	assert_field(r.out, "fds", "0 1 2 ");
}

/* The agent jail's shape: no TG_ROOT_USR or TG_ROOT_ETC, a policy bind of
 * /usr (the merged-usr links must come with it) and single-file binds of a
 * unix socket and a binary. */
static void test_agent_layout(void **state)
{
	(void)state;
	char dir[] = "/tmp/tg-unit-sock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sock_path[100];
	snprintf(sock_path, sizeof(sock_path), "%s/broker.sock", dir);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	struct tg_mount mounts[] = {
	        {.type = TG_MOUNT_BIND, .source = "/usr", .target = "/usr", .flags = TG_MOUNT_RO},
	        {.type = TG_MOUNT_BIND, .source = sock_path, .target = "/run/toolgate/broker.sock"},
	        {.type = TG_MOUNT_BIND,
	         .source = probe_path,
	         .target = "/run/toolgate/probe",
	         .flags = TG_MOUNT_RO},
	};
	struct run r;
	char *argv[] = {"/bin/sh", "-c",
	                "test -S /run/toolgate/broker.sock && echo sock; "
	                "/run/toolgate/probe pids; ls /",
	                NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.root = TG_ROOT_PROC | TG_ROOT_DEV | TG_ROOT_TMP;
	s.mounts = mounts;
	s.n_mounts = TG_ARRAY_SIZE(mounts);
	run_spec(&s, &r);
	close(ls);
	unlink(sock_path);
	rmdir(dir);
	assert_int_equal(r.exit.exit_code, 0);
	assert_non_null(strstr(r.out, "sock\n"));
	assert_non_null(strstr(r.out, "pids=1 2 3 \n"));
	assert_non_null(strstr(r.out, "\nbin\n"));
	assert_null(strstr(r.out, "\netc\n"));
}

/* ---------------------------------------------------------------------------
 * seccomp.
 */

static void test_seccomp_default(void **state)
{
	(void)state;
	static const char *const denied[] = {"mount",       "umount2",          "unshare",
	                                     "setns",       "ptrace",           "keyctl",
	                                     "bpf",         "perf_event_open",  "io_uring_setup",
	                                     "userfaultfd", "clone_newns",      "socket_vsock",
	                                     "personality", "open_by_handle_at"};
	char *argv[] = {"sbx_probe", "syscalls", NULL};
	char host[4096];
	run_probe_host(argv, host, sizeof(host));
	struct run r;
	run_probe(argv, &r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(denied); i++) {
		char buf[64];
		/* outside: not refused by policy (root may even succeed) */
		if (strcmp(field(host, denied[i], buf, sizeof(buf)), "EPERM") == 0 &&
		    strcmp(denied[i], "bpf") != 0 && strcmp(denied[i], "open_by_handle_at") != 0)
			fail_msg("%s is EPERM on the host already", denied[i]);
		assert_field(r.out, denied[i], "EPERM");
	}
	/* clone3 hides its flags from seccomp: ENOSYS, libc falls back to clone */
	assert_field(r.out, "clone3", "ENOSYS");
}

static void test_seccomp_x32_killed(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe", "x32", NULL};
	run_probe(argv, &r);
	assert_non_null(strstr(r.out, "x32=about-to-call"));
	assert_null(strstr(r.out, "x32=E"));
	assert_int_equal(r.exit.signal, SIGSYS);
}

static void test_seccomp_strict_tools(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c",
	                "python3 -c 'import os, subprocess, threading, json; "
	                "print(json.dumps(sum(range(10)))); "
	                "print(subprocess.run([\"echo\", \"sub\"], capture_output=True, "
	                "text=True).stdout, end=\"\")' "
	                "&& echo b a | tr ' ' '\\n' | sort | head -1 "
	                "&& printf x | sha256sum | cut -c1-8 "
	                "&& ls / >/dev/null && cat /etc/hostname 2>/dev/null; "
	                "curl -sS --max-time 2 http://127.0.0.1:9/ 2>&1; echo curl=$?",
	                NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.seccomp = filt_strict;
	run_spec(&s, &r);
	assert_string_equal(r.err, "");
	/* curl ran and got "connection refused" (7) on the empty loopback */
	assert_non_null(strstr(r.out, "45\nsub\na\n2d711642\n"));
	assert_non_null(strstr(r.out, "curl=7"));
	/* and the strict profile still refuses the dangerous calls */
	char *argv2[] = {"sbx_probe", "syscalls", NULL};
	s = probe_spec(argv2);
	s.seccomp = filt_strict;
	run_spec(&s, &r);
	assert_field(r.out, "mount", "EPERM");
	assert_field(r.out, "unshare", "EPERM");
	assert_field(r.out, "ptrace", "EPERM");
	assert_field(r.out, "socket_vsock", "EPERM");
}

static void test_seccomp_custom(void **state)
{
	(void)state;
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_seccomp *deny = NULL, *bad = NULL;
	char *extra[] = {"uname", NULL};
	assert_int_equal(tg_seccomp_build(TG_SECCOMP_PROFILE_DENY, extra, &deny, &err), 0);
	assert_string_equal(tg_seccomp_name(deny), "deny");
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "uname -n; echo rc=$?", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.seccomp = deny;
	run_spec(&s, &r);
	tg_seccomp_free(deny);
	assert_string_equal(r.out, "rc=1\n");
	assert_non_null(strstr(r.err, "Operation not permitted"));
	char *unknown[] = {"no_such_syscall", NULL};
	assert_int_equal(tg_seccomp_build(TG_SECCOMP_PROFILE_ALLOW, unknown, &bad, &err), -EINVAL);
	assert_non_null(strstr(tg_error_msg(err), "no_such_syscall"));
	assert_null(bad);
}

/* ---------------------------------------------------------------------------
 * Limits, kill, init.
 */

static void test_memory_oom(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe", "alloc", "256", NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	s.limits.memory_bytes = 32u << 20;
	run_spec(&s, &r);
	assert_true(r.exit.oom);
	assert_int_equal(r.exit.signal, SIGKILL);
	assert_null(strstr(r.out, "alloc=ok"));
	assert_true(r.exit.max_rss_kb > 16 * 1024);
	/* under the limit: fine, and the peak is reported */
	char *argv2[] = {"sbx_probe", "alloc", "8", NULL};
	s = probe_spec(argv2);
	s.limits.memory_bytes = 64u << 20;
	run_spec(&s, &r);
	assert_false(r.exit.oom);
	assert_int_equal(r.exit.exit_code, 0);
	assert_true(r.exit.max_rss_kb >= 8 * 1024);
}

static void test_pids_limit(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"sbx_probe", "fork", "20", NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	s.limits.pids = 8;
	run_spec(&s, &r);
	/* the probe itself is one of the 8 */
	assert_field(r.out, "forked", "7");
	assert_field(r.out, "fork_error", "EAGAIN");
}

static void kill_hook(struct tg_child *c)
{
	assert_int_equal(tg_child_kill(c), 0);
	assert_int_equal(tg_child_kill(c), 0); /* idempotent */
}

static void test_kill_grandchild(void **state)
{
	(void)state;
	char name[16];
	snprintf(name, sizeof(name), "tgorph%d", (int)(getpid() % 100000));
	struct run r;
	char *argv[] = {"sbx_probe", "orphan", name, NULL};
	struct tg_spawn_spec s = probe_spec(argv);
	run_spec_hook(&s, &r, "ready", kill_hook);
	assert_int_equal(r.spawn_r, 0);
	assert_true(r.exit.killed);
	assert_int_equal(r.exit.signal, SIGKILL);
	assert_false(comm_alive(name));
}

static void test_exit_kills_leftovers(void **state)
{
	(void)state;
	char name[16];
	snprintf(name, sizeof(name), "tgleft%d", (int)(getpid() % 100000));
	struct run r;
	char *argv[] = {"sbx_probe", "orphan-exit", name, NULL};
	run_probe(argv, &r);
	assert_int_equal(r.exit.exit_code, 0);
	assert_false(r.exit.killed);
	assert_false(comm_alive(name));
}

static void signal_hook(struct tg_child *c)
{
	assert_int_equal(tg_child_signal(c, SIGTERM), 0);
}

static void test_signal_forwarded(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "echo up; exec sleep 100", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	run_spec_hook(&s, &r, "up", signal_hook);
	assert_int_equal(r.exit.signal, SIGTERM);
	assert_false(r.exit.killed);
}

static void test_usage_reported(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done", NULL};
	run_argv(argv, &r);
	assert_int_equal(r.exit.exit_code, 0);
	assert_true(r.exit.cpu_ms > 0);
	assert_true(r.exit.max_rss_kb > 0);
	assert_true(r.exit.wall_ms >= r.exit.cpu_ms / 2);
}

/* ---------------------------------------------------------------------------
 * exec_fd, failures.
 */

static void test_exec_fd_script(void **state)
{
	(void)state;
	char script[] = "/tmp/tg-unit-script-XXXXXX";
	int fd = mkstemp(script);
	assert_true(fd >= 0);
	const char body[] = "#!/bin/sh\necho script-ok \"$@\"\n";
	assert_int_equal(write(fd, body, sizeof(body) - 1), (ssize_t)sizeof(body) - 1);
	fchmod(fd, 0755);
	close(fd);
	int xfd = open(script, O_PATH | O_CLOEXEC);
	assert_true(xfd >= 0);
	struct run r;
	char *argv[] = {"myscript", "arg1", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.path = NULL;
	s.exec_fd = xfd;
	run_spec(&s, &r);
	close(xfd);
	unlink(script);
	assert_int_equal(r.exit.exit_code, 0);
	assert_string_equal(r.out, "script-ok arg1\n");
}

static void test_exec_failure(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/nonexistent/tool", NULL};
	run_argv(argv, &r);
	assert_true(r.exit.exec_failed);
	assert_int_equal(r.exit.exec_errno, ENOENT);
	assert_int_equal(r.exit.exit_code, 127);
}

static void test_spawn_failure_reported(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"/bin/true", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.cwd = "/no/such/dir";
	run_spec_hook(&s, &r, NULL, NULL);
	assert_int_equal(r.spawn_r, -ENOENT);
	assert_non_null(strstr(r.spawn_err, "chdir /no/such/dir"));
	/* a bind whose source is missing, not optional */
	struct tg_mount m = {.type = TG_MOUNT_BIND, .source = "/nonexistent-tg", .target = "/x"};
	s = spec_for(argv);
	s.mounts = &m;
	s.n_mounts = 1;
	run_spec_hook(&s, &r, NULL, NULL);
	assert_int_equal(r.spawn_r, -ENOENT);
	assert_non_null(strstr(r.spawn_err, "/nonexistent-tg"));
	/* no seccomp filter: refused */
	s = spec_for(argv);
	s.seccomp = NULL;
	run_spec_hook(&s, &r, NULL, NULL);
	assert_int_equal(r.spawn_r, -EINVAL);
}

static void test_protections(void **state)
{
	(void)state;
	char *argv[] = {"/bin/true", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	s.limits = (struct tg_spawn_limits){.memory_bytes = 1u << 28,
	                                    .pids = 64,
	                                    .cpu_millis = 500,
	                                    .file_size_bytes = 1 << 20};
	struct tg_child *c;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_sandbox_spawn(sb, &s, &c, &err), 0);
	static const char *const want[] = {"ns:pid",
	                                   "ns:mount",
	                                   "ns:ipc",
	                                   "ns:uts",
	                                   "ns:cgroup",
	                                   "ns:net:empty",
	                                   "pivot_root",
	                                   "proc:ro,masked",
	                                   "caps:none",
	                                   "no_new_privs",
	                                   "seccomp:default",
	                                   "rlimit:core=0",
	                                   "rlimit:fsize=1048576",
	                                   "init"};
	char ll[32];
	if (tg_landlock_abi() > 0)
		snprintf(ll, sizeof(ll), "landlock:v%d", tg_landlock_abi());
	else
		snprintf(ll, sizeof(ll), "landlock:absent");
	assert_true(has_protection(c, ll));
	for (size_t i = 0; i < TG_ARRAY_SIZE(want); i++)
		if (!has_protection(c, want[i]))
			fail_msg("protection %s missing", want[i]);
	const char *cgv = tg_cg_version_of(&sb->cg, TG_CG_MEMORY) == TG_CG_V2 ? "v2" : "v1";
	char mem[64];
	snprintf(mem, sizeof(mem), "cgroup:%s:memory=268435456", cgv);
	assert_true(has_protection(c, mem));
	struct tg_child_exit e;
	assert_int_equal(tg_child_wait(c, &e), 0);
	assert_int_equal(tg_child_wait(c, &e), -ECHILD); /* at most once */
	free_child(c);
}

/* The v2 paths for real: this machine's unified hierarchy has no
 * controllers, but clone3(CLONE_INTO_CGROUP), cgroup.kill and cpu.stat are
 * core v2 features. A sandbox whose only hierarchy is v2 uses them all. */
static void kill_v2_hook(struct tg_child *c)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)tg_child_pid(c));
	_cleanup_free_ char *cg = NULL;
	assert_int_equal(tg_read_file(path, 4096, &cg, NULL), 0);
	/* born in its cgroup: no migration happened */
	if (!strstr(cg, "0::/toolgate/") || !strstr(cg, ".unit-v2/c"))
		fail_msg("not in its v2 cgroup: %s", cg);
	/* only the v2 kill: no pidfd signal */
	assert_int_equal(tg_cg_child_kill(&c->sb->cg, &c->cg), 0);
}

static void test_v2_clone_into_cgroup(void **state)
{
	(void)state;
	_cleanup_free_ char *mi = NULL;
	assert_int_equal(tg_read_file("/proc/self/mountinfo", 4 << 20, &mi, NULL), 0);
	char *line = strstr(mi, " - cgroup2 ");
	if (!line)
		skip();
	while (line > mi && line[-1] != '\n')
		line--;
	char root[256], point[256];
	if (sscanf(line, "%*s %*s %*s %255s %255s", root, point) != 2 || strcmp(root, "/") != 0)
		skip();
	_cleanup_free_ char *self = NULL;
	assert_int_equal(tg_read_file("/proc/self/cgroup", 4096, &self, NULL), 0);
	if (!strstr(self, "\n0::/\n") && strncmp(self, "0::/\n", 5) != 0)
		skip(); /* we are not in the v2 root: the test would need delegation */

	struct tg_sandbox *v2 = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	char init[PATH_MAX];
	snprintf(init, sizeof(init), "%s/../toolgate-init", dirname(strdupa(probe_path)));
	struct tg_sandbox_config cfg = {
	        .runtime_dir = rtdir, .init_path = init, .instance = "unit-v2", .pool = -1};
	assert_int_equal(tg_sandbox_open(&cfg, &v2, &err), 0);
	/* Swap its cgroups for the bare v2 hierarchy. */
	tg_cg_close(&v2->cg);
	tg_cg_free(&v2->cg);
	for (int i = 0; i < TG_CG_NCTRL; i++)
		v2->cg.of[i] = -1;
	v2->cg.n = 1;
	v2->cg.h[0].version = TG_CG_V2;
	v2->cg.h[0].self = strdup(point);
	v2->cg.h[0].parent = tg_strdup_printf("%s/toolgate", point);
	if (tg_cg_open_instance(&v2->cg, "unit-v2", &err) < 0) {
		tg_sandbox_free(v2);
		skip();
	}
	char inst[PATH_MAX];
	snprintf(inst, sizeof(inst), "%s", v2->cg.h[0].inst);

	struct tg_sandbox *saved = sb;
	sb = v2;
	struct run r;
	char *argv[] = {"/bin/sh", "-c", "echo ready; exec sleep 100", NULL};
	struct tg_spawn_spec s = spec_for(argv);
	run_spec_hook(&s, &r, "ready", kill_v2_hook);
	assert_int_equal(r.spawn_r, 0);
	assert_int_equal(r.exit.signal, SIGKILL); /* cgroup.kill took the whole tree */
	/* something CPU-bound, for cpu.stat */
	char *argv2[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", NULL};
	s = spec_for(argv2);
	run_spec(&s, &r);
	sb = saved;
	assert_true(r.exit.cpu_ms > 0);
	tg_sandbox_free(v2);
	assert_int_equal(access(inst, F_OK), -1);
}

struct thread_arg {
	int id;
	int ok;
};

static void *spawn_thread(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 4; i++) {
		char id[32];
		snprintf(id, sizeof(id), "t%d-%d", a->id, i);
		char *argv[] = {"/bin/sh", "-c", "echo $0", id, NULL};
		struct tg_spawn_spec s = spec_for(argv);
		s.limits.memory_bytes = 64u << 20;
		int out[2];
		if (pipe2(out, O_CLOEXEC) < 0)
			return NULL;
		s.stdout_fd = out[1];
		struct tg_child *c;
		struct tg_error *err = NULL;
		int r = tg_sandbox_spawn(sb, &s, &c, &err);
		close(out[1]);
		if (r < 0) {
			fprintf(stderr, "thread %d: %s\n", a->id, tg_error_msg(err));
			tg_error_free(err);
			close(out[0]);
			return NULL;
		}
		char buf[64] = "";
		size_t len = 0;
		ssize_t n;
		while ((n = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		close(out[0]);
		struct tg_child_exit e;
		tg_child_wait(c, &e);
		free_child(c);
		char want[40];
		snprintf(want, sizeof(want), "%s\n", id);
		if (e.exit_code == 0 && strcmp(buf, want) == 0)
			a->ok++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[8];
	struct thread_arg a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (struct thread_arg){.id = i};
		assert_int_equal(pthread_create(&t[i], NULL, spawn_thread, &a[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ok, 4);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_true),
	        T(test_exit_code),
	        T(test_signal_exit),
	        T(test_stdio),
	        T(test_env_cwd_hostname_hosts),
	        T(test_net_only_lo),
	        T(test_joined_netns),
	        T(test_abstract_socket_scoped),
	        T(test_pid_ns),
	        T(test_host_files_unreachable),
	        T(test_binds_ro_rw),
	        T(test_pinned_binds),
	        T(test_deferred_start),
	        T(test_proc_protected),
	        T(test_caps_nnp),
	        T(test_fds),
	        T(test_agent_layout),
	        T(test_seccomp_default),
	        T(test_seccomp_x32_killed),
	        T(test_seccomp_strict_tools),
	        T(test_seccomp_custom),
	        T(test_memory_oom),
	        T(test_pids_limit),
	        T(test_kill_grandchild),
	        T(test_exit_kills_leftovers),
	        T(test_signal_forwarded),
	        T(test_usage_reported),
	        T(test_exec_fd_script),
	        T(test_exec_failure),
	        T(test_spawn_failure_reported),
	        T(test_protections),
	        T(test_threads),
	        T(test_v2_clone_into_cgroup),
	};
	/* TG_TEST_FILTER=test_kill* runs a subset while debugging. */
	if (getenv("TG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("TG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
