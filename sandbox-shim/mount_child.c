/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_child.c - replaying a mount plan (mount.c) in the child, or in the
 * pool's thread for a prepared base. Raw system calls only; every path is
 * resolved below the root being built with RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH, so a symlink planted in a writable bind cannot redirect
 * a later mount or mkdir out of the tree or onto the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---------------------------------------------------------------------------
 * Child side.
 */

TG_CHILD_FN static void fail_at(struct tg_child_report *r, const char *step, const char *rel,
                                int err)
{
	char what[sizeof(r->what)];
	size_t n = 0;
	what[n++] = '/';
	for (const char *s = rel; *s && n + 1 < sizeof(what); s++)
		what[n++] = *s;
	what[n] = '\0';
	tg_child_fail(r, step, what, err);
}

/* O_PATH descriptor of rel below root, never through a symlink. */
TG_CHILD_FN static int open_beneath(int root, const char *rel, unsigned long flags)
{
	if (rel[0] == '\0')
		rel = ".";
	struct open_how how = {
	        .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW | flags,
	        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
}

/* Open rel's parent directory; *base points at the last component. */
TG_CHILD_FN static int open_parent(int root, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	if (!slash) {
		*base = rel;
		return open_beneath(root, "", O_DIRECTORY);
	}
	char parent[1024];
	size_t n = (size_t)(slash - rel);
	if (n >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, rel, n);
	parent[n] = '\0';
	*base = slash + 1;
	return open_beneath(root, parent, O_DIRECTORY);
}

/* A detached copy of a bind's source with its flags already set (the mount
 * never appears writable; AT_RECURSIVE: submounts of the source too).
 * -1 with errno on failure; -2 when an optional source is gone. */
TG_CHILD_FN static int bind_tree(const struct tg_mop *op)
{
	/* `same`: the object itself, never a symlink that replaced it, and
	 * nothing mounted below it on the host (a /proc in a chroot tree). */
	int mfd = open_tree(AT_FDCWD, op->src,
	                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
	                            (op->same ? AT_SYMLINK_NOFOLLOW : AT_RECURSIVE));
	if (mfd < 0 && op->same && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
		errno = ESTALE; /* it moved since the plan was made */
		return -1;
	}
	if (mfd < 0)
		return op->optional && errno == ENOENT ? -2 : -1;
	if (op->same) {
		struct stat st;
		if (fstat(mfd, &st) < 0 || st.st_dev != op->dev || st.st_ino != op->ino) {
			close(mfd);
			errno = ESTALE;
			return -1;
		}
	}
	/* Private: a copy of a shared host mount would otherwise stay its peer,
	 * and mounts made under it in the sandbox would appear on the host. */
	struct mount_attr attr = {.attr_set = op->flags, .propagation = MS_PRIVATE};
	if (mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
		int e = errno;
		close(mfd);
		errno = e;
		return -1;
	}
	return mfd;
}

/* Attach a detached tree onto dst (closes it). */
TG_CHILD_FN static int attach_tree(int root, const struct tg_mop *op, int mfd)
{
	int tfd = open_beneath(root, op->dst, 0);
	int r = tfd < 0 ? -1
	                : move_mount(mfd, "", tfd, "",
	                             MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;
	if (tfd >= 0)
		close(tfd);
	close(mfd);
	errno = e;
	return r;
}

TG_CHILD_FN static int op_fs(int root, const struct tg_mop *op)
{
	int tfd = open_beneath(root, op->dst, O_DIRECTORY);
	if (tfd < 0)
		return -1;
	int r = fchdir(tfd);
	if (r == 0)
		r = mount(op->src, ".", op->fstype, op->flags, op->data);
	int e = errno;
	close(tfd);
	errno = e;
	return r;
}

TG_CHILD_FN static int op_attr(int root, const struct tg_mop *op)
{
	int tfd = op->dst[0] ? open_beneath(root, op->dst, 0) : root;
	if (tfd < 0)
		return -1;
	struct mount_attr attr = {.attr_set = op->flags};
	int r = mount_setattr(tfd, "", AT_EMPTY_PATH, &attr, sizeof(attr));
	int e = errno;
	if (tfd != root)
		close(tfd);
	errno = e;
	return r;
}

TG_CHILD_FN static int op_create(int root, const struct tg_mop *op)
{
	const char *base = op->dst;
	/* Only our own tmpfs lies on the way (and only our own links, which
	 * the plan never traverses): resolve from the root directly. */
	int pfd = op->ours ? root : open_parent(root, op->dst, &base);
	if (pfd < 0)
		return -1;
	int r = 0;
	switch (op->kind) {
	case TG_MOP_MKDIR:
		r = mkdirat(pfd, base, op->mode);
		break;
	case TG_MOP_SYMLINK:
		r = symlinkat(op->src, pfd, base);
		break;
	case TG_MOP_MKNOD:
		r = mknodat(pfd, base, op->mode, op->dev);
		break;
	case TG_MOP_MKFILE:
	case TG_MOP_WRITE: {
		int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, op->mode);
		if (fd < 0) {
			r = -1;
			break;
		}
		for (size_t off = 0; op->kind == TG_MOP_WRITE && off < op->len;) {
			ssize_t n = write(fd, op->src + off, op->len - off);
			if (n <= 0) {
				r = -1;
				break;
			}
			off += (size_t)n;
		}
		int e = errno;
		close(fd);
		errno = e;
		break;
	}
	default:
		errno = EINVAL;
		r = -1;
	}
	if (r < 0 && errno == EEXIST && op->kind != TG_MOP_WRITE)
		r = 0;
	int e = errno;
	if (pfd != root)
		close(pfd);
	errno = e;
	return r;
}

/* One op against the root being built. tree: for a bind, its detached
 * tree when opened already (-2: optional and gone), else -1. */
TG_CHILD_FN static int run_op(int root, const struct tg_mop *op, int tree, const char **step)
{
	switch (op->kind) {
	case TG_MOP_BIND:
		*step = op->same ? "bind the checked object" : "bind mount";
		if (tree == -1)
			tree = bind_tree(op);
		if (tree == -2)
			return 0;
		return tree < 0 ? -1 : attach_tree(root, op, tree);
	case TG_MOP_FS:
		*step = "mount";
		return op_fs(root, op);
	case TG_MOP_ATTR:
		*step = "make read-only";
		return op_attr(root, op);
	default:
		*step = "create mount point";
		return op_create(root, op);
	}
}

/* Enter the new root; stack the old one on it and detach it, so no path
 * leads back to the host's filesystem. */
TG_CHILD_FN static int pivot(int root)
{
	if (fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -1;
	return 0;
}

/*
 * In the pool's thread: make a finished base read-only before handing it
 * out. A child cloned by another thread while this thread had one of the
 * base's files open for writing holds a copy of that descriptor until it
 * execs; the mount stays busy for a read-only switch until then. Retrying
 * here (off every caller's path) guarantees no stray writer is left, so the
 * spawn that takes the base can switch it back and forth at will.
 */
static int seal_base(int root)
{
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	for (int i = 0; i < 2000; i++) {
		if (mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof(ro)) == 0)
			return 0;
		if (errno != EBUSY)
			return -1;
		struct timespec ts = {.tv_nsec = 1000000};
		nanosleep(&ts, NULL);
	}
	errno = EBUSY;
	return -1;
}

/* Build a root in the calling task's (new, private) mount namespace: the
 * base ops only, or all of them. */
TG_CHILD_FN static int build(const struct tg_mount_plan *p, bool base_only,
                             struct tg_child_report *r)
{
	/* Nothing we mount may propagate back to the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		tg_child_fail(r, "make / private", "/", errno);
		return -1;
	}
	/* Root tmpfs: no setuid, no executables of its own; device nodes are
	 * allowed on it for /dev (it ends read-only). */
	if (mount("tmpfs", p->staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=4m") < 0) {
		tg_child_fail(r, "mount root tmpfs", p->staging, errno);
		return -1;
	}
	int root = open(p->staging, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		tg_child_fail(r, "open root", p->staging, errno);
		return -1;
	}
	for (size_t i = 0; i < p->n_ops; i++) {
		if (base_only && !p->ops[i].base)
			continue;
		const char *step = "";
		if (run_op(root, &p->ops[i], -1, &step) < 0) {
			fail_at(r, step, p->ops[i].dst, errno);
			close(root);
			return -1;
		}
	}
	if (base_only && seal_base(root) < 0) {
		tg_child_fail(r, "make the base read-only", p->staging, errno);
		close(root);
		return -1;
	}
	if (pivot(root) < 0) {
		tg_child_fail(r, "pivot_root", p->staging, errno);
		close(root);
		return -1;
	}
	close(root);
	return 0;
}

/* Finish a pooled base: open the bind sources while the host's tree is
 * still ours to see, join the base, and apply the spawn's own ops. */
TG_CHILD_FN static int finish_base(const struct tg_mount_plan *p, int base_fd, int *trees,
                                   struct tg_child_report *r)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		trees[i] = -1;
		if (p->ops[i].base || p->ops[i].kind != TG_MOP_BIND)
			continue;
		trees[i] = bind_tree(&p->ops[i]);
		if (trees[i] == -1) {
			fail_at(r, "bind mount", p->ops[i].dst, errno);
			return -1;
		}
	}
	/* The base was pivoted into its root when it was built: joining it
	 * makes that our root and cwd. */
	if (setns(base_fd, CLONE_NEWNS) < 0) {
		tg_child_fail(r, "join the prepared mount namespace", "", errno);
		return -1;
	}
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		tg_child_fail(r, "open root", "/", errno);
		return -1;
	}
	/* The pool sealed it read-only; ours to fill now (the last op seals
	 * it again). */
	struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
	if (mount_setattr(root, "", AT_EMPTY_PATH, &rw, sizeof(rw)) < 0) {
		tg_child_fail(r, "make the root writable", "/", errno);
		close(root);
		return -1;
	}
	for (size_t i = 0; i < p->n_ops; i++) {
		if (p->ops[i].base)
			continue;
		const char *step = "";
		if (run_op(root, &p->ops[i], trees[i], &step) < 0) {
			fail_at(r, step, p->ops[i].dst, errno);
			close(root);
			return -1;
		}
	}
	close(root);
	return 0;
}

TG_CHILD_FN int tg_mount_child(const struct tg_mount_plan *p, int base_fd, int *trees,
                               struct tg_child_report *r)
{
	if (base_fd >= 0)
		return finish_base(p, base_fd, trees, r);
	return build(p, false, r);
}

int tg_mount_make_base(const struct tg_mount_plan *p, int orig_mntns, int *ret)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	int fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	struct tg_child_report rep = {0};
	int r = fd < 0 ? -errno : (build(p, true, &rep) < 0 ? -rep.err : 0);
	/* Going back must not fail silently: the thread would go on working
	 * inside a sandbox's root. */
	if (setns(orig_mntns, CLONE_NEWNS) < 0)
		abort();
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret = fd;
	return 0;
}
