#include "fcore/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcore/arena.h"
#include "fcore/xalloc.h"

struct span
span_from_cstr(const char *s)
{
	return span_make(s, s ? strlen(s) : 0);
}

bool
span_eq(struct span a, struct span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
span_eq_cstr(struct span a, const char *s)
{
	return span_eq(a, span_from_cstr(s));
}

bool
span_caseeq_cstr(struct span a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && (n == 0 || strncasecmp((const char *)a.p, s, n) == 0);
}

bool
span_has_prefix_ci(struct span a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && (n == 0 || strncasecmp((const char *)a.p, prefix, n) == 0);
}

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct span
span_trim(struct span s)
{
	while (s.len > 0 && is_wsp(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && is_wsp(s.p[s.len - 1]))
		s.len--;
	return s;
}

ptrdiff_t
span_find(struct span hay, struct span needle)
{
	if (needle.len == 0)
		return 0;
	/* Also keeps an empty hay's NULL pointer away from memmem(). */
	if (needle.len > hay.len)
		return -1;
	const void *p = memmem(hay.p, hay.len, needle.p, needle.len);
	return p ? (const uint8_t *)p - hay.p : -1;
}

ptrdiff_t
span_find_byte(struct span hay, uint8_t c)
{
	const void *p = hay.len ? memchr(hay.p, c, hay.len) : NULL;
	return p ? (const uint8_t *)p - hay.p : -1;
}

struct span
span_sub(struct span s, size_t off, size_t len)
{
	if (off > s.len)
		off = s.len;
	if (len > s.len - off)
		len = s.len - off;
	return span_make(s.p + off, len);
}

void
buf_init(struct buf *b, struct arena *arena)
{
	memset(b, 0, sizeof(*b));
	b->arena = arena;
}

void
buf_deinit(struct buf *b)
{
	if (b->arena == NULL)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
}

bool
buf_reserve(struct buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra < b->cap - b->len)
		return true;
	/* +1 keeps room for buf_cstr()'s terminator. */
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	size_t want = b->len + extra + 1;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < want)
		ncap *= 2;
	if (b->arena != NULL) {
		uint8_t *p = arena_realloc(b->arena, b->data, b->cap, ncap);
		if (p == NULL) {
			b->failed = true;
			return false;
		}
		b->data = p;
	} else {
		b->data = xrealloc(b->data, ncap);
	}
	b->cap = ncap;
	return true;
}

bool
buf_append(struct buf *b, const void *p, size_t len)
{
	if (len == 0)
		return !b->failed;
	if (!buf_reserve(b, len))
		return false;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return true;
}

bool
buf_append_span(struct buf *b, struct span s)
{
	return buf_append(b, s.p, s.len);
}

bool
buf_append_cstr(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool
buf_append_byte(struct buf *b, uint8_t c)
{
	if (!buf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	return true;
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n + 1))
		return false;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

const char *
buf_cstr(struct buf *b)
{
	/* reserve(0) asks for the terminator's byte only: asking for one more
	 * would mark a buffer at the arena budget "failed" although nothing was
	 * lost. */
	if (!buf_reserve(b, 0)) {
		if (b->data == NULL)
			return "";
		if (b->len == b->cap)
			b->len--; /* truncated buffer: sacrifice one byte for the terminator */
	}
	b->data[b->len] = '\0';
	return (const char *)b->data;
}
