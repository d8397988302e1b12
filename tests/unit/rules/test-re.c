/* test-re.c - Perl regex translation: which engine each Perl feature goes
 * to, the gate literal of PCRE2 rules, and that Hyperscan and PCRE2 agree on
 * the matches of the patterns Hyperscan accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fcore/arena.h"
#include "../../../rules/rules-private.h"

struct re_case {
	const char *src;   /* as in a .cf file, delimiters and flags included */
	int target;        /* RE_TARGET_* */
	const char *expr;  /* Hyperscan expression, or the gate for PCRE2 (NULL: none) */
};

static const struct re_case cases[] = {
	{ "/foo bar/", RE_TARGET_HS, "foo bar" },
	{ "m{^https?://x}i", RE_TARGET_HS, "^https?://x" },
	{ "m!a/b!", RE_TARGET_HS, "a/b" },
	{ "/a\\/b/", RE_TARGET_HS, "a\\/b" },
	{ "/\\bfoo\\d{2,3}\\s+\\w*\\z/", RE_TARGET_HS, "\\bfoo\\d{2,3}\\s+\\w*\\z" },
	{ "/[[:alpha:]]+\\x41\\e/", RE_TARGET_HS, "[[:alpha:]]+\\x41\\e" },
	{ "/(?i:x)y(?:z|w)+?/", RE_TARGET_HS, "(?i:x)y(?:z|w)+?" },
	{ "/a b # comment/x", RE_TARGET_HS, "(?x)a b # comment\n" },
	{ "/^a$/m", RE_TARGET_HS, "^a$" },
	{ "/a.b/s", RE_TARGET_HS, "a.b" },
	{ "/(?:optional)?/", RE_TARGET_HS, "(?:optional)?" },  /* matches empty: allowed */
	{ "/(foo)bar\\1/", RE_TARGET_PCRE, "bar" },              /* back-reference */
	{ "/prefix(?=look)/", RE_TARGET_PCRE, "prefix" },        /* look-ahead */
	{ "/(?<!not )money/i", RE_TARGET_PCRE, "money" },        /* look-behind */
	{ "/a++b/", RE_TARGET_PCRE, NULL },                      /* possessive */
	{ "/(?>atomic)x/", RE_TARGET_PCRE, NULL },               /* atomic group */
	{ "/\\Gfoo/", RE_TARGET_PCRE, "foo" },
	{ "/ab\\Kcd/", RE_TARGET_PCRE, NULL },
	{ "/line\\R/", RE_TARGET_PCRE, "line" },
	{ "/(?!x)abc|def/", RE_TARGET_PCRE, NULL },               /* top-level alternation */
	{ "/opt?ional(?=x)/", RE_TARGET_PCRE, "ional" },          /* 't' is optional */
	{ "/\\x{263a}/", RE_TARGET_PCRE, NULL },                  /* above 0xff: no byte match */
	{ "/\\bgrow.{0,50}\\bbreast(?!\\s+cancer)/i", RE_TARGET_PCRE, "breast" }, /* not "0,50" */
	{ "/x{2,3}(?=y)abcd/", RE_TARGET_PCRE, "abcd" },
	{ "/(?:ab){0,10}(?=x)cdef/", RE_TARGET_PCRE, "cdef" },    /* a group's {0,10} is no text */
};

static void
test_translation_table(void **state)
{
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct re_case *c = &cases[i];
		const char *body;
		unsigned flags;
		assert_true(cf_split_regex(a, c->src, &body, &flags));
		struct re_translation t;
		re_translate(a, body, flags, &t);
		if ((int)t.target != c->target)
			fail_msg("%s: target %d, want %d (%s)", c->src, t.target, c->target,
			    t.reason ? t.reason : "");
		if (c->target == RE_TARGET_HS) {
			assert_string_equal(t.expr, c->expr);
		} else if (c->expr == NULL) {
			if (t.gate != NULL)
				fail_msg("%s: unexpected gate %.*s", c->src, (int)t.gate_len, t.gate);
		} else {
			if (t.gate == NULL || t.gate_len != strlen(c->expr) ||
			    memcmp(t.gate, c->expr, t.gate_len) != 0)
				fail_msg("%s: gate %.*s, want %s", c->src, t.gate ? (int)t.gate_len : 4,
				    t.gate ? t.gate : "NULL", c->expr);
		}
	}
	arena_free(&a);
}

static void
test_flags(void **state)
{
	struct arena *a = arena_new(0);
	struct re_translation t;
	re_translate(a, "x", RE_I | RE_M | RE_S, &t);
	assert_int_equal(t.hs_flags & (HS_FLAG_CASELESS | HS_FLAG_MULTILINE | HS_FLAG_DOTALL),
	    HS_FLAG_CASELESS | HS_FLAG_MULTILINE | HS_FLAG_DOTALL);
	re_translate(a, "(?<=a)money", RE_I, &t);
	assert_true(t.gate_caseless);
	arena_free(&a);
}

static int
on_hs(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	*(int *)ctx = 1;
	return 1;
}

