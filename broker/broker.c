/* SPDX-License-Identifier: Apache-2.0 */
/* The broker's lifecycle: load the policy, open the audit log and the
 * sandbox context, serve, reload atomically, drain, and leave nothing
 * behind. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "egress.h"
#include "internal.h"
#include "prepared.h"

#define DEFAULT_WORKERS 16
#define DEFAULT_AUDIT   "toolgate-audit.jsonl"
/* Tools with a sandbox prepared ahead (TOOLGATE_PREPARED), and how long an
 * unused one is kept. */
#define DEFAULT_PREPARED_TOOLS 8
#define PREPARED_IDLE_MS       60000

/* ---------------------------------------------------------------------------
 * Policy sets: a policy plus what is built from it, swapped atomically.
 */

static int policy_set_new(struct tg_policy *p, struct tg_policy_set **ret)
{
	struct tg_policy_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->filters_lock, NULL);
	s->policy = p;
	*ret = s;
	return 0;
}

struct tg_policy_set *tg_policy_set_get(struct tg_broker *b)
{
	pthread_mutex_lock(&b->lock);
	struct tg_policy_set *s = b->current;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&b->lock);
	return s;
}

void tg_policy_set_put(struct tg_policy_set *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n_filters; i++)
		tg_seccomp_free(s->filters[i].filter);
	free(s->filters);
	pthread_mutex_destroy(&s->filters_lock);
	tg_policy_unref(s->policy);
	free(s);
}

static enum tg_seccomp_profile profile_of(enum tg_seccomp_mode m)
{
	switch (m) {
	case TG_SECCOMP_STRICT:
		return TG_SECCOMP_PROFILE_STRICT;
	case TG_SECCOMP_ALLOW:
		return TG_SECCOMP_PROFILE_ALLOW;
	case TG_SECCOMP_DENY:
		return TG_SECCOMP_PROFILE_DENY;
	case TG_SECCOMP_DEFAULT:
	default:
		return TG_SECCOMP_PROFILE_DEFAULT;
	}
}

int tg_policy_set_filter(struct tg_policy_set *s, const struct tg_seccomp_spec *spec,
                         const struct tg_seccomp **ret, struct tg_error **err)
{
	int r = 0;
	pthread_mutex_lock(&s->filters_lock);
	for (size_t i = 0; i < s->n_filters; i++) {
		if (s->filters[i].spec == spec) {
			*ret = s->filters[i].filter;
			goto out;
		}
	}
	/* Built once per distinct spec per policy load, then shared by every
	 * call: a spawn only installs the exported program. */
	struct tg_seccomp *f = NULL;
	r = tg_seccomp_build(spec ? profile_of(spec->mode) : TG_SECCOMP_PROFILE_DEFAULT,
	                     spec ? spec->syscalls : NULL, &f, err);
	if (r < 0)
		goto out;
	struct filter_entry *nf = realloc(s->filters, (s->n_filters + 1) * sizeof(*nf));
	if (!nf) {
		tg_seccomp_free(f);
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	s->filters = nf;
	s->filters[s->n_filters++] = (struct filter_entry){.spec = spec, .filter = f};
	*ret = f;
out:
	pthread_mutex_unlock(&s->filters_lock);
	return r;
}

/* ---------------------------------------------------------------------------
 * Loading.
 */

static int load_policy(const char *path, struct tg_policy **ret, struct tg_error **err)
{
	struct tg_diags diags = {0};
	int r = tg_policy_load_file(path, ret, &diags);
	if (r < 0) {
		/* All the diagnostics, one per line, so a log shows every
		 * problem of a rejected reload at once. */
		char *msg = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&msg, &len);
		if (f) {
			for (size_t i = 0; i < diags.count; i++) {
				_cleanup_free_ char *line = tg_diag_format(&diags.items[i]);
				fprintf(f, "%s%s", i ? "\n" : "", line ? line : "?");
			}
			fclose(f);
		}
		tg_diags_clear(&diags);
		r = tg_error_set(err, r, "%s", msg && *msg ? msg : "policy could not be loaded");
		free(msg);
		return r;
	}
	tg_diags_clear(&diags);
	return 0;
}

