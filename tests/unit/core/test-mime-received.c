/* Received headers from the common MTAs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "mime-test.h"

static const struct {
	const char *in;
	const char *from, *helo, *rdns, *ip, *by, *with;
	time_t ts;
} cases[] = {
	/* Postfix */
	{ "from helo.example.net (mail.example.net [192.0.2.10])\n\tby mx.example.org (Postfix) with ESMTPS id 4B2;\n\tMon, 2 Jan 2006 15:04:05 -0700 (MST)",
	    "helo.example.net", "helo.example.net", "mail.example.net", "192.0.2.10", "mx.example.org",
	    "ESMTPS", 1136239445 },
	/* Postfix, unknown reverse */
	{ "from [10.0.0.1] (unknown [198.51.100.7]) by mx.example.org (Postfix) with ESMTP id X; Mon, 2 Jan 2006 22:04:05 +0000",
	    "[10.0.0.1]", NULL, NULL, "198.51.100.7", "mx.example.org", "ESMTP", 1136239445 },
	/* Sendmail with "may be forged" */
	{ "from pc (host.example.com [203.0.113.5] (may be forged)) by relay.example.org (8.12.8/8.12.8) with SMTP id h1; Mon, 2 Jan 2006 22:04:05 GMT",
	    "pc", "pc", "host.example.com", "203.0.113.5", "relay.example.org", "SMTP", 1136239445 },
	/* Exim */
	{ "from mail.example.com ([192.0.2.99]:41234 helo=smtp.example.com) by mx.example.org with esmtps (TLS1.2) (Exim 4.92) (envelope-from <a@b>) id 1; Mon, 02 Jan 2006 22:04:05 +0000",
	    "mail.example.com", "smtp.example.com", "mail.example.com", "192.0.2.99", "mx.example.org",
	    "esmtps", 1136239445 },
	{ "from [192.0.2.1] (helo=foo) by mx with esmtp; Mon, 2 Jan 2006 22:04:05 +0000",
	    "[192.0.2.1]", "foo", NULL, "192.0.2.1", "mx", "esmtp", 1136239445 },
	/* qmail */
	{ "from unknown (HELO mail.example.com) (192.0.2.3) by mx.example.org with SMTP; 2 Jan 2006 22:04:05 -0000",
	    "unknown", "mail.example.com", NULL, "192.0.2.3", "mx.example.org", "SMTP", 1136239445 },
	/* qmail with ident */
	{ "from unknown (HELO w2k) (joe@192.0.2.42) by smtp.example.com with SMTP; 2 Jan 2006 22:04:05 -0000",
	    "unknown", "w2k", NULL, "192.0.2.42", "smtp.example.com", "SMTP", 1136239445 },
	/* IPv6 */
	{ "from h.example (h.example [IPv6:2001:db8::1]) by mx.example with ESMTP; Mon, 2 Jan 2006 22:04:05 +0000",
	    "h.example", "h.example", "h.example", "2001:db8::1", "mx.example", "ESMTP", 1136239445 },
	/* Exchange */
	{ "from EX1.corp.example (2001:db8::2) by EX2.corp.example (2001:db8::3) with Microsoft SMTP Server (TLS) id 15.1.2; Mon, 2 Jan 2006 22:04:05 +0000",
	    "ex1.corp.example", "ex1.corp.example", NULL, "2001:db8::2", "ex2.corp.example", "Microsoft",
	    1136239445 },
	/* local delivery, no from */
	{ "by mx.example.org (Postfix, from userid 1000) id 123; Mon, 2 Jan 2006 22:04:05 +0000",
	    NULL, NULL, NULL, NULL, "mx.example.org", NULL, 1136239445 },
	/* no date */
	{ "from a (b.example [192.0.2.1]) by c", "a", "a", "b.example", "192.0.2.1", "c", NULL, 0 },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_received r;
		size_t len;
		char *v = mime_hdr_unfold(ta, span_make(cases[i].in, strlen(cases[i].in)), &len);
		mime_received_parse(ta, v, len, &r);
#define CHK(f, g)                                                                        \
	if ((cases[i].g == NULL) != (r.f == NULL) || (r.f && strcmp(r.f, cases[i].g) != 0)) \
		fail_msg("case %zu %s: got '%s' want '%s'", i, #f, r.f ? r.f : "(null)",        \
		    cases[i].g ? cases[i].g : "(null)");
		CHK(from_name, from) CHK(helo, helo) CHK(rdns, rdns) CHK(ip, ip) CHK(by, by) CHK(with, with)
#undef CHK
		if (r.ts != cases[i].ts)
			fail_msg("case %zu: ts %ld want %ld", i, (long)r.ts, (long)cases[i].ts);
	}
}

static void
test_order(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Received: from a by newest; Mon, 2 Jan 2006 22:04:05 +0000\n"
	                                   "Received: from b by oldest; Mon, 2 Jan 2006 22:00:00 +0000\n\nx");
	assert_int_equal(m->nreceived, 2);
	assert_str(m->received[0].by, "newest");
	assert_str(m->received[1].by, "oldest");
}

TESTS(T(test_table), T(test_order))
