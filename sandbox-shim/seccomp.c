/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp.c - syscall filters (libseccomp), compiled once and installed by
 * every spawn as plain BPF.
 *
 * Profiles:
 *   default  everything but a deny-list (EPERM): at least Docker's default
 *            profile, plus io_uring, userfaultfd, namespaces, the new mount
 *            API, BPF, perf, keys, modules, kexec, clock setting, ...
 *   strict   an allow-list sized for python3, sh, coreutils and curl (EPERM
 *            for the rest)
 *   allow    strict + the policy's extra syscalls
 *   deny     default + the policy's extra syscalls
 *
 * Every filter starts with a prologue of our own, ahead of libseccomp's
 * program: a foreign architecture or the x32 ABI kills the process, and a
 * syscall number newer than any this libseccomp knows (so newer than any we
 * have reviewed) fails with ENOSYS, which libc treats as "not implemented"
 * and falls back from.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "internal.h"

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

/* Denied by the default profile (EPERM). Names this libseccomp does not know
 * are skipped: numbers it does not know are caught by the prologue. */
static const char *const default_deny[] = {
        /* mounts and namespaces: the root and the namespaces are ours */
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        "chroot",
        "unshare",
        "setns",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        /* kernel code and configuration */
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "query_module",
        "get_kernel_syms",
        "kexec_load",
        "kexec_file_load",
        "bpf",
        "perf_event_open",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "quotactl",
        "quotactl_fd",
        "syslog",
        "sysfs",
        "_sysctl",
        "uselib",
        "ustat",
        "nfsservctl",
        "lookup_dcookie",
        "vhangup",
        "sethostname",
        "setdomainname",
        "fanotify_init",
        /* keys: the keyring is not namespaced */
        "keyctl",
        "add_key",
        "request_key",
        /* other processes' memory */
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "process_madvise",
        "kcmp",
        "pidfd_getfd",
        /* raw hardware and time */
        "iopl",
        "ioperm",
        "vm86",
        "vm86old",
        "pciconfig_read",
        "pciconfig_write",
        "pciconfig_iobase",
        "clock_settime",
        "clock_adjtime",
        "settimeofday",
        "stime",
        "adjtimex",
        /* NUMA policy (Docker: CAP_SYS_NICE only) */
        "mbind",
        "set_mempolicy",
        "get_mempolicy",
        "move_pages",
        "migrate_pages",
        "set_mempolicy_home_node",
        /* big attack surfaces of their own */
        "userfaultfd",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        /* file handles bypass the mount tree (the "shocker" escape) */
        "open_by_handle_at",
        "name_to_handle_at",
};

