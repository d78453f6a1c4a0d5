/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - what the files of sandbox-shim share and nobody else sees.
 *
 * Every kernel concern has a parent-side step ("prepare": allocate, format,
 * open, decide) and a child-side step ("child_*": raw syscalls only). The
 * child runs in a clone(CLONE_VM | CLONE_VFORK) child that shares the
 * caller's memory while the calling thread sleeps, but not its other
 * threads, which keep running: a child-side step must not take a lock,
 * allocate, touch stdio or run a signal handler of the caller. Child-side
 * steps report failures by filling a struct tg_child_report (errno + step
 * name), never by printing.
 */
#ifndef TG_SANDBOX_INTERNAL_H
#define TG_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"
#include "tg.h"

/*
 * Child-side functions run on a stack the sanitizers know nothing about
 * (mmap'ed by the spawner), in a process that dies by exec or _exit.
 * ASan would poison shadow for frames that never return (exec), warn about
 * an unknown stack in __asan_handle_no_return, and use the calling
 * thread's fake stack; so child-side code is not instrumented with ASan.
 * noinline keeps it from being folded into instrumented callers.
 */
#define TG_CHILD_FN __attribute__((no_sanitize_address, noinline))

/* ---------------------------------------------------------------------------
 * Child failure report, in memory shared with the parent.
 */
struct tg_child_report {
	int err;          /* positive errno; 0 = no failure */
	const char *step; /* static string naming the step */
	char what[256];   /* the object of the step (a path, a controller) */
};

void tg_child_fail(struct tg_child_report *r, const char *step, const char *what,
                   int err) TG_CHILD_FN;

/* ---------------------------------------------------------------------------
 * cgroup.c: v2 / v1 detection, the toolgate parent, instance and per-spawn
 * cgroups. All paths are absolute and derived from mountinfo, so the code
 * runs unchanged against a fake tree in a temp dir (unit tests).
 */
enum tg_cg_ctrl {
	TG_CG_MEMORY = 0,
	TG_CG_PIDS,
	TG_CG_CPU,
	TG_CG_CPUACCT, /* v1 only: on v2, cpu.stat is core */
	TG_CG_FREEZER, /* v1 only: on v2, cgroup.kill / cgroup.freeze are core */
	TG_CG_NCTRL,
};

enum tg_cg_version {
	TG_CG_ABSENT = 0,
	TG_CG_V1,
	TG_CG_V2,
};

#define TG_CG_V2_LEAF "toolgate-broker" /* where the broker moves itself on v2 */

struct tg_cg_hier {
	enum tg_cg_version version;
	unsigned ctrls; /* bit (1u << tg_cg_ctrl) per controller served here */
	char *self;     /* the cgroup our process counts as its own (absolute) */
	char *parent;   /* <self>/toolgate, shared by every instance */
	char *inst;     /* <parent>/<pid>.<starttime>.<name>, NULL until created */
};

struct tg_cgroups {
	struct tg_cg_hier h[TG_CG_NCTRL];
	size_t n;
	int of[TG_CG_NCTRL];    /* index into h, or -1 when the controller is absent */
	bool fake;              /* unit tests: knob files are plain files, created on write */
	char *why[TG_CG_NCTRL]; /* why a detected controller is unusable (not ours to write) */
	atomic_uint seq;
	char summary[96];
};

/* Parse mountinfo and /proc/self/cgroup texts and fill *ret (zeroed by the
 * caller). v2 is chosen per controller when it is listed in the
 * cgroup.controllers of the cgroup we would create ours under. */
int tg_cg_detect(const char *mountinfo, const char *self_cgroup, bool fake, struct tg_cgroups *ret,
                 struct tg_error **err);
/* Create the toolgate parents and this instance's cgroups (enabling v2
 * controllers on the way), after removing stale instances. */
int tg_cg_open_instance(struct tg_cgroups *cg, const char *name, struct tg_error **err);
/* Remove stale instances (owner process gone) under every toolgate parent.
 * Returns the number removed. */
int tg_cg_remove_stale(struct tg_cgroups *cg);
/* Remove this instance (and the toolgate parents if they are empty). */
void tg_cg_close(struct tg_cgroups *cg);
void tg_cg_free(struct tg_cgroups *cg);
enum tg_cg_version tg_cg_version_of(const struct tg_cgroups *cg, enum tg_cg_ctrl c);

struct tg_cg_dir {
	int hier;
	char *path;
	int procs_fd; /* v1 "tasks", v2 "cgroup.procs", O_WRONLY: the child writes "0" */
	int dir_fd;   /* v2: the directory, for clone3(CLONE_INTO_CGROUP); else -1 */
};

