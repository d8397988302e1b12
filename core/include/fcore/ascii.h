/*
 * ascii - locale-free byte classes for protocol and mail parsing.
 * <ctype.h> depends on the locale and is undefined for negative chars;
 * these take bytes and mean ASCII only.
 */
#ifndef FCORE_ASCII_H
#define FCORE_ASCII_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
ascii_is_alpha(uint8_t c)
{
	return (uint8_t)((c | 0x20) - 'a') < 26;
}

static inline bool
ascii_is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

static inline bool
ascii_is_alnum(uint8_t c)
{
	return ascii_is_alpha(c) || ascii_is_digit(c);
}

/* Value of a hex digit, -1 for anything else. */
static inline int
ascii_hexval(uint8_t c)
{
	if (ascii_is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif
