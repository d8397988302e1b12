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
 * check_for_mime_html(), check_for_mime_html_only() and check_for_mime() for
 * mime_base64_count, mime_qp_count, mime_attachment,
 * mime_base64_encoded_text and mime_bad_iso_charset: MIMEEval's counts over
 * the parts' declared types, encodings, dispositions and charsets.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
match_value(const pcre2_code *re, struct rules_scratch_eval *se, const char *v, size_t n)
{
	return pcre2_match(re, (PCRE2_SPTR)v, n, 0, 0, se->md, NULL) >= 0;
}

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
	"aug", "sep", "oct", "nov", "dec" };

static const struct { const char *name; int off; } zones[] = {
	{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -500 }, { "EDT", -400 },
	{ "CST", -600 }, { "CDT", -500 }, { "MST", -700 }, { "MDT", -600 }, { "PST", -800 },
	{ "PDT", -700 }, { "BST", 100 }, { "CET", 100 }, { "CEST", 200 }, { "IST", 100 },
	{ "JST", 900 }, { "EET", 200 }, { "WET", 0 },
};

static int
month_of(const char *w, size_t n)
{
	if (n != 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(w, months[i], 3) == 0)
			return i + 1;
	return -1;
}

static bool
all_digits(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	return n > 0;
}

/* "hh:mm[:ss]" as sscanf("%d:%d:%d") reads it, without sscanf's cost on
 * every word of every Received header: the fields read. */
static int
clock_fields(const char *w, int *h, int *mi, int *se)
{
	int *field[3] = { h, mi, se };
	const char *p = w;
	int n = 0;
	while (n < 3) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		*field[n++] = (int)v;
		if (*end != ':')
			break;
		p = end + 1;
	}
	return n;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long
days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

/* SpamAssassin's parse_rfc822_date: lenient about order and ranges, the
 * numeric zone taken as written (even -1600), years clamped to 1970-2037.
 * false when no day, month and year are found. */
bool
rules_parse_date(const char *s, size_t len, time_t *out)
{
	char w[32][32];
	size_t n = 0;
	for (size_t i = 0; i < len && n < 32;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == '\n' ||
		    s[i] == '\r'))
			i++;
		size_t st = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != ',' && s[i] != '\n' &&
		    s[i] != '\r')
			i++;
		if (i > st) {
			size_t l = i - st < 31 ? i - st : 31;
			memcpy(w[n], s + st, l);
			w[n][l] = '\0';
			n++;
		}
	}
	long yyyy = -1, dd = 0, mon = -1, hh = 0, mm = 0, ss = 0, tz = 0;
	size_t used = SIZE_MAX;
	for (size_t i = 0; i + 2 < n && yyyy < 0; i++) {
		int m = month_of(w[i + 1], strlen(w[i + 1]));
		size_t yl = strlen(w[i + 2]);
		if (m > 0 && all_digits(w[i], strlen(w[i])) && all_digits(w[i + 2], yl) && yl >= 2 &&
		    yl <= 4) {
			dd = atol(w[i]);
			mon = m;
			yyyy = atol(w[i + 2]);
			if (yl == 2 && yyyy < 50)
				yyyy += 2000;
			else if (yl != 4)
				yyyy += 1900;
			used = i;
		}
	}
	if (yyyy < 0)
		return false;
	bool have_tz = false;
	for (size_t i = 0; i < n; i++) {
		if (i >= used && i <= used + 2)
			continue;
		int h, mi, se = 0;
		if (clock_fields(w[i], &h, &mi, &se) >= 2 && strchr(w[i], ':') != NULL &&
		    hh == 0 && mm == 0) {
			hh = h;
			mm = mi;
			ss = se;
		} else if (!have_tz && (w[i][0] == '+' || w[i][0] == '-') && strlen(w[i]) == 5 &&
		    all_digits(w[i] + 1, 4)) {
			long v = atol(w[i] + 1);
			tz = (w[i][0] == '-' ? -1 : 1) * ((v / 100) * 3600 + (v % 100) * 60);
			have_tz = true;
		} else if (!have_tz) {
			for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
				if (strcmp(w[i], zones[z].name) == 0) {
					tz = (zones[z].off / 100) * 3600 + (zones[z].off % 100) * 60;
					have_tz = true;
				}
			}
		}
	}
	if (ss > 59)
		ss = 59;
	if (mm > 59)
		mm = 59;
	if (hh > 23)
		hh = 23;
	long max_dd = 31;
	if (mon == 4 || mon == 6 || mon == 9 || mon == 11)
		max_dd = 30;
	else if (mon == 2)
		max_dd = (!(yyyy % 4) && ((yyyy % 100) || !(yyyy % 400))) ? 29 : 28;
	if (dd > max_dd) {
		dd = 1;
		if (++mon > 12) {
			mon = 1;
			yyyy++;
		}
	}
	if (yyyy > 2037)
		yyyy = 2037;
	else if (yyyy < 1970)
		yyyy = 1970;
	if (dd < 1)
		dd = 1;
	long t = days_from_civil(yyyy, (unsigned)mon, (unsigned)dd) * 86400 + hh * 3600 + mm * 60 + ss;
	*out = (time_t)(t - tz);
	return true;
}

