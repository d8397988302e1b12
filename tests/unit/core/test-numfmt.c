/*
 * test-numfmt.c - numbers written without printf must read exactly as
 * printf writes them: every score of a reply, its result header and the log
 * line goes through here.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "fcore/numfmt.h"

static void
check_fixed(double v, int decimals)
{
	char want[512], got[NUMFMT_MAX];
	snprintf(want, sizeof(want), "%.*f", decimals, v);
	size_t n = fmt_fixed(got, v, decimals);
	if (strcmp(want, got) != 0 || n != strlen(want))
		fail_msg("%.17g with %d decimals: printf \"%s\", fmt_fixed \"%s\" (%zu)", v, decimals, want,
		    got, n);
}

static void
check_all_decimals(double v)
{
	for (int d = 0; d <= 3; d++) {
		check_fixed(v, d);
		check_fixed(-v, d);
	}
}

/* The values a score takes: thousandths, their sums, and the edges. */
static void
test_fixed_scores(void **state)
{
	(void)state;
	for (int k = 0; k <= 200000; k++)
		check_all_decimals(k / 1000.0);
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		sum += ((i * 7919) % 12001 - 6000) / 1000.0;
		check_all_decimals(sum);
	}
	/* ties in binary (x.125, x.375, 2.5) and near-ties printf settles */
	static const double edges[] = { 0.125, 0.375, 0.625, 2.5, 0.5, 1.5, 0.005, 1.005, 2.675, 0.045,
		1.0005, 999999.995, 999999.9999999, 1e6, 1e6 - 0.0005, 123456.785, 0.0, 1e-300,
		4.9e-324, 0.0049999999999, 0.0050000000001, 1e15, 1e300, DBL_MAX };
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		check_all_decimals(edges[i]);
	check_all_decimals(nextafter(0.125, 1.0));
	check_all_decimals(nextafter(0.125, 0.0));
	check_all_decimals(nextafter(2.5, 0.0));
}

/* Random bit patterns over the whole fast range and beyond it. */
static void
test_fixed_random(void **state)
{
	(void)state;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double unit = (double)(x >> 11) / 9007199254740992.0;
		check_all_decimals(unit * pow(10.0, (double)(i % 10) - 3.0));
	}
}

static void
test_fixed_not_finite(void **state)
{
	(void)state;
	check_all_decimals(INFINITY);
	check_fixed(NAN, 2);
	char got[NUMFMT_MAX];
	fmt_fixed(got, -0.0, 2);
	assert_string_equal(got, "-0.00");
	fmt_fixed(got, -0.001, 2);
	assert_string_equal(got, "-0.00");
}

static void
test_integers(void **state)
{
	(void)state;
	char got[NUMFMT_MAX], want[64];
	static const long long v[] = { 0, 1, -1, 9, 10, 99, 100, 12345678, -987654321, LLONG_MAX,
		LLONG_MIN, LLONG_MIN + 1 };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), "%lld", v[i]);
		assert_int_equal(fmt_long(got, v[i]), strlen(want));
		assert_string_equal(got, want);
	}
	snprintf(want, sizeof(want), "%llu", ULLONG_MAX);
	assert_int_equal(fmt_ulong(got, ULLONG_MAX), strlen(want));
	assert_string_equal(got, want);
}

static void
test_buf_append_fixed(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct buf b;
	buf_init(&b, a);
	assert_true(buf_append_cstr(&b, "score="));
	assert_true(buf_append_fixed(&b, 14.7245, 2));
	assert_true(buf_append_fixed(&b, -3.0, 1));
	assert_string_equal(buf_cstr(&b), "score=14.72-3.0");
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_scores),
		cmocka_unit_test(test_fixed_random),
		cmocka_unit_test(test_fixed_not_finite),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_buf_append_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
