/*
 * mime_parse.c - THIN first slice: top-level headers and one body part.
 * The MIME issue replaces this with the full parser (multipart, decoding,
 * charsets, HTML, URLs, attachments).
 */
#include "fcore/mime.h"

#include <string.h>
#include <strings.h>

#include "fcore/arena.h"

static const char *const anomaly_syms[] = {
#define MIME_ANOMALY(id, sym, desc) sym,
#include "fcore/mime_anomalies.def"
#undef MIME_ANOMALY
};
static const char *const anomaly_descs[] = {
#define MIME_ANOMALY(id, sym, desc) desc,
#include "fcore/mime_anomalies.def"
#undef MIME_ANOMALY
};

const char *
mime_anomaly_symbol(enum mime_anomaly a)
{
	return (unsigned)a < MIME_ANOMALY_COUNT ? anomaly_syms[a] : "MIME_UNKNOWN";
}

const char *
mime_anomaly_description(enum mime_anomaly a)
{
	return (unsigned)a < MIME_ANOMALY_COUNT ? anomaly_descs[a] : "";
}

void
mime_limits_default(struct mime_limits *l)
{
	l->max_depth = 16;
	l->max_parts = 1024;
	l->max_header_lines = 1024;
	l->max_header_size = 32 * 1024;
	l->max_boundary = 256;
	l->max_urls = 10000;
}

static const char *
unfold(struct arena *a, struct span raw, size_t *len_r)
{
	char *out = arena_alloc(a, raw.len + 1);
	size_t o = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < raw.len; i++) {
		uint8_t c = raw.p[i];
		if (c == '\r' || c == '\n')
			continue;
		out[o++] = c == '\0' ? ' ' : (char)c;
	}
	size_t s = 0;
	while (s < o && (out[s] == ' ' || out[s] == '\t'))
		s++;
	while (o > s && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	memmove(out, out + s, o - s);
	o -= s;
	out[o] = '\0';
	*len_r = o;
	return out;
}

static size_t
parse_headers(struct arena *a, struct span raw, struct mime_headers *h, unsigned max_lines)
{
	size_t pos = 0, cap = 0;
	h->v = NULL;
	h->n = 0;
	while (pos < raw.len) {
		const uint8_t *p = raw.p + pos;
		size_t rest = raw.len - pos;
		if (p[0] == '\n')
			return pos + 1;
		if (p[0] == '\r' && rest > 1 && p[1] == '\n')
			return pos + 2;
		/* one header: up to a newline not followed by WSP */
		size_t end = 0;
		while (end < rest) {
			const uint8_t *nl = memchr(p + end, '\n', rest - end);
			if (nl == NULL) {
				end = rest;
				break;
			}
			end = (size_t)(nl - p) + 1;
			if (end >= rest || (p[end] != ' ' && p[end] != '\t'))
				break;
		}
		const uint8_t *colon = memchr(p, ':', end);
		if (colon != NULL && h->n < max_lines) {
			if (h->n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct mime_header *n = arena_realloc(a, h->v, cap * sizeof(*n), ncap * sizeof(*n));
				if (n == NULL)
					return pos;
				h->v = n;
				cap = ncap;
			}
			struct mime_header *hd = &h->v[h->n++];
			memset(hd, 0, sizeof(*hd));
			hd->name = span_trim(span_make(p, (size_t)(colon - p)));
			hd->raw = span_make(colon + 1, (size_t)(p + end - colon - 1));
			hd->value = unfold(a, hd->raw, &hd->value_len);
			if (hd->value == NULL) {
				h->n--;
				return pos;
			}
		}
		pos += end;
	}
	return pos;
}

struct mime_message *
mime_parse(struct arena *a, struct span raw, const struct mime_limits *limits)
{
	struct mime_limits def;
	if (limits == NULL) {
		mime_limits_default(&def);
		limits = &def;
	}
	struct mime_message *m = ARENA_NEW(a, struct mime_message);
	if (m == NULL)
		return NULL;
	if (raw.len >= 5 && memcmp(raw.p, "From ", 5) == 0) {
		const uint8_t *nl = memchr(raw.p, '\n', raw.len);
		size_t skip = nl ? (size_t)(nl - raw.p) + 1 : raw.len;
		raw = span_sub(raw, skip, raw.len - skip);
	}
	m->raw = raw;
	size_t hlen = parse_headers(a, raw, &m->headers, limits->max_header_lines);
	m->body = span_sub(raw, hlen, raw.len - hlen);
	const struct mime_header *h;
	if ((h = mime_header_get(&m->headers, "Subject")) != NULL)
		m->subject = h->value;
	if ((h = mime_header_get(&m->headers, "Message-ID")) != NULL) {
		const char *v = h->value;
		size_t n = h->value_len;
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>')
			m->message_id = arena_strndup(a, v + 1, n - 2);
		else
			m->message_id = v;
	}
	m->has_date = mime_header_get(&m->headers, "Date") != NULL;
	m->nreceived = mime_header_count(&m->headers, "Received");
	m->received = arena_array(a, m->nreceived ? m->nreceived : 1, sizeof(*m->received));
	if (m->received)
		memset(m->received, 0, (m->nreceived ? m->nreceived : 1) * sizeof(*m->received));
	m->parts = ARENA_NEW(a, struct mime_part);
	if (m->parts != NULL) {
		m->nparts = 1;
		struct mime_part *p = m->parts;
		p->parent = -1;
		p->headers = m->headers;
		p->type = "text";
		p->subtype = "plain";
		p->raw = raw;
		p->raw_body = m->body;
		p->decoded = m->body;
		p->text = m->body;
		p->flags = MIME_PART_TEXT;
	}
	return m;
}

const struct mime_header *
mime_header_get(const struct mime_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (span_caseeq_cstr(h->v[i].name, name))
			return &h->v[i];
	return NULL;
}

size_t
mime_header_count(const struct mime_headers *h, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++)
		if (span_caseeq_cstr(h->v[i].name, name))
			n++;
	return n;
}

bool
mime_message_has_anomaly(const struct mime_message *m, enum mime_anomaly a)
{
	for (size_t i = 0; i < m->nanomalies; i++)
		if (m->anomalies[i].kind == a)
			return true;
	return false;
}
