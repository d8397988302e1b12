/*
 * re_translate.c - Perl regexes of .cf rules onto Hyperscan, or PCRE2.
 *
 * Hyperscan's syntax is PCRE's, which is Perl's for everything the stock
 * rules use; the work is in the delimiters and flags (done by the reader),
 * in /x (Hyperscan takes (?x) but wants a newline to end a trailing
 * comment), and in deciding what Hyperscan cannot run: back-references,
 * look-around, possessive and atomic groups, \G, \K, \R, embedded code,
 * code points above 0xff. hs_expression_info() is the judge, so nothing is
 * guessed: what it rejects goes to PCRE2 (JIT, match and depth limits).
 *
 * Semantics kept: matching is on bytes (no UTF-8 mode), as SpamAssassin
 * matches its byte strings; patterns that can match the empty string are
 * allowed (HS_FLAG_ALLOWEMPTY), since Perl would match them anywhere too.
 *
 * For PCRE2 rules a gate is extracted: the longest literal the pattern must
 * contain (outside groups, classes and optional items, with no top-level
 * alternation). The scope's Hyperscan database looks for the gate, and the
 * backtracking engine only runs on texts that contain it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "rules-private.h"

#define RE_GATE_MIN 3

static unsigned
hs_flags_for(unsigned flags)
{
	unsigned f = HS_FLAG_ALLOWEMPTY;
	if (flags & RE_I)
		f |= HS_FLAG_CASELESS;
	if (flags & RE_M)
		f |= HS_FLAG_MULTILINE;
	if (flags & RE_S)
		f |= HS_FLAG_DOTALL;
	return f;
}

/* Index just past the group opened at s[i] == '(' , or n if unbalanced. */
static size_t
skip_group(const char *s, size_t n, size_t i)
{
	int depth = 0;
	bool in_class = false;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '\\') {
			i++;
			continue;
		}
		if (in_class) {
			if (c == ']')
				in_class = false;
			continue;
		}
		if (c == '[') {
			in_class = true;
			if (i + 1 < n && s[i + 1] == '^')
				i++;
			if (i + 1 < n && s[i + 1] == ']')
				i++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return n;
}

static size_t
skip_class(const char *s, size_t n, size_t i)
{
	i++;
	if (i < n && s[i] == '^')
		i++;
	if (i < n && s[i] == ']')
		i++;
	for (; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == ']')
			return i + 1;
	}
	return n;
}

static bool
is_quant_optional(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return false;
	if (s[i] == '?' || s[i] == '*')
		return true;
	if (s[i] == '{' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == ','))
		return true;
	return false;
}

static bool
is_quant(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return false;
	if (s[i] == '+' || is_quant_optional(s, n, i))
		return true;
	return s[i] == '{' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9';
}

struct gate_run {
	char lit[256];
	size_t len;
	char best[256];
	size_t best_len;
};

static void
run_end(struct gate_run *g)
{
	if (g->len > g->best_len) {
		memcpy(g->best, g->lit, g->len);
		g->best_len = g->len;
	}
	g->len = 0;
}

/* Literal byte of an escape at s[i] == '\\', or -1 if it is a class/assertion. */
static int
escape_literal(const char *s, size_t n, size_t i)
{
	if (i + 1 >= n)
		return -1;
	unsigned char c = (unsigned char)s[i + 1];
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return -1;
	return c;
}

static void
find_gate(struct arena *a, const char *re, unsigned flags, struct re_translation *out)
{
	size_t n = strlen(re);
	bool caseless = (flags & RE_I) != 0;
	if (flags & RE_X || strstr(re, "\\Q") != NULL)
		return;
	if (strncmp(re, "(?i)", 4) == 0) {
		caseless = true;
		re += 4;
		n -= 4;
	}
	if (strstr(re, "(?i") != NULL)
		return; /* case changes mid-pattern: a literal could mislead */
	struct gate_run g = { .len = 0 };
	size_t i = 0;
	while (i < n) {
		char c = re[i];
		size_t next;
		int lit = -1;
		if (c == '|') {
			return; /* top-level alternation: nothing is required */
		} else if (c == '(') {
			run_end(&g);
			i = skip_group(re, n, i);
			/* the group's quantifier, a counted one whole: "{0,10}" is no text */
			while (is_quant(re, n, i)) {
				const char *close = re[i] == '{' ? memchr(re + i, '}', n - i) : NULL;
				i = close ? (size_t)(close - re) + 1 : i + 1;
			}
			continue;
		} else if (c == '[') {
			run_end(&g);
			i = skip_class(re, n, i);
			continue;
		} else if (c == '{' && is_quant(re, n, i)) {
			/* a counted repeat: its digits are not text */
			run_end(&g);
			const char *close = memchr(re + i, '}', n - i);
			i = close ? (size_t)(close - re) + 1 : n;
			continue;
		} else if (c == '\\') {
			lit = escape_literal(re, n, i);
			next = i + 2;
			if (lit < 0 && i + 1 < n && (re[i + 1] == 'x' || re[i + 1] == 'c'))
				next = n; /* give up on hex escapes rather than mis-measure */
		} else if (strchr(".^$*+?{}", c) != NULL) {
			lit = -1;
			next = i + 1;
		} else {
			lit = (unsigned char)c;
			next = i + 1;
		}
		if (lit < 0 || is_quant_optional(re, n, next)) {
			run_end(&g);
		} else if (g.len < sizeof(g.lit)) {
			g.lit[g.len++] = (char)lit;
			if (is_quant(re, n, next))
				run_end(&g);
		}
		i = next;
	}
	run_end(&g);
	if (g.best_len >= RE_GATE_MIN) {
		out->gate = arena_memdup(a, g.best, g.best_len);
		out->gate_len = g.best_len;
		out->gate_caseless = caseless;
	}
}

static const char *
hs_expression(struct arena *a, const char *re, unsigned flags)
{
	if (!(flags & RE_X))
		return re;
	/* (?x) and a newline to end a trailing # comment */
	return arena_printf(a, "(?x)%s\n", re);
}

void
re_translate(struct arena *a, const char *re, unsigned flags, struct re_translation *out)
{
	memset(out, 0, sizeof(*out));
	out->expr = hs_expression(a, re, flags);
	out->hs_flags = hs_flags_for(flags);
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;
	if (hs_expression_info(out->expr, out->hs_flags, &info, &cerr) == HS_SUCCESS) {
		free(info);
		out->target = RE_TARGET_HS;
		return;
	}
	out->target = RE_TARGET_PCRE;
	out->reason = arena_strdup(a, cerr ? cerr->message : "rejected by Hyperscan");
	if (cerr)
		hs_free_compile_error(cerr);
	find_gate(a, re, flags, out);
}

void
re_translate_gate_only(struct arena *a, const char *re, unsigned flags, struct re_translation *out)
{
	memset(out, 0, sizeof(*out));
	out->target = RE_TARGET_PCRE;
	find_gate(a, re, flags, out);
}

pcre2_code *
re_pcre_compile(const char *re, unsigned flags, char *why, size_t whylen)
{
	uint32_t opts = 0;
	if (flags & RE_I)
		opts |= PCRE2_CASELESS;
	if (flags & RE_M)
		opts |= PCRE2_MULTILINE;
	if (flags & RE_S)
		opts |= PCRE2_DOTALL;
	if (flags & RE_X)
		opts |= PCRE2_EXTENDED;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
	if (c == NULL) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(why, whylen, "PCRE2: %s at %zu", (const char *)msg, (size_t)eo);
		return NULL;
	}
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* without JIT it still runs, slower */
	return c;
}