struct tg_cg_child {
	struct tg_cg_dir d[TG_CG_NCTRL];
	size_t n;
	int into_fd; /* the v2 directory to clone into, or -1 */
};

/* Create the cgroups of one spawn (or take over *spare, made ahead by
 * tg_cg_spare_create; it is emptied either way) and apply limits. Fails
 * closed with an error naming the missing controller when a limit cannot
 * be enforced. */
int tg_cg_child_create(struct tg_cgroups *cg, const struct tg_spawn_limits *lim,
                       struct tg_cg_child *spare, struct tg_cg_child *ret, char ***prot,
                       struct tg_error **err);
/* An empty spawn cgroup in every hierarchy, for the pool. */
int tg_cg_spare_create(struct tg_cgroups *cg, struct tg_cg_child *ret);
/* Child side: join every cgroup of the spawn (but the v2 one when
 * into_done: clone3 created the child in it). */
int tg_cg_child_join(const struct tg_cg_child *cc, bool into_done,
                     struct tg_child_report *r) TG_CHILD_FN;
/* Close the join descriptors (parent, after the child has started). */
void tg_cg_child_close_fds(struct tg_cg_child *cc);
/* Kill every process of the spawn's cgroups (v2 cgroup.kill, v1 freezer). */
int tg_cg_child_kill(struct tg_cgroups *cg, struct tg_cg_child *cc);
struct tg_cg_usage {
	bool oom;
	bool have_peak, have_cpu;
	uint64_t peak_bytes;
	uint64_t cpu_ns;
};
void tg_cg_child_usage(struct tg_cgroups *cg, const struct tg_cg_child *cc,
                       struct tg_cg_usage *ret);
/* Shared by cgroup.c and cgroup_spawn.c. Knob files of dir; in fake mode
 * writes create them. */
int tg_cg_knob_write(const struct tg_cgroups *cg, const char *dir, const char *knob,
                     const char *val);
int tg_cg_knob_read_key(const char *dir, const char *knob, const char *key, uint64_t *ret);
int tg_cg_knob_read_u64(const char *dir, const char *knob, uint64_t *ret);
/* rmdir a cgroup, waiting while the kernel still holds it. */
int tg_cg_remove_dir(const struct tg_cgroups *cg, const char *dir);
/* Kill every process in one cgroup (v2 cgroup.kill, v1 freezer). */
void tg_cg_kill_dir(const struct tg_cgroups *cg, const struct tg_cg_hier *h, const char *dir);
/* rmdir the spawn's cgroups (retrying while the kernel still holds them). */
int tg_cg_child_remove(struct tg_cgroups *cg, struct tg_cg_child *cc);

/* ---------------------------------------------------------------------------
 * mount.c: the root of the sandbox. The parent turns the spec into a flat
 * list of operations with every path precomputed (relative to the staging
 * root); the child replays it with *at() calls that never follow a symlink
 * (a writable bind cannot redirect a later mount), then pivots.
 */
struct tg_host_entry {
	const char *name; /* relative to /, e.g. "bin", "etc/ld.so.cache", "proc/keys" */
	char *link;       /* the host's symlink target, or NULL */
	bool dir;
};

struct tg_host_layout {
	struct tg_host_entry usr[8]; /* bin, sbin, lib, lib32, lib64, libx32 */
	size_t n_usr;
	struct tg_host_entry etc[16]; /* read-only pieces of the host's /etc */
	size_t n_etc;
	struct tg_host_entry proc_mask[16]; /* /proc entries hidden from the sandbox */
	size_t n_proc_mask;
};

int tg_mount_scan_host(struct tg_host_layout *ret);
void tg_mount_host_free(struct tg_host_layout *h);

enum tg_mop_kind {
	TG_MOP_BIND = 0, /* open_tree(src) + mount_setattr(attr) + move_mount onto dst */
	TG_MOP_FS,       /* mount(src, dst, fstype, flags, data) */
	TG_MOP_ATTR,     /* mount_setattr(dst, attr), not recursive */
	TG_MOP_MKDIR,
	TG_MOP_MKFILE,
	TG_MOP_SYMLINK, /* src is the link text */
	TG_MOP_MKNOD,
	TG_MOP_WRITE, /* src is the content, len bytes */
};

