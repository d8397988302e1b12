/*
 * mime_fields.c - message-level fields from the top-level header block:
 * address lists, Received hops, Subject, Message-ID, Date, and the anomalies
 * that concern the message as a whole (MIME-Version, Message-ID, Date,
 * 8-bit addresses, undecodable encoded words).
 */
#include <string.h>

#include "fcore/ascii.h"
#include "mime-private.h"

static void
addr_headers(struct mime_ctx *c, const char *name, struct mime_addr_list *out, enum mime_anomaly a8)
{
	const struct mime_headers *hs = &c->m->headers;
	for (size_t i = 0; i < hs->n; i++) {
		const struct mime_header *h = &hs->v[i];
		size_t len;
		if (!span_caseeq_cstr(h->name, name))
			continue;
		char *v = mime_hdr_unfold(c->a, span_sub(h->raw, 0, c->lim->max_header_size), &len);
		if (v == NULL)
			return;
		mime_addr_parse(c->a, v, len, out);
		struct span sv = span_make(v, len);
		if ((int)a8 >= 0 && !charset_is_ascii(sv) && !charset_is_utf8(sv))
			mime_anomaly_once(c, a8, NULL, -1);
	}
}

static void
received(struct mime_ctx *c)
{
	const struct mime_headers *hs = &c->m->headers;
	size_t n = mime_header_count(hs, "Received"), k = 0;

	if (n == 0)
		return;
	c->m->received = ARENA_NEW_ARRAY(c->a, struct mime_received, n);
	if (c->m->received == NULL)
		return;
	for (size_t i = 0; i < hs->n && k < n; i++) {
		const struct mime_header *h = &hs->v[i];
		size_t len;
		if (!span_caseeq_cstr(h->name, "Received"))
			continue;
		char *v = mime_hdr_unfold(c->a, span_sub(h->raw, 0, c->lim->max_header_size), &len);
		if (v == NULL)
			break;
		mime_received_parse(c->a, v, len, &c->m->received[k++]);
	}
	c->m->nreceived = k;
}

/* "<local@domain>" with nothing else but whitespace and comments around. */
static void
message_id(struct mime_ctx *c)
{
	const struct mime_header *h = mime_header_get(&c->m->headers, "Message-ID");
	if (h == NULL) {
		mime_anomaly_add(c, MIME_A_MISSING_MID, NULL, -1);
		return;
	}
	struct span v = span_make(h->value, h->value_len);
	ptrdiff_t lt = span_find_byte(v, '<');
	ptrdiff_t gt = lt >= 0 ? span_find_byte(span_sub(v, (size_t)lt, v.len), '>') : -1;
	if (lt >= 0 && gt > 0) {
		struct span id = span_sub(v, (size_t)lt + 1, (size_t)gt - 1);
		c->m->message_id = arena_strndup(c->a, id.p, id.len);
		bool ok = id.len > 2 && span_find_byte(id, '@') > 0 && span_find_byte(id, ' ') < 0 &&
		    (size_t)span_find_byte(id, '@') + 1 < id.len;
		if (!ok)
			mime_anomaly_add(c, MIME_A_INVALID_MSGID, c->m->message_id, -1);
		return;
	}
	c->m->message_id = arena_strndup(c->a, v.p, v.len);
	mime_anomaly_add(c, MIME_A_INVALID_MSGID, c->m->message_id, -1);
}

static void
date(struct mime_ctx *c)
{
	const struct mime_header *h = mime_header_get(&c->m->headers, "Date");
	if (h == NULL) {
		mime_anomaly_add(c, MIME_A_MISSING_DATE, NULL, -1);
		return;
	}
	c->m->has_date = true;
	bool odd = false;
	if (!mime_date_parse_ex(h->value, h->value_len, &c->m->date, &odd))
		c->m->date = 0;
	if (c->m->date == 0 || odd)
		mime_anomaly_add(c, MIME_A_INVALID_DATE, h->value, -1);
}

/*
 * SpamAssassin's MIME_HEADER_CTYPE_ONLY, whose name this anomaly carries:
 * a Content-Type with neither Content-Disposition nor
 * Content-Transfer-Encoding, and not text/plain (old mailers' plain text
 * with a charset is not an anomaly).
 */
static bool
ctype_only(const struct mime_headers *hs)
{
	const struct mime_header *ct = mime_header_get(hs, "Content-Type");
	if (ct == NULL || mime_header_get(hs, "Content-Disposition") != NULL ||
	    mime_header_get(hs, "Content-Transfer-Encoding") != NULL)
		return false;
	struct span v = span_trim(span_make(ct->value, ct->value_len));
	static const char plain[] = "text/plain";
	if (!span_has_prefix_ci(v, plain))
		return true;
	if (v.len == sizeof(plain) - 1)
		return false;
	uint8_t next = v.p[sizeof(plain) - 1];
	return ascii_is_alnum(next) || next == '_';
}

static void
mime_version(struct mime_ctx *c)
{
	const struct mime_headers *hs = &c->m->headers;
	const struct mime_part *root = &c->m->parts[0];

	if (mime_header_get(hs, "MIME-Version") != NULL)
		return;
	if (ctype_only(hs))
		mime_anomaly_add(c, MIME_A_HEADER_CTYPE_ONLY, NULL, -1);
	if (strcmp(root->type, "text") != 0)
		mime_anomaly_add(c, MIME_A_MISSING_MIME_VERSION, NULL, -1);
}

static void
bad_encodings(struct mime_ctx *c)
{
	for (size_t p = 0; p < c->m->nparts; p++) {
		const struct mime_headers *hs = &c->m->parts[p].headers;
		for (size_t i = 0; i < hs->n; i++)
			if (hs->v[i].flags & MIME_HDR_BAD_ENCODING)
				mime_anomaly_add(c, MIME_A_BAD_HEADER_ENCODING,
				    arena_strndup(c->a, hs->v[i].name.p, hs->v[i].name.len), (int)p);
	}
}

void
mime_message_fields(struct mime_ctx *c)
{
	const struct mime_header *h;

	addr_headers(c, "From", &c->m->from, MIME_A_INVALID_FROM_8BIT);
	addr_headers(c, "To", &c->m->to, MIME_A_INVALID_RCPT_8BIT);
	addr_headers(c, "Cc", &c->m->cc, (enum mime_anomaly)-1);
	addr_headers(c, "Reply-To", &c->m->reply_to, (enum mime_anomaly)-1);
	addr_headers(c, "Sender", &c->m->sender, (enum mime_anomaly)-1);
	received(c);
	if ((h = mime_header_get(&c->m->headers, "Subject")) != NULL)
		c->m->subject = h->value;
	message_id(c);
	date(c);
	mime_version(c);
	bad_encodings(c);
}
