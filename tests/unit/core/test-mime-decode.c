/* Transfer decoders and charset conversion. */
#include "mime-test.h"

static const struct {
	const char *in, *want;
	bool bad;
} b64[] = {
	{ "aGVsbG8gd29ybGQ=", "hello world", false },
	{ "aGVs\r\nbG8g\n d29y bGQ=\r\n", "hello world", false },  /* whitespace anywhere */
	{ "aGVsbG8gd29ybGQ", "hello world", false },                /* padding missing */
	{ "aGVs*bG8g!d29ybGQ=", "hello world", true },              /* garbage skipped, flagged */
	{ "aGk=aGk=", "hihi", false },                              /* concatenated blocks */
	{ "aGVsbG8gd29ybGQ=\n-- \nsignature", "hello world", false }, /* footer after the data */
	{ "aGk=\n\naGk=\n", "hihi", false },                       /* blocks on later lines */
	{ "a", "", true },                                          /* lone sextet */
	{ "", "", false },
};

static void
test_base64(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		bool bad = false;
		struct span o = mime_decode_base64(ta, span_from_cstr(b64[i].in), &bad);
		if (o.len < strlen(b64[i].want) || memcmp(o.p, b64[i].want, strlen(b64[i].want)) != 0)
			fail_msg("b64 case %zu: '%.*s'", i, (int)o.len, o.p);
		if (o.len != strlen(b64[i].want))
			fail_msg("b64 case %zu: length %zu", i, o.len);
		if (bad != b64[i].bad)
			fail_msg("b64 case %zu: bad %d", i, bad);
	}
}

static const struct {
	const char *in, *want;
	bool bad;
} qp[] = {
	{ "caf=E9", "caf\xe9", false },
	{ "caf=e9", "caf\xe9", false },                        /* lower-case hex */
	{ "soft=\r\nbreak\r\n", "softbreak\r\n", false },
	{ "soft=\nbreak", "softbreak", false },
	{ "soft= \t\nbreak", "softbreak", false },             /* whitespace after '=' */
	{ "end soft break=", "end soft break", false },        /* '=' at buffer end */
	{ "trailing   \nx", "trailing\nx", false },            /* transport padding */
	{ "bad=ZZescape", "bad=ZZescape", true },
	{ "bad=4", "bad=4", true },
	{ "a=3D=3d", "a==", false },
	{ "line1\rline2", "line1\rline2", false },             /* bare CR line end */
};

static void
test_qp(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(qp) / sizeof(qp[0]); i++) {
		bool bad = false;
		struct span o = mime_decode_qp(ta, span_from_cstr(qp[i].in), &bad);
		if (!span_is(o, qp[i].want))
			fail_msg("qp case %zu: '%.*s'", i, (int)o.len, o.p);
		if (bad != qp[i].bad)
			fail_msg("qp case %zu: bad %d", i, bad);
	}
}

static void
test_uu(void **state)
{
	(void)state;
	const char *name;
	bool bad = false;
	/* "hello" uuencoded */
	struct span o = mime_decode_uu(ta, SPAN_LIT("begin 644 hi.txt\n%:&5L;&\\`\n`\nend\n"), &name, &bad);
	assert_span(o, "hello");
	assert_str(name, "hi.txt");
	assert_false(bad);
	bad = false;
	o = mime_decode_uu(ta, SPAN_LIT("begin 644 x\nM\n"), &name, &bad);
	assert_true(bad); /* short line, no end */
	assert_true(o.len == 0);
	bad = false;
	o = mime_decode_uu(ta, SPAN_LIT("no begin line\n"), &name, &bad);
	assert_true(bad);
	assert_null(name);
}

static void
test_cte(void **state)
{
	(void)state;
	assert_int_equal(mime_cte_parse(" Base64 ", 8), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("\"quoted-printable\"", 18), MIME_CTE_QP);
	assert_int_equal(mime_cte_parse("7BIT", 4), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse("x-uuencode", 10), MIME_CTE_UUENCODE);
	assert_int_equal(mime_cte_parse("base64; foo", 11), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("gzip", 4), MIME_CTE_UNKNOWN);
}

