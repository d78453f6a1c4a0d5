/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding records to syslog, so the log shippers a site already runs
 * (rsyslog, syslog-ng, Fluent Bit, Vector; journald listens on /dev/log
 * too) carry them off the machine.
 *
 * One RFC 5424 message per record over an AF_UNIX datagram socket:
 *
 *     <86>1 2026-11-30T01:02:03.456789Z host toolgate 1234 call - {"seq":...}
 *
 * PRI 86 is facility authpriv (10), severity info (6): records may hold
 * parameter values, and authpriv is the facility syslog daemons keep
 * readable by root only. MSGID is the event, STRUCTURED-DATA is empty, and
 * MSG is the record's line exactly as in the file (without its '\n'), so
 * whoever receives every record can verify the chain. No BOM precedes MSG:
 * shippers parse it as JSON.
 *
 * Best effort by design: the socket is non-blocking and a record that
 * cannot be sent (receiver's queue full, syslog not running, record larger
 * than a datagram may be) is dropped and counted, never waited for. The
 * file is the record of truth; a slow syslog must not slow or fail a call.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "internal.h"

#define SYSLOG_PRI       86 /* LOG_AUTHPRIV | LOG_INFO */
#define RECONNECT_NS     1000000000ull
#define WARN_INTERVAL_NS 60000000000ull
#define HOSTNAME_MAX     255

struct tg_audit_forward {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	char host[HOSTNAME_MAX + 1];
	char pid[24];
	uint64_t sent;
	uint64_t dropped;
	uint64_t next_connect_ns; /* no reconnect attempt before this */
	uint64_t warned_ns;       /* when drops were last reported */
	uint64_t warned_dropped;
};

/* RFC 5424 HOSTNAME: printable US-ASCII without spaces, "-" when unknown. */
static void host_name(char out[HOSTNAME_MAX + 1])
{
	char h[HOSTNAME_MAX + 1] = "";
	if (gethostname(h, sizeof(h)) < 0)
		h[0] = '\0';
	h[HOSTNAME_MAX] = '\0';
	size_t o = 0;
	for (size_t i = 0; h[i]; i++)
		if (h[i] > 32 && h[i] < 127)
			out[o++] = h[i];
	if (o == 0)
		out[o++] = '-';
	out[o] = '\0';
}

static void disconnect(struct tg_audit_forward *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->next_connect_ns = tg_now_mono_ns() + RECONNECT_NS;
}

static bool connect_now(struct tg_audit_forward *f)
{
	if (f->fd >= 0)
		return true;
	if (tg_now_mono_ns() < f->next_connect_ns)
		return false;
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || connect(f->fd, (const struct sockaddr *)&f->addr, f->addr_len) < 0) {
		disconnect(f);
		return false;
	}
	return true;
}

int tg_audit_forward_open(const char *socket_path, struct tg_audit_forward **ret,
                          struct tg_error **err)
{
	size_t n = strlen(socket_path);
	struct tg_audit_forward *f = calloc(1, sizeof(*f));
	if (!f)
		return tg_error_set(err, -ENOMEM, "out of memory");
	f->fd = -1;
	f->addr.sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(f->addr.sun_path)) {
		free(f);
		return tg_error_set(err, -EINVAL, "syslog socket path '%s': empty or too long",
		                    socket_path);
	}
	memcpy(f->addr.sun_path, socket_path, n + 1);
	f->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	host_name(f->host);
	snprintf(f->pid, sizeof(f->pid), "%d", (int)getpid());
	if (!connect_now(f))
		tg_log(TG_LOG_WARN,
		       "audit: syslog socket %s is not there (yet): records are not forwarded "
		       "until it is (retried every second, drops counted)",
		       socket_path);
	*ret = f;
	return 0;
}

static void report_drops(struct tg_audit_forward *f, int e)
{
	uint64_t now = tg_now_mono_ns();
	if (f->warned_ns != 0 && now - f->warned_ns < WARN_INTERVAL_NS)
		return;
	tg_log(TG_LOG_WARN,
	       "audit: syslog forwarding to %s dropped %" PRIu64 " record(s) (%" PRIu64
	       " in all; last: %s); the log file has them",
	       f->addr.sun_path, f->dropped - f->warned_dropped, f->dropped,
	       e ? strerror(e) : "not connected");
	f->warned_ns = now;
	f->warned_dropped = f->dropped;
}

void tg_audit_forward_send(struct tg_audit_forward *f, const char *event, const char *time,
                           const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (!connect_now(f)) {
		f->dropped++;
		report_drops(f, 0);
		return;
	}
	char head[HOSTNAME_MAX + 160];
	int hn = snprintf(head, sizeof(head), "<%d>1 %s %s toolgate %s %.32s - ", SYSLOG_PRI, time,
	                  f->host, f->pid, event);
	if (hn < 0 || (size_t)hn >= sizeof(head)) {
		f->dropped++;
		return;
	}
	struct iovec iov[2] = {{head, (size_t)hn}, {(void *)line, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;
	do
		n = sendmsg(f->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		f->sent++;
		return;
	}
	int e = errno;
	f->dropped++;
	/* The receiver went away (syslog restarted: a new socket file); a
	 * full queue or an oversized record are the receiver's business. */
	if (e == ECONNREFUSED || e == ENOTCONN || e == ENOENT || e == EDESTADDRREQ || e == EPIPE)
		disconnect(f);
	report_drops(f, e);
}

void tg_audit_forward_counts(const struct tg_audit_forward *f, uint64_t *ret_sent,
                             uint64_t *ret_dropped)
{
	*ret_sent = f ? f->sent : 0;
	*ret_dropped = f ? f->dropped : 0;
}

void tg_audit_forward_free(struct tg_audit_forward *f)
{
	if (!f)
		return;
	if (f->dropped > f->warned_dropped)
		tg_log(TG_LOG_WARN,
		       "audit: syslog forwarding to %s dropped %" PRIu64 " record(s) in all",
		       f->addr.sun_path, f->dropped);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}