/* Allowed by the strict profile: what python3, sh, coreutils and curl use. */
static const char *const strict_allow[] = {
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "preadv",
        "pwritev",
        "preadv2",
        "pwritev2",
        "close",
        "close_range",
        "lseek",
        "stat",
        "fstat",
        "lstat",
        "newfstatat",
        "statx",
        "statfs",
        "fstatfs",
        "access",
        "faccessat",
        "faccessat2",
        "readlink",
        "readlinkat",
        "getdents",
        "getdents64",
        "getcwd",
        "chdir",
        "fchdir",
        "mkdir",
        "mkdirat",
        "rmdir",
        "unlink",
        "unlinkat",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "chown",
        "fchown",
        "lchown",
        "fchownat",
        "umask",
        "truncate",
        "ftruncate",
        "fallocate",
        "fsync",
        "fdatasync",
        "sync_file_range",
        "flock",
        "utime",
        "utimes",
        "utimensat",
        "futimesat",
        "getxattr",
        "lgetxattr",
        "fgetxattr",
        "listxattr",
        "llistxattr",
        "flistxattr",
        "setxattr",
        "lsetxattr",
        "fsetxattr",
        "removexattr",
        "lremovexattr",
        "fremovexattr",
        "fadvise64",
        "readahead",
        "copy_file_range",
        "sendfile",
        "splice",
        "tee",
        "dup",
        "dup2",
        "dup3",
        "fcntl",
        "ioctl",
        "pipe",
        "pipe2",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "eventfd",
        "eventfd2",
        "signalfd",
        "signalfd4",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime",
        "inotify_init",
        "inotify_init1",
        "inotify_add_watch",
        "inotify_rm_watch",
        "memfd_create",
        /* memory */
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "mremap",
        "msync",
        "mincore",
        "madvise",
        "membarrier",
        /* processes and threads */
        "fork",
        "vfork",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "wait4",
        "waitid",
        "kill",
        "tkill",
        "tgkill",
        "getpid",
        "getppid",
        "gettid",
        "getpgid",
        "setpgid",
        "getpgrp",
        "getsid",
        "setsid",
        "set_tid_address",
        "set_robust_list",
        "get_robust_list",
        "rseq",
        "futex",
        "futex_waitv",
        "futex_wake",
        "futex_wait",
        "futex_requeue",
        "arch_prctl",
        "prctl",
        "sched_yield",
        "sched_getaffinity",
        "sched_setaffinity",
        "sched_getparam",
        "sched_getscheduler",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "getpriority",
        "setpriority",
        "getrlimit",
        "setrlimit",
        "prlimit64",
        "getrusage",
        "pidfd_open",
        "pidfd_send_signal",
        "capget",
        "capset",
        "seccomp",
        "landlock_create_ruleset",
        "landlock_add_rule",
        "landlock_restrict_self",
        /* credentials: inert without capabilities */
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getresuid",
        "getresgid",
        "getgroups",
        "setuid",
        "setgid",
        "setreuid",
        "setregid",
        "setresuid",
        "setresgid",
        "setgroups",
        "setfsuid",
        "setfsgid",
        /* signals */
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigpending",
        "rt_sigtimedwait",
        "rt_sigqueueinfo",
        "rt_tgsigqueueinfo",
        "rt_sigsuspend",
        "sigaltstack",
        "pause",
        "restart_syscall",
        "alarm",
        "getitimer",
        "setitimer",
        "timer_create",
        "timer_settime",
        "timer_gettime",
        "timer_getoverrun",
        "timer_delete",
        /* time and system information */
        "clock_gettime",
        "clock_getres",
        "clock_nanosleep",
        "nanosleep",
        "gettimeofday",
        "time",
        "uname",
        "sysinfo",
        "times",
        "getrandom",
        "getcpu",
        /* sockets (socket() itself is filtered by family below) */
        "connect",
        "accept",
        "accept4",
        "bind",
        "listen",
        "shutdown",
        "getsockname",
        "getpeername",
        "socketpair",
        "setsockopt",
        "getsockopt",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
};

/* Namespace flags clone() may not carry: a new user namespace is kernel
 * attack surface, the others would let the program rebuild its view. */
#define TG_CLONE_NS_FLAGS                                                                          \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

static int rule_add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n_args,
                    const struct scmp_arg_cmp *args, bool must_exist, struct tg_error **err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) {
		if (must_exist)
			return tg_error_set(err, -EINVAL, "unknown syscall \"%s\"", name);
		return 0;
	}
	int r = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (r < 0 && r != -EEXIST)
		return tg_error_set(err, r, "seccomp rule for %s: %m", name);
	return 0;
}

static int add_list(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n,
                    bool must_exist, struct tg_error **err)
{
	for (size_t i = 0; i < n && names[i]; i++) {
		int r = rule_add(ctx, action, names[i], 0, NULL, must_exist, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* clone: without namespace flags only. clone3 hides its flags in memory
 * seccomp cannot read, so it reports ENOSYS and libc falls back to clone. */
static int add_clone_rules(scmp_filter_ctx ctx, bool allow_list, struct tg_error **err)
{
	int r;
	if (allow_list) {
		struct scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, TG_CLONE_NS_FLAGS, 0);
		r = rule_add(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_ns, true, err);
	} else {
		static const unsigned long flags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
		                                      CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
		                                      CLONE_NEWCGROUP};
		r = 0;
		for (size_t i = 0; i < TG_ARRAY_SIZE(flags) && r == 0; i++) {
			struct scmp_arg_cmp has = SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]);
			r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &has, true, err);
		}
	}
	if (r < 0)
		return r;
	return rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, false, err);
}

