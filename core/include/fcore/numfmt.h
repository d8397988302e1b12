/*
 * numfmt - numbers as text without printf on the per-message path.
 *
 * A reply, its result header and the log line hold dozens of scores;
 * printf's float formatting was 3 % of a worker's CPU under load. These
 * write exactly what printf would, and hand the rare value they cannot
 * settle cheaply (a decimal tie, huge or not finite) to snprintf.
 */
#ifndef FCORE_NUMFMT_H
#define FCORE_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Room for any output of the functions below, terminator included. */
#define NUMFMT_MAX 352

/* Decimal digits of v, NUL-terminated; returns the length. */
size_t fmt_ulong(char *out, unsigned long long v);
size_t fmt_long(char *out, long long v);
/* As snprintf(out, NUMFMT_MAX, "%.*f", decimals, v) for 0 <= decimals <= 3. */
size_t fmt_fixed(char *out, double v, int decimals);
/* Appends fmt_fixed()'s text; false when the buffer failed. */
bool buf_append_fixed(struct buf *b, double v, int decimals);

#endif
