/*
 * tokenize.c - a message to a sorted set of 64-bit token hashes.
 *
 * Token kinds are kept apart by the hash seed (body OSB, Subject OSB) or by
 * a textual prefix ("H:from", "U:host", "M:size"), so the same word in the
 * body and in the Subject are different evidence.
 */
#include "stats/stats.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/mime.h"
#include "fcore/msg.h"

#define TOK_MAX_WORDS 20000   /* per source: bounds work on hostile input */
#define TOK_MAX_WORDLEN 40    /* longer runs are encoded data, not words */
#define TOK_MAX_URLS 256
#define TOK_KIND_BODY 0
#define TOK_KIND_SUBJECT 1

struct tokbuf {
	struct arena *a;
	uint64_t *v;
	size_t n, cap;
};

static void
tb_push(struct tokbuf *tb, uint64_t h)
{
	if (tb->n == tb->cap) {
		size_t ncap = tb->cap ? tb->cap * 2 : 1024;
		uint64_t *nv = arena_realloc(tb->a, tb->v, tb->cap * sizeof(*nv), ncap * sizeof(*nv));
		if (nv == NULL)
			return;
		tb->v = nv;
		tb->cap = ncap;
	}
	tb->v[tb->n++] = h;
}

static bool
tb_reserve(struct tokbuf *tb, size_t extra)
{
	if (tb->cap - tb->n >= extra)
		return true;
	size_t ncap = tb->cap ? tb->cap : 1024;
	while (ncap - tb->n < extra)
		ncap *= 2;
	uint64_t *nv = arena_realloc(tb->a, tb->v, tb->cap * sizeof(*nv), ncap * sizeof(*nv));
	if (nv == NULL)
		return false;
	tb->v = nv;
	tb->cap = ncap;
	return true;
}

void
stats_tok_opts_from_cfg(struct stats_tok_opts *o, const struct fconf *cfg)
{
	o->window = cfg != NULL && cfg->stats.window >= 2 ? cfg->stats.window : 2;
	o->header_tokens = cfg != NULL ? cfg->stats.header_tokens : true;
	o->unigrams = false; /* measured: no gain, twice the tokens */
	o->meta_tokens = true;
}

uint64_t
stats_token_hash(const char *prefix, const void *p, size_t len)
{
	return XXH3_64bits_withSeed(p, len, XXH3_64bits(prefix, strlen(prefix)));
}

static void
tb_prefixed(struct tokbuf *tb, const char *prefix, const void *p, size_t len)
{
	tb_push(tb, stats_token_hash(prefix, p, len));
}

static void
tb_prefixed_cstr(struct tokbuf *tb, const char *prefix, const char *s)
{
	tb_prefixed(tb, prefix, s, strlen(s));
}

size_t
stats_osb(const struct span *words, size_t nwords, unsigned window, bool unigrams,
    unsigned kind, uint64_t *out, size_t outcap)
{
	uint64_t hw[64];
	size_t n = 0;
	if (window < 2)
		window = 2;
	if (window > 64)
		window = 64;
	/* A ring of the last window word hashes: each word is hashed once. */
	for (size_t i = 0; i < nwords; i++) {
		hw[i % window] = XXH3_64bits(words[i].p, words[i].len);
		if (unigrams && n < outcap)
			out[n++] = XXH3_64bits_withSeed(&hw[i % window], 8, (uint64_t)kind << 8);
		for (unsigned d = 1; d < window && d <= i; d++) {
			uint64_t pair[2] = { hw[(i - d) % window], hw[i % window] };
			if (n < outcap)
				out[n++] = XXH3_64bits_withSeed(pair, sizeof(pair), ((uint64_t)kind << 8) | d);
		}
	}
	return n;
}

static bool
is_word_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c >= 0x80;
}

static bool
is_joiner(uint8_t c)
{
	return c == '.' || c == '-' || c == '\'' || c == '_' || c == '$';
}

