/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation by size, numbered like logrotate: "<log>.1" is the newest
 * rotated file, higher numbers are older. The chain does not restart: the
 * first record of the new file has the next seq and, as prev, the hash of
 * the last record of "<log>.1".
 *
 * The steps are ordered so that a crash at any point loses nothing and
 * leaves no name pointing at the wrong content:
 *
 *   1. create "<log>.rotating" (the new, empty file) and lock it;
 *   2. shift "<log>.N" -> "<log>.N+1", highest first, never replacing a
 *      file (RENAME_NOREPLACE); the oldest beyond `keep` are deleted;
 *   3. link "<log>" as "<log>.1" (the content now has both names);
 *   4. rename "<log>.rotating" over "<log>" (atomic: "<log>" always exists);
 *   5. fsync the directory.
 *
 * A crash between 3 and 4 leaves "<log>" and "<log>.1" the same file; the
 * next writer sees that and removes the extra name (tg_audit_rotate_repair).
 * A crash between 2 and 3 leaves a gap in the numbers, which changes no
 * order: a higher number is still an older file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

char *tg_audit_rotated_name(const char *path, unsigned n)
{
	return tg_strdup_printf("%s.%u", path, n);
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

int tg_audit_rotated_numbers(const char *path, unsigned **ret, size_t *ret_n)
{
	_cleanup_free_ char *d = strdup(path), *b = strdup(path);
	if (!d || !b)
		return -ENOMEM;
	const char *dir = dirname(d), *base = basename(b);
	size_t bl = strlen(base);
	DIR *dh = opendir(dir);
	if (!dh)
		return -errno;
	_cleanup_free_ unsigned *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		const char *name = de->d_name;
		if (strncmp(name, base, bl) != 0 || name[bl] != '.')
			continue;
		const char *num = name + bl + 1;
		/* digits only, no leading zero: exactly the names we make */
		if (num[0] < '1' || num[0] > '9' || strspn(num, "0123456789") != strlen(num) ||
		    strlen(num) > 9)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			unsigned *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = (unsigned)strtoul(num, NULL, 10);
	}
	closedir(dh);
	if (r < 0)
		return r;
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_unsigned);
	*ret = steal_pointer(&v);
	*ret_n = n;
	return 0;
}

int tg_audit_rotated_files(const char *path, char ***ret, struct tg_error **err)
{
	_cleanup_free_ unsigned *nums = NULL;
	size_t n = 0;
	int r = tg_audit_rotated_numbers(path, &nums, &n);
	if (r < 0)
		return tg_error_set(err, r, "%s: listing rotated files: %m", path);
	_cleanup_strv_free_ char **v = calloc(n + 2, sizeof(char *));
	if (!v)
		return tg_error_set(err, -ENOMEM, "out of memory");
	/* oldest (highest number) first, the live file last */
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = tg_audit_rotated_name(path, nums[n - 1 - i])))
			return tg_error_set(err, -ENOMEM, "out of memory");
	if (!(v[n] = strdup(path)))
		return tg_error_set(err, -ENOMEM, "out of memory");
	*ret = steal_pointer(&v);
	return 0;
}

void tg_audit_rotate_repair(const char *path, int fd)
{
	_cleanup_free_ char *tmp = tg_strdup_printf("%s%s", path, TG_AUDIT_ROTATING_SUFFIX);
	_cleanup_free_ char *one = tg_audit_rotated_name(path, 1);
	if (!tmp || !one)
		return;
	/* Only a writer holding the log's lock rotates, and we hold it now: a
	 * new file left under the temporary name is from a crash. */
	if (unlink(tmp) == 0)
		tg_log(TG_LOG_WARN, "audit log %s: removed %s left by an interrupted rotation",
		       path, tmp);
	struct stat a, b;
	if (fstat(fd, &a) == 0 && lstat(one, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlink(one) == 0)
		tg_log(TG_LOG_WARN,
		       "audit log %s: undid an interrupted rotation (%s was a second name of "
		       "the live log)",
		       path, one);
}

static int shift(const char *path, unsigned keep, struct tg_error **err)
{
	/* the run of existing files from .1 up: only those move */
	unsigned m = 0;
	for (;; m++) {
		_cleanup_free_ char *name = tg_audit_rotated_name(path, m + 1);
		if (!name)
			return tg_error_set(err, -ENOMEM, "out of memory");
		struct stat st;
		if (lstat(name, &st) < 0)
			break;
		if (m + 1 == UINT_MAX / 2)
			return tg_error_set(err, -EMLINK, "%s: too many rotated files", path);
	}
	if (keep > 0 && m >= keep) {
		for (unsigned i = m; i >= keep; i--) {
			_cleanup_free_ char *name = tg_audit_rotated_name(path, i);
			if (!name)
				return tg_error_set(err, -ENOMEM, "out of memory");
			if (unlink(name) < 0 && errno != ENOENT)
				return tg_error_set(err, -errno, "rotation: removing %s: %m", name);
			tg_log(TG_LOG_INFO,
			       "audit log %s: removed the oldest rotated file %s (keep %u)", path,
			       name, keep);
		}
		m = keep - 1;
	}
	for (unsigned i = m; i >= 1; i--) {
		_cleanup_free_ char *from = tg_audit_rotated_name(path, i);
		_cleanup_free_ char *to = tg_audit_rotated_name(path, i + 1);
		if (!from || !to)
			return tg_error_set(err, -ENOMEM, "out of memory");
		/* never replace a file: a name that is taken means our view of
		 * the directory is wrong, and an old log must not be lost */
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0)
			return tg_error_set(err, -errno, "rotation: %s -> %s: %m", from, to);
	}
	return 0;
}

int tg_audit_rotate(const char *path, unsigned keep, int *ret_fd, struct tg_error **err)
{
	_cleanup_free_ char *tmp = tg_strdup_printf("%s%s", path, TG_AUDIT_ROTATING_SUFFIX);
	_cleanup_free_ char *one = tg_audit_rotated_name(path, 1);
	if (!tmp || !one)
		return tg_error_set(err, -ENOMEM, "out of memory");
	unlink(tmp);
	_cleanup_close_ int fd =
	        open(tmp, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return tg_error_set(err, -errno, "rotation: %s: %m", tmp);
	int r = tg_audit_lock_fd(fd);
	if (r < 0) {
		unlink(tmp);
		return tg_error_set(err, r, "rotation: locking %s: %m", tmp);
	}
	if ((r = shift(path, keep, err)) < 0) {
		unlink(tmp);
		return r;
	}
	if (link(path, one) < 0) {
		r = tg_error_set(err, -errno, "rotation: %s -> %s: %m", path, one);
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = tg_error_set(err, -errno, "rotation: %s -> %s: %m", tmp, path);
		unlink(one);
		unlink(tmp);
		return r;
	}
	if ((r = tg_audit_fsync_dir_of(path)) < 0)
		tg_log(TG_LOG_WARN, "audit log %s: rotated, but the directory fsync failed: %s",
		       path, strerror(-r));
	*ret_fd = steal_fd(&fd);
	return 0;
}
