/*
 * mime_parse.c - the part tree: entities, multipart splitting, nesting.
 *
 * DESIGN
 * Entities wait on an explicit stack (struct frame), never on the C stack:
 * nesting depth is chosen by the sender. Popping an entity appends it to
 * m->parts and pushes its children in reverse order, so parts come out in
 * pre-order with parents before children. Indices, not pointers, link parts
 * because the parts array grows by reallocation.
 *
 * A multipart body is split on "--boundary" at the start of a line; the
 * rest of the line is ignored (RFC 2046 5.1.1) unless it continues the
 * boundary with more boundary characters (see delim_line()). An outer boundary ends
 * an inner part even when the inner multipart never closed, as in every
 * mail client. Preamble and epilogue are skipped. Past max_depth or
 * max_parts the entity becomes a leaf (or is dropped) and a limit anomaly
 * says so; parsing goes on.
 */
#include <string.h>
#include <strings.h>

#include "mime-private.h"

struct frame {
	struct span raw;
	int parent;
	unsigned depth;
	bool digest; /* child of multipart/digest: default type message/rfc822 */
};

struct stack {
	struct frame *v;
	size_t n, cap;
};

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
	l->defer_extract = false;
}

/* Anomalies per message are capped: each kind can fire per part and a
 * hostile message has up to max_parts of them. */
#define MAX_ANOMALIES 256

void
mime_anomaly_add(struct mime_ctx *c, enum mime_anomaly kind, const char *detail, int part)
{
	struct mime_message *m = c->m;
	if (m->nanomalies >= MAX_ANOMALIES)
		return;
	if (m->nanomalies == c->anom_cap) {
		size_t nc = c->anom_cap ? c->anom_cap * 2 : 8;
		struct mime_anomaly_hit *v = arena_realloc(c->a, m->anomalies,
		    c->anom_cap * sizeof(*v), nc * sizeof(*v));
		if (v == NULL)
			return;
		m->anomalies = v;
		c->anom_cap = nc;
	}
	c->anom_seen[kind / 64] |= 1ULL << (kind % 64);
	m->anomalies[m->nanomalies++] = (struct mime_anomaly_hit){ kind, detail, part };
	if (kind == MIME_A_LIMIT_DEPTH || kind == MIME_A_LIMIT_PARTS || kind == MIME_A_LIMIT_HEADERS ||
	    kind == MIME_A_LIMIT_HEADER_SIZE || kind == MIME_A_LIMIT_URLS || kind == MIME_A_LIMIT_BOUNDARY)
		m->limit_hit = true;
}

void
mime_anomaly_once(struct mime_ctx *c, enum mime_anomaly kind, const char *detail, int part)
{
	if (!(c->anom_seen[kind / 64] & (1ULL << (kind % 64))))
		mime_anomaly_add(c, kind, detail, part);
}

static bool
push(struct arena *a, struct stack *s, struct frame f)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct frame *v = arena_realloc(a, s->v, s->cap * sizeof(*v), nc * sizeof(*v));
		if (v == NULL)
			return false;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = f;
	return true;
}

static struct mime_part *
new_part(struct mime_ctx *c, const struct frame *f)
{
	struct mime_message *m = c->m;
	if (m->nparts == c->parts_cap) {
		size_t nc = c->parts_cap ? c->parts_cap * 2 : 8;
		struct mime_part *v = arena_realloc(c->a, m->parts, c->parts_cap * sizeof(*v),
		    nc * sizeof(*v));
		if (v == NULL)
			return NULL;
		m->parts = v;
		c->parts_cap = nc;
	}
	struct mime_part *p = &m->parts[m->nparts];
	memset(p, 0, sizeof(*p));
	p->index = (unsigned)m->nparts++;
	p->parent = f->parent;
	p->depth = f->depth;
	p->raw = f->raw;
	if (f->parent >= 0)
		m->parts[f->parent].nchildren++;
	return p;
}

/* ---- headers of one entity ---- */

static const char *
hdr_unfolded(struct mime_ctx *c, const struct mime_header *h, size_t *len_r)
{
	struct span raw = h->raw;
	if (raw.len > c->lim->max_header_size)
		raw.len = c->lim->max_header_size;
	return mime_hdr_unfold(c->a, raw, len_r);
}

static bool
token_ok(struct span s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.p[i];
		if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?=", ch) != NULL)
			return false;
	}
	return true;
}

