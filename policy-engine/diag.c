/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics: every problem in a policy, with its position and key path, so
 * `policy check` can list them all at once in "FILE:LINE:COL: key: message"
 * form (the form editors and CI annotators understand). */
#include <stdarg.h>
#include <string.h>

#include "internal.h"

void tg_diags_clear(struct tg_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].file);
		free(d->items[i].key);
		free(d->items[i].msg);
	}
	free(d->items);
	d->items = NULL;
	d->count = 0;
}

char *tg_diag_format(const struct tg_diag *d)
{
	const char *file = d->file ? d->file : "<policy>";
	bool key = d->key && *d->key;
	if (d->line == 0)
		return key ? tg_strdup_printf("%s: %s: %s", file, d->key, d->msg)
		           : tg_strdup_printf("%s: %s", file, d->msg);
	return key ? tg_strdup_printf("%s:%u:%u: %s: %s", file, d->line, d->col, d->key, d->msg)
	           : tg_strdup_printf("%s:%u:%u: %s", file, d->line, d->col, d->msg);
}

static void add(struct tgp_ctx *c, unsigned line, unsigned col, const char *key, const char *fmt,
                va_list ap) __attribute__((format(printf, 5, 0)));
static void add(struct tgp_ctx *c, unsigned line, unsigned col, const char *key, const char *fmt,
                va_list ap)
{
	c->n_errors++;
	if (c->diags.count >= TGP_MAX_ERRORS)
		return;
	struct tg_diag d = {.line = line, .col = col};
	d.file = strdup(c->file ? c->file : "<policy>");
	d.key = strdup(key ? key : "");
	if (c->diags.count + 1 == TGP_MAX_ERRORS)
		d.msg = strdup("too many errors; stopping here");
	else if (vasprintf(&d.msg, fmt, ap) < 0)
		d.msg = NULL;
	struct tg_diag *items = realloc(c->diags.items, (c->diags.count + 1) * sizeof(*items));
	if (!d.file || !d.key || !d.msg || !items) {
		free(d.file);
		free(d.key);
		free(d.msg);
		if (items)
			c->diags.items = items;
		c->oom = true;
		return;
	}
	c->diags.items = items;
	c->diags.items[c->diags.count++] = d;
}

void tgp_error_at(struct tgp_ctx *c, unsigned line, unsigned col, const char *key, const char *fmt,
                  ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(c, line, col, key, fmt, ap);
	va_end(ap);
}

void tgp_error(struct tgp_ctx *c, const struct tgp_node *n, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(c, n ? n->line : 0, n ? n->col : 0, key, fmt, ap);
	va_end(ap);
}

static int cmp_diag(const void *a, const void *b)
{
	const struct tg_diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

void tgp_diags_finish(struct tgp_ctx *c, struct tg_diags *out)
{
	/* Insertion sort: stable (the stages report a node's problems in a
	 * meaningful order) and the list is short. */
	struct tg_diag *v = c->diags.items;
	for (size_t i = 1; i < c->diags.count; i++) {
		struct tg_diag t = v[i];
		size_t j = i;
		while (j > 0 && cmp_diag(&v[j - 1], &t) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
	if (!out || c->diags.count == 0) {
		tg_diags_clear(&c->diags);
		return;
	}
	struct tg_diag *items =
	        realloc(out->items, (out->count + c->diags.count + 1) * sizeof(*items));
	if (!items) {
		tg_diags_clear(&c->diags);
		return;
	}
	memcpy(items + out->count, c->diags.items, c->diags.count * sizeof(*items));
	out->items = items;
	out->count += c->diags.count;
	free(c->diags.items);
	c->diags.items = NULL;
	c->diags.count = 0;
}

const char *tgp_key(char *buf, const char *parent, const char *child)
{
	if (!parent || !*parent)
		snprintf(buf, TGP_KEY_MAX, "%s", child);
	else
		snprintf(buf, TGP_KEY_MAX, "%s.%s", parent, child);
	return buf;
}

const char *tgp_key_index(char *buf, const char *parent, size_t i)
{
	snprintf(buf, TGP_KEY_MAX, "%s[%zu]", parent ? parent : "", i);
	return buf;
}
