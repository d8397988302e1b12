/*
 * rules_text.c - the bytes each scope reads, built as SpamAssassin builds
 * them (Mail::SpamAssassin::PerMsgStatus::get, Message::get_body_text_array_common).
 *
 * header: every instance of the header, decoded, each ending in "\n";
 *   :raw keeps the folding; :addr / :name yield one address or display name
 *   per line; ALL is "Name: value\n" for every header; ToCc, MESSAGEID and
 *   EnvelopeFrom are SpamAssassin's pseudo-headers.
 * body: the Subject line, then the visible text of the text parts, with
 *   runs of blank lines made paragraph breaks and other whitespace runs one
 *   space; each paragraph (split near 2048 bytes when longer) is one text.
 * rawbody: decoded text and message leaves, in pieces of about 2-4 KiB.
 * Both cut each part at SpamAssassin's body_part_scan_size (rendered text,
 * default 50,000 bytes) and rawbody_part_scan_size (decoded, 500,000): a
 * large part is scanned as far as SpamAssassin scans it, and no further.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcore/buf.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "rules-private.h"
#include "rules-text.h"

#define BODY_LINE_MAX 2048 /* SpamAssassin's MAX_BODY_LINE_LENGTH */

static bool
ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void
append_unfolded_raw(struct buf *out, struct span raw)
{
	size_t i = 0;
	while (i < raw.len && (raw.p[i] == ' ' || raw.p[i] == '\t'))
		i++;
	for (; i < raw.len; i++) {
		if (raw.p[i] == '\r' || raw.p[i] == '\n')
			continue;
		buf_append_byte(out, raw.p[i]);
	}
}

/* Raw value with its folding, without the final line break. */
static void
append_raw(struct buf *out, struct span raw)
{
	size_t s = 0, e = raw.len;
	while (s < e && (raw.p[s] == ' ' || raw.p[s] == '\t'))
		s++;
	while (e > s && (raw.p[e - 1] == '\n' || raw.p[e - 1] == '\r'))
		e--;
	buf_append(out, raw.p + s, e - s);
}

/* One address (or display name) per line from a list like "A <a@b>, c@d (C)". */
static void
append_addrs(struct buf *out, const uint8_t *p, size_t n, bool want_name)
{
	size_t i = 0;
	while (i < n) {
		size_t start = i;
		int depth_par = 0;
		bool inq = false, angle = false;
		while (i < n) {
			uint8_t c = p[i];
			if (c == '\\' && i + 1 < n) {
				i += 2;
				continue;
			}
			if (c == '"')
				inq = !inq;
			else if (!inq && c == '(')
				depth_par++;
			else if (!inq && c == ')' && depth_par > 0)
				depth_par--;
			else if (!inq && depth_par == 0 && c == '<')
				angle = true;
			else if (!inq && depth_par == 0 && c == '>')
				angle = false;
			else if (!inq && depth_par == 0 && !angle && c == ',')
				break;
			i++;
		}
		size_t end = i;
		i++;
		const uint8_t *lt = memchr(p + start, '<', end - start);
		const uint8_t *gt = lt ? memchr(lt, '>', (size_t)(p + end - lt)) : NULL;
		size_t s = start, e = end;
		if (want_name) {
			if (lt == NULL) {
				const uint8_t *op = memchr(p + start, '(', end - start);
				const uint8_t *cp = op ? memchr(op, ')', (size_t)(p + end - op)) : NULL;
				if (cp == NULL)
					continue;
				s = (size_t)(op - p) + 1;
				e = (size_t)(cp - p);
			} else {
				e = (size_t)(lt - p);
			}
			while (s < e && ws(p[s]))
				s++;
			while (e > s && ws(p[e - 1]))
				e--;
			if (e - s >= 2 && ((p[s] == '"' && p[e - 1] == '"') || (p[s] == '\'' && p[e - 1] == '\''))) {
				s++;
				e--;
			}
		} else if (lt != NULL && gt != NULL) {
			s = (size_t)(lt - p) + 1;
			e = (size_t)(gt - p);
		} else {
			/* bare address, maybe with a trailing (comment) */
			while (s < e && ws(p[s]))
				s++;
			size_t k = s;
			while (k < e && !ws(p[k]) && p[k] != '(')
				k++;
			e = k;
		}
		while (s < e && ws(p[s]))
			s++;
		while (e > s && ws(p[e - 1]))
			e--;
		if (e > s) {
			if (out->len > 0 && out->data[out->len - 1] != '\n')
				buf_append_byte(out, '\n');
			buf_append(out, p + s, e - s);
		}
	}
}

/* Whether header name n is name (nlen bytes), ignoring case: the length
 * first, since some forty header groups each look through every header. */
