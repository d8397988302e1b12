/*
 * extract.c - visible text, URLs, addresses and words of a parsed message.
 * See extract.h for the contract; the work is done by html.c, url.c and
 * words.c, this file only walks the parts and keeps the message's lists
 * (deduplicated through small open-addressing sets of strings).
 */
#include "fcore/extract.h"

#include <string.h>

#include "fcore/arena.h"
#include "fcore/html.h"
#include "fcore/url.h"
#include "fcore/words.h"

/* Set of NUL-terminated strings, by pointer, with their index in a list. */
struct strset {
	const char **key;
	size_t *idx;
	size_t mask;
	size_t n;
};

struct ex {
	struct arena *a;
	struct mime_message *m;
	unsigned max_urls;
	size_t urls_cap;
	size_t emails_cap;
	struct strset url_set;
	struct strset email_set;
	struct words w;
	bool url_limit;
};

static uint32_t
str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Index of s in the set, or SIZE_MAX. */
static size_t
strset_get(const struct strset *set, const char *s)
{
	if (set->key == NULL)
		return SIZE_MAX;
	for (size_t i = str_hash(s) & set->mask;; i = (i + 1) & set->mask) {
		if (set->key[i] == NULL)
			return SIZE_MAX;
		if (strcmp(set->key[i], s) == 0)
			return set->idx[i];
	}
}

static bool
strset_put(struct arena *a, struct strset *set, const char *s, size_t idx)
{
	if (set->key == NULL || (set->n + 1) * 2 > set->mask + 1) {
		size_t ncap = set->key ? (set->mask + 1) * 2 : 64;
		const char **k = arena_array(a, ncap, sizeof(*k));
		size_t *v = arena_array(a, ncap, sizeof(*v));
		if (k == NULL || v == NULL)
			return false;
		memset(k, 0, ncap * sizeof(*k));
		for (size_t i = 0; set->key && i <= set->mask; i++) {
			if (set->key[i] == NULL)
				continue;
			size_t j = str_hash(set->key[i]) & (ncap - 1);
			while (k[j] != NULL)
				j = (j + 1) & (ncap - 1);
			k[j] = set->key[i];
			v[j] = set->idx[i];
		}
		set->key = k;
		set->idx = v;
		set->mask = ncap - 1;
	}
	size_t i = str_hash(s) & set->mask;
	while (set->key[i] != NULL)
		i = (i + 1) & set->mask;
	set->key[i] = s;
	set->idx[i] = idx;
	set->n++;
	return true;
}

static void
add_anomaly(struct ex *x, enum mime_anomaly kind)
{
	struct mime_message *m = x->m;
	struct mime_anomaly_hit *v = arena_realloc(x->a, m->anomalies,
	    m->nanomalies * sizeof(*v), (m->nanomalies + 1) * sizeof(*v));
	m->limit_hit = true;
	if (v == NULL)
		return;
	v[m->nanomalies++] = (struct mime_anomaly_hit){ kind, NULL, -1 };
	m->anomalies = v;
}

static void
add_url(struct ex *x, const struct mime_url *u)
{
	struct mime_message *m = x->m;
	size_t i = strset_get(&x->url_set, u->url);
	if (i != SIZE_MAX) {
		m->urls[i].flags |= u->flags;
		if (m->urls[i].display_host == NULL)
			m->urls[i].display_host = u->display_host;
		return;
	}
	if (m->nurls >= x->max_urls) {
		if (!x->url_limit)
			add_anomaly(x, MIME_A_LIMIT_URLS);
		x->url_limit = true;
		return;
	}
	if (m->nurls == x->urls_cap) {
		size_t ncap = x->urls_cap ? x->urls_cap * 2 : 16;
		struct mime_url *v = arena_realloc(x->a, m->urls, x->urls_cap * sizeof(*v), ncap * sizeof(*v));
		if (v == NULL) {
			m->limit_hit = true;
			return;
		}
		m->urls = v;
		x->urls_cap = ncap;
	}
	if (!strset_put(x->a, &x->url_set, u->url, m->nurls)) {
		m->limit_hit = true;
		return;
	}
	m->urls[m->nurls++] = *u;
}

static void
add_email(struct ex *x, struct span raw)
{
	struct mime_message *m = x->m;
	struct mime_email e;
	if (url_parse_email(x->a, raw, &e) != 0 || strset_get(&x->email_set, e.addr) != SIZE_MAX)
		return;
	if (m->nemails == x->emails_cap) {
		size_t ncap = x->emails_cap ? x->emails_cap * 2 : 8;
		struct mime_email *v = arena_realloc(x->a, m->emails, x->emails_cap * sizeof(*v), ncap * sizeof(*v));
		if (v == NULL) {
			m->limit_hit = true;
			return;
		}
		m->emails = v;
		x->emails_cap = ncap;
	}
	if (strset_put(x->a, &x->email_set, e.addr, m->nemails))
		m->emails[m->nemails++] = e;
}

