/*
 * re_gate.c - a Hyperscan prefilter gate for a PCRE2 rule whose whole
 * pattern Hyperscan rejects even in prefilter mode ("Pattern length exceeds
 * limit", "Embedded end anchors not supported"). Without one the rule runs
 * on every text of its scope.
 *
 * Any contiguous run of the top-level items of a concatenation must match
 * inside every match of the whole, and dropping zero-width assertions
 * (anchors, \b, lookarounds) only widens what it matches; so such a run,
 * in prefilter form, is a sound gate. Of the runs Hyperscan accepts, the one
 * with the largest minimum match width is taken (longer required text is
 * rarer). A pattern that is one repeated group, as (?:X){3}, is looked into.
 * Patterns with top-level alternation, inline flag settings ("(?i)") or /x
 * are left alone: there a run is not necessarily required, or would be read
 * with other flags.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "rules-private.h"

#define GATE_MAX_ITEMS 32
#define GATE_MAX_TRIES 96

struct item {
	size_t s, e;      /* [s, e) in the pattern, quantifier included */
	size_t body_e;    /* end of the item without its quantifier */
	bool optional;    /* quantifier allows zero */
	bool zero_width;  /* anchor, \b, lookaround */
};

/* End of the escape starting at re[i] == '\\'. */
static size_t
escape_end(const char *re, size_t n, size_t i)
{
	if (i + 1 >= n)
		return n;
	char c = re[i + 1];
	if ((c == 'x' || c == 'p' || c == 'P' || c == 'N' || c == 'o' || c == 'g' || c == 'k') &&
	    i + 2 < n && (re[i + 2] == '{' || re[i + 2] == '<')) {
		const char *close = memchr(re + i + 2, re[i + 2] == '{' ? '}' : '>', n - i - 2);
		return close ? (size_t)(close - re) + 1 : n;
	}
	if (c == 'x') {
		size_t j = i + 2;
		while (j < n && j < i + 4 && strchr("0123456789abcdefABCDEF", re[j]) != NULL)
			j++;
		return j;
	}
	if (c == 'c' && i + 2 < n)
		return i + 3;
	return i + 2;
}

static size_t
class_end(const char *re, size_t n, size_t i)
{
	size_t j = i + 1;
	if (j < n && re[j] == '^')
		j++;
	if (j < n && re[j] == ']')
		j++;
	while (j < n && re[j] != ']') {
		if (re[j] == '\\')
			j = escape_end(re, n, j);
		else if (re[j] == '[' && j + 1 < n && re[j + 1] == ':') {
			const char *close = strstr(re + j + 2, ":]");
			j = close && (size_t)(close - re) < n ? (size_t)(close - re) + 2 : j + 1;
		} else
			j++;
	}
	return j < n ? j + 1 : n;
}

/* End of the group opened at re[i] == '('; 0 when unbalanced. A loop, not
 * recursion: patterns come from rule files. */
static size_t
group_end(const char *re, size_t n, size_t i)
{
	int depth = 0;
	size_t j = i;
	while (j < n) {
		if (re[j] == '\\') {
			j = escape_end(re, n, j);
			continue;
		}
		if (re[j] == '[') {
			j = class_end(re, n, j);
			continue;
		}
		if (re[j] == '(')
			depth++;
		else if (re[j] == ')' && --depth == 0)
			return j + 1;
		j++;
	}
	return 0;
}

/* Parses a quantifier at re[j]; sets *min_r; returns its end (j if none). */
static size_t
quantifier(const char *re, size_t n, size_t j, long *min_r)
{
	*min_r = 1;
	size_t q = j;
	if (j < n && (re[j] == '?' || re[j] == '*')) {
		*min_r = 0;
		q = j + 1;
	} else if (j < n && re[j] == '+') {
		q = j + 1;
	} else if (j < n && re[j] == '{') {
		size_t k = j + 1;
		long mn = 0;
		bool digits = false;
		while (k < n && re[k] >= '0' && re[k] <= '9') {
			mn = mn * 10 + (re[k++] - '0');
			digits = true;
			if (mn > 100000)
				mn = 100000;
		}
		if (k < n && re[k] == ',') {
			k++;
			while (k < n && re[k] >= '0' && re[k] <= '9')
				k++;
		}
		if (!digits || k >= n || re[k] != '}')
			return j; /* a literal '{' */
		*min_r = mn;
		q = k + 1;
	}
	if (q > j && q < n && (re[q] == '?' || re[q] == '+'))
		q++;
	return q;
}

static bool
is_lookaround(const char *re, size_t n, size_t i)
{
	return i + 2 < n && re[i + 1] == '?' &&
	    (re[i + 2] == '=' || re[i + 2] == '!' ||
	        (re[i + 2] == '<' && i + 3 < n && (re[i + 3] == '=' || re[i + 3] == '!')));
}

