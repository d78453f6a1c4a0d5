/* SPDX-License-Identifier: Apache-2.0 */
/* The broker's private runtime directory (socket, sandbox staging), and the
 * removal of those a crashed broker left behind. Each live directory holds
 * a `lock` file its broker keeps flock()ed for its whole life: a lock that
 * can be taken means its owner is gone (the kernel drops locks of dead
 * processes), whatever pid reuse did since. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

/* A directory without a lock file may be one being created right now. */
#define UNLOCKED_GRACE_S 60
#define FRESH_GRACE_S    5

static bool is_session_name(const char *name)
{
	size_t n = strlen(name);
	if (n != 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Remove what a broker puts in its runtime directory: files, and
 * directories (sandbox staging) holding at most one more level. Never
 * follows a symlink. */
static int remove_tree(int parent, const char *name, int depth)
{
	_cleanup_close_ int fd =
	        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type == DT_DIR && depth > 0)
			remove_tree(fd, e->d_name, depth - 1);
		else
			unlinkat(fd, e->d_name, e->d_type == DT_DIR ? AT_REMOVEDIR : 0);
	}
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static void remove_stale(int base_fd, const char *base, const char *name)
{
	_cleanup_close_ int dir =
	        openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return;
	/* A directory made in the last seconds may belong to a broker that is
	 * between creating its lock file and locking it: leave it alone. */
	struct stat st;
	if (fstat(dir, &st) < 0 || time(NULL) - st.st_mtime < FRESH_GRACE_S)
		return;
	_cleanup_close_ int lock = openat(dir, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (lock >= 0) {
		if (flock(lock, LOCK_EX | LOCK_NB) < 0)
			return; /* its broker is alive */
	} else if (time(NULL) - st.st_mtime < UNLOCKED_GRACE_S) {
		return;
	}
	int r = remove_tree(base_fd, name, 2);
	if (r < 0)
		tg_log(TG_LOG_WARN, "stale runtime directory %s/%s: cannot remove: %s", base, name,
		       strerror(-r));
	else
		tg_log(TG_LOG_INFO, "removed stale runtime directory %s/%s", base, name);
}

int tg_runtime_dir_create(const char *base, const char *session, char **ret_dir, int *ret_lock,
                          struct tg_error **err)
{
	int r = tg_mkdir_p(base, 0711);
	if (r < 0)
		return tg_error_set(err, r, "create %s: %m", base);
	_cleanup_close_ int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (base_fd < 0)
		return tg_error_set(err, -errno, "open %s: %m", base);
	/* Someone else's directory (e.g. /tmp/toolgate-UID made in advance by
	 * another user) could swap our socket for theirs: refuse it. */
	struct stat st;
	if (fstat(base_fd, &st) < 0)
		return tg_error_set(err, -errno, "stat %s: %m", base);
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return tg_error_set(err, -EPERM,
		                    "%s: must be owned by uid %u and not writable by others "
		                    "(owner %u, mode %04o)",
		                    base, (unsigned)geteuid(), (unsigned)st.st_uid,
		                    (unsigned)(st.st_mode & 07777));

	/* Left behind by brokers that crashed (or were SIGKILLed). */
	int scan = dup(base_fd);
	DIR *d = scan >= 0 ? fdopendir(scan) : NULL;
	if (!d && scan >= 0)
		close(scan);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (is_session_name(e->d_name) && strcmp(e->d_name, session) != 0)
			remove_stale(base_fd, base, e->d_name);
	if (d)
		closedir(d);

	_cleanup_free_ char *dir = tg_strdup_printf("%s/%s", base, session);
	if (!dir)
		return tg_error_set(err, -ENOMEM, "out of memory");
	/* Private: the socket inside is reachable only by us (and what we
	 * bind it into). */
	if (mkdir(dir, 0700) < 0)
		return tg_error_set(err, -errno, "create %s: %m", dir);
	_cleanup_free_ char *lock_path = tg_strdup_printf("%s/lock", dir);
	int lock = lock_path ? open(lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (lock >= 0)
			close(lock);
		rmdir(dir);
		return tg_error_set(err, r, "lock %s: %m", dir);
	}
	*ret_dir = steal_pointer(&dir);
	*ret_lock = lock;
	return 0;
}

void tg_runtime_dir_remove(const char *dir, int lock)
{
	if (!dir)
		return;
	_cleanup_free_ char *lock_path = tg_strdup_printf("%s/lock", dir);
	if (lock_path)
		unlink(lock_path);
	if (lock >= 0)
		close(lock);
	if (rmdir(dir) < 0 && errno != ENOENT)
		tg_log(TG_LOG_WARN, "cannot remove %s: %m", dir);
}
