/* test-cf.c - the .cf reader: every directive, conditionals, ReplaceTags,
 * and each error path with its file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fcore/arena.h"
#include "../../../rules/rules-private.h"

struct fx {
	struct arena *a;
	struct cf cf;
	char err[512];
};

static int
parse(struct fx *f, const char *text)
{
	f->a = arena_new(0);
	f->err[0] = '\0';
	cf_init(&f->cf, f->a, f->err, sizeof(f->err));
	int rc = cf_read_buffer(&f->cf, "t.cf", text, strlen(text));
	if (rc == 0)
		cf_finish(&f->cf);
	return rc;
}

static void
done(struct fx *f)
{
	cf_deinit(&f->cf);
	arena_free(&f->a);
}

static void
test_header_forms(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "header H1 Subject =~ /foo/i\n"
	    "header H2 From:addr !~ m{bar}\n"
	    "header H3 ALL:raw =~ /x/ms [if-unset: none here]\n"
	    "header H4 exists:X-Mailer\n"
	    "header H5 eval:check_for_missing_to_header()\n"
	    "header H6 Reply-To:name =~ /n/x\n"), 0);
	struct rule *r = cf_find(&f.cf, "H1");
	assert_non_null(r);
	assert_int_equal(r->type, RT_HEADER);
	assert_string_equal(r->hdr, "Subject");
	assert_string_equal(r->re, "foo");
	assert_int_equal(r->re_flags, RE_I);
	assert_false(r->neg);
	r = cf_find(&f.cf, "H2");
	assert_true(r->neg);
	assert_int_equal(r->hdr_flags, HDR_ADDR);
	assert_string_equal(r->hdr, "From");
	assert_string_equal(r->re, "bar");
	r = cf_find(&f.cf, "H3");
	assert_string_equal(r->hdr, "ALL");
	assert_int_equal(r->hdr_flags, HDR_RAW);
	assert_int_equal(r->re_flags, RE_M | RE_S);
	assert_string_equal(r->unset, "none here");
	r = cf_find(&f.cf, "H4");
	assert_true(r->exists);
	assert_string_equal(r->hdr, "X-Mailer");
	r = cf_find(&f.cf, "H5");
	assert_string_equal(r->eval, "check_for_missing_to_header()");
	r = cf_find(&f.cf, "H6");
	assert_int_equal(r->hdr_flags, HDR_NAME);
	assert_int_equal(r->re_flags, RE_X);
	done(&f);
}

static void
test_rule_types(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "body B1 /hello world/\n"
	    "rawbody R1 /<b>/i\n"
	    "uri U1 m!^https?://x!\n"
	    "full F1 /^Received:/m\n"
	    "mimeheader M1 Content-Type =~ /zip/\n"
	    "meta ME1 (B1 && R1) || !U1\n"
	    "body E1 eval:check_stock_info()\n"), 0);
	assert_int_equal(cf_find(&f.cf, "B1")->type, RT_BODY);
	assert_int_equal(cf_find(&f.cf, "R1")->type, RT_RAWBODY);
	assert_int_equal(cf_find(&f.cf, "U1")->type, RT_URI);
	assert_string_equal(cf_find(&f.cf, "U1")->re, "^https?://x");
	assert_int_equal(cf_find(&f.cf, "F1")->type, RT_FULL);
	assert_int_equal(cf_find(&f.cf, "M1")->type, RT_MIMEHEADER);
	assert_string_equal(cf_find(&f.cf, "M1")->hdr, "Content-Type");
	assert_string_equal(cf_find(&f.cf, "ME1")->src, "(B1 && R1) || !U1");
	assert_string_equal(cf_find(&f.cf, "E1")->eval, "check_stock_info()");
	done(&f);
}

static void
test_attributes(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "body A /a/\n"
	    "score A 1.5\n"
	    "body B /b/\n"
	    "score B 0 1.0 2.5 3.0\n"
	    "body C /c/\n"
	    "tflags C multiple maxhits=4 nice\n"
	    "body T_D /d/\n"
	    "body __E /e/\n"
	    "score __E 0\n"
	    "describe A Says a # not a comment? yes it is\n"
	    "describe B Price \\# one\n"
	    "priority A -100\n"
	    "lang de describe A Sagt a\n"
	    "tflags B net learn noautolearn\n"), 0);
	struct rule *a = cf_find(&f.cf, "A"), *b = cf_find(&f.cf, "B"), *c = cf_find(&f.cf, "C");
	assert_true(a->score == 1.5);
	assert_true(b->score == 2.5); /* set 2: Bayes on, network off */
	assert_int_equal(c->tflags, TF_MULTIPLE | TF_NICE);
	assert_int_equal(c->maxhits, 4);
	assert_true(c->score == -1.0); /* default score, negative for nice */
	assert_true(cf_find(&f.cf, "T_D")->score == 0.01);
	assert_false(cf_find(&f.cf, "__E")->enabled);
	assert_string_equal(a->describe, "Says a");
	assert_string_equal(b->describe, "Price # one");
	assert_int_equal(a->priority, -100);
	assert_int_equal(b->tflags, TF_NET | TF_LEARN | TF_NOAUTOLEARN);
	/* SpamAssassin 4's defaults until a line says otherwise */
	assert_int_equal(f.cf.body_part_scan_size, 50000);
	assert_int_equal(f.cf.rawbody_part_scan_size, 500000);
	done(&f);
	assert_int_equal(parse(&f, "body_part_scan_size 1000\nrawbody_part_scan_size  0 \n"), 0);
	assert_int_equal(f.cf.body_part_scan_size, 1000);
	assert_int_equal(f.cf.rawbody_part_scan_size, 0);
	done(&f);
}

