/* RFC 2047 encoded words, table-driven, plus folding through a full parse. */
#include "mime-test.h"

#include <time.h>

static const struct {
	const char *in, *want;
	uint32_t flags; /* expected MIME_HDR_* flags */
} cases[] = {
	{ "plain ascii", "plain ascii", 0 },
	{ "=?utf-8?B?aGVsbG8=?=", "hello", MIME_HDR_ENCODED },
	{ "=?UTF-8?b?aGVsbG8?=", "hello", MIME_HDR_ENCODED }, /* lower b, no padding */
	{ "=?iso-8859-1?Q?caf=E9_au_lait?=", "caf\xc3\xa9 au lait", MIME_HDR_ENCODED },
	{ "=?iso-8859-1?q?caf=e9?=", "caf\xc3\xa9", MIME_HDR_ENCODED },
	/* adjacent words: whitespace between them disappears */
	{ "=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab", MIME_HDR_ENCODED },
	{ "=?utf-8?Q?a?=  \t =?utf-8?Q?b?=", "ab", MIME_HDR_ENCODED },
	/* text between words stays */
	{ "=?utf-8?Q?a?= x =?utf-8?Q?b?=", "a x b", MIME_HDR_ENCODED },
	{ "Re: =?utf-8?Q?hi?= there", "Re: hi there", MIME_HDR_ENCODED },
	/* a UTF-8 character split across two words (E2 82 AC = euro) */
	{ "=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xe2\x82\xac", MIME_HDR_ENCODED },
	/* different charsets in a row */
	{ "=?iso-8859-1?Q?=E9?= =?koi8-r?B?wQ==?=", "\xc3\xa9\xd0\xb0", MIME_HDR_ENCODED },
	/* language suffix (RFC 2231 section 5) */
	{ "=?utf-8*en?Q?hi?=", "hi", MIME_HDR_ENCODED },
	/* unknown charset: kept raw */
	{ "=?x-klingon?Q?abc?=", "=?x-klingon?Q?abc?=", MIME_HDR_ENCODED | MIME_HDR_BAD_ENCODING },
	/* broken base64 payload: kept raw */
	{ "=?utf-8?B?!!!!?=", "=?utf-8?B?!!!!?=", MIME_HDR_ENCODED | MIME_HDR_BAD_ENCODING },
	/* not encoded words at all */
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=", 0 },
	{ "a =? b", "a =? b", 0 },
	{ "=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated", 0 },
	/* glued to text and inside quotes: decoded like clients do */
	{ "x=?utf-8?Q?y?=z", "xyz", MIME_HDR_ENCODED },
	{ "\"=?utf-8?Q?N=C3=A4me?=\" <a@b>", "\"N\xc3\xa4me\" <a@b>", MIME_HDR_ENCODED },
	/* raw 8-bit: UTF-8 kept, anything else read as windows-1252 */
	{ "caf\xc3\xa9", "caf\xc3\xa9", MIME_HDR_8BIT },
	{ "caf\xe9", "caf\xc3\xa9", MIME_HDR_8BIT },
	/* stateful charset */
	{ "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", MIME_HDR_ENCODED },
	/* invalid bytes inside a UTF-8 word become U+FFFD */
	{ "=?utf-8?Q?a=FFb?=", "a\xef\xbf\xbd" "b", MIME_HDR_ENCODED | MIME_HDR_BAD_ENCODING },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t fl = 0;
		size_t len;
		char *in = arena_strdup(ta, cases[i].in);
		const char *out = mime_rfc2047_decode(ta, in, strlen(in), &len, &fl);
		assert_non_null(out);
		if (strcmp(out, cases[i].want) != 0 || len != strlen(cases[i].want))
			fail_msg("case %zu: got '%s' want '%s'", i, out, cases[i].want);
		if (fl != cases[i].flags)
			fail_msg("case %zu: flags %#x want %#x", i, fl, cases[i].flags);
	}
}

/* Encoded words split over a folded header line, with CRLF and LF. */
static void
test_folded(void **state)
{
	(void)state;
	const char *msgs[] = {
		"Subject: =?utf-8?B?SGVsbG8g?=\r\n =?utf-8?B?V29ybGQ=?=\r\n\r\nbody",
		"Subject: =?utf-8?Q?Hello_?=\n\t=?utf-8?Q?World?=\n\nbody",
		"Subject: =?utf-8?Q?Hello_?=\r =?utf-8?Q?World?=\r\rbody",
	};
	for (size_t i = 0; i < 3; i++) {
		struct mime_message *m = parse_str(msgs[i]);
		assert_non_null(m);
		assert_str(m->subject, "Hello World");
		assert_span(m->parts[0].text, "body");
		assert_true(m->headers.v[0].flags & MIME_HDR_ENCODED);
	}
}

static void
test_bad_encoding_anomaly(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Subject: =?bogus-cs?B?aGk=?=\n\nx");
	assert_true(mime_message_has_anomaly(m, MIME_A_BAD_HEADER_ENCODING));
	assert_str(m->subject, "=?bogus-cs?B?aGk=?=");
}

/* Many word openings and no terminator: must stay linear. */
static void
test_hostile_linear(void **state)
{
	(void)state;
	size_t n = 32 * 1024, len;
	char *s = arena_alloc(ta, n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = "=?a?q?x"[i % 7];
	s[n] = 0;
	uint32_t fl = 0;
	clock_t t0 = clock();
	const char *out = mime_rfc2047_decode(ta, s, n, &len, &fl);
	double ms = (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC;
	assert_non_null(out);
	assert_int_equal(len, n);
	assert_true(ms < 50);
}

TESTS(T(test_table), T(test_hostile_linear), T(test_folded), T(test_bad_encoding_anomaly))
