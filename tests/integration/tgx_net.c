/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tgx_net - a tiny network client/server for tests/integration/test_egress.sh.
 * Static, numeric addresses only (no NSS), every wait bounded.
 *
 *   tgx_net serve ADDR PORT tcp|udp SECONDS   serve for at most SECONDS:
 *        tcp: send "hello PORT\n", read to EOF, answer "got N\n", close
 *        udp: answer every datagram with "pong PORT\n"
 *   tgx_net connect ADDR PORT                 tcp connect, print the greeting
 *   tgx_net udp ADDR PORT                     one datagram, wait for the answer
 *   tgx_net send ADDR PORT BYTES              send BYTES, wait for "got BYTES"
 *   tgx_net connects ADDR PORT N              N connects in a row; print how
 *                                             many got through
 *   tgx_net icmp ADDR                         one echo request (needs CAP_NET_RAW)
 *   tgx_net sleep MS
 *
 * Exit 0 on success, 1 when the network said no (or nothing), 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 1000

static int parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "tgx_net: not a numeric address: %s\n", s);
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to become ready for events; 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* Non-blocking connect bounded by ms. Returns the socket or -1. */
static int connect_to(const char *addr, unsigned port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, port, &ss, &len) < 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	int err = 0;
	socklen_t el = sizeof(err);
	if (!wait_fd(fd, POLLOUT, ms) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
	    err) {
		close(fd);
		errno = err ? err : ETIMEDOUT;
		return -1;
	}
	fcntl(fd, F_SETFL, 0);
	return fd;
}

static ssize_t read_line(int fd, char *buf, size_t size, int ms)
{
	size_t n = 0;
	long long end = now_ms() + ms;
	while (n + 1 < size) {
		long long left = end - now_ms();
		if (left <= 0 || !wait_fd(fd, POLLIN, (int)left))
			return -1;
		ssize_t r = read(fd, buf + n, 1);
		if (r <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static int serve_tcp(int fd, unsigned port, long long end)
{
	listen(fd, 64);
	while (now_ms() < end) {
		if (!wait_fd(fd, POLLIN, (int)(end - now_ms())))
			continue;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "hello %u\n", port);
		(void)!write(c, msg, (size_t)n);
		/* Count to EOF, bounded in time per connection. */
		unsigned long long got = 0;
		long long cend = now_ms() + 5000;
		char buf[65536];
		while (now_ms() < cend && wait_fd(c, POLLIN, (int)(cend - now_ms()))) {
			ssize_t r = read(c, buf, sizeof(buf));
			if (r <= 0)
				break;
			got += (unsigned long long)r;
		}
		n = snprintf(msg, sizeof(msg), "got %llu\n", got);
		(void)!write(c, msg, (size_t)n);
		close(c);
	}
	return 0;
}

static int serve_udp(int fd, unsigned port, long long end)
{
	while (now_ms() < end) {
		if (!wait_fd(fd, POLLIN, (int)(end - now_ms())))
			continue;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		char buf[2048];
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r < 0)
			continue;
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "pong %u\n", port);
		sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

static int serve(const char *addr, unsigned port, const char *proto, unsigned seconds)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, port, &ss, &len) < 0)
		return 2;
	bool tcp = strcmp(proto, "tcp") == 0;
	int fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("tgx_net: bind");
		return 1;
	}
	long long end = now_ms() + (long long)seconds * 1000;
	return tcp ? serve_tcp(fd, port, end) : serve_udp(fd, port, end);
}

static int cmd_connect(const char *addr, unsigned port)
{
	int fd = connect_to(addr, port, WAIT_MS);
	if (fd < 0) {
		printf("refused: %s\n", strerror(errno));
		return 1;
	}
	char line[128];
	if (read_line(fd, line, sizeof(line), WAIT_MS) <= 0) {
		printf("no greeting\n");
		close(fd);
		return 1;
	}
	printf("connected: %s", line);
	close(fd);
	return 0;
}