static bool
date_header_time(const struct mime_message *m, time_t *t)
{
	static const char *const names[] = { "Resent-Date", "Date" };
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < m->headers.n; i++)
			if (span_caseeq_cstr(m->headers.v[i].name, names[k]) &&
			    m->headers.v[i].value_len > 0 &&
			    rules_parse_date(m->headers.v[i].value, m->headers.v[i].value_len, t))
				return true;
	return false;
}

/* Seconds between the Date header and the closest Received time. */
static double
date_diff(const struct rules_db *db, struct rules_scratch_eval *se, const struct msg *msg)
{
	const struct mime_message *m = msg->mime;
	time_t date;
	if (!date_header_time(m, &date))
		return 0;
	const struct mime_header *rh[64];
	size_t nrh = 0;
	for (size_t i = 0; i < m->headers.n && nrh < 64; i++)
		if (span_caseeq_cstr(m->headers.v[i].name, "Received") && m->headers.v[i].value_len)
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
	for (size_t i = first; i < nrh && nd < 64; i++) {
		if (pcre2_match(db->eval_rcvd_date_re, (PCRE2_SPTR)rh[i]->value, rh[i]->value_len, 0,
		    0, se->md, NULL) < 0)
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(se->md);
		time_t t;
		if (rules_parse_date(rh[i]->value + ov[0], ov[1] - ov[0], &t))
			diffs[nd++] = difftime(date, t);
	}
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
eval_shifted_date(const struct rules_db *db, struct rules_scratch_eval *se,
    const struct rule *r, const struct msg *msg)
{
	if (!se->have_date_diff) {
		se->date_diff = date_diff(db, se, msg);
		se->have_date_diff = true;
	}
	double d = se->date_diff;
	bool lo = isnan(r->eval_a) || d >= 3600 * r->eval_a;
	bool hi = isnan(r->eval_b) || d < 3600 * r->eval_b;
	return lo && hi;
}

/* MIMEEval's per-part counts (Mail::SpamAssassin::Plugin::MIMEEval). */
enum mime_attr {
	MA_HTML_ONLY, MA_HTML, MA_BASE64_COUNT, MA_QP_COUNT, MA_ATTACHMENT,
	MA_BASE64_TEXT, MA_BAD_ISO_CHARSET,
};

static bool
ascii_charset(const char *cs)
{
	static const char *const names[] = { "us-ascii", "ansi_x3.4-1968", "iso-ir-6",
		"ansi_x3.4-1986", "iso_646.irv:1991", "ascii", "iso646-us", "us", "ibm367", "cp367",
		"csascii" };
	if (cs == NULL || *cs == '\0')
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(cs, names[i]) != NULL)
			return true;
	return false;
}

static bool
bad_iso_charset(const char *cs)
{
	if (cs == NULL || strncmp(cs, "iso-", 4) != 0 || strchr(cs + 4, '-') == NULL)
		return false;
	return strncmp(cs, "iso-8859-", 9) != 0 && strncmp(cs, "iso-2022-jp", 11) != 0 &&
	    strncmp(cs, "iso-2022-kr", 11) != 0;
}

