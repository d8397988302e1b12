/*
 * mime_decode.c - Content-Transfer-Encoding decoders.
 *
 * All three are tolerant the way mail clients are: base64 skips whitespace
 * and garbage, quoted-printable keeps a bad escape as the literal '=', and
 * uuencode decodes short lines as far as they go. Each reports *bad_r so the
 * part can be flagged; none fails. Output is an arena copy no larger than
 * the input, so the size of a decoded body is bounded by the message size.
 */
#include <string.h>
#include "fcore/ascii.h"
#include <strings.h>

#include "mime-private.h"

static const int8_t b64_tab[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
	['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
	['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
	['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64,
	/* table holds value + 1 so that 0 means "not in the alphabet" */
};

/* Emits the bytes held by a partial quantum of n sextets. */
static size_t
b64_flush(uint32_t acc, unsigned n, uint8_t *o, bool *bad_r)
{
	if (n == 1) {
		*bad_r = true;
		return 0;
	}
	if (n == 2) {
		o[0] = (uint8_t)(acc >> 4);
		return 1;
	}
	if (n == 3) {
		o[0] = (uint8_t)(acc >> 10);
		o[1] = (uint8_t)(acc >> 2);
		return 2;
	}
	return 0;
}

/* After padding: does base64 go on (concatenated blocks occur in the
 * wild)? Only if the next non-blank line is made of base64 characters. */
static bool
more_base64(struct span in, size_t i)
{
	while (i < in.len && (in.p[i] == ' ' || in.p[i] == '\t' || in.p[i] == '\r' || in.p[i] == '\n'))
		i++;
	if (i >= in.len)
		return false;
	for (; i < in.len && in.p[i] != '\r' && in.p[i] != '\n'; i++)
		if (b64_tab[in.p[i]] == 0 && in.p[i] != '=' && in.p[i] != ' ' && in.p[i] != '\t')
			return false;
	return true;
}

struct span
mime_decode_base64(struct arena *a, struct span in, bool *bad_r)
{
	uint8_t *out = arena_alloc(a, in.len / 4 * 3 + 4);
	size_t o = 0;
	uint32_t acc = 0;
	unsigned n = 0;

	if (out == NULL)
		return span_make(NULL, 0);
	for (size_t i = 0; i < in.len; i++) {
		uint8_t c = in.p[i];
		int v = b64_tab[c];
		if (v > 0) {
			acc = acc << 6 | (uint32_t)(v - 1);
			if (++n == 4) {
				out[o++] = (uint8_t)(acc >> 16);
				out[o++] = (uint8_t)(acc >> 8);
				out[o++] = (uint8_t)acc;
				acc = 0;
				n = 0;
			}
		} else if (c == '=') {
			o += b64_flush(acc, n, out + o, bad_r);
			acc = 0;
			n = 0;
			while (i + 1 < in.len && in.p[i + 1] == '=')
				i++;
			if (!more_base64(in, i + 1)) {
				/* a list footer or signature appended after the
				 * data: not part of the body, and common enough in
				 * legitimate list mail not to count as bad input */
				break;
			}
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			*bad_r = true;
		}
	}
	o += b64_flush(acc, n, out + o, bad_r);
	return span_make(out, o);
}


/* One line's content (no line end); returns true if it ended in a soft break. */
static bool
qp_line(const uint8_t *p, size_t len, uint8_t *out, size_t *o, bool *bad_r)
{
	while (len > 0 && mime_is_wsp(p[len - 1]))
		len--; /* transport padding, RFC 2045 6.7 rule 3 */
	bool soft = len > 0 && p[len - 1] == '=';
	if (soft)
		len--;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '=') {
			out[(*o)++] = p[i];
			continue;
		}
		int h = i + 1 < len ? ascii_hexval(p[i + 1]) : -1;
		int l = i + 2 < len ? ascii_hexval(p[i + 2]) : -1;
		if (h < 0 || l < 0) {
			*bad_r = true;
			out[(*o)++] = '=';
			continue;
		}
		out[(*o)++] = (uint8_t)(h << 4 | l);
		i += 2;
	}
	return soft;
}

struct span
mime_decode_qp(struct arena *a, struct span in, bool *bad_r)
{
	uint8_t *out = arena_alloc(a, in.len + 1);
	size_t o = 0, pos = 0, next;

	if (out == NULL)
		return span_make(NULL, 0);
	while (pos < in.len) {
		size_t len = mime_line(in, pos, &next);
		bool soft = qp_line(in.p + pos, len, out, &o, bad_r);
		if (!soft) {
			/* keep the line end as written */
			size_t eol = next - (pos + len);
			memcpy(out + o, in.p + pos + len, eol);
			o += eol;
		}
		pos = next;
	}
	return span_make(out, o);
}

static bool
uu_begin(struct span line, const char **name_r, struct arena *a)
{
	if (line.len < 6 || memcmp(line.p, "begin ", 6) != 0)
		return false;
	size_t i = 6;
	while (i < line.len && line.p[i] >= '0' && line.p[i] <= '7')
		i++;
	if (i == 6 || i >= line.len || line.p[i] != ' ')
		return false;
	struct span name = span_trim(span_sub(line, i + 1, line.len - i - 1));
	*name_r = name.len ? arena_strndup(a, name.p, name.len) : NULL;
	return true;
}

static size_t
uu_line(struct span line, uint8_t *out, bool *bad_r)
{
	size_t n = (line.p[0] - 32) & 63, o = 0;
	size_t need = (n + 2) / 3 * 4;

	if (line.len - 1 < need) {
		/* short line: never emit more than its characters hold, which
		 * keeps the output within the input's size */
		*bad_r = true;
		n = (line.len - 1) * 3 / 4;
	}
	for (size_t i = 1; o < n; i += 4) {
		uint8_t c[4];
		for (int k = 0; k < 4; k++)
			c[k] = i + (size_t)k < line.len ? (uint8_t)((line.p[i + k] - 32) & 63) : 0;
		uint8_t b[3] = { (uint8_t)(c[0] << 2 | c[1] >> 4), (uint8_t)(c[1] << 4 | c[2] >> 2),
			(uint8_t)(c[2] << 6 | c[3]) };
		for (int k = 0; k < 3 && o < n; k++)
			out[o++] = b[k];
	}
	return o;
}

struct span
mime_decode_uu(struct arena *a, struct span in, const char **name_r, bool *bad_r)
{
	uint8_t *out = arena_alloc(a, in.len + 1);
	size_t o = 0, pos = 0, next;
	bool started = false;

	*name_r = NULL;
	if (out == NULL)
		return span_make(NULL, 0);
	while (pos < in.len) {
		struct span line = span_make(in.p + pos, mime_line(in, pos, &next));
		pos = next;
		if (!started) {
			started = uu_begin(line, name_r, a);
			continue;
		}
		if (line.len >= 3 && memcmp(line.p, "end", 3) == 0)
			return span_make(out, o);
		if (line.len == 0)
			continue;
		o += uu_line(line, out + o, bad_r);
	}
	*bad_r = true; /* no begin, or no end */
	return span_make(out, o);
}

enum mime_cte
mime_cte_parse(const char *v, size_t len)
{
	static const struct {
		const char *name;
		enum mime_cte cte;
	} tab[] = {
		{ "7bit", MIME_CTE_7BIT }, { "8bit", MIME_CTE_8BIT }, { "binary", MIME_CTE_BINARY },
		{ "quoted-printable", MIME_CTE_QP }, { "base64", MIME_CTE_BASE64 },
		{ "x-uuencode", MIME_CTE_UUENCODE }, { "uuencode", MIME_CTE_UUENCODE },
		{ "x-uue", MIME_CTE_UUENCODE }, { "uue", MIME_CTE_UUENCODE },
	};
	struct span s = span_trim(span_make(v, len));
	if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"')
		s = span_trim(span_sub(s, 1, s.len - 2));
	ptrdiff_t semi = span_find_byte(s, ';'); /* "base64; x=y" seen in spam */
	if (semi >= 0)
		s = span_trim(span_sub(s, 0, (size_t)semi));
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (span_caseeq_cstr(s, tab[i].name))
			return tab[i].cte;
	return MIME_CTE_UNKNOWN;
}

const char *
mime_cte_name(enum mime_cte cte)
{
	static const char *const names[] = {
		[MIME_CTE_NONE] = NULL, [MIME_CTE_7BIT] = "7bit", [MIME_CTE_8BIT] = "8bit",
		[MIME_CTE_BINARY] = "binary", [MIME_CTE_QP] = "quoted-printable",
		[MIME_CTE_BASE64] = "base64", [MIME_CTE_UUENCODE] = "x-uuencode",
		[MIME_CTE_UNKNOWN] = "unknown",
	};
	return (unsigned)cte <= MIME_CTE_UNKNOWN ? names[cte] : "unknown";
}
