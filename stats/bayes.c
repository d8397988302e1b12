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
	p->robs = 0.3;
	p->robx = 0.6;
	p->min_dev = 0.25;
	p->max_sig = 150;
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
 * log of sum_{lo <= i < hi} e^-m m^i / i! (hi = 0: no upper bound). The
 * terms are unimodal around floor(m): summed outwards from the largest one
 * in the range, relative to it, so thousands of terms and large m neither
 * underflow nor cost one exponential each.
 */
static double
log_poisson_sum(double m, double lo, double hi)
{
	double peak = floor(m);
	if (peak < lo)
		peak = lo;
	if (hi > 0 && peak > hi - 1)
		peak = hi - 1;
	double lpeak = -m + peak * log(m) - lgamma(peak + 1);
	double sum = 1.0, rel = 1.0;
	for (double i = peak; i > lo; i--) {
		rel *= i / m;
		sum += rel;
		if (rel < CHI2_NEGLIGIBLE)
			break;
	}
	rel = 1.0;
	for (double i = peak + 1; hi <= 0 || i < hi; i++) {
		rel *= m / i;
		sum += rel;
		if (rel < CHI2_NEGLIGIBLE)
			break;
	}
	return lpeak + log(sum);
}

/* Q(x2 | 2v) = e^-m * sum_{i<v} m^i / i!, m = x2 / 2, and log(1 - Q). */
static double
log_chi2q(double x2, unsigned halfdof, double *log_p_r)
{
	double m = x2 / 2.0;
	if (halfdof == 0 || m <= 0) {
		*log_p_r = -INFINITY;
		return 0.0;
	}
	*log_p_r = log_poisson_sum(m, halfdof, 0);
	return log_poisson_sum(m, 0, halfdof);
}

double
bayes_chi2q(double x2, unsigned halfdof)
{
	double lp;
	double q = exp(log_chi2q(x2, halfdof, &lp));
	return q > 1.0 ? 1.0 : q;
}

static double
logaddexp(double a, double b)
{
	if (a == -INFINITY)
		return b;
	if (b == -INFINITY)
		return a;
	return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

static int
cmp_strength(const void *a, const void *b)
{
	double x = fabs(*(const double *)a - 0.5), y = fabs(*(const double *)b - 0.5);
	return x > y ? -1 : x < y;
}

double
bayes_combine(const struct bayes_params *p, double *f, size_t n, double *logodds_r)
{
	size_t used = 0, strong = 0;
	double lh = 0, ls = 0;
	/* only the tokens that count are sorted: of a message's several
	 * hundred, most sit within min_dev of 0.5 (sorting all was 1.5 % of a
	 * scan); with a stable sort (glibc's merge sort) their order, and so
	 * the sums, are those of sorting them all */
	for (size_t i = 0; i < n; i++)
		if (fabs(f[i] - 0.5) >= p->min_dev)
			f[strong++] = f[i];
	if (p->max_sig > 0 && n > p->max_sig)
		qsort(f, strong, sizeof(*f), cmp_strength);
	for (size_t i = 0; i < strong; i++) {
		if (p->max_sig > 0 && used >= p->max_sig)
			break;
		double v = f[i] < 1e-6 ? 1e-6 : f[i] > 1 - 1e-6 ? 1 - 1e-6 : f[i];
		lh += log(v);
		ls += log(1 - v);
		used++;
	}
	if (logodds_r != NULL)
		*logodds_r = 0;
	if (used == 0)
		return 0.5;
	/* p = (1 + H - S) / 2 and 1 - p = ((1 - H) + S) / 2, each summed in
	 * log space so that near-certain messages still rank by strength. */
	double lq_h, lq_s, lp_h, lp_s;
	lq_h = log_chi2q(-2.0 * lh, (unsigned)used, &lp_h);
	lq_s = log_chi2q(-2.0 * ls, (unsigned)used, &lp_s);
	double lspam = logaddexp(lq_h, lp_s), lham = logaddexp(lp_h, lq_s);
	if (logodds_r != NULL)
		*logodds_r = lspam - lham;
	return 1.0 / (1.0 + exp(lham - lspam));
}