static bool
name_is(struct span n, const char *name, size_t nlen)
{
	return n.len == nlen && strncasecmp((const char *)n.p, name, nlen) == 0;
}

static bool
append_named(struct buf *out, const struct mime_headers *hs, const char *name, unsigned flags)
{
	bool found = false;
	size_t nlen = strlen(name);
	for (size_t i = 0; i < hs->n; i++) {
		const struct mime_header *h = &hs->v[i];
		if (!name_is(h->name, name, nlen))
			continue;
		found = true;
		if (flags & (HDR_ADDR | HDR_NAME)) {
			struct buf tmp;
			buf_init(&tmp, NULL);
			if ((flags & HDR_NAME) && !(flags & HDR_RAW))
				buf_append(&tmp, h->value, h->value_len);
			else
				append_unfolded_raw(&tmp, h->raw);
			append_addrs(out, tmp.data, tmp.len, (flags & HDR_NAME) != 0);
			buf_deinit(&tmp);
		} else if (flags & HDR_RAW) {
			append_raw(out, h->raw);
			buf_append_byte(out, '\n');
		} else {
			buf_append(out, h->value, h->value_len);
			buf_append_byte(out, '\n');
		}
	}
	return found;
}

static bool
append_all(struct buf *out, const struct mime_headers *hs, unsigned flags)
{
	for (size_t i = 0; i < hs->n; i++) {
		const struct mime_header *h = &hs->v[i];
		buf_append_span(out, h->name);
		if (flags & HDR_RAW) {
			buf_append_byte(out, ':');
			size_t e = h->raw.len;
			while (e > 0 && (h->raw.p[e - 1] == '\n' || h->raw.p[e - 1] == '\r'))
				e--;
			buf_append(out, h->raw.p, e);
		} else {
			buf_append(out, ": ", 2);
			buf_append(out, h->value, h->value_len);
		}
		buf_append_byte(out, '\n');
	}
	return hs->n > 0;
}

/* SpamAssassin's envelope sender: the SMTP MAIL FROM when the MTA gave it,
 * else the first X-Envelope-From, Envelope-Sender or Return-Path, trusted
 * only when no Received line precedes it (an MTA adds it on delivery). */
static bool
envelope_from(const struct msg *msg, struct buf *out)
{
	static const char *const names[] = { "X-Envelope-From", "Envelope-Sender", "Return-Path" };
	const struct mime_headers *hs = &msg->mime->headers;
	if (msg->env.mail_from != NULL) {
		buf_append_cstr(out, msg->env.mail_from);
		return true;
	}
	for (size_t k = 0; k < 3; k++) {
		bool after_received = false;
		for (size_t i = 0; i < hs->n; i++) {
			const struct mime_header *h = &hs->v[i];
			if (span_caseeq_cstr(h->name, "Received"))
				after_received = true;
			if (!span_caseeq_cstr(h->name, names[k]))
				continue;
			if (after_received)
				break;
			struct buf tmp;
			buf_init(&tmp, NULL);
			append_unfolded_raw(&tmp, h->raw);
			append_addrs(out, tmp.data, tmp.len, false);
			buf_deinit(&tmp);
			const uint8_t *nl = memchr(out->data, '\n', out->len);
			if (nl != NULL)
				out->len = (size_t)(nl - out->data); /* the first address */
			return out->len > 0;
		}
	}
	return false;
}

bool
rules_header_text(const struct msg *msg, const char *hdr, unsigned flags, struct buf *out)
{
	const struct mime_message *m = msg->mime;
	const struct mime_headers *hs = &m->headers;
	buf_reset(out);
	if (strcmp(hdr, "ALL") == 0)
		return append_all(out, hs, flags);
	if (strcasecmp(hdr, "ToCc") == 0) {
		bool a = append_named(out, hs, "To", flags);
		bool b = append_named(out, hs, "Cc", flags);
		return a || b;
	}
	if (strcmp(hdr, "MESSAGEID") == 0) {
		static const char *const ids[] = { "X-Message-Id", "Resent-Message-Id",
			"X-Original-Message-ID", "Message-Id" };
		bool any = false;
		for (size_t i = 0; i < 4; i++)
			any |= append_named(out, hs, ids[i], flags);
		return any;
	}
	if (strcasecmp(hdr, "EnvelopeFrom") == 0)
		return envelope_from(msg, out);
	return append_named(out, hs, hdr, flags);
}

