/*
 * mime_rfc2231.c - Content-Type / Content-Disposition values and their
 * parameters: quoted strings, RFC 2231 continuations (name*0, name*1*) and
 * charset'language'percent-encoded values, and the RFC 2047 encoded words
 * that mailers put into quoted file names although RFC 2047 forbids it.
 *
 * Repairs (missing ';' before a parameter, unterminated quotes, parameters
 * without '=') are made silently and reported through ->broken.
 */
#include <stdlib.h>
#include "fcore/ascii.h"
#include <string.h>
#include <strings.h>

#include "mime-private.h"

#define MAX_PARAMS 64
#define MAX_SECTION 999

struct rawp {
	char *base;       /* lower-case name without the 2231 suffix */
	int section;      /* -1: none */
	bool ext;         /* value is charset'lang'%XX (first) or %XX (later) */
	struct span val;
	bool used;
};

static size_t
skip_wsp(const char *v, size_t len, size_t i)
{
	while (i < len && (mime_is_wsp((uint8_t)v[i]) || v[i] == ';'))
		i++;
	return i;
}

/* Value at v[i]: quoted or a token to ';'. Unquoting allocates. */
static size_t
read_value(struct arena *a, const char *v, size_t len, size_t i, struct span *val, bool *broken)
{
	if (i < len && v[i] == '"') {
		char *o = arena_alloc(a, len - i + 1);
		size_t n = 0;
		i++;
		while (i < len && v[i] != '"') {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			if (o)
				o[n++] = v[i];
			i++;
		}
		if (i >= len)
			*broken = true;
		else
			i++;
		*val = span_make(o, o ? n : 0);
		/* anything up to the next ';' after the closing quote is junk */
		while (i < len && v[i] != ';')
			i++;
		return i;
	}
	size_t s = i;
	while (i < len && v[i] != ';')
		i++;
	*val = span_trim(span_make(v + s, i - s));
	return i;
}

static void
split_name(struct arena *a, struct span n, struct rawp *p)
{
	p->section = -1;
	p->ext = false;
	if (n.len > 0 && n.p[n.len - 1] == '*') {
		p->ext = true;
		n.len--;
	}
	ptrdiff_t star = span_find_byte(n, '*');
	if (star > 0 && (size_t)star + 1 < n.len) {
		int sec = 0;
		bool digits = true;
		for (size_t k = (size_t)star + 1; k < n.len; k++) {
			if (n.p[k] < '0' || n.p[k] > '9' || sec > MAX_SECTION) {
				digits = false;
				break;
			}
			sec = sec * 10 + (n.p[k] - '0');
		}
		if (digits) {
			p->section = sec;
			n.len = (size_t)star;
		}
	}
	p->base = mime_lower_dup(a, n.p, n.len);
}


static void
pct_decode(struct buf *b, struct span s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '%' && i + 2 < s.len &&
		    ascii_hexval(s.p[i + 1]) >= 0 && ascii_hexval(s.p[i + 2]) >= 0) {
			buf_append_byte(b, (uint8_t)(ascii_hexval(s.p[i + 1]) << 4 | ascii_hexval(s.p[i + 2])));
			i += 2;
		} else {
			buf_append_byte(b, s.p[i]);
		}
	}
}

static int
cmp_section(const void *x, const void *y)
{
	const struct rawp *const *a = x, *const *b = y;
	return (*a)->section - (*b)->section;
}

/* Joins all raw parameters named base into one UTF-8 value. */
static const char *
merge(struct arena *a, struct rawp *r, size_t n, size_t first)
{
	struct rawp *sec[MAX_PARAMS];
	size_t ns = 0;
	struct buf b;
	char cs[40] = "";
	bool any_ext = false;

	for (size_t i = first; i < n; i++) {
		if (r[i].used || strcmp(r[i].base, r[first].base) != 0)
			continue;
		if ((r[first].section < 0) != (r[i].section < 0))
			continue;
		if (r[first].section < 0 && i != first)
			break;
		r[i].used = true;
		sec[ns++] = &r[i];
	}
	qsort(sec, ns, sizeof(sec[0]), cmp_section);
	buf_init(&b, a);
	for (size_t k = 0; k < ns; k++) {
		struct span v = sec[k]->val;
		if (!sec[k]->ext) {
			buf_append_span(&b, v);
			continue;
		}
		any_ext = true;
		if (k == 0) {
			/* charset'language'value */
			ptrdiff_t q1 = span_find_byte(v, '\'');
			ptrdiff_t q2 = q1 >= 0 ? span_find_byte(span_sub(v, (size_t)q1 + 1, v.len), '\'') : -1;
			if (q2 >= 0) {
				if ((size_t)q1 < sizeof(cs))
					memcpy(cs, v.p, (size_t)q1), cs[q1] = 0;
				v = span_sub(v, (size_t)q1 + (size_t)q2 + 2, v.len);
			}
		}
		pct_decode(&b, v);
	}
	if (strcmp(r[first].base, "boundary") == 0)
		return buf_cstr(&b); /* matched byte for byte: never decoded */
	if (!any_ext || cs[0] == '\0') {
		size_t l;
		uint32_t fl = 0;
		const char *s = buf_cstr(&b);
		return mime_rfc2047_decode(a, s, b.len, &l, &fl);
	}
	size_t l;
	bool bad;
	char *c = charset_convert(a, buf_span(&b), cs, &l, &bad);
	if (c == NULL) {
		uint32_t fl = 0;
		return mime_rfc2047_decode(a, buf_cstr(&b), b.len, &l, &fl);
	}
	return c;
}

static size_t
parse_raw(struct arena *a, const char *v, size_t len, size_t i, struct rawp *r, bool *broken)
{
	size_t n = 0;
	while (n < MAX_PARAMS) {
		i = skip_wsp(v, len, i);
		if (i >= len)
			break;
		size_t s = i;
		while (i < len && v[i] != '=' && v[i] != ';')
			i++;
		if (i >= len || v[i] == ';') {
			*broken = true; /* parameter without '=' */
			continue;
		}
		struct span name = span_trim(span_make(v + s, i - s));
		struct span val;
		i++;
		while (i < len && mime_is_wsp((uint8_t)v[i]))
			i++;
		i = read_value(a, v, len, i, &val, broken);
		if (name.len == 0) {
			*broken = true;
			continue;
		}
		split_name(a, name, &r[n]);
		if (r[n].base == NULL)
			break;
		r[n].val = val;
		r[n].used = false;
		n++;
	}
	return n;
}

void
mime_ctval_parse(struct arena *a, const char *v, size_t len, struct mime_ctval *out)
{
	struct rawp raw[MAX_PARAMS];
	size_t i = 0, n;

	memset(out, 0, sizeof(*out));
	while (i < len && v[i] != ';')
		i++;
	out->token = span_trim(span_make(v, i));
	/* "text/plain charset=x": a parameter glued on without ';' */
	ptrdiff_t sp = span_find_byte(out->token, ' ');
	if (sp < 0)
		sp = span_find_byte(out->token, '\t');
	if (sp > 0 && span_find_byte(out->token, '=') > sp) {
		out->broken = true;
		i = (size_t)((const char *)out->token.p - v) + (size_t)sp;
		out->token.len = (size_t)sp;
	}
	/* "text/html (comment)" is legal CFWS; "text/plain junk" is not */
	ptrdiff_t paren = span_find_byte(out->token, '(');
	if (paren >= 0)
		out->token = span_trim(span_sub(out->token, 0, (size_t)paren));
	sp = span_find_byte(out->token, ' ');
	if (sp < 0)
		sp = span_find_byte(out->token, '\t');
	if (sp > 0 && out->token.p[sp - 1] != '/' && out->token.p[sp + 1] != '/') {
		out->broken = true;
		out->token.len = (size_t)sp;
	}
	n = parse_raw(a, v, len, i, raw, &out->broken);
	out->params = arena_array(a, n ? n : 1, sizeof(*out->params));
	if (out->params == NULL)
		return;
	for (size_t k = 0; k < n; k++) {
		if (raw[k].used)
			continue;
		/* name*= (2231) replaces a plain name= given as a fallback */
		const char *val = merge(a, raw, n, k);
		size_t j;
		for (j = 0; j < out->nparams; j++)
			if (strcmp(out->params[j].name, raw[k].base) == 0)
				break;
		if (j < out->nparams) {
			if (raw[k].ext || raw[k].section >= 0)
				out->params[j].value = val ? val : "";
			continue;
		}
		out->params[out->nparams].name = raw[k].base;
		out->params[out->nparams].value = val ? val : "";
		out->nparams++;
	}
}

const char *
mime_param_get(const struct mime_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}
