/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.h - isolation primitives and the spawner that applies them.
 *
 * The shim takes a plain spawn spec (argv, env, mounts, limits, a compiled
 * seccomp filter, stdio) and starts the program in a fresh sandbox:
 *
 *   - new pid, mount, ipc, uts and net namespaces (net: only lo, up);
 *   - a minimal root built on a tmpfs and entered with pivot_root: the
 *     requested binds (read-only unless asked), /proc of the new pid
 *     namespace with its dangerous files masked, a small /dev, tmpfs /tmp;
 *   - a cgroup per child (v2 where its controllers are available, v1
 *     otherwise) with memory, pids and cpu limits, joined before anything
 *     else runs, so every byte and task of the setup is charged;
 *   - rlimits, every capability dropped (bounding and ambient sets included),
 *     no_new_privs, then the seccomp filter;
 *   - a tiny PID-1 init (toolgate-init) that reaps orphans, forwards signals
 *     and reports the program's real exit status.
 *
 * The caller is never fork()ed: the child is made with clone(CLONE_VM |
 * CLONE_VFORK) on its own stack, so spawning costs the same whether the
 * caller is 10 MiB or 10 GiB. The child inherits no descriptor but stdio.
 *
 * The shim knows no policy types and makes no decisions.
 *
 * Files: ns.c (namespaces, hostname, lo, user namespace when rootless),
 * mount.c + mount_child.c (root, binds, /proc, /dev), seccomp.c, caps.c,
 * cgroup.c + cgroup_spawn.c (v1 + v2), rlimit.c, landlock.c, pool.c (work
 * done ahead of spawns), sandbox.c (the context), init.c (the PID 1),
 * spawn.c (the orchestrator), child.c (wait, kill). docs/sandbox.md has
 * the why of each layer.
 */
#ifndef TG_SANDBOX_H
#define TG_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tg_error;
struct tg_sandbox;
struct tg_child;
struct tg_seccomp;

/* ---------------------------------------------------------------------------
 * The process-wide sandbox context.
 */
struct tg_sandbox_config {
	/* A private directory (mode 0700) the shim may use for staging mount
	 * points; it must exist. */
	const char *runtime_dir;
	/* Path of toolgate-init; NULL: next to /proc/self/exe, else
	 * TG_LIBEXECDIR. Opened once (O_PATH) and executed by descriptor. */
	const char *init_path;
	/* Name of this instance's cgroup under the shared "toolgate" parent,
	 * e.g. "session-1234-5678". Stale instances whose owner pid is gone are
	 * removed when a sandbox is opened. 1-64 of [A-Za-z0-9_-]; NULL picks
	 * "sandbox<N>". */
	const char *instance;
	/* Spawns prepared ahead by a background thread: fresh network+ipc
	 * namespace pairs and empty cgroups, so a spawn takes them instead of
	 * paying for their creation (each serves one sandbox only, never
	 * reused). 0 = default (4 of each), < 0 = no pool and no thread (every
	 * spawn makes its own). */
	int pool;
};

/*
 * Open the sandbox context: find the init binary, detect cgroup v2 / v1
 * controllers, create this instance's cgroups, remove stale ones.
 * Returns 0 and *ret, or a negative errno with *err set.
 */
int tg_sandbox_open(const struct tg_sandbox_config *cfg, struct tg_sandbox **ret,
                    struct tg_error **err);
/* Remove the instance's cgroups (all children must have been freed).
 * Accepts NULL. */
void tg_sandbox_free(struct tg_sandbox *sb);

/* Which cgroup layer is in use for each controller, for audit records:
 * e.g. "v1(memory,pids,cpu)" or "v2(memory,pids,cpu)". */
const char *tg_sandbox_cgroup_summary(const struct tg_sandbox *sb);

/* ---------------------------------------------------------------------------
 * seccomp filters, built once (e.g. per policy load) and shared by any
 * number of spawns. Foreign syscall ABIs (x32, i386 on x86-64) are killed.
 */
enum tg_seccomp_profile {
	TG_SECCOMP_PROFILE_DEFAULT = 0, /* deny-list, EPERM */
	TG_SECCOMP_PROFILE_STRICT,      /* allow-list, EPERM for the rest */
	TG_SECCOMP_PROFILE_ALLOW,       /* strict + extra allowed syscalls */
	TG_SECCOMP_PROFILE_DENY,        /* default + extra denied syscalls */
};

