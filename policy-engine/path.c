/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.c - path parameters. A value names something inside its parameter's
 * root (`within`, a sandbox path; /workspace maps to the policy's workspace
 * directory on the host, other roots to the same host path). It is resolved
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a descriptor of
 * the root, so neither "..", nor an absolute or relative symlink, nor a
 * /proc magic link can lead out of the root: the kernel refuses the walk
 * (EXDEV / ELOOP) instead of us trying to predict it lexically.
 *
 * The verdict keeps an O_PATH descriptor of what was found and the
 * canonical sandbox path it was found at (symlinks inside the root
 * resolved); argv names the private place where the broker binds that very
 * object for the tool (TG_PIN_DIR, see tg_verdict_path), so renaming things
 * after the check changes nothing the tool sees.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "internal.h"

#define RESOLVE_RETRIES 8

static int openat2_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
	        .flags = O_PATH | O_CLOEXEC,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	for (int i = 0; i < RESOLVE_RETRIES; i++) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a concurrent rename made ".." resolution unsafe; the
		 * kernel asks us to retry. */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

static int fd_path(int fd, char **ret)
{
	char proc[64], buf[PATH_MAX + 1];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	if (n >= (ssize_t)sizeof(buf) - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	char *s = strdup(buf);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* Record a resolved path: `anc` is the sandbox path of what fd is (the
 * object, or its deepest existing ancestor), `missing` what lies below it
 * when the object does not exist yet. */
static int add_path(struct tgp_paths *paths, const char *anc, const char *missing, int fd,
                    bool exists, bool writable)
{
	struct tg_verdict_path *items =
	        realloc(paths->items, (paths->n + 1) * sizeof(struct tg_verdict_path));
	if (!items)
		return -ENOMEM;
	paths->items = items;
	struct tg_verdict_path *vp = &items[paths->n];
	*vp = (struct tg_verdict_path){.fd = -1};
	/* The object keeps its name (tools look at extensions). */
	const char *name = strrchr(anc, '/');
	name = name && name[1] ? name + 1 : "root";
	vp->bind = tg_strdup_printf(TG_PIN_DIR "/%zu/%s", paths->n, name);
	if (exists) {
		vp->path = strdup(anc);
		vp->arg = vp->bind ? strdup(vp->bind) : NULL;
	} else {
		vp->path = tg_strdup_printf("%s%s%s", anc, strcmp(anc, "/") ? "/" : "", missing);
		vp->arg = vp->bind ? tg_strdup_printf("%s/%s", vp->bind, missing) : NULL;
	}
	if (!vp->path || !vp->bind || !vp->arg) {
		free(vp->path);
		free(vp->bind);
		free(vp->arg);
		return -ENOMEM;
	}
	vp->fd = fd;
	vp->exists = exists;
	vp->writable = writable;
	paths->n++;
	return 0;
}

void tgp_paths_clear(struct tgp_paths *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		free(paths->items[i].path);
		free(paths->items[i].bind);
		free(paths->items[i].arg);
		if (paths->items[i].fd >= 0)
			close(paths->items[i].fd);
	}
	free(paths->items);
	paths->items = NULL;
	paths->n = 0;
}

static int reason(char **ret_reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reason(char **ret_reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	*ret_reason = s;
	return TG_DENY_PATH;
}

/* Filesystems whose files are views of kernel or process state: the
 * broker's /proc/self is the broker. A root that reaches one (within: /,
 * a bind of /proc) must not hand its files to a tool. */
static const char *kernel_fs(int fd)
{
	static const struct {
		long magic;
		const char *name;
	} kfs[] = {
	        {PROC_SUPER_MAGIC, "procfs"},     {SYSFS_MAGIC, "sysfs"},
	        {CGROUP_SUPER_MAGIC, "cgroupfs"}, {CGROUP2_SUPER_MAGIC, "cgroup2fs"},
	        {DEBUGFS_MAGIC, "debugfs"},       {TRACEFS_MAGIC, "tracefs"},
	        {SECURITYFS_MAGIC, "securityfs"}, {BPF_FS_MAGIC, "bpffs"},
	        {DEVPTS_SUPER_MAGIC, "devpts"},   {NSFS_MAGIC, "nsfs"},
	        {EFIVARFS_MAGIC, "efivarfs"},     {PSTOREFS_MAGIC, "pstore"},
	        {SELINUX_MAGIC, "selinuxfs"},     {SMACK_MAGIC, "smackfs"},
	        {BINFMTFS_MAGIC, "binfmt_misc"},  {HUGETLBFS_MAGIC, "hugetlbfs"},
	        {0x62656570L, "configfs"},        {0x65735543L, "fusectl"},
	        {0x19800202L, "mqueue"},
	};
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return "an unknown filesystem";
	for (size_t i = 0; i < TG_ARRAY_SIZE(kfs); i++)
		if ((long)sf.f_type == kfs[i].magic)
			return kfs[i].name;
	return NULL;
}

/* C0, DEL and C1 (U+0080-U+009F, UTF-8 C2 80-9F): what the sanitizer
 * removes from output, where these names are put back. */
static bool has_control(const char *s)
{
	for (const unsigned char *q = (const unsigned char *)s; *q; q++)
		if (*q < 0x20 || *q == 0x7f || (q[0] == 0xc2 && q[1] >= 0x80 && q[1] <= 0x9f))
			return true;
	return false;
}

static bool is_dotdot(const char *seg, size_t n)
{
	return n == 2 && seg[0] == '.' && seg[1] == '.';
}

/* The value as a path relative to the root, or NULL when an absolute value
 * is outside `within`. */
static const char *relative_to(const char *within, const char *value)
{
	if (value[0] != '/')
		return value;
	size_t n = strlen(within);
	if (n == 1) /* within: / */
		return value + 1;
	if (strncmp(value, within, n) != 0 || (value[n] != '/' && value[n] != '\0'))
		return NULL;
	return value + n;
}

/* The root of prm: `rel` below its anchor, through no symlink at all (the
 * anchor is the operator's: the workspace, a filesystem entry's source, a
 * host directory named in the policy; what lies below it may be the
 * agent's). 0 and *ret, or -errno. */
static int open_root(const struct tg_policy *p, const struct tgp_param *prm, int *ret)
{
	const char *anchor = prm->anchor_kind == TGP_ANCHOR_WORKSPACE ? p->workspace : prm->anchor;
	if (!anchor)
		return -ENOENT;
	int a = open(anchor, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a < 0)
		return -errno;
	if (!prm->rel[0]) {
		*ret = a;
		return 0;
	}
	struct open_how how = {
	        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do
		fd = syscall(SYS_openat2, a, prm->rel, &how, sizeof(how));
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	int e = errno;
	close(a);
	if (fd < 0)
		return -e;
	*ret = (int)fd;
	return 0;
}

int tgp_resolve_path(const struct tg_policy *p, const struct tgp_param *prm, const char *value,
                     struct tgp_paths *paths, char **ret_path, char **ret_reason)
{
	const char *rel = relative_to(prm->within, value);
	if (!rel)
		return reason(ret_reason, "'%s' is not within %s", value, prm->within);
	while (*rel == '/')
		rel++;
	_cleanup_free_ char *relbuf = strdup(*rel ? rel : ".");
	if (!relbuf)
		return -ENOMEM;
	size_t rlen = strlen(relbuf);
	while (rlen > 1 && relbuf[rlen - 1] == '/')
		relbuf[--rlen] = '\0';

	_cleanup_close_ int root = -1;
	int r = open_root(p, prm, &root);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return reason(ret_reason, "its root %s is not available (%s)", prm->within,
		              r == -ELOOP ? "a symlink is on the way to it" : strerror(-r));

	/* Resolve the whole path; when it does not exist (and may not), resolve
	 * the longest existing prefix and accept the rest only if it is plain
	 * names: no "..", which could climb back out once created. */
	_cleanup_close_ int fd = -1;
	size_t cut = rlen; /* relbuf[0..cut) is what was resolved */
	bool exists = true;
	for (;;) {
		char saved = relbuf[cut];
		relbuf[cut] = '\0';
		fd = openat2_beneath(root, cut ? relbuf : ".");
		relbuf[cut] = saved;
		if (fd >= 0)
			break;
		if (fd == -EXDEV || fd == -ELOOP)
			return reason(ret_reason,
			              "'%s' escapes %s (through '..', a symlink or a magic link)",
			              value, prm->within);
		if (fd != -ENOENT || prm->must_exist)
			return reason(ret_reason, "'%s' %s", value,
			              fd == -ENOENT ? "does not exist" : strerror(-fd));
		exists = false;
		while (cut > 0 && relbuf[cut - 1] != '/')
			cut--;
		if (is_dotdot(relbuf + cut, strcspn(relbuf + cut, "/")))
			return reason(ret_reason, "'%s' escapes %s (through '..')", value,
			              prm->within);
		while (cut > 0 && relbuf[cut - 1] == '/')
			cut--;
	}
	const char *missing = relbuf + cut;
	while (*missing == '/')
		missing++;
	if (*missing) {
		/* openat2 says ENOENT for a dangling symlink on the way too
		 * ("l -> d/../.." while d does not exist): the first missing
		 * name must really be absent, or the tool would follow it. */
		char first[NAME_MAX + 1];
		size_t fl = strcspn(missing, "/");
		struct stat lst;
		if (fl > NAME_MAX)
			return reason(ret_reason, "'%s': a name is too long", value);
		memcpy(first, missing, fl);
		first[fl] = '\0';
		if (fstatat(fd, first, &lst, AT_SYMLINK_NOFOLLOW) == 0)
			return reason(ret_reason,
			              "'%s' does not exist, but '%s' on the way to it does (a "
			              "dangling symlink?)",
			              value, first);
		if (errno != ENOENT)
			return reason(ret_reason, "'%s' cannot be checked ('%s': %s)", value, first,
			              strerror(errno));
	}
	for (const char *q = missing; *q;) {
		size_t n = strcspn(q, "/");
		if (is_dotdot(q, n))
			return reason(ret_reason, "'%s' escapes %s (through '..')", value,
			              prm->within);
		q += n;
		while (*q == '/')
			q++;
	}

	struct stat st;
	if (fstat(fd, &st) < 0)
		return reason(ret_reason, "'%s': %s", value, strerror(errno));
	const char *kfs = kernel_fs(fd);
	if (kfs)
		return reason(ret_reason,
		              "'%s' is on %s: kernel state of the broker's host, "
		              "never handed to a tool",
		              value, kfs);
	if (!exists && !S_ISDIR(st.st_mode))
		return reason(ret_reason, "'%s' does not exist ('%.*s' is not a directory)", value,
		              (int)cut, relbuf);
	/* Sockets, FIFOs and devices stay usable through a read-only bind
	 * (connect, open for writing): a tool gets files and directories only. */
	if (exists && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return reason(ret_reason,
		              "'%s' is a %s: only regular files and directories are handed to "
		              "tools",
		              value,
		              S_ISSOCK(st.st_mode)   ? "socket"
		              : S_ISFIFO(st.st_mode) ? "FIFO"
		                                     : "device");
	if (exists && prm->pkind == TGP_KIND_FILE && !S_ISREG(st.st_mode))
		return reason(ret_reason, "'%s' is not a regular file", value);
	if (exists && prm->pkind == TGP_KIND_DIR && !S_ISDIR(st.st_mode))
		return reason(ret_reason, "'%s' is not a directory", value);

	/* The canonical path below the root, mapped back into the sandbox. */
	_cleanup_free_ char *root_real = NULL, *real = NULL;
	r = fd_path(root, &root_real);
	if (r == 0)
		r = fd_path(fd, &real);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return reason(ret_reason, "'%s' cannot be resolved (%s)", value, strerror(-r));
	size_t rl = strlen(root_real);
	if (strcmp(root_real, "/") == 0)
		rl = 0;
	if (strncmp(real, root_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
		return reason(ret_reason, "'%s' escapes %s", value, prm->within);
	const char *below = real + rl;
	const char *base = strcmp(prm->within, "/") == 0 ? "" : prm->within;
	_cleanup_free_ char *anc = tg_strdup_printf("%s%s", base, *base || *below ? below : "/");
	if (!anc)
		return -ENOMEM;
	/* Names on disk need not be UTF-8; argv, the audit record and the
	 * output (where the name replaces the pinned one) must be text. */
	if (!tgp_utf8_valid(anc, strlen(anc)))
		return reason(ret_reason, "'%s' resolves to a name that is not valid UTF-8", value);
	if (has_control(anc))
		return reason(ret_reason, "'%s' resolves to a name with control characters", value);
	if (has_control(missing))
		return reason(ret_reason, "'%s' has control characters", value);
	r = add_path(paths, anc, missing, fd, exists, prm->root_writable);
	if (r < 0)
		return r;
	fd = -1; /* owned by paths now */
	*ret_path = strdup(paths->items[paths->n - 1].path);
	if (!*ret_path)
		return -ENOMEM;
	return TG_DENY_NONE;
}
