/*
 * test-extract.c - mime_extract() over hand-built messages: HTML rendering,
 * URL and address lists, phishing, limits and words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/extract.h"

static struct mime_message *
message(struct arena *a, const char *plain, const char *html)
{
	struct mime_message *m = ARENA_NEW(a, struct mime_message);
	m->parts = ARENA_NEW_ARRAY(a, struct mime_part, 3);
	memset(m->parts, 0, 3 * sizeof(*m->parts));
	m->nparts = 3;
	m->parts[0] = (struct mime_part){ .index = 0, .parent = -1, .type = "multipart", .subtype = "alternative",
		.flags = MIME_PART_MULTIPART };
	m->parts[1] = (struct mime_part){ .index = 1, .parent = 0, .type = "text", .subtype = "plain",
		.flags = MIME_PART_TEXT };
	m->parts[1].utf8 = m->parts[1].text = span_from_cstr(plain);
	m->parts[2] = (struct mime_part){ .index = 2, .parent = 0, .type = "text", .subtype = "html",
		.flags = MIME_PART_TEXT | MIME_PART_HTML };
	m->parts[2].utf8 = span_from_cstr(html);
	return m;
}

static const struct mime_url *
find_url(const struct mime_message *m, const char *url)
{
	for (size_t i = 0; i < m->nurls; i++)
		if (strcmp(m->urls[i].url, url) == 0)
			return &m->urls[i];
	return NULL;
}

static bool
has_email(const struct mime_message *m, const char *addr)
{
	for (size_t i = 0; i < m->nemails; i++)
		if (strcmp(m->emails[i].addr, addr) == 0)
			return true;
	return false;
}

static void
test_full(void **state)
{
	struct arena *a = arena_new(0);
	struct mime_message *m = message(a,
	    "Hello, see http://Example.COM/offer and www.example.com/offer.\n"
	    "Write to Sales@Example.COM or sales@example.com.",
	    "<html><head><title>T</title><base href=\"http://base.example/d/\"></head><body>"
	    "<p>Hi <a href=\"http://example.com/offer\">our offer</a></p>"
	    "<p><a href=\"http://evil.example/login\">https://www.paypal.com/</a></p>"
	    "<p><a href=\"https://www.paypal.com/x\">paypal.com</a></p>"
	    "<a href=\"rel/page\">relative</a><img src=\"/logo.png\">"
	    "<form action=\"https://collect.example/post\"></form>"
	    "<a href=\"mailto:Help@Support.Example.org?subject=x\">mail us</a>"
	    "<a href=\"javascript:void(0)\">js</a><a href=\"#top\">top</a>"
	    "<span style=\"display:none\">hidden words</span>"
	    "Visit shop.example.net today"
	    "</body></html>");
	mime_extract(a, m, NULL);

	struct mime_part *h = &m->parts[2];
	assert_true(h->flags & MIME_PART_INVISIBLE_TEXT);
	assert_non_null(memmem(h->text.p, h->text.len, "our offer", 9));
	assert_null(memmem(h->text.p, h->text.len, "hidden", 6));
	assert_false(m->parts[1].flags & MIME_PART_INVISIBLE_TEXT);

	const struct mime_url *u = find_url(m, "http://example.com/offer");
	assert_non_null(u);
	assert_true(u->flags & URL_FROM_TEXT);
	assert_true(u->flags & URL_FROM_HTML); /* merged: found in both */
	assert_int_equal(u->part, 1);
	u = find_url(m, "http://www.example.com/offer.");
	assert_null(u); /* trailing '.' is not part of the URL */
	u = find_url(m, "http://www.example.com/offer");
	assert_non_null(u);
	assert_true(u->flags & URL_SCHEMELESS);

	u = find_url(m, "http://evil.example/login");
	assert_non_null(u);
	assert_true(u->flags & URL_PHISHED);
	assert_string_equal(u->display_host, "www.paypal.com");
	u = find_url(m, "https://www.paypal.com/x");
	assert_non_null(u);
	assert_false(u->flags & URL_PHISHED);

	assert_non_null(find_url(m, "http://base.example/d/rel/page"));
	u = find_url(m, "http://base.example/logo.png");
	assert_non_null(u);
	assert_true(u->flags & URL_IMAGE);
	u = find_url(m, "https://collect.example/post");
	assert_non_null(u);
	assert_true(u->flags & URL_FORM);
	u = find_url(m, "http://shop.example.net/");
	assert_non_null(u);
	assert_int_equal(u->part, 2);

	/* no javascript:, no fragment-only link, every URL once */
	for (size_t i = 0; i < m->nurls; i++) {
		assert_null(strstr(m->urls[i].url, "javascript"));
		for (size_t j = i + 1; j < m->nurls; j++)
			assert_string_not_equal(m->urls[i].url, m->urls[j].url);
	}

	assert_true(has_email(m, "Sales@example.com"));
	assert_true(has_email(m, "sales@example.com"));
	assert_true(has_email(m, "Help@support.example.org"));
	assert_int_equal(m->nemails, 3);

	/* words of both parts, folded, title and hidden text excluded */
	bool hello = false, visit = false, hidden = false, title = false;
	for (size_t i = 0; i < m->nwords; i++) {
		hello |= span_eq_cstr(m->words[i], "hello");
		visit |= span_eq_cstr(m->words[i], "visit");
		hidden |= span_eq_cstr(m->words[i], "hidden");
		title |= span_eq_cstr(m->words[i], "t");
	}
	assert_true(hello && visit);
	assert_false(hidden || title);
	assert_false(mime_message_has_anomaly(m, MIME_A_LIMIT_URLS));
	arena_free(&a);
}

