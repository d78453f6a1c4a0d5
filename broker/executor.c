/* SPDX-License-Identifier: Apache-2.0 */
/* The executor: an allowed verdict -> a spawn spec -> a fresh sandbox; its
 * output captured (bounded) and sanitized; its wall-clock limit enforced by
 * killing the whole tree. */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "capture.h"
#include "egress.h"
#include "internal.h"
#include "prepared.h"
#include "sanitize.h"

/* After the sandbox has ended every writer of its pipes is gone; this only
 * bounds the wait for the last bytes in flight. */
#define DRAIN_GRACE_MS 2000

void tg_exec_result_clear(struct tg_exec_result *r)
{
	tg_child_free(r->child);
	free(r->reason);
	free(r->out);
	free(r->err);
	tg_strv_free(r->protections);
	memset(r, 0, sizeof(*r));
}

static void set_result(struct tg_exec_result *res, Toolgate__Status status, char *reason)
{
	res->status = status;
	free(res->reason);
	res->reason = reason;
}

static char *format_size(uint64_t bytes)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		return tg_strdup_printf("%" PRIu64 " GiB", bytes >> 30);
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		return tg_strdup_printf("%" PRIu64 " MiB", bytes >> 20);
	if (bytes >= (1u << 10) && bytes % (1u << 10) == 0)
		return tg_strdup_printf("%" PRIu64 " KiB", bytes >> 10);
	return tg_strdup_printf("%" PRIu64 " bytes", bytes);
}

/* Fill mounts[] (room for 1 + v->n_fs + v->n_paths) from the verdict: the
 * workspace per tool, then the tool's own filesystem entries, every one of
 * them (a later entry often masks an earlier one), then the objects its
 * path parameters were checked against, by descriptor, where argv names
 * them. Returns the count. */
static size_t build_mounts(const struct tg_broker *b, const struct tg_verdict *v,
                           struct tg_mount *mounts)
{
	size_t n = tg_broker_policy_mounts(b, v->workspace, v->fs, v->n_fs, mounts);
	for (size_t i = 0; i < v->n_paths; i++) {
		mounts[n++] = (struct tg_mount){
		        .type = TG_MOUNT_BIND_FD,
		        .source_fd = v->paths[i].fd,
		        .target = v->paths[i].bind,
		        .flags = v->paths[i].writable ? 0 : TG_MOUNT_RO,
		};
	}
	return n;
}

/* A missing protection is "cannot serve this call here", not a bug. */
static Toolgate__Status spawn_error_status(int code)
{
	switch (code) {
	case -ENODEV:
	case -ENOTSUP:
	case -ENOSYS:
	case -EPERM:
	case -EACCES:
		return TOOLGATE__STATUS__STATUS_UNAVAILABLE;
	default:
		return TOOLGATE__STATUS__STATUS_INTERNAL;
	}
}

struct run_state {
	struct tg_capture out, err;
	bool timed_out, cancelled, ended;
};

/* Poll the output pipes, the sandbox's pidfd and the cancel fd until the
 * sandbox has ended and both pipes are drained, enforcing the deadline. */
static int supervise(struct tg_child *child, uint64_t timeout_ms, int cancel_fd,
                     struct run_state *st)
{
	uint64_t start = tg_now_mono_ms();
	uint64_t deadline = timeout_ms ? start + timeout_ms : 0;
	uint64_t drain_deadline = 0;
	int r = 0;

