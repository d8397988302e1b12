/*
 * re_unroll.c - the size of a pattern once its bounded repeats are unrolled.
 *
 * Hyperscan's graph has a vertex per position and holds a group under
 * {n,m} m times over; nested bounded repeats multiply. Past some ten
 * thousand positions its compile runs for seconds to minutes and then often
 * fails as too large: SpamAssassin's __FILL_THIS_FORM_* rules, built by
 * replace_tag from nested {1,3} groups inside {3}, unroll to 11,000-25,000
 * while every stock pattern Hyperscan compiles in under a second stays
 * below 7,100. Counting is cheap, so such a pattern goes to PCRE2 without
 * a compile that would only time out.
 *
 * Atoms (a character, an escape, a class) count 1; a group the sum of its
 * alternatives; {n,m} multiplies what it follows by m, {n,} by n + 1;
 * * + ? add nothing (a loop, not copies).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules-private.h"

#define UNROLL_MAX_DEPTH 256
#define UNROLL_CAP ((size_t)1 << 40)

struct level {
	size_t done;   /* finished alternatives */
	size_t cur;    /* the alternative being read */
};

static size_t
sat_mul(size_t a, size_t b)
{
	if (a != 0 && b > UNROLL_CAP / a)
		return UNROLL_CAP;
	return a * b;
}

/* Length of the escape at p (after the backslash). */
static size_t
escape_len(const char *p)
{
	if (*p == '\0')
		return 0;
	if ((*p == 'x' || *p == 'o') && p[1] == '{') {
		const char *e = strchr(p, '}');
		return e ? (size_t)(e - p) + 1 : strlen(p);
	}
	if (*p == 'x') {
		size_t n = 1;
		while (n < 3 && isxdigit((unsigned char)p[n]))
			n++;
		return n;
	}
	if (*p == 'c' && p[1] != '\0')
		return 2;
	if ((*p == 'p' || *p == 'P') && p[1] == '{') {
		const char *e = strchr(p, '}');
		return e ? (size_t)(e - p) + 1 : strlen(p);
	}
	return 1;
}

/* Length of the class starting at p ('['). */
static size_t
class_len(const char *p)
{
	size_t i = 1;
	if (p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	while (p[i] != '\0' && p[i] != ']') {
		if (p[i] == '\\' && p[i + 1] != '\0')
			i++;
		else if (p[i] == '[' && p[i + 1] == ':') {
			const char *e = strstr(p + i + 2, ":]");
			if (e != NULL)
				i = (size_t)(e - p) + 1;
		}
		i++;
	}
	return p[i] == ']' ? i + 1 : i;
}

/* A counted repeat at p: its length, and the copies it makes in *copies. */
static size_t
counted_repeat(const char *p, size_t *copies)
{
	char *end;
	size_t i = 1;
	unsigned long lo = 0, hi = 0;
	bool has_lo = isdigit((unsigned char)p[i]), comma = false, has_hi = false;
	if (has_lo) {
		lo = strtoul(p + i, &end, 10);
		i = (size_t)(end - p);
	}
	if (p[i] == ',') {
		comma = true;
		i++;
		if (isdigit((unsigned char)p[i])) {
			has_hi = true;
			hi = strtoul(p + i, &end, 10);
			i = (size_t)(end - p);
		}
	}
	if (p[i] != '}' || (!has_lo && !has_hi))
		return 0; /* a literal brace */
	*copies = has_hi ? hi : comma ? lo + 1 : lo;
	if (*copies == 0)
		*copies = 1;
	return i + 1;
}

/* Length of the group opener at p ('('): "(", "(?:", "(?i:", "(?=" ... */
static size_t
group_open_len(const char *p, bool *flags_only)
{
	*flags_only = false;
	if (p[1] != '?')
		return 1;
	size_t i = 2;
	if (p[i] == '<' && (p[i + 1] == '=' || p[i + 1] == '!'))
		return 4;
	if (p[i] == ':' || p[i] == '=' || p[i] == '!' || p[i] == '>' || p[i] == '#')
		return 3;
	while (isalpha((unsigned char)p[i]) || p[i] == '-')
		i++;
	if (p[i] == ')')
		*flags_only = true;
	return i + 1;
}

/* n, or fewer when the pattern ends first: a construct cut short ("(?",
 * "\x{") must not carry the reader past the terminator. */
static size_t
clamp_to_end(const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] == '\0')
			return k;
	return n;
}

size_t
re_unrolled_size(const char *re)
{
	struct level st[UNROLL_MAX_DEPTH];
	size_t depth = 0, last = 0;
	st[0] = (struct level){ 0, 0 };
	for (const char *p = re; *p != '\0';) {
		size_t n = 1, copies = 0;
		bool flags_only;
		switch (*p) {
		case '\\':
			n = 1 + escape_len(p + 1);
			last = 1;
			st[depth].cur += 1;
			break;
		case '[':
			n = class_len(p);
			last = 1;
			st[depth].cur += 1;
			break;
		case '(':
			n = group_open_len(p, &flags_only);
			if (flags_only)
				break;
			if (depth + 1 == UNROLL_MAX_DEPTH)
				return UNROLL_CAP;
			st[++depth] = (struct level){ 0, 0 };
			last = 0;
			break;
		case '|':
			st[depth].done += st[depth].cur;
			st[depth].cur = 0;
			last = 0;
			break;
		case ')':
			if (depth > 0) {
				last = st[depth].done + st[depth].cur;
				depth--;
				st[depth].cur += last;
			}
			break;
		case '*':
		case '+':
		case '?':
			break;
		case '{':
			n = counted_repeat(p, &copies);
			if (n > 0) {
				size_t grown = sat_mul(last, copies);
				st[depth].cur += grown - last;
				last = grown;
				break;
			}
			n = 1; /* a literal brace */
			last = 1;
			st[depth].cur += 1;
			break;
		default:
			last = 1;
			st[depth].cur += 1;
			break;
		}
		p += clamp_to_end(p, n);
		if (st[depth].cur > UNROLL_CAP)
			return UNROLL_CAP;
	}
	while (depth > 0) {
		size_t g = st[depth].done + st[depth].cur;
		depth--;
		st[depth].cur += g;
	}
	size_t total = st[0].done + st[0].cur;
	return total > UNROLL_CAP ? UNROLL_CAP : total;
}
