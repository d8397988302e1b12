/*
 * test-html.c - HTML rendering: text, breaks, references, hidden text, links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/html.h"

struct render_case {
	const char *html;
	const char *text;      /* expected visible text */
	const char *invisible; /* expected hidden text, NULL: none (flag clear) */
};

static const struct render_case render_cases[] = {
	{ "plain text", "plain text", NULL },
	{ "  lots   of\r\n\twhite  space ", "lots of white space", NULL },
	{ "<p>one</p><p>two</p>", "one\n\ntwo", NULL },
	{ "a<br>b<br/>c</br>d", "a\nb\nc\nd", NULL },
	{ "<div>line1</div><div>line2</div>", "line1\nline2", NULL },
	{ "<ul><li>x<li>y</ul>z", "x\ny\n\nz", NULL },
	{ "<table><tr><td>a<td>b<tr><td>c</table>", "a b\nc", NULL },
	{ "<h1>Title</h1>body", "Title\n\nbody", NULL },
	{ "<p><p><p>x<p><p>", "x", NULL },
	{ "<b>bo</b>ld <i>it</i>", "bold it", NULL },
	/* dropped content */
	{ "<script>var a = '<p>x</p>';</script>after", "after", NULL },
	{ "<SCRIPT type=x>if (a</b) {}</SCRIPT >ok", "ok", NULL },
	{ "<style>p { color: red }</style>styled", "styled", NULL },
	{ "<head><title>Subject here</title></head><body>text</body>", "text", NULL },
	{ "a<!-- hidden <b>comment</b> -->b", "ab", NULL },
	{ "a<!-->b", "ab", NULL },
	{ "a<!--->b", "ab", NULL },
	{ "a<!-- x --!>b", "ab", NULL },
	{ "a<!-- never closed", "a", NULL },
	{ "a<![CDATA[ <p>cdata</p> ]]>b", "ab", NULL },
	{ "<!DOCTYPE html><?xml version=1?>doc", "doc", NULL },
	{ "x</>y", "xy", NULL },
	{ "a </ bogus> b", "a b", NULL },
	/* literal angle brackets */
	{ "1 < 2 and 3 > 2", "1 < 2 and 3 > 2", NULL },
	{ "a <3 b", "a <3 b", NULL },
	{ "trailing <", "trailing <", NULL },
	/* unterminated and odd tags */
	{ "text<b", "text", NULL },
	{ "text<a href=\"x", "text", NULL },
	{ "<p class=a id = 'b' data-x=c>ok</p>", "ok", NULL },
	{ "<p title=\"a>b\">quoted gt</p>", "quoted gt", NULL },
	{ "<p title='x' / >slash</p>", "slash", NULL },
	{ "<P ALIGN=CENTER>Upper</P>", "Upper", NULL },
	{ "<o:p></o:p>outlook<o:p/>", "outlook", NULL },
	/* references */
	{ "&lt;tag&gt; &amp; &quot;q&quot; &apos;", "<tag> & \"q\" '", NULL },
	{ "&copy;&reg;&euro;&hellip;", "\xc2\xa9\xc2\xae\xe2\x82\xac\xe2\x80\xa6", NULL },
	{ "&#65;&#x42;&#X43;&#0068", "ABCD", NULL },
	{ "&#x1F600;", "\xf0\x9f\x98\x80", NULL },
	{ "&#0;&#xD800;&#x110000;", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", NULL },
	{ "&#150;&#x80;", "\xe2\x80\x93\xe2\x82\xac", NULL },
	{ "&amp &lt3 &copy2026", "& <3 \xc2\xa9" "2026", NULL },
	{ "&notit; &notin;", "\xc2\xacit; \xe2\x88\x89", NULL },
	{ "&bogus; & &; &#; &#x;", "&bogus; & &; &#; &#x;", NULL },
	{ "a&nbsp;&nbsp;b", "a b", NULL },
	{ "a&#32;&#10;b", "a b", NULL },
	{ "&nGt;", "\xe2\x89\xab\xe2\x83\x92", NULL },
	/* NUL bytes and invalid UTF-8 pass without harm */
	{ "a\xff\xfe b", "a\xff\xfe b", NULL },
	/* hidden text */
	{ "see <span style=\"display:none\">HIDDEN</span>this", "see this", "HIDDEN" },
	{ "<div style='DISPLAY : None !important'>h1</div>v", "v", "h1" },
	{ "<p style=\"visibility:hidden\">h2</p>v", "v", "h2" },
	{ "<span style=\"font-size:0px\">h3</span>v", "v", "h3" },
	{ "<span style=\"font-size:1px\">h4</span>v", "v", "h4" },
	{ "<span style=\"font-size:10px\">small</span>", "small", NULL },
	{ "<span style=\"opacity:0\">h5</span>v", "v", "h5" },
	{ "<span style=\"opacity:0.5\">half</span>", "half", NULL },
	{ "<div hidden>h6</div>v", "v", "h6" },
	{ "<div style=\"display:none\"><p>a<b>b</b></p><span>c</span></div>v", "v", "ab c" },
	{ "<div style=\"display:none\">never closed", "", "never closed" },
	{ "<table bgcolor=\"#ffffff\"><tr><td><font color=\"#FFFFFF\">white</font> shown</td></tr></table>",
	    "shown", "white" },
	{ "<body bgcolor=white><font color=white>w</font>v</body>", "v", "w" },
	{ "<div style=\"background-color:#000\"><span style=\"color:black\">b</span></div>v", "v", "b" },
	{ "<div style=\"background:#123456 url(x.png)\"><span style=\"color:#123457\">near</span></div>v", "v", "near" },
	{ "<div style=\"background-color:rgb(255, 0, 0)\"><font color=red>r</font></div>v", "v", "r" },
	/* a background we cannot read: no conclusion */
	{ "<div style=\"background:url(x.png)\"><font color=white>w</font></div>", "w", NULL },
	{ "<div class=dark><font color=white>w</font></div>", "w", NULL },
	{ "<font color=white>only fg</font>", "only fg", NULL },
	{ "<td bgcolor=black><font color=white>contrast</font></td>", "contrast", NULL },
	/* textarea is shown, title is not */
	{ "<textarea>a <b>b</b></textarea>", "a <b>b</b>", NULL },
};

static void
test_render(void **state)
{
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		struct arena *a = arena_new(0);
		struct html_doc doc;
		assert_int_equal(html_parse(a, span_from_cstr(c->html), &doc), 0);
		if (!span_eq_cstr(doc.text, c->text)) {
			fprintf(stderr, "case %zu: %s\n got [%.*s]\nwant [%s]\n", i, c->html, SPAN_FMT(doc.text), c->text);
			fail();
		}
		if (c->invisible == NULL) {
			if (doc.flags & HTML_INVISIBLE)
				fprintf(stderr, "case %zu: unexpected hidden [%.*s]\n", i, SPAN_FMT(doc.invisible));
			assert_false(doc.flags & HTML_INVISIBLE);
		} else {
			assert_true(doc.flags & HTML_INVISIBLE);
			if (!span_eq_cstr(doc.invisible, c->invisible)) {
				fprintf(stderr, "case %zu: hidden [%.*s] want [%s]\n", i, SPAN_FMT(doc.invisible), c->invisible);
				fail();
			}
		}
		arena_free(&a);
	}
}