	while (st->out.fd >= 0 || st->err.fd >= 0 || !st->ended) {
		struct pollfd pfd[4];
		nfds_t n = 0;
		int i_out = -1, i_err = -1, i_pid = -1, i_cancel = -1;
		if (st->out.fd >= 0) {
			i_out = (int)n;
			pfd[n++] = (struct pollfd){.fd = st->out.fd, .events = POLLIN};
		}
		if (st->err.fd >= 0) {
			i_err = (int)n;
			pfd[n++] = (struct pollfd){.fd = st->err.fd, .events = POLLIN};
		}
		if (!st->ended) {
			i_pid = (int)n;
			pfd[n++] = (struct pollfd){.fd = tg_child_pidfd(child), .events = POLLIN};
		}
		if (cancel_fd >= 0 && !st->cancelled && !st->ended) {
			i_cancel = (int)n;
			pfd[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
		}

		uint64_t now = tg_now_mono_ms();
		int wait_ms = -1;
		if (deadline && !st->timed_out && !st->ended)
			wait_ms = now >= deadline ? 0 : (int)(deadline - now);
		if (st->ended) {
			if (!drain_deadline)
				drain_deadline = now + DRAIN_GRACE_MS;
			if (now >= drain_deadline)
				break;
			wait_ms = (int)(drain_deadline - now);
		}

		int pr = poll(pfd, n, wait_ms);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			tg_child_kill(child);
			break;
		}
		/* The wall-clock limit, checked on every pass (a tool that
		 * keeps its pipes full must not keep poll() from timing out):
		 * the whole tree goes, including anything that double-forked
		 * and called setsid(). */
		if (deadline && !st->ended && !st->timed_out && tg_now_mono_ms() >= deadline) {
			st->timed_out = true;
			tg_child_kill(child);
		}
		if (i_out >= 0 && pfd[i_out].revents) {
			int rr = tg_capture_read(&st->out);
			if (rr < 0 && !r)
				r = rr;
		}
		if (i_err >= 0 && pfd[i_err].revents) {
			int rr = tg_capture_read(&st->err);
			if (rr < 0 && !r)
				r = rr;
		}
		if (i_cancel >= 0 && pfd[i_cancel].revents) {
			st->cancelled = true;
			tg_child_kill(child);
		}
		if (i_pid >= 0 && pfd[i_pid].revents)
			st->ended = true;
		if (r == -ENOMEM) {
			tg_child_kill(child);
			break;
		}
	}
	return r;
}

/* The tool saw each checked path at its pinned place (TG_PIN_DIR/N/name);
 * the agent gets its own names back: "/run/toolgate/args/0/data.txt: No
 * such line" reads "/workspace/data.txt: No such line". Returns 0 or
 * -ENOMEM (the text is then left as it was). */
static int unpin_paths(const struct tg_verdict *v, char **text, size_t *len)
{
	for (size_t i = 0; i < v->n_paths; i++) {
		const struct tg_verdict_path *vp = &v->paths[i];
		/* What is bound at vp->bind: the object, or the ancestor its
		 * missing part lies below (arg = bind + "/missing"). */
		size_t bl = strlen(vp->bind);
		size_t tl = strlen(vp->path) - (strlen(vp->arg) - bl);
		size_t n = 0;
		for (const char *s = *text;
		     (s = memmem(s, *len - (size_t)(s - *text), vp->bind, bl)); s += bl)
			n++;
		if (n == 0)
			continue;
		size_t out_len = *len - n * bl + n * tl;
		char *out = malloc(out_len + 1), *o = out;
		if (!out)
			return -ENOMEM;
		const char *s = *text, *end = *text + *len;
		for (const char *m; (m = memmem(s, (size_t)(end - s), vp->bind, bl)); s = m + bl) {
			memcpy(o, s, (size_t)(m - s));
			o += m - s;
			memcpy(o, vp->path, tl);
			o += tl;
		}
		memcpy(o, s, (size_t)(end - s));
		o += end - s;
		*o = '\0';
		free(*text);
		*text = out;
		*len = out_len;
	}
	return 0;
}

/* Sanitize one stream, pinned paths back to their names. Repairing UTF-8 (one bad byte becomes a
 * 3-byte U+FFFD) and redacting can make it longer than the limit it was captured under; it is cut
 * back to the limit, on a character boundary, so the answer always fits what a client accepts. */
static void sanitize_stream(struct tg_policy_set *set, const struct tg_verdict *v,
                            struct tg_capture *c, size_t limit, char **ret, size_t *ret_len,
                            struct tg_exec_result *res)
{
	const struct tg_sanitize_config *cfg = tg_policy_sanitize(set->policy);
	struct tg_sanitize_report rep;
	if (tg_sanitize(cfg, (const uint8_t *)(c->buf ? c->buf : ""), c->len, ret, ret_len, &rep) <
	    0) {
		*ret = NULL;
		*ret_len = 0;
		return;
	}
	res->redactions += rep.redactions;
	res->redaction_limit_hits += rep.limit_hits;
	if (unpin_paths(v, ret, ret_len) < 0) {
		free(*ret);
		*ret = NULL;
		*ret_len = 0;
		return;
	}
	if (*ret_len > limit) {
		size_t cut = limit;
		while (cut > 0 && ((unsigned char)(*ret)[cut] & 0xc0) == 0x80)
			cut--;
		(*ret)[cut] = '\0';
		*ret_len = cut;
		res->truncated = true;
	}
}

/* The call's network is gone: its counters go into the result. */
static void end_egress(struct tg_broker *b, struct tg_egress_call *c, struct tg_exec_result *res)
{
	if (!c)
		return;
	struct tg_egress_stats st;
	tg_egress_call_end(b->egress, c, &st);
	res->egress_dropped_packets = st.dropped_packets;
	res->egress_sent_packets = st.sent_packets;
	res->egress_sent_bytes = st.sent_bytes;
}

