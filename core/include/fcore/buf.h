/*
 * buf / span - length-carrying byte strings for mail data.
 *
 * struct span borrows: it points into someone else's bytes (usually the raw
 * message) and is valid as long as those bytes are. struct buf owns a
 * growable byte array, either on the heap (arena == NULL) or in an arena.
 * Neither is NUL-terminated by contract; buf_cstr() adds a terminator that is
 * not counted in len, for APIs that need one.
 */
#ifndef FCORE_BUF_H
#define FCORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

struct span {
	const uint8_t *p;
	size_t len;
};

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct arena *arena; /* NULL: heap, freed by buf_deinit() */
	bool failed;         /* an append hit the arena budget; content is truncated */
};

#define SPAN_LIT(s) ((struct span){ (const uint8_t *)(s), sizeof(s) - 1 })
#define SPAN_FMT(s) (int)(s).len, (const char *)(s).p

static inline struct span
span_make(const void *p, size_t len)
{
	return (struct span){ (const uint8_t *)p, len };
}

struct span span_from_cstr(const char *s);
bool span_eq(struct span a, struct span b);
bool span_eq_cstr(struct span a, const char *s);
bool span_caseeq_cstr(struct span a, const char *s);
bool span_has_prefix_ci(struct span a, const char *prefix);
struct span span_trim(struct span s);
/* Index of the first occurrence of needle, or -1. */
ptrdiff_t span_find(struct span hay, struct span needle);
ptrdiff_t span_find_byte(struct span hay, uint8_t c);
struct span span_sub(struct span s, size_t off, size_t len);

void buf_init(struct buf *b, struct arena *arena);
void buf_deinit(struct buf *b);
void buf_reset(struct buf *b);
bool buf_reserve(struct buf *b, size_t extra);
bool buf_append(struct buf *b, const void *p, size_t len);
bool buf_append_span(struct buf *b, struct span s);
bool buf_append_cstr(struct buf *b, const char *s);
bool buf_append_byte(struct buf *b, uint8_t c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates (not counted in len) and returns data as char *. */
const char *buf_cstr(struct buf *b);

static inline struct span
buf_span(const struct buf *b)
{
	return (struct span){ b->data, b->len };
}

#endif
