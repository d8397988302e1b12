/*
 * mime_addr.c - RFC 5322 address lists (From, To, Cc, Reply-To, Sender).
 *
 * Works on the unfolded value before RFC 2047 decoding, because a decoded
 * display name may contain ',' '<' or '"'. Handles display names, quoted
 * local parts, comments (nested), groups ("list: a, b;"), obsolete routes
 * (<@relay:user@host>) and CFWS around dots. Broken forms that clients still
 * display ("Name user@host" without angle brackets, unclosed '<') yield an
 * address marked invalid rather than nothing, so rules can see them.
 */
#include <string.h>

#include "mime-private.h"

#define MAX_ADDRS 1024 /* per header: lists beyond this are junk anyway */

struct scan {
	int paren;
	bool quote;
	bool esc;
};

/* Advances the lexical state over v[i]; true when v[i] is at top level
 * (outside quotes and comments) and is not itself a delimiter of those. */
static bool
scan_step(struct scan *st, char c)
{
	if (st->esc) {
		st->esc = false;
		return false;
	}
	if (st->quote) {
		if (c == '\\')
			st->esc = true;
		else if (c == '"')
			st->quote = false;
		return false;
	}
	if (st->paren > 0) {
		if (c == '\\')
			st->esc = true;
		else if (c == '(')
			st->paren++;
		else if (c == ')')
			st->paren--;
		return false;
	}
	if (c == '"') {
		st->quote = true;
		return false;
	}
	if (c == '(') {
		st->paren = 1;
		return false;
	}
	return true;
}

/* Phrase: quotes and escapes removed, comments dropped (the first one is
 * returned in *comment_r), whitespace collapsed. */
static struct span
clean_phrase(struct arena *a, const char *s, size_t n, struct span *comment_r, bool keep_ws)
{
	char *o = arena_alloc(a, n + 1);
	size_t k = 0, cstart = 0;
	struct scan st = { 0 };
	bool sp = false;

	if (comment_r)
		*comment_r = span_make(NULL, 0);
	if (o == NULL)
		return span_make(NULL, 0);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int was_paren = st.paren;
		bool was_quote = st.quote, was_esc = st.esc;
		bool top = scan_step(&st, c);
		if (was_paren > 0 || (c == '(' && !was_quote && !was_esc)) {
			if (was_paren == 0)
				cstart = i + 1;
			else if (st.paren == 0 && comment_r && comment_r->p == NULL)
				*comment_r = span_trim(span_make(s + cstart, i - cstart));
			sp = k > 0;
			continue;
		}
		if (!top && !was_quote && !was_esc)
			continue; /* opening quote */
		if (was_quote && !was_esc && (c == '\\' || c == '"'))
			continue;
		if (top && mime_is_wsp((uint8_t)c)) {
			sp = k > 0;
			continue;
		}
		if (sp && keep_ws)
			o[k++] = ' ';
		sp = false;
		o[k++] = c;
	}
	o[k] = 0;
	return span_make(o, k);
}

static const char *
decode_name(struct arena *a, struct span s)
{
	size_t l;
	uint32_t fl = 0;
	if (s.p == NULL || s.len == 0)
		return NULL;
	char *t = arena_strndup(a, s.p, s.len);
	const char *d = t ? mime_rfc2047_decode(a, t, s.len, &l, &fl) : NULL;
	if (d == NULL)
		return NULL;
	/* '" Name "' and a name that decodes to blanks: what clients show */
	struct span n = span_trim(span_make(d, l));
	return n.len ? arena_strndup(a, n.p, n.len) : NULL;
}

static bool
domain_ok(const char *d)
{
	if (*d == '\0' || *d == '.')
		return false;
	for (const char *p = d; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		        c == '-' || c == '_' || c == '[' || c == ']' || c == ':'))
			return false;
	}
	return true;
}

/* Splits addr-spec text into addr/local/domain. */
static void
fill_spec(struct arena *a, struct mime_addr *m, const char *s, size_t n)
{
	struct span sp = clean_phrase(a, s, n, NULL, false);
	/* route: @relay1,@relay2:user@host */
	if (sp.len > 0 && sp.p[0] == '@') {
		ptrdiff_t colon = span_find_byte(sp, ':');
		if (colon >= 0)
			sp = span_sub(sp, (size_t)colon + 1, sp.len);
	}
	m->addr = sp.p ? arena_strndup(a, sp.p, sp.len) : "";
	if (m->addr == NULL)
		m->addr = "";
	const char *at = strrchr(m->addr, '@');
	if (sp.len == 0)
		return;
	if (at == NULL) {
		m->local = m->addr;
		m->invalid = true;
		return;
	}
	m->local = arena_strndup(a, m->addr, (size_t)(at - m->addr));
	m->domain = mime_lower_dup(a, at + 1, strlen(at + 1));
	if (m->local == NULL || m->domain == NULL || *m->local == '\0' || !domain_ok(m->domain))
		m->invalid = true;
}

