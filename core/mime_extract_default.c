/*
 * mime_extract_default.c - fallback for mime_extract() (see mime.h).
 *
 * core/extract.c provides the real step (HTML rendering, URLs, e-mail
 * addresses, words). This weak definition keeps the parser linkable without
 * it. It lives in its own object, sorted after extract.o in libfcore.a, so
 * that when both exist the static link resolves mime_parse()'s reference to
 * the strong definition first: a weak definition inside mime_parse.o itself
 * would satisfy the reference and extract.o would never be pulled in.
 */
#include "fcore/mime.h"

__attribute__((weak)) void
mime_extract(struct arena *a, struct mime_message *m, const struct mime_limits *limits)
{
	/* text/plain parts already carry their text; HTML stays unrendered */
	(void)a;
	(void)m;
	(void)limits;
}