static void
test_nul_bytes(void **state)
{
	struct arena *a = arena_new(0);
	static const char src[] = "a\0b<p\0>c\0</p>&#0;";
	struct span t = html_to_text(a, span_make(src, sizeof(src) - 1));
	/* "p\0" is not "p": no break before c; "</p>" still breaks */
	assert_true(span_eq(t, span_make("abc\n\n\xef\xbf\xbd", 8)));
	arena_free(&a);
}

static void
test_title(void **state)
{
	struct arena *a = arena_new(0);
	struct html_doc doc;
	html_parse(a, span_from_cstr("<html><head><title> Big\n &amp; Bold </title><title>2nd</title></head>x"), &doc);
	assert_true(span_eq_cstr(doc.title, "Big & Bold"));
	assert_true(span_eq_cstr(doc.text, "x"));
	arena_free(&a);
}

static void
test_links(void **state)
{
	struct arena *a = arena_new(0);
	struct html_doc doc;
	const char *src =
	    "<base href=\"http://base.example/dir/\">"
	    "<a href=\"http://one.example/?a=1&amp;b=2\">Click <b>here</b></a> "
	    "<a name=anchor>no href</a>"
	    "<A HREF=two.html>two</a>"
	    "<img src='/img.png' alt=x>"
	    "<form action=/post method=post></form>"
	    "<map><area href=\"http://area.example/\"></map>"
	    "<a href=\"http://three.example/\">unclosed"
	    "<a href=\" http://four.example/ \"><span style=display:none>h</span>www.four.example</a>";
	assert_int_equal(html_parse(a, span_from_cstr(src), &doc), 0);
	assert_true(doc.flags & HTML_HAS_BASE);
	assert_true(span_eq_cstr(doc.base, "http://base.example/dir/"));
	assert_int_equal(doc.nlinks, 7);
	assert_int_equal(doc.links[0].kind, HTML_LINK_A);
	assert_true(span_eq_cstr(doc.links[0].href, "http://one.example/?a=1&b=2"));
	assert_true(span_eq_cstr(doc.links[0].text, "Click here"));
	assert_true(span_eq_cstr(doc.links[1].href, "two.html"));
	assert_true(span_eq_cstr(doc.links[1].text, "two"));
	assert_int_equal(doc.links[2].kind, HTML_LINK_IMG);
	assert_true(span_eq_cstr(doc.links[2].href, "/img.png"));
	assert_int_equal(doc.links[3].kind, HTML_LINK_FORM);
	assert_true(span_eq_cstr(doc.links[3].href, "/post"));
	assert_int_equal(doc.links[4].kind, HTML_LINK_AREA);
	assert_true(span_eq_cstr(doc.links[5].text, "unclosed"));
	assert_true(span_eq_cstr(doc.links[6].href, "http://four.example/"));
	assert_true(span_eq_cstr(doc.links[6].text, "www.four.example"));
	arena_free(&a);
}