static void
content_type(struct mime_ctx *c, struct mime_part *p, bool digest)
{
	const struct mime_header *h = mime_header_get(&p->headers, "Content-Type");
	struct mime_ctval cv;
	size_t len;
	const char *v;

	p->type = digest ? "message" : "text";
	p->subtype = digest ? "rfc822" : "plain";
	if (h == NULL || (v = hdr_unfolded(c, h, &len)) == NULL)
		return;
	mime_ctval_parse(c->a, v, len, &cv);
	p->params = cv.params;
	p->nparams = cv.nparams;
	ptrdiff_t slash = span_find_byte(cv.token, '/');
	struct span t = slash >= 0 ? span_trim(span_sub(cv.token, 0, (size_t)slash)) : cv.token;
	struct span st = slash >= 0 ? span_trim(span_sub(cv.token, (size_t)slash + 1, cv.token.len)) :
	    span_make(NULL, 0);
	if (slash < 0 && span_caseeq_cstr(t, "text"))
		st = SPAN_LIT("plain");
	if (!token_ok(t) || !token_ok(st)) {
		mime_anomaly_add(c, MIME_A_BROKEN_CONTENT_TYPE, arena_strndup(c->a, v, len), (int)p->index);
		/* "multipart/mixed/" and friends still name a multipart */
		if (span_has_prefix_ci(cv.token, "multipart/") &&
		    mime_param_get(cv.params, cv.nparams, "boundary") != NULL) {
			p->type = "multipart";
			p->subtype = "mixed";
		}
	} else {
		if (cv.broken)
			mime_anomaly_add(c, MIME_A_BROKEN_CONTENT_TYPE, arena_strndup(c->a, v, len),
			    (int)p->index);
		const char *ty = mime_lower_dup(c->a, t.p, t.len);
		const char *sub = mime_lower_dup(c->a, st.p, st.len);
		if (ty != NULL && sub != NULL) { /* else the arena ran dry: keep defaults */
			p->type = ty;
			p->subtype = sub;
		}
	}
	const char *cs = mime_param_get(cv.params, cv.nparams, "charset");
	if (cs != NULL) {
		struct span s = span_trim(span_from_cstr(cs));
		if (s.len > 0)
			p->charset = mime_lower_dup(c->a, s.p, s.len);
	}
}

static void
disposition(struct mime_ctx *c, struct mime_part *p)
{
	const struct mime_header *h = mime_header_get(&p->headers, "Content-Disposition");
	const char *fn = NULL, *v;
	struct mime_ctval cv;
	size_t len;

	if (h != NULL && (v = hdr_unfolded(c, h, &len)) != NULL) {
		mime_ctval_parse(c->a, v, len, &cv);
		if (cv.token.len > 0)
			p->disposition = mime_lower_dup(c->a, cv.token.p, cv.token.len);
		fn = mime_param_get(cv.params, cv.nparams, "filename");
	}
	if (fn == NULL || *fn == '\0')
		fn = mime_param_get(p->params, p->nparams, "name");
	if (fn != NULL && *fn != '\0')
		p->filename = fn;
	if (p->filename != NULL || (p->disposition && strcmp(p->disposition, "attachment") == 0))
		p->flags |= MIME_PART_ATTACHMENT;
}

static void
transfer_encoding(struct mime_ctx *c, struct mime_part *p)
{
	const struct mime_header *h = mime_header_get(&p->headers, "Content-Transfer-Encoding");
	if (h == NULL)
		return;
	p->cte = mime_cte_parse(h->value, h->value_len);
	if (p->cte == MIME_CTE_UNKNOWN) {
		p->flags |= MIME_PART_BAD_CTE;
		mime_anomaly_add(c, MIME_A_BAD_CTE, h->value, (int)p->index);
	}
}

/* ---- leaves ---- */

static void
decode_body(struct mime_ctx *c, struct mime_part *p)
{
	bool bad = false;
	enum mime_anomaly kind = MIME_A_BAD_BASE64;

	switch (p->cte) {
	case MIME_CTE_BASE64:
		p->decoded = mime_decode_base64(c->a, p->raw_body, &bad);
		break;
	case MIME_CTE_QP:
		p->decoded = mime_decode_qp(c->a, p->raw_body, &bad);
		kind = MIME_A_BAD_QP;
		break;
	case MIME_CTE_UUENCODE: {
		const char *name = NULL;
		p->decoded = mime_decode_uu(c->a, p->raw_body, &name, &bad);
		kind = MIME_A_BAD_UUENCODE;
		if (p->filename == NULL && name != NULL) {
			p->filename = name;
			p->flags |= MIME_PART_ATTACHMENT;
		}
		break;
	}
	default:
		p->decoded = p->raw_body;
		if (p->cte == MIME_CTE_7BIT && strcmp(p->type, "text") == 0 &&
		    !charset_is_ascii(p->raw_body)) {
			p->flags |= MIME_PART_BAD_CTE;
			mime_anomaly_add(c, MIME_A_BAD_CTE_7BIT, NULL, (int)p->index);
		}
		return;
	}
	if (p->decoded.p == NULL)
		p->decoded = span_make(p->raw_body.p, 0);
	if (bad) {
		p->flags |= MIME_PART_BAD_CTE;
		mime_anomaly_add(c, kind, NULL, (int)p->index);
	}
}

