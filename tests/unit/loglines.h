/* SPDX-License-Identifier: Apache-2.0 */
/* loglines.h - a log file as lines, for tests that damage logs the way an
 * attacker with write access would: read_lines, write_lines (a range),
 * free_lines, and put_bytes to write or append raw bytes. Header-only for
 * tests; include it after cmocka.h. */
#ifndef TG_TEST_LOGLINES_H
#define TG_TEST_LOGLINES_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"

static inline void put_bytes(const char *path, const char *s, size_t n, bool append)
{
	_cleanup_close_ int fd =
	        open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, s, n), 0);
}

struct lines {
	char *v[512];
	size_t n;
};

/* Each line keeps its '\n' (the last one may have none). */
static inline void read_lines(const char *path, struct lines *l)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(path, 1 << 22, &buf, &len), 0);
	l->n = 0;
	for (char *p = buf; p < buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(buf + len - p);
		assert_true(l->n < 512);
		l->v[l->n++] = strndup(p, n);
		p += n;
	}
}

/* Lines [from, to) of l make up the file. */
static inline void write_lines(const char *path, const struct lines *l, size_t from, size_t to)
{
	put_bytes(path, "", 0, false);
	for (size_t i = from; i < to && i < l->n; i++)
		put_bytes(path, l->v[i], strlen(l->v[i]), true);
}

static inline void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

#endif /* TG_TEST_LOGLINES_H */