static char *new_session_id(void)
{
	uint8_t rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	char hex[17];
	tg_hex(rnd, sizeof(rnd), hex);
	return strdup(hex);
}

static char *default_runtime_root(void)
{
	if (geteuid() == 0)
		return strdup("/run/toolgate");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg == '/')
		return tg_strdup_printf("%s/toolgate", xdg);
	return tg_strdup_printf("/tmp/toolgate-%u", (unsigned)geteuid());
}

static int make_runtime_dir(struct tg_broker *b, const char *root, struct tg_error **err)
{
	_cleanup_free_ char *base = root ? strdup(root) : default_runtime_root();
	if (!base)
		return tg_error_set(err, -ENOMEM, "out of memory");
	return tg_runtime_dir_create(base, b->session, &b->runtime_dir, &b->runtime_lock, err);
}

static int prepare_workspace(struct tg_broker *b, const char *override, struct tg_policy *p,
                             struct tg_error **err)
{
	const char *ws = override ? override : tg_policy_workspace(p);
	if (!ws)
		return 0;
	_cleanup_free_ char *abs = tg_path_join_abs(NULL, ws);
	if (!abs)
		return tg_error_set(err, -ENOMEM, "out of memory");
	int r = tg_mkdir_p(abs, 0755);
	if (r < 0)
		return tg_error_set(err, r, "workspace %s: %m", abs);
	struct stat st;
	if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
		return tg_error_set(err, -ENOTDIR, "workspace %s: not a directory", abs);
	char real[PATH_MAX];
	if (!realpath(abs, real))
		return tg_error_set(err, -errno, "workspace %s: %m", abs);
	b->workspace = strdup(real);
	return b->workspace ? 0 : tg_error_set(err, -ENOMEM, "out of memory");
}

/* The workspace the tools and the agent really get, for the policy's path
 * parameters too; a reloaded policy never brings one of its own. */
static int set_workspace(struct tg_broker *b, struct tg_policy *p, struct tg_error **err)
{
	if (!b->workspace) {
		if (tg_policy_workspace(p))
			return tg_error_set(
			        err, -EINVAL,
			        "the policy has a workspace (%s) but this broker was started "
			        "without one",
			        tg_policy_workspace(p));
		return 0;
	}
	const char *own = tg_policy_workspace(p);
	char real[PATH_MAX];
	if (own && (!realpath(own, real) || strcmp(real, b->workspace) != 0))
		tg_log(TG_LOG_WARN,
		       "policy %s names the workspace %s; this broker serves %s (given at start), "
		       "which stays in force",
		       tg_policy_file(p), own, b->workspace);
	_cleanup_free_ char *why = NULL;
	int r = tg_policy_set_workspace(p, b->workspace, &why);
	if (r == -EXDEV)
		return tg_error_set(err, r, "workspace %s: %s", b->workspace, why);
	if (r < 0)
		return tg_error_set(err, r, "out of memory");
	return 0;
}

static enum tg_audit_fsync fsync_of(enum tg_audit_fsync_mode m)
{
	switch (m) {
	case TG_AUDIT_FSYNC_ALWAYS:
		return TG_AUDIT_SYNC_ALWAYS;
	case TG_AUDIT_FSYNC_NEVER:
		return TG_AUDIT_SYNC_NEVER;
	case TG_AUDIT_FSYNC_BATCH:
	default:
		return TG_AUDIT_SYNC_BATCH;
	}
}

static int audit_policy_loaded(struct tg_broker *b, struct tg_policy *p, struct tg_error **err)
{
	struct tg_audit_record rec = {
	        .event = TG_AUDIT_POLICY_LOADED,
	        .policy_sha256 = tg_policy_sha256(p),
	        .policy_path = tg_policy_file(p),
	};
	return tg_audit_append(b->audit, &rec, err);
}