static bool
is_b64(uint8_t c)
{
	if (c >= 0x80)
		return false;
	return is_word_byte(c) || c == '+' || c == '/' || c == '=';
}

/* A line of base64 (an attachment the thin parser did not decode). */
static bool
line_is_encoded(const uint8_t *p, size_t len)
{
	if (len < 40)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_b64(p[i]) && p[i] != '\r')
			return false;
	return true;
}

struct wordlist {
	struct span *v;
	size_t n, cap;
};

static void
wl_push(struct arena *a, struct wordlist *wl, const uint8_t *p, size_t len)
{
	if (len < 2 || len > TOK_MAX_WORDLEN || wl->n >= TOK_MAX_WORDS)
		return;
	if (wl->n == wl->cap) {
		size_t ncap = wl->cap ? wl->cap * 2 : 256;
		struct span *nv = arena_realloc(a, wl->v, wl->cap * sizeof(*nv), ncap * sizeof(*nv));
		if (nv == NULL)
			return;
		wl->v = nv;
		wl->cap = ncap;
	}
	wl->v[wl->n++] = span_make(p, len);
}

/*
 * FALLBACK splitter, used only while the MIME parser leaves m->words empty:
 * ASCII-lower-cased runs of letters, digits and non-ASCII bytes, with
 * '.', '-', '\'', '_', '$' kept inside a word; base64 lines skipped.
 */
static void
split_words(struct arena *a, struct span text, struct wordlist *wl)
{
	uint8_t *low = arena_alloc(a, text.len ? text.len : 1);
	if (low == NULL)
		return;
	for (size_t i = 0; i < text.len; i++) {
		uint8_t c = text.p[i];
		low[i] = c >= 'A' && c <= 'Z' ? c + 32 : c;
	}
	size_t i = 0;
	while (i < text.len && wl->n < TOK_MAX_WORDS) {
		const uint8_t *nl = memchr(low + i, '\n', text.len - i);
		size_t end = nl ? (size_t)(nl - low) : text.len;
		if (!line_is_encoded(low + i, end - i)) {
			size_t j = i;
			while (j < end) {
				while (j < end && !is_word_byte(low[j]))
					j++;
				size_t s = j;
				while (j < end && (is_word_byte(low[j]) ||
				    (is_joiner(low[j]) && j + 1 < end && is_word_byte(low[j + 1]))))
					j++;
				wl_push(a, wl, low + s, j - s);
			}
		}
		i = end + 1;
	}
}

static void
add_osb(struct tokbuf *tb, const struct span *w, size_t n, const struct stats_tok_opts *o,
    unsigned kind)
{
	size_t per = (o->window - 1) + (o->unigrams ? 1 : 0);
	if (n == 0 || !tb_reserve(tb, n * per))
		return;
	tb->n += stats_osb(w, n, o->window, o->unigrams, kind, tb->v + tb->n, tb->cap - tb->n);
}

static void
add_text_tokens(struct tokbuf *tb, const struct mime_message *m, const struct stats_tok_opts *o)
{
	struct arena *a = tb->a;
	if (m->nwords > 0) {
		add_osb(tb, m->words, m->nwords < TOK_MAX_WORDS ? m->nwords : TOK_MAX_WORDS, o,
		    TOK_KIND_BODY);
	} else {
		struct wordlist wl = { 0 };
		for (size_t i = 0; i < m->nparts; i++)
			if (m->parts[i].flags & MIME_PART_TEXT)
				split_words(a, m->parts[i].text, &wl);
		add_osb(tb, wl.v, wl.n, o, TOK_KIND_BODY);
	}
	if (m->subject != NULL) {
		struct wordlist wl = { 0 };
		split_words(a, span_from_cstr(m->subject), &wl);
		add_osb(tb, wl.v, wl.n, o, TOK_KIND_SUBJECT);
	}
}

/* Lower-cased domain after the last '@' of an address header value. */
static struct span
value_domain(struct arena *a, const char *v, size_t len)
{
	const char *at = NULL;
	for (size_t i = 0; i < len; i++)
		if (v[i] == '@')
			at = v + i;
	if (at == NULL)
		return span_make(NULL, 0);
	size_t n = 0, rest = len - (size_t)(at + 1 - v);
	while (n < rest && (is_word_byte((uint8_t)at[1 + n]) || at[1 + n] == '.' || at[1 + n] == '-'))
		n++;
	char *d = arena_strndup(a, at + 1, n);
	if (d == NULL)
		return span_make(NULL, 0);
	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] += 32;
	return span_make(d, n);
}

static void
add_domain_header(struct tokbuf *tb, const struct mime_message *m, const char *name,
    const char *prefix)
{
	const struct mime_header *h = mime_header_get(&m->headers, name);
	if (h == NULL) {
		tb_prefixed_cstr(tb, prefix, "(none)");
		return;
	}
	struct span d = value_domain(tb->a, h->value, h->value_len);
	tb_prefixed(tb, prefix, d.p, d.len);
}

/* The value up to ';' (or whole), lower-cased and trimmed, as one token. */
static void
add_value_header(struct tokbuf *tb, const struct mime_message *m, const char *name,
    const char *prefix)
{
	const struct mime_header *h = mime_header_get(&m->headers, name);
	if (h == NULL)
		return;
	size_t n = 0;
	while (n < h->value_len && n < 64 && h->value[n] != ';')
		n++;
	char *v = arena_strndup(tb->a, h->value, n);
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i] >= 'A' && v[i] <= 'Z')
			v[i] += 32;
	struct span s = span_trim(span_make(v, n));
	tb_prefixed(tb, prefix, s.p, s.len);
}

static void
add_header_tokens(struct tokbuf *tb, const struct mime_message *m)
{
	static const unsigned hop_class[] = { 0, 1, 2, 3, 4, 5, 5, 6, 6, 6 };
	add_domain_header(tb, m, "From", "H:from");
	add_domain_header(tb, m, "Reply-To", "H:rto");
	add_domain_header(tb, m, "Message-ID", "H:mid");
	add_value_header(tb, m, "X-Mailer", "H:mailer");
	add_value_header(tb, m, "User-Agent", "H:ua");
	add_value_header(tb, m, "Content-Type", "H:ct");
	add_value_header(tb, m, "X-Priority", "H:prio");
	add_value_header(tb, m, "X-MSMail-Priority", "H:msprio");
	bool reply = mime_header_get(&m->headers, "In-Reply-To") != NULL ||
	    mime_header_get(&m->headers, "References") != NULL;
	tb_prefixed_cstr(tb, "H:reply", reply ? "1" : "0");
	unsigned hops = m->nreceived < 10 ? hop_class[m->nreceived] : 7;
	tb_prefixed(tb, "H:hops", &hops, sizeof(hops));
}

/* FALLBACK URL hosts, used only while the parser finds no URLs. */
static void
scan_url_hosts(struct tokbuf *tb, struct span t, unsigned *count)
{
	static const char *const schemes[] = { "http://", "https://" };
	for (size_t i = 0; i + 8 < t.len && *count < TOK_MAX_URLS; i++) {
		if (t.p[i] != 'h' && t.p[i] != 'H')
			continue;
		for (size_t k = 0; k < 2; k++) {
			size_t sl = strlen(schemes[k]);
			if (i + sl > t.len || !span_has_prefix_ci(span_sub(t, i, sl), schemes[k]))
				continue;
			size_t s = i + sl, e = s;
			char host[256];
			while (e < t.len && e - s < sizeof(host) - 1 &&
			    (is_word_byte(t.p[e]) || t.p[e] == '.' || t.p[e] == '-')) {
				uint8_t c = t.p[e];
				host[e - s] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
				e++;
			}
			if (e > s) {
				tb_prefixed(tb, "U:host", host, e - s);
				(*count)++;
			}
			i = e;
			break;
		}
	}
}

