/* test-eval.c - the date parser behind check_for_shifted_date, which must
 * read dates as SpamAssassin does (absurd zones kept, years clamped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../../rules/rules-private.h"

struct date_case {
	const char *text;
	long long want; /* -1: unparsable */
};

static void
test_dates(void **state)
{
	static const struct date_case cases[] = {
		{ "Fri, 27 Sep 2002 10:00:00 +0000", 1033120800 },
		{ "Fri, 27 Sep 2002 10:00:00 +0100", 1033117200 },
		{ "27 Sep 2002 10:00:00 GMT", 1033120800 },
		{ "Fri, 27 Sep 2002 10:00:00 EDT", 1033135200 },
		{ "Fri, 30 Aug 2002 18:54:15 -1600", 1030791255 },   /* zone kept as written */
		{ "Tue, 27 Aug 0102 23:35:10 +0700", 20622910 },     /* year clamped to 1970 */
		{ "Mon, 1 Jan 02 00:00:00 +0000", 1009843200 },      /* 2-digit year < 50 */
		{ "Mon, 31 Feb 2002 00:00:00 +0000", 1014940800 },   /* day past month end: next month */
		{ "Mon,  2 Sep 2002 07:18:19 -0400 (EDT)", 1030965499 },
		{ "no date here", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 0;
		bool ok = rules_parse_date(cases[i].text, strlen(cases[i].text), &t);
		long long got = ok ? (long long)t : -1;
		if (got != cases[i].want)
			fail_msg("'%s': %lld, want %lld", cases[i].text, got, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