/* syscalls: NULL-terminated names for ALLOW/DENY, else NULL. */
int tg_seccomp_build(enum tg_seccomp_profile profile, char *const *syscalls,
                     struct tg_seccomp **ret, struct tg_error **err);
void tg_seccomp_free(struct tg_seccomp *f); /* accepts NULL */
/* "default", "strict", "allow", "deny". */
const char *tg_seccomp_name(const struct tg_seccomp *f);

/* ---------------------------------------------------------------------------
 * Spawning.
 */
enum tg_mount_type {
	TG_MOUNT_BIND = 0, /* source (host path, file or directory) on target */
	TG_MOUNT_TMPFS,    /* a fresh tmpfs of `size` bytes on target */
	/* The object open at source_fd (O_PATH is enough), file or directory,
	 * on target: exactly that object. Whoever can rename things on the way
	 * to it cannot swap in something else: if, at spawn time, the object
	 * cannot be bound as itself (it was renamed over, replaced or
	 * unlinked), the spawn fails with -ESTALE and nothing runs. */
	TG_MOUNT_BIND_FD,
};

#define TG_MOUNT_RO       (1u << 0) /* read-only (binds are remounted ro) */
#define TG_MOUNT_OPTIONAL (1u << 1) /* skip silently when the source is missing */
/* allow exec (default for binds; tmpfs is noexec unless this is set) */
#define TG_MOUNT_EXEC (1u << 2)

struct tg_mount {
	enum tg_mount_type type;
	const char *source; /* TG_MOUNT_BIND only */
	int source_fd;      /* TG_MOUNT_BIND_FD only */
	const char *target; /* absolute path inside the sandbox */
	unsigned flags;
	uint64_t size; /* tmpfs only; 0 = 64 MiB */
};

/* 0 means "no limit" for every field. */
struct tg_spawn_limits {
	uint64_t memory_bytes;
	uint64_t pids;
	uint32_t cpu_millis; /* 1000 = one CPU */
	uint64_t file_size_bytes;
	uint64_t nofile;     /* RLIMIT_NOFILE; 0 = 1024 */
	uint64_t cpu_time_s; /* RLIMIT_CPU backstop; 0 = none */
};

/* Standard layers of the root, on top of which spec->mounts are applied. */
#define TG_ROOT_PROC (1u << 0) /* /proc of the new pid namespace, read-only, masked */
#define TG_ROOT_DEV  (1u << 1) /* /dev: null zero full random urandom tty, fd links, shm */
#define TG_ROOT_TMP  (1u << 2) /* /tmp: tmpfs, 64 MiB unless a mount overrides it */
/* /etc: generated passwd/group/hosts/nsswitch.conf; read-only ld.so.cache, ssl/certs,
 * alternatives, localtime. Never the host's whole /etc (shadow, keys). */
#define TG_ROOT_ETC     (1u << 3)
#define TG_ROOT_USR     (1u << 4) /* /usr read-only + the host's merged-usr links */
#define TG_ROOT_DEFAULT (TG_ROOT_PROC | TG_ROOT_DEV | TG_ROOT_TMP | TG_ROOT_ETC | TG_ROOT_USR)

struct tg_spawn_spec {
	const char *path;     /* absolute path of the executable inside the sandbox */
	int exec_fd;          /* -1, or a descriptor (O_PATH is enough) of the file to execute
	                         instead of looking `path` up: the pinned binary. argv[0] is
	                         still argv[0]. */
	char *const *argv;    /* NULL-terminated */
	char *const *envp;    /* NULL-terminated, exactly the environment the program gets */
	const char *cwd;      /* inside the sandbox; NULL = "/" */
	const char *hostname; /* NULL = "toolgate" */
	unsigned root;        /* TG_ROOT_* layers */
	const struct tg_mount *mounts; /* applied in order after the root layers */
	size_t n_mounts;
	int stdin_fd;  /* -1: /dev/null */
	int stdout_fd; /* -1: /dev/null */
	int stderr_fd; /* -1: /dev/null */
	struct tg_spawn_limits limits;
	const struct tg_seccomp *seccomp; /* required; see tg_seccomp_build */
	int netns_fd;          /* -1: a new empty network namespace; else join this one */
	const char *etc_hosts; /* NULL, or lines appended to the generated /etc/hosts
	                          (TG_ROOT_ETC), e.g. "192.0.2.7\tdocs.example.com\n" */
	/* Prepare only: every layer is applied and init runs, but it starts no
	 * program until tg_child_start() brings argv and envp (those of the
	 * spec are ignored and may be NULL). Nothing else can start it. */
	bool deferred;
};

