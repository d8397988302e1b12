/*
 * fuzz-html - libFuzzer target for the extract step: html_parse(), link
 * resolution and URL normalisation (also of the whole input), text
 * URL/address discovery, word
 * splitting, and mime_extract() over a message whose plain and HTML parts
 * are the input.
 *
 * Bit 0 of the first byte gives the arena a small budget so allocation
 * failures mid-render are exercised; the rendered text is checked for the
 * one invariant the renderer promises (no blanks at either end).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/extract.h"
#include "fcore/html.h"
#include "fcore/url.h"
#include "fcore/words.h"

static void
scan_text(struct arena *a, struct span t)
{
	size_t pos = 0;
	struct url_match m;
	while (url_find_next(t, &pos, &m)) {
		struct mime_url u;
		struct mime_email e;
		if (m.raw.p < t.p || m.raw.p + m.raw.len > t.p + t.len || m.raw.len == 0)
			abort();
		if (m.kind == URL_MATCH_URL)
			url_parse(a, m.raw, 0, &u);
		else
			url_parse_email(a, m.raw, &e);
	}
}

static bool
is_blank(uint8_t c)
{
	return c == ' ' || c == '\n';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span in = span_make(data, size);
	bool small = size > 0 && (data[0] & 1);
	struct arena *a = arena_new(small ? 8192 : 64u << 20);
	struct html_doc doc;
	int rc = html_parse(a, in, &doc);
	if (rc == 0 && doc.text.len > 0 && (is_blank(doc.text.p[0]) || is_blank(doc.text.p[doc.text.len - 1])))
		abort();
	for (size_t i = 0; i < doc.nlinks; i++) {
		struct mime_url u;
		struct mime_email e;
		struct span href = url_resolve(a, doc.base, doc.links[i].href);
		if (href.p != NULL) {
			url_parse(a, href, URL_FROM_HTML, &u);
			url_parse_email(a, href, &e);
		}
	}
	scan_text(a, doc.text);
	scan_text(a, in);
	if (size < URL_MAX_LEN) {
		/* the whole input as one URL, address and relative reference */
		struct mime_url u;
		struct mime_email e;
		url_parse(a, in, 0, &u);
		url_parse_email(a, in, &e);
		url_resolve(a, in, in);
	}
	struct words w;
	words_init(&w, a);
	words_add(&w, doc.text);
	for (size_t i = 0; i < w.n; i++)
		if (w.v[i].len == 0 || w.v[i].len > WORDS_MAX_LEN)
			abort();
	arena_free(&a);

	a = arena_new(small ? 16384 : 64u << 20);
	struct mime_message *m = arena_zalloc(a, sizeof(*m));
	struct mime_part *p = arena_zalloc(a, 2 * sizeof(*p));
	if (m != NULL && p != NULL) {
		p[0] = (struct mime_part){ .index = 0, .parent = -1, .type = "text", .subtype = "plain",
			.flags = MIME_PART_TEXT, .utf8 = in, .text = in };
		p[1] = (struct mime_part){ .index = 1, .parent = -1, .type = "text", .subtype = "html",
			.flags = MIME_PART_TEXT | MIME_PART_HTML, .utf8 = in };
		m->parts = p;
		m->nparts = 2;
		struct mime_limits l;
		mime_limits_default(&l);
		l.max_urls = 50;
		mime_extract(a, m, &l);
		if (m->nurls > 50)
			abort();
	}
	arena_free(&a);
	return 0;
}
