/* Content-Type / Content-Disposition values and RFC 2231 parameters. */
#include "mime-test.h"

static const struct {
	const char *in, *token, *pname, *pval;
	bool broken;
} cases[] = {
	{ "text/plain; charset=utf-8", "text/plain", "charset", "utf-8", false },
	{ "text/plain; charset=\"utf-8\"", "text/plain", "charset", "utf-8", false },
	{ "text/plain;charset=UTF-8 ", "text/plain", "charset", "UTF-8", false },
	{ "Text/Plain; CHARSET=x", "Text/Plain", "charset", "x", false },
	/* missing ';' before the parameter */
	{ "text/plain charset=koi8-r", "text/plain", "charset", "koi8-r", true },
	/* quoted with escapes and ';' inside */
	{ "attachment; filename=\"a\\\"b;c.txt\"", "attachment", "filename", "a\"b;c.txt", false },
	/* unterminated quote */
	{ "attachment; filename=\"abc", "attachment", "filename", "abc", true },
	/* RFC 2231 charset'lang'value */
	{ "attachment; filename*=utf-8'en'%C3%A9t%C3%A9.pdf", "attachment", "filename",
	    "\xc3\xa9t\xc3\xa9.pdf", false },
	{ "attachment; filename*=iso-8859-1''caf%E9", "attachment", "filename", "caf\xc3\xa9", false },
	/* continuations, out of order, mixed encoded and plain sections */
	{ "attachment; filename*1=\"-two\"; filename*0=\"one\"; filename*2=-three", "attachment",
	    "filename", "one-two-three", false },
	{ "attachment; filename*0*=utf-8''%C3%A9; filename*1*=%C3%A9; filename*2=.txt", "attachment",
	    "filename", "\xc3\xa9\xc3\xa9.txt", false },
	/* 2231 value replaces the plain fallback, whatever the order */
	{ "attachment; filename=\"fallback.txt\"; filename*=utf-8''real.txt", "attachment", "filename",
	    "real.txt", false },
	{ "attachment; filename*=utf-8''real.txt; filename=\"fallback.txt\"", "attachment", "filename",
	    "real.txt", false },
	/* RFC 2047 inside a quoted name (forbidden, common) */
	{ "application/pdf; name=\"=?utf-8?B?0KHRh9C10YIucGRm?=\"", "application/pdf", "name",
	    "\xd0\xa1\xd1\x87\xd0\xb5\xd1\x82.pdf", false },
	/* boundary with regex characters survives untouched */
	{ "multipart/mixed; boundary=\"(.*)+?[a-z]^$|\\\\\"", "multipart/mixed", "boundary",
	    "(.*)+?[a-z]^$|\\", false },
	{ "multipart/mixed; boundary==_x_=", "multipart/mixed", "boundary", "=_x_=", false },
	{ "text/html (a comment); charset=x", "text/html", "charset", "x", false },
	{ "text/plain junk; charset=x", "text/plain", "charset", "x", true },
	/* parameter without '=' is skipped */
	{ "text/plain; junk; charset=x", "text/plain", "charset", "x", true },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_ctval cv;
		mime_ctval_parse(ta, cases[i].in, strlen(cases[i].in), &cv);
		if (!span_is(cv.token, cases[i].token))
			fail_msg("case %zu: token '%.*s'", i, (int)cv.token.len, cv.token.p);
		const char *v = mime_param_get(cv.params, cv.nparams, cases[i].pname);
		if (v == NULL || strcmp(v, cases[i].pval) != 0)
			fail_msg("case %zu: %s='%s' want '%s'", i, cases[i].pname, v ? v : "(null)",
			    cases[i].pval);
		if (cv.broken != cases[i].broken)
			fail_msg("case %zu: broken=%d", i, cv.broken);
	}
}

static void
test_filename_in_part(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: application/octet-stream; name=\"ct-name.bin\"\n"
	    "Content-Disposition: attachment;\n filename*0*=utf-8''%D0%BE%D1%82;\n filename*1=\"chet.txt\"\n\nabc");
	assert_str(m->parts[0].filename, "\xd0\xbe\xd1\x82" "chet.txt");
	assert_str(m->parts[0].disposition, "attachment");
	assert_true(m->parts[0].flags & MIME_PART_ATTACHMENT);
	/* Content-Type name when the disposition has none */
	m = parse_str("Content-Type: image/png; name=\"=?utf-8?Q?p=C3=A9.png?=\"\n\nx");
	assert_str(m->parts[0].filename, "p\xc3\xa9.png");
}

TESTS(T(test_table), T(test_filename_in_part))
