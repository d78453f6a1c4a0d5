/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolgate-init - the PID 1 of every sandbox.
 *
 * Started by the spawner (see init_proto.h for the argv and descriptor
 * contract), already inside every namespace, without capabilities and under
 * the seccomp filter. It:
 *   - blocks every signal, so none can end it while it supervises;
 *   - forks the program, which restores an empty signal mask and execs;
 *   - forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the program;
 *   - reaps every process that ends up reparented to it;
 *   - when the program ends, writes the program's real wait status (and the
 *     exec errno, if it could not be started) to the status pipe and exits,
 *     which makes the kernel kill every remaining process of the namespace.
 *
 * Freestanding: no libc, raw system calls only. It runs in a root that may
 * hold no libc, and a static glibc's start-up (CPU feature probing, IRELATIVE
 * relocations, TLS) costs 4-6 times more than this whole program does on a
 * virtual machine, on every spawn. It uses read, write, pipe2, fcntl, clone
 * (fork), execve(at), wait4, kill, rt_sigprocmask, rt_sigtimedwait and
 * exit_group: all allowed by every seccomp profile.
 */
#include <linux/mman.h>
#include <asm/signal.h>
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/wait.h>
#include <stddef.h>
#include <stdint.h>

#include "init_proto.h"

/* ---------------------------------------------------------------------------
 * System calls.
 */
#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "	xor %rbp, %rbp\n"
        "	mov %rsp, %rdi\n"
        "	and $-16, %rsp\n"
        "	call start_c\n"
        "	hlt\n");
#elif defined(__aarch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
	                 : "+r"(x0)
	                 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
	                 : "memory");
	return x0;
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "	mov x29, #0\n"
        "	mov x30, #0\n"
        "	mov x0, sp\n"
        "	bl start_c\n"
        "	brk #0\n");
#else
#error "toolgate-init: add this architecture's system call convention"
#endif

#define sys0(n)                sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a)             sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b)          sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c)       sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d)    sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#define EINTR_  4
#define ENOENT_ 2
#define EINVAL_ 22

/* The compiler may emit these for struct copies and initialisers. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}
void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *i = s;
	while (n--)
		*o++ = *i++;
	return d;
}

__attribute__((noreturn)) static void exit_now(int code)
{
	for (;;)
		sys1(__NR_exit_group, code);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		long n = sys3(__NR_write, fd, p, len);
		if (n == -EINTR_)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void write_report(int wait_status, int exec_errno)
{
	struct tg_init_report r = {
	        .magic = TG_INIT_MAGIC,
	        .wait_status = wait_status,
	        .exec_errno = exec_errno,
	};
	write_all(TG_INIT_STATUS_FD, &r, sizeof(r));
}

#define SIGBIT(s) (1ull << ((s)-1))

/* Runs in the forked program child: never returns. */
__attribute__((noreturn)) static void exec_program(const char *path, char **argv, char **envp,
                                                   int errpipe)
{
	uint64_t none = 0;
	/* The program starts like any process: nothing blocked. */
	sys4(__NR_rt_sigprocmask, SIG_SETMASK, &none, 0, sizeof(none));
	long r;
	if (path[0] != '\0') {
		r = sys3(__NR_execve, path, argv, envp);
	} else {
		r = sys5(__NR_execveat, TG_INIT_EXEC_FD, "", argv, envp, AT_EMPTY_PATH);
		/* A #! script run through a close-on-exec descriptor fails with
		 * ENOENT: the interpreter would be handed /dev/fd/4, which the
		 * exec is about to close. Keep the descriptor open for it then. */
		if (r == -ENOENT_ && sys3(__NR_fcntl, TG_INIT_EXEC_FD, F_SETFD, 0) == 0)
			r = sys5(__NR_execveat, TG_INIT_EXEC_FD, "", argv, envp, AT_EMPTY_PATH);
	}
	int e = (int)-r;
	write_all(errpipe, &e, sizeof(e));
	exit_now(127);
}

/* Read exactly len bytes; 0 on success, else what read() said (0: EOF). */
static long read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		long n = sys3(__NR_read, fd, p, len);
		if (n == -EINTR_)
			continue;
		if (n <= 0)
			return n == 0 ? -1 : n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A prepared sandbox: wait for the program's argv and environment (see
 * init_proto.h). Returns 0 and the vectors, -1 on EOF (discarded), or a
 * negative errno for a broken message. */
static long read_start(char ***ret_argv, char ***ret_envp)
{
	struct tg_init_start h;
	long r = read_full(TG_INIT_START_FD, &h, sizeof(h));
	if (r == -1)
		return -1;
	if (r < 0)
		return r;
	if (h.magic != TG_INIT_START_MAGIC || h.argc < 1 || h.len == 0 ||
	    h.len > TG_INIT_START_MAX_LEN || h.argc > TG_INIT_START_MAX_STRINGS ||
	    h.envc > TG_INIT_START_MAX_STRINGS)
		return -EINVAL_;
	size_t nptr = (size_t)h.argc + h.envc + 2;
	size_t size = nptr * sizeof(char *) + h.len;
	long m = sys6(__NR_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	              -1, 0);
	if (m < 0 && m > -4096)
		return m;
	char **vec = (char **)m;
	char *s = (char *)(vec + nptr);
	r = read_full(TG_INIT_START_FD, s, h.len);
	if (r < 0)
		return r == -1 ? -EINVAL_ : r;
	if (s[h.len - 1] != '\0')
		return -EINVAL_;
	/* Exactly argc + envc strings, each NUL-terminated. */
	size_t k = 0, want = (size_t)h.argc + h.envc;
	char *start = s;
	for (size_t i = 0; i < h.len; i++) {
		if (s[i] != '\0')
			continue;
		if (k == want)
			return -EINVAL_;
		vec[k + (k >= h.argc ? 1 : 0)] = start;
		k++;
		start = s + i + 1;
	}
	if (k != want)
		return -EINVAL_;
	vec[h.argc] = 0;
	vec[want + 1] = 0;
	*ret_argv = vec;
	*ret_envp = vec + h.argc + 1;
	return 0;
}

static int exit_code_of(int status)
{
	if ((status & 0x7f) == 0)
		return (status >> 8) & 0xff; /* exited */
	return 128 + (status & 0x7f);        /* killed by a signal */
}

__attribute__((used, noreturn)) void start_c(long *sp);
__attribute__((used, noreturn)) void start_c(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;

	/* argc 2: a prepared sandbox, whose program comes later. */
	int deferred = argc == 2;
	if (argc < 2 || sys2(__NR_fcntl, TG_INIT_STATUS_FD, F_GETFD) < 0 ||
	    (deferred && sys2(__NR_fcntl, TG_INIT_START_FD, F_GETFD) < 0)) {
		static const char msg[] = "toolgate-init: started outside a toolgate sandbox\n";
		write_all(2, msg, sizeof(msg) - 1);
		exit_now(127);
	}
	const char *path = argv[1];
	char **prog_argv = argv + 2;

	/* Not dumpable: the program (same uid, no capabilities) must not open
	 * /proc/1/exe, /proc/1/fd/3 (our status pipe: it could forge its exit
	 * report) or /proc/1/fd/4 (the program's own file). exec reset it. */
	sys2(__NR_prctl, 4 /* PR_SET_DUMPABLE */, 0);

	/* Neither the status pipe nor the exec descriptor belong to the program. */
	sys3(__NR_fcntl, TG_INIT_STATUS_FD, F_SETFD, FD_CLOEXEC);
	if (path[0] == '\0')
		sys3(__NR_fcntl, TG_INIT_EXEC_FD, F_SETFD, FD_CLOEXEC);
	else if (deferred)
		sys1(__NR_close, TG_INIT_EXEC_FD); /* /dev/null, a placeholder */

	if (deferred) {
		long r0 = read_start(&prog_argv, &envp);
		sys1(__NR_close, TG_INIT_START_FD);
		if (r0 == -1)
			exit_now(0); /* discarded before it was used */
		if (r0 < 0) {
			write_report(127 << 8, (int)-r0);
			exit_now(127);
		}
	}

	/* Blocked, not handled: blocked signals are queued even for a pid-ns
	 * init, and rt_sigtimedwait() picks them up synchronously. */
	uint64_t all = ~0ull;
	sys4(__NR_rt_sigprocmask, SIG_BLOCK, &all, 0, sizeof(all));

	/* Reports exec failures: closed by a successful exec (EOF), else errno. */
	int errpipe[2];
	long r = sys2(__NR_pipe2, errpipe, O_CLOEXEC);
	if (r < 0) {
		write_report(127 << 8, (int)-r);
		exit_now(127);
	}
	long child = sys5(__NR_clone, SIGCHLD, 0, 0, 0, 0);
	if (child < 0) {
		write_report(127 << 8, (int)-child);
		exit_now(127);
	}
	if (child == 0) {
		sys1(__NR_close, errpipe[0]);
		exec_program(path, prog_argv, envp, errpipe[1]);
	}
	sys1(__NR_close, errpipe[1]);

	int exec_errno = 0;
	do {
		r = sys3(__NR_read, errpipe[0], &exec_errno, sizeof(exec_errno));
	} while (r == -EINTR_);
	if (r != (long)sizeof(exec_errno))
		exec_errno = 0;
	sys1(__NR_close, errpipe[0]);

	uint64_t waitset = SIGBIT(SIGCHLD) | SIGBIT(SIGTERM) | SIGBIT(SIGINT) | SIGBIT(SIGHUP) |
	                   SIGBIT(SIGQUIT) | SIGBIT(SIGUSR1) | SIGBIT(SIGUSR2);
	for (;;) {
		/* Reap first: SIGCHLD may have been queued before we got here, and
		 * several exits can merge into one signal. */
		for (;;) {
			int status = 0;
			long p = sys4(__NR_wait4, -1, &status, WNOHANG, 0);
			if (p <= 0)
				break;
			if (p == child) {
				write_report(status, exec_errno);
				exit_now(exit_code_of(status));
			}
		}
		/* siginfo_t is 128 bytes on every Linux architecture. */
		uint64_t info[16];
		long sig = sys4(__NR_rt_sigtimedwait, &waitset, info, 0, sizeof(waitset));
		if (sig <= 0 || sig == SIGCHLD)
			continue;
		sys2(__NR_kill, child, sig);
	}
}
