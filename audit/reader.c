/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading logs: raw lines (with their offsets, for verify and show) and
 * parsed records. The input is untrusted (a log may have been edited by
 * anyone), so a line is bounded by TG_AUDIT_MAX_LINE and every member the
 * envelope needs is type-checked before anyone uses it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

struct tg_audit_reader {
	int fd;
	char *path;
	char *buf;
	size_t cap;
	size_t start;   /* first byte not yet returned */
	size_t end;     /* end of the data read so far */
	size_t scanned; /* bytes after start known to hold no '\n' */
	off_t base;     /* file offset of buf[0] */
	bool eof;
	bool skipping; /* inside an overlong line: drop bytes up to its '\n' */
	uint64_t lineno;
	struct tg_audit_line cur;
};

#define READ_CHUNK (64u << 10)

int tg_audit_reader_open_at(const char *path, off_t start, uint64_t first_lineno,
                            struct tg_audit_reader **ret, struct tg_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return tg_error_set(err, -errno, "%s: %m", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return tg_error_set(err, -errno, "%s: %m", path);
	if (S_ISDIR(st.st_mode))
		return tg_error_set(err, -EISDIR, "%s: %m", path);
	if (start > 0 && lseek(fd, start, SEEK_SET) < 0)
		return tg_error_set(err, -errno, "%s: %m", path);
	struct tg_audit_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return tg_error_set(err, -ENOMEM, "out of memory");
	r->fd = -1;
	r->path = strdup(path);
	r->cap = READ_CHUNK;
	r->buf = malloc(r->cap);
	if (!r->path || !r->buf) {
		tg_audit_reader_free(r);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	r->fd = steal_fd(&fd);
	r->base = start;
	r->lineno = first_lineno > 0 ? first_lineno - 1 : 0;
	*ret = r;
	return 0;
}

int tg_audit_reader_open(const char *path, struct tg_audit_reader **ret, struct tg_error **err)
{
	return tg_audit_reader_open_at(path, 0, 1, ret, err);
}

void tg_audit_reader_free(struct tg_audit_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->buf);
	free(r);
}

const char *tg_audit_reader_path(const struct tg_audit_reader *r)
{
	return r->path;
}

/* Make room and read more; keeps one spare byte for a terminating NUL. */
static int fill(struct tg_audit_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->base += (off_t)r->start;
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < READ_CHUNK / 2) {
		size_t ncap = r->cap * 2;
		char *nb = realloc(r->buf, ncap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = ncap;
	}
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		return 0;
	}
}

static const struct tg_audit_line *emit(struct tg_audit_reader *r, size_t len, bool terminated,
                                        bool too_long)
{
	struct tg_audit_line *l = &r->cur;
	l->data = r->buf + r->start;
	l->len = len;
	l->lineno = ++r->lineno;
	l->offset = r->base + (off_t)r->start;
	l->terminated = terminated;
	l->too_long = too_long;
	l->data[len] = '\0';
	return l;
}

int tg_audit_reader_next_raw(struct tg_audit_reader *r, const struct tg_audit_line **line,
                             struct tg_error **err)
{
	for (;;) {
		size_t avail = r->end - r->start;
		char *nl = memchr(r->buf + r->start + r->scanned, '\n', avail - r->scanned);
		if (nl) {
			size_t len = (size_t)(nl - (r->buf + r->start));
			if (r->skipping) {
				/* the rest of an overlong line, already reported */
				r->skipping = false;
				r->start += len + 1;
				r->scanned = 0;
				continue;
			}
			*line = emit(r, len, true, false);
			r->start += len + 1;
			r->scanned = 0;
			return 1;
		}
		if (r->skipping) {
			r->start = r->end;
			r->scanned = 0;
		} else if (avail >= TG_AUDIT_MAX_LINE) {
			*line = emit(r, TG_AUDIT_MAX_LINE, false, true);
			r->start = r->end;
			r->scanned = 0;
			r->skipping = true;
			return 1;
		} else {
			r->scanned = avail;
		}
		if (r->eof) {
			avail = r->end - r->start;
			if (avail == 0)
				return 0;
			*line = emit(r, avail, false, false);
			r->start = r->end;
			r->scanned = 0;
			return 1;
		}
		int e = fill(r);
		if (e < 0)
			return tg_error_set(err, e, "%s: %m", r->path);
	}
}

