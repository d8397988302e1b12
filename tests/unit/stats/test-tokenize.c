/* Tokenizer: OSB pairs, determinism, token sources, leak-prone headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <xxhash.h>

#include "fcore/arena.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "stats/stats.h"

static struct msg *
mk(struct arena *a, const char *raw)
{
	struct msg *m = ARENA_NEW(a, struct msg);
	m->arena = a;
	m->raw = span_from_cstr(arena_strdup(a, raw));
	m->mime = mime_parse(a, m->raw, NULL);
	return m;
}

static uint64_t
wh(const char *w)
{
	return XXH3_64bits(w, strlen(w));
}

static uint64_t
pair(const char *a, const char *b, unsigned d, unsigned kind)
{
	uint64_t p[2] = { wh(a), wh(b) };
	return XXH3_64bits_withSeed(p, sizeof(p), ((uint64_t)kind << 8) | d);
}

/* Golden list: the OSB pairs of "a b c d" with window 3 are, in order,
 * (a,b,1) (b,c,1) (a,c,2) (c,d,1) (b,d,2). */
static void
test_osb_pairs(void **state)
{
	struct span w[] = { SPAN_LIT("a"), SPAN_LIT("b"), SPAN_LIT("c"), SPAN_LIT("d") };
	uint64_t out[32];
	size_t n = stats_osb(w, 4, 3, false, 0, out, 32);
	assert_int_equal(n, 5);
	assert_true(out[0] == pair("a", "b", 1, 0));
	assert_true(out[1] == pair("b", "c", 1, 0));
	assert_true(out[2] == pair("a", "c", 2, 0));
	assert_true(out[3] == pair("c", "d", 1, 0));
	assert_true(out[4] == pair("b", "d", 2, 0));
	/* order matters, distance matters, kind matters */
	assert_true(pair("a", "b", 1, 0) != pair("b", "a", 1, 0));
	assert_true(pair("a", "b", 1, 0) != pair("a", "b", 2, 0));
	n = stats_osb(w, 4, 3, false, 1, out, 32);
	assert_true(out[0] == pair("a", "b", 1, 1) && out[0] != pair("a", "b", 1, 0));
	/* unigrams: one more per word; window 5 over 4 words = 6 pairs */
	assert_int_equal(stats_osb(w, 4, 3, true, 0, out, 32), 9);
	assert_int_equal(stats_osb(w, 4, 5, false, 0, out, 32), 6);
	/* never past outcap */
	assert_int_equal(stats_osb(w, 4, 5, true, 0, out, 3), 3);
}

static void
test_fallback_words(void **state)
{
	struct arena *a = arena_new(0);
	struct stats_tok_opts o = { .window = 2, .header_tokens = false, .unigrams = false,
		.meta_tokens = false };
	/* case folded, punctuation split, 1-letter words and base64 lines dropped */
	struct msg *m = mk(a, "X-A: b\n\nHello, WORLD! x foo-bar\n"
	    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\n");
	/* the fallback runs only without the extract step's words */
	m->mime->words = NULL;
	m->mime->nwords = 0;
	struct stats_tokens t;
	stats_tokenize(a, m, &o, &t);
	assert_int_equal(t.ntext, 2);
	uint64_t want[2] = { pair("hello", "world", 1, 0), pair("world", "foo-bar", 1, 0) };
	assert_int_equal(t.n, 2);
	for (size_t i = 0; i < 2; i++)
		assert_true(t.v[0] == want[i] || t.v[1] == want[i]);
	arena_free(&a);
}

static bool
same(const struct stats_tokens *x, const struct stats_tokens *y)
{
	return x->n == y->n && memcmp(x->v, y->v, x->n * sizeof(*x->v)) == 0;
}

static const char MSG[] =
    "From: Alice <alice@Example.COM>\n"
    "Delivered-To: spam-trap@corpus.example\n"
    "Subject: cheap offer today\n"
    "X-Mailer: Foo Mail 1.0\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Buy cheap pills now at http://pills.example.net/buy and save money today.\n";

static void
test_tokenize_message(void **state)
{
	struct arena *a = arena_new(0);
	struct stats_tok_opts o;
	stats_tok_opts_from_cfg(&o, NULL);
	struct stats_tokens t1, t2, t3;
	stats_tokenize(a, mk(a, MSG), &o, &t1);
	stats_tokenize(a, mk(a, MSG), &o, &t2);
	assert_true(t1.n > 20);
	assert_true(same(&t1, &t2)); /* deterministic */
	for (size_t i = 1; i < t1.n; i++)
		assert_true(t1.v[i - 1] < t1.v[i]); /* sorted, unique */
	/* sources: header, URL host and meta tokens are present */
	bool from = false, url = false, size = false;
	uint64_t hf = stats_token_hash("H:from", "example.com", 11);
	uint64_t hu = stats_token_hash("U:host", "pills.example.net", 17);
	for (size_t i = 0; i < t1.n; i++) {
		from |= t1.v[i] == hf;
		url |= t1.v[i] == hu;
	}
	unsigned sz = 0;
	for (size_t v = strlen(MSG); v > 1; v >>= 1)
		sz++;
	uint64_t hs = stats_token_hash("M:size", &sz, sizeof(sz));
	for (size_t i = 0; i < t1.n; i++)
		size |= t1.v[i] == hs;
	assert_true(from && url && size);

	/* Delivered-To never makes a token */
	char *other = arena_strdup(a, MSG);
	memcpy(strstr(other, "spam-trap"), "ham--trap", 9);
	stats_tokenize(a, mk(a, other), &o, &t3);
	assert_true(same(&t1, &t3));

	/* without header tokens the From domain does not count */
	o.header_tokens = false;
	stats_tokenize(a, mk(a, MSG), &o, &t3);
	assert_true(t3.n < t1.n);
	for (size_t i = 0; i < t3.n; i++)
		assert_true(t3.v[i] != hf);
	assert_int_equal(t3.ntext, t1.ntext);
	/* body: buy cheap pills now at http pills.example.net buy and save
	 * money today = 12 words, 11 pairs (window 2, no unigrams); Subject:
	 * 3 words, 2 pairs */
	assert_int_equal(t1.ntext, 11 + 2);
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osb_pairs),
		cmocka_unit_test(test_fallback_words),
		cmocka_unit_test(test_tokenize_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
