/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sbx_probe - a small adversarial program for the sandbox tests. Each mode
 * tries something a sandbox must stop (or observes the sandbox) and prints
 * one line per check, "name=result", where result is "ok" or an errno name.
 * Run it outside a sandbox to see the same attempts succeed.
 *
 *   sbx_probe syscalls        mount, umount2, unshare, setns, ptrace, keyctl, bpf,
 *                             perf_event_open, io_uring_setup, userfaultfd,
 *                             clone(CLONE_NEWNS), clone3, socket(AF_VSOCK),
 *                             personality(ADDR_NO_RANDOMIZE), open_by_handle_at
 *   sbx_probe x32             one x32-ABI system call (a sandbox kills us)
 *   sbx_probe fds             descriptors open in this process
 *   sbx_probe pids            pids visible in /proc
 *   sbx_probe net             interfaces, and whether lo is up
 *   sbx_probe write PATH...   try to create/append each PATH
 *   sbx_probe read PATH...    try to open each PATH for reading
 *   sbx_probe alloc MIB       touch MIB MiB of memory, then print "alloc=ok"
 *   sbx_probe fork N          fork N sleeping children; print how many worked
 *   sbx_probe orphan NAME     double-fork a setsid'd grandchild named NAME that
 *                             sleeps forever, print "ready", sleep forever
 *   sbx_probe orphan-exit NAME  the same grandchild, then exit 0 at once
 *   sbx_probe abstract NAME   connect to the abstract unix socket "@NAME"
 */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case EROFS:
		return "EROFS";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	case EAGAIN:
		return "EAGAIN";
	case EBADF:
		return "EBADF";
	case EFAULT:
		return "EFAULT";
	case ENOTDIR:
		return "ENOTDIR";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case ENODEV:
		return "ENODEV";
	default: {
		static char buf[32];
		snprintf(buf, sizeof(buf), "E%d", e);
		return buf;
	}
	}
}

static void report(const char *name, long r)
{
	printf("%s=%s\n", name, ename(r < 0 ? errno : 0));
}

/* Runs on the small clone stack below: not instrumented, since ASan does not
 * know that stack (it would warn in its no-return handler). */
__attribute__((no_sanitize_address)) static int clone_ns_child(void *arg)
{
	(void)arg;
	return 0;
}

static int mode_syscalls(void)
{
	errno = 0;
	/* Harmless targets: on the host, root gets ENOENT or EINVAL, not EPERM. */
	report("mount", mount("none", "/nonexistent-sbx-probe", "tmpfs", 0, NULL));
	report("umount2", umount2("/nonexistent-sbx-probe", MNT_DETACH));
	int nsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	report("setns", nsfd < 0 ? -1 : setns(nsfd, CLONE_NEWUTS));
	/* PEEKDATA of a process we do not trace: ESRCH on the host, and it
	 * changes nothing (TRACEME would stop us at the next signal). */
	report("ptrace", syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 1, 0, 0));
	report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
	report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
	report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
	report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
	static char stack[16384] __attribute__((aligned(16)));
	long pid = clone(clone_ns_child, stack + sizeof(stack), CLONE_NEWNS | SIGCHLD, NULL);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	report("clone_newns", pid);
	report("clone3", syscall(SYS_clone3, NULL, 0));
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	report("socket_vsock", s);
	report("personality", personality(ADDR_NO_RANDOMIZE) == -1 ? -1 : 0);
	report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
	/* Last: on the host it succeeds and leaves us without privileges. */
	report("unshare", unshare(CLONE_NEWUSER));
	return 0;
}

static int mode_x32(void)
{
#if defined(__x86_64__)
	printf("x32=about-to-call\n");
	fflush(stdout);
	long r = syscall(0x40000000 | 39 /* getpid */);
	report("x32", r);
#endif
	return 0;
}

static int mode_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		report("fds", -1);
		return 1;
	}
	printf("fds=");
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			printf("%s ", de->d_name);
	printf("\n");
	closedir(d);
	return 0;
}

static int mode_pids(void)
{
	DIR *d = opendir("/proc");
	if (!d) {
		report("pids", -1);
		return 1;
	}
	printf("pids=");
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			printf("%s ", de->d_name);
	printf("\n");
	closedir(d);
	return 0;
}

static int mode_net(void)
{
	struct if_nameindex *ifs = if_nameindex();
	printf("ifaces=");
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		printf("%s ", i->if_name);
	printf("\n");
	if (ifs)
		if_freenameindex(ifs);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
		printf("lo_up=%s\n", (ifr.ifr_flags & IFF_UP) ? "yes" : "no");
	else
		report("lo_up", -1);
	return 0;
}

static int mode_write(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int fd = open(argv[i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		long r = fd;
		if (fd >= 0) {
			r = write(fd, "x\n", 2) == 2 ? 0 : -1;
			close(fd);
		}
		report(argv[i], r);
	}
	return 0;
}

static int mode_read(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		report(argv[i], fd);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int mode_alloc(long mib)
{
	size_t len = (size_t)mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		report("alloc", -1);
		return 1;
	}
	for (size_t o = 0; o < len; o += 4096)
		p[o] = 1;
	printf("alloc=ok\n");
	return 0;
}

static int mode_fork(long n)
{
	long ok = 0;
	int first_err = 0;
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0) {
			if (!first_err)
				first_err = errno;
			continue;
		}
		ok++;
	}
	printf("forked=%ld\nfork_error=%s\n", ok, ename(first_err));
	return 0;
}

static int mode_orphan(const char *name, bool stay)
{
	pid_t p = fork();
	if (p == 0) {
		setsid();
		if (fork() == 0) {
			prctl(PR_SET_NAME, name, 0, 0, 0);
			for (;;)
				pause();
		}
		_exit(0);
	}
	waitpid(p, NULL, 0);
	printf("ready\n");
	fflush(stdout);
	while (stay)
		pause();
	return 0;
}

static int mode_abstract(const char *name)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	if (n > sizeof(sa.sun_path) - 2)
		n = sizeof(sa.sun_path) - 2;
	memcpy(sa.sun_path + 1, name, n);
	long r = s < 0 ? -1
	               : connect(s, (struct sockaddr *)&sa,
	                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
	report("abstract", r);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: sbx_probe MODE [ARGS]\n");
		return 64;
	}
	const char *m = argv[1];
	if (strcmp(m, "syscalls") == 0)
		return mode_syscalls();
	if (strcmp(m, "x32") == 0)
		return mode_x32();
	if (strcmp(m, "fds") == 0)
		return mode_fds();
	if (strcmp(m, "pids") == 0)
		return mode_pids();
	if (strcmp(m, "net") == 0)
		return mode_net();
	if (strcmp(m, "write") == 0)
		return mode_write(argc - 2, argv + 2);
	if (strcmp(m, "read") == 0)
		return mode_read(argc - 2, argv + 2);
	if (strcmp(m, "alloc") == 0 && argc > 2)
		return mode_alloc(atol(argv[2]));
	if (strcmp(m, "fork") == 0 && argc > 2)
		return mode_fork(atol(argv[2]));
	if (strcmp(m, "orphan") == 0 && argc > 2)
		return mode_orphan(argv[2], true);
	if (strcmp(m, "orphan-exit") == 0 && argc > 2)
		return mode_orphan(argv[2], false);
	if (strcmp(m, "abstract") == 0 && argc > 2)
		return mode_abstract(argv[2]);
	fprintf(stderr, "sbx_probe: unknown mode %s\n", m);
	return 64;
}