static void
test_phish_negative(void **state)
{
	struct arena *a = arena_new(0);
	struct mime_message *m = message(a, "",
	    "<a href=\"https://login.example.com/a\">www.example.com</a>"
	    "<a href=\"https://t.example.org/c?u=1\">Click here to visit example.net now</a>"
	    "<a href=\"https://shop.example.co.uk/\">example.co.uk</a>"
	    "<a href=\"http://192.0.2.7/\">192.0.2.7</a>"
	    "<a href=\"http://other.example.com/\">http://www.truncated-na</a>");
	mime_extract(a, m, NULL);
	for (size_t i = 0; i < m->nurls; i++)
		if (m->urls[i].flags & URL_PHISHED)
			fail_msg("%s flagged as phished", m->urls[i].url);
	arena_free(&a);
}

static void
test_phish_ip(void **state)
{
	struct arena *a = arena_new(0);
	struct mime_message *m = message(a, "", "<a href=\"http://0x7f000001/bank\">http://mybank.example.com/</a>");
	mime_extract(a, m, NULL);
	const struct mime_url *u = find_url(m, "http://127.0.0.1/bank");
	assert_non_null(u);
	assert_true(u->flags & URL_PHISHED);
	assert_true(u->flags & URL_OBSCURED);
	assert_string_equal(u->display_host, "mybank.example.com");
	arena_free(&a);
}

static void
test_url_limit(void **state)
{
	struct arena *a = arena_new(0);
	char text[4096];
	size_t k = 0;
	for (int i = 0; i < 50; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, "http://h%d.example.com/ http://h%d.example.com/ ", i, i);
	struct mime_message *m = message(a, text, "");
	struct mime_limits l;
	mime_limits_default(&l);
	l.max_urls = 10;
	mime_extract(a, m, &l);
	assert_int_equal(m->nurls, 10);
	assert_true(mime_message_has_anomaly(m, MIME_A_LIMIT_URLS));
	assert_true(m->limit_hit);
	size_t hits = 0;
	for (size_t i = 0; i < m->nanomalies; i++)
		hits += m->anomalies[i].kind == MIME_A_LIMIT_URLS;
	assert_int_equal(hits, 1);

	/* exact duplicates never count against the limit */
	arena_free(&a);
	a = arena_new(0);
	m = message(a, "http://a.example.com/ http://a.example.com/ HTTP://A.EXAMPLE.COM/", "");
	l.max_urls = 1;
	mime_extract(a, m, &l);
	assert_int_equal(m->nurls, 1);
	assert_false(mime_message_has_anomaly(m, MIME_A_LIMIT_URLS));
	arena_free(&a);
}

static void
test_non_text_parts(void **state)
{
	struct arena *a = arena_new(0);
	struct mime_message *m = message(a, "http://plain.example.com/", "");
	m->parts[1].flags = MIME_PART_ATTACHMENT; /* not a text part: not read */
	mime_extract(a, m, NULL);
	assert_int_equal(m->nurls, 0);
	assert_int_equal(m->nwords, 0);
	arena_free(&a);
}

static void
test_budget(void **state)
{
	/* A starved arena yields shorter lists, never a crash. */
	for (size_t budget = 512; budget < 64 * 1024; budget *= 2) {
		struct arena *a = arena_new(0);
		struct mime_message *m = message(a, "see http://a.example.com/ and b@example.org words words",
		    "<p>x <a href=\"http://c.example.net/\">www.d.example/</a></p>");
		struct arena *small = arena_new(budget);
		mime_extract(small, m, NULL);
		arena_free(&small);
		arena_free(&a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_phish_negative),
		cmocka_unit_test(test_phish_ip),
		cmocka_unit_test(test_url_limit),
		cmocka_unit_test(test_non_text_parts),
		cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
