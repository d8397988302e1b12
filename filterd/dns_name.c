/*
 * dns_name.c - query names and answer mapping for DNS block lists.
 */
#include "dns_name.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Patterns come from the config; the limit keeps the backtracking of the
 * matcher (one level per quantifier) small whatever an admin writes. */
#define DNS_PATTERN_MAX 64

bool
dns_name_parse_ip(const char *text, struct in6_addr *a_r, bool *v4_r)
{
	struct in_addr v4;
	if (inet_pton(AF_INET, text, &v4) == 1) {
		memset(a_r, 0, sizeof(*a_r));
		a_r->s6_addr[10] = a_r->s6_addr[11] = 0xff;
		memcpy(&a_r->s6_addr[12], &v4, 4);
		*v4_r = true;
		return true;
	}
	if (inet_pton(AF_INET6, text, a_r) != 1)
		return false;
	*v4_r = IN6_IS_ADDR_V4MAPPED(a_r);
	return true;
}

/* Appends ".zone" (or "zone" when at is 0) and checks the total length. */
static size_t
append_zone(char *out, size_t outsz, size_t at, const char *zone)
{
	size_t zl = strlen(zone);
	while (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (zl == 0 || at + 1 + zl + 1 > outsz || at + 1 + zl > DNS_NAME_MAX - 1)
		return 0;
	out[at++] = '.';
	memcpy(out + at, zone, zl);
	at += zl;
	out[at] = '\0';
	return at;
}

size_t
dns_name_ip(char *out, size_t outsz, const struct in6_addr *a, bool v4, const char *zone)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[64 + 1];
	size_t n = 0;
	if (v4) {
		const uint8_t *b = &a->s6_addr[12];
		int w = snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
		n = w > 0 ? (size_t)w : 0;
	} else {
		for (int i = 15; i >= 0; i--) {
			tmp[n++] = hex[a->s6_addr[i] & 0x0f];
			tmp[n++] = '.';
			tmp[n++] = hex[a->s6_addr[i] >> 4];
			tmp[n++] = '.';
		}
		n--; /* the last dot: append_zone adds its own */
	}
	if (n == 0 || n >= outsz)
		return 0;
	memcpy(out, tmp, n);
	return append_zone(out, outsz, n, zone);
}

static bool
label_byte(uint8_t c)
{
	return isalnum(c) || c == '-' || c == '_';
}

size_t
dns_name_domain(char *out, size_t outsz, struct span d, const char *zone)
{
	if (d.len > 0 && d.p[d.len - 1] == '.')
		d.len--;
	if (d.len == 0 || d.len >= outsz || d.len > DNS_NAME_MAX - 1)
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < d.len; i++) {
		uint8_t c = d.p[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (!label_byte(c) || ++label > 63) {
			return 0;
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0)
		return 0;
	return append_zone(out, outsz, d.len, zone);
}

bool
dns_answer_is_refusal(uint32_t addr)
{
	return (addr & 0xffffff00u) == 0x7fffff00u;
}

bool
dns_answer_is_listing(uint32_t addr)
{
	return (addr >> 24) == 127 && !dns_answer_is_refusal(addr);
}

/* ---- Lua-style patterns ---------------------------------------------------- */

static bool
class_match(int c, int cl)
{
	bool r;
	switch (tolower(cl)) {
	case 'a': r = isalpha(c); break;
	case 'd': r = isdigit(c); break;
	case 'l': r = islower(c); break;
	case 'p': r = ispunct(c); break;
	case 's': r = isspace(c); break;
	case 'u': r = isupper(c); break;
	case 'w': r = isalnum(c); break;
	case 'x': r = isxdigit(c); break;
	default: return cl == c; /* %. and friends: the byte itself */
	}
	return isupper(cl) ? !r : r;
}

/* End of the single-character class at p, or NULL if malformed. */
static const char *
class_end(const char *p)
{
	if (*p == '%')
		return p[1] != '\0' ? p + 2 : NULL;
	if (*p != '[')
		return p + 1;
	p++;
	if (*p == '^')
		p++;
	do {
		if (*p == '\0')
			return NULL;
		if (*p++ == '%' && *p != '\0')
			p++;
	} while (*p != ']');
	return p + 1;
}

/* [set] between p ('[') and end (after ']'). */
static bool
set_match(int c, const char *p, const char *end)
{
	bool neg = p[1] == '^';
	p += neg ? 2 : 1;
	end--; /* the ']' */
	for (; p < end; p++) {
		if (*p == '%' && p + 1 < end) {
			p++;
			if (class_match(c, (unsigned char)*p))
				return !neg;
		} else if (p + 2 < end && p[1] == '-') {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return !neg;
			p += 2;
		} else if ((unsigned char)*p == c) {
			return !neg;
		}
	}
	return neg;
}

static bool
single_match(const char *s, const char *p, const char *end)
{
	int c = (unsigned char)*s;
	if (c == '\0')
		return false;
	switch (*p) {
	case '.': return true;
	case '%': return class_match(c, (unsigned char)p[1]);
	case '[': return set_match(c, p, end);
	default: return (unsigned char)*p == c;
	}
}

/* Recursion depth is bounded by the number of quantifiers in the pattern
 * (config, at most DNS_PATTERN_MAX bytes), never by the subject. */
static bool
match(const char *s, const char *p)
{
	while (*p != '\0') {
		const char *ep = class_end(p);
		if (ep == NULL)
			return false;
		switch (*ep) {
		case '?':
			if (single_match(s, p, ep) && match(s + 1, ep + 1))
				return true;
			p = ep + 1;
			continue;
		case '*':
		case '+': {
			size_t n = 0;
			while (single_match(s + n, p, ep))
				n++;
			size_t min = *ep == '+' ? 1 : 0;
			for (size_t i = n + 1; i-- > min;)
				if (match(s + i, ep + 1))
					return true;
			return false;
		}
		case '-':
			for (size_t i = 0;; i++) {
				if (match(s + i, ep + 1))
					return true;
				if (!single_match(s + i, p, ep))
					return false;
			}
		default:
			if (!single_match(s, p, ep))
				return false;
			s++;
			p = ep;
		}
	}
	return *s == '\0';
}

bool
dns_pattern_match(const char *pattern, const char *text)
{
	if (strlen(pattern) > DNS_PATTERN_MAX)
		return false;
	return match(text, pattern);
}

static bool
code_matches(const struct cfg_rbl_code *c, uint32_t addr, const char *dotted)
{
	if (c->pattern == NULL)
		return c->bits != 0 && (addr & c->bits) == c->bits;
	if (strchr(c->pattern, '%') == NULL)
		return strcmp(c->pattern, dotted) == 0;
	return dns_pattern_match(c->pattern, dotted);
}

size_t
dns_answer_map(const struct cfg_rbl_zone *z, uint32_t addr, const char **syms_r, size_t max)
{
	char dotted[16];
	snprintf(dotted, sizeof(dotted), "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
	    (addr >> 8) & 0xff, addr & 0xff);
	size_t n = 0;
	for (size_t i = 0; i < z->ncodes; i++) {
		if (!code_matches(&z->codes[i], addr, dotted))
			continue;
		if (n < max)
			syms_r[n] = z->codes[i].symbol;
		n++;
	}
	return n;
}
