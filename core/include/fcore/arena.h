/*
 * arena - per-task (and per-connection, per-config) memory.
 *
 * Everything a scan allocates comes from one arena and is released at once by
 * arena_free(). There is no per-object free. An arena has a byte budget: past
 * it, arena_alloc() returns NULL and arena_exhausted() turns true, so a
 * decompression bomb becomes "limit hit, partial scan" rather than an OOM.
 *
 * Built with ARENA_DEBUG (the sanitizer and fuzz builds), every allocation is
 * a separate malloc() so AddressSanitizer sees each object's bounds.
 *
 * Destructors let foreign resources (iconv handles, PCRE2 match data, SQLite
 * statements) join the arena's lifetime; they run in reverse order of
 * registration, before the memory goes.
 */
#ifndef FCORE_ARENA_H
#define FCORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* budget: maximum bytes handed out over the arena's life; 0 = no budget. */
struct arena *arena_new(size_t budget);
void arena_free(struct arena **ap);

/* Aligned to max_align_t. Returns NULL only when the budget is exhausted. */
void *arena_alloc(struct arena *a, size_t size);
void *arena_zalloc(struct arena *a, size_t size);
/* n * size with overflow check; NULL on overflow or exhausted budget. */
void *arena_array(struct arena *a, size_t n, size_t size);
/* Grows the last allocation in place when possible, else copies. */
void *arena_realloc(struct arena *a, void *old, size_t old_size, size_t new_size);
void *arena_memdup(struct arena *a, const void *p, size_t len);
/* NUL-terminated copy of len bytes (for APIs that need a C string). */
char *arena_strndup(struct arena *a, const void *p, size_t len);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef void (*arena_dtor_fn)(void *data);
void arena_add_destructor(struct arena *a, arena_dtor_fn fn, void *data);

bool arena_exhausted(const struct arena *a);
size_t arena_bytes_used(const struct arena *a);

/* Test hook: make the nth allocation from now fail (0 = never). */
void arena_fail_after(struct arena *a, size_t n);

#define ARENA_NEW(a, type) ((type *)arena_zalloc((a), sizeof(type)))
#define ARENA_NEW_ARRAY(a, type, n) ((type *)arena_array((a), (n), sizeof(type)))

#endif
