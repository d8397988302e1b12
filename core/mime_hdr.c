/*
 * mime_hdr.c - header blocks: line scanning, folding, header limits.
 *
 * A block ends at the first empty line. A line that is neither a header nor
 * a continuation ends it too: that line is the first line of the body, as
 * Postfix and most MUAs treat it, and BROKEN_HEADERS records the damage.
 * The exception is a line shaped like a header whose name has bytes RFC 5322
 * forbids (8-bit, controls) after at least one good header: it is dropped
 * and the block goes on, since the headers after it are real.
 * Line ends may be CRLF, LF or a bare CR; all three are accepted everywhere
 * because real mail mixes them.
 */
#include <string.h>

#include "mime-private.h"

size_t
mime_line(struct span s, size_t pos, size_t *next_r)
{
	const uint8_t *p = s.p + pos;
	size_t rest = s.len - pos;
	const uint8_t *nl = memchr(p, '\n', rest);
	size_t lim = nl ? (size_t)(nl - p) : rest;
	const uint8_t *cr = memchr(p, '\r', lim);

	if (cr != NULL && (size_t)(cr - p) + 1 < lim) {
		/* "\r\r\n" (a CRLF converted twice) is one line end */
		if (nl != NULL && (size_t)(cr - p) + 2 == lim && cr[1] == '\r') {
			*next_r = pos + lim + 1;
			return (size_t)(cr - p);
		}
		/* bare CR before any LF: it ends the line */
		*next_r = pos + (size_t)(cr - p) + 1;
		return (size_t)(cr - p);
	}
	if (nl == NULL) {
		if (cr != NULL) {
			*next_r = s.len;
			return (size_t)(cr - p);
		}
		*next_r = s.len;
		return rest;
	}
	*next_r = pos + lim + 1;
	if (lim > 0 && p[lim - 1] == '\r')
		return lim - 1;
	return lim;
}

char *
mime_lower_dup(struct arena *a, const void *p, size_t len)
{
	char *s = arena_strndup(a, p, len);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 32);
	return s;
}

char *
mime_hdr_unfold(struct arena *a, struct span raw, size_t *len_r)
{
	char *out = arena_alloc(a, raw.len + 1);
	size_t o = 0;
	size_t s = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < raw.len;) {
		/* copy runs between line ends in one go */
		const uint8_t *nl = memchr(raw.p + i, '\n', raw.len - i);
		size_t end = nl ? (size_t)(nl - raw.p) : raw.len;
		size_t run = end - i;
		if (run > 0 && raw.p[end - 1] == '\r')
			run--;
		memcpy(out + o, raw.p + i, run);
		o += run;
		i = end + 1;
	}
	/* bare CRs and NULs inside the runs: rare, so a second pass */
	if (memchr(out, '\r', o) != NULL || memchr(out, '\0', o) != NULL) {
		size_t k = 0;
		for (size_t i = 0; i < o; i++)
			if (out[i] != '\r')
				out[k++] = out[i] == '\0' ? ' ' : out[i];
		o = k;
	}
	while (s < o && mime_is_wsp((uint8_t)out[s]))
		s++;
	while (o > s && mime_is_wsp((uint8_t)out[o - 1]))
		o--;
	if (s > 0)
		memmove(out, out + s, o - s);
	o -= s;
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* RFC 5322 field name: printable ASCII but ':'; obsolete syntax allows WSP
 * before the colon, which is trimmed off the name. */
static bool
header_name_ok(const uint8_t *p, size_t len, size_t *name_len_r)
{
	while (len > 0 && mime_is_wsp(p[len - 1]))
		len--;
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= 32 || p[i] >= 127)
			return false;
	*name_len_r = len;
	return true;
}

static bool
has_wsp(const uint8_t *p, size_t len)
{
	while (len > 0 && mime_is_wsp(p[len - 1]))
		len--;
	for (size_t i = 0; i < len; i++)
		if (mime_is_wsp(p[i]))
			return true;
	return false;
}

static struct mime_header *
header_push(struct arena *a, struct mime_headers *h, size_t *cap)
{
	if (h->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct mime_header *n = arena_realloc(a, h->v, *cap * sizeof(*n), ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		h->v = n;
		*cap = ncap;
	}
	struct mime_header *hd = &h->v[h->n++];
	memset(hd, 0, sizeof(*hd));
	return hd;
}

static bool
header_decode(struct mime_ctx *c, struct mime_header *hd, int part)
{
	struct span raw = hd->raw;
	size_t ulen;
	char *u;

	if (raw.len > c->lim->max_header_size) {
		raw.len = c->lim->max_header_size;
		hd->flags |= MIME_HDR_TRUNCATED;
		mime_anomaly_add(c, MIME_A_LIMIT_HEADER_SIZE,
		    arena_strndup(c->a, hd->name.p, hd->name.len), part);
	}
	u = mime_hdr_unfold(c->a, raw, &ulen);
	if (u == NULL)
		return false;
	hd->value = mime_rfc2047_decode(c->a, u, ulen, &hd->value_len, &hd->flags);
	return hd->value != NULL;
}

/* End of the header starting at pos: its last line plus continuations. */
static size_t
header_end(struct span raw, size_t next, size_t *content_end_r)
{
	size_t end = next;
	size_t cend;

	*content_end_r = 0;
	for (;;) {
		if (end >= raw.len || !mime_is_wsp(raw.p[end]))
			return end;
		size_t n2;
		cend = end + mime_line(raw, end, &n2);
		*content_end_r = cend;
		end = n2;
	}
}

size_t
mime_hdr_block(struct mime_ctx *c, struct span raw, struct mime_headers *h, int part)
{
	size_t pos = 0, cap = 0, next;
	bool limit = false;

	h->v = NULL;
	h->n = 0;
	while (pos < raw.len) {
		const uint8_t *line = raw.p + pos;
		size_t len = mime_line(raw, pos, &next);
		size_t name_len, cend;

		if (len == 0)
			return next;
		if (mime_is_wsp(line[0])) {
			/* continuation with nothing to continue */
			mime_anomaly_once(c, MIME_A_BROKEN_HEADERS, "orphan continuation", part);
			pos = next;
			continue;
		}
		const uint8_t *colon = memchr(line, ':', len);
		size_t end = header_end(raw, next, &cend);
		if (colon == NULL || !header_name_ok(line, (size_t)(colon - line), &name_len)) {
			mime_anomaly_once(c, MIME_A_BROKEN_HEADERS, "non-header line", part);
			if (colon == NULL || h->n == 0 || has_wsp(line, (size_t)(colon - line)))
				return pos; /* the body starts here */
			/* "Bad\xecName: x" among headers: drop it, keep going */
			pos = end;
			continue;
		}
		if (cend == 0)
			cend = pos + len;
		if (h->n >= c->lim->max_header_lines) {
			if (!limit)
				mime_anomaly_add(c, MIME_A_LIMIT_HEADERS, NULL, part);
			limit = true;
			pos = end;
			continue;
		}
		struct mime_header *hd = header_push(c->a, h, &cap);
		if (hd == NULL)
			return end;
		hd->name = span_make(line, name_len);
		hd->raw = span_make(colon + 1, cend - (size_t)(colon + 1 - raw.p));
		if (!header_decode(c, hd, part)) {
			h->n--;
			return end;
		}
		pos = end;
	}
	return pos;
}
