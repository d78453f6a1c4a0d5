/* SPDX-License-Identifier: Apache-2.0 */
/*
 * landlock.c - the filesystem again, by rule instead of by mount: a second
 * layer that holds if a mount were ever made writable or a path escaped
 * the root.
 *
 * Rules match the mounts: read, list and execute everywhere in the
 * sandbox's root; write only where a mount is writable (/tmp, /dev/shm,
 * writable binds and tmpfs of the spec) and to the device nodes of /dev;
 * the toolgate-init and exec_fd files (they live outside the root) may be
 * executed. Making character or block devices is never granted. Where the
 * kernel has them (ABI 6), abstract unix sockets and signals are scoped to
 * the sandbox: it cannot reach an abstract socket or a process outside its
 * own domain, even in a network namespace it shares. Network rights are not
 * handled here: egress is the network namespace's business.
 *
 * Where the kernel has no Landlock, the protections list says
 * "landlock:absent" and the other layers stand alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init_proto.h"
#include "internal.h"

/* Newer than the build host's headers may know. */
#define LL_TRUNCATE                   (1ull << 14) /* ABI 3 */
#define LL_IOCTL_DEV                  (1ull << 15) /* ABI 5 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL               (1ull << 1)  /* ABI 6 */

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_READ \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FILE                                                      \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | \
	 LANDLOCK_ACCESS_FS_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV)
#define LL_WRITE                                                                                 \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                         \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |                          \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                            \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER | \
	 LL_TRUNCATE)

static uint64_t handled_for(int abi)
{
	uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */
	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LL_TRUNCATE;
	if (abi >= 5)
		h |= LL_IOCTL_DEV;
	return h;
}

int tg_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v > 0 ? (int)v : 0;
}

static int add_rule(struct tg_landlock_plan *p, const char *path, uint64_t access)
{
	if (p->n_rules == p->cap_rules) {
		size_t cap = p->cap_rules ? p->cap_rules * 2 : 8;
		struct tg_landlock_rule *n = realloc(p->rules, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->rules = n;
		p->cap_rules = cap;
	}
	char *s = strdup(path);
	if (!s)
		return -ENOMEM;
	p->rules[p->n_rules].path = s;
	p->rules[p->n_rules].access = access & p->handled;
	p->n_rules++;
	return 0;
}

static bool targets(const struct tg_spawn_spec *spec, const char *t)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].target && strcmp(spec->mounts[i].target, t) == 0)
			return true;
	return false;
}

int tg_landlock_prepare(int abi, const struct tg_spawn_spec *spec, struct tg_landlock_plan *ret,
                        char ***prot)
{
	struct tg_landlock_plan p = {.abi = abi, .exec_fd = spec->exec_fd >= 0};
	if (abi <= 0) {
		*ret = p;
		return tg_strv_push(prot, "landlock:absent");
	}
	p.handled = handled_for(abi);
	int r = add_rule(&p, "/", LL_READ);
	if (r == 0 && (spec->root & TG_ROOT_DEV) && !targets(spec, "/dev"))
		r = add_rule(&p, "/dev",
		             LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV);
	if (r == 0 && (spec->root & TG_ROOT_DEV) && !targets(spec, "/dev") &&
	    !targets(spec, "/dev/shm"))
		r = add_rule(&p, "/dev/shm", LL_READ | LL_WRITE);
	if (r == 0 && (spec->root & TG_ROOT_TMP) && !targets(spec, "/tmp"))
		r = add_rule(&p, "/tmp", LL_READ | LL_WRITE);
	for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
		const struct tg_mount *m = &spec->mounts[i];
		if (m->flags & TG_MOUNT_RO)
			continue;
		struct stat st;
		bool dir = m->type == TG_MOUNT_TMPFS ||
		           (m->type == TG_MOUNT_BIND && m->source && stat(m->source, &st) == 0 &&
		            S_ISDIR(st.st_mode)) ||
		           (m->type == TG_MOUNT_BIND_FD && fstat(m->source_fd, &st) == 0 &&
		            S_ISDIR(st.st_mode));
		r = add_rule(&p, m->target, dir ? LL_READ | LL_WRITE : LL_FILE);
	}
	if (r == 0) {
		char note[32];
		snprintf(note, sizeof(note), "landlock:v%d", abi);
		r = tg_strv_push(prot, note);
	}
	if (r < 0) {
		tg_landlock_plan_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void tg_landlock_plan_free(struct tg_landlock_plan *p)
{
	for (size_t i = 0; i < p->n_rules; i++)
		free(p->rules[i].path);
	free(p->rules);
	p->rules = NULL;
	p->n_rules = p->cap_rules = 0;
}

TG_CHILD_FN static int rule_fd(int ruleset, int fd, uint64_t access)
{
	struct ll_path_beneath pb = {.allowed_access = access, .parent_fd = fd};
	return (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
}

TG_CHILD_FN int tg_landlock_child_apply(const struct tg_landlock_plan *p, int init_fd,
                                        struct tg_child_report *r)
{
	if (p->abi <= 0)
		return 0;
	struct ll_ruleset_attr attr = {.handled_access_fs = p->handled};
	size_t size = sizeof(uint64_t);
	if (p->abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0) {
		tg_child_fail(r, "landlock ruleset", "", errno);
		return -1;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		int fd = open(p->rules[i].path, O_PATH | O_CLOEXEC);
		/* An optional mount that was skipped: nothing to allow. */
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || rule_fd(rs, fd, p->rules[i].access) < 0) {
			tg_child_fail(r, "landlock rule", p->rules[i].path, errno);
			if (fd >= 0)
				close(fd);
			close(rs);
			return -1;
		}
		close(fd);
	}
	/* toolgate-init and a pinned exec_fd are files outside the root: they
	 * may be run (and read, for a #! script's interpreter), nothing else. */
	uint64_t run = (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE) & p->handled;
	if (rule_fd(rs, init_fd, run) < 0 ||
	    (p->exec_fd && rule_fd(rs, TG_INIT_EXEC_FD, run) < 0)) {
		tg_child_fail(r, "landlock rule", "toolgate-init / exec_fd", errno);
		close(rs);
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
		tg_child_fail(r, "landlock restrict", "", errno);
		close(rs);
		return -1;
	}
	close(rs);
	return 0;
}
