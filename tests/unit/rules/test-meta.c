/* test-meta.c - meta expressions: grammar, Perl precedence and values,
 * errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fcore/arena.h"
#include "../../../rules/rules-private.h"

/* Binds A..E to hit slots 0..4 by name. */
static double
eval(const char *expr, const unsigned *hits)
{
	struct arena *a = arena_new(0);
	char err[128];
	struct meta_prog *p = meta_compile(a, expr, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s: %s", expr, err);
	for (size_t i = 0; i < meta_ninputs(p); i++) {
		const char *n = meta_input(p, i);
		int idx = (strlen(n) == 1 && n[0] >= 'A' && n[0] <= 'E') ? n[0] - 'A' : -1;
		meta_bind(p, i, idx);
	}
	double v = meta_eval(p, hits);
	arena_free(&a);
	return v;
}

struct meta_case {
	const char *expr;
	unsigned hits[5];
	double want;
};

static void
test_values(void **state)
{
	static const struct meta_case cases[] = {
		{ "A && B", { 1, 1 }, 1 },
		{ "A && B", { 1, 0 }, 0 },
		{ "A || B", { 0, 0 }, 0 },
		{ "A || B", { 0, 1 }, 1 },
		{ "!A", { 0 }, 1 },
		{ "!A && B", { 0, 1 }, 1 },
		{ "!(A && B)", { 1, 1 }, 0 },
		{ "A || B && C", { 1, 0, 0 }, 1 },      /* && binds tighter */
		{ "(A || B) && C", { 1, 0, 0 }, 0 },
		{ "A + B + C >= 2", { 1, 0, 1 }, 1 },
		{ "A + B + C > 2", { 1, 0, 1 }, 0 },
		{ "A + B * 2 == 5", { 3, 1 }, 1 },      /* * before + */
		{ "(A + B) * 2 == 8", { 3, 1 }, 1 },
		{ "A - B - C", { 10, 3, 2 }, 5 },        /* left associative */
		{ "A / 2 < 1", { 1 }, 1 },
		{ "A / B", { 4, 0 }, 0 },                /* no trap on / 0 */
		{ "-A + 3", { 1 }, 2 },
		{ "A != B", { 1, 0 }, 1 },
		{ "A <= 1 && B >= 1", { 1, 1 }, 1 },
		{ "A && 7", { 1 }, 7 },                  /* Perl: && yields the operand */
		{ "A || 7", { 2 }, 2 },
		{ "UNDEFINED_RULE || A", { 1 }, 1 },     /* unknown rules are 0 */
		{ "!UNDEFINED_RULE", { 0 }, 1 },
		{ "0.5 + 0.5 == 1", { 0 }, 1 },
		{ "((((A))))", { 1 }, 1 },
		{ "E > 2", { 0, 0, 0, 0, 3 }, 1 },       /* counts of multiple rules */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = eval(cases[i].expr, cases[i].hits);
		if (v != cases[i].want)
			fail_msg("%s = %g, want %g", cases[i].expr, v, cases[i].want);
	}
}

static void
test_errors(void **state)
{
	static const char *bad[] = {
		"", "A &&", "&& A", "(A", "A)", "A B", "A $ B", "()", "A + * B", "!",
	};
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];
		if (meta_compile(a, bad[i], err, sizeof(err)) != NULL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	arena_free(&a);
}

static void
test_deep_nesting(void **state)
{
	/* nesting is handled without recursion; only the token limit applies */
	char expr[2100];
	size_t n = 0;
	for (int i = 0; i < 1000; i++)
		expr[n++] = '(';
	expr[n++] = 'A';
	for (int i = 0; i < 1000; i++)
		expr[n++] = ')';
	expr[n] = '\0';
	unsigned hits[5] = { 1 };
	assert_true(eval(expr, hits) == 1.0);
	struct arena *a = arena_new(0);
	char big[10000], err[128];
	memset(big, '(', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(meta_compile(a, big, err, sizeof(err)));
	arena_free(&a);
}

static void
test_inputs(void **state)
{
	struct arena *a = arena_new(0);
	char err[128];
	struct meta_prog *p = meta_compile(a, "__X && (Y_2 || __X) && !Z", err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(meta_ninputs(p), 3);
	assert_string_equal(meta_input(p, 0), "__X");
	assert_string_equal(meta_input(p, 1), "Y_2");
	assert_string_equal(meta_input(p, 2), "Z");
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
