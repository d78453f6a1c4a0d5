/* SPDX-License-Identifier: Apache-2.0 */
/* The jailed agent of `toolgate run`: the policy's `agent` section becomes a
 * spawn spec whose only way out is this broker's socket. */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define JAIL_SOCKET "/run/toolgate/broker.sock"
#define JAIL_BINDIR "/run/toolgate/bin"
#define JAIL_CLIENT JAIL_BINDIR "/toolgate"
#define JAIL_LIB    "/run/toolgate/lib/libtoolgate.so.0"
#define JAIL_PYTHON "/run/toolgate/python"

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

/* The agent's environment: exactly the policy's, plus where the broker is
 * and the client on PATH. Nothing of the caller's own environment leaks in. */
static char **agent_env(const struct tg_agent_config *a)
{
	_cleanup_strv_free_ char **env = NULL;
	const char *path = env_get(a->envp, "PATH");
	for (size_t i = 0; a->envp && a->envp[i]; i++) {
		if (strncmp(a->envp[i], "PATH=", 5) == 0 ||
		    strncmp(a->envp[i], "TOOLGATE_URL=", 13) == 0)
			continue;
		if (tg_strv_push(&env, a->envp[i]) < 0)
			return NULL;
	}
	if (tg_strv_push_take(&env, tg_strdup_printf("PATH=%s:%s", JAIL_BINDIR,
	                                             path ? path : "/usr/bin:/bin")) < 0 ||
	    tg_strv_push(&env, "TOOLGATE_URL=ipc://" JAIL_SOCKET) < 0)
		return NULL;
#ifdef TG_SANITIZE
	/* A sanitizer build's `toolgate` client runs inside the jail too;
	 * LeakSanitizer needs ptrace, which the jail's seccomp filter denies.
	 * Test builds only. */
	if (tg_strv_push(&env, "ASAN_OPTIONS=detect_leaks=0") < 0)
		return NULL;
#endif
	/* The Python binding and its library, when the build provides them. */
	if (!env_get(a->envp, "PYTHONPATH") && tg_strv_push(&env, "PYTHONPATH=" JAIL_PYTHON) < 0)
		return NULL;
	return steal_pointer(&env);
}

/* Is `path` (inside the jail) backed by a bind of a host directory? Then the
 * host file at the mapped path is what the jail will see. */
static char *host_path_of(const struct tg_mount *mounts, size_t n, const char *jail_path)
{
	const struct tg_mount *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tg_mount *m = &mounts[i];
		size_t tl = strlen(m->target);
		if (m->type != TG_MOUNT_BIND || strncmp(jail_path, m->target, tl) != 0 ||
		    (jail_path[tl] != '/' && jail_path[tl] != '\0'))
			continue;
		if (!best || tl >= best_len) {
			best = m;
			best_len = tl;
		}
	}
	if (!best)
		return NULL;
	return tg_strdup_printf("%s%s", best->source, jail_path + best_len);
}

/* Resolve argv[0] the way a shell would inside the jail: a name without '/'
 * is searched on the jail's PATH, looking at the host files the jail's binds
 * expose. */
