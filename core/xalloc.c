#include "fcore/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/log.h"

static void *
check(void *p, size_t size)
{
	if (p == NULL && size != 0)
		log_fatal("out of memory allocating %zu bytes", size);
	return p;
}

void *
xmalloc(size_t size)
{
	return check(malloc(size ? size : 1), size);
}

void *
xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *
xrealloc(void *p, size_t size)
{
	return check(realloc(p, size ? size : 1), size);
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		log_fatal("allocation overflow: %zu * %zu", n, size);
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = xmalloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void *
xmemdup(const void *p, size_t len)
{
	void *d = xmalloc(len);
	if (len)
		memcpy(d, p, len);
	return d;
}