/* ioctl (default profile): TIOCSTI pushes input into a terminal, TIOCLINUX
 * pastes from the console selection: both inject keystrokes into a shell
 * outside the sandbox. ioctl's cmd is an unsigned int: compare 32 bits so
 * garbage in the upper half cannot dodge the rule. */
static int add_ioctl_rules(scmp_filter_ctx ctx, struct tg_error **err)
{
	static const unsigned long cmds[] = {TIOCSTI, TIOCLINUX};
	for (size_t i = 0; i < TG_ARRAY_SIZE(cmds); i++) {
		struct scmp_arg_cmp is = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, cmds[i]);
		int r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &is, true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* socket: AF_VSOCK is not namespaced and reaches the hypervisor host (as
 * Docker does, deny it); the strict profile allows only unix, inet, inet6
 * and netlink. */
static int add_socket_rules(scmp_filter_ctx ctx, bool allow_list, struct tg_error **err)
{
	if (!allow_list) {
		struct scmp_arg_cmp is = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, AF_VSOCK);
		return rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &is, true, err);
	}
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
	for (size_t i = 0; i < TG_ARRAY_SIZE(families); i++) {
		struct scmp_arg_cmp is = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, families[i]);
		int r = rule_add(ctx, SCMP_ACT_ALLOW, "socket", 1, &is, true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* personality: ADDR_NO_RANDOMIZE and friends switch off ASLR or make data
 * executable for the program's own children. The query value 0xffffffff
 * stays allowed (bit 31 is never a real persona flag). */
static int add_personality_rules(scmp_filter_ctx ctx, bool allow_list, struct tg_error **err)
{
	int r;
	if (allow_list) {
		static const unsigned long ok[] = {PER_LINUX, PER_LINUX32, UNAME26,
		                                   UNAME26 | PER_LINUX32, 0xffffffffu};
		for (size_t i = 0; i < TG_ARRAY_SIZE(ok); i++) {
			struct scmp_arg_cmp is = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, ok[i]);
			r = rule_add(ctx, SCMP_ACT_ALLOW, "personality", 1, &is, true, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	static const unsigned long bad[] = {ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC,
	                                    ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO};
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		struct scmp_arg_cmp has = SCMP_A0(SCMP_CMP_MASKED_EQ, bad[i] | 0x80000000u, bad[i]);
		r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &has, true, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Set-id bits: the program is uid 0 (without capabilities) and owns what it
 * creates on a writable bind such as /workspace; a setuid-root file planted
 * there is root for whoever runs it on the host (nosuid only holds inside
 * the sandbox). Every call that sets a mode refuses S_ISUID / S_ISGID:
 * (syscall, index of the mode argument, index of the open flags or -1). */
static const struct setid_call {
	const char *name;
	unsigned mode_arg;
	int flags_arg;
} setid_calls[] = {
        {"chmod", 1, -1},     {"fchmod", 1, -1}, {"fchmodat", 2, -1},
        {"fchmodat2", 2, -1}, {"mknod", 1, -1},  {"mknodat", 2, -1},
        {"creat", 1, -1},     {"open", 2, 1},    {"openat", 3, 2},
};

/* O_CREAT or O_TMPFILE: the open calls whose mode argument is used. */
#define TG_OPEN_MODE_FLAGS (O_CREAT | __O_TMPFILE)
#define TG_SETID_BITS      (S_ISUID | S_ISGID)

static int add_setid_rules(scmp_filter_ctx ctx, bool allow_list, struct tg_error **err)
{
	int r = 0;
	for (size_t i = 0; i < TG_ARRAY_SIZE(setid_calls) && r == 0; i++) {
		const struct setid_call *c = &setid_calls[i];
		if (allow_list) {
			/* allowed when no set-id bit is asked for, or (open) when
			 * the mode is not used at all */
			struct scmp_arg_cmp clean = {c->mode_arg, SCMP_CMP_MASKED_EQ, TG_SETID_BITS,
			                             0};
			r = rule_add(ctx, SCMP_ACT_ALLOW, c->name, 1, &clean, false, err);
			if (r == 0 && c->flags_arg >= 0) {
				struct scmp_arg_cmp no_mode = {(unsigned)c->flags_arg,
				                               SCMP_CMP_MASKED_EQ,
				                               TG_OPEN_MODE_FLAGS, 0};
				r = rule_add(ctx, SCMP_ACT_ALLOW, c->name, 1, &no_mode, false, err);
			}
			continue;
		}
		static const unsigned long bits[] = {S_ISUID, S_ISGID};
		for (size_t b = 0; b < TG_ARRAY_SIZE(bits) && r == 0; b++) {
			struct scmp_arg_cmp has = {c->mode_arg, SCMP_CMP_MASKED_EQ, bits[b],
			                           bits[b]};
			if (c->flags_arg < 0) {
				r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), c->name, 1, &has, false,
				             err);
				continue;
			}
			static const unsigned long uses_mode[] = {O_CREAT, __O_TMPFILE};
			for (size_t f = 0; f < TG_ARRAY_SIZE(uses_mode) && r == 0; f++) {
				struct scmp_arg_cmp both[2] = {
				        {(unsigned)c->flags_arg, SCMP_CMP_MASKED_EQ, uses_mode[f],
				         uses_mode[f]},
				        has,
				};
				r = rule_add(ctx, SCMP_ACT_ERRNO(EPERM), c->name, 2, both, false,
				             err);
			}
		}
	}
	/* openat2 keeps its mode in memory seccomp cannot read: ENOSYS, and
	 * libc's open() never needs it. */
	if (r == 0)
		r = rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, NULL, false, err);
	return r;
}

/* The highest syscall number this libseccomp can name on the native ABI. */
static int max_known_syscall(void)
{
	int max = 0;
	for (int nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name) {
			max = nr;
			free(name);
		}
	}
	return max;
}