/* Last instance of a header in one part's block (MIMEHeader semantics). */
bool
rules_part_header_text(const struct mime_part *p, const char *hdr, unsigned flags, struct buf *out)
{
	buf_reset(out);
	const struct mime_header *last = NULL;
	size_t hlen = strlen(hdr);
	for (size_t i = 0; i < p->headers.n; i++)
		if (name_is(p->headers.v[i].name, hdr, hlen))
			last = &p->headers.v[i];
	if (last == NULL)
		return false;
	if (flags & HDR_RAW)
		append_unfolded_raw(out, last->raw);
	else
		buf_append(out, last->value, last->value_len);
	buf_append_byte(out, '\n');
	return true;
}

/* Whitespace rule of the body: a run with two or more newlines becomes a
 * paragraph break (with a space on a side that had other blanks), any other
 * run one space. */
static void
append_collapsed(struct buf *out, struct span t)
{
	size_t i = 0;
	while (i < t.len) {
		if (!ws(t.p[i])) {
			size_t j = i;
			while (j < t.len && !ws(t.p[j]))
				j++;
			buf_append(out, t.p + i, j - i);
			i = j;
			continue;
		}
		size_t j = i, nl = 0, first = SIZE_MAX, last = 0;
		for (; j < t.len && ws(t.p[j]); j++) {
			if (t.p[j] == '\n') {
				nl++;
				if (first == SIZE_MAX)
					first = j;
				last = j;
			}
		}
		if (nl >= 2) {
			if (first > i)
				buf_append_byte(out, ' ');
			buf_append_byte(out, '\n');
			if (last + 1 < j)
				buf_append_byte(out, ' ');
		} else {
			buf_append_byte(out, ' ');
		}
		i = j;
	}
}

/* A part cut at max as SpamAssassin cuts it: after the first of seps (in
 * order of preference) within 1 KiB past max, else at max; 0 = no limit. */
static struct span
part_scan_cut(struct span t, size_t max, const char *seps)
{
	if (max == 0 || t.len <= max)
		return t;
	size_t window = t.len - max < 1025 ? t.len - max : 1025;
	for (const char *c = seps; *c != '\0'; c++) {
		const uint8_t *q = memchr(t.p + max, *c, window);
		if (q != NULL)
			return span_make(t.p, (size_t)(q - t.p) + 1);
	}
	return span_make(t.p, max);
}

static void
lines_push(struct rules_lines *l, const uint8_t *p, size_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = span_make(p, n);
}

/* Splits at newlines (kept), breaking lines over BODY_LINE_MAX at a space. */
static void
split_short_lines(struct rules_lines *l, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;
		while (end - i > BODY_LINE_MAX) {
			size_t k = i + BODY_LINE_MAX;
			while (k > i && p[k - 1] != ' ')
				k--;
			if (k == i)
				k = i + BODY_LINE_MAX;
			lines_push(l, p + i, k - i);
			i = k;
		}
		lines_push(l, p + i, end - i);
		i = end;
	}
}

void
rules_body_lines(const struct msg *msg, size_t part_max, struct buf *text,
    struct rules_lines *lines)
{
	const struct mime_message *m = msg->mime;
	buf_reset(text);
	lines->n = 0;
	const struct mime_header *subj = NULL;
	for (size_t i = 0; i < m->headers.n; i++)
		if (span_caseeq_cstr(m->headers.v[i].name, "Subject"))
			subj = &m->headers.v[i];
	if (subj != NULL)
		buf_append(text, subj->value, subj->value_len);
	buf_append_byte(text, '\n');
	size_t body_start = text->len;
	bool any = false;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (p->nchildren > 0 || (p->flags & MIME_PART_MULTIPART))
			continue;
		if (any)
			buf_append_byte(text, '\n');
		any = true;
		if ((p->flags & MIME_PART_TEXT) && p->text.p != NULL)
			append_collapsed(text, part_scan_cut(p->text, part_max, "\n "));
	}
	(void)body_start;
	split_short_lines(lines, text->data, text->len);
}

static void
split_paragraphs(struct rules_lines *l, struct span t)
{
	size_t ofs = 0;
	while (t.len - ofs > 2 * BODY_LINE_MAX) {
		size_t j = ofs + 2 * BODY_LINE_MAX - 1;
		const char seps[] = { '\n', '>', ' ' };
		for (size_t s = 0; s < 3; s++) {
			size_t from = ofs + BODY_LINE_MAX;
			const uint8_t *q = memchr(t.p + from, seps[s], t.len - from);
			if (q != NULL && (size_t)(q - t.p) - ofs + 1 <= 2 * BODY_LINE_MAX) {
				j = (size_t)(q - t.p);
				break;
			}
			if (s == 2)
				j = ofs + BODY_LINE_MAX;
		}
		lines_push(l, t.p + ofs, j - ofs + 1);
		ofs = j + 1;
	}
	if (ofs < t.len)
		lines_push(l, t.p + ofs, t.len - ofs);
}

