/* SPDX-License-Identifier: Apache-2.0 */
/* capture.h (private to the broker) - bounded capture of what a tool writes
 * to a pipe: keep the first `limit` bytes, drain and count the rest, hash
 * everything. Memory stays flat whatever the tool prints. */
#ifndef TG_BROKER_CAPTURE_H
#define TG_BROKER_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "tg.h"

struct tg_capture {
	int fd;         /* read end, non-blocking; owned; -1 once at EOF */
	char *buf;      /* the kept bytes */
	size_t len;     /* kept so far */
	size_t cap;     /* allocated */
	size_t limit;   /* most bytes to keep */
	uint64_t total; /* bytes read, kept or not */
	bool truncated; /* total > limit */
	crypto_hash_sha256_state sha;
};

/* A pipe for a tool's stdout or stderr: both ends close-on-exec, only the
 * read end (ours) non-blocking (a tool may rely on blocking writes).
 * 0 or -errno. */
int tg_capture_pipe(int fds[2]);
/* Take ownership of fd. */
void tg_capture_init(struct tg_capture *c, int fd, size_t limit);
/* Read what is available now. 0 (check c->fd < 0 for EOF) or -errno. */
int tg_capture_read(struct tg_capture *c);
/* The SHA-256 of every byte read. Call once, at the end. */
void tg_capture_sha256(struct tg_capture *c, char out[TG_SHA256_HEX_LEN]);
void tg_capture_clear(struct tg_capture *c);

#endif /* TG_BROKER_CAPTURE_H */