#if defined(__x86_64__)
#define TG_AUDIT_ARCH AUDIT_ARCH_X86_64
#define TG_X32_BIT    0x40000000u
#elif defined(__aarch64__)
#define TG_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define TG_AUDIT_ARCH AUDIT_ARCH_RISCV64
#else
#error "toolgate: add this architecture's AUDIT_ARCH to seccomp.c"
#endif

/* Export libseccomp's program (libseccomp 2.5 only writes BPF to an fd) and
 * put our prologue in front of it. Classic BPF jumps are relative, so the
 * exported program is position independent. */
static int export_with_prologue(scmp_filter_ctx ctx, struct tg_seccomp *f, struct tg_error **err)
{
	_cleanup_close_ int mfd = memfd_create("tg-seccomp", MFD_CLOEXEC);
	if (mfd < 0)
		return tg_error_set(err, -errno, "memfd_create: %m");
	int r = seccomp_export_bpf(ctx, mfd);
	if (r < 0)
		return tg_error_set(err, r, "seccomp_export_bpf: %m");
	_cleanup_free_ char *bpf = NULL;
	size_t len = 0;
	if (lseek(mfd, 0, SEEK_SET) < 0)
		return tg_error_set(err, -errno, "lseek: %m");
	r = tg_read_fd(mfd, 256 * 1024, &bpf, &len);
	if (r < 0)
		return tg_error_set(err, r, "reading the seccomp program: %m");
	if (len == 0 || len % sizeof(struct sock_filter) != 0)
		return tg_error_set(err, -EINVAL, "seccomp program of %zu bytes", len);

	uint32_t max_nr = (uint32_t)max_known_syscall();
	struct sock_filter prologue[] = {
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TG_AUDIT_ARCH, 1, 0),
	        /* i386 on x86-64 and other foreign ABIs: a second syscall table
	         * the rules below were not written for. */
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef TG_X32_BIT
	        /* x32 shares the x86-64 arch token; its numbers carry bit 30. */
	        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, TG_X32_BIT, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
	        /* Syscalls newer than we have reviewed: "not implemented". */
	        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, max_nr, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	size_t n_pro = TG_ARRAY_SIZE(prologue);
	size_t n_body = len / sizeof(struct sock_filter);
	if (n_pro + n_body > BPF_MAXINSNS)
		return tg_error_set(err, -E2BIG, "seccomp program too long (%zu instructions)",
		                    n_pro + n_body);
	struct sock_filter *insns = calloc(n_pro + n_body, sizeof(*insns));
	if (!insns)
		return tg_error_set(err, -ENOMEM, "out of memory");
	memcpy(insns, prologue, sizeof(prologue));
	memcpy(insns + n_pro, bpf, len);
	f->insns = insns;
	f->len = (unsigned short)(n_pro + n_body);
	return 0;
}

