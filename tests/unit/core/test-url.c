/*
 * test-url.c - URL normalisation, public suffixes, discovery in text and
 * e-mail addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/url.h"

struct norm_case {
	const char *raw;
	const char *url;  /* NULL: must be rejected */
	const char *host;
	const char *tld;
	uint32_t flags;   /* flags that must be set (beyond what was passed) */
};

static const struct norm_case norm_cases[] = {
	{ "http://www.example.com", "http://www.example.com/", "www.example.com", "example.com", 0 },
	{ "HTTP://WWW.Example.COM./Path?Q=1#frag", "http://www.example.com/Path?Q=1", "www.example.com", "example.com", 0 },
	{ "https://example.co.uk:443/x", "https://example.co.uk/x", "example.co.uk", "example.co.uk", 0 },
	{ "https://a.b.example.co.uk:8443", "https://a.b.example.co.uk:8443/", "a.b.example.co.uk", "example.co.uk", 0 },
	{ "ftp://files.example.org:21/pub", "ftp://files.example.org/pub", "files.example.org", "example.org", 0 },
	{ "http://example.com?q", "http://example.com/?q", "example.com", "example.com", 0 },
	{ "http://exa mple.com/", NULL, NULL, NULL, 0 },
	{ "http://example.com:99999/", NULL, NULL, NULL, 0 },
	{ "http://example.com:8x/", NULL, NULL, NULL, 0 },
	{ "http://example..com/", NULL, NULL, NULL, 0 },
	{ "http:///", NULL, NULL, NULL, 0 },
	{ "javascript:alert(1)", NULL, NULL, NULL, 0 },
	{ "cid:part1@x", NULL, NULL, NULL, 0 },
	{ "data:text/html,hi", NULL, NULL, NULL, 0 },
	/* whitespace inside (attribute values wrap) */
	{ " http://exa\nmple.com/a\tb ", "http://example.com/ab", "example.com", "example.com", 0 },
	/* path escaping */
	{ "http://example.com/a b\"<>", "http://example.com/a%20b%22%3C%3E", "example.com", "example.com", 0 },
	{ "http:\\\\example.com\\a\\b", "http://example.com/a/b", "example.com", "example.com", 0 },
	{ "http:/example.com/", "http://example.com/", "example.com", "example.com", 0 },
	/* user info */
	{ "http://www.paypal.com@evil.example/login", "http://www.paypal.com@evil.example/login", "evil.example",
	    "evil.example", URL_HAS_USER },
	{ "http://user:pw@host.example.net/", "http://user:pw@host.example.net/", "host.example.net", "example.net",
	    URL_HAS_USER },
	/* numeric hosts */
	{ "http://192.168.1.20/", "http://192.168.1.20/", "192.168.1.20", "192.168.1.20", URL_NUMERIC_IP },
	{ "http://0x7f.1/", "http://127.0.0.1/", "127.0.0.1", "127.0.0.1", URL_NUMERIC_IP | URL_OBSCURED },
	{ "http://2130706433/", "http://127.0.0.1/", "127.0.0.1", "127.0.0.1", URL_NUMERIC_IP | URL_OBSCURED },
	{ "http://0177.0.0.01/", "http://127.0.0.1/", "127.0.0.1", "127.0.0.1", URL_NUMERIC_IP | URL_OBSCURED },
	{ "http://0xC0.0xA8.0x01.0x14/", "http://192.168.1.20/", "192.168.1.20", "192.168.1.20",
	    URL_NUMERIC_IP | URL_OBSCURED },
	{ "http://0xc0a80114/", "http://192.168.1.20/", "192.168.1.20", "192.168.1.20", URL_NUMERIC_IP | URL_OBSCURED },
	{ "http://1.2.3.4.5/", NULL, NULL, NULL, 0 },
	{ "http://256.1.1.1/", NULL, NULL, NULL, 0 },
	{ "http://4294967296/", NULL, NULL, NULL, 0 },
	{ "http://08.1.1.1/", NULL, NULL, NULL, 0 },
	{ "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x", "[2001:db8::1]", "[2001:db8::1]", URL_NUMERIC_IP },
	{ "http://[::ffff:1.2.3.4]/", "http://[::ffff:1.2.3.4]/", "[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]", URL_NUMERIC_IP },
	{ "http://[zz::1]/", NULL, NULL, NULL, 0 },
	/* %-encoded hosts */
	{ "http://%65xample.com/", "http://example.com/", "example.com", "example.com", URL_OBSCURED },
	{ "http://%31%32%37.0.0.1/", "http://127.0.0.1/", "127.0.0.1", "127.0.0.1", URL_OBSCURED | URL_NUMERIC_IP },
	{ "http://ex%00ample.com/", NULL, NULL, NULL, 0 },
	/* IDN */
	{ "http://b\xc3\xbc" "cher.example/", "http://xn--bcher-kva.example/", "xn--bcher-kva.example",
	    "xn--bcher-kva.example", URL_IDN },
	{ "http://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84/", "http://xn--e1afmkfd.xn--p1ai/",
	    "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai", URL_IDN },
	{ "http://\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85.com/",
	    "http://example.com/", "example.com", "example.com", URL_OBSCURED },
	{ "http://example\xe3\x80\x82" "com/", "http://example.com/", "example.com", "example.com", URL_OBSCURED },
	{ "http://XN--BCHER-KVA.example/", "http://xn--bcher-kva.example/", "xn--bcher-kva.example",
	    "xn--bcher-kva.example", URL_IDN },
	/* public suffix rules: wildcard *.ck, exception !www.ck, private blogspot */
	{ "http://a.b.c.ck/", "http://a.b.c.ck/", "a.b.c.ck", "b.c.ck", 0 },
	{ "http://a.www.ck/", "http://a.www.ck/", "a.www.ck", "www.ck", 0 },
	{ "http://x.example.blogspot.com/", "http://x.example.blogspot.com/", "x.example.blogspot.com",
	    "example.blogspot.com", 0 },
	{ "http://localhost/", "http://localhost/", "localhost", "localhost", 0 },
	/* schemeless */
	{ "www.example.com/a", "http://www.example.com/a", "www.example.com", "example.com", URL_SCHEMELESS },
	{ "//cdn.example.net/x.js", "http://cdn.example.net/x.js", "cdn.example.net", "example.net", 0 },
};

