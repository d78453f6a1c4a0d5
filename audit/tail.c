/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end of an existing log, read by a writer that is about to continue
 * it: the chain's head (the last good record, its hash checked) and, after
 * a crash mid-write, the torn line after it. Only the end is read:
 * verifying the whole log is verify's job, not a startup cost.
 */
#include <string.h>

#include "internal.h"

void tg_audit_tail_clear(struct tg_audit_tail *t)
{
	free(t->session);
	t->session = NULL;
}

static int pread_all(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Start of the line that ends at end (exclusive): just after the previous
 * '\n', or 0. */
static int line_start(int fd, off_t end, off_t *ret)
{
	char buf[4096];
	off_t pos = end;
	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		int r = pread_all(fd, buf, n, pos - (off_t)n);
		if (r < 0)
			return r;
		char *nl = memrchr(buf, '\n', n);
		if (nl) {
			*ret = pos - (off_t)n + (nl - buf) + 1;
			return 0;
		}
		pos -= (off_t)n;
		if (end - pos > (off_t)TG_AUDIT_MAX_LINE)
			return -E2BIG;
	}
	*ret = 0;
	return 0;
}

/* The line [start, end) read and parsed as a record envelope: 0 and *p, or
 * -EBADMSG (why in *ret_why), or -errno. */
static int parse_at(int fd, off_t start, off_t end, char **ret_line, struct tg_audit_parsed *p,
                    const char **ret_why)
{
	size_t len = (size_t)(end - start);
	_cleanup_free_ char *line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	int r = pread_all(fd, line, len, start);
	if (r < 0)
		return r;
	line[len] = '\0';
	if ((r = tg_audit_parse_line(line, len, p, ret_why)) < 0)
		return r;
	if (ret_line)
		*ret_line = steal_pointer(&line);
	return 0;
}

/* A checkpoint says nothing about the session it follows: whether that
 * ended is the record before it. */
static bool ended_before(int fd, off_t start)
{
	off_t s;
	if (start == 0 || line_start(fd, start - 1, &s) < 0)
		return false;
	struct tg_audit_parsed p;
	const char *why;
	if (parse_at(fd, s, start - 1, NULL, &p, &why) < 0)
		return false;
	bool ended = strcmp(p.event, "session_end") == 0;
	tg_audit_parsed_clear(&p);
	return ended;
}

/* Check the last good record at [start, end) and take the chain head from it. */
static int take_head(int fd, off_t start, off_t end, const struct tg_audit_key *key,
                     const char *path, struct tg_audit_tail *t, struct tg_error **err)
{
	_cleanup_free_ char *line = NULL;
	struct tg_audit_parsed p;
	const char *why = NULL;
	int r = parse_at(fd, start, end, &line, &p, &why);
	if (r == -EBADMSG)
		return tg_error_set(err, -EBADMSG,
		                    "%s: the record before the end is damaged (%s); run "
		                    "'toolgate audit verify' and start a new log",
		                    path, why);
	if (r < 0)
		return tg_error_set(err, r, "%s: %m", path);
	if (p.keyed != (key != NULL)) {
		tg_audit_parsed_clear(&p);
		return key ? tg_error_set(err, -EINVAL,
		                          "%s: the log is not keyed (plain SHA-256): an HMAC key "
		                          "cannot be used for it; start a new log",
		                          path)
		           : tg_error_set(err, -ENOKEY,
		                          "%s: the log is keyed (HMAC-SHA256): its key is needed",
		                          path);
	}
	char h[TG_SHA256_HEX_LEN];
	tg_audit_hash(key, line, p.body_len, h);
	if (strcmp(h, p.hash) != 0) {
		tg_audit_parsed_clear(&p);
		return tg_error_set(err, -EBADMSG,
		                    "%s: the last record fails its %s (modified, or %s); run "
		                    "'toolgate audit verify'",
		                    path, key ? "HMAC" : "hash",
		                    key ? "a different key" : "damaged");
	}
	t->have_record = true;
	t->seq = p.seq;
	memcpy(t->hash, p.hash, sizeof(t->hash));
	t->checkpointed = strcmp(p.event, TG_AUDIT_EVENT_CHECKPOINT) == 0;
	t->ended = t->checkpointed ? ended_before(fd, start) : strcmp(p.event, "session_end") == 0;
	t->session = strdup(p.session);
	tg_audit_parsed_clear(&p);
	return t->session ? 0 : tg_error_set(err, -ENOMEM, "out of memory");
}

static int torn_hash(int fd, off_t start, off_t end, struct tg_audit_tail *t)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	char buf[8192];
	for (off_t pos = start; pos < end;) {
		size_t n = end - pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)(end - pos);
		int r = pread_all(fd, buf, n, pos);
		if (r < 0)
			return r;
		crypto_hash_sha256_update(&st, (const uint8_t *)buf, n);
		pos += (off_t)n;
	}
	uint8_t d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, d);
	tg_hex(d, sizeof(d), t->rec.torn_sha256);
	t->rec.torn = true;
	t->rec.torn_bytes = (uint64_t)(end - start);
	return 0;
}

int tg_audit_tail_read(int fd, off_t size, const struct tg_audit_key *key, const char *path,
                       struct tg_audit_tail *t, struct tg_error **err)
{
	if (size == 0)
		return 0;
	char last;
	int r = pread_all(fd, &last, 1, size - 1);
	if (r < 0)
		return tg_error_set(err, r, "%s: %m", path);
	off_t end = last == '\n' ? size - 1 : size;
	off_t start;
	if ((r = line_start(fd, end, &start)) < 0)
		return tg_error_set(err, r, "%s: reading its last line: %m", path);
	bool torn = last != '\n';
	if (!torn) {
		/* A terminated last line that is not even a record envelope is
		 * what a crash leaves on filesystems that extend the file before
		 * the data lands (NULs): torn as well. A well-formed record with a
		 * wrong hash is not torn but modified, and take_head refuses it. */
		struct tg_audit_parsed p;
		const char *why;
		r = parse_at(fd, start, end, NULL, &p, &why);
		if (r == -EBADMSG)
			torn = true;
		else if (r < 0)
			return tg_error_set(err, r, "%s: %m", path);
		else
			tg_audit_parsed_clear(&p);
	}
	if (torn) {
		if ((r = torn_hash(fd, start, end, t)) < 0)
			return tg_error_set(err, r, "%s: %m", path);
		t->needs_newline = last != '\n';
		if (start == 0)
			return 0;
		end = start - 1;
		if ((r = line_start(fd, end, &start)) < 0)
			return tg_error_set(err, r, "%s: %m", path);
	}
	return take_head(fd, start, end, key, path, t, err);
}
