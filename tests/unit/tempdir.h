/* SPDX-License-Identifier: Apache-2.0 */
/* tempdir.h - one private temporary directory per unit test program:
 * tempdir_make() in a cmocka setup, tempdir_remove() in its teardown,
 * path_of() for a file in it (caller frees). Header-only for tests. */
#ifndef TG_TEST_TEMPDIR_H
#define TG_TEST_TEMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif /* TG_TEST_TEMPDIR_H */