static void
test_normalise(void **state)
{
	for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm_case *c = &norm_cases[i];
		struct arena *a = arena_new(0);
		struct mime_url u;
		int rc = url_parse(a, span_from_cstr(c->raw), URL_FROM_TEXT, &u);
		if (c->url == NULL) {
			if (rc == 0)
				fprintf(stderr, "case %zu: %s accepted as %s\n", i, c->raw, u.url);
			assert_int_equal(rc, -1);
			arena_free(&a);
			continue;
		}
		if (rc != 0 || strcmp(u.url, c->url) != 0 || strcmp(u.host, c->host) != 0 || strcmp(u.tld, c->tld) != 0 ||
		    (u.flags & c->flags) != c->flags || !(u.flags & URL_FROM_TEXT)) {
			fprintf(stderr, "case %zu: %s -> rc %d url %s host %s tld %s flags %#x\n", i, c->raw, rc,
			    rc ? "" : u.url, rc ? "" : u.host, rc ? "" : u.tld, rc ? 0 : u.flags);
			fail();
		}
		/* flags not expected stay clear */
		uint32_t checked = URL_HAS_USER | URL_NUMERIC_IP | URL_OBSCURED | URL_IDN | URL_SCHEMELESS;
		assert_int_equal(u.flags & checked, c->flags & checked);
		arena_free(&a);
	}
}