int tg_broker_new(const struct tg_broker_config *cfg, struct tg_broker **ret, struct tg_error **err)
{
	struct tg_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return tg_error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->audit_lock, NULL);
	pthread_mutex_init(&b->agent_lock, NULL);
	atomic_init(&b->stopping, false);
	atomic_init(&b->in_flight, 0);
	b->stopped = true; /* until started */
	b->runtime_lock = -1;
	b->n_workers = cfg->workers ? cfg->workers : DEFAULT_WORKERS;
	int r;

	b->policy_path = strdup(cfg->policy_path);
	b->session = new_session_id();
	b->rate = tg_ratelimit_new();
	if (!b->policy_path || !b->session || !b->rate || tg_egress_new(&b->egress) < 0) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}

	struct tg_policy *p = NULL;
	if ((r = load_policy(cfg->policy_path, &p, err)) < 0)
		goto fail;
	if ((r = policy_set_new(p, &b->current)) < 0) {
		tg_policy_unref(p);
		r = tg_error_set(err, r, "out of memory");
		goto fail;
	}
	if ((r = prepare_workspace(b, cfg->workspace, p, err)) < 0)
		goto fail;
	/* Path parameters under /workspace resolve in the workspace the tools
	 * really get (--workspace may replace the policy's). */
	if (b->workspace && (r = set_workspace(b, p, err)) < 0)
		goto fail;
	if ((r = make_runtime_dir(b, cfg->runtime_root, err)) < 0)
		goto fail;

	if (cfg->listen_url && strncmp(cfg->listen_url, "ipc://", 6) != 0 &&
	    strncmp(cfg->listen_url, "tcp://127.", 10) != 0 &&
	    strncmp(cfg->listen_url, "tcp://localhost:", 16) != 0 &&
	    strncmp(cfg->listen_url, "tcp://[::1]:", 12) != 0) {
		/* Fail closed: a remote listener would accept calls from anyone
		 * who can reach the port; this version has no caller
		 * authentication or TLS for it. */
		r = tg_error_set(err, -EINVAL,
		                 "%s: only ipc:// and loopback tcp:// are served (remote callers "
		                 "need TLS and authentication, which this version lacks)",
		                 cfg->listen_url);
		goto fail;
	}
	if (cfg->listen_url) {
		b->url = strdup(cfg->listen_url);
		if (b->url && strncmp(b->url, "ipc://", 6) == 0)
			b->socket_path = strdup(b->url + 6);
	} else {
		b->socket_path = tg_strdup_printf("%s/broker.sock", b->runtime_dir);
		b->url = b->socket_path ? tg_strdup_printf("ipc://%s", b->socket_path) : NULL;
	}
	if (!b->url) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}

	struct tg_sandbox_config scfg = {
	        .runtime_dir = b->runtime_dir,
	        /* Tests and benchmarks built outside the tree's layout say where
	         * the init is; otherwise it is found next to the binary. */
	        .init_path = getenv("TOOLGATE_INIT"),
	        .instance = b->session,
	};
	if ((r = tg_sandbox_open(&scfg, &b->sandbox, err)) < 0) {
		tg_error_wrap(err, "sandbox");
		goto fail;
	}
	unsigned prepared_tools = DEFAULT_PREPARED_TOOLS;
	const char *pv = getenv("TOOLGATE_PREPARED");
	if (pv && *pv) {
		char *end;
		unsigned long n = strtoul(pv, &end, 10);
		if (*end || n > 1024) {
			r = tg_error_set(err, -EINVAL,
			                 "TOOLGATE_PREPARED=%s: expected a number of tools, 0-1024",
			                 pv);
			goto fail;
		}
		prepared_tools = (unsigned)n;
	}
	if ((r = tg_prepared_new(b->sandbox, prepared_tools, PREPARED_IDLE_MS, &b->prepared, err)) <
	    0)
		goto fail;
	tg_prepared_flush(b->prepared, b->current);

	const struct tg_audit_section *asec = tg_policy_audit(p);
	const char *apath = cfg->audit_path ? cfg->audit_path
	                    : asec->path    ? asec->path
	                                    : DEFAULT_AUDIT;
	b->audit_path = strdup(apath);
	struct tg_audit_options aopts = {
	        .path = apath,
	        .fsync = fsync_of(asec->fsync),
	        .session = b->session,
	        .key_file = asec->key,
	        .sign_key_file = asec->sign_key,
	        .checkpoint_every = asec->checkpoint_every,
	        .checkpoint_interval_ms = asec->checkpoint_interval_ms,
	        .rotate_bytes = asec->rotate_bytes,
	        .rotate_keep = asec->rotate_keep,
	        .syslog_socket = asec->syslog ? "/dev/log" : NULL,
	};
	if (!b->audit_path) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = tg_audit_open(&aopts, &b->audit, err)) < 0) {
		tg_error_wrap(err, "audit log %s", apath);
		goto fail;
	}
	struct tg_audit_record start = {
	        .event = TG_AUDIT_SESSION_START,
	        .policy_sha256 = tg_policy_sha256(p),
	        .policy_path = tg_policy_file(p),
	        .workspace = b->workspace,
	        .command = cfg->command,
	};
	if ((r = tg_audit_append(b->audit, &start, err)) < 0 ||
	    (r = audit_policy_loaded(b, p, err)) < 0) {
		tg_error_wrap(err, "audit log %s", apath);
		goto fail;
	}
	/* Egress networks and host names get ready before the first call. */
	tg_egress_policy_loaded(b->egress, p);
	*ret = b;
	return 0;
