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
 * The argv receives the canonical sandbox path of what was found (symlinks
 * inside the root resolved), and the verdict keeps an O_PATH descriptor of
 * it for the broker (see tg_verdict_path).
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
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

static int add_path(struct tgp_paths *paths, const char *path, int fd, bool exists)
{
	struct tg_verdict_path *items =
	        realloc(paths->items, (paths->n + 1) * sizeof(struct tg_verdict_path));
	if (!items)
		return -ENOMEM;
	paths->items = items;
	items[paths->n].path = strdup(path);
	if (!items[paths->n].path)
		return -ENOMEM;
	items[paths->n].fd = fd;
	items[paths->n].exists = exists;
	paths->n++;
	return 0;
}

void tgp_paths_clear(struct tgp_paths *paths)
{
	for (size_t i = 0; i < paths->n; i++) {
		free(paths->items[i].path);
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

int tgp_resolve_path(const struct tgp_param *prm, const char *value, struct tgp_paths *paths,
                     char **ret_path, char **ret_reason)
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

	_cleanup_close_ int root = open(prm->within_host, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return reason(ret_reason, "its root %s is not available (%s)", prm->within,
		              strerror(errno));

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
	for (const char *p = missing; *p;) {
		size_t n = strcspn(p, "/");
		if (is_dotdot(p, n))
			return reason(ret_reason, "'%s' escapes %s (through '..')", value,
			              prm->within);
		p += n;
		while (*p == '/')
			p++;
	}

	struct stat st;
	if (fstat(fd, &st) < 0)
		return reason(ret_reason, "'%s': %s", value, strerror(errno));
	if (!exists && !S_ISDIR(st.st_mode))
		return reason(ret_reason, "'%s' does not exist ('%.*s' is not a directory)", value,
		              (int)cut, relbuf);
	if (exists && prm->pkind == TGP_KIND_FILE && !S_ISREG(st.st_mode))
		return reason(ret_reason, "'%s' is not a regular file", value);
	if (exists && prm->pkind == TGP_KIND_DIR && !S_ISDIR(st.st_mode))
		return reason(ret_reason, "'%s' is not a directory", value);

	/* The canonical path below the root, mapped back into the sandbox. */
	_cleanup_free_ char *root_real = NULL, *real = NULL;
	int r = fd_path(root, &root_real);
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
	_cleanup_free_ char *out = NULL;
	if (*missing)
		out = tg_strdup_printf("%s%s/%s", base, below, missing);
	else
		out = tg_strdup_printf("%s%s", base, *base || *below ? below : "/");
	if (!out)
		return -ENOMEM;
	r = add_path(paths, out, fd, exists);
	if (r < 0)
		return r;
	fd = -1; /* owned by paths now */
	*ret_path = steal_pointer(&out);
	return TG_DENY_NONE;
}