/* HTML that names its charset only in <meta ... charset=X>: the first
 * META_SCAN bytes are searched, as browsers do (they use 1,024). */
#define META_SCAN 4096

static const char *
html_meta_charset(struct arena *a, struct span body)
{
	size_t n = body.len < META_SCAN ? body.len : META_SCAN;
	char *low = mime_lower_dup(a, body.p, n);
	if (low == NULL)
		return NULL;
	ptrdiff_t at = span_find(span_make(low, n), SPAN_LIT("charset="));
	if (at < 0 || span_find(span_make(low, (size_t)at), SPAN_LIT("<meta")) < 0)
		return NULL;
	size_t i = (size_t)at + 8, s;
	while (i < n && (low[i] == '"' || low[i] == '\'' || low[i] == ' '))
		i++;
	for (s = i; i < n && i - s < 40; i++) {
		char ch = low[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		        ch == '.' || ch == ':'))
			break;
	}
	return i > s ? arena_strndup(a, low + s, i - s) : NULL;
}

static void
text_body(struct mime_ctx *c, struct mime_part *p, bool as_plain)
{
	const char *used = NULL;
	bool html = strcmp(p->subtype, "html") == 0 && !as_plain;
	bool plain = as_plain || strcmp(p->subtype, "plain") == 0;

	const char *cs = p->charset;
	if (cs == NULL && html && !charset_is_ascii(p->decoded))
		cs = html_meta_charset(c->a, p->decoded);
	if (!charset_to_utf8(c->a, p->decoded, cs, &p->utf8, &used, &p->flags))
		return;
	p->charset_used = used;
	if (p->flags & MIME_PART_CHARSET_DETECTED) {
		if (cs == NULL)
			mime_anomaly_add(c, MIME_A_MISSING_CHARSET, NULL, (int)p->index);
		else
			mime_anomaly_add(c, MIME_A_CHARSET_UNKNOWN, cs, (int)p->index);
	}
	if (p->flags & MIME_PART_CHARSET_INVALID)
		mime_anomaly_add(c, MIME_A_CHARSET_INVALID, used, (int)p->index);
	if ((html || plain) && !(p->flags & MIME_PART_ATTACHMENT && p->filename != NULL))
		p->flags |= MIME_PART_TEXT;
	if (html)
		p->flags |= MIME_PART_HTML;
	else if (plain)
		p->text = p->utf8;
}

static void
leaf(struct mime_ctx *c, struct mime_part *p, bool as_text)
{
	decode_body(c, p);
	if (as_text || strcmp(p->type, "text") == 0)
		text_body(c, p, as_text);
	mime_attach_check(c, p);
}

/* ---- multipart ---- */

/* RFC 2046 bchars (space aside): a delimiter followed by one of these is
 * the start of a longer boundary, not this one. */
static bool
is_bchar(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch != 0 && strchr("'()+_,-./:=?", ch) != NULL);
}

/* Where the line holding the delimiter at k ends; -1 if that line is not a
 * delimiter. RFC 2046 matches the boundary as a line prefix and ignores the
 * rest of the line, but mailers nest boundaries that extend one another
 * ("=_abc" outside, "=_abc_alt" inside), so a prefix followed by another
 * boundary character does not count. */
static ptrdiff_t
delim_line(struct span b, size_t k, size_t dlen, bool *closing)
{
	size_t i = k + dlen, next;
	*closing = i + 1 < b.len && b.p[i] == '-' && b.p[i + 1] == '-';
	if (!*closing && i < b.len && is_bchar(b.p[i]))
		return -1;
	if (i >= b.len)
		return (ptrdiff_t)b.len;
	mime_line(b, i, &next);
	return (ptrdiff_t)next;
}

/* Start of the line ending just before k (the CRLF before a delimiter
 * belongs to the delimiter). */
static size_t
content_end(struct span b, size_t k)
{
	bool lf = k > 0 && b.p[k - 1] == '\n';
	if (lf)
		k--;
	if (k > 0 && b.p[k - 1] == '\r')
		k--;
	if (lf && k > 0 && b.p[k - 1] == '\r') /* "\r\r\n", as mime_line() */
		k--;
	return k;
}

static unsigned
split(struct mime_ctx *c, struct mime_part *p, struct span bnd, struct stack *st, bool *closed)
{
	struct span b = p->raw_body;
	size_t pos = 0, start = 0, nkids = 0, first = st->n;
	bool in_part = false;

	/* RFC 2046 allows 70 characters; mailers send more and the limit
	 * only reports it. Matching still uses the whole boundary: memmem
	 * is linear in the needle, and a truncated boundary would match
	 * lines that merely share its first bytes. */
	if (bnd.len > c->lim->max_boundary)
		mime_anomaly_add(c, MIME_A_LIMIT_BOUNDARY, NULL, (int)p->index);
	char *dbuf = arena_alloc(c->a, bnd.len + 2);
	if (dbuf == NULL)
		return 0;
	dbuf[0] = dbuf[1] = '-';
	memcpy(dbuf + 2, bnd.p, bnd.len);
	struct span delim = span_make(dbuf, bnd.len + 2);
	*closed = false;
	while (pos < b.len) {
		ptrdiff_t f = span_find(span_sub(b, pos, b.len - pos), delim);
		if (f < 0)
			break;
		size_t k = pos + (size_t)f;
		bool closing;
		ptrdiff_t next;
		pos = k + 1;
		if (k > 0 && b.p[k - 1] != '\n' && b.p[k - 1] != '\r')
			continue;
		if ((next = delim_line(b, k, delim.len, &closing)) < 0)
			continue;
		if (in_part && nkids < c->lim->max_parts) {
			/* two delimiter lines in a row: an empty part */
			size_t end = content_end(b, k) > start ? content_end(b, k) : start;
			struct frame fr = { span_sub(b, start, end - start), (int)p->index,
				p->depth + 1, strcmp(p->subtype, "digest") == 0 };
			if (!push(c->a, st, fr))
				break;
			nkids++;
		}
		in_part = !closing;
		start = (size_t)next;
		pos = (size_t)next;
		if (closing) {
			*closed = true;
			break;
		}
	}
	if (in_part && nkids < c->lim->max_parts) {
		struct frame fr = { span_sub(b, start, b.len - start), (int)p->index, p->depth + 1,
			strcmp(p->subtype, "digest") == 0 };
		if (push(c->a, st, fr))
			nkids++;
	}
	/* pre-order: the first child must be popped first */
	for (size_t i = first, j = st->n; j > i + 1; i++, j--) {
		struct frame t = st->v[i];
		st->v[i] = st->v[j - 1];
		st->v[j - 1] = t;
	}
	return (unsigned)nkids;
}

/* A second Content-Type header may carry the boundary the body really
 * uses (seen in spam: the first names one, the parts use another). */
static unsigned
split_other_ctypes(struct mime_ctx *c, struct mime_part *p, struct stack *st, bool *closed)
{
	const struct mime_headers *hs = &p->headers;
	bool first = true;

	for (size_t i = 0; i < hs->n; i++) {
		struct mime_ctval cv;
		size_t len;
		const char *v, *b;
		if (!span_caseeq_cstr(hs->v[i].name, "Content-Type"))
			continue;
		if (first) {
			first = false;
			continue;
		}
		if ((v = hdr_unfolded(c, &hs->v[i], &len)) == NULL)
			return 0;
		mime_ctval_parse(c->a, v, len, &cv);
		b = mime_param_get(cv.params, cv.nparams, "boundary");
		if (b == NULL || *b == '\0' || !span_has_prefix_ci(cv.token, "multipart/"))
			continue;
		unsigned n = split(c, p, span_from_cstr(b), st, closed);
		if (n > 0) {
			mime_anomaly_add(c, MIME_A_BROKEN_CONTENT_TYPE, "boundary from a second Content-Type",
			    (int)p->index);
			return n;
		}
	}
	return 0;
}

static bool
multipart(struct mime_ctx *c, struct mime_part *p, struct stack *st)
{
	const char *bnd = mime_param_get(p->params, p->nparams, "boundary");
	bool closed = false;
	unsigned n = 0;

	if (p->depth >= c->lim->max_depth) {
		mime_anomaly_once(c, MIME_A_LIMIT_DEPTH, NULL, (int)p->index);
		p->flags |= MIME_PART_TRUNCATED;
		return false;
	}
	if (bnd != NULL && *bnd != '\0')
		n = split(c, p, span_from_cstr(bnd), st, &closed);
	if (n == 0)
		n = split_other_ctypes(c, p, st, &closed);
	if (n == 0) {
		mime_anomaly_add(c, MIME_A_BOUNDARY_MISSING,
		    bnd == NULL || *bnd == '\0' ? "no boundary parameter" : "boundary not found",
		    (int)p->index);
		return false;
	}
	if (!closed)
		mime_anomaly_add(c, MIME_A_BOUNDARY_UNCLOSED, NULL, (int)p->index);
	p->flags |= MIME_PART_MULTIPART;
	p->decoded = p->raw_body;
	return true;
}

