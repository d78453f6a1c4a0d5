/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JSON into a growable buffer, byte for byte what jansson's
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) writes for the same values:
 * '"', '\\' and the controls below 0x20 escaped ("\b\f\n\r\t", the rest as
 * \u00XX with upper-case hex), everything else (UTF-8, '/', 0x7f) as is.
 * A unit test compares the two on hostile strings.
 *
 * Why not jansson itself: building a json_t per member and dumping it was
 * most of the append path's CPU (allocations, vfprintf for every integer);
 * the record's bytes, and so the format, are the same either way.
 */
#include <string.h>

#include "internal.h"

static bool reserve(struct tg_audit_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t ncap = b->cap ? b->cap : 1024;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	char *nd = realloc(b->data, ncap);
	if (!nd) {
		b->oom = true;
		return false;
	}
	b->data = nd;
	b->cap = ncap;
	return true;
}

void tg_audit_buf_free(struct tg_audit_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void tg_audit_buf_raw(struct tg_audit_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void tg_audit_buf_key(struct tg_audit_buf *b, const char *key)
{
	size_t n = strlen(key);
	if (!reserve(b, n + 4))
		return;
	char *o = b->data + b->len;
	/* A member after another one needs a comma; the first one of an
	 * object or array does not. */
	if (b->len > 0 && o[-1] != '{' && o[-1] != '[')
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid: the
 * same rule as jansson's (no overlong forms, no surrogates, <= U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < need + 1)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need + 1;
}

void tg_audit_buf_strn(struct tg_audit_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	/* Worst case: every byte a 6-byte \u escape, or an invalid byte that
	 * becomes the 3 bytes of U+FFFD. */
	if (!reserve(b, 6 * n + 2))
		return;
	char *o = b->data + b->len;
	const unsigned char *p = (const unsigned char *)s;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			/* Text from outside (a reason quoting a bad value) may
			 * not be UTF-8; it must not make the record unwritable,
			 * so each invalid byte becomes U+FFFD. */
			size_t l = utf8_seq_len(p + i, n - i);
			if (l == 0) {
				memcpy(o, "\xEF\xBF\xBD", 3);
				o += 3;
				i++;
			} else {
				memcpy(o, p + i, l);
				o += l;
				i += l;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
			break;
		}
		i++;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

void tg_audit_buf_str(struct tg_audit_buf *b, const char *s)
{
	tg_audit_buf_strn(b, s, strlen(s));
}

size_t tg_audit_fmt_u64(char out[21], uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

void tg_audit_buf_int(struct tg_audit_buf *b, int64_t v)
{
	char d[22];
	size_t n = 0;
	/* negate in unsigned arithmetic: INT64_MIN has no positive twin */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		d[n++] = '-';
	n += tg_audit_fmt_u64(d + n, u);
	tg_audit_buf_raw(b, d, n);
}

void tg_audit_buf_uint(struct tg_audit_buf *b, uint64_t v)
{
	/* JSON integers here are below 2^63 (docs/audit.md). */
	tg_audit_buf_int(b, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

void tg_audit_buf_bool(struct tg_audit_buf *b, bool v)
{
	if (v)
		tg_audit_buf_raw(b, "true", 4);
	else
		tg_audit_buf_raw(b, "false", 5);
}

void tg_audit_buf_strv(struct tg_audit_buf *b, char *const *v)
{
	tg_audit_buf_raw(b, "[", 1);
	for (size_t i = 0; v[i]; i++) {
		if (i)
			tg_audit_buf_raw(b, ",", 1);
		tg_audit_buf_str(b, v[i]);
	}
	tg_audit_buf_raw(b, "]", 1);
}

int tg_audit_buf_json(struct tg_audit_buf *b, const json_t *v)
{
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	size_t room = b->cap > b->len ? b->cap - b->len - 1 : 0;
	size_t n = b->oom ? 0 : json_dumpb(v, b->data ? b->data + b->len : NULL, room, flags);
	if (n == 0)
		return -ENOMEM;
	if (n > room) {
		/* json_dumpb said how much it needs and wrote nothing */
		if (!reserve(b, n))
			return -ENOMEM;
		if (json_dumpb(v, b->data + b->len, n, flags) != n)
			return -EIO;
	}
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}
