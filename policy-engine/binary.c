/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pinned binaries. At load each tool's command[0] is opened (O_PATH), checked
 * to be a regular executable file and hashed; the broker later executes that
 * very descriptor (execveat/fexecve), so what runs is what was checked and
 * recorded. decide() refuses a call when the file changed since: modified in
 * place (size, mtime, ctime of the pinned inode) or replaced (the path now
 * names another inode) - an attacker who can write the binary must not get
 * the policy's blessing for new code, and the audit hash must stay true.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static void close_fd(void *p)
{
	close((int)(intptr_t)p);
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Reopen the pinned inode for reading without a second path lookup. */
static int reopen_rdonly(int pathfd, const char *path, const struct stat *st)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	/* No /proc: open by path and make sure it is the same inode. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st2;
	if (fstat(fd, &st2) < 0 || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

void tgp_pin_binary(struct tgp_ctx *c, const struct tgp_node *n, const char *key,
                    struct tgp_tool *t)
{
	struct tg_policy *p = c->p;
	const char *path = t->exe;
	if (path[0] != '/') {
		tgp_error(c, n, key, "the program must be an absolute path, got '%s'", path);
		return;
	}
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		tgp_error(c, n, key, "%s: %s", path, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		tgp_error(c, n, key, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		tgp_error(c, n, key, "%s: not a regular file", path);
		return;
	}
	if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
		tgp_error(c, n, key, "%s: not executable", path);
		return;
	}

	/* Tools often share a binary; hash each inode once per load. */
	const char *known = NULL;
	for (size_t i = 0; i < p->n_tools && !known; i++) {
		const struct tgp_tool *o = &p->tools[i];
		if (o != t && o->exec_fd >= 0 && o->dev == st.st_dev && o->ino == st.st_ino &&
		    o->size == st.st_size && same_ts(&o->mtime, &st.st_mtim) &&
		    same_ts(&o->ctime, &st.st_ctim))
			known = o->sha256;
	}
	if (known) {
		memcpy(t->sha256, known, sizeof(t->sha256));
	} else {
		_cleanup_close_ int rfd = reopen_rdonly(fd, path, &st);
		int r = rfd < 0 ? rfd : tg_sha256_fd_hex(rfd, t->sha256);
		if (r < 0) {
			tgp_error(c, n, key, "%s: cannot read to hash it: %s", path, strerror(-r));
			return;
		}
	}
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime = st.st_mtim;
	t->ctime = st.st_ctim;
	t->exec_fd = steal_fd(&fd);
	if (tgp_arena_defer(&p->arena, close_fd, (void *)(intptr_t)t->exec_fd) < 0) {
		t->exec_fd = -1;
		c->oom = true;
	}
}

int tgp_binary_changed(const struct tgp_tool *t, char **ret_reason)
{
	struct stat st;
	const char *why = NULL;
	int err = 0;
	/* The path first: a removed or replaced file also changes the pinned
	 * inode's ctime (its link count), and "replaced" says more. */
	if (t->exec_fd < 0)
		why = "was not pinned at load";
	else if (stat(t->exe, &st) < 0)
		err = errno, why = "no longer exists at its path";
	else if (st.st_dev != t->dev || st.st_ino != t->ino)
		why = "was replaced since the policy was loaded";
	else if (fstat(t->exec_fd, &st) < 0)
		err = errno, why = "cannot be checked";
	else if (st.st_size != t->size || !same_ts(&st.st_mtim, &t->mtime) ||
	         !same_ts(&st.st_ctim, &t->ctime))
		why = "was modified since the policy was loaded";
	if (!why)
		return 0;
	char *reason = err ? tg_strdup_printf("binary %s %s (%s)", t->exe, why, strerror(err))
	                   : tg_strdup_printf("binary %s %s", t->exe, why);
	if (!reason)
		return -ENOMEM;
	*ret_reason = reason;
	return 1;
}