static void
add_url_tokens(struct tokbuf *tb, const struct mime_message *m)
{
	unsigned count = 0;
	for (size_t i = 0; i < m->nurls && count < TOK_MAX_URLS; i++, count++) {
		if (m->urls[i].host != NULL)
			tb_prefixed_cstr(tb, "U:host", m->urls[i].host);
		if (m->urls[i].tld != NULL)
			tb_prefixed_cstr(tb, "U:tld", m->urls[i].tld);
	}
	if (m->nurls == 0)
		for (size_t i = 0; i < m->nparts; i++)
			if (m->parts[i].flags & MIME_PART_TEXT)
				scan_url_hosts(tb, m->parts[i].text, &count);
}

static unsigned
log2_class(size_t v)
{
	unsigned c = 0;
	while (v > 1) {
		v >>= 1;
		c++;
	}
	return c;
}

static void
add_meta_tokens(struct tokbuf *tb, const struct mime_message *m)
{
	unsigned sz = log2_class(m->raw.len), natt = 0;
	bool html = false, plain = false;
	tb_prefixed(tb, "M:size", &sz, sizeof(sz));
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (p->flags & MIME_PART_ATTACHMENT) {
			natt++;
			const char *t = p->detected_type ? p->detected_type : p->subtype;
			if (t != NULL)
				tb_prefixed_cstr(tb, "M:atype", t);
		}
		if (p->flags & MIME_PART_TEXT) {
			if (p->flags & MIME_PART_HTML)
				html = true;
			else
				plain = true;
			if (p->charset != NULL)
				tb_prefixed_cstr(tb, "M:cs", p->charset);
		}
	}
	natt = natt > 4 ? 4 : natt;
	tb_prefixed(tb, "M:natt", &natt, sizeof(natt));
	tb_prefixed_cstr(tb, "M:html", html && !plain ? "only" : html ? "alt" : "none");
}

/* LSD radix sort, 8 bits a pass; passes where every key shares the digit
 * are skipped. Iterative and linear: token lists can be long. */
static void
radix_sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
	uint64_t *src = v, *dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t cnt[256] = { 0 };
		for (size_t i = 0; i < n; i++)
			cnt[(src[i] >> shift) & 0xff]++;
		if (cnt[(src[0] >> shift) & 0xff] == n)
			continue;
		size_t pos = 0;
		for (size_t d = 0; d < 256; d++) {
			size_t c = cnt[d];
			cnt[d] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

static void
sort_u64(struct arena *a, uint64_t *v, size_t n)
{
	uint64_t *tmp = n > 1 ? ARENA_NEW_ARRAY(a, uint64_t, n) : NULL;
	if (tmp != NULL) {
		radix_sort_u64(v, tmp, n);
		return;
	}
	/* budget exhausted: insertion sort keeps the contract (sorted) */
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

void
stats_tokenize(struct arena *a, const struct msg *msg, const struct stats_tok_opts *o,
    struct stats_tokens *out)
{
	struct tokbuf tb = { .a = a };
	const struct mime_message *m = msg->mime;
	memset(out, 0, sizeof(*out));
	if (m == NULL)
		return;
	add_text_tokens(&tb, m, o);
	out->ntext = tb.n;
	if (o->header_tokens)
		add_header_tokens(&tb, m);
	add_url_tokens(&tb, m);
	if (o->meta_tokens)
		add_meta_tokens(&tb, m);
	sort_u64(a, tb.v, tb.n);
	size_t u = 0;
	for (size_t i = 0; i < tb.n; i++)
		if (u == 0 || tb.v[u - 1] != tb.v[i])
			tb.v[u++] = tb.v[i];
	out->v = tb.v;
	out->n = u;
}
