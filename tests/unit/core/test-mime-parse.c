/* Part tree: multipart, nesting, line endings, limits, attachments. */
#include "mime-test.h"

#include <stdio.h>
#include <time.h>

static void
test_simple(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("From x@y Mon Jan  2 15:04:05 2006\n"
	                                   "Subject: hi\nMessage-ID: <a@b>\n\nbody\n");
	assert_int_equal(m->nparts, 1);
	assert_str(m->subject, "hi");
	assert_str(m->message_id, "a@b");
	assert_str(m->parts[0].type, "text");
	assert_str(m->parts[0].subtype, "plain");
	assert_span(m->parts[0].text, "body\n");
	assert_true(m->parts[0].flags & MIME_PART_TEXT);
	assert_true(span_has_prefix_ci(m->raw, "Subject:")); /* mbox From line skipped */
	assert_int_equal(m->parts[0].parent, -1);
}

static const char *const endings[] = { "\r\n", "\n", "\r", "\r\r\n" };

/* Same multipart message with CRLF, LF and bare CR line ends. */
static void
test_line_endings(void **state)
{
	(void)state;
	for (size_t e = 0; e < 4; e++) {
		const char *nl = endings[e];
		char buf[1024];
		snprintf(buf, sizeof(buf),
		    "MIME-Version: 1.0%sContent-Type: multipart/mixed; boundary=\"xx\"%s%s"
		    "preamble%s--xx%sContent-Type: text/plain%s%sone%s--xx%s%stwo%s--xx--%sepilogue%s",
		    nl, nl, nl, nl, nl, nl, nl, nl, nl, nl, nl, nl, nl);
		struct mime_message *m = parse_str(buf);
		assert_int_equal(m->nparts, 3);
		assert_int_equal(m->parts[0].nchildren, 2);
		assert_true(m->parts[0].flags & MIME_PART_MULTIPART);
		assert_span(m->parts[1].text, "one");
		assert_span(m->parts[2].text, "two");
		assert_int_equal(m->parts[2].parent, 0);
		assert_int_equal(m->parts[2].depth, 1);
		assert_int_equal(m->nanomalies, 2); /* MISSING_MID, MISSING_DATE only */
	}
}

static void
test_boundary_regex_chars(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/mixed; boundary=\"(.*)+?[a-z]^$|\\\\\"\n\n"
	    "--(.*)+?[a-z]^$|\\\nContent-Type: text/plain\n\nA\n"
	    "--(.*)+?[a-z]^$|\\\n\nB\n--(.*)+?[a-z]^$|\\--\n");
	assert_int_equal(m->nparts, 3);
	assert_span(m->parts[1].text, "A");
	assert_span(m->parts[2].text, "B");
}

/* A line that starts like the delimiter but goes on is body text. */
static void
test_boundary_like_lines(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\n--bb is not it\n --b neither\nx--b nor\n--b  \n\nsecond\n--b--   \n");
	assert_int_equal(m->nparts, 3);
	assert_span(m->parts[1].text, "--bb is not it\n --b neither\nx--b nor");
	assert_span(m->parts[2].text, "second");
	assert_false(mime_message_has_anomaly(m, MIME_A_BOUNDARY_UNCLOSED));
	/* RFC 2046: the rest of a delimiter line is ignored */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n--b ignored\n\none\n--b-- also\nepilogue\n");
	assert_int_equal(m->nparts, 2);
	assert_span(m->parts[1].text, "one");
	/* doubled delimiter lines: an empty part, not a swallowed one */
	m = parse_str("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\nContent-Type: text/html\n\nx\n--b--\n");
	assert_int_equal(m->nparts, 3);
	assert_int_equal(m->parts[1].raw.len, 0);
	assert_str(m->parts[2].subtype, "html");
}

static void
test_missing_closing_boundary(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\nlast part runs to the end\n");
	assert_int_equal(m->nparts, 3);
	assert_span(m->parts[2].text, "last part runs to the end\n");
	assert_true(mime_message_has_anomaly(m, MIME_A_BOUNDARY_UNCLOSED));
}

static void
test_boundary_never_found(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=nothere\n\njust text\n");
	assert_int_equal(m->nparts, 1);
	assert_true(mime_message_has_anomaly(m, MIME_A_BOUNDARY_MISSING));
	assert_span(m->parts[0].text, "just text\n"); /* still scanned as text */
	m = parse_str("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nno parameter\n");
	assert_true(mime_message_has_anomaly(m, MIME_A_BOUNDARY_MISSING));
}