static void
test_hidden_link(void **state)
{
	struct arena *a = arena_new(0);
	struct html_doc doc;
	html_parse(a, span_from_cstr("<div style=display:none><a href=http://h.example/>x</a></div>"), &doc);
	assert_int_equal(doc.nlinks, 1);
	assert_true(doc.links[0].hidden);
	assert_int_equal(doc.links[0].text.len, 0);
	arena_free(&a);
}

static void
test_deep_nesting(void **state)
{
	/* 100,000 nested elements: no recursion, bounded stack, text kept. */
	size_t n = 100000;
	char *src = malloc(n * 14 + 64);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(src + k, "<span>");
	k += (size_t)sprintf(src + k, "deep");
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(src + k, "</span>");
	k += (size_t)sprintf(src + k, "<b style=display:none>h</b>after");
	struct arena *a = arena_new(0);
	struct html_doc doc;
	assert_int_equal(html_parse(a, span_make(src, k), &doc), 0);
	assert_true(span_eq_cstr(doc.text, "deepafter"));
	assert_true(doc.flags & HTML_TRUNCATED);
	assert_true(doc.flags & HTML_INVISIBLE);
	arena_free(&a);
	free(src);
}

static void
test_unmatched_end_tags(void **state)
{
	/* A full stack and a flood of end tags that match nothing stays linear. */
	size_t n = 1000000;
	char *src = malloc(300 * 5 + n * 4 + 16);
	size_t k = 0;
	for (size_t i = 0; i < 300; i++)
		k += (size_t)sprintf(src + k, "<em>");
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(src + k, "</x>");
	k += (size_t)sprintf(src + k, "end");
	struct arena *a = arena_new(0);
	struct html_doc doc;
	assert_int_equal(html_parse(a, span_make(src, k), &doc), 0);
	assert_true(span_eq_cstr(doc.text, "end"));
	arena_free(&a);
	free(src);
}

static void
test_huge_attribute(void **state)
{
	size_t n = 4 << 20;
	char *src = malloc(n + 64);
	memcpy(src, "<a href=\"", 9);
	memset(src + 9, 'x', n);
	memcpy(src + 9 + n, "\">t</a>z", 8);
	struct arena *a = arena_new(0);
	struct html_doc doc;
	assert_int_equal(html_parse(a, span_make(src, n + 17), &doc), 0);
	assert_true(span_eq_cstr(doc.text, "tz"));
	assert_int_equal(doc.nlinks, 1);
	assert_int_equal(doc.links[0].href.len, n);
	arena_free(&a);
	free(src);
}

static void
test_budget(void **state)
{
	struct arena *a = arena_new(4096);
	char src[20000];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	struct html_doc doc;
	assert_int_equal(html_parse(a, span_make(src, sizeof(src)), &doc), -1);
	arena_free(&a);
}

static void
test_decode_entities(void **state)
{
	struct arena *a = arena_new(0);
	struct span s = html_decode_entities(a, span_from_cstr("?a=1&copy=2&amp;x&lt"), true);
	/* in attributes a legacy name before '=' or alnum stays literal */
	assert_true(span_eq_cstr(s, "?a=1&copy=2&x<"));
	s = html_decode_entities(a, span_from_cstr("&copy=2"), false);
	assert_true(span_eq_cstr(s, "\xc2\xa9=2"));
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_title),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_hidden_link),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_unmatched_end_tags),
		cmocka_unit_test(test_huge_attribute),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_decode_entities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
