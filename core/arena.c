/*
 * arena.c - bump allocator in growing chunks, with a byte budget.
 *
 * Normal builds carve allocations out of chunks (first 8 KiB, doubling up to
 * 1 MiB; a large request gets a chunk of its own). ARENA_DEBUG builds
 * malloc() every allocation and keep a list, so AddressSanitizer reports an
 * overflow of any single object; the arena's semantics stay the same.
 */
#include "fcore/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/xalloc.h"

#define ARENA_ALIGN (sizeof(max_align_t))
#define ARENA_FIRST_CHUNK 8192
#define ARENA_MAX_CHUNK (1u << 20)
/* Past this, align_up() or the chunk header would wrap size_t; no real
 * request comes near it, but an unbudgeted arena must still refuse it rather
 * than hand out a short chunk. */
#define ARENA_MAX_ALLOC (SIZE_MAX / 2)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	max_align_t data[]; /* aligned payload */
};

struct arena_dtor {
	struct arena_dtor *next;
	arena_dtor_fn fn;
	void *data;
};

struct arena {
	struct arena_chunk *chunks;
	struct arena_dtor *dtors;
	size_t budget;
	size_t used;
	size_t next_chunk;
	size_t fail_after;
	bool exhausted;
	void *last;      /* last allocation, for in-place realloc */
	size_t last_size;
};

#ifndef ARENA_DEBUG
static size_t
align_up(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}
#endif

struct arena *
arena_new(size_t budget)
{
	struct arena *a = xcalloc(1, sizeof(*a));
	a->budget = budget;
	a->next_chunk = ARENA_FIRST_CHUNK;
	return a;
}

void
arena_free(struct arena **ap)
{
	struct arena *a = *ap;
	if (a == NULL)
		return;
	struct arena_dtor *d = a->dtors;
	while (d != NULL) {
		struct arena_dtor *next = d->next;
		d->fn(d->data);
		free(d);
		d = next;
	}
	struct arena_chunk *c = a->chunks;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
	*ap = NULL;
}

static bool
charge(struct arena *a, size_t size)
{
	if (a->fail_after != 0 && --a->fail_after == 0) {
		a->exhausted = true;
		return false;
	}
	if (a->budget != 0 && (size > a->budget || a->used > a->budget - size)) {
		a->exhausted = true;
		return false;
	}
	a->used += size;
	return true;
}

#ifdef ARENA_DEBUG
void *
arena_alloc(struct arena *a, size_t size)
{
	if (size > ARENA_MAX_ALLOC) {
		a->exhausted = true;
		return NULL;
	}
	if (!charge(a, size))
		return NULL;
	struct arena_chunk *c = xmalloc(sizeof(*c) + (size ? size : 1));
	c->size = size;
	c->used = size;
	c->next = a->chunks;
	a->chunks = c;
	a->last = c->data;
	a->last_size = size;
	return c->data;
}
#else
void *
arena_alloc(struct arena *a, size_t size)
{
	if (size > ARENA_MAX_ALLOC) {
		a->exhausted = true;
		return NULL;
	}
	size_t need = align_up(size ? size : 1);
	if (!charge(a, size))
		return NULL;
	struct arena_chunk *c = a->chunks;
	if (c == NULL || c->size - c->used < need) {
		size_t csize = a->next_chunk;
		if (need > csize / 4) {
			csize = need; /* big object: own chunk, keep the current one open */
		} else if (a->next_chunk < ARENA_MAX_CHUNK) {
			a->next_chunk *= 2;
		}
		struct arena_chunk *nc = xmalloc(sizeof(*nc) + csize);
		nc->size = csize;
		nc->used = 0;
		if (csize == need && c != NULL) {
			nc->next = c->next;
			c->next = nc;
			nc->used = need;
			a->last = NULL;
			return nc->data;
		}
		nc->next = c;
		a->chunks = nc;
		c = nc;
	}
	void *p = (char *)c->data + c->used;
	c->used += need;
	a->last = p;
	a->last_size = need;
	return p;
}
#endif

void *
arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

void *
arena_array(struct arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		a->exhausted = true;
		return NULL;
	}
	return arena_alloc(a, n * size);
}

void *
arena_realloc(struct arena *a, void *old, size_t old_size, size_t new_size)
{
	if (old == NULL)
		return arena_alloc(a, new_size);
	if (new_size <= old_size)
		return old;
#ifndef ARENA_DEBUG
	struct arena_chunk *c = a->chunks;
	size_t need = align_up(new_size);
	if (old == a->last && c != NULL && (char *)old + a->last_size == (char *)c->data + c->used &&
	    need >= new_size && c->size - (c->used - a->last_size) >= need) {
		if (!charge(a, new_size - old_size))
			return NULL;
		c->used = c->used - a->last_size + need;
		a->last_size = need;
		return old;
	}
#endif
	void *p = arena_alloc(a, new_size);
	if (p != NULL)
		memcpy(p, old, old_size);
	return p;
}

void *
arena_memdup(struct arena *a, const void *p, size_t len)
{
	void *d = arena_alloc(a, len);
	if (d != NULL && len)
		memcpy(d, p, len);
	return d;
}

char *
arena_strndup(struct arena *a, const void *p, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	char *d = arena_alloc(a, len + 1);
	if (d == NULL)
		return NULL;
	if (len)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *d = arena_alloc(a, (size_t)n + 1);
	if (d == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

void
arena_add_destructor(struct arena *a, arena_dtor_fn fn, void *data)
{
	/* Heap, not arena: a destructor must be recorded even past the budget. */
	struct arena_dtor *d = xmalloc(sizeof(*d));
	d->fn = fn;
	d->data = data;
	d->next = a->dtors;
	a->dtors = d;
}

bool
arena_exhausted(const struct arena *a)
{
	return a->exhausted;
}

size_t
arena_bytes_used(const struct arena *a)
{
	return a->used;
}

void
arena_fail_after(struct arena *a, size_t n)
{
	a->fail_after = n;
}
