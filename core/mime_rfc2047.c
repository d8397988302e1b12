/*
 * mime_rfc2047.c - RFC 2047 encoded words in header values.
 *
 * Adjacent encoded words (only whitespace between them, folding included,
 * since the value is unfolded first) are joined, and consecutive words in one
 * charset are converted as one byte string: senders split multi-byte
 * characters across words more often than not. A word whose charset iconv
 * does not know, or whose payload does not decode, is kept as written and
 * the header is flagged MIME_HDR_BAD_ENCODING. Words glued to text or inside
 * quotes are decoded too: that is what mail clients display.
 */
#include <string.h>
#include "fcore/ascii.h"
#include <strings.h>

#include "mime-private.h"

struct ew {
	size_t start, end;     /* whole "=?...?=" in the input */
	struct span charset;   /* language suffix removed */
	char enc;              /* 'B' or 'Q' */
	struct span text;
};

struct pending {
	struct buf bytes;
	char cs[40];
	size_t raw_start, raw_end;
	bool active;
};

/* last_term: offset of the last "?=" in s (or 0): a word that starts after
 * it cannot end, which keeps hostile "=?a?q?x=?a?q?x..." values linear. */
static bool
ew_parse(const char *s, size_t len, size_t at, size_t last_term, struct ew *w)
{
	size_t i = at + 2, cs0 = i;

	if (at >= last_term)
		return false;
	while (i < len && i - cs0 < 40 && s[i] != '?' && s[i] != ' ' && s[i] != '\t')
		i++;
	if (i >= len || s[i] != '?' || i == cs0 || i - cs0 >= 40)
		return false;
	w->charset = span_make(s + cs0, i - cs0);
	const void *star = memchr(s + cs0, '*', i - cs0);
	if (star != NULL)
		w->charset.len = (size_t)((const char *)star - (s + cs0));
	if (w->charset.len == 0 || i + 3 > len || s[i + 2] != '?')
		return false;
	w->enc = (char)(s[i + 1] & ~0x20);
	if (w->enc != 'B' && w->enc != 'Q')
		return false;
	size_t t0 = i + 3;
	if (t0 > last_term)
		return false;
	ptrdiff_t f = span_find(span_make(s + t0, len - t0), SPAN_LIT("?="));
	if (f < 0)
		return false;
	w->text = span_make(s + t0, (size_t)f);
	w->start = at;
	w->end = t0 + (size_t)f + 2;
	return true;
}

static size_t
last_terminator(const char *s, size_t len)
{
	for (size_t k = len; k >= 2; k--)
		if (s[k - 2] == '?' && s[k - 1] == '=')
			return k - 2;
	return 0;
}


static bool
q_decode(struct buf *b, struct span t)
{
	for (size_t i = 0; i < t.len; i++) {
		uint8_t c = t.p[i];
		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < t.len && ascii_hexval(t.p[i + 1]) >= 0 &&
		    ascii_hexval(t.p[i + 2]) >= 0) {
			c = (uint8_t)(ascii_hexval(t.p[i + 1]) << 4 | ascii_hexval(t.p[i + 2]));
			i += 2;
		}
		if (!buf_append_byte(b, c))
			return false;
	}
	return true;
}

/* Raw text between words: 8-bit bytes are made UTF-8 here, by guessing:
 * headers carry no charset label of their own. */
static bool
append_text(struct arena *a, struct buf *out, const char *p, size_t n, uint32_t *flags)
{
	struct span sp = span_make(p, n);
	if (charset_is_ascii(sp))
		return buf_append(out, p, n);
	*flags |= MIME_HDR_8BIT;
	if (charset_is_utf8(sp))
		return buf_append(out, p, n);
	struct span g;
	const char *used;
	uint32_t gfl = 0;
	return charset_guess_utf8(a, sp, &g, &used, &gfl) && buf_append_span(out, g);
}