static ptrdiff_t
find_top(const char *s, size_t n, char want)
{
	struct scan st = { 0 };
	for (size_t i = 0; i < n; i++)
		if (scan_step(&st, s[i]) && s[i] == want)
			return (ptrdiff_t)i;
	return -1;
}

/* "Name user@host" with no brackets: the word with '@' is the address. */
static bool
bare_words(struct arena *a, struct mime_addr *m, const char *s, size_t n)
{
	ptrdiff_t at = find_top(s, n, '@');
	struct scan st = { 0 };
	size_t b = 0, e = (size_t)(at < 0 ? 0 : at);
	if (at < 0)
		return false;
	for (size_t i = 0; i < (size_t)at; i++)
		if (scan_step(&st, s[i]) && mime_is_wsp((uint8_t)s[i]))
			b = i + 1; /* whitespace outside quotes and comments */
	while (e < n && !mime_is_wsp((uint8_t)s[e]))
		e++;
	if (b == 0)
		return false;
	/* "user @ host" (obsolete CFWS around '@') is one spec, not a name */
	struct span before = span_trim(span_make(s, b));
	if (before.len > 0 && (before.p[before.len - 1] == '.' || s[b] == '@'))
		return false;
	fill_spec(a, m, s + b, e - b);
	m->name = decode_name(a, clean_phrase(a, s, b, NULL, true));
	m->invalid = true;
	return true;
}

static void
parse_mailbox(struct arena *a, const char *s, size_t n, struct mime_addr *m)
{
	struct span comment;
	ptrdiff_t lt = find_top(s, n, '<');

	if (lt >= 0) {
		const char *gt = memchr(s + lt + 1, '>', n - (size_t)lt - 1);
		size_t inner = gt ? (size_t)(gt - s) - (size_t)lt - 1 : n - (size_t)lt - 1;
		fill_spec(a, m, s + lt + 1, inner);
		if (gt == NULL)
			m->invalid = true;
		m->name = decode_name(a, clean_phrase(a, s, (size_t)lt, &comment, true));
		return;
	}
	if (bare_words(a, m, s, n))
		return;
	if (find_top(s, n, '@') < 0 && (find_top(s, n, ' ') >= 0 || find_top(s, n, '\t') >= 0 ||
	                                   (n > 0 && s[0] == '"'))) {
		/* "To: Deal Shopper", "To: \"Zofia\"": a name, no address */
		m->name = decode_name(a, clean_phrase(a, s, n, NULL, true));
		m->addr = "";
		m->invalid = true;
		return;
	}
	fill_spec(a, m, s, n);
	clean_phrase(a, s, n, &comment, true);
	m->name = decode_name(a, comment);
}

static void
emit(struct arena *a, struct mime_addr_list *out, size_t *cap, const char *s, size_t n, bool group)
{
	struct span t = span_trim(span_make(s, n));
	if (t.len == 0 || out->n >= MAX_ADDRS)
		return;
	if (out->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct mime_addr *v = arena_realloc(a, out->v, *cap * sizeof(*v), nc * sizeof(*v));
		if (v == NULL)
			return;
		out->v = v;
		*cap = nc;
	}
	struct mime_addr *m = &out->v[out->n++];
	memset(m, 0, sizeof(*m));
	m->in_group = group;
	parse_mailbox(a, (const char *)t.p, t.len, m);
}

void
mime_addr_parse(struct arena *a, const char *v, size_t len, struct mime_addr_list *out)
{
	struct scan st = { 0 };
	size_t start = 0, cap = out->n;
	bool angle = false, group = false, seen_at = false;

	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!scan_step(&st, c))
			continue;
		if (c == '<')
			angle = true;
		else if (c == '>')
			angle = false;
		else if (angle)
			continue;
		else if (c == '@')
			seen_at = true;
		else if (c == ',' || (c == ';' && group)) {
			emit(a, out, &cap, v + start, i - start, group);
			if (c == ';')
				group = false;
			start = i + 1;
			seen_at = false;
		} else if (c == ':' && !group && !seen_at) {
			group = true; /* the group's name is not an address */
			start = i + 1;
		}
	}
	emit(a, out, &cap, v + start, len - start, group);
}