/* Which protections a child really got, for the audit record. */
struct tg_protections {
	char **items; /* NULL-terminated, e.g. "ns:pid", "seccomp:default", "caps:none",
	                 "no_new_privs", "cgroup:v1:memory=268435456" */
};

/*
 * Start spec->path in a new sandbox. Returns 0 and *ret, or a negative errno
 * with *err naming the step that failed ("mount /proc: Permission denied").
 * Fails closed: if a limit or layer in the spec cannot be applied, nothing
 * runs. Thread-safe: any number of threads may spawn at once.
 */
int tg_sandbox_spawn(struct tg_sandbox *sb, const struct tg_spawn_spec *spec, struct tg_child **ret,
                     struct tg_error **err);

/*
 * Start the program of a deferred child (spec->deferred) with argv
 * (argv[0] as the program sees it) and envp. Once. Its wall clock starts
 * here. Returns 0, or a negative errno with *err set (-EPIPE: the prepared
 * sandbox has ended meanwhile); the child is then only good for
 * tg_child_free. Thread-safe with respect to other children.
 */
int tg_child_start(struct tg_child *c, char *const *argv, char *const *envp, struct tg_error **err);

/* A pidfd of the child's init: becomes readable when the sandbox has ended
 * (the init exited, which takes every other process in it down). Owned by
 * the child. */
int tg_child_pidfd(const struct tg_child *c);
pid_t tg_child_pid(const struct tg_child *c);
const struct tg_protections *tg_child_protections(const struct tg_child *c);

/* Where the spawn's time went, for debug logs and bench/spawn_cost:
 * microseconds per phase, indexed by enum tg_spawn_phase. */
enum tg_spawn_phase {
	TG_PHASE_PREPARE = 0, /* parent: cgroups, plans, descriptors */
	TG_PHASE_CLONE,       /* clone3 until the child runs */
	TG_PHASE_CGROUP,      /* joining the cgroups */
	TG_PHASE_NAMESPACES,  /* pdeathsig, setsid, setns, cgroup namespace */
	TG_PHASE_ROOT,        /* mounts and pivot_root (or joining a prepared base) */
	TG_PHASE_PROCESS,     /* hostname, lo, rlimits, cwd, descriptors */
	TG_PHASE_LANDLOCK,
	TG_PHASE_CAPS,
	TG_PHASE_SECCOMP, /* no_new_privs and the filter */
	TG_PHASE_EXEC,    /* exec of toolgate-init until the caller resumes */
	TG_PHASE_COUNT,
};
const uint32_t *tg_child_timing(const struct tg_child *c); /* TG_PHASE_COUNT entries */
const char *tg_spawn_phase_name(enum tg_spawn_phase p);

/* Forward a signal to the program (through its init). */
int tg_child_signal(struct tg_child *c, int sig);
/* Kill the whole tree now, setsid'd and double-forked grandchildren
 * included (the pid namespace goes down with its init; the cgroup is killed
 * as a second net). Idempotent. */
int tg_child_kill(struct tg_child *c);

struct tg_child_exit {
	int exit_code;       /* the program's exit code; -1 when a signal ended it */
	int signal;          /* the signal that ended it, else 0 */
	bool killed;         /* tg_child_kill ended it */
	bool oom;            /* the memory limit was hit and the kernel killed in the tree */
	bool exec_failed;    /* the program could not be executed */
	int exec_errno;      /* why, when exec_failed */
	uint64_t wall_ms;    /* spawn to end */
	uint64_t cpu_ms;     /* user + system of the whole tree */
	uint64_t max_rss_kb; /* peak memory of the tree (cgroup peak where available) */
};

/* Wait for the sandbox to end (blocking), reap it and collect its exit and
 * usage. Call at most once. */
int tg_child_wait(struct tg_child *c, struct tg_child_exit *ret);

/* Kill (if still running), reap, remove its cgroup, free. Accepts NULL. */
void tg_child_free(struct tg_child *c);

#endif /* TG_SANDBOX_H */
