/*
 * cfg_value.c - scalar converters for configuration values: integers,
 * decimals, booleans, sizes ("50M"), durations ("500ms", "8s", "2d") and
 * network addresses. Each takes the exact bytes of one scalar and either
 * accepts all of them or fails; nothing is trimmed or partially read, so
 * "8 s" and "50MB" are errors rather than silently 8 and 50.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg-private.h"

/* Longer scalars are never valid numbers or addresses; the cap keeps the
 * NUL-terminated copies below on the stack. */
#define CFG_VALUE_MAX 64

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

bool
cfg_value_uint(struct span s, uint64_t *out_r)
{
	if (s.len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (!is_digit(s.p[i]))
			return false;
		unsigned d = s.p[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out_r = v;
	return true;
}

bool
cfg_value_int(struct span s, int64_t *out_r)
{
	bool neg = s.len > 0 && s.p[0] == '-';
	uint64_t v;
	if (!cfg_value_uint(span_sub(s, neg ? 1 : 0, s.len), &v))
		return false;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out_r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return false;
		*out_r = (int64_t)v;
	}
	return true;
}

/* Copies a scalar to a C string for strtod(), refusing anything but the
 * characters of a plain decimal number (strtod would take "inf", "nan",
 * hex floats and leading blanks). */
static bool
decimal_cstr(struct span s, char *out, size_t outlen)
{
	if (s.len == 0 || s.len >= outlen)
		return false;
	bool digit = false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (is_digit(c))
			digit = true;
		else if (c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E')
			return false;
	}
	if (!digit)
		return false;
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

bool
cfg_value_double(struct span s, double *out_r)
{
	char tmp[CFG_VALUE_MAX];
	if (!decimal_cstr(s, tmp, sizeof(tmp)))
		return false;
	char *end;
	double v = strtod(tmp, &end);
	if (*end != '\0' || !isfinite(v))
		return false;
	*out_r = v;
	return true;
}

bool
cfg_value_bool(struct span s, bool *out_r)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	for (size_t i = 0; i < 3; i++) {
		if (span_caseeq_cstr(s, yes[i])) {
			*out_r = true;
			return true;
		}
		if (span_caseeq_cstr(s, no[i])) {
			*out_r = false;
			return true;
		}
	}
	return false;
}

bool
cfg_value_size(struct span s, uint64_t *out_r)
{
	uint64_t mult = 1;
	if (s.len > 0) {
		switch (s.p[s.len - 1]) {
		case 'k': case 'K': mult = CFG_KIB; break;
		case 'm': case 'M': mult = CFG_MIB; break;
		case 'g': case 'G': mult = CFG_GIB; break;
		default: break;
		}
		if (mult != 1)
			s.len--;
	}
	uint64_t v;
	if (!cfg_value_uint(s, &v) || v > UINT64_MAX / mult)
		return false;
	*out_r = v * mult;
	return true;
}

bool
cfg_value_duration(struct span s, double *out_r)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		/* "ms" before "s" and "m": the longest suffix wins. */
		{ "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	double mult = 1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].suffix);
		if (s.len > n && memcmp(s.p + s.len - n, units[i].suffix, n) == 0) {
			mult = units[i].mult;
			s.len -= n;
			break;
		}
	}
	double v;
	if (s.len > 0 && (s.p[0] == '-' || s.p[0] == '+'))
		return false;
	if (!cfg_value_double(s, &v) || v < 0)
		return false;
	v *= mult;
	if (!isfinite(v))
		return false;
	*out_r = v;
	return true;
}

static bool
to_cstr(struct span s, char *out, size_t outlen)
{
	if (s.len == 0 || s.len >= outlen || memchr(s.p, '\0', s.len) != NULL)
		return false;
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

bool
cfg_value_is_ipv4(struct span s)
{
	char tmp[CFG_VALUE_MAX];
	struct in_addr a4;
	return to_cstr(s, tmp, sizeof(tmp)) && inet_pton(AF_INET, tmp, &a4) == 1;
}

bool
cfg_value_is_cidr(struct span s)
{
	char tmp[CFG_VALUE_MAX];
	if (!to_cstr(s, tmp, sizeof(tmp)))
		return false;
	unsigned maxbits;
	char *slash = strchr(tmp, '/');
	if (slash != NULL)
		*slash = '\0';
	unsigned char addr[16];
	if (inet_pton(AF_INET, tmp, addr) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, tmp, addr) == 1)
		maxbits = 128;
	else
		return false;
	if (slash == NULL)
		return true;
	uint64_t bits;
	return cfg_value_uint(span_from_cstr(slash + 1), &bits) && bits <= maxbits;
}

bool
cfg_parse_size(const char *s, uint64_t *out_r)
{
	return s != NULL && cfg_value_size(span_from_cstr(s), out_r);
}

bool
cfg_parse_duration(const char *s, double *out_r)
{
	return s != NULL && cfg_value_duration(span_from_cstr(s), out_r);
}

void
cfg_value_size_str(uint64_t v, char *out, size_t outlen)
{
	if (v != 0 && v % CFG_GIB == 0)
		snprintf(out, outlen, "%lluG", (unsigned long long)(v / CFG_GIB));
	else if (v != 0 && v % CFG_MIB == 0)
		snprintf(out, outlen, "%lluM", (unsigned long long)(v / CFG_MIB));
	else if (v != 0 && v % CFG_KIB == 0)
		snprintf(out, outlen, "%lluk", (unsigned long long)(v / CFG_KIB));
	else
		snprintf(out, outlen, "%llu", (unsigned long long)v);
}

void
cfg_value_duration_str(double v, char *out, size_t outlen)
{
	static const struct {
		double secs;
		char unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v >= units[i].secs && fmod(v, units[i].secs) == 0) {
			snprintf(out, outlen, "%g%c", v / units[i].secs, units[i].unit);
			return;
		}
	}
	snprintf(out, outlen, "%gs", v);
}