fail:
	tg_broker_free(b, -1, 0);
	return r;
}

int tg_broker_start(struct tg_broker *b, struct tg_error **err)
{
	b->stopped = false;
	atomic_store(&b->stopping, false);
	int r = tg_server_start(b, err);
	if (r < 0)
		tg_server_stop(b);
	return r;
}

const char *tg_broker_url(const struct tg_broker *b)
{
	return b->url;
}

const char *tg_broker_socket_path(const struct tg_broker *b)
{
	return b->socket_path;
}

const char *tg_broker_session(const struct tg_broker *b)
{
	return b->session;
}

int tg_broker_reload(struct tg_broker *b, struct tg_error **err)
{
	struct tg_policy *p = NULL;
	int r = load_policy(b->policy_path, &p, err);
	if (r < 0) {
		tg_error_wrap(err, "reload of %s refused, previous policy still in force",
		              b->policy_path);
		return r;
	}
	if ((r = set_workspace(b, p, err)) < 0) {
		tg_policy_unref(p);
		return tg_error_wrap(err, "reload of %s refused, previous policy still in force",
		                     b->policy_path);
	}
	struct tg_policy_set *s = NULL;
	if ((r = policy_set_new(p, &s)) < 0) {
		tg_policy_unref(p);
		return tg_error_set(err, r, "out of memory");
	}
	/* Record it before it takes effect: no call runs under a policy the log
	 * has not seen. */
	if ((r = audit_policy_loaded(b, p, err)) < 0) {
		tg_policy_set_put(s);
		return tg_error_wrap(err, "reload refused: audit log");
	}
	pthread_mutex_lock(&b->lock);
	struct tg_policy_set *old = b->current;
	b->current = s;
	pthread_mutex_unlock(&b->lock);
	/* Sandboxes prepared for the old policy go (and their references). */
	tg_prepared_flush(b->prepared, s);
	tg_policy_set_put(old);
	tg_egress_policy_loaded(b->egress, p);
	tg_log(TG_LOG_INFO, "policy %s reloaded (sha256 %s)", b->policy_path, tg_policy_sha256(p));
	return 0;
}