static const struct {
	const char *in, *cs, *want, *used;
	uint32_t flags;
} cs[] = {
	{ "plain", NULL, "plain", "us-ascii", 0 },
	{ "caf\xc3\xa9", "utf-8", "caf\xc3\xa9", "utf-8", 0 },
	{ "caf\xe9", "iso-8859-1", "caf\xc3\xa9", "iso-8859-1", 0 },
	{ "\x93q\x94", "iso-8859-1", "\xe2\x80\x9cq\xe2\x80\x9d", "iso-8859-1", 0 }, /* cp1252 quotes */
	{ "\xc1\xc2", "koi8-r", "\xd0\xb0\xd0\xb1", "koi8-r", 0 },
	/* invalid UTF-8 under a UTF-8 label: replaced and flagged */
	{ "a\xff" "b", "utf-8", "a\xef\xbf\xbd" "b", "utf-8", MIME_PART_CHARSET_INVALID },
	/* undeclared but valid UTF-8 */
	{ "caf\xc3\xa9", NULL, "caf\xc3\xa9", "utf-8", MIME_PART_CHARSET_DETECTED },
	/* us-ascii label on 8-bit UTF-8 text: wrong declaration */
	{ "caf\xc3\xa9", "us-ascii", "caf\xc3\xa9", "utf-8", MIME_PART_CHARSET_DETECTED },
	/* unknown label: detected */
	{ "caf\xc3\xa9", "x-martian", "caf\xc3\xa9", "utf-8", MIME_PART_CHARSET_DETECTED },
	/* truncated multibyte sequence in a declared charset */
	{ "\xa4", "euc-jp", "\xef\xbf\xbd", "euc-jp", MIME_PART_CHARSET_INVALID },
};

static void
test_charset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		struct span out;
		const char *used = NULL;
		uint32_t fl = 0;
		assert_true(charset_to_utf8(ta, span_from_cstr(cs[i].in), cs[i].cs, &out, &used, &fl));
		if (!span_is(out, cs[i].want))
			fail_msg("cs case %zu: '%.*s'", i, (int)out.len, out.p);
		if (strcmp(used, cs[i].used) != 0 || fl != cs[i].flags)
			fail_msg("cs case %zu: used %s flags %#x", i, used, fl);
	}
}

/* Undeclared 8-bit text goes to uchardet. */
static void
test_detect(void **state)
{
	(void)state;
	/* KOI8-R Russian sentence, long enough for the detector */
	const char *koi = "\xf0\xd2\xc9\xd7\xc5\xd4, \xcb\xc1\xcb \xc4\xc5\xcc\xc1? \xf0\xd2\xc9\xd7\xc5\xd4, "
	                  "\xcb\xc1\xcb \xc4\xc5\xcc\xc1? \xfc\xd4\xcf \xd4\xc5\xd3\xd4\xcf\xd7\xcf\xc5 "
	                  "\xd3\xcf\xcf\xc2\xdd\xc5\xce\xc9\xc5 \xce\xc1 \xd2\xd5\xd3\xd3\xcb\xcf\xcd "
	                  "\xd1\xda\xd9\xcb\xc5.";
	struct span out;
	const char *used = NULL;
	uint32_t fl = 0;
	assert_true(charset_to_utf8(ta, span_from_cstr(koi), NULL, &out, &used, &fl));
	assert_true(fl & MIME_PART_CHARSET_DETECTED);
	assert_true(charset_is_utf8(out));
	/* "Привет" */
	assert_true(span_find(out, SPAN_LIT("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82")) >= 0);
}

TESTS(T(test_base64), T(test_qp), T(test_uu), T(test_cte), T(test_charset), T(test_detect))