/* The outer boundary ends an inner multipart that never closed. */
static void
test_nested(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/mixed; boundary=outer\n\n"
	    "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
	    "--inner\n\nplain\n--inner\nContent-Type: text/html; charset=iso-8859-1\n\n<b>caf\xe9</b>\n"
	    "--outer\nContent-Type: application/pdf; name=x.pdf\nContent-Transfer-Encoding: base64\n\n"
	    "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29kZT4+\n"
	    "--outer--\n");
	assert_int_equal(m->nparts, 5);
	/* pre-order: root, alternative, plain, html, pdf */
	assert_str(m->parts[1].subtype, "alternative");
	assert_int_equal(m->parts[1].nchildren, 2);
	assert_int_equal(m->parts[2].parent, 1);
	assert_int_equal(m->parts[3].parent, 1);
	assert_int_equal(m->parts[3].depth, 2);
	assert_int_equal(m->parts[4].parent, 0);
	assert_span(m->parts[2].text, "plain");
	/* HTML: utf8 holds the converted source, text is left to extract */
	assert_true(m->parts[3].flags & MIME_PART_HTML);
	assert_span(m->parts[3].utf8, "<b>caf\xc3\xa9</b>");
	assert_str(m->parts[3].charset_used, "iso-8859-1");
	assert_true(mime_message_has_anomaly(m, MIME_A_BOUNDARY_UNCLOSED)); /* inner */
	assert_str(m->parts[4].filename, "x.pdf");
	assert_str(m->parts[4].detected_type, "application/pdf");
	assert_true(m->parts[4].flags & MIME_PART_ATTACHMENT);
	assert_false(m->parts[4].flags & MIME_PART_EXT_MISMATCH);
	assert_true(span_has_prefix_ci(m->parts[4].decoded, "%PDF-1.4"));
}

static void
test_message_rfc822(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nsee attached\n"
	    "--b\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: i@x.org\n\ninner body\n--b--\n");
	assert_int_equal(m->nparts, 4);
	assert_true(m->parts[2].flags & MIME_PART_MESSAGE);
	assert_int_equal(m->parts[3].parent, 2);
	assert_str(m->subject, "outer");
	assert_str(mime_header_get(&m->parts[3].headers, "Subject")->value, "inner");
	assert_span(m->parts[3].text, "inner body");
	assert_int_equal(m->from.n, 0); /* inner From is not the message's */
	/* base64-encoded message/rfc822 (forbidden, seen) */
	m = parse_str("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
	              "U3ViamVjdDogaQoKYm9keQo=\n");
	assert_int_equal(m->nparts, 2);
	assert_span(m->parts[1].text, "body\n");
}

static void
test_digest_default(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody1\n--d--\n");
	assert_int_equal(m->nparts, 3);
	assert_str(m->parts[1].type, "message");
	assert_str(m->parts[1].subtype, "rfc822");
	assert_span(m->parts[2].text, "body1");
}

static char *
nested(unsigned levels, size_t *len_r)
{
	struct buf b;
	buf_init(&b, ta);
	for (unsigned i = 0; i < levels; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%u\"\n\n--b%u\n", i, i);
	buf_printf(&b, "Content-Type: text/plain\n\ndeep\n");
	for (unsigned i = levels; i > 0; i--)
		buf_printf(&b, "--b%u--\n", i - 1);
	*len_r = b.len;
	return (char *)b.data;
}

/* 1,000 levels: with the default limits the depth limit fires; with limits
 * raised, the explicit stack walks all of them. */
static void
test_deep_nesting(void **state)
{
	(void)state;
	size_t len;
	char *s = nested(1000, &len);
	struct mime_message *m = mime_parse(ta, span_make(s, len), NULL);
	assert_non_null(m);
	assert_true(mime_message_has_anomaly(m, MIME_A_LIMIT_DEPTH));
	assert_true(m->limit_hit);
	assert_int_equal(m->nparts, 17); /* depths 0..16 */
	assert_true(m->parts[16].flags & MIME_PART_TRUNCATED);
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_depth = 5000;
	lim.max_parts = 5000;
	m = mime_parse(ta, span_make(s, len), &lim);
	assert_int_equal(m->nparts, 1001);
	assert_int_equal(m->parts[1000].depth, 1000);
	assert_int_equal(m->parts[1000].parent, 999);
	assert_span(m->parts[1000].text, "deep");
	assert_false(m->limit_hit);
}