static char *resolve_command(const char *arg0, char *const *envp, const struct tg_mount *mounts,
                             size_t n_mounts)
{
	if (strchr(arg0, '/'))
		return arg0[0] == '/' ? strdup(arg0) : tg_strdup_printf("/workspace/%s", arg0);
	const char *path = env_get(envp, "PATH");
	_cleanup_free_ char *copy = strdup(path ? path : "/usr/bin:/bin");
	if (!copy)
		return NULL;
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (strcmp(dir, JAIL_BINDIR) == 0) {
			/* Our own bind: only the client lives there. */
			if (strcmp(arg0, "toolgate") == 0)
				return strdup(JAIL_CLIENT);
			continue;
		}
		if (dir[0] != '/')
			continue;
		_cleanup_free_ char *jail = tg_strdup_printf("%s/%s", dir, arg0);
		if (!jail)
			return NULL;
		/* Merged /usr: /bin is a link to usr/bin inside the jail too. */
		_cleanup_free_ char *host = host_path_of(mounts, n_mounts, jail);
		if (!host && (strncmp(dir, "/bin", 4) == 0 || strncmp(dir, "/sbin", 5) == 0)) {
			_cleanup_free_ char *usr = tg_strdup_printf("/usr%s", jail);
			host = usr ? host_path_of(mounts, n_mounts, usr) : NULL;
		}
		struct stat st;
		if (host && stat(host, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return steal_pointer(&jail);
	}
	return NULL;
}

int tg_broker_run_agent(struct tg_broker *b, char *const *argv, struct tg_agent_exit *ret,
                        struct tg_error **err)
{
	if (!argv || !argv[0])
		return tg_error_set(err, -EINVAL, "no agent command");
	if (!b->socket_path)
		return tg_error_set(
		        err, -EINVAL,
		        "the agent jail needs an ipc:// broker socket (it has no network)");
	struct tg_policy_set *set = tg_policy_set_get(b);
	const struct tg_agent_config *a = tg_policy_agent(set->policy);
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ struct tg_mount *mounts = NULL;
	int r;

	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl < 0) {
		r = tg_error_set(err, -errno, "readlink /proc/self/exe: %m");
		goto out_set;
	}
	self[sl] = '\0';

	/* The workspace, then every entry of agent.filesystem (a later one
	 * often masks an earlier one, e.g. a tmpfs over /workspace/.secrets, as
	 * for tools), then the socket, the client and its library. */
	mounts = calloc(a->n_fs + 8, sizeof(*mounts));
	if (!mounts) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto out_set;
	}
	size_t n = tg_broker_policy_mounts(b, a->workspace, a->fs, a->n_fs, mounts);
	/* The one way out: the broker's socket, as a single-file bind. */
	mounts[n++] = (struct tg_mount){
	        .type = TG_MOUNT_BIND, .source = b->socket_path, .target = JAIL_SOCKET};
	mounts[n++] = (struct tg_mount){
	        .type = TG_MOUNT_BIND, .source = self, .target = JAIL_CLIENT, .flags = TG_MOUNT_RO};
	/* Client library and Python binding live next to the toolgate binary. */
	char selfdir[PATH_MAX], lib[PATH_MAX + 32], py[PATH_MAX + 32];
	snprintf(selfdir, sizeof(selfdir), "%s", self);
	char *slash = strrchr(selfdir, '/');
	if (slash)
		*slash = '\0';
	snprintf(lib, sizeof(lib), "%s/libtoolgate.so.0", selfdir);
	snprintf(py, sizeof(py), "%s/python", selfdir);
	mounts[n++] = (struct tg_mount){.type = TG_MOUNT_BIND,
	                                .source = lib,
	                                .target = JAIL_LIB,
	                                .flags = TG_MOUNT_RO | TG_MOUNT_OPTIONAL};
	mounts[n++] = (struct tg_mount){.type = TG_MOUNT_BIND,
	                                .source = py,
	                                .target = JAIL_PYTHON,
	                                .flags = TG_MOUNT_RO | TG_MOUNT_OPTIONAL};

	env = agent_env(a);
	path = env ? resolve_command(argv[0], env, mounts, n) : NULL;
	if (!env) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto out_set;
	}
	if (!path) {
		r = tg_error_set(err, -ENOENT,
		                 "%s: not found on the agent's PATH (%s) among the files the "
		                 "policy's agent.filesystem grants",
		                 argv[0], env_get(env, "PATH"));
		goto out_set;
	}

	const struct tg_seccomp *filter = NULL;
	if ((r = tg_policy_set_filter(set, a->seccomp, &filter, err)) < 0) {
		tg_error_wrap(err, "agent seccomp");
		goto out_set;
	}

	struct tg_spawn_spec spec = {
	        .path = path,
	        .exec_fd = -1,
	        .argv = argv,
	        .envp = env,
	        .cwd = (b->workspace && a->workspace != TG_WS_NONE) ? "/workspace" : "/",
	        .hostname = "toolgate-agent",
	        /* /usr and friends come from the policy; /etc is generated. */
	        .root = TG_ROOT_PROC | TG_ROOT_DEV | TG_ROOT_TMP | TG_ROOT_ETC,
	        .mounts = mounts,
	        .n_mounts = n,
	        .stdin_fd = STDIN_FILENO,
	        .stdout_fd = STDOUT_FILENO,
	        .stderr_fd = STDERR_FILENO,
	        .limits =
	                {
	                        .memory_bytes = a->limits.memory_bytes,
	                        .pids = a->limits.pids,
	                        .cpu_millis = a->limits.cpu_millis,
	                        .file_size_bytes = a->limits.file_size_bytes,
	                        .nofile = 4096,
	                },
	        .seccomp = filter,
	        .netns_fd = -1,
	};
	struct tg_child *child = NULL;
	if ((r = tg_sandbox_spawn(b->sandbox, &spec, &child, err)) < 0) {
		tg_error_wrap(err, "agent jail");
		goto out_set;
	}
	pthread_mutex_lock(&b->agent_lock);
	b->agent = child;
	pthread_mutex_unlock(&b->agent_lock);

	/* agent.limits.timeout bounds the whole session. */
	uint64_t deadline = a->limits.timeout_ms ? tg_now_mono_ms() + a->limits.timeout_ms : 0;
	for (;;) {
		struct pollfd pfd = {.fd = tg_child_pidfd(child), .events = POLLIN};
		int wait_ms = -1;
		if (deadline) {
			uint64_t now = tg_now_mono_ms();
			wait_ms = now >= deadline ? 0 : (int)(deadline - now);
		}
		int pr = poll(&pfd, 1, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			tg_log(TG_LOG_WARN, "agent ran past agent.limits.timeout: killed");
			tg_child_kill(child);
			deadline = 0;
			continue;
		}
		break;
	}
	struct tg_child_exit ex = {0};
	r = tg_child_wait(child, &ex);
	pthread_mutex_lock(&b->agent_lock);
	b->agent = NULL;
	pthread_mutex_unlock(&b->agent_lock);
	tg_child_free(child);
	if (r < 0) {
		r = tg_error_set(err, r, "waiting for the agent: %m");
		goto out_set;
	}
	if (ex.exec_failed) {
		r = tg_error_set(err, -ex.exec_errno, "cannot execute %s in the jail: %m", path);
		goto out_set;
	}
	ret->exit_code = ex.exit_code;
	ret->signal = ex.signal;
	ret->oom = ex.oom;
	r = 0;
out_set:
	tg_policy_set_put(set);
	return r;
}

void tg_broker_signal_agent(struct tg_broker *b, int sig)
{
	pthread_mutex_lock(&b->agent_lock);
	if (b->agent)
		tg_child_signal(b->agent, sig);
	pthread_mutex_unlock(&b->agent_lock);
}
