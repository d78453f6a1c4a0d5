/* SPDX-License-Identifier: Apache-2.0 */
/* srcdir.h - where the source tree is, for unit tests that read its files
 * (tests/policies/...): TG_SRC_DIR from ctest, else three levels up from
 * this header. Header-only for tests. */
#ifndef TG_TEST_SRCDIR_H
#define TG_TEST_SRCDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *src_dir(void)
{
	static char dir[512];
	const char *s = getenv("TG_SRC_DIR");
	if (s)
		return s;
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
	}
	return dir;
}

#endif /* TG_TEST_SRCDIR_H */