void tg_broker_stop(struct tg_broker *b)
{
	if (b)
		tg_server_stop(b);
}

void tg_broker_free(struct tg_broker *b, int exit_code, int signal)
{
	if (!b)
		return;
	tg_server_stop(b);
	if (b->audit) {
		struct tg_audit_record end = {
		        .event = TG_AUDIT_SESSION_END,
		        .has_session_exit = exit_code != -1 || signal != 0,
		        .session_exit_code = exit_code,
		        .session_signal = signal,
		        .policy_sha256 = b->current ? tg_policy_sha256(b->current->policy) : NULL,
		};
		_cleanup_error_ struct tg_error *err = NULL;
		if (tg_audit_append(b->audit, &end, &err) < 0)
			tg_log(TG_LOG_ERR, "audit: session_end: %s", tg_error_msg(err));
		if (tg_audit_close(b->audit) < 0)
			tg_log(TG_LOG_ERR, "audit: closing %s failed", b->audit_path);
	}
	/* Every call has ended: the prepared sandboxes, our nftables objects
	 * and namespaces go. */
	tg_prepared_free(b->prepared);
	tg_egress_free(b->egress);
	tg_sandbox_free(b->sandbox);
	if (b->socket_path && b->runtime_dir &&
	    strncmp(b->socket_path, b->runtime_dir, strlen(b->runtime_dir)) == 0)
		unlink(b->socket_path);
	tg_runtime_dir_remove(b->runtime_dir, b->runtime_lock);
	tg_policy_set_put(b->current);
	tg_ratelimit_free(b->rate);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->audit_lock);
	pthread_mutex_destroy(&b->agent_lock);
	free(b->policy_path);
	free(b->listen_url);
	free(b->audit_path);
	free(b->workspace);
	free(b->session);
	free(b->runtime_dir);
	free(b->socket_path);
	free(b->url);
	free(b);
}

/* ---------------------------------------------------------------------------
 * In-process front end.
 */

json_t *tg_broker_tools(struct tg_broker *b)
{
	struct tg_policy_set *s = tg_policy_set_get(b);
	json_t *arr = json_array();
	size_t n = tg_policy_tool_count(s->policy);
	for (size_t i = 0; arr && i < n; i++) {
		const char *d = tg_policy_tool_description(s->policy, i);
		json_t *t = json_pack("{s:s, s:s, s:o}", "name", tg_policy_tool_name(s->policy, i),
		                      "description", d ? d : "", "inputSchema",
		                      tg_policy_tool_schema(s->policy, i));
		if (!t || json_array_append_new(arr, t) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	tg_policy_set_put(s);
	return arr;
}

void tg_call_result_clear(struct tg_call_result *r)
{
	free(r->reason);
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

int tg_broker_call(struct tg_broker *b, const char *tool, const json_t *params, int cancel_fd,
                   struct tg_call_result *ret)
{
	struct tg_call_ctx ctx = {.cancel_fd = cancel_fd};
	struct tg_call_outcome o;
	tg_broker_handle_call(b, &ctx, tool, params, NULL, &o);
	struct tg_exec_result *res = &o.exec;
	memset(ret, 0, sizeof(*ret));
	ret->status = res->status;
	ret->reason = steal_pointer(&res->reason);
	ret->exit_code = res->exit_code;
	ret->signal = res->signal;
	ret->out = steal_pointer(&res->out);
	ret->out_len = res->out_len;
	ret->err = steal_pointer(&res->err);
	ret->err_len = res->err_len;
	ret->truncated = res->truncated;
	ret->redactions = (uint32_t)res->redactions;
	ret->retry_after_ms = res->retry_after_ms;
	ret->wall_ms = res->wall_ms;
	ret->cpu_ms = res->cpu_ms;
	ret->max_rss_kb = res->max_rss_kb;
	tg_call_outcome_clear(&o);
	return 0;
}
