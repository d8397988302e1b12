/*
 * utf8.c - see fcore/utf8.h.
 */
#include "fcore/utf8.h"

#include <stdint.h>

/* Length of the UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
utf8_valid(struct span s, size_t *bad_r)
{
	size_t i = 0;
	while (i < s.len) {
		size_t n = utf8_seq(s.p + i, s.len - i);
		if (n == 0) {
			if (bad_r != NULL)
				*bad_r = i;
			return false;
		}
		i += n;
	}
	return true;
}
