/* SPDX-License-Identifier: Apache-2.0 */
/* The policy arena: a loaded policy is immutable and freed as a whole, so its
 * hundreds of small strings and arrays live in a few chunks instead of each
 * needing an owner and a destructor. */
#include <stdarg.h>
#include <string.h>

#include "internal.h"

#define CHUNK_SIZE (16u * 1024u)
#define ALIGN      16u

struct tgp_chunk {
	struct tgp_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct tgp_defer {
	struct tgp_defer *next;
	void (*fn)(void *);
	void *ptr;
};

void *tgp_alloc(struct tgp_arena *a, size_t n)
{
	n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (n == 0)
		n = ALIGN;
	struct tgp_chunk *c = a->chunks;
	if (!c || c->cap - c->used < n) {
		/* Large blocks get a chunk of their own, kept behind the current
		 * one so its free space is not wasted. */
		size_t cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
		struct tgp_chunk *nc = malloc(sizeof(*nc) + cap);
		if (!nc)
			return NULL;
		nc->used = 0;
		nc->cap = cap;
		if (c && cap != CHUNK_SIZE) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->chunks = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

void *tgp_alloc_array(struct tgp_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return tgp_alloc(a, n * size);
}

char *tgp_strndup(struct tgp_arena *a, const char *s, size_t n)
{
	char *d = tgp_alloc(a, n + 1);
	if (d)
		memcpy(d, s, n);
	return d;
}

char *tgp_strdup(struct tgp_arena *a, const char *s)
{
	return s ? tgp_strndup(a, s, strlen(s)) : NULL;
}

char *tgp_printf(struct tgp_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = NULL;
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return NULL;
	return tgp_strndup(a, s, (size_t)r);
}

int tgp_arena_defer(struct tgp_arena *a, void (*fn)(void *), void *ptr)
{
	struct tgp_defer *d = tgp_alloc(a, sizeof(*d));
	if (!d) {
		fn(ptr);
		return -ENOMEM;
	}
	d->fn = fn;
	d->ptr = ptr;
	d->next = a->defers;
	a->defers = d;
	return 0;
}

void tgp_arena_free(struct tgp_arena *a)
{
	/* Destructors first: they may look at arena memory. */
	for (struct tgp_defer *d = a->defers; d; d = d->next)
		d->fn(d->ptr);
	a->defers = NULL;
	struct tgp_chunk *c = a->chunks;
	while (c) {
		struct tgp_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
}