static void
text_urls(struct ex *x, unsigned part, struct span text)
{
	size_t pos = 0;
	struct url_match mt;
	while (url_find_next(text, &pos, &mt)) {
		struct mime_url u;
		if (mt.kind == URL_MATCH_EMAIL) {
			add_email(x, mt.raw);
		} else if (url_parse(x->a, mt.raw, URL_FROM_TEXT | mt.flags, &u) == 0) {
			u.part = part;
			add_url(x, &u);
		}
	}
}

/* Whether the link text is nothing but a URL or domain (bar blanks and
 * punctuation around it); its parsed form goes to *shown_r. */
static bool
text_is_url(struct arena *a, struct span text, struct mime_url *shown_r)
{
	size_t pos = 0;
	struct url_match mt;
	if (!url_find_next(text, &pos, &mt) || mt.kind != URL_MATCH_URL)
		return false;
	size_t before = (size_t)(mt.raw.p - text.p);
	size_t after = text.len - before - mt.raw.len;
	if (before > 2 || after > 2)
		return false;
	return url_parse(a, mt.raw, 0, shown_r) == 0;
}

static void
check_phish(struct ex *x, const struct html_link *l, struct mime_url *u)
{
	struct mime_url shown;
	if (l->text.len == 0 || l->text.len > 1024 || !text_is_url(x->a, l->text, &shown))
		return;
	bool known = (shown.flags & URL_NUMERIC_IP) != 0;
	if (!known)
		url_tld_registered(span_from_cstr(shown.host), &known);
	/* A truncated or made-up name in the text ("www.all-life") proves nothing. */
	if (known && strcmp(shown.tld, u->tld) != 0) {
		u->flags |= URL_PHISHED;
		u->display_host = shown.host;
	}
}

static bool
link_is_absolute(struct span href)
{
	return url_has_scheme(href) || (href.len >= 2 && href.p[0] == '/' && href.p[1] == '/') ||
	    span_has_prefix_ci(href, "www.");
}

static void
html_links(struct ex *x, unsigned part, const struct html_doc *doc)
{
	static const uint32_t kind_flags[] = {
		[HTML_LINK_A] = 0, [HTML_LINK_AREA] = 0, [HTML_LINK_IMG] = URL_IMAGE, [HTML_LINK_FORM] = URL_FORM,
	};
	for (size_t i = 0; i < doc->nlinks; i++) {
		const struct html_link *l = &doc->links[i];
		struct span href = l->href;
		if (href.len == 0)
			continue;
		if (span_has_prefix_ci(href, "mailto:")) {
			add_email(x, href);
			continue;
		}
		if (doc->base.len > 0 && !url_has_scheme(href))
			href = url_resolve(x->a, doc->base, href);
		struct mime_url u;
		if (!link_is_absolute(href) || url_parse(x->a, href, URL_FROM_HTML | kind_flags[l->kind], &u) != 0)
			continue;
		u.part = part;
		if (l->kind == HTML_LINK_A)
			check_phish(x, l, &u);
		add_url(x, &u);
	}
}

static bool
part_is_html(const struct mime_part *p)
{
	return (p->flags & MIME_PART_HTML) || (p->subtype != NULL && strcmp(p->subtype, "html") == 0);
}

static void
extract_part(struct ex *x, unsigned idx)
{
	struct mime_part *p = &x->m->parts[idx];
	if (part_is_html(p)) {
		struct span src = p->utf8.len ? p->utf8 : (p->text.len ? p->text : p->decoded);
		struct html_doc doc;
		if (html_parse(x->a, src, &doc) != 0)
			x->m->limit_hit = true;
		p->text = doc.text;
		if (doc.flags & HTML_INVISIBLE)
			p->flags |= MIME_PART_INVISIBLE_TEXT;
		html_links(x, idx, &doc);
	} else if (p->text.len == 0) {
		p->text = p->utf8;
	}
	text_urls(x, idx, p->text);
	if (words_add(&x->w, p->text) != 0)
		x->m->limit_hit = true;
}

void
mime_extract(struct arena *a, struct mime_message *m, const struct mime_limits *l)
{
	struct mime_limits def;
	if (l == NULL) {
		mime_limits_default(&def);
		l = &def;
	}
	struct ex x = { .a = a, .m = m, .max_urls = l->max_urls };
	x.urls_cap = m->nurls;
	x.emails_cap = m->nemails;
	words_init(&x.w, a);
	for (size_t i = 0; i < m->nurls; i++)
		strset_put(a, &x.url_set, m->urls[i].url, i);
	for (size_t i = 0; i < m->nemails; i++)
		strset_put(a, &x.email_set, m->emails[i].addr, i);
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].flags & MIME_PART_TEXT)
			extract_part(&x, (unsigned)i);
	m->words = x.w.v;
	m->nwords = x.w.n;
}