static bool
is_message(const struct mime_part *p)
{
	return strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0 ||
	        strcmp(p->subtype, "news") == 0);
}

static void
message(struct mime_ctx *c, struct mime_part *p, struct stack *st)
{
	if (p->depth >= c->lim->max_depth) {
		mime_anomaly_once(c, MIME_A_LIMIT_DEPTH, NULL, (int)p->index);
		p->flags |= MIME_PART_TRUNCATED;
		leaf(c, p, false);
		return;
	}
	/* encoded message/rfc822 is forbidden (RFC 2046 5.2.1) but sent */
	if (p->cte == MIME_CTE_BASE64 || p->cte == MIME_CTE_QP)
		decode_body(c, p);
	else
		p->decoded = p->raw_body;
	p->flags |= MIME_PART_MESSAGE;
	push(c->a, st, (struct frame){ p->decoded, (int)p->index, p->depth + 1, false });
}

static void
entity(struct mime_ctx *c, struct mime_part *p, const struct frame *f, struct stack *st)
{
	size_t hlen = mime_hdr_block(c, f->raw, &p->headers, (int)p->index);

	p->raw_body = span_sub(f->raw, hlen, f->raw.len - hlen);
	content_type(c, p, f->digest);
	transfer_encoding(c, p);
	disposition(c, p);
	if (strcmp(p->type, "multipart") == 0) {
		if (!multipart(c, p, st))
			leaf(c, p, true);
		return;
	}
	if (is_message(p)) {
		message(c, p, st);
		return;
	}
	leaf(c, p, false);
}

static struct span
skip_mbox_from(struct span raw)
{
	if (raw.len >= 5 && memcmp(raw.p, "From ", 5) == 0) {
		size_t next;
		mime_line(raw, 0, &next);
		return span_sub(raw, next, raw.len - next);
	}
	return raw;
}

static void
build_tree(struct mime_ctx *c, struct span raw)
{
	struct stack st = { 0 };
	bool dropped = false;

	push(c->a, &st, (struct frame){ raw, -1, 0, false });
	while (st.n > 0) {
		struct frame f = st.v[--st.n];
		if (c->m->nparts >= c->lim->max_parts) {
			if (!dropped)
				mime_anomaly_add(c, MIME_A_LIMIT_PARTS, NULL, f.parent);
			dropped = true;
			if (f.parent >= 0)
				c->m->parts[f.parent].flags |= MIME_PART_TRUNCATED;
			continue;
		}
		struct mime_part *p = new_part(c, &f);
		if (p == NULL)
			break;
		entity(c, p, &f, &st);
	}
}

/* ---- message-level fields ---- */

struct mime_message *
mime_parse(struct arena *a, struct span raw, const struct mime_limits *limits)
{
	struct mime_limits def;
	struct mime_ctx c = { .a = a };

	if (limits == NULL) {
		mime_limits_default(&def);
		limits = &def;
	}
	c.lim = limits;
	c.m = ARENA_NEW(a, struct mime_message);
	if (c.m == NULL)
		return NULL;
	raw = skip_mbox_from(raw);
	c.m->raw = raw;
	build_tree(&c, raw);
	if (c.m->nparts == 0)
		return NULL;
	c.m->headers = c.m->parts[0].headers;
	c.m->body = c.m->parts[0].raw_body;
	mime_message_fields(&c);
	if (!limits->defer_extract)
		mime_extract(a, c.m, limits);
	return c.m;
}

/* Cheap length and first-letter test before the full comparison: header
 * lookups run many times per part. */
static bool
name_is(struct span n, const char *name, size_t len)
{
	return n.len == len && len > 0 && ((n.p[0] ^ (uint8_t)name[0]) & ~0x20) == 0 &&
	    span_caseeq_cstr(n, name);
}

const struct mime_header *
mime_header_get(const struct mime_headers *h, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < h->n; i++)
		if (name_is(h->v[i].name, name, len))
			return &h->v[i];
	return NULL;
}

size_t
mime_header_count(const struct mime_headers *h, const char *name)
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; i < h->n; i++)
		if (name_is(h->v[i].name, name, len))
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
