/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns.c - namespaces: pid, mount, uts come with the clone; net and ipc come
 * from the clone too, or ready-made from a pool; the cgroup namespace is
 * made after the child has joined its cgroups.
 *
 * Why a pool (pool.c): creating a network namespace costs ~0.4-1 ms of
 * kernel work (every pernet subsystem initialises), more than the rest of a
 * spawn. A background thread keeps a few fresh, never-used net+ipc namespace
 * pairs (lo already up) and a spawn joins one with setns(): the same
 * isolation (each namespace serves exactly one sandbox, then dies with it),
 * with the cost moved off the caller's critical path.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

TG_CHILD_FN int tg_ns_lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	int r = 0;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(s);
	return r;
}

/* In the pool thread: make one fresh pair and return to where we were. */
int tg_ns_make_pair(int orig_net, int orig_ipc, int *ret_net, int *ret_ipc)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC) < 0)
		return -errno;
	int r = 0;
	int net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ipc = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (net < 0 || ipc < 0)
		r = -errno;
	if (r == 0)
		r = tg_ns_lo_up();
	/* Going back must not fail silently: the thread would keep making
	 * namespaces inside a namespace. */
	if (setns(orig_net, CLONE_NEWNET) < 0 || setns(orig_ipc, CLONE_NEWIPC) < 0)
		abort();
	if (r < 0) {
		if (net >= 0)
			close(net);
		if (ipc >= 0)
			close(ipc);
		return r;
	}
	*ret_net = net;
	*ret_ipc = ipc;
	return 0;
}

int tg_ns_prepare(struct tg_pool *pool, bool userns, const struct tg_spawn_spec *spec,
                  struct tg_ns_child *ret, unsigned long *ret_flags, char ***prot)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS;
	struct tg_ns_child n = {.netns_fd = -1, .ipcns_fd = -1};
	n.hostname = spec->hostname ? spec->hostname : "toolgate";
	if (userns) {
		/* Rootless: the user namespace is what gives the child the
		 * privileges to build its sandbox, over its own namespaces only.
		 * uid/gid 0 inside are us outside, nothing else is mapped. */
		flags |= CLONE_NEWUSER;
		n.userns = true;
		snprintf(n.uid_map, sizeof(n.uid_map), "0 %u 1", (unsigned)geteuid());
		snprintf(n.gid_map, sizeof(n.gid_map), "0 %u 1", (unsigned)getegid());
		pool = NULL; /* pooled namespaces belong to the broker's user namespace */
	}
	if (spec->netns_fd >= 0) {
		/* The broker's namespace (egress through its veth): join it. Pool
		 * pairs are not split, so ipc comes with the clone. */
		n.netns_fd = spec->netns_fd;
		flags |= CLONE_NEWIPC;
	} else if (tg_pool_take_ns(pool, &n.netns_fd, &n.ipcns_fd)) {
		n.own_fds = true;
	} else {
		flags |= CLONE_NEWNET | CLONE_NEWIPC;
		n.lo_up = true;
	}
	static const char *const names[] = {"ns:pid", "ns:mount", "ns:ipc", "ns:uts", "ns:cgroup"};
	int r = userns ? tg_strv_push(prot, "ns:user") : 0;
	for (size_t i = 0; i < TG_ARRAY_SIZE(names) && r == 0; i++)
		r = tg_strv_push(prot, names[i]);
	if (r == 0)
		r = tg_strv_push(prot, spec->netns_fd >= 0 ? "ns:net:broker" : "ns:net:empty");
	if (r < 0) {
		tg_ns_release(&n);
		return r;
	}
	*ret = n;
	*ret_flags = flags;
	return 0;
}

void tg_ns_release(struct tg_ns_child *n)
{
	if (!n->own_fds)
		return;
	close(n->ipcns_fd);
	close(n->netns_fd);
	n->ipcns_fd = n->netns_fd = -1;
	n->own_fds = false;
}

TG_CHILD_FN static int write_proc_self(const char *name, const char *val, struct tg_child_report *r)
{
	char path[64] = "/proc/self/";
	size_t l = strlen(path);
	for (size_t i = 0; name[i] && l + 1 < sizeof(path); i++)
		path[l++] = name[i];
	path[l] = '\0';
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(val);
	if (fd < 0 || write(fd, val, len) != (ssize_t)len) {
		tg_child_fail(r, "write", path, errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

TG_CHILD_FN int tg_ns_child_userns(const struct tg_ns_child *n, struct tg_child_report *r)
{
	if (!n->userns)
		return 0;
	/* A broker that changed its uid is not dumpable, which leaves our own
	 * /proc/self/ files to the real root: we could not write our maps.
	 * Dumpable only concerns this process until it execs init. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) {
		tg_child_fail(r, "set dumpable", "", errno);
		return -1;
	}
	/* setgroups must be denied before an unprivileged gid_map: dropping
	 * supplementary groups could otherwise widen access (negative ACLs). */
	if (write_proc_self("setgroups", "deny", r) < 0 ||
	    write_proc_self("uid_map", n->uid_map, r) < 0 ||
	    write_proc_self("gid_map", n->gid_map, r) < 0)
		return -1;
	return 0;
}

TG_CHILD_FN int tg_ns_child_enter(const struct tg_ns_child *n, struct tg_child_report *r)
{
	if (n->netns_fd >= 0 && setns(n->netns_fd, CLONE_NEWNET) < 0) {
		tg_child_fail(r, "join network namespace", "", errno);
		return -1;
	}
	if (n->ipcns_fd >= 0 && setns(n->ipcns_fd, CLONE_NEWIPC) < 0) {
		tg_child_fail(r, "join ipc namespace", "", errno);
		return -1;
	}
	/* After the cgroup join: /proc/self/cgroup shows "/" instead of the
	 * host's hierarchy, and the sandbox cannot name cgroups above its own. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		tg_child_fail(r, "new cgroup namespace", "", errno);
		return -1;
	}
	return 0;
}

TG_CHILD_FN int tg_ns_child_setup(const struct tg_ns_child *n, struct tg_child_report *r)
{
	if (sethostname(n->hostname, strlen(n->hostname)) < 0) {
		tg_child_fail(r, "sethostname", n->hostname, errno);
		return -1;
	}
	if (n->lo_up) {
		int e = tg_ns_lo_up();
		if (e < 0) {
			tg_child_fail(r, "bring lo up", "lo", -e);
			return -1;
		}
	}
	return 0;
}