static unsigned
mime_attr(const struct msg *msg, int which)
{
	const struct mime_message *m = msg->mime;
	unsigned html = 0, text = 0, b64 = 0, qp = 0, att = 0, b64text = 0, badiso = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		bool is_text = p->type != NULL && strcmp(p->type, "text") == 0;
		if (is_text && p->subtype != NULL && strcmp(p->subtype, "html") == 0)
			html++;
		else if (is_text)
			text++;
		if (p->cte == MIME_CTE_BASE64)
			b64++;
		else if (p->cte == MIME_CTE_QP)
			qp++;
		bool attd = p->disposition != NULL && strcmp(p->disposition, "attachment") == 0;
		att += attd;
		if (is_text && p->cte == MIME_CTE_BASE64 && ascii_charset(p->charset) &&
		    p->disposition == NULL)
			b64text = 1;
		badiso |= bad_iso_charset(p->charset);
	}
	const struct mime_header *ct = mime_header_get(&m->headers, "Content-Type");
	bool top_html = ct != NULL && strncasecmp(ct->value, "text/html", 9) == 0;
	switch (which) {
	case MA_HTML_ONLY: return top_html || (html > 0 && text == 0);
	case MA_HTML: return top_html || html > 0;
	case MA_BASE64_COUNT: return b64;
	case MA_QP_COUNT: return qp;
	case MA_ATTACHMENT: return att;
	case MA_BASE64_TEXT: return b64text;
	case MA_BAD_ISO_CHARSET: return badiso;
	}
	return 0;
}

static unsigned
eval_mime(const struct rules_db *db, struct rules_scratch_eval *se, const struct rule *r,
    const struct msg *msg)
{
	return mime_attr(msg, (int)r->eval_a);
}

/* Argument of check_for_mime('name'), or of the two fixed functions. */
static int
parse_mime_arg(const char *call, double *a)
{
	static const struct { const char *arg; int attr; } args[] = {
		{ "mime_base64_count", MA_BASE64_COUNT }, { "mime_qp_count", MA_QP_COUNT },
		{ "mime_attachment", MA_ATTACHMENT }, { "mime_base64_encoded_text", MA_BASE64_TEXT },
		{ "mime_bad_iso_charset", MA_BAD_ISO_CHARSET },
	};
	if (strncmp(call, "check_for_mime_html_only(", 25) == 0) {
		*a = MA_HTML_ONLY;
		return 0;
	}
	if (strncmp(call, "check_for_mime_html(", 20) == 0) {
		*a = MA_HTML;
		return 0;
	}
	const char *q = strchr(call, '\'');
	if (q == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		size_t n = strlen(args[i].arg);
		if (strncmp(q + 1, args[i].arg, n) == 0 && q[1 + n] == '\'') {
			*a = args[i].attr;
			return 0;
		}
	}
	return -1;
}

static const struct {
	const char *name;
	unsigned (*run)(const struct rules_db *, struct rules_scratch_eval *,
	    const struct rule *, const struct msg *);
} evals[] = {
	{ "check_for_shifted_date", eval_shifted_date },
	{ "check_for_mime", eval_mime },
	{ "check_for_mime_html", eval_mime },
	{ "check_for_mime_html_only", eval_mime },
};

bool
rules_eval_prepare(struct rules_db *db, struct rule *r)
{
	size_t n = strcspn(r->eval, "( \t");
	for (size_t i = 0; i < sizeof(evals) / sizeof(evals[0]); i++) {
		if (strlen(evals[i].name) != n || strncmp(evals[i].name, r->eval, n) != 0)
			continue;
		int rc = evals[i].run == eval_mime ? parse_mime_arg(r->eval, &r->eval_a) :
		    parse_two_args(r->eval, &r->eval_a, &r->eval_b);
		if (rc != 0)
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
	db->eval_rcvd_date_re = re_pcre_compile("\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+",
	    0, why, sizeof(why));
	return db->eval_local_re && db->eval_fetchmail_re && db->eval_rcvd_date_re ? 0 : -1;
}

unsigned
rules_eval_run(const struct rules_db *db, struct rules_scratch_eval *se,
    const struct rule *r, const struct msg *msg)
{
	return evals[r->eval_id].run(db, se, r, msg);
}