void
rules_rawbody_chunks(const struct msg *msg, size_t part_max, struct rules_lines *lines)
{
	const struct mime_message *m = msg->mime;
	lines->n = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (p->nchildren > 0 || (p->flags & MIME_PART_MULTIPART))
			continue;
		bool textish = p->type == NULL || strcmp(p->type, "text") == 0 ||
		    strcmp(p->type, "message") == 0;
		if (!textish || (p->subtype != NULL && strcmp(p->subtype, "calendar") == 0))
			continue;
		struct span d = p->decoded.p != NULL ? p->decoded : p->raw_body;
		split_paragraphs(lines, part_scan_cut(d, part_max, "\n> "));
	}
}

/* ---- uri: SpamAssassin's URI list (PerMsgStatus::get_uri_list) ---- */

/* The part of a URL after its host ("/path?query"), or all of it. */
static struct span
uri_rest(struct span t)
{
	ptrdiff_t sep = span_find(t, SPAN_LIT("://"));
	if (sep < 0)
		return t;
	size_t i = (size_t)sep + 3;
	while (i < t.len && t.p[i] != '/' && t.p[i] != '?' && t.p[i] != '#')
		i++;
	return span_sub(t, i, t.len - i);
}

/*
 * The hard-coded redirector of Util::uri_list_canonicalize: an "http:" or
 * "https:" later in the URL starts another URL, up to the next '&' or '#',
 * if it has a dot; it joins the list with "//" after the scheme. Appends it
 * to out; false when there is none.
 */
static bool
uri_redirect(struct span t, struct buf *out)
{
	struct span rest = uri_rest(t);
	for (size_t i = 0; i + 5 <= rest.len; i++) {
		struct span at = span_sub(rest, i, rest.len - i);
		size_t sl = span_has_prefix_ci(at, "http:") ? 5 : span_has_prefix_ci(at, "https:") ? 6 : 0;
		if (sl == 0)
			continue;
		size_t e = sl, slashes = 0;
		while (e < at.len && at.p[e] == '/' && slashes < 2)
			e++, slashes++;
		size_t body = e;
		while (e < at.len && at.p[e] != '&' && at.p[e] != '#')
			e++;
		if (e == body || memchr(at.p + body, '.', e - body) == NULL)
			return false;
		buf_append(out, at.p, sl);
		buf_append_cstr(out, "//");
		buf_append(out, at.p + body, e - body);
		return true;
	}
	return false;
}

struct uri_ends {
	size_t *v;
	size_t n, cap;
};

static void
uri_end(struct uri_ends *e, const struct buf *text)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 32;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	e->v[e->n++] = text->len;
}

/* A URL, its form as found, and the URLs it redirects to (a few levels). */
static void
uri_forms(const struct mime_url *u, struct buf *text, struct buf *cur, struct uri_ends *e)
{
	buf_append_cstr(text, u->url);
	uri_end(e, text);
	if (u->raw != NULL) {
		if (u->flags & URL_SCHEMELESS)
			buf_append_cstr(text, strncasecmp(u->raw, "ftp.", 4) == 0 ? "ftp://" : "http://");
		buf_append_cstr(text, u->raw);
		uri_end(e, text);
	}
	buf_reset(cur);
	buf_append_cstr(cur, u->url);
	for (int level = 0; level < 4 && !text->failed; level++) {
		size_t start = text->len;
		if (!uri_redirect(buf_span(cur), text))
			break;
		uri_end(e, text);
		buf_reset(cur);
		buf_append(cur, text->data + start, text->len - start);
	}
}

/*
 * Every URL in its normalised form, as found, and the URLs it redirects
 * to; then the e-mail addresses of the text and the mailto: links as
 * "mailto:addr" (PerMsgStatus::_process_text_uri_list). Lines are spans
 * into text.
 */
void
rules_uri_texts(const struct msg *msg, struct buf *text, struct rules_lines *lines)
{
	const struct mime_message *m = msg->mime;
	struct uri_ends e = { NULL, 0, 0 };
	struct buf cur;
	buf_init(&cur, NULL);
	buf_reset(text);
	lines->n = 0;
	for (size_t u = 0; u < m->nurls; u++)
		if (m->urls[u].url != NULL)
			uri_forms(&m->urls[u], text, &cur, &e);
	for (size_t k = 0; k < m->nemails; k++) {
		if (m->emails[k].addr == NULL)
			continue;
		buf_append_cstr(text, "mailto:");
		buf_append_cstr(text, m->emails[k].addr);
		uri_end(&e, text);
	}
	size_t start = 0;
	for (size_t k = 0; k < e.n && !text->failed; k++) {
		lines_push(lines, text->data + start, e.v[k] - start);
		start = e.v[k];
	}
	buf_deinit(&cur);
	free(e.v);
}