int tg_audit_reader_next(struct tg_audit_reader *r, json_t **ret_record, uint64_t *ret_line,
                         struct tg_error **err)
{
	const struct tg_audit_line *l;
	int e = tg_audit_reader_next_raw(r, &l, err);
	if (e <= 0)
		return e;
	if (l->too_long)
		return tg_error_set(err, -EBADMSG, "%s:%" PRIu64 ": line longer than %u bytes",
		                    r->path, l->lineno, TG_AUDIT_MAX_LINE);
	if (!l->terminated)
		return tg_error_set(err, -EBADMSG,
		                    "%s:%" PRIu64 ": torn last line (%zu bytes without a newline)",
		                    r->path, l->lineno, l->len);
	json_error_t jerr;
	json_t *j = json_loadb(l->data, l->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return tg_error_set(err, -EBADMSG, "%s:%" PRIu64 ": not a JSON object%s%s", r->path,
		                    l->lineno, j ? "" : ": ", j ? "" : jerr.text);
	}
	*ret_record = j;
	if (ret_line)
		*ret_line = l->lineno;
	return 1;
}

void tg_audit_parsed_clear(struct tg_audit_parsed *p)
{
	json_decref(p->obj);
	memset(p, 0, sizeof(*p));
}

int tg_audit_parse_line(const char *line, size_t len, struct tg_audit_parsed *ret,
                        const char **ret_why)
{
	struct tg_audit_parsed p = {0};
	if (!tg_audit_split_line(line, len, &p.body_len, p.hash)) {
		*ret_why = "does not end with the \"hash\" member";
		return -EBADMSG;
	}
	json_error_t jerr;
	_cleanup_json_ json_t *o =
	        json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!o || !json_is_object(o)) {
		*ret_why = "not a JSON object";
		return -EBADMSG;
	}
	/* The member a JSON parser sees must be the very bytes we hash by
	 * position; duplicates were rejected above. */
	const json_t *h = json_object_get(o, "hash");
	if (!json_is_string(h) || strcmp(json_string_value(h), p.hash) != 0) {
		*ret_why = "\"hash\" member does not match the line's tail";
		return -EBADMSG;
	}
	const json_t *seq = json_object_get(o, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
		*ret_why = "missing or bad \"seq\" (a positive integer)";
		return -EBADMSG;
	}
	const json_t *tm = json_object_get(o, "time"), *ev = json_object_get(o, "event");
	const json_t *ses = json_object_get(o, "session"), *prev = json_object_get(o, "prev");
	if (!json_is_string(tm) || !json_is_string(ev) || !json_is_string(ses)) {
		*ret_why = "missing \"time\", \"event\" or \"session\"";
		return -EBADMSG;
	}
	if (!json_is_string(prev) ||
	    !tg_audit_is_hex64(json_string_value(prev), json_string_length(prev))) {
		*ret_why = "missing or bad \"prev\" (64 lowercase hex digits)";
		return -EBADMSG;
	}
	const json_t *mac = json_object_get(o, "mac");
	if (mac) {
		if (!json_is_string(mac) ||
		    strcmp(json_string_value(mac), TG_AUDIT_MAC_HMAC) != 0) {
			*ret_why = "unknown \"mac\" (only \"hmac-sha256\" is defined)";
			return -EBADMSG;
		}
		p.keyed = true;
	}
	p.seq = (uint64_t)json_integer_value(seq);
	p.event = json_string_value(ev);
	p.session = json_string_value(ses);
	p.prev = json_string_value(prev);
	p.obj = steal_pointer(&o);
	*ret = p;
	return 0;
}
