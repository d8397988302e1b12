/*
 * words.c - word splitting and normalisation (see words.h).
 *
 * One pass: each code point is folded first (so fullwidth 'Ａ' is 'a' before
 * it is classified), written to a per-call arena copy, and word spans are cut
 * out of that copy. Folding never lengthens UTF-8 here, so the copy needs at
 * most the input's size and is never moved.
 */
#include "fcore/words.h"

#include <string.h>

#include "fcore/arena.h"
#include "extract-private.h"

enum wclass {
	W_SEP,
	W_LETTER,  /* letters and combining marks */
	W_DIGIT,
	W_CJK,     /* Han, kana: no spaces between words */
	W_IGNORE,  /* invisible: dropped, does not end a word */
	W_APOS,    /* joins letters */
	W_DOT,     /* joins word characters */
	W_COMMA,   /* joins digits */
};

static uint32_t
fold_range_pairs(uint32_t cp, uint32_t lo, uint32_t hi, uint32_t upper_parity)
{
	if (cp >= lo && cp <= hi && (cp & 1) == upper_parity)
		return cp + 1;
	return cp;
}

static uint32_t
fold(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return fold(cp - 0xFEE0);
	if (cp < 0x100)
		return (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 32 : cp;
	if (cp < 0x180) {
		if (cp == 0x130)
			return 'i';
		if (cp == 0x178)
			return 0xFF;
		if (cp == 0x17F)
			return 's';
		if (cp < 0x138)
			return fold_range_pairs(cp, 0x100, 0x137, 0);
		if (cp < 0x149)
			return fold_range_pairs(cp, 0x139, 0x148, 1);
		if (cp < 0x178)
			return fold_range_pairs(cp, 0x14A, 0x177, 0);
		return fold_range_pairs(cp, 0x179, 0x17E, 1);
	}
	if (cp >= 0x370 && cp < 0x400) {
		if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
			return cp + 32;
		if (cp == 0x386)
			return 0x3AC;
		if (cp >= 0x388 && cp <= 0x38A)
			return cp + 37;
		if (cp == 0x38C)
			return 0x3CC;
		if (cp == 0x38E || cp == 0x38F)
			return cp + 63;
		if (cp == 0x3C2)
			return 0x3C3; /* final sigma folds to sigma */
		return cp;
	}
	if (cp >= 0x400 && cp < 0x530) {
		if (cp >= 0x410 && cp <= 0x42F)
			return cp + 32;
		if (cp < 0x410)
			return cp + 80;
		if (cp >= 0x460 && cp <= 0x481)
			return fold_range_pairs(cp, 0x460, 0x481, 0);
		if (cp >= 0x48A && cp <= 0x4BF)
			return fold_range_pairs(cp, 0x48A, 0x4BF, 0);
		if (cp >= 0x4C1 && cp <= 0x4CE)
			return fold_range_pairs(cp, 0x4C1, 0x4CE, 1);
		if (cp >= 0x4D0 && cp <= 0x52F)
			return fold_range_pairs(cp, 0x4D0, 0x52F, 0);
		return cp;
	}
	if (cp >= 0x531 && cp <= 0x556)
		return cp + 48;
	if (cp == 0x2019 || cp == 0x2018)
		return '\'';
	return cp;
}

struct range {
	uint32_t lo, hi;
	uint8_t cls;
};

/* Non-ASCII classes, sorted; anything not listed separates words. */
static const struct range ranges[] = {
	{ 0x00AA, 0x00AA, W_LETTER }, { 0x00AD, 0x00AD, W_IGNORE }, { 0x00B5, 0x00B5, W_LETTER },
	{ 0x00BA, 0x00BA, W_LETTER }, { 0x00C0, 0x00D6, W_LETTER }, { 0x00D8, 0x00F6, W_LETTER },
	{ 0x00F8, 0x036F, W_LETTER }, { 0x0370, 0x037D, W_LETTER }, { 0x037F, 0x0386, W_LETTER },
	{ 0x0388, 0x03FF, W_LETTER }, { 0x0400, 0x0481, W_LETTER }, { 0x0483, 0x052F, W_LETTER },
	{ 0x0531, 0x0587, W_LETTER }, { 0x0591, 0x05F2, W_LETTER }, { 0x0610, 0x061A, W_LETTER },
	{ 0x0620, 0x065F, W_LETTER }, { 0x0660, 0x0669, W_DIGIT }, { 0x066E, 0x06D3, W_LETTER },
	{ 0x06D5, 0x06FF, W_LETTER }, { 0x0700, 0x08FF, W_LETTER }, { 0x0900, 0x0963, W_LETTER },
	{ 0x0966, 0x0DFF, W_LETTER }, { 0x0E00, 0x0E3E, W_LETTER }, { 0x0E40, 0x0E4E, W_LETTER },
	{ 0x0E50, 0x0E59, W_DIGIT }, { 0x0E80, 0x0FFF, W_LETTER }, { 0x1000, 0x109F, W_LETTER },
	{ 0x10A0, 0x10FF, W_LETTER }, { 0x1100, 0x11FF, W_LETTER }, { 0x1200, 0x137F, W_LETTER },
	{ 0x13A0, 0x13FF, W_LETTER }, { 0x1780, 0x17FF, W_LETTER }, { 0x1E00, 0x1FFF, W_LETTER },
	{ 0x200B, 0x200D, W_IGNORE }, { 0x2018, 0x2019, W_APOS }, { 0x2060, 0x2060, W_IGNORE },
	{ 0x2C00, 0x2DFF, W_LETTER }, { 0x2E80, 0x2FDF, W_CJK }, { 0x3005, 0x3007, W_CJK },
	{ 0x3041, 0x30FA, W_CJK }, { 0x30FC, 0x30FF, W_CJK }, { 0x3100, 0x31FF, W_CJK },
	{ 0x3400, 0x4DBF, W_CJK }, { 0x4E00, 0x9FFF, W_CJK }, { 0xA640, 0xA69F, W_LETTER },
	{ 0xA720, 0xA7FF, W_LETTER }, { 0xAC00, 0xD7A3, W_LETTER }, { 0xF900, 0xFAFF, W_CJK },
	{ 0xFB00, 0xFDFF, W_LETTER }, { 0xFE70, 0xFEFC, W_LETTER }, { 0xFEFF, 0xFEFF, W_IGNORE },
	{ 0xFF66, 0xFF9F, W_CJK }, { 0x10000, 0x1D7FF, W_LETTER }, { 0x20000, 0x3FFFF, W_CJK },
};

static const uint8_t ascii_class[128] = {
	['0' ... '9'] = W_DIGIT,
	['A' ... 'Z'] = W_LETTER,
	['a' ... 'z'] = W_LETTER,
	['\''] = W_APOS,
	['.'] = W_DOT,
	[','] = W_COMMA,
};

static uint8_t
classify(uint32_t cp)
{
	if (cp < 0x80)
		return ascii_class[cp];
	size_t lo = 0, hi = sizeof(ranges) / sizeof(ranges[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < ranges[mid].lo)
			hi = mid;
		else if (cp > ranges[mid].hi)
			lo = mid + 1;
		else
			return ranges[mid].cls;
	}
	return W_SEP;
}

/* The code point at t[i] folded, its class and its length in bytes. */
static size_t
next_cp(struct span t, size_t i, uint32_t *cp_r, uint8_t *cls_r)
{
	uint8_t c = t.p[i];
	if (c < 0x80) {
		*cp_r = (c >= 'A' && c <= 'Z') ? (uint32_t)c + 32 : c;
		*cls_r = ascii_class[c];
		return 1;
	}
	uint32_t cp;
	size_t len = utf8_get(t.p + i, t.len - i, &cp);
	if (cp == UTF8_REPLACEMENT && len == 1) {
		*cp_r = cp;
		*cls_r = W_SEP;
		return 1;
	}
	*cp_r = fold(cp);
	*cls_r = classify(*cp_r);
	return len;
}

void
words_init(struct words *w, struct arena *a)
{
	memset(w, 0, sizeof(*w));
	w->a = a;
}

static bool
push(struct words *w, const uint8_t *p, size_t len)
{
	if (len > WORDS_MAX_LEN) {
		w->nlong++;
		return true;
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		struct span *v = arena_realloc(w->a, w->v, w->cap * sizeof(*v), ncap * sizeof(*v));
		if (v == NULL)
			return false;
		w->v = v;
		w->cap = ncap;
	}
	w->v[w->n++] = span_make(p, len);
	return true;
}

struct split {
	struct words *w;
	uint8_t *out;
	size_t o;         /* bytes written to out */
	size_t ws;        /* start of the current word in out, or SIZE_MAX */
	uint8_t last;     /* class of the last code point of the word */
	size_t cjk_prev;  /* start of the previous CJK character in out, or SIZE_MAX */
	size_t cjk_run;   /* characters in the current CJK run */
	bool ok;
};

static void
end_word(struct split *s)
{
	if (s->ws != SIZE_MAX && s->o > s->ws)
		s->ok &= push(s->w, s->out + s->ws, s->o - s->ws);
	s->ws = SIZE_MAX;
}

static void
end_cjk(struct split *s)
{
	if (s->cjk_run == 1)
		s->ok &= push(s->w, s->out + s->cjk_prev, s->o - s->cjk_prev);
	s->cjk_run = 0;
	s->cjk_prev = SIZE_MAX;
}

static void
add_cjk(struct split *s, uint32_t cp)
{
	end_word(s);
	size_t st = s->o;
	s->o += utf8_put(s->out + s->o, cp);
	if (s->cjk_run > 0)
		s->ok &= push(s->w, s->out + s->cjk_prev, s->o - s->cjk_prev);
	s->cjk_prev = st;
	s->cjk_run++;
}

/* Whether a joiner of class j between the word and the next code point keeps the word going. */
static bool
joins(uint8_t last, uint8_t j, uint8_t next)
{
	switch (j) {
	case W_APOS:
		return last == W_LETTER && next == W_LETTER;
	case W_DOT:
		return (last == W_LETTER || last == W_DIGIT) && (next == W_LETTER || next == W_DIGIT);
	case W_COMMA:
		return last == W_DIGIT && next == W_DIGIT;
	default:
		return false;
	}
}

int
words_add(struct words *w, struct span t)
{
	if (t.len == 0)
		return 0;
	struct split s = { .w = w, .ws = SIZE_MAX, .cjk_prev = SIZE_MAX, .ok = true };
	/* Folding never lengthens a character's UTF-8 form; +4 for one U+FFFD-free slack. */
	s.out = arena_alloc(w->a, t.len + 4);
	if (s.out == NULL)
		return -1;
	size_t i = 0;
	while (i < t.len && s.ok) {
		uint32_t cp;
		uint8_t cls;
		uint8_t c = t.p[i];
		if (c < 0x80 && (ascii_class[c] == W_LETTER || ascii_class[c] == W_DIGIT)) {
			/* Fast path: a run of ASCII word characters. */
			if (s.cjk_run > 0)
				end_cjk(&s);
			if (s.ws == SIZE_MAX)
				s.ws = s.o;
			/* Locals: stores through uint8_t * would otherwise force
			 * reloading every field of s on each byte. */
			uint8_t *out = s.out + s.o;
			const uint8_t *p = t.p + i, *end = t.p + t.len;
			uint8_t k = ascii_class[c];
			do {
				s.last = k;
				*out++ = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
				p++;
			} while (p < end && (c = *p) < 0x80 && ((k = ascii_class[c]) == W_LETTER || k == W_DIGIT));
			s.o = (size_t)(out - s.out);
			i = (size_t)(p - t.p);
			continue;
		}
		if (c < 0x80 && ascii_class[c] == W_SEP) {
			if (s.cjk_run > 0)
				end_cjk(&s);
			end_word(&s);
			i++;
			continue;
		}
		size_t len = next_cp(t, i, &cp, &cls);
		i += len;
		if (cls == W_IGNORE)
			continue;
		if (cls == W_CJK) {
			add_cjk(&s, cp);
			continue;
		}
		if (s.cjk_run > 0)
			end_cjk(&s);
		if (cls == W_LETTER || cls == W_DIGIT) {
			if (s.ws == SIZE_MAX)
				s.ws = s.o;
			s.o += utf8_put(s.out + s.o, cp);
			s.last = cls;
			continue;
		}
		if (s.ws != SIZE_MAX && cls >= W_APOS && i < t.len) {
			uint32_t ncp;
			uint8_t ncls;
			next_cp(t, i, &ncp, &ncls);
			if (joins(s.last, cls, ncls)) {
				s.out[s.o++] = cls == W_APOS ? '\'' : (uint8_t)cp;
				continue;
			}
		}
		end_word(&s);
	}
	end_word(&s);
	if (s.cjk_run > 0)
		end_cjk(&s);
	return s.ok ? 0 : -1;
}