static void
test_tld(void **state)
{
	bool known;
	struct span r = url_tld_registered(span_from_cstr("mail.example.com"), &known);
	assert_true(known);
	assert_true(span_eq_cstr(r, "example.com"));
	r = url_tld_registered(span_from_cstr("co.uk"), &known);
	assert_int_equal(r.len, 0);
	r = url_tld_registered(span_from_cstr("foo.notarealtld"), &known);
	assert_false(known);
	assert_true(span_eq_cstr(r, "foo.notarealtld"));
	r = url_tld_suffix(span_from_cstr("x.y.kawasaki.jp"), &known);
	assert_true(known);
	assert_true(span_eq_cstr(r, "y.kawasaki.jp"));
	r = url_tld_suffix(span_from_cstr("city.kawasaki.jp"), &known);
	assert_true(span_eq_cstr(r, "kawasaki.jp"));
	/* a host far past DNS length still resolves its suffix */
	char big[2000];
	for (size_t i = 0; i < 1000; i++) {
		big[2 * i] = 'a';
		big[2 * i + 1] = '.';
	}
	memcpy(big + 2000 - 4, "com", 3);
	big[1999] = '\0';
	r = url_tld_registered(span_make(big, strlen(big)), &known);
	assert_true(known);
	assert_true(span_eq_cstr(r, "a.com"));
}

struct find_case {
	const char *text;
	const char *found[6]; /* raw matches in order; "@" prefix: e-mail */
};

static const struct find_case find_cases[] = {
	{ "see http://example.com/a.", { "http://example.com/a" } },
	{ "(see http://example.com/a_(b)) and (http://x.example.org/y)", { "http://example.com/a_(b)", "http://x.example.org/y" } },
	{ "<http://example.com/>, \"https://example.net/q?a=1\";", { "http://example.com/", "https://example.net/q?a=1" } },
	{ "go to www.example.com, now", { "www.example.com" } },
	{ "visit example.com!", { "example.com" } },
	{ "example.co.uk/path?x=1.", { "example.co.uk/path?x=1" } },
	{ "Smith et.al. 2001; e.g. this, i.e. that, Mr.Smith, file.txt, setup.py, a.zip, 3.14, v1.2.3", { NULL } },
	{ "End of sentence.Next one. Hello.World", { NULL } },
	{ "/usr/share/foo.com and C:\\dir\\evil.com and foo_bar.com", { NULL } },
	{ "EXAMPLE.COM shouts", { "EXAMPLE.COM" } },
	{ "elsif File.directory? or hello.world but spam.xyz and Amazon.com", { "spam.xyz", "Amazon.com" } },
	{ "www.example.directory is fine with www", { "www.example.directory" } },
	{ "mail john.doe+tag@Example.COM or <jane@x.example.org>.", { "@john.doe+tag@Example.COM", "@jane@x.example.org" } },
	{ "user@localhost and a@b and @example.com and x@1.2.3.4", { NULL } },
	{ "mailto:info@example.net?subject=x", { "@info@example.net" } },
	{ "hxxp://example.com xhttp://example.com", { NULL } },
	{ "HTTPS://Example.COM/X", { "HTTPS://Example.COM/X" } },
	{ "http://b\xc3\xbc" "cher.example/p\xc3\xa4th", { "http://b\xc3\xbc" "cher.example/p" } },
	{ "ftp://files.example.org/pub/", { "ftp://files.example.org/pub/" } },
	{ "http://", { NULL } },
	{ "a.b.c.d.e.f.g.h", { NULL } },
	{ "host example.com:8080/x ok", { "example.com:8080/x" } },
	{ "http://example.com/a' and 'b", { "http://example.com/a" } },
	/* wrapped inside angle brackets (RFC 3986 appendix C) */
	{ "see <http://example.com/long/pa\nth?x=1> ok", { "http://example.com/long/pa\nth?x=1" } },
	{ "see <http://example.com/a b> ok", { "http://example.com/a" } },
	{ "no bracket http://example.com/pa\nth", { "http://example.com/pa" } },
	/* CJK text touches URLs and domains */
	{ "\xe7\xb6\xb2\xe5\x9d\x80\xef\xbc\x9a" "gimit.cn.st\xe6\x88\x96gimit99.iscool.net\xe3\x80\x82",
	    { "gimit.cn.st", "gimit99.iscool.net" } },
	{ "\xe8\xab\x8bhttp://example.com\xe6\x88\x96", { "http://example.com" } },
	{ "caf\xc3\xa9" "example.com na\xc3\xafve.com", { NULL } },
};