/* "(?i)" and the like: flags for the rest of the pattern. */
static bool
is_flag_setting(const char *re, size_t n, size_t i)
{
	size_t j = i + 2;
	if (i + 1 >= n || re[i + 1] != '?')
		return false;
	while (j < n && (re[j] == '-' || (re[j] >= 'a' && re[j] <= 'z')))
		j++;
	return j > i + 2 && j < n && re[j] == ')';
}

/* One item at re[i]; false for what makes runs unsound (top-level '|',
 * flag settings, unbalanced groups). */
static bool
next_item(const char *re, size_t n, size_t i, struct item *it)
{
	size_t e;
	it->zero_width = false;
	switch (re[i]) {
	case '|':
		return false;
	case '\\':
		e = escape_end(re, n, i);
		it->zero_width = i + 1 < n && strchr("bBAzZG", re[i + 1]) != NULL;
		break;
	case '[':
		e = class_end(re, n, i);
		break;
	case '(':
		if (is_flag_setting(re, n, i))
			return false;
		e = group_end(re, n, i);
		if (e == 0)
			return false;
		it->zero_width = is_lookaround(re, n, i);
		break;
	case '^':
	case '$':
		e = i + 1;
		it->zero_width = true;
		break;
	default:
		e = i + 1;
	}
	long min;
	it->s = i;
	it->body_e = e;
	it->e = quantifier(re, n, e, &min);
	it->optional = min == 0;
	return true;
}

static size_t
split_items(const char *re, size_t n, struct item *v, size_t max)
{
	size_t k = 0, i = 0;
	while (i < n) {
		if (k == max || !next_item(re, n, i, &v[k]))
			return 0;
		i = v[k++].e;
	}
	return k;
}

/* The group's inside [*s_r, *e_r) of re when re is one repeated plain
 * group (v: re's items). */
static bool
single_group(const char *re, const struct item *v, size_t k, size_t *s_r, size_t *e_r)
{
	if (k != 1 || v[0].optional || re[v[0].s] != '(' || v[0].zero_width)
		return false;
	size_t s = v[0].s + 1, e = v[0].body_e - 1; /* re[e] == ')' */
	if (s < e && re[s] == '?') {
		if (s + 1 >= e || re[s + 1] != ':')
			return false;
		s += 2;
	}
	if (s > e)
		return false;
	*s_r = s;
	*e_r = e;
	return true;
}

static const char *
run_expr(struct arena *a, const char *re, const struct item *v, size_t i, size_t j)
{
	size_t len = 0;
	for (size_t k = i; k <= j; k++)
		len += v[k].e - v[k].s;
	char *out = arena_alloc(a, len + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t k = i; k <= j; k++) {
		if (v[k].zero_width)
			continue;
		memcpy(out + o, re + v[k].s, v[k].e - v[k].s);
		o += v[k].e - v[k].s;
	}
	out[o] = '\0';
	return out;
}

/* Back-references and \Q..\E would be read differently in a run. */
static bool
has_unsliceable(const char *re)
{
	for (const char *p = strchr(re, '\\'); p != NULL; p = strchr(p + 2, '\\')) {
		if (p[1] == '\0')
			return false;
		if ((p[1] >= '1' && p[1] <= '9') || p[1] == 'g' || p[1] == 'k' || p[1] == 'Q')
			return true;
	}
	return false;
}

const char *
re_gate_run(struct arena *a, const char *re, unsigned hs_flags)
{
	struct item v[GATE_MAX_ITEMS];
	const char *base = re;
	size_t n = strlen(re), s, e;
	if (has_unsliceable(re))
		return NULL;
	size_t k = split_items(base, n, v, GATE_MAX_ITEMS);
	for (int depth = 0; depth < 4 && single_group(base, v, k, &s, &e); depth++) {
		base += s;
		n = e - s;
		k = split_items(base, n, v, GATE_MAX_ITEMS);
	}
	const char *best = NULL;
	unsigned best_w = 0;
	int tries = 0;
	/* longest runs first, so the budget goes to the likeliest winners */
	for (size_t len = k; len >= 1 && tries < GATE_MAX_TRIES; len--) {
		for (size_t i = 0; i + len <= k && tries < GATE_MAX_TRIES; i++) {
			size_t j = i + len - 1;
			if (v[i].optional || v[j].optional || v[i].zero_width || v[j].zero_width)
				continue;
			const char *x = run_expr(a, base, v, i, j);
			hs_expr_info_t *info = NULL;
			hs_compile_error_t *err = NULL;
			tries++;
			if (x == NULL || hs_expression_info(x, hs_flags | HS_FLAG_PREFILTER, &info, &err) !=
			        HS_SUCCESS) {
				hs_free_compile_error(err);
				continue;
			}
			if (best == NULL || info->min_width > best_w) {
				best = x;
				best_w = info->min_width;
			}
			free(info);
		}
	}
	return best_w > 0 ? best : NULL;
}