int tg_seccomp_build(enum tg_seccomp_profile profile, char *const *syscalls,
                     struct tg_seccomp **ret, struct tg_error **err)
{
	bool allow_list =
	        profile == TG_SECCOMP_PROFILE_STRICT || profile == TG_SECCOMP_PROFILE_ALLOW;
	bool extras = profile == TG_SECCOMP_PROFILE_ALLOW || profile == TG_SECCOMP_PROFILE_DENY;
	if (profile > TG_SECCOMP_PROFILE_DENY)
		return tg_error_set(err, -EINVAL, "seccomp: unknown profile %d", (int)profile);
	if (!extras && syscalls && syscalls[0])
		return tg_error_set(err, -EINVAL, "seccomp: profile \"%s\" takes no syscall list",
		                    allow_list ? "strict" : "default");

	_cleanup_seccomp_ scmp_filter_ctx ctx =
	        seccomp_init(allow_list ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW);
	if (!ctx)
		return tg_error_set(err, -ENOMEM, "seccomp_init failed");
	/* Foreign ABIs are also killed by our prologue; this keeps libseccomp's
	 * own program consistent with it. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* binary tree */
	if (r < 0)
		return tg_error_set(err, r, "seccomp_attr_set: %m");

	if (allow_list)
		r = add_list(ctx, SCMP_ACT_ALLOW, strict_allow, TG_ARRAY_SIZE(strict_allow), false,
		             err);
	else
		r = add_list(ctx, SCMP_ACT_ERRNO(EPERM), default_deny, TG_ARRAY_SIZE(default_deny),
		             false, err);
	if (r == 0)
		r = add_clone_rules(ctx, allow_list, err);
	if (r == 0)
		r = add_socket_rules(ctx, allow_list, err);
	if (r == 0)
		r = add_personality_rules(ctx, allow_list, err);
	if (r == 0 && !allow_list)
		r = add_ioctl_rules(ctx, err);
	if (r == 0)
		r = add_setid_rules(ctx, allow_list, err);
	if (r == 0 && extras && syscalls) {
		uint32_t act = allow_list ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM);
		size_t n = tg_strv_len(syscalls);
		r = add_list(ctx, act, (const char *const *)syscalls, n, true, err);
	}
	if (r < 0)
		return tg_error_wrap(err, "seccomp profile");

	_cleanup_free_ struct tg_seccomp *f = calloc(1, sizeof(*f));
	if (!f)
		return tg_error_set(err, -ENOMEM, "out of memory");
	f->profile = profile;
	r = export_with_prologue(ctx, f, err);
	if (r < 0)
		return tg_error_wrap(err, "seccomp profile");
	*ret = steal_pointer(&f);
	return 0;
}

void tg_seccomp_free(struct tg_seccomp *f)
{
	if (!f)
		return;
	free(f->insns);
	free(f);
}

const char *tg_seccomp_name(const struct tg_seccomp *f)
{
	static const char *const names[] = {"default", "strict", "allow", "deny"};
	if (!f || (unsigned)f->profile >= TG_ARRAY_SIZE(names))
		return "none";
	return names[f->profile];
}

/* Child side: the process already has no_new_privs, so no capability is
 * needed; the filter is inherited by the init and everything it starts. */
TG_CHILD_FN int tg_seccomp_child_install(const struct tg_seccomp *f, struct tg_child_report *r)
{
	struct sock_fprog prog = {.len = f->len, .filter = f->insns};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		tg_child_fail(r, "install seccomp filter", "", errno);
		return -1;
	}
	return 0;
}
