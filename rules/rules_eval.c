/*
 * rules_eval.c - the eval: tests filterd implements itself.
 *
 * SpamAssassin's eval: rules call Perl functions of its plugins. The ones
 * here are reimplemented from their documented behaviour; every other
 * eval: rule stays unsupported and is listed as such. Each entry parses its
 * arguments once at load time and runs per message on the parsed MIME tree.
 *
 * check_for_shifted_date(min, max): the Date header against the times of the
 * Received headers (fetchmail and local delivery hops at the top left out,
 * the closest one chosen), in hours; 'undef' leaves a bound open.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/mime.h"
#include "fcore/msg.h"
#include "rules-private.h"

/* Arguments 'a', 'b' of an eval call as numbers; NAN for 'undef'. */
static int
parse_two_args(const char *call, double *a, double *b)
{
	const char *p = strchr(call, '(');
	if (p == NULL)
		return -1;
	double v[2];
	for (int i = 0; i < 2; i++) {
		p++;
		while (*p == ' ' || *p == '\'' || *p == '"')
			p++;
		if (strncmp(p, "undef", 5) == 0) {
			v[i] = NAN;
			p += 5;
		} else {
			char *end;
			v[i] = strtod(p, &end);
			if (end == p)
				return -1;
			p = end;
		}
		while (*p == ' ' || *p == '\'' || *p == '"')
			p++;
		if (*p != (i == 0 ? ',' : ')'))
			return -1;
	}
	*a = v[0];
	*b = v[1];
	return 0;
}

static bool
match_value(const pcre2_code *re, const struct rules_scratch_eval *se, const char *v, size_t n)
{
	return pcre2_match(re, (PCRE2_SPTR)v, n, 0, 0, se->md, NULL) >= 0;
}

/* Seconds between the Date header and the closest Received time. */
static double
date_diff(const struct rules_db *db, const struct rules_scratch_eval *se, const struct msg *msg)
{
	const struct mime_message *m = msg->mime;
	if (!m->has_date || m->date == 0 || m->nreceived == 0)
		return 0;
	/* Received header values, in order, to recognise local hops */
	const struct mime_header *rh[64];
	size_t nrh = 0;
	for (size_t i = 0; i < m->headers.n && nrh < 64; i++)
		if (span_caseeq_cstr(m->headers.v[i].name, "Received"))
			rh[nrh++] = &m->headers.v[i];
	size_t first = 0;
	if (nrh > 0 && match_value(db->eval_local_re, se, rh[0]->value, rh[0]->value_len)) {
		if (nrh > 1 && match_value(db->eval_fetchmail_re, se, rh[1]->value, rh[1]->value_len))
			first = 2;
	} else if (nrh > 0 &&
	    match_value(db->eval_fetchmail_re, se, rh[0]->value, rh[0]->value_len)) {
		first = 1;
	}
	double diffs[64];
	size_t nd = 0;
	for (size_t i = first; i < m->nreceived && nd < 64; i++)
		if (m->received[i].ts != 0)
			diffs[nd++] = difftime(m->date, m->received[i].ts);
	if (nd == 0)
		return 0;
	if (nd > 1 && diffs[nd - 1] == 0)
		nd--;
	double best = diffs[0];
	for (size_t i = 1; i < nd; i++)
		if (fabs(diffs[i]) < fabs(best))
			best = diffs[i];
	return best;
}

static unsigned
eval_shifted_date(const struct rules_db *db, const struct rules_scratch_eval *se,
    const struct rule *r, const struct msg *msg)
{
	double d = date_diff(db, se, msg);
	bool lo = isnan(r->eval_a) || d >= 3600 * r->eval_a;
	bool hi = isnan(r->eval_b) || d < 3600 * r->eval_b;
	return lo && hi;
}

static const struct {
	const char *name;
	unsigned (*run)(const struct rules_db *, const struct rules_scratch_eval *,
	    const struct rule *, const struct msg *);
} evals[] = {
	{ "check_for_shifted_date", eval_shifted_date },
};

bool
rules_eval_prepare(struct rules_db *db, struct rule *r)
{
	size_t n = strcspn(r->eval, "( \t");
	for (size_t i = 0; i < sizeof(evals) / sizeof(evals[0]); i++) {
		if (strlen(evals[i].name) != n || strncmp(evals[i].name, r->eval, n) != 0)
			continue;
		if (parse_two_args(r->eval, &r->eval_a, &r->eval_b) != 0)
			return false;
		r->eval_id = (int)i;
		return rules_eval_init(db) == 0;
	}
	return false;
}

/* SpamAssassin's tests for a local delivery and a fetchmail hop. */
int
rules_eval_init(struct rules_db *db)
{
	if (db->eval_local_re != NULL)
		return 0;
	char why[200];
	db->eval_local_re = re_pcre_compile(
	    "\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*\\b127\\.0\\.0\\.1\\b)|qmail \\d+ invoked by uid \\d+",
	    0, why, sizeof(why));
	db->eval_fetchmail_re = re_pcre_compile("\\bby localhost with \\w+ \\(fetchmail-[\\d.]+",
	    0, why, sizeof(why));
	return db->eval_local_re && db->eval_fetchmail_re ? 0 : -1;
}

unsigned
rules_eval_run(const struct rules_db *db, const struct rules_scratch_eval *se,
    const struct rule *r, const struct msg *msg)
{
	return evals[r->eval_id].run(db, se, r, msg);
}
