/*
 * extract-private.h - UTF-8 helpers shared by html.c, url.c and words.c only.
 */
#ifndef FCORE_EXTRACT_PRIVATE_H
#define FCORE_EXTRACT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Writes cp as UTF-8 into out (room for 4 bytes); returns the byte count.
 * Surrogates and values past U+10FFFF become U+FFFD. */
static inline size_t
utf8_put(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = UTF8_REPLACEMENT;
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decodes one code point at p (n > 0 bytes available). Returns its length in
 * bytes (>= 1) and the code point in *cp_r; an invalid or truncated sequence
 * yields length 1 and U+FFFD, so callers always make progress.
 */
static inline size_t
utf8_get(const uint8_t *p, size_t n, uint32_t *cp_r)
{
	uint8_t c = p[0];
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	size_t len;
	uint32_t cp, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		*cp_r = UTF8_REPLACEMENT;
		return 1;
	}
	if (n < len) {
		*cp_r = UTF8_REPLACEMENT;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*cp_r = UTF8_REPLACEMENT;
			return 1;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		*cp_r = UTF8_REPLACEMENT;
		return 1;
	}
	*cp_r = cp;
	return len;
}

static inline uint8_t
ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

#endif
