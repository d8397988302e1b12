/*
 * xalloc - heap allocation that succeeds or does not return.
 *
 * A process that cannot get memory logs and exits; the supervisor restarts
 * it. Callers therefore never test for NULL.
 */
#ifndef FCORE_XALLOC_H
#define FCORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t len);

#endif
