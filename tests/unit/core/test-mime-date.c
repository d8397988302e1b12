/* Date header forms, RFC 5322 and broken. 1136239445 = 2006-01-02 22:04:05 UTC. */
#include "mime-test.h"

static const struct {
	const char *in;
	bool ok;
	time_t t;
} cases[] = {
	{ "Mon, 2 Jan 2006 15:04:05 -0700", true, 1136239445 },
	{ "Mon, 02 Jan 2006 22:04:05 +0000", true, 1136239445 },
	{ "2 Jan 2006 22:04:05 GMT", true, 1136239445 },           /* no weekday */
	{ "Mon, 2 Jan 06 22:04:05 UT", true, 1136239445 },         /* 2-digit year */
	{ "Mon, 2 Jan 106 22:04:05 +0000", true, 1136239445 },     /* 3-digit year (obs) */
	{ "Mon, 2 Jan 0106 22:04:05 +0000", true, 1136239445 },    /* Y2K bug year */
	{ "Mon, 2 Jan 2006 17:04:05 EST", true, 1136239445 },      /* named zone */
	{ "Mon, 2 Jan 2006 14:04:05 PST", true, 1136239445 },
	{ "Mon, 2 Jan 2006 22:04:05", true, 1136239445 },          /* no zone: UTC */
	{ "Mon, 2 Jan 2006 22:04 +0000", true, 1136239445 - 5 },   /* no seconds */
	{ "Monday, 2 January 2006 22:04:05 +0000", true, 1136239445 },
	{ "Mon, 2 Jan 2006 22:04:05 +0000 (UTC)", true, 1136239445 },
	{ "Mon Jan  2 22:04:05 2006", true, 1136239445 },          /* asctime */
	{ "02-Jan-2006 22:04:05 +0000", true, 1136239445 },
	{ "2006-01-02T22:04:05Z", true, 1136239445 },
	{ "2006-01-02 23:04:05 +01:00", true, 1136239445 },
	{ "2006/01/02 Mon 22:04:05 GMT", true, 1136239445 },
	{ "Mon, 2 Jan 2006 22.04.05 +0000", true, 1136239445 },
	{ "Mon,2 Jan 2006 22:04:05+0000", true, 1136239445 },
	{ "", false, 0 },
	{ "yesterday", false, 0 },
	{ "Mon, 32 Jan 2006 22:04:05 +0000", false, 0 },
	{ "Mon, 2 Foo 2006 22:04:05 +0000", false, 0 },
	{ "Mon, 2 Jan 2006 25:04:05 +0000", false, 0 },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 0;
		bool ok = mime_date_parse(cases[i].in, strlen(cases[i].in), &t);
		if (ok != cases[i].ok || (ok && t != cases[i].t))
			fail_msg("case %zu '%s': ok %d t %ld want %ld", i, cases[i].in, ok, (long)t,
			    (long)cases[i].t);
	}
}

static void
test_message_date(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Date: Mon, 2 Jan 2006 22:04:05 +0000\n\nx");
	assert_true(m->has_date);
	assert_int_equal(m->date, 1136239445);
	assert_false(mime_message_has_anomaly(m, MIME_A_INVALID_DATE));
	m = parse_str("Date: someday\n\nx");
	assert_true(m->has_date);
	assert_int_equal(m->date, 0);
	assert_true(mime_message_has_anomaly(m, MIME_A_INVALID_DATE));
	m = parse_str("Subject: x\n\nx");
	assert_false(m->has_date);
	assert_true(mime_message_has_anomaly(m, MIME_A_MISSING_DATE));
}

TESTS(T(test_table), T(test_message_date))