static bool
flush(struct arena *a, const char *s, struct pending *pd, struct buf *out, uint32_t *flags)
{
	bool bad = false;
	size_t cl;
	char *c;

	if (!pd->active)
		return true;
	pd->active = false;
	c = charset_convert(a, buf_span(&pd->bytes), pd->cs, &cl, &bad);
	if (c == NULL) {
		*flags |= MIME_HDR_BAD_ENCODING;
		return append_text(a, out, s + pd->raw_start, pd->raw_end - pd->raw_start, flags);
	}
	if (bad)
		*flags |= MIME_HDR_BAD_ENCODING;
	return buf_append(out, c, cl);
}

static bool
only_wsp(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!mime_is_wsp((uint8_t)p[i]))
			return false;
	return true;
}

/* Decodes one word's payload into tmp; false when it is malformed. */
static bool
ew_payload(struct arena *a, const struct ew *w, struct buf *tmp)
{
	buf_reset(tmp);
	if (w->enc == 'Q')
		return q_decode(tmp, w->text);
	bool bad = false;
	struct span d = mime_decode_base64(a, w->text, &bad);
	if (bad || (d.len == 0 && w->text.len > 0))
		return false;
	return buf_append_span(tmp, d);
}

char *
mime_rfc2047_decode(struct arena *a, const char *s, size_t len, size_t *len_r, uint32_t *flags)
{
	struct span all = span_make(s, len);
	struct buf out, tmp;
	struct pending pd = { .active = false };
	size_t i = 0;
	bool last_ew = false;

	if (span_find(all, SPAN_LIT("=?")) < 0 && charset_is_ascii(all)) {
		*len_r = len;
		return (char *)(uintptr_t)s; /* unfold output: already an arena copy */
	}
	size_t last_term = last_terminator(s, len);
	buf_init(&out, a);
	buf_init(&tmp, a);
	buf_init(&pd.bytes, a);
	while (i < len) {
		ptrdiff_t f = span_find(span_make(s + i, len - i), SPAN_LIT("=?"));
		struct ew w;
		if (f < 0)
			break;
		size_t at = i + (size_t)f;
		if (!ew_parse(s, len, at, last_term, &w)) {
			/* not a word: emit through "=?" and go on */
			if (!flush(a, s, &pd, &out, flags) ||
			    !append_text(a, &out, s + i, at + 2 - i, flags))
				return NULL;
			last_ew = false;
			i = at + 2;
			continue;
		}
		if (!(last_ew && only_wsp(s + i, at - i))) {
			if (!flush(a, s, &pd, &out, flags) || !append_text(a, &out, s + i, at - i, flags))
				return NULL;
		}
		*flags |= MIME_HDR_ENCODED;
		if (!ew_payload(a, &w, &tmp)) {
			*flags |= MIME_HDR_BAD_ENCODING;
			if (!flush(a, s, &pd, &out, flags) ||
			    !append_text(a, &out, s + w.start, w.end - w.start, flags))
				return NULL;
			last_ew = false;
			i = w.end;
			continue;
		}
		if (pd.active && !(strlen(pd.cs) == w.charset.len &&
		                     strncasecmp(pd.cs, (const char *)w.charset.p, w.charset.len) == 0)) {
			if (!flush(a, s, &pd, &out, flags))
				return NULL;
		}
		if (!pd.active) {
			pd.active = true;
			buf_reset(&pd.bytes);
			memcpy(pd.cs, w.charset.p, w.charset.len);
			pd.cs[w.charset.len] = 0;
			pd.raw_start = w.start;
		}
		pd.raw_end = w.end;
		if (!buf_append_span(&pd.bytes, buf_span(&tmp)))
			return NULL;
		last_ew = true;
		i = w.end;
	}
	if (!flush(a, s, &pd, &out, flags) || !append_text(a, &out, s + i, len - i, flags))
		return NULL;
	if (out.failed)
		return NULL;
	const char *r = buf_cstr(&out);
	*len_r = out.len;
	return (char *)(uintptr_t)r;
}
