/* SPDX-License-Identifier: Apache-2.0 */
/* Signals for the long-running commands: blocked in every thread and taken
 * synchronously by one, so no handler ever runs in a broker thread or in a
 * freshly cloned sandbox child. */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cli.h"
#include "signals.h"
#include "tg.h"

void tg_cli_block_signals(sigset_t *ret)
{
	sigemptyset(ret);
	sigaddset(ret, SIGINT);
	sigaddset(ret, SIGTERM);
	sigaddset(ret, SIGHUP);
	sigaddset(ret, SIGQUIT);
	sigaddset(ret, SIGUSR1);
	sigaddset(ret, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, ret, NULL);
	/* A vanished reader must be an EPIPE, not our death. */
	signal(SIGPIPE, SIG_IGN);
}

int tg_cli_wait_signal(const sigset_t *set, int timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
	                      .tv_nsec = (timeout_ms % 1000) * 1000000L};
	siginfo_t info;
	int s = sigtimedwait(set, &info, &ts);
	return s < 0 ? 0 : s;
}

void tg_cli_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
}