static void
test_parts_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, ta);
	buf_printf(&b, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 3000; i++)
		buf_printf(&b, "--b\n\n%d\n", i);
	struct mime_message *m = mime_parse(ta, buf_span(&b), NULL);
	assert_int_equal(m->nparts, 1024);
	assert_true(mime_message_has_anomaly(m, MIME_A_LIMIT_PARTS));
	assert_true(m->parts[0].flags & MIME_PART_TRUNCATED);
	assert_span(m->parts[1].text, "0");
}

/* A 1 MiB header is truncated to max_header_size and flagged, quickly. */
static void
test_huge_header(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *s = arena_alloc(ta, n + 64);
	memcpy(s, "Subject: ", 9);
	for (size_t i = 9; i < n; i++)
		s[i] = (i % 70 == 0) ? '\n' : (i % 70 == 1 ? ' ' : 'x');
	memcpy(s + n, "\nX-After: yes\n\nbody", 19);
	clock_t t0 = clock();
	struct mime_message *m = mime_parse(ta, span_make(s, n + 19), NULL);
	double ms = (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC;
	assert_true(ms < 100);
	assert_true(m->headers.v[0].flags & MIME_HDR_TRUNCATED);
	assert_true(m->headers.v[0].value_len <= 32 * 1024);
	assert_true(mime_message_has_anomaly(m, MIME_A_LIMIT_HEADER_SIZE));
	assert_str(mime_header_get(&m->headers, "X-After")->value, "yes");
	assert_span(m->parts[0].text, "body");
}

static void
test_header_lines_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, ta);
	for (int i = 0; i < 2000; i++)
		buf_printf(&b, "X-H%d: v\n", i);
	buf_printf(&b, "\nbody");
	struct mime_message *m = mime_parse(ta, buf_span(&b), NULL);
	assert_int_equal(m->headers.n, 1024);
	assert_true(mime_message_has_anomaly(m, MIME_A_LIMIT_HEADERS));
	assert_span(m->parts[0].text, "body");
}

static void
test_broken_headers(void **state)
{
	(void)state;
	/* a line that is no header ends the block */
	struct mime_message *m = parse_str("Subject: a\nthis is not a header\nMore: text\n");
	assert_int_equal(m->headers.n, 1);
	assert_true(mime_message_has_anomaly(m, MIME_A_BROKEN_HEADERS));
	assert_span(m->parts[0].text, "this is not a header\nMore: text\n");
	/* obsolete space before the colon is fine */
	m = parse_str("Subject : spaced\n\nx");
	assert_str(m->subject, "spaced");
	assert_false(mime_message_has_anomaly(m, MIME_A_BROKEN_HEADERS));
	/* NUL becomes a space; a bare CR ends the line like LF does */
	m = mime_parse(ta, SPAN_LIT("Subject: a\0b\r\tc\n\nx"), NULL);
	assert_str(m->subject, "a b\tc");
	/* no blank line at all */
	m = parse_str("Subject: only headers");
	assert_str(m->subject, "only headers");
	assert_int_equal(m->parts[0].raw_body.len, 0);
}

static void
test_anomalies(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Content-Type: multipart/mixed; boundary=b\nMessage-ID: nobrackets\n\n"
	                                   "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\n"
	                                   "caf\xc3\xa9\n--b\nContent-Type: /\n\nx\n--b--\n");
	assert_true(mime_message_has_anomaly(m, MIME_A_MISSING_MIME_VERSION));
	assert_true(mime_message_has_anomaly(m, MIME_A_HEADER_CTYPE_ONLY));
	assert_true(mime_message_has_anomaly(m, MIME_A_INVALID_MSGID));
	assert_true(mime_message_has_anomaly(m, MIME_A_BAD_CTE_7BIT));
	assert_true(mime_message_has_anomaly(m, MIME_A_MISSING_CHARSET));
	assert_true(mime_message_has_anomaly(m, MIME_A_BROKEN_CONTENT_TYPE));
	assert_str(m->parts[2].type, "text"); /* broken type falls back */
	m = parse_str("MIME-Version: 1.0\nMessage-ID: <a@b.c>\nDate: Mon, 2 Jan 2006 22:04:05 +0000\n\nx");
	assert_int_equal(m->nanomalies, 0);
}