static void
test_find(void **state)
{
	for (size_t i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		const struct find_case *c = &find_cases[i];
		struct span t = span_from_cstr(c->text);
		size_t pos = 0, k = 0;
		struct url_match m;
		while (url_find_next(t, &pos, &m)) {
			const char *want = c->found[k];
			bool email = want != NULL && want[0] == '@';
			if (want == NULL || (m.kind == URL_MATCH_EMAIL) != email ||
			    !span_eq_cstr(m.raw, email ? want + 1 : want)) {
				fprintf(stderr, "case %zu (%s): match %zu [%.*s] kind %d, want %s\n", i, c->text, k,
				    SPAN_FMT(m.raw), m.kind, want ? want : "(none)");
				fail();
			}
			k++;
		}
		if (c->found[k] != NULL) {
			fprintf(stderr, "case %zu (%s): missed %s\n", i, c->text, c->found[k]);
			fail();
		}
	}
}

static void
test_find_pathological(void **state)
{
	/* A megabyte of dots and letters must stay linear. */
	size_t n = 1 << 20;
	char *s = test_malloc(n);
	for (size_t i = 0; i < n; i++)
		s[i] = (i & 1) ? '.' : 'a';
	size_t pos = 0;
	struct url_match m;
	assert_false(url_find_next(span_make(s, n), &pos, &m));
	memset(s, '@', n);
	pos = 0;
	assert_false(url_find_next(span_make(s, n), &pos, &m));
	/* a URL followed by half a megabyte of ')' */
	memcpy(s, "http://a.example.com/", 21);
	memset(s + 21, ')', n - 21);
	pos = 0;
	assert_true(url_find_next(span_make(s, n), &pos, &m));
	assert_true(span_eq_cstr(m.raw, "http://a.example.com/"));
	test_free(s);
}

static void
test_email(void **state)
{
	struct arena *a = arena_new(0);
	struct mime_email e;
	assert_int_equal(url_parse_email(a, span_from_cstr("John.Doe@Mail.Example.COM."), &e), 0);
	assert_string_equal(e.addr, "John.Doe@mail.example.com");
	assert_string_equal(e.domain, "mail.example.com");
	assert_int_equal(url_parse_email(a, span_from_cstr("mailto:%69nfo@example.net?subject=hi"), &e), 0);
	assert_string_equal(e.addr, "info@example.net");
	assert_int_equal(url_parse_email(a, span_from_cstr("MAILTO:<a@b\xc3\xbc" "cher.example>"), &e), 0);
	assert_string_equal(e.domain, "xn--bcher-kva.example");
	assert_int_equal(url_parse_email(a, span_from_cstr("mailto:"), &e), -1);
	assert_int_equal(url_parse_email(a, span_from_cstr("no-at-sign"), &e), -1);
	assert_int_equal(url_parse_email(a, span_from_cstr("a@localhost"), &e), -1);
	assert_int_equal(url_parse_email(a, span_from_cstr("a b@example.com"), &e), -1);
	assert_int_equal(url_parse_email(a, span_from_cstr("x@[1.2.3.4]"), &e), -1);
	arena_free(&a);
}

static void
test_resolve(void **state)
{
	struct arena *a = arena_new(0);
	struct span base = span_from_cstr("http://base.example/dir/page.html?q#f");
	assert_true(span_eq_cstr(url_resolve(a, base, span_from_cstr("x.html")), "http://base.example/dir/x.html"));
	assert_true(span_eq_cstr(url_resolve(a, base, span_from_cstr("/root")), "http://base.example/root"));
	assert_true(span_eq_cstr(url_resolve(a, base, span_from_cstr("//other.example/y")), "http://other.example/y"));
	assert_true(span_eq_cstr(url_resolve(a, base, span_from_cstr("?z")), "http://base.example/dir/page.html?z"));
	assert_true(span_eq_cstr(url_resolve(a, base, span_from_cstr("https://abs.example/")), "https://abs.example/"));
	assert_true(span_eq_cstr(url_resolve(a, span_from_cstr("http://h.example"), span_from_cstr("p")), "http://h.example/p"));
	assert_true(span_eq_cstr(url_resolve(a, span_from_cstr("nobase"), span_from_cstr("p")), "p"));
	assert_true(url_has_scheme(span_from_cstr("mailto:x")));
	assert_false(url_has_scheme(span_from_cstr("/a:b")));
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_tld),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_pathological),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
