/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated vectors of owned strings. */
#include <string.h>

#include "tg.h"

void tg_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t tg_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int tg_strv_push_take(char ***v, char *s)
{
	if (!s)
		return -ENOMEM;
	size_t n = tg_strv_len(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(char *));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[n] = s;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

int tg_strv_push(char ***v, const char *s)
{
	return tg_strv_push_take(v, strdup(s));
}

char **tg_strv_dup(char *const *v)
{
	if (!v)
		return NULL;
	size_t n = tg_strv_len(v);
	char **out = calloc(n + 1, sizeof(char *));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			tg_strv_free(out);
			return NULL;
		}
	}
	return out;
}

char *tg_strdup_printf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}
