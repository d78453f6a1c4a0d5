/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - the process-wide sandbox context: what every spawn shares and
 * is worth doing once (finding and opening the init, reading the host's
 * layout, cgroup detection and the instance's cgroups, the spawn pool).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"

int tg_pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

int tg_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* cfg->init_path, else toolgate-init next to our executable, else the
 * installed one. */
static int open_init(const char *path, int *ret, struct tg_error **err)
{
	_cleanup_free_ char *found = NULL;
	if (!path) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			found = tg_strdup_printf("%s/toolgate-init", dirname(exe));
			if (found && access(found, X_OK) != 0) {
				free(found);
				found = NULL;
			}
		}
		if (!found)
			found = strdup(TG_LIBEXECDIR "/toolgate-init");
		if (!found)
			return tg_error_set(err, -ENOMEM, "out of memory");
		path = found;
	}
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return tg_error_set(err, -errno, "toolgate-init (%s): %m", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return tg_error_set(err, -errno, "toolgate-init (%s): %m", path);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return tg_error_set(err, -EACCES, "toolgate-init (%s): not an executable file",
		                    path);
	/* It runs as uid 0 with the sandbox's privileges before dropping them:
	 * nobody but root may be able to replace it. */
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return tg_error_set(err, -EPERM, "toolgate-init (%s): not owned by root", path);
	if (st.st_mode & 0022)
		return tg_error_set(err, -EPERM, "toolgate-init (%s): writable by group or others",
		                    path);
	*ret = steal_fd(&fd);
	return 0;
}

static bool valid_instance(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

static int open_cgroups(struct tg_sandbox *sb, const char *instance, struct tg_error **err)
{
	_cleanup_free_ char *mountinfo = NULL, *self = NULL;
	int r = tg_read_file("/proc/self/mountinfo", 4 << 20, &mountinfo, NULL);
	if (r == 0)
		r = tg_read_file("/proc/self/cgroup", 1 << 20, &self, NULL);
	if (r < 0)
		return tg_error_set(err, r, "reading cgroup layout: %m");
	r = tg_cg_detect(mountinfo, self, false, &sb->cg, err);
	if (r < 0)
		return r;
	tg_cg_remove_stale(&sb->cg);
	static atomic_uint counter;
	char name[80];
	if (instance)
		snprintf(name, sizeof(name), "%s", instance);
	else
		snprintf(name, sizeof(name), "sandbox%u", atomic_fetch_add(&counter, 1));
	return tg_cg_open_instance(&sb->cg, name, err);
}

int tg_sandbox_open(const struct tg_sandbox_config *cfg, struct tg_sandbox **ret,
                    struct tg_error **err)
{
	if (!cfg || !cfg->runtime_dir || cfg->runtime_dir[0] != '/')
		return tg_error_set(err, -EINVAL, "sandbox: runtime_dir must be an absolute path");
	if (cfg->instance && !valid_instance(cfg->instance))
		return tg_error_set(err, -EINVAL,
		                    "sandbox: instance \"%s\": use 1-64 of [A-Za-z0-9_-]",
		                    cfg->instance);
	struct stat st;
	if (stat(cfg->runtime_dir, &st) < 0)
		return tg_error_set(err, -errno, "sandbox: runtime_dir %s: %m", cfg->runtime_dir);
	if (!S_ISDIR(st.st_mode))
		return tg_error_set(err, -ENOTDIR, "sandbox: runtime_dir %s: not a directory",
		                    cfg->runtime_dir);

	struct tg_sandbox *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return tg_error_set(err, -ENOMEM, "out of memory");
	sb->init_fd = sb->null_fd = sb->self_pidfd = -1;
	int r = -ENOMEM;
	/* One mount point per context: two contexts may share a runtime_dir. */
	static atomic_uint contexts;
	sb->runtime_dir = strdup(cfg->runtime_dir);
	sb->staging = tg_strdup_printf("%s/root-%d-%u", cfg->runtime_dir, (int)getpid(),
	                               atomic_fetch_add(&contexts, 1));
	if (!sb->runtime_dir || !sb->staging) {
		tg_error_set(err, r, "out of memory");
		goto fail;
	}
	/* Only a mount point: every child mounts its own tmpfs on it, in its
	 * own mount namespace. */
	if (mkdir(sb->staging, 0700) < 0 && errno != EEXIST) {
		r = tg_error_set(err, -errno, "mkdir %s: %m", sb->staging);
		goto fail;
	}
	r = open_init(cfg->init_path, &sb->init_fd, err);
	if (r < 0)
		goto fail;
	sb->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
	sb->self_pidfd = tg_pidfd_open(getpid(), 0);
	if (sb->null_fd < 0 || sb->self_pidfd < 0) {
		r = tg_error_set(err, -errno, "%s: %m",
		                 sb->null_fd < 0 ? "/dev/null" : "pidfd_open");
		goto fail;
	}
	sb->last_cap = tg_caps_last_cap();
	/* Not root: every sandbox starts with a user namespace of its own. */
	sb->userns = geteuid() != 0;
	sb->landlock_abi = tg_landlock_abi();
	r = tg_mount_scan_host(&sb->host);
	if (r < 0) {
		tg_error_set(err, r, "reading the host layout: %m");
		goto fail;
	}
	r = open_cgroups(sb, cfg->instance, err);
	if (r < 0)
		goto fail;
	if (cfg->pool >= 0) {
		/* The default root, for the pool to build ahead of spawns. */
		static char *const no_argv[] = {"", NULL};
		struct tg_spawn_spec def = {.path = "/",
		                            .exec_fd = -1,
		                            .argv = no_argv,
		                            .root = TG_ROOT_DEFAULT,
		                            .netns_fd = -1};
		r = tg_mount_plan_build(sb, &def, &sb->base, NULL, err);
		if (r < 0)
			goto fail;
		/* Rootless, a prepared base would belong to the wrong user
		 * namespace: the pool then only makes cgroups. */
		r = tg_pool_start(cfg->pool ? (unsigned)cfg->pool : 4, &sb->cg,
		                  sb->userns ? NULL : &sb->base, &sb->pool, err);
		if (r < 0)
			goto fail;
	}
	*ret = sb;
	return 0;
fail:
	tg_error_wrap(err, "sandbox");
	tg_sandbox_free(sb);
	return r;
}

void tg_sandbox_free(struct tg_sandbox *sb)
{
	if (!sb)
		return;
	tg_pool_stop(sb->pool);
	tg_mount_plan_free(&sb->base);
	tg_cg_close(&sb->cg);
	tg_cg_free(&sb->cg);
	tg_mount_host_free(&sb->host);
	if (sb->init_fd >= 0)
		close(sb->init_fd);
	if (sb->null_fd >= 0)
		close(sb->null_fd);
	if (sb->self_pidfd >= 0)
		close(sb->self_pidfd);
	/* The mount point we made in the caller's runtime_dir (nothing is ever
	 * mounted on it in the caller's namespace). */
	if (sb->staging)
		rmdir(sb->staging);
	free(sb->staging);
	free(sb->runtime_dir);
	free(sb);
}

const char *tg_sandbox_cgroup_summary(const struct tg_sandbox *sb)
{
	return sb->cg.summary;
}
