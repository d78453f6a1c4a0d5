/* SPDX-License-Identifier: Apache-2.0 */
/* The error object: a negative errno plus a message that gathers context. */
#include <string.h>

#include "tg.h"

static char *vformat(int code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static char *vformat(int code, const char *fmt, va_list ap)
{
	/* "%m" must describe the error being reported, not whatever errno the
	 * caller happens to hold by now. */
	int saved = errno;
	errno = code < 0 ? -code : code;
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	errno = saved;
	return s;
}

int tg_error_set(struct tg_error **err, int code, const char *fmt, ...)
{
	if (code >= 0)
		code = -EIO;
	if (!err || *err)
		return code;
	struct tg_error *e = calloc(1, sizeof(*e));
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	e->msg = vformat(code, fmt, ap);
	va_end(ap);
	if (!e->msg) {
		free(e);
		return code;
	}
	e->code = code;
	*err = e;
	return code;
}

int tg_error_wrap(struct tg_error **err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (!*err)
		return tg_error_set(err, -EIO, "%s", "unknown error");
	va_list ap;
	va_start(ap, fmt);
	char *ctx = vformat((*err)->code, fmt, ap);
	va_end(ap);
	if (ctx) {
		char *joined = NULL;
		if (asprintf(&joined, "%s: %s", ctx, (*err)->msg) >= 0) {
			free((*err)->msg);
			(*err)->msg = joined;
		}
		free(ctx);
	}
	return (*err)->code;
}

void tg_error_free(struct tg_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

const char *tg_error_msg(const struct tg_error *e)
{
	return e && e->msg ? e->msg : "unknown error";
}
