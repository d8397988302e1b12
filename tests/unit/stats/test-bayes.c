/* Classifier math: Robinson's token probability, chi-square survival,
 * Fisher combining. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stats/stats.h"

static void
test_token_prob(void **state)
{
	struct bayes_params p;
	bayes_params_default(&p);
	assert_float_equal(p.robs, 0.3, 1e-12);
	assert_float_equal(p.robx, 0.6, 1e-12);
	assert_float_equal(p.min_dev, 0.25, 1e-12);
	assert_float_equal(bayes_token_prob(&p, 1, 0, 10, 10), (0.3 * 0.6 + 1) / 1.3, 1e-12);
	/* never seen: the unknown-word prior x */
	assert_float_equal(bayes_token_prob(&p, 0, 0, 10, 10), 0.6, 1e-12);
	p.robs = 1;
	p.robx = 0.5;
	assert_float_equal(bayes_token_prob(&p, 0, 0, 10, 10), 0.5, 1e-12);
	/* seen once, in spam only: p = 1, f = (1 * 0.5 + 1 * 1) / 2 */
	assert_float_equal(bayes_token_prob(&p, 1, 0, 10, 10), 0.75, 1e-12);
	assert_float_equal(bayes_token_prob(&p, 0, 1, 10, 10), 0.25, 1e-12);
	/* p = 0.75, n = 4: (0.5 + 4 * 0.75) / 5 */
	assert_float_equal(bayes_token_prob(&p, 3, 1, 10, 10), 0.7, 1e-12);
	/* class sizes are normalised: 2/20 vs 1/10 is even */
	assert_float_equal(bayes_token_prob(&p, 2, 1, 20, 10), 0.5, 1e-12);
	p.robs = 3;
	assert_float_equal(bayes_token_prob(&p, 1, 0, 10, 10), (1.5 + 1) / 4, 1e-12);
}

static void
test_chi2q(void **state)
{
	assert_float_equal(bayes_chi2q(0, 3), 1.0, 1e-12);
	assert_float_equal(bayes_chi2q(2, 1), exp(-1), 1e-12);
	assert_float_equal(bayes_chi2q(2, 2), 2 * exp(-1), 1e-12);
	assert_float_equal(bayes_chi2q(10, 3), exp(-5) * (1 + 5 + 12.5), 1e-12);
	/* m = 1000, 1000 terms: P(Poisson(1000) < 1000) = 0.4958 */
	assert_float_equal(bayes_chi2q(2000, 1000), 0.4958, 0.001);
	/* large arguments neither underflow nor exceed 1 */
	assert_true(bayes_chi2q(3000, 2000) > 0.999999);
	assert_true(bayes_chi2q(3000, 2000) <= 1.0);
	assert_true(bayes_chi2q(1e6, 10) < 1e-100);
}

static void
test_combine(void **state)
{
	struct bayes_params p;
	double f[200];
	bayes_params_default(&p);
	p.min_dev = 0.1; /* the cases below are written for it */
	assert_float_equal(bayes_combine(&p, f, 0, NULL), 0.5, 1e-12);
	for (int i = 0; i < 10; i++)
		f[i] = 0.99;
	assert_true(bayes_combine(&p, f, 10, NULL) > 0.99);
	for (int i = 0; i < 10; i++)
		f[i] = 0.01;
	assert_true(bayes_combine(&p, f, 10, NULL) < 0.01);
	f[0] = 0.9;
	f[1] = 0.1;
	assert_float_equal(bayes_combine(&p, f, 2, NULL), 0.5, 1e-9);
	/* tokens within min_dev of 0.5 do not count */
	p.min_dev = 0.25;
	f[0] = 0.74;
	f[1] = 0.26;
	f[2] = 0.3;
	assert_float_equal(bayes_combine(&p, f, 3, NULL), 0.5, 1e-12);
	p.min_dev = 0.1;
	f[0] = 0.55;
	f[1] = 0.45;
	f[2] = 0.58;
	assert_float_equal(bayes_combine(&p, f, 3, NULL), 0.5, 1e-12);
	/* one strong token against weaker ones: more weak ones win */
	f[0] = 0.2;
	f[1] = f[2] = f[3] = 0.7;
	assert_true(bayes_combine(&p, f, 4, NULL) > 0.5);
	/* with max_sig 1 only the strongest (0.2) counts */
	p.max_sig = 1;
	assert_true(bayes_combine(&p, f, 4, NULL) < 0.5);
	/* thousands of tokens: a probability, not a NaN */
	p.max_sig = 0;
	for (int i = 0; i < 200; i++)
		f[i] = i % 3 ? 0.8 : 0.3;
	double v = bayes_combine(&p, f, 200, NULL);
	assert_true(v > 0.5 && v <= 1.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_prob),
		cmocka_unit_test(test_chi2q),
		cmocka_unit_test(test_combine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