static void
test_attachment_types(void **state)
{
	(void)state;
	/* PNG bytes named .pdf: mismatch; an .exe name: bad extension */
	struct mime_message *m = parse_str(
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"doc.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n"
	    "--b\nContent-Type: application/octet-stream; name=\"invoice.pdf.exe\"\n\nMZ\n--b--\n");
	assert_str(m->parts[1].detected_type, "image/png");
	assert_true(m->parts[1].flags & MIME_PART_EXT_MISMATCH);
	assert_true(mime_message_has_anomaly(m, MIME_A_BAD_ATTACHMENT));
	assert_true(mime_message_has_anomaly(m, MIME_A_DOUBLE_BAD_EXTENSION));
	assert_int_equal(m->parts[1].decoded.len, 45);
}

static void
test_html_meta_charset(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "Content-Type: text/html\n\n<html><head><meta http-equiv=\"Content-Type\" "
	    "content=\"text/html; charset=koi8-r\"></head><body>\xf0\xd2\xc9\xd7\xc5\xd4</body></html>");
	assert_str(m->parts[0].charset_used, "koi8-r");
	assert_true(span_find(m->parts[0].utf8, SPAN_LIT("\xd0\x9f\xd1\x80\xd0\xb8")) > 0);
	assert_false(m->parts[0].flags & MIME_PART_CHARSET_DETECTED);
	assert_false(mime_message_has_anomaly(m, MIME_A_MISSING_CHARSET));
}

static void
test_uuencoded_part(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Content-Type: application/octet-stream\n"
	                                   "Content-Transfer-Encoding: x-uuencode\n\n"
	                                   "begin 644 hi.txt\n%:&5L;&\\`\n`\nend\n");
	assert_span(m->parts[0].decoded, "hello");
	assert_str(m->parts[0].filename, "hi.txt");
	assert_true(m->parts[0].flags & MIME_PART_ATTACHMENT);
}

static void
test_qp_text_part(void **state)
{
	(void)state;
	struct mime_message *m = parse_str("Content-Type: text/plain; charset=utf-8\n"
	                                   "Content-Transfer-Encoding: quoted-printable\n\n"
	                                   "caf=C3=A9 soft=\nbreak=");
	assert_span(m->parts[0].text, "caf\xc3\xa9 softbreak");
	assert_str(m->parts[0].charset, "utf-8");
	assert_int_equal(m->parts[0].cte, MIME_CTE_QP);
}

/* Truncating the same message at every length never crashes and keeps
 * the invariants (parents before children). */
static void
test_every_prefix(void **state)
{
	(void)state;
	const char *msg = "From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
	                  "Content-Type: message/rfc822\n\nSubject: =?utf-8?B?aGk=?=\n"
	                  "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n"
	                  "wcI=\n--b\nContent-Type: text/plain; name*0*=utf-8''%C3; name*1*=%A9\n"
	                  "Content-Transfer-Encoding: quoted-printable\n\na=\n--b--\n";
	size_t n = strlen(msg);
	for (size_t k = 0; k <= n; k++) {
		char *cp = arena_memdup(ta, msg, k ? k : 1);
		struct mime_message *m = mime_parse(ta, span_make(cp, k), NULL);
		assert_non_null(m);
		for (size_t i = 1; i < m->nparts; i++)
			assert_true(m->parts[i].parent >= 0 && (size_t)m->parts[i].parent < i);
	}
}

TESTS(T(test_simple), T(test_line_endings), T(test_boundary_regex_chars), T(test_boundary_like_lines),
    T(test_missing_closing_boundary), T(test_boundary_never_found), T(test_nested),
    T(test_message_rfc822), T(test_digest_default), T(test_deep_nesting), T(test_parts_limit),
    T(test_huge_header), T(test_header_lines_limit), T(test_broken_headers), T(test_anomalies),
    T(test_attachment_types), T(test_html_meta_charset), T(test_uuencoded_part), T(test_qp_text_part), T(test_every_prefix))