static void
test_redefinition(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f, "body A /one/\nscore A 2\nbody A /two/\n"), 0);
	assert_string_equal(cf_find(&f.cf, "A")->re, "two");
	assert_true(cf_find(&f.cf, "A")->score == 2.0);
	done(&f);
}

static void
test_conditionals(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
	    "body IN1 /a/\n"
	    "endif\n"
	    "ifplugin Mail::SpamAssassin::Plugin::Razor2\n"
	    "body OUT1 /a/\n"
	    "body NESTED /a/\n"
	    "if (version >= 3.004000)\n"
	    "body OUT2 /a/\n"
	    "endif\n"
	    "endif\n"
	    "if (version >= 3.004002)\n"
	    "body IN2 /a/\n"
	    "else\n"
	    "body OUT3 /a/\n"
	    "endif\n"
	    "if !plugin(Mail::SpamAssassin::Plugin::ReplaceTags)\n"
	    "body OUT4 /a/\n"
	    "else\n"
	    "body IN3 /a/\n"
	    "endif\n"
	    "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
	    "body IN4 /a/\n"
	    "endif\n"
	    "if can(Mail::SpamAssassin::Conf::feature_dns_block_rule)\n"
	    "body OUT5 /a/\n"
	    "endif\n"
	    "if (version >= 5.000000) || plugin(Mail::SpamAssassin::Plugin::Check)\n"
	    "body IN5 /a/\n"
	    "endif\n"), 0);
	const char *in[] = { "IN1", "IN2", "IN3", "IN4", "IN5" };
	const char *out[] = { "OUT1", "OUT2", "OUT3", "OUT4", "OUT5", "NESTED" };
	for (size_t i = 0; i < 5; i++)
		assert_non_null(cf_find(&f.cf, in[i]));
	for (size_t i = 0; i < 6; i++)
		assert_null(cf_find(&f.cf, out[i]));
	assert_int_equal(f.cf.skipped_blocks, 4);
	done(&f);
}

static void
test_replace_tags(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "replace_tag A [a@]\n"
	    "replace_tag B [b8]\n"
	    "replace_tag AB <A><B>\n"
	    "replace_inter W1 \\W?\n"
	    "replace_post P2 {1,2}\n"
	    "body R1 /x<A>y/\n"
	    "body R2 /<inter W1><A><B>/\n"
	    "body R3 /<post P2><A>z/\n"
	    "body R4 /<AB>/\n"
	    "body R5 /<A>/\n"
	    "replace_rules R1 R2 R3 R4\n"), 0);
	assert_string_equal(cf_find(&f.cf, "R1")->re, "x[a@]y");
	assert_string_equal(cf_find(&f.cf, "R2")->re, "\\W?[a@]\\W?[b8]");
	assert_string_equal(cf_find(&f.cf, "R3")->re, "[a@]{1,2}z");
	assert_string_equal(cf_find(&f.cf, "R4")->re, "[a@][b8]");
	assert_string_equal(cf_find(&f.cf, "R5")->re, "<A>"); /* not in replace_rules */
	done(&f);
}

static void
test_replace_delims(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f,
	    "replace_start {{\nreplace_end }}\n"
	    "replace_tag X [xX]\n"
	    "body R1 /a{{X}}b/\nreplace_rules R1\n"), 0);
	assert_string_equal(cf_find(&f.cf, "R1")->re, "a[xX]b");
	done(&f);
}