void tg_broker_execute(struct tg_broker *b, struct tg_policy_set *set, const struct tg_verdict *v,
                       int cancel_fd, struct tg_exec_result *res)
{
	_cleanup_error_ struct tg_error *err = NULL;
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;

	const struct tg_seccomp *filter = NULL;
	int r = tg_policy_set_filter(set, v->seccomp, &filter, &err);
	if (r < 0) {
		set_result(res, TOOLGATE__STATUS__STATUS_INTERNAL,
		           tg_strdup_printf("seccomp: %s", tg_error_msg(err)));
		return;
	}

	struct tg_egress_call *egress = NULL;
	if (v->network && v->network->egress_enabled) {
		r = tg_egress_call_begin(b->egress, v->network, &egress, &err);
		if (r < 0) {
			/* Fail closed: a tool whose egress rules cannot be put
			 * in place does not run, never with an open network. */
			set_result(res, TOOLGATE__STATUS__STATUS_UNAVAILABLE,
			           tg_strdup_printf("egress: %s: call refused", tg_error_msg(err)));
			return;
		}
		res->egress = true;
	}

	_cleanup_free_ struct tg_mount *mounts = calloc(1 + v->n_fs + v->n_paths, sizeof(*mounts));
	if (!mounts) {
		end_egress(b, egress, res);
		set_result(res, TOOLGATE__STATUS__STATUS_INTERNAL, strdup("out of memory"));
		return;
	}
	size_t n_mounts = build_mounts(b, v, mounts);

	struct tg_spawn_spec spec = {
	        .path = v->argv[0],
	        .exec_fd = v->exec_fd,
	        .argv = v->argv,
	        .envp = v->envp,
	        .cwd = (v->workspace != TG_WS_NONE && b->workspace) ? "/workspace" : "/",
	        .hostname = "toolgate",
	        .root = TG_ROOT_DEFAULT,
	        .mounts = mounts,
	        .n_mounts = n_mounts,
	        .stdin_fd = -1,
	        .stdout_fd = -1,
	        .stderr_fd = -1,
	        .limits =
	                {
	                        .memory_bytes = v->limits.memory_bytes,
	                        .pids = v->limits.pids,
	                        .cpu_millis = v->limits.cpu_millis,
	                        .file_size_bytes = v->limits.file_size_bytes,
	                        .nofile = 1024,
	                        /* CPU-time backstop a little past the wall clock:
	                         * the broker's own timer is the real limit. */
	                        .cpu_time_s =
	                                v->limits.timeout_ms ? v->limits.timeout_ms / 1000 + 2 : 0,
	                },
	        .seccomp = filter,
	        /* Egress: the call's own namespace, whose only way out is its
	         * veth, filtered on the host side; else a new empty one. */
	        .netns_fd = egress ? tg_egress_call_netns(egress) : -1,
	        .etc_hosts = egress ? tg_egress_call_hosts(egress) : NULL,
	};

	struct tg_child *child = NULL;
	int out_fd = -1, err_fd = -1;
	/* A sandbox of this tool built ahead, if one is ready: the same spec
	 * but argv. Not for calls whose sandbox depends on the call (bound
	 * path objects, the call's own network). */
	struct tg_prepared_child pc;
	if (v->n_paths == 0 && !egress &&
	    tg_prepared_take(b->prepared, set, v->tool_index, &spec, &pc)) {
		if (tg_child_start(pc.child, v->argv, v->envp, &err) == 0) {
			child = pc.child;
			out_fd = pc.out_fd;
			err_fd = pc.err_fd;
		} else {
			/* It ended while waiting (killed from outside, say):
			 * build one on the spot instead. */
			tg_log(TG_LOG_WARN, "prepared sandbox unusable: %s", tg_error_msg(err));
			tg_error_free(steal_pointer(&err));
			tg_child_free(pc.child);
			close(pc.out_fd);
			close(pc.err_fd);
		}
	}
	r = 0;
	if (!child) {
		int outp[2] = {-1, -1}, errp[2] = {-1, -1};
		if ((r = tg_capture_pipe(outp)) < 0 || (r = tg_capture_pipe(errp)) < 0) {
			if (outp[0] >= 0) {
				close(outp[0]);
				close(outp[1]);
			}
			end_egress(b, egress, res);
			set_result(res, TOOLGATE__STATUS__STATUS_INTERNAL,
			           tg_strdup_printf("pipe: %s", strerror(-r)));
			return;
		}
		spec.stdout_fd = outp[1];
		spec.stderr_fd = errp[1];
		r = tg_sandbox_spawn(b->sandbox, &spec, &child, &err);
		/* Our copies of the write ends must go, or EOF never comes. */
		close(outp[1]);
		close(errp[1]);
		out_fd = outp[0];
		err_fd = errp[0];
	}
	struct run_state st = {0};
	tg_capture_init(&st.out, out_fd, v->limits.output_bytes);
	tg_capture_init(&st.err, err_fd, v->limits.output_bytes);
	if (r < 0) {
		tg_capture_clear(&st.out);
		tg_capture_clear(&st.err);
		end_egress(b, egress, res);
		if (r == -ESTALE && v->n_paths > 0)
			/* Renamed, replaced or removed since it was checked:
			 * the tool would not get what the policy allowed. */
			set_result(res, TOOLGATE__STATUS__STATUS_DENIED,
			           tg_strdup_printf("a path parameter changed between the check "
			                            "and the call (%s): call refused",
			                            tg_error_msg(err)));
		else
			set_result(res, spawn_error_status(r),
			           tg_strdup_printf("sandbox: %s", tg_error_msg(err)));
		return;
	}
	res->ran = true;
	const struct tg_protections *prot = tg_child_protections(child);
	if (prot)
		res->protections = tg_strv_dup(prot->items);
	if (egress && res->protections)
		(void)tg_strv_push_take(
		        &res->protections,
		        tg_strdup_printf("egress:nftables:%s", tg_egress_call_ifname(egress)));

	r = supervise(child, v->limits.timeout_ms, cancel_fd, &st);
	struct tg_child_exit ex = {0};
	int wr = tg_child_wait(child, &ex);
	/* Freeing removes the cgroups: the caller does it once it has
	 * answered (tg_exec_result_clear). */
	res->child = child;
	end_egress(b, egress, res);

	res->exit_code = ex.exit_code;
	res->signal = ex.signal;
	res->wall_ms = ex.wall_ms;
	res->cpu_ms = ex.cpu_ms;
	res->max_rss_kb = ex.max_rss_kb;
	res->out_bytes = st.out.total;
	res->err_bytes = st.err.total;
	res->truncated = st.out.truncated || st.err.truncated;
	tg_capture_sha256(&st.out, res->out_sha256);
	tg_capture_sha256(&st.err, res->err_sha256);
	sanitize_stream(set, v, &st.out, v->limits.output_bytes, &res->out, &res->out_len, res);
	sanitize_stream(set, v, &st.err, v->limits.output_bytes, &res->err, &res->err_len, res);
	tg_capture_clear(&st.out);
	tg_capture_clear(&st.err);

	if (r < 0 || wr < 0) {
		set_result(
		        res, TOOLGATE__STATUS__STATUS_INTERNAL,
		        tg_strdup_printf("supervising the call: %s", strerror(-(r < 0 ? r : wr))));
	} else if (st.cancelled) {
		set_result(res, TOOLGATE__STATUS__STATUS_UNAVAILABLE,
		           strdup("cancelled by the caller; process tree killed"));
	} else if (st.timed_out) {
		set_result(res, TOOLGATE__STATUS__STATUS_TIMEOUT,
		           tg_strdup_printf("timed out after %" PRIu64
		                            " ms; the whole process tree was killed",
		                            v->limits.timeout_ms));
	} else if (ex.oom) {
		_cleanup_free_ char *lim = format_size(v->limits.memory_bytes);
		set_result(res, TOOLGATE__STATUS__STATUS_OOM,
		           tg_strdup_printf("memory limit (%s) exceeded; killed by the kernel",
		                            lim ? lim : "?"));
	} else if (ex.exec_failed) {
		set_result(res, TOOLGATE__STATUS__STATUS_INTERNAL,
		           tg_strdup_printf("cannot execute %s: %s", v->argv[0],
		                            strerror(ex.exec_errno)));
	} else if (res->truncated) {
		_cleanup_free_ char *lim = format_size(v->limits.output_bytes);
		set_result(res, TOOLGATE__STATUS__STATUS_OUTPUT_LIMIT,
		           tg_strdup_printf("output over the limit (%s per stream): truncated",
		                            lim ? lim : "?"));
	} else {
		set_result(res, TOOLGATE__STATUS__STATUS_OK, NULL);
	}
	if ((!res->out || !res->err) && res->status == TOOLGATE__STATUS__STATUS_OK)
		set_result(res, TOOLGATE__STATUS__STATUS_INTERNAL,
		           strdup("sanitizing the output failed (out of memory)"));
}
