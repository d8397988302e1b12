/*
 * test-words.c - Unicode word splitting, folding and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/words.h"

struct words_case {
	const char *text;
	const char *words; /* expected words joined by '|' */
};

static const struct words_case cases[] = {
	{ "", "" },
	{ "Hello, World!", "hello|world" },
	{ "  multiple   spaces\tand\nlines  ", "multiple|spaces|and|lines" },
	{ "don't can\xe2\x80\x99t 'quoted'", "don't|can't|quoted" },
	{ "3.14 1,000 1, 2 end.", "3.14|1,000|1|2|end" },
	{ "e.g. example.com v1.2", "e.g|example.com|v1.2" },
	{ "foo-bar foo_bar", "foo|bar|foo|bar" },
	{ "CAF\xc3\x89 Stra\xc3\x9f" "e", "caf\xc3\xa9|stra\xc3\x9f" "e" },
	{ "\xc3\x80\xc3\x9e \xc3\x97", "\xc3\xa0\xc3\xbe" },                 /* × separates */
	{ "\xc5\x81\xc3\xb3" "d\xc5\xba \xc4\xb0stanbul", "\xc5\x82\xc3\xb3" "d\xc5\xba|istanbul" },
	{ "\xce\x9a\xce\xb1\xce\xbb\xce\x97\xce\xbc\xce\xad\xcf\x81\xce\xb1", "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1" },
	{ "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x81\xd0\xbb\xd0\xba\xd0\xb0", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82|\xd1\x91\xd0\xbb\xd0\xba\xd0\xb0" },
	/* fullwidth ASCII folds to ASCII */
	{ "\xef\xbc\xa6\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa5 \xef\xbc\x91\xef\xbc\x92", "free|12" },
	/* zero-width characters and soft hyphen do not split words */
	{ "V\xe2\x80\x8bi\xc2\xad" "ag\xef\xbb\xbfra", "viagra" },
	/* emoji and symbols separate */
	{ "win\xf0\x9f\x92\xb0money \xe2\x82\xac" "100", "win|money|100" },
	/* CJK: bigrams; a lone ideograph is a unigram */
	{ "\xe5\x85\x8d\xe8\xb4\xb9\xe8\xa7\x86\xe9\xa2\x91", "\xe5\x85\x8d\xe8\xb4\xb9|\xe8\xb4\xb9\xe8\xa7\x86|\xe8\xa7\x86\xe9\xa2\x91" },
	{ "abc\xe5\x85\x8d" "def", "abc|\xe5\x85\x8d|def" },
	/* Hangul and Arabic are letters */
	{ "\xec\x95\x88\xeb\x85\x95 \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", "\xec\x95\x88\xeb\x85\x95|\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7" },
	/* invalid UTF-8 separates, never joins or crashes */
	{ "ab\xff" "cd\xc3" "ef\xe2\x82", "ab|cd|ef" },
	{ "\xed\xa0\x80x", "x" },                  /* encoded surrogate */
	{ "\xc0\xafx", "x" },                      /* overlong '/' */
	/* words over 40 bytes are dropped */
	{ "short aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ok", "short|ok" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	{ "'.,'", "" },
	{ "a.'b", "a|b" },
};

static void
check(const struct words *w, const char *want, size_t idx)
{
	char got[1024];
	size_t k = 0;
	for (size_t i = 0; i < w->n && k + w->v[i].len + 2 < sizeof(got); i++) {
		if (i > 0)
			got[k++] = '|';
		memcpy(got + k, w->v[i].p, w->v[i].len);
		k += w->v[i].len;
	}
	got[k] = '\0';
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "case %zu: got [%s] want [%s]\n", idx, got, want);
		fail();
	}
}

static void
test_split(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arena *a = arena_new(0);
		struct words w;
		words_init(&w, a);
		assert_int_equal(words_add(&w, span_from_cstr(cases[i].text)), 0);
		check(&w, cases[i].words, i);
		arena_free(&a);
	}
}

static void
test_accumulate(void **state)
{
	struct arena *a = arena_new(0);
	struct words w;
	words_init(&w, a);
	words_add(&w, span_from_cstr("first part"));
	words_add(&w, span_from_cstr("Second"));
	words_add(&w, span_from_cstr("x aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	check(&w, "first|part|second|x", 0);
	assert_int_equal(w.nlong, 1);
	arena_free(&a);
}

static void
test_nul(void **state)
{
	struct arena *a = arena_new(0);
	struct words w;
	words_init(&w, a);
	words_add(&w, span_make("ab\0cd", 5));
	check(&w, "ab|cd", 0);
	arena_free(&a);
}

static void
test_budget(void **state)
{
	struct arena *a = arena_new(12000);
	struct words w;
	words_init(&w, a);
	char text[6000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (i % 2) ? ' ' : 'w';
	assert_int_equal(words_add(&w, span_make(text, sizeof(text))), -1);
	assert_true(w.n > 0 && w.n < 3000);
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_accumulate),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
