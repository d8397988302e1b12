/*
 * numfmt.c - see numfmt.h.
 */
#include "fcore/numfmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fcore/buf.h"

size_t
fmt_ulong(char *out, unsigned long long v)
{
	char rev[24];
	size_t n = 0;
	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return n;
}

size_t
fmt_long(char *out, long long v)
{
	if (v >= 0)
		return fmt_ulong(out, (unsigned long long)v);
	out[0] = '-';
	/* the magnitude of LLONG_MIN does not fit a long long */
	return 1 + fmt_ulong(out + 1, 0ULL - (unsigned long long)v);
}

/*
 * Below 10^6 with at most three decimals, a * 10^d is within 10^-7 of its
 * exact value (one rounding of a product under 10^9), so a fraction more
 * than 10^-6 away from one half rounds the way the exact value does;
 * closer, printf's exact reading decides.
 */
static bool
fixed_fast(char *out, size_t *len, double v, int decimals)
{
	static const double scale[] = { 1.0, 10.0, 100.0, 1000.0 };
	static const unsigned long long iscale[] = { 1, 10, 100, 1000 };
	double a = fabs(v);
	if (decimals < 0 || decimals > 3 || !(a < 1e6))
		return false;
	double x = a * scale[decimals];
	double whole = floor(x), frac = x - whole;
	if (fabs(frac - 0.5) <= 1e-6)
		return false;
	unsigned long long k = (unsigned long long)whole + (frac > 0.5);
	size_t n = 0;
	if (signbit(v))
		out[n++] = '-';
	n += fmt_ulong(out + n, k / iscale[decimals]);
	if (decimals > 0) {
		unsigned long long f = k % iscale[decimals];
		out[n++] = '.';
		for (int i = decimals - 1; i >= 0; i--) {
			out[n + (size_t)i] = (char)('0' + f % 10);
			f /= 10;
		}
		n += (size_t)decimals;
	}
	out[n] = '\0';
	*len = n;
	return true;
}

size_t
fmt_fixed(char *out, double v, int decimals)
{
	size_t n;
	if (fixed_fast(out, &n, v, decimals))
		return n;
	int w = snprintf(out, NUMFMT_MAX, "%.*f", decimals, v);
	if (w < 0) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)w < NUMFMT_MAX ? (size_t)w : NUMFMT_MAX - 1;
}

bool
buf_append_fixed(struct buf *b, double v, int decimals)
{
	char t[NUMFMT_MAX];
	size_t n = fmt_fixed(t, v, decimals);
	return buf_append(b, t, n);
}
