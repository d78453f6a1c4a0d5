/* SPDX-License-Identifier: Apache-2.0 */
/*
 * child.c - a running sandbox: signal, kill, wait, free.
 *
 * The child's handle is a pidfd of its init (no pid reuse races). Killing
 * the init with SIGKILL takes the whole pid namespace down, setsid'd and
 * double-forked grandchildren included, since nothing can leave the
 * namespace (setns, unshare and namespace flags of clone are denied by
 * seccomp); the cgroup kill is the second net.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "init_proto.h"
#include "internal.h"

int tg_child_pidfd(const struct tg_child *c)
{
	return c->pidfd;
}

pid_t tg_child_pid(const struct tg_child *c)
{
	return c->pid;
}

const struct tg_protections *tg_child_protections(const struct tg_child *c)
{
	return &c->prot;
}

const uint32_t *tg_child_timing(const struct tg_child *c)
{
	return c->timing;
}

const char *tg_spawn_phase_name(enum tg_spawn_phase p)
{
	static const char *const names[TG_PHASE_COUNT] = {
	        "prepare", "clone",    "cgroup", "namespaces", "root",
	        "process", "landlock", "caps",   "seccomp",    "exec",
	};
	return (unsigned)p < TG_PHASE_COUNT ? names[p] : "?";
}

int tg_child_signal(struct tg_child *c, int sig)
{
	if (c->reaped)
		return -ESRCH;
	if (tg_pidfd_send_signal(c->pidfd, sig) < 0)
		return -errno;
	return 0;
}

int tg_child_kill(struct tg_child *c)
{
	if (c->reaped)
		return 0;
	c->killed = true;
	int r = 0;
	if (tg_pidfd_send_signal(c->pidfd, SIGKILL) < 0 && errno != ESRCH)
		r = -errno;
	tg_cg_child_kill(&c->sb->cg, &c->cg);
	return r;
}

/* A prepared init reads its start message at once; this only bounds the
 * wait for one that is stuck (stopped, or starved of CPU). */
#define START_TIMEOUT_MS 1000

static int append_strings(char *const *v, char *buf, size_t *off, uint32_t *count)
{
	for (size_t i = 0; v && v[i]; i++) {
		size_t l = strlen(v[i]) + 1;
		if (buf)
			memcpy(buf + *off, v[i], l);
		*off += l;
		(*count)++;
		if (*off > TG_INIT_START_MAX_LEN || *count > TG_INIT_START_MAX_STRINGS)
			return -E2BIG;
	}
	return 0;
}

int tg_child_start(struct tg_child *c, char *const *argv, char *const *envp, struct tg_error **err)
{
	if (c->start_fd < 0)
		return tg_error_set(err, -EINVAL,
		                    "start: not a prepared sandbox, or started already");
	if (!argv || !argv[0])
		return tg_error_set(err, -EINVAL, "start: empty argv");
	struct tg_init_start h = {.magic = TG_INIT_START_MAGIC};
	size_t len = 0;
	uint32_t n = 0;
	int r = append_strings(argv, NULL, &len, &h.argc);
	if (r == 0)
		r = append_strings(envp, NULL, &len, &h.envc);
	if (r < 0)
		return tg_error_set(err, r, "start: argv and environment too large");
	h.len = (uint32_t)len;
	_cleanup_free_ char *msg = malloc(sizeof(h) + len);
	if (!msg)
		return tg_error_set(err, -ENOMEM, "out of memory");
	memcpy(msg, &h, sizeof(h));
	size_t off = sizeof(h);
	append_strings(argv, msg, &off, &n);
	append_strings(envp, msg, &off, &n);

	uint64_t deadline = tg_now_mono_ms() + START_TIMEOUT_MS;
	for (size_t done = 0; done < off;) {
		ssize_t w = send(c->start_fd, msg + done, off - done, MSG_NOSIGNAL);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return tg_error_set(err, -errno, "start: the prepared sandbox: %m");
		uint64_t now = tg_now_mono_ms();
		struct pollfd p = {.fd = c->start_fd, .events = POLLOUT};
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0)
			return tg_error_set(err, -ETIMEDOUT,
			                    "start: the prepared sandbox does not read");
	}
	close(c->start_fd);
	c->start_fd = -1;
	c->start_ns = tg_now_mono_ns();
	return 0;
}

/* waitid() with the rusage glibc does not pass. */
static int reap(struct tg_child *c, siginfo_t *si, struct rusage *ru)
{
	for (;;) {
		memset(si, 0, sizeof(*si));
		if (syscall(SYS_waitid, P_PIDFD, c->pidfd, si, WEXITED, ru) == 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	c->reaped = true;
	return 0;
}

int tg_child_wait(struct tg_child *c, struct tg_child_exit *ret)
{
	if (c->waited || c->reaped)
		return -ECHILD;
	siginfo_t si;
	struct rusage ru = {0};
	int r = reap(c, &si, &ru);
	if (r < 0)
		return r;
	c->waited = true;

	struct tg_child_exit e = {.exit_code = -1, .killed = c->killed};
	e.wall_ms = (tg_now_mono_ns() - c->start_ns) / 1000000u;

	struct tg_init_report rep;
	ssize_t n = read(c->status_fd, &rep, sizeof(rep));
	if (n == (ssize_t)sizeof(rep) && rep.magic == TG_INIT_MAGIC) {
		if (WIFEXITED(rep.wait_status))
			e.exit_code = WEXITSTATUS(rep.wait_status);
		else if (WIFSIGNALED(rep.wait_status))
			e.signal = WTERMSIG(rep.wait_status);
		if (rep.exec_errno) {
			e.exec_failed = true;
			e.exec_errno = rep.exec_errno;
		}
	} else if (si.si_code == CLD_EXITED) {
		/* init ended without a report (it could not start the program). */
		e.exit_code = si.si_status;
	} else {
		/* init itself was killed: by tg_child_kill, the OOM killer or
		 * the RLIMIT_CPU backstop. */
		e.signal = si.si_status;
	}

	struct tg_cg_usage u;
	tg_cg_child_usage(&c->sb->cg, &c->cg, &u);
	e.oom = u.oom;
	if (u.have_cpu)
		e.cpu_ms = u.cpu_ns / 1000000u;
	else
		e.cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
		           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
	e.max_rss_kb = u.have_peak ? u.peak_bytes / 1024u : (uint64_t)ru.ru_maxrss;
	*ret = e;
	return 0;
}

void tg_child_free(struct tg_child *c)
{
	if (!c)
		return;
	if (!c->reaped) {
		siginfo_t si;
		struct rusage ru;
		tg_child_kill(c);
		reap(c, &si, &ru);
	}
	if (tg_cg_child_remove(&c->sb->cg, &c->cg) < 0)
		tg_log(TG_LOG_WARN, "sandbox: a cgroup of pid %d could not be removed",
		       (int)c->pid);
	close(c->pidfd);
	close(c->status_fd);
	if (c->start_fd >= 0)
		close(c->start_fd);
	/* The last reference to the sandbox's mounts: ~40 of them to tear
	 * down, and an RCU grace period; the pool's thread does it. */
	tg_pool_close_later(c->sb->pool, c->mntns_fd);
	/* Refill the pool now that this sandbox's work is over: in the gap
	 * between calls, not while a program runs. */
	tg_pool_kick(c->sb->pool);
	tg_strv_free(c->prot.items);
	free(c);
}
