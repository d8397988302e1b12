/*
 * mime_json.c - struct mime_message as JSON; see fcore/mime_json.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcore/mime_json.h"
#include "mime-private.h"

#define EXCERPT_CHARS 200

/* A JSON string from bytes that may not be UTF-8. */
static json_t *
jbytes(const void *p, size_t len)
{
	struct span s = span_make(p, len);
	if (p == NULL)
		return json_null();
	if (charset_is_utf8(s))
		return json_stringn_nocheck((const char *)p, len);
	struct arena *a = arena_new(0);
	size_t nbad;
	struct span r = charset_utf8_repair(a, s, &nbad);
	json_t *j = json_stringn_nocheck((const char *)r.p, r.len);
	arena_free(&a);
	return j;
}

static json_t *
jstr(const char *s)
{
	return s ? jbytes(s, strlen(s)) : json_null();
}

static json_t *
flag_list(uint32_t flags, const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (flags & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static json_t *
part_flags(uint32_t f)
{
	static const char *const names[] = { "multipart", "message", "text", "html", "attachment",
		"bad_cte", "ext_mismatch", "invisible_text", "charset_detected", "charset_invalid",
		"truncated" };
	return flag_list(f, names, sizeof(names) / sizeof(names[0]));
}

static json_t *
headers(const struct mime_headers *h)
{
	static const char *const names[] = { "encoded", "bad_encoding", "8bit", "truncated" };
	json_t *a = json_array();
	for (size_t i = 0; i < h->n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", jbytes(h->v[i].name.p, h->v[i].name.len));
		json_object_set_new(o, "value", jbytes(h->v[i].value, h->v[i].value_len));
		if (h->v[i].flags)
			json_object_set_new(o, "flags", flag_list(h->v[i].flags, names, 4));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
addrs(const struct mime_addr_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct mime_addr *m = &l->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", jstr(m->name));
		json_object_set_new(o, "addr", jstr(m->addr));
		json_object_set_new(o, "local", jstr(m->local));
		json_object_set_new(o, "domain", jstr(m->domain));
		if (m->in_group)
			json_object_set_new(o, "in_group", json_true());
		if (m->invalid)
			json_object_set_new(o, "invalid", json_true());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
iso_time(time_t t)
{
	struct tm tm;
	char buf[32];
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

static json_t *
received(const struct mime_message *m)
{
	json_t *a = json_array();
	for (size_t i = 0; i < m->nreceived; i++) {
		const struct mime_received *r = &m->received[i];
		json_t *o = json_object();
		json_object_set_new(o, "from", jstr(r->from_name));
		json_object_set_new(o, "helo", jstr(r->helo));
		json_object_set_new(o, "rdns", jstr(r->rdns));
		json_object_set_new(o, "ip", jstr(r->ip));
		json_object_set_new(o, "by", jstr(r->by));
		json_object_set_new(o, "with", jstr(r->with));
		json_object_set_new(o, "date", r->ts ? iso_time(r->ts) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

/* First EXCERPT_CHARS characters (not bytes) of UTF-8 text. */
static json_t *
excerpt(struct span s)
{
	size_t i = 0, chars = 0;
	while (i < s.len && chars < EXCERPT_CHARS) {
		i++;
		while (i < s.len && (s.p[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	return jbytes(s.p, i);
}

static json_t *
part(const struct mime_part *p)
{
	json_t *o = json_object();
	char ct[256];
	const char *cte = mime_cte_name(p->cte);

	snprintf(ct, sizeof(ct), "%s/%s", p->type ? p->type : "", p->subtype ? p->subtype : "");
	json_object_set_new(o, "index", json_integer(p->index));
	json_object_set_new(o, "parent", json_integer(p->parent));
	json_object_set_new(o, "depth", json_integer(p->depth));
	json_object_set_new(o, "nchildren", json_integer(p->nchildren));
	json_object_set_new(o, "type", jstr(ct));
	json_object_set_new(o, "charset", jstr(p->charset));
	json_object_set_new(o, "charset_used", jstr(p->charset_used));
	json_object_set_new(o, "cte", jstr(cte));
	json_object_set_new(o, "disposition", jstr(p->disposition));
	json_object_set_new(o, "filename", jstr(p->filename));
	json_object_set_new(o, "detected_type", jstr(p->detected_type));
	json_object_set_new(o, "size_raw", json_integer((json_int_t)p->raw_body.len));
	json_object_set_new(o, "size_decoded", json_integer((json_int_t)p->decoded.len));
	json_object_set_new(o, "size_utf8", json_integer((json_int_t)p->utf8.len));
	json_object_set_new(o, "flags", part_flags(p->flags));
	json_object_set_new(o, "text", p->text.len ? excerpt(p->text) : json_null());
	if (p->index > 0)
		json_object_set_new(o, "headers", headers(&p->headers));
	return o;
}

static json_t *
urls(const struct mime_message *m)
{
	static const char *const names[] = { "from_text", "from_html", "numeric_ip", "phished",
		"has_user", "idn", "obscured", "schemeless", "image", "form" };
	json_t *a = json_array();
	for (size_t i = 0; i < m->nurls; i++) {
		const struct mime_url *u = &m->urls[i];
		json_t *o = json_object();
		json_object_set_new(o, "url", jstr(u->url));
		json_object_set_new(o, "host", jstr(u->host));
		json_object_set_new(o, "tld", jstr(u->tld));
		json_object_set_new(o, "part", json_integer(u->part));
		json_object_set_new(o, "flags", flag_list(u->flags, names, 10));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
anomalies(const struct mime_message *m)
{
	json_t *a = json_array();
	for (size_t i = 0; i < m->nanomalies; i++) {
		const struct mime_anomaly_hit *h = &m->anomalies[i];
		json_t *o = json_object();
		json_object_set_new(o, "symbol", json_string(mime_anomaly_symbol(h->kind)));
		json_object_set_new(o, "detail", jstr(h->detail));
		json_object_set_new(o, "part", json_integer(h->part));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
mime_to_json(const struct mime_message *m)
{
	json_t *o = json_object();
	json_t *pa = json_array(), *ea = json_array();

	json_object_set_new(o, "subject", jstr(m->subject));
	json_object_set_new(o, "message_id", jstr(m->message_id));
	json_object_set_new(o, "date", m->has_date && m->date ? iso_time(m->date) : json_null());
	json_object_set_new(o, "from", addrs(&m->from));
	json_object_set_new(o, "to", addrs(&m->to));
	json_object_set_new(o, "cc", addrs(&m->cc));
	json_object_set_new(o, "reply_to", addrs(&m->reply_to));
	json_object_set_new(o, "sender", addrs(&m->sender));
	json_object_set_new(o, "received", received(m));
	json_object_set_new(o, "headers", headers(&m->headers));
	for (size_t i = 0; i < m->nparts; i++)
		json_array_append_new(pa, part(&m->parts[i]));
	json_object_set_new(o, "parts", pa);
	json_object_set_new(o, "urls", urls(m));
	for (size_t i = 0; i < m->nemails; i++)
		json_array_append_new(ea, jstr(m->emails[i].addr));
	json_object_set_new(o, "emails", ea);
	json_object_set_new(o, "anomalies", anomalies(m));
	json_object_set_new(o, "limit_hit", json_boolean(m->limit_hit));
	return o;
}