struct err_case {
	const char *text;
	const char *err;
};

static void
test_errors(void **state)
{
	static const struct err_case cases[] = {
		{ "body\n", "t.cf:1: invalid rule name ''" },
		{ "\n\nbody 1BAD /x/\n", "t.cf:3: invalid rule name '1BAD'" },
		{ "body A\n", "t.cf:1: A: missing definition" },
		{ "body A x\n", "t.cf:1: A: not a delimited regex" },
		{ "body A /x/q\n", "t.cf:1: A: not a delimited regex" },
		{ "header A Subject ~ /x/\n", "t.cf:1: A: expected HEADER =~ /regex/" },
		{ "header A Subject =~\n", "t.cf:1: A: expected HEADER =~ /regex/" },
		{ "header A exists:\n", "t.cf:1: A: exists: without a header name" },
		{ "body A eval:foo\n", "t.cf:1: A: eval without (arguments)" },
		{ "score A one\n", "t.cf:1: score A: not a number" },
		{ "score A 1 2\n", "t.cf:1: score A: expected one or four values" },
		{ "priority A high\n", "t.cf:1: priority A: not an integer" },
		{ "tflags 9 multiple\n", "t.cf:1: tflags: invalid rule name '9'" },
		{ "describe -x y\n", "t.cf:1: invalid rule name '-x'" },
		{ "replace_tag A\n", "t.cf:1: replace_tag: expected NAME VALUE" },
		{ "replace_start\n", "t.cf:1: replace_start: missing value" },
		{ "endif\n", "t.cf:1: endif without if" },
		{ "else\n", "t.cf:1: else without if" },
		{ "if (version >= 3)\nelse\nelse\n", "t.cf:3: else without if" },
		{ "if (version >=\nendif\n", "t.cf:1: cannot parse if condition" },
		{ "ifplugin X\nbody A /a/\n", "t.cf:3: missing endif (1 if blocks open at end of file)" },
		{ "include\n", "t.cf:1: include: missing file name" },
		{ "body_part_scan_size 50k\n", "t.cf:1: body_part_scan_size: expected a size in bytes, got \"50k\"" },
		{ "rawbody_part_scan_size -1\n", "t.cf:1: rawbody_part_scan_size: expected a size in bytes, got \"-1\"" },
		{ "body_part_scan_size\n", "t.cf:1: body_part_scan_size: expected a size in bytes, got \"\"" },
		{ "include /nonexistent/file.cf\n", "t.cf:1: include: cannot read /nonexistent/file.cf" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		int rc = parse(&f, cases[i].text);
		if (rc != -1 || strcmp(f.err, cases[i].err) != 0)
			fail_msg("case %zu: rc %d err '%s', want '%s'", i, rc, f.err, cases[i].err);
		done(&f);
	}
}

static void
test_include_and_dir(void **state)
{
	struct arena *a = arena_new(0);
	char err[512];
	struct cf cf;
	cf_init(&cf, a, err, sizeof(err));
	assert_int_equal(cf_read_path(&cf, FIXTURES_DIR "/rules/cf"), 0);
	cf_finish(&cf);
	/* 10_main.cf includes inc/extra.inc; 20_local.cf overrides a score */
	assert_non_null(cf_find(&cf, "INC_RULE"));
	assert_true(cf_find(&cf, "MAIN_RULE")->score == 4.0);
	assert_int_equal(cf.nfiles, 3);
	cf_deinit(&cf);
	arena_free(&a);
}

static void
test_comments_and_blanks(void **state)
{
	struct fx f;
	assert_int_equal(parse(&f, "# comment\n   \n\tbody   B\t/b/   # trailing\n"), 0);
	assert_string_equal(cf_find(&f.cf, "B")->re, "b");
	done(&f);
	/* '#' in a regex must be written \# in .cf files; unescaped it starts a comment */
	assert_int_equal(parse(&f, "\n\nbody A /a#b/\n"), -1);
	assert_string_equal(f.err, "t.cf:3: A: not a delimited regex");
	done(&f);
	assert_int_equal(parse(&f, "body A /a\\#b/\n"), 0);
	assert_string_equal(cf_find(&f.cf, "A")->re, "a#b");
	done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_forms),
		cmocka_unit_test(test_rule_types),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_redefinition),
		cmocka_unit_test(test_conditionals),
		cmocka_unit_test(test_replace_tags),
		cmocka_unit_test(test_replace_delims),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_include_and_dir),
		cmocka_unit_test(test_comments_and_blanks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
