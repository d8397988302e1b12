#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "http_proto.h"

static enum http_status
parse(struct arena *a, const char *head, struct http_request *req)
{
	return http_parse_head(a, span_make(head, strlen(head)), req);
}

static void
test_head_end(void **state)
{
	(void)state;
	const char *crlf = "GET / HTTP/1.0\r\nA: b\r\n\r\nBODY";
	assert_int_equal(http_head_end((const uint8_t *)crlf, strlen(crlf)), strlen(crlf) - 4);
	const char *lf = "GET / HTTP/1.0\nA: b\n\nBODY";
	assert_int_equal(http_head_end((const uint8_t *)lf, strlen(lf)), strlen(lf) - 4);
	const char *partial = "GET / HTTP/1.0\r\nA: b\r\n";
	assert_int_equal(http_head_end((const uint8_t *)partial, strlen(partial)), 0);
}

static void
test_rspamc_request(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct http_request req;
	const char *head = "POST /checkv2?IP=1.2.3.4&x=%41 HTTP/1.0\r\nContent-Length: 94\r\n"
	                   "Rcpt: r1@example.com\r\nRcpt: r2@example.com\r\nX-Foo:  bar\r\n\r\n";
	assert_int_equal(parse(a, head, &req), HTTP_OK);
	assert_true(span_eq_cstr(req.method, "POST"));
	assert_true(span_eq_cstr(req.path, "/checkv2"));
	assert_true(span_eq_cstr(req.query, "IP=1.2.3.4&x=%41"));
	assert_int_equal(req.version_minor, 0);
	assert_true(req.has_length);
	assert_int_equal(req.content_length, 94);
	assert_int_equal(req.nheaders, 4);
	/* rspamc --header leaves a leading space: values are trimmed */
	assert_true(span_eq_cstr(http_request_header(&req, "x-foo")->value, "bar"));
	assert_true(span_eq_cstr(http_request_header(&req, "RCPT")->value, "r1@example.com"));
	arena_free(&a);
}

static void
test_errors(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct http_request req;
	static const struct { const char *head; enum http_status want; } cases[] = {
		{ "\x01\x02garbage\r\n\r\n", HTTP_ERR_SYNTAX },
		{ "GET /\r\n\r\n", HTTP_ERR_SYNTAX },
		{ "GET / HTTP/2.0\r\n\r\n", HTTP_ERR_VERSION },
		{ "GET / HTTP/1.5\r\n\r\n", HTTP_ERR_VERSION },
		{ "GET / FTP/1.0\r\n\r\n", HTTP_ERR_SYNTAX },
		{ "POST / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", HTTP_ERR_LENGTH },
		{ "POST / HTTP/1.0\r\nContent-Length: 12x\r\n\r\n", HTTP_ERR_LENGTH },
		{ "POST / HTTP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP_ERR_LENGTH },
		{ "POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HTTP_ERR_LENGTH },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP_ERR_ENCODING },
		{ "GET / HTTP/1.0\r\nNo colon here\r\n\r\n", HTTP_ERR_SYNTAX },
		{ "GET / HTTP/1.0\r\nA: b\r\n folded\r\n\r\n", HTTP_ERR_SYNTAX },
		{ "GET / HTTP/1.0\r\nBad Name: b\r\n\r\n", HTTP_ERR_SYNTAX },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(parse(a, cases[i].head, &req), cases[i].want);
	arena_free(&a);
}

static void
test_too_many_headers(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	char head[HTTP_MAX_HEADERS * 8 + 64];
	size_t o = (size_t)sprintf(head, "GET / HTTP/1.0\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		o += (size_t)sprintf(head + o, "A: b\r\n");
	strcpy(head + o, "\r\n");
	struct http_request req;
	assert_int_equal(parse(a, head, &req), HTTP_ERR_TOO_MANY);
	arena_free(&a);
}

static void
test_chunked_every_split(void **state)
{
	(void)state;
	const char *wire = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
	size_t n = strlen(wire);
	/* Feeding any prefix split must give the same result. */
	for (size_t split = 0; split <= n; split++) {
		struct arena *a = arena_new(0);
		struct buf out;
		buf_init(&out, a);
		struct http_chunked c;
		http_chunked_init(&c, 1000);
		size_t used;
		enum http_status st = http_chunked_feed(&c, span_make(wire, split), &out, &used);
		assert_int_equal(used, split);
		if (split < n)
			assert_int_equal(st, HTTP_NEED_MORE);
		if (split < n)
			st = http_chunked_feed(&c, span_make(wire + split, n - split), &out, &used);
		assert_int_equal(st, HTTP_OK);
		assert_true(span_eq_cstr(buf_span(&out), "hello world"));
		arena_free(&a);
	}
}

static void
test_chunked_errors(void **state)
{
	(void)state;
	static const struct { const char *wire; uint64_t limit; enum http_status want; } cases[] = {
		{ "zz\r\n", 100, HTTP_ERR_SYNTAX },
		{ "5\r\nhelloXX", 100, HTTP_ERR_SYNTAX },
		{ "ffff\r\n", 100, HTTP_ERR_LENGTH },
		{ "fffffffffffffffff\r\n", UINT64_MAX, HTTP_ERR_LENGTH },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arena *a = arena_new(0);
		struct buf out;
		buf_init(&out, a);
		struct http_chunked c;
		http_chunked_init(&c, cases[i].limit);
		size_t used;
		assert_int_equal(http_chunked_feed(&c, span_from_cstr(cases[i].wire), &out, &used), cases[i].want);
		arena_free(&a);
	}
}

static void
test_url_decode(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	assert_string_equal(http_url_decode(a, SPAN_LIT("a%20b+c%zz%4"), true), "a b c%zz%4");
	assert_string_equal(http_url_decode(a, SPAN_LIT("/tmp/a+b%2Fc"), false), "/tmp/a+b/c");
	assert_string_equal(http_url_decode(a, SPAN_LIT("nul%00x"), false), "nul x");
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_end),
		cmocka_unit_test(test_rspamc_request),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_chunked_errors),
		cmocka_unit_test(test_url_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
