/*
 * bayes.c - per-token probabilities (Robinson) and their combination
 * (Fisher's inverse chi-square), as in bogofilter and rspamd.
 */
#include "stats/stats.h"

#include <math.h>
#include <stdlib.h>

#define CHI2_NEGLIGIBLE 4.25e-18 /* e^-40: smaller terms (relative to the largest) do not count */

void
bayes_params_default(struct bayes_params *p)
{
	p->robs = 1.0;
	p->robx = 0.5;
	p->min_dev = 0.1;
	p->max_sig = 0;
}

double
bayes_token_prob(const struct bayes_params *p, uint64_t spam, uint64_t ham, uint64_t nspam,
    uint64_t nham)
{
	double n = (double)spam + (double)ham;
	if (n == 0)
		return p->robx;
	double sf = (double)spam / (nspam ? (double)nspam : 1.0);
	double hf = (double)ham / (nham ? (double)nham : 1.0);
	double pw = sf / (sf + hf);
	return (p->robs * p->robx + n * pw) / (p->robs + n);
}

/*
 * Q(x2 | 2v) = e^-m * sum_{i<v} m^i / i!, m = x2 / 2. Summed outwards from
 * the largest term, relative to it, so thousands of degrees of freedom and
 * large m neither underflow nor cost v exponentials.
 */
double
bayes_chi2q(double x2, unsigned halfdof)
{
	if (halfdof == 0)
		return 1.0;
	double m = x2 / 2.0;
	if (m <= 0)
		return 1.0;
	double peak = floor(m);
	if (peak > halfdof - 1)
		peak = halfdof - 1;
	double lpeak = -m + peak * log(m) - lgamma(peak + 1);
	double sum = 1.0, rel = 1.0;
	for (double i = peak; i > 0; i--) {
		rel *= i / m;
		sum += rel;
		if (rel < CHI2_NEGLIGIBLE)
			break;
	}
	rel = 1.0;
	for (double i = peak + 1; i < halfdof; i++) {
		rel *= m / i;
		sum += rel;
		if (rel < CHI2_NEGLIGIBLE)
			break;
	}
	double q = exp(lpeak + log(sum));
	return q > 1.0 ? 1.0 : q;
}

static int
cmp_strength(const void *a, const void *b)
{
	double x = fabs(*(const double *)a - 0.5), y = fabs(*(const double *)b - 0.5);
	return x > y ? -1 : x < y;
}

double
bayes_combine(const struct bayes_params *p, double *f, size_t n)
{
	size_t used = 0;
	double lh = 0, ls = 0;
	if (p->max_sig > 0 && n > p->max_sig)
		qsort(f, n, sizeof(*f), cmp_strength);
	for (size_t i = 0; i < n; i++) {
		if (fabs(f[i] - 0.5) < p->min_dev)
			continue;
		if (p->max_sig > 0 && used >= p->max_sig)
			break;
		double v = f[i] < 1e-6 ? 1e-6 : f[i] > 1 - 1e-6 ? 1 - 1e-6 : f[i];
		lh += log(v);
		ls += log(1 - v);
		used++;
	}
	if (used == 0)
		return 0.5;
	double h = bayes_chi2q(-2.0 * lh, (unsigned)used);
	double s = bayes_chi2q(-2.0 * ls, (unsigned)used);
	return (1.0 + h - s) / 2.0;
}