static int cmd_udp(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, port, &ss, &len) < 0)
		return 2;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0 ||
	    send(fd, "ping\n", 5, 0) < 0) {
		printf("refused: %s\n", strerror(errno));
		return 1;
	}
	char buf[128];
	if (!wait_fd(fd, POLLIN, WAIT_MS)) {
		printf("no answer\n");
		return 1;
	}
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
	if (r <= 0) {
		printf("no answer: %s\n", r < 0 ? strerror(errno) : "empty");
		return 1;
	}
	buf[r] = '\0';
	printf("answer: %s", buf);
	return 0;
}

static int cmd_send(const char *addr, unsigned port, unsigned long long bytes)
{
	int fd = connect_to(addr, port, WAIT_MS);
	if (fd < 0) {
		printf("refused: %s\n", strerror(errno));
		return 1;
	}
	char line[128];
	if (read_line(fd, line, sizeof(line), WAIT_MS) <= 0) {
		printf("no greeting\n");
		return 1;
	}
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	static char buf[65536];
	memset(buf, 'x', sizeof(buf));
	unsigned long long sent = 0;
	long long end = now_ms() + 3000;
	while (sent < bytes && now_ms() < end) {
		size_t n = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
		ssize_t w = write(fd, buf, n);
		if (w <= 0)
			break;
		sent += (unsigned long long)w;
	}
	shutdown(fd, SHUT_WR);
	ssize_t r = read_line(fd, line, sizeof(line), 1500);
	printf("sent %llu, server: %s\n", sent, r > 0 ? line : "(no answer)");
	char want[64];
	snprintf(want, sizeof(want), "got %llu\n", bytes);
	return r > 0 && strcmp(line, want) == 0 ? 0 : 1;
}

static int cmd_connects(const char *addr, unsigned port, unsigned n)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n && i < 1000; i++) {
		int fd = connect_to(addr, port, 300);
		if (fd >= 0) {
			ok++;
			close(fd);
		}
	}
	printf("%u\n", ok);
	return 0;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t s = 0;
	for (; len > 1; len -= 2)
		s += *w++;
	if (len)
		s += *(const uint8_t *)w;
	s = (s >> 16) + (s & 0xffff);
	s += s >> 16;
	return (uint16_t)~s;
}

static int cmd_icmp(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_addr(addr, 0, &ss, &len) < 0 || ss.ss_family != AF_INET)
		return 2;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		printf("raw socket: %s\n", strerror(errno));
		return 2;
	}
	struct icmphdr h = {.type = ICMP_ECHO};
	h.un.echo.id = htons((uint16_t)getpid());
	h.un.echo.sequence = htons(1);
	h.checksum = csum(&h, sizeof(h));
	if (sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&ss, len) < 0) {
		printf("refused: %s\n", strerror(errno));
		return 1;
	}
	long long end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		if (!wait_fd(fd, POLLIN, (int)(end - now_ms())))
			break;
		char buf[1500];
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 28)
			continue;
		const struct icmphdr *rh = (const struct icmphdr *)(buf + (buf[0] & 0x0f) * 4);
		if (rh->type == ICMP_ECHOREPLY && rh->un.echo.id == h.un.echo.id) {
			printf("echo reply\n");
			return 0;
		}
	}
	printf("no echo reply\n");
	return 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], (unsigned)atoi(argv[3]), argv[4], (unsigned)atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "connect") == 0)
		return cmd_connect(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "udp") == 0)
		return cmd_udp(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return cmd_send(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "connects") == 0)
		return cmd_connects(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	if (argc == 3 && strcmp(argv[1], "icmp") == 0)
		return cmd_icmp(argv[2]);
	if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
		long ms = atol(argv[2]);
		nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000},
		          NULL);
		return 0;
	}
	fprintf(stderr, "usage: tgx_net serve|connect|udp|send|connects|icmp|sleep ...\n");
	return 2;
}