/* Patterns Hyperscan accepts must give the same yes/no as PCRE2 (Perl). */
static void
test_engines_agree(void **state)
{
	static const char *pats[] = {
		"/\\bfree\\b/i", "/^subject: .*!$/m", "/a.b/s", "/a.b/", "/\\d{3}-\\d{4}/",
		"/[^\\x00-\\x7f]{3}/", "/\\$\\s?\\d+(?:,\\d{3})*/", "/^$/m", "/x\\z/", "/x$/",
		"/c[l1]ick\\W{0,3}here/i", "/(?i:FoO)bar/",
	};
	static const char *texts[] = {
		"free stuff", "freedom", "Subject: hi!\nnext", "a\nb", "a-b", "call 555-1234 now",
		"caf\xc3\xa9\xc3\xa9", "$ 1,000,000", "one\n\ntwo", "x\n", "ax", "x", "CL1CK -- HERE",
		"foobar", "FOObar", "fooBAR", "",
	};
	struct arena *a = arena_new(0);
	hs_scratch_t *scratch = NULL;
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		const char *body;
		unsigned flags;
		assert_true(cf_split_regex(a, pats[p], &body, &flags));
		struct re_translation t;
		re_translate(a, body, flags, &t);
		assert_int_equal(t.target, RE_TARGET_HS);
		hs_database_t *db = NULL;
		hs_compile_error_t *err = NULL;
		assert_int_equal(hs_compile(t.expr, t.hs_flags, HS_MODE_BLOCK, NULL, &db, &err),
		    HS_SUCCESS);
		assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
		char why[200];
		pcre2_code *re = re_pcre_compile(body, flags, why, sizeof(why));
		assert_non_null(re);
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			int hs_hit = 0;
			hs_scan(db, texts[i], (unsigned)strlen(texts[i]), 0, scratch, on_hs, &hs_hit);
			int pc_hit = pcre2_match(re, (PCRE2_SPTR)texts[i], strlen(texts[i]), 0, 0, md,
			    NULL) >= 0;
			if (hs_hit != pc_hit)
				fail_msg("%s on '%s': hyperscan %d pcre2 %d", pats[p], texts[i], hs_hit,
				    pc_hit);
		}
		pcre2_match_data_free(md);
		pcre2_code_free(re);
		hs_free_database(db);
	}
	hs_free_scratch(scratch);
	arena_free(&a);
}

/* Prefilter gates from a required run (re_gate.c) for patterns Hyperscan
 * rejects whole. */
static void
test_gate_run(void **state)
{
	struct arena *a = arena_new(0);
	static const struct {
		const char *re;
		const char *run; /* NULL: no gate */
	} runs[] = {
		/* an embedded end anchor: the run starts after it (a trailing one
		 * is accepted; equal widths: the longer run) */
		{ "(?:$|\\W)opt[-\\s]?out(?:$|\\W)", "opt[-\\s]?out(?:$|\\W)" },
		/* one repeated group: looked into; a run ends on required items */
		{ "(?:name\\s?[:=]\\s?){3}", "name\\s?[:=]" },
		/* zero-width items inside a run are dropped */
		{ "\\byour\\b\\s+pass(?=word)", "your\\s+pass" },
		/* nested repeated groups, capturing or not: looked into level by level */
		{ "(?:(?:abc\\sdef){2}){3}", "abc\\sdef" },
		{ "(E){3}", "E" },
		{ "foo|bar", NULL },             /* top-level alternation: nothing required */
		{ "(?i)abc", NULL },             /* flags for the rest of the pattern */
		{ "(\\w+) \\1", NULL },          /* back-reference */
		{ "(?:x)?", NULL },              /* nothing required */
	};
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		const char *got = re_gate_run(a, runs[i].re, HS_FLAG_CASELESS);
		if (runs[i].run == NULL && got != NULL)
			fail_msg("%s: unexpected gate %s", runs[i].re, got);
		if (runs[i].run != NULL && (got == NULL || strcmp(got, runs[i].run) != 0))
			fail_msg("%s: gate %s, want %s", runs[i].re, got ? got : "(none)", runs[i].run);
	}
	arena_free(&a);
}

static void
test_pcre_failure(void **state)
{
	char why[200];
	assert_null(re_pcre_compile("(unbalanced", 0, why, sizeof(why)));
	assert_non_null(strstr(why, "PCRE2:"));
}

/* Positions once bounded repeats are unrolled: what re_unroll.c's screen
 * compares with its limit. */
/* Which gate a PCRE2 rule gets: a literal of more than four bytes stays; a
 * shorter one, or any header rule's, gives way to the prefilter but is kept
 * for when the prefilter fails to compile. */
