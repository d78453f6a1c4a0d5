/* SPDX-License-Identifier: Apache-2.0 */
/* tempdir.h - one private temporary directory per unit test program:
 * tempdir_make() in a cmocka setup, tempdir_remove() in its teardown,
 * path_of() for a file in it (caller frees), put_file() to write one.
 * Header-only for tests; include it after cmocka.h. */
#ifndef TG_TEST_TEMPDIR_H
#define TG_TEST_TEMPDIR_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tg.h"

static char dir[64];

static int tempdir_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Make /tmp/tg-NAME-XXXXXX; 0 or -1. */
static inline int tempdir_make(const char *name)
{
	snprintf(dir, sizeof(dir), "/tmp/tg-%s-XXXXXX", name);
	return mkdtemp(dir) ? 0 : -1;
}

static inline int tempdir_remove(void)
{
	return nftw(dir, tempdir_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static inline char *path_of(const char *name)
{
	return tg_strdup_printf("%s/%s", dir, name);
}

/* Write s (whole) to path, replacing it. */
static inline void put_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(tg_write_all(fd, s, strlen(s)), 0);
}

#endif /* TG_TEST_TEMPDIR_H */