struct tg_mop {
	enum tg_mop_kind kind;
	const char *src;
	const char *dst; /* relative to the staging root; "" is the root itself */
	const char *fstype;
	const char *data;
	unsigned long flags; /* MS_* for FS, MOUNT_ATTR_* for BIND and ATTR */
	mode_t mode;
	dev_t dev; /* MKNOD: the device; BIND with `same`: the source's device */
	ino_t ino; /* BIND with `same`: the source's inode */
	bool same; /* BIND: the tree must be that very object (dev, ino), else ESTALE */
	size_t len;
	bool optional; /* skip silently when the source is gone */
	bool ours;     /* create op whose path lies only on our own tmpfs */
	bool base;     /* part of the spec-independent base (pool.c builds it ahead) */
};

struct tg_mount_plan {
	const char *staging; /* borrowed from the sandbox */
	struct tg_mop *ops;
	size_t n_ops, cap_ops;
	char **strings; /* owned strings the ops point into */
	/* The base ops are those of the default root (TG_ROOT_DEFAULT, no
	 * layer replaced by a spec mount): a pooled base namespace fits. */
	bool base_default;
	/* parent-side bookkeeping */
	bool in_base;
	struct tg_plan_node *nodes;
	size_t n_nodes, cap_nodes;
};

int tg_mount_plan_build(const struct tg_sandbox *sb, const struct tg_spawn_spec *spec,
                        struct tg_mount_plan *ret, char ***prot, struct tg_error **err);
void tg_mount_plan_free(struct tg_mount_plan *p);
/* Child side. base_fd < 0: in the child's new mount namespace, make /
 * private, build the root, pivot_root into it. base_fd >= 0: a pooled base
 * namespace (tg_mount_make_base): join it and apply the non-base ops;
 * trees is scratch space for n_ops descriptors. */
int tg_mount_child(const struct tg_mount_plan *p, int base_fd, int *trees,
                   struct tg_child_report *r) TG_CHILD_FN;
/* In the pool thread: build the base ops of p in a new mount namespace,
 * pivot into it, return to orig_mntns; *ret is the new namespace's fd. */
int tg_mount_make_base(const struct tg_mount_plan *p, int orig_mntns, int *ret);

/* ---------------------------------------------------------------------------
 * pool.c: fresh namespaces and empty cgroups made ahead of spawns by a
 * background thread. Every take_* returns false when the pool is empty (or
 * NULL); the caller then makes its own.
 */
struct tg_pool;
struct tg_mount_plan;
int tg_pool_start(unsigned target, struct tg_cgroups *cg, const struct tg_mount_plan *base,
                  struct tg_pool **ret, struct tg_error **err);
void tg_pool_stop(struct tg_pool *p);
bool tg_pool_take_ns(struct tg_pool *p, int *ret_net, int *ret_ipc);
bool tg_pool_take_cg(struct tg_pool *p, struct tg_cg_child *ret);
bool tg_pool_take_base(struct tg_pool *p, int *ret_mntns);
/* A spawn is done with the kernel locks: refill now. */
void tg_pool_kick(struct tg_pool *p);
/* Close fd on the pool's thread (now, here, without a pool or when its
 * queue is full). For a namespace whose teardown is slow. */
void tg_pool_close_later(struct tg_pool *p, int fd);
/* Is this spawn cgroup one of the pool's spares (tests)? */
bool tg_pool_owns_cg(struct tg_pool *p, const char *path);

/* ---------------------------------------------------------------------------
 * ns.c: namespaces, hostname, lo.
 */
struct tg_ns_child {
	int netns_fd; /* -1: the clone creates one */
	int ipcns_fd; /* -1: the clone creates one */
	bool own_fds; /* the fds came from the pool: close them after the spawn */
	bool lo_up;   /* the child must bring lo up (fresh netns from clone) */
	bool userns;  /* rootless: a new user namespace, uid/gid 0 mapped to ours */
	char uid_map[32], gid_map[32];
	const char *hostname;
};

/* In the pool thread: a fresh net+ipc pair with lo up, then back to the
 * original namespaces. */
int tg_ns_make_pair(int orig_net, int orig_ipc, int *ret_net, int *ret_ipc);
/* Decide how the spawn gets its namespaces and the clone flags. userns:
 * we are not root, so a user namespace comes first (and no pool). */
int tg_ns_prepare(struct tg_pool *pool, bool userns, const struct tg_spawn_spec *spec,
                  struct tg_ns_child *ret, unsigned long *ret_flags, char ***prot);
