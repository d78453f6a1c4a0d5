/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded output capture. See capture.h. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

/* Grow the kept buffer as output arrives instead of allocating the whole
 * limit up front: most tools print a few hundred bytes. */
#define INITIAL_CAP ((size_t)16384)

void tg_capture_init(struct tg_capture *c, int fd, size_t limit)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->limit = limit;
	crypto_hash_sha256_init(&c->sha);
}

static int keep(struct tg_capture *c, const char *data, size_t n)
{
	size_t room = c->limit - c->len;
	size_t take = n < room ? n : room;
	if (take < n)
		c->truncated = true;
	if (take == 0)
		return 0;
	if (c->len + take > c->cap) {
		size_t ncap = c->cap ? c->cap : INITIAL_CAP;
		while (ncap < c->len + take)
			ncap *= 2;
		if (ncap > c->limit)
			ncap = c->limit;
		char *nb = realloc(c->buf, ncap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, data, take);
	c->len += take;
	return 0;
}

int tg_capture_read(struct tg_capture *c)
{
	char chunk[65536];
	/* Bounded rounds so one chatty stream cannot starve the other or the
	 * timeout check; poll brings us back. */
	for (int round = 0; round < 16 && c->fd >= 0; round++) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			int e = -errno;
			close(c->fd);
			c->fd = -1;
			return e;
		}
		if (n == 0) {
			close(c->fd);
			c->fd = -1;
			return 0;
		}
		c->total += (uint64_t)n;
		crypto_hash_sha256_update(&c->sha, (const unsigned char *)chunk, (size_t)n);
		int r = keep(c, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

void tg_capture_sha256(struct tg_capture *c, char out[TG_SHA256_HEX_LEN])
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&c->sha, digest);
	tg_hex(digest, sizeof(digest), out);
}

void tg_capture_clear(struct tg_capture *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

int tg_capture_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/* Only the broker's end is non-blocking: a tool may rely on blocking
	 * writes. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	return 0;
}