static void
test_gate_choice(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	static const struct {
		int type;
		const char *re;
		bool literal_left; /* a literal gate remains in t.gate */
		bool prefilter;    /* the prefilter is the gate */
	} choices[] = {
		/* "http": in nearly every URI */
		{ RT_URI, "^https?://(?!10\\.)\\d+\\.\\d+\\.\\d+\\.\\d+\\b", true, true },
		/* a long literal stays the gate */
		{ RT_BODY, "(?<!x)unsubscribe\\s+here", true, false },
		/* a header name: in nearly every header block */
		{ RT_HEADER, "^Message-Id:.*?(?<!x)^Received:", true, true },
		/* no literal at all: the prefilter, as before */
		{ RT_BODY, "(\\w{4,}) \\1", false, true },
	};
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		struct rule r;
		memset(&r, 0, sizeof(r));
		r.type = choices[i].type;
		r.re = choices[i].re;
		r.re_flags = RE_I | RE_M;
		struct re_translation t;
		re_translate_gate_only(a, r.re, r.re_flags, &t);
		rules_gate_choose(a, &r, &t);
		if ((t.gate != NULL) != choices[i].literal_left || t.prefilter != choices[i].prefilter)
			fail_msg("%s: literal %s, prefilter %d", r.re, t.gate ? "kept" : "none", t.prefilter);
	}
	arena_free(&a);
}

static void
test_unrolled_size(void **state)
{
	(void)state;
	static const struct { const char *re; size_t n; } sizes[] = {
		{ "abc", 3 },
		{ "a|bc", 3 },
		{ "(?:ab){3}", 6 },
		{ "(?:a(?:b){1,3}){2}", 8 },
		{ "a{2,}", 3 },
		{ "a{0,5}?", 5 },
		{ "[a-z\\]]{10}", 10 },
		{ "\\x41{4}", 4 },
		{ "\\x{263a}\\d+", 2 },
		{ "a{", 2 },
		{ "a{,}", 4 },
		{ "(?i)ab*", 2 },
		{ "(?:(?:x|yz){1,3}q){3}", 30 },
		{ "(?:a[bc]{0,90}d){100}x", 9201 },
		{ "((((a)))", 1 },
		/* cut short: the reader stops at the terminator */
		{ "a(?", 1 },
		{ "a(?<", 1 },
		{ "\\x{4", 1 },
		{ "[[:alp", 1 },
		{ "a\\", 2 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = re_unrolled_size(sizes[i].re);
		if (n != sizes[i].n)
			fail_msg("%s: %zu positions, expected %zu", sizes[i].re, n, sizes[i].n);
	}
	/* deep nesting of repeats saturates instead of overflowing */
	char deep[4096] = "";
	for (int i = 0; i < 200; i++)
		strcat(deep, "(?:");
	strcat(deep, "a");
	for (int i = 0; i < 200; i++)
		strcat(deep, "){9}");
	assert_true(re_unrolled_size(deep) > 10000);
}

static int
count_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	(*(int *)ctx)++;
	return 0;
}

static int
scan_count(const hs_database_t *db, const char *text)
{
	hs_scratch_t *s = NULL;
	assert_int_equal(hs_alloc_scratch(db, &s), HS_SUCCESS);
	int n = 0;
	assert_int_equal(hs_scan(db, text, (unsigned)strlen(text), 0, s, count_match, &n), HS_SUCCESS);
	hs_free_scratch(s);
	return n;
}

/* Compiles in child processes: databases come back whole and scan, a bad
 * expression is named by its index, an overrun is stopped. */
static void
test_hs_jobs(void **state)
{
	(void)state;
	const char *good[] = { "abc", "x[0-9]+y" };
	const char *bad[] = { "abc", "(a)\\1", "def" };
	const char *slow[] = { "(?:a[bc]{0,90}d){100}x" };
	unsigned flags[] = { HS_FLAG_SINGLEMATCH, HS_FLAG_SINGLEMATCH, HS_FLAG_SINGLEMATCH };
	unsigned ids[] = { 0, 1, 2 };
	struct hs_job jobs[4] = {
		{ .exprs = good, .flags = flags, .ids = ids, .n = 2, .want_db = true },
		{ .exprs = bad, .flags = flags, .ids = ids, .n = 3, .want_db = true },
		{ .exprs = slow, .flags = flags, .ids = ids, .n = 1, .limit_ms = 20 },
		{ .exprs = good, .flags = flags, .ids = ids, .n = 1 },
	};
	hs_jobs_run(jobs, 4, 2);
	assert_int_equal(jobs[0].status, HS_JOB_OK);
	assert_non_null(jobs[0].db);
	assert_int_equal(scan_count(jobs[0].db, "zz abc x42y"), 2);
	assert_int_equal(scan_count(jobs[0].db, "ab x y"), 0);
	hs_free_database(jobs[0].db);
	assert_int_equal(jobs[1].status, HS_JOB_FAILED);
	assert_int_equal(jobs[1].bad, 1);
	assert_null(jobs[1].db);
	assert_true(strlen(jobs[1].why) > 0);
	assert_int_equal(jobs[2].status, HS_JOB_TIMEOUT);
	assert_non_null(strstr(jobs[2].why, "20 ms"));
	assert_int_equal(jobs[3].status, HS_JOB_OK); /* compiled, no database asked */
	assert_null(jobs[3].db);
	assert_true(hs_jobs_parallel() >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translation_table),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_engines_agree),
		cmocka_unit_test(test_pcre_failure),
		cmocka_unit_test(test_gate_run),
		cmocka_unit_test(test_gate_choice),
		cmocka_unit_test(test_unrolled_size),
		cmocka_unit_test(test_hs_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