/* Child side, first of all when rootless: map uid/gid 0 to our own. */
int tg_ns_child_userns(const struct tg_ns_child *n, struct tg_child_report *r) TG_CHILD_FN;
void tg_ns_release(struct tg_ns_child *n);
/* Child side, before the root is built: join the prepared namespaces and
 * make a cgroup namespace rooted at the spawn's cgroup. */
int tg_ns_child_enter(const struct tg_ns_child *n, struct tg_child_report *r) TG_CHILD_FN;
/* Child side, after pivot_root: hostname, lo. */
int tg_ns_child_setup(const struct tg_ns_child *n, struct tg_child_report *r) TG_CHILD_FN;
/* Bring lo up in the calling thread's network namespace. */
int tg_ns_lo_up(void) TG_CHILD_FN;

/* ---------------------------------------------------------------------------
 * seccomp.c
 */
struct sock_filter;
struct tg_seccomp {
	enum tg_seccomp_profile profile;
	struct sock_filter *insns;
	unsigned short len;
};
int tg_seccomp_child_install(const struct tg_seccomp *f, struct tg_child_report *r) TG_CHILD_FN;

/* ---------------------------------------------------------------------------
 * caps.c
 */
struct _cap_struct;
struct tg_caps_plan {
	struct _cap_struct *empty; /* cap_t with every set empty */
	int last_cap;
};
int tg_caps_prepare(int last_cap, struct tg_caps_plan *ret, char ***prot);
void tg_caps_plan_free(struct tg_caps_plan *p);
int tg_caps_child_drop(const struct tg_caps_plan *p, struct tg_child_report *r) TG_CHILD_FN;
int tg_caps_last_cap(void);

/* ---------------------------------------------------------------------------
 * rlimit.c
 */
struct tg_rlimit_plan {
	struct {
		int resource;
		struct rlimit lim;
	} r[6];
	size_t n;
};
int tg_rlimit_prepare(const struct tg_spawn_limits *lim, struct tg_rlimit_plan *ret, char ***prot);
int tg_rlimit_child_apply(const struct tg_rlimit_plan *p, struct tg_child_report *r) TG_CHILD_FN;

/* ---------------------------------------------------------------------------
 * landlock.c: a second filesystem layer matching the mounts.
 */
struct tg_landlock_plan {
	int abi;          /* 0: not applied (the kernel has no Landlock) */
	uint64_t handled; /* every filesystem right this ABI knows */
	bool exec_fd;     /* the spawn passes TG_INIT_EXEC_FD */
	struct tg_landlock_rule {
		char *path; /* inside the sandbox */
		uint64_t access;
	} * rules;
	size_t n_rules, cap_rules;
};
int tg_landlock_abi(void);
int tg_landlock_prepare(int abi, const struct tg_spawn_spec *spec, struct tg_landlock_plan *ret,
                        char ***prot);
void tg_landlock_plan_free(struct tg_landlock_plan *p);
/* Child side, after the root and the descriptors are in place (init_fd:
 * where toolgate-init's descriptor now is). */
int tg_landlock_child_apply(const struct tg_landlock_plan *p, int init_fd,
                            struct tg_child_report *r) TG_CHILD_FN;

/* ---------------------------------------------------------------------------
 * The sandbox context (sandbox.c) and a child (child.c).
 */
struct tg_sandbox {
	char *runtime_dir;
	char *staging;  /* <runtime_dir>/root: the mount point the root is built on */
	int init_fd;    /* toolgate-init, O_PATH */
	int null_fd;    /* /dev/null, O_RDWR */
	int self_pidfd; /* a pidfd of this process: the child checks we are alive */
	int last_cap;
	int landlock_abi;
	bool userns; /* not root: every sandbox gets a user namespace (rootless) */
	struct tg_host_layout host;
	struct tg_cgroups cg;
	struct tg_mount_plan base; /* the default root, for the pool to build ahead */
	struct tg_pool *pool;
};

struct tg_child {
	struct tg_sandbox *sb;
	pid_t pid;
	int pidfd;
	int status_fd; /* read end of the init's status pipe */
	int start_fd;  /* deferred: our end of init's start socket (non-blocking), else -1 */
	uint64_t start_ns;
	bool killed, reaped, waited;
	int mntns_fd; /* keeps the mount namespace until free: teardown off the wait path */
	uint32_t timing[TG_PHASE_COUNT];
	struct tg_cg_child cg;
	struct tg_protections prot;
};

/* Raw syscall wrappers glibc 2.36 lacks. */
int tg_pidfd_open(pid_t pid, unsigned flags);
int tg_pidfd_send_signal(int pidfd, int sig);

#endif /* TG_SANDBOX_INTERNAL_H */
