/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spawn.c - the orchestrator: one sandboxed child per call.
 *
 * The parent prepares everything that allocates, formats or decides (the
 * cgroup with its limits, namespaces, the mount plan, rlimits, the empty
 * capability set, descriptors, init's argv); the seccomp filter was
 * compiled long before. Then it clones, without forking itself:
 *
 *   clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS |
 *          CLONE_NEWUTS [| CLONE_NEWNET | CLONE_NEWIPC] [| CLONE_INTO_CGROUP])
 *   on a stack of its own (clone() where clone3 is not available)
 *
 * CLONE_VM: no page table copy, so a spawn costs the same for a 10 MiB and
 * a 10 GiB broker; CLONE_VFORK: the calling thread sleeps until the child
 * has exec'ed (or failed), so the child may read the prepared plan in place.
 * The child, PID 1 of its new pid namespace, then applies, in order:
 *
 *   signals    every handler back to default, then unblocked
 *   cgroups    join the spawn's cgroups (before anything is charged)
 *   pdeathsig  SIGKILL when the spawning thread dies; bail out if the
 *              broker is already gone
 *   setsid     no controlling terminal to inject keystrokes into
 *   namespaces join the pooled net+ipc (or the broker's net); new cgroup ns
 *   root       rprivate, tmpfs root, layers, binds, pivot_root (mount.c); or
 *              join a base root the pool built ahead, add /proc and the binds
 *   uts, net   hostname; lo up
 *   rlimits    core 0, nofile, fsize, cpu
 *   cwd        inside the new root
 *   fds        0,1,2 = stdio, 3 = init's status pipe, 4 = exec_fd, 5 = start
 *              pipe (deferred); nothing else
 *   landlock   (where the kernel has it) the filesystem again, by rule
 *   caps       securebits locked, bounding/ambient/E/P/I sets empty
 *   nnp        PR_SET_NO_NEW_PRIVS
 *   seccomp    the profile's BPF
 *   exec       toolgate-init, by descriptor (nothing needed in the root)
 *
 * A failing step writes errno and its name into memory shared with the
 * parent and _exit()s; the parent reports "step path: error".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "init_proto.h"
#include "internal.h"

#define CHILD_STACK_SIZE (256u * 1024u)

struct spawn_ctx {
	/* Prepared by the parent, read by the child. */
	const struct tg_sandbox *sb;
	const struct tg_cg_child *cg;
	struct tg_ns_child ns;
	struct tg_mount_plan mounts;
	struct tg_rlimit_plan rlimits;
	struct tg_caps_plan caps;
	struct tg_landlock_plan landlock;
	const struct tg_seccomp *seccomp;
	int pass_fds[6]; /* become 0..n_pass-1 in the child */
	int n_pass;
	int init_fd;
	int base_fd;             /* a pooled base mount namespace to join, or -1 */
	int *trees;              /* scratch: one descriptor per mount op */
	bool cloned_into_cgroup; /* clone3 put the child in the v2 cgroup */
	const char *cwd;
	char **init_argv;
	char *const *envp;
	/* Written by the child. */
	struct tg_child_report report;
	uint64_t mark[TG_PHASE_COUNT + 1]; /* CLOCK_MONOTONIC ns at each phase's end */
};

/* A timestamp for the phase just finished (vDSO: no system call). */
TG_CHILD_FN static void mark(struct spawn_ctx *ctx, enum tg_spawn_phase phase)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ctx->mark[phase + 1] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TG_CHILD_FN void tg_child_fail(struct tg_child_report *r, const char *step, const char *what,
                               int err)
{
	r->step = step;
	size_t n = 0;
	for (; what && what[n] && n + 1 < sizeof(r->what); n++)
		r->what[n] = what[n];
	r->what[n] = '\0';
	r->err = err ? err : EIO;
}

/* The child shares the caller's memory: a handler of the caller running in
 * it would act on the caller's state from the wrong process. The raw
 * syscalls also cover the two signals glibc keeps for itself. */
TG_CHILD_FN static void reset_signals(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = {.handler = SIG_DFL};
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
	uint64_t none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
}

/* Move the descriptors the sandbox gets to 0..n-1, the init binary right
 * after them (close-on-exec), and close everything else: no descriptor of
 * the broker (sockets, the audit log, other children's pipes) leaks in. */
TG_CHILD_FN static int setup_fds(struct spawn_ctx *ctx, int *ret_init_slot)
{
	int tmp[7];
	int n = ctx->n_pass;
	for (int i = 0; i < n; i++) {
		tmp[i] = fcntl(ctx->pass_fds[i], F_DUPFD_CLOEXEC, 16);
		if (tmp[i] < 0)
			return -1;
	}
	tmp[n] = fcntl(ctx->init_fd, F_DUPFD_CLOEXEC, 16);
	if (tmp[n] < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (dup2(tmp[i], i) < 0)
			return -1;
	if (dup3(tmp[n], n, O_CLOEXEC) < 0)
		return -1;
	if (close_range((unsigned)n + 1, ~0u, 0) < 0)
		return -1;
	*ret_init_slot = n;
	return 0;
}

TG_CHILD_FN static int child_main(void *arg)
{
	struct spawn_ctx *ctx = arg;
	struct tg_child_report *r = &ctx->report;

	reset_signals();
	mark(ctx, TG_PHASE_CLONE);
	/* Rootless: nothing below works before we are someone in our userns. */
	if (tg_ns_child_userns(&ctx->ns, r) < 0)
		goto fail;
	/* Exact modes for everything the root gets; the program gets 022. */
	umask(0);
	if (tg_cg_child_join(ctx->cg, ctx->cloned_into_cgroup, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_CGROUP);
	/* A broker that dies must not leave sandboxes behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		tg_child_fail(r, "set parent-death signal", "", errno);
		goto fail;
	}
	/* The broker may have died before the line above: then no signal
	 * will come. Its pidfd turns readable once it has exited. */
	struct pollfd pfd = {.fd = ctx->sb->self_pidfd, .events = POLLIN};
	if (poll(&pfd, 1, 0) != 0) {
		tg_child_fail(r, "check the broker is alive", "", ESRCH);
		goto fail;
	}
	/* A new session has no controlling terminal: TIOCSTI and job-control
	 * signals cannot reach the terminal the broker runs on. */
	if (setsid() < 0) {
		tg_child_fail(r, "setsid", "", errno);
		goto fail;
	}
	if (tg_ns_child_enter(&ctx->ns, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_NAMESPACES);
	if (tg_mount_child(&ctx->mounts, ctx->base_fd, ctx->trees, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_ROOT);
	if (tg_ns_child_setup(&ctx->ns, r) < 0)
		goto fail;
	if (tg_rlimit_child_apply(&ctx->rlimits, r) < 0)
		goto fail;
	if (chdir(ctx->cwd) < 0) {
		tg_child_fail(r, "chdir", ctx->cwd, errno);
		goto fail;
	}
	int init_slot;
	if (setup_fds(ctx, &init_slot) < 0) {
		tg_child_fail(r, "set up descriptors", "", errno);
		goto fail;
	}
	mark(ctx, TG_PHASE_PROCESS);
	if (tg_landlock_child_apply(&ctx->landlock, init_slot, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_LANDLOCK);
	if (tg_caps_child_drop(&ctx->caps, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_CAPS);
	/* No exec can gain privileges again (setuid bits, file caps); also
	 * what lets an unprivileged process install the seccomp filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		tg_child_fail(r, "set no_new_privs", "", errno);
		goto fail;
	}
	if (tg_seccomp_child_install(ctx->seccomp, r) < 0)
		goto fail;
	mark(ctx, TG_PHASE_SECCOMP);
	umask(022);
	syscall(SYS_execveat, init_slot, "", ctx->init_argv, ctx->envp, AT_EMPTY_PATH);
	tg_child_fail(r, "exec toolgate-init", "", errno);
fail:
	_exit(127);
}

static int validate(const struct tg_spawn_spec *spec, struct tg_error **err)
{
	if (!spec)
		return tg_error_set(err, -EINVAL, "spawn: no spec");
	if (!spec->seccomp)
		return tg_error_set(err, -EINVAL, "spawn: a seccomp filter is required");
	if (!spec->deferred && (!spec->argv || !spec->argv[0]))
		return tg_error_set(err, -EINVAL, "spawn: empty argv");
	if (spec->exec_fd < 0 && (!spec->path || spec->path[0] != '/'))
		return tg_error_set(err, -EINVAL, "spawn: path must be absolute");
	if (spec->cwd && spec->cwd[0] != '/')
		return tg_error_set(err, -EINVAL, "spawn: cwd must be absolute");
	if (spec->hostname && (strlen(spec->hostname) == 0 || strlen(spec->hostname) > 64))
		return tg_error_set(err, -EINVAL, "spawn: hostname must be 1-64 characters");
	return 0;
}

static void ctx_free(struct spawn_ctx *ctx)
{
	tg_ns_release(&ctx->ns);
	tg_mount_plan_free(&ctx->mounts);
	tg_caps_plan_free(&ctx->caps);
	tg_landlock_plan_free(&ctx->landlock);
	free(ctx->init_argv);
	free(ctx->trees);
	ctx->init_argv = NULL;
	ctx->trees = NULL;
}

static void child_free_partial(struct tg_child *c)
{
	if (!c)
		return;
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->status_fd >= 0)
		close(c->status_fd);
	if (c->start_fd >= 0)
		close(c->start_fd);
	if (c->mntns_fd >= 0)
		close(c->mntns_fd);
	tg_cg_child_remove(&c->sb->cg, &c->cg);
	tg_strv_free(c->prot.items);
	free(c);
}

static void child_free_partialp(struct tg_child **c)
{
	child_free_partial(*c);
}

/*
 * clone3() with a child that runs fn(arg) on its own stack and never returns
 * (it execs or exits). glibc 2.36 has no public clone3 wrapper; the kernel
 * starts the child right after the syscall instruction with the new stack
 * pointer, so the switch to fn has to be written per architecture. fn and
 * arg ride in callee-saved registers, which the syscall preserves.
 * Returns the pid, or -errno (-ENOSYS where we have no trampoline).
 */
#if defined(__x86_64__)
static long clone3_run(struct clone_args *args, int (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register struct clone_args *rdi __asm__("rdi") = args;
	register size_t rsi __asm__("rsi") = sizeof(*args);
	register int (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;
	__asm__ volatile("syscall\n\t"
	                 "test %%rax, %%rax\n\t"
	                 "jnz 1f\n\t"
	                 "xor %%ebp, %%ebp\n\t"
	                 "mov %%r13, %%rdi\n\t"
	                 "call *%%r12\n\t"
	                 "mov %%eax, %%edi\n\t"
	                 "mov $60, %%eax\n\t" /* exit */
	                 "syscall\n\t"
	                 "hlt\n"
	                 "1:\n"
	                 : "+r"(rax)
	                 : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
	                 : "rcx", "r11", "memory");
	return rax;
}
#elif defined(__aarch64__)
static long clone3_run(struct clone_args *args, int (*fn)(void *), void *arg)
{
	register long x8 __asm__("x8") = SYS_clone3;
	register long x0 __asm__("x0") = (long)args;
	register long x1 __asm__("x1") = sizeof(*args);
	register int (*x19)(void *) __asm__("x19") = fn;
	register void *x20 __asm__("x20") = arg;
	__asm__ volatile("svc #0\n\t"
	                 "cbnz x0, 1f\n\t"
	                 "mov x29, xzr\n\t"
	                 "mov x0, x20\n\t"
	                 "blr x19\n\t"
	                 "mov x8, #93\n\t" /* exit */
	                 "svc #0\n\t"
	                 "brk #0\n"
	                 "1:\n"
	                 : "+r"(x0)
	                 : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
	                 : "x30", "memory");
	return x0;
}
#else
static long clone3_run(struct clone_args *args, int (*fn)(void *), void *arg)
{
	(void)args, (void)fn, (void)arg;
	return -ENOSYS;
}
#endif

/* Once clone3 has been refused (an old kernel, a seccomp filter around the
 * broker), we stop trying and fall back to clone(). */
static atomic_bool clone3_broken;

/* Run the clone with every signal blocked, raw, so that even glibc's
 * internal signals cannot run a handler in the child before it resets them. */
static pid_t clone_child(struct spawn_ctx *ctx, unsigned long ns_flags, int into_fd, int *ret_pidfd)
{
	void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	/* A guard page: an overflow faults instead of scribbling on the heap. */
	mprotect(stack, 4096, PROT_NONE);
	uint64_t all = ~0ull, old;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all));
	int pidfd = -1;
	unsigned long flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | ns_flags;
	long pid = -ENOSYS;
	if (!atomic_load(&clone3_broken)) {
		/* CLONE_INTO_CGROUP: born in its v2 cgroup, no migration at all. */
		struct clone_args args = {
		        .flags = flags | (into_fd >= 0 ? CLONE_INTO_CGROUP : 0),
		        .pidfd = (uint64_t)(uintptr_t)&pidfd,
		        .exit_signal = SIGCHLD,
		        .stack = (uint64_t)(uintptr_t)stack,
		        .stack_size = CHILD_STACK_SIZE,
		        .cgroup = into_fd >= 0 ? (uint64_t)into_fd : 0,
		};
		ctx->cloned_into_cgroup = into_fd >= 0;
		pid = clone3_run(&args, child_main, ctx);
		if (pid == -ENOSYS || pid == -E2BIG || (pid == -EINVAL && into_fd >= 0))
			atomic_store(&clone3_broken, true);
	}
	if (atomic_load(&clone3_broken) && pid < 0) {
		ctx->cloned_into_cgroup = false;
		pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, (int)flags | SIGCHLD, ctx,
		            &pidfd);
		if (pid < 0)
			pid = -errno;
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
	munmap(stack, CHILD_STACK_SIZE);
	if (pid < 0)
		return (pid_t)pid;
	*ret_pidfd = pidfd;
	return (pid_t)pid;
}

static int reap_failed(int pidfd)
{
	siginfo_t si;
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The program runs as uid 0 without capabilities, which still owns root's
 * files: executed straight from the pinned host file, it could chmod (even
 * setuid) or rewrite that very file through /proc/self/exe. It is executed
 * through a detached, read-only, nosuid copy of the file's mount instead.
 * Returns the new descriptor; -EPERM when this process may not make mounts
 * (rootless: the program is then an unprivileged user on the host anyway). */
static int readonly_exec_view(int exec_fd)
{
	int m = (int)syscall(SYS_open_tree, exec_fd, "",
	                     AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (m < 0)
		return -errno;
	struct mount_attr attr = {.attr_set =
	                                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	if (syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		int e = -errno;
		close(m);
		return e;
	}
	return m;
}

int tg_sandbox_spawn(struct tg_sandbox *sb, const struct tg_spawn_spec *spec, struct tg_child **ret,
                     struct tg_error **err)
{
	_cleanup_close_ int ro_exec = -1, start_r = -1;
	uint64_t start = tg_now_mono_ns();
	int r = validate(spec, err);
	if (r < 0)
		return r;

	_cleanup_(child_free_partialp) struct tg_child *c = calloc(1, sizeof(*c));
	if (!c)
		return tg_error_set(err, -ENOMEM, "out of memory");
	c->sb = sb;
	c->pidfd = c->status_fd = c->start_fd = c->mntns_fd = -1;
	char ***prot = &c->prot.items;

	struct spawn_ctx ctx = {.sb = sb, .cg = &c->cg, .seccomp = spec->seccomp, .base_fd = -1};
	ctx.ns.netns_fd = ctx.ns.ipcns_fd = -1;
	_cleanup_close_ int status_w = -1;
	unsigned long ns_flags = 0;

	/* cgroups first: a limit that cannot be enforced stops us here. */
	struct tg_cg_child spare;
	bool have_spare = tg_pool_take_cg(sb->pool, &spare);
	r = tg_cg_child_create(&sb->cg, &spec->limits, have_spare ? &spare : NULL, &c->cg, prot,
	                       err);
	if (r < 0)
		return tg_error_wrap(err, "spawn");
	r = tg_ns_prepare(sb->pool, sb->userns, spec, &ctx.ns, &ns_flags, prot);
	if (r < 0)
		return tg_error_set(err, r, "spawn: namespaces: %m");
	r = tg_mount_plan_build(sb, spec, &ctx.mounts, prot, err);
	if (r < 0) {
		ctx_free(&ctx);
		return tg_error_wrap(err, "spawn");
	}
	/* A prepared base root fits a default root: join it instead of
	 * building one (no CLONE_NEWNS then: the base is a new namespace). */
	if (ctx.mounts.base_default && !sb->userns && tg_pool_take_base(sb->pool, &c->mntns_fd)) {
		ctx.base_fd = c->mntns_fd;
		ns_flags &= ~(unsigned long)CLONE_NEWNS;
		ctx.trees = calloc(ctx.mounts.n_ops ? ctx.mounts.n_ops : 1, sizeof(int));
		if (!ctx.trees) {
			ctx_free(&ctx);
			return tg_error_set(err, -ENOMEM, "out of memory");
		}
	}
	r = tg_rlimit_prepare(&spec->limits, &ctx.rlimits, prot);
	if (r == 0)
		r = tg_landlock_prepare(sb->landlock_abi, spec, &ctx.landlock, prot);
	if (r == 0)
		r = tg_caps_prepare(sb->last_cap, &ctx.caps, prot);
	if (r == 0)
		r = tg_strv_push(prot, "no_new_privs");
	if (r == 0) {
		char note[64];
		snprintf(note, sizeof(note), "seccomp:%s", tg_seccomp_name(spec->seccomp));
		r = tg_strv_push(prot, note);
	}
	static const char *const notes[] = {"pdeathsig", "setsid", "fds:stdio-only", "init"};
	for (size_t i = 0; r == 0 && i < TG_ARRAY_SIZE(notes); i++)
		r = tg_strv_push(prot, notes[i]);

	/* The status pipe: init's report on how the program ended. */
	int pipefd[2] = {-1, -1};
	if (r == 0 && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		ctx_free(&ctx);
		return tg_error_set(err, r, "spawn: %m");
	}
	c->status_fd = pipefd[0];
	status_w = pipefd[1];
	/* Blocking for init: a full pipe cannot happen (one small record). */
	fcntl(status_w, F_SETFL, 0);

	ctx.pass_fds[0] = spec->stdin_fd >= 0 ? spec->stdin_fd : sb->null_fd;
	ctx.pass_fds[1] = spec->stdout_fd >= 0 ? spec->stdout_fd : sb->null_fd;
	ctx.pass_fds[2] = spec->stderr_fd >= 0 ? spec->stderr_fd : sb->null_fd;
	ctx.pass_fds[3] = status_w;
	ctx.n_pass = 4;
	if (spec->exec_fd >= 0) {
		ro_exec = readonly_exec_view(spec->exec_fd);
		if (ro_exec < 0 && (ro_exec != -EPERM || geteuid() == 0)) {
			ctx_free(&ctx);
			return tg_error_set(err, ro_exec,
			                    "spawn: read-only view of the program: %m");
		}
		ctx.pass_fds[ctx.n_pass++] = ro_exec >= 0 ? ro_exec : spec->exec_fd;
	}
	if (spec->deferred) {
		/* init waits on its end; ours never blocks the caller, and a
		 * socket (send with MSG_NOSIGNAL) raises no SIGPIPE in a caller
		 * that did not ignore it when the sandbox has gone. */
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
			int e = -errno;
			ctx_free(&ctx);
			return tg_error_set(err, e, "spawn: start socket: %m");
		}
		start_r = sp[0];
		c->start_fd = sp[1]; /* both closed on the way out if what follows fails */
		if (fcntl(sp[1], F_SETFL, O_NONBLOCK) < 0 || shutdown(sp[0], SHUT_WR) < 0) {
			int e = -errno;
			ctx_free(&ctx);
			return tg_error_set(err, e, "spawn: start socket: %m");
		}
		if (ctx.n_pass == 4)
			ctx.pass_fds[ctx.n_pass++] = sb->null_fd; /* TG_INIT_EXEC_FD unused */
		ctx.pass_fds[ctx.n_pass++] = start_r;
	}
	ctx.init_fd = sb->init_fd;
	ctx.cwd = spec->cwd ? spec->cwd : "/";
	static char *const empty_env[] = {NULL};
	ctx.envp = spec->envp ? spec->envp : empty_env;

	size_t argc = spec->deferred ? 0 : tg_strv_len(spec->argv);
	ctx.init_argv = calloc(argc + 3, sizeof(char *));
	if (!ctx.init_argv) {
		ctx_free(&ctx);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	ctx.init_argv[0] = (char *)"toolgate-init";
	ctx.init_argv[1] = (char *)(spec->exec_fd >= 0 ? "" : spec->path);
	if (argc)
		memcpy(ctx.init_argv + 2, spec->argv, argc * sizeof(char *));

	int pidfd = -1;
	ctx.mark[0] = start;
	mark(&ctx, TG_PHASE_PREPARE);
	pid_t pid = clone_child(&ctx, ns_flags, c->cg.into_fd, &pidfd);
	/* The pool ran dry (a burst): refill at once rather than when a
	 * sandbox ends. */
	if (!have_spare || (ctx.mounts.base_default && ctx.base_fd < 0))
		tg_pool_kick(sb->pool);
	ctx_free(&ctx);
	tg_cg_child_close_fds(&c->cg);
	if (pid < 0)
		return tg_error_set(err, (int)pid, "spawn: clone: %m");
	if (ctx.report.err) {
		reap_failed(pidfd);
		close(pidfd);
		const struct tg_child_report *rep = &ctx.report;
		return tg_error_set(err, -rep->err, "spawn: %s%s%s: %m", rep->step,
		                    rep->what[0] ? " " : "", rep->what);
	}
	if (c->mntns_fd < 0) {
		/* Hold the sandbox's mount namespace: when the sandbox ends, its
		 * mounts are then torn down by tg_child_free (on the pool's
		 * thread), not by the exiting init while the caller waits. */
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		c->mntns_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	mark(&ctx, TG_PHASE_EXEC);
	for (int i = 0; i < TG_PHASE_COUNT; i++)
		c->timing[i] = ctx.mark[i + 1] > ctx.mark[i]
		                       ? (uint32_t)((ctx.mark[i + 1] - ctx.mark[i]) / 1000u)
		                       : 0;
	c->pid = pid;
	c->pidfd = pidfd;
	c->start_ns = start;
	*ret = steal_pointer(&c);
	return 0;
}
