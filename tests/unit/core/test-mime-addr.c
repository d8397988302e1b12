/* Address lists: every syntax form we meet in mail. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "mime-test.h"

struct want {
	const char *name, *addr, *local, *domain;
	bool group, invalid;
};

static const struct {
	const char *in;
	size_t n;
	struct want w[3];
} cases[] = {
	{ "user@example.com", 1, { { NULL, "user@example.com", "user", "example.com" } } },
	{ "<user@example.com>", 1, { { NULL, "user@example.com", "user", "example.com" } } },
	{ "John Doe <John@Example.COM>", 1, { { "John Doe", "John@Example.COM", "John", "example.com" } } },
	{ "\"Doe, John\" <j@x.org>", 1, { { "Doe, John", "j@x.org", "j", "x.org" } } },
	{ "\"a \\\"q\\\" b\" <j@x.org>", 1, { { "a \"q\" b", "j@x.org", "j", "x.org" } } },
	{ "\" Spaced \" <j@x.org>", 1, { { "Spaced", "j@x.org", "j", "x.org" } } },
	{ "\" \" <j@x.org>", 1, { { NULL, "j@x.org", "j", "x.org" } } },
	/* comment as the name (old style) */
	{ "j@x.org (John Doe)", 1, { { "John Doe", "j@x.org", "j", "x.org" } } },
	{ "John (the (nested) one) <j@x.org>", 1, { { "John", "j@x.org", "j", "x.org" } } },
	/* quoted local part */
	{ "\"john smith\"@x.org", 1, { { NULL, "john smith@x.org", "john smith", "x.org" } } },
	{ "<\"a@b\"@x.org>", 1, { { NULL, "a@b@x.org", "a@b", "x.org" } } },
	/* encoded display name, which may hide a comma */
	{ "=?utf-8?Q?Doe=2C_J=C3=B6rg?= <j@x.org>", 1,
	    { { "Doe, J\xc3\xb6rg", "j@x.org", "j", "x.org" } } },
	/* lists */
	{ "a@x.org, B <b@y.org>,c@z.org", 3,
	    { { NULL, "a@x.org", "a", "x.org" }, { "B", "b@y.org", "b", "y.org" },
	        { NULL, "c@z.org", "c", "z.org" } } },
	{ "a@x.org,, ,b@y.org", 2, { { NULL, "a@x.org", "a", "x.org" }, { NULL, "b@y.org", "b", "y.org" } } },
	/* groups */
	{ "friends: a@x.org, B <b@y.org>; c@z.org", 3,
	    { { NULL, "a@x.org", "a", "x.org", true }, { "B", "b@y.org", "b", "y.org", true },
	        { NULL, "c@z.org", "c", "z.org", false } } },
	{ "undisclosed-recipients:;", 0, { { 0 } } },
	/* obsolete: route, CFWS around '@' and dots */
	{ "<@relay1,@relay2:user@host.org>", 1, { { NULL, "user@host.org", "user", "host.org" } } },
	{ "user @ host . org", 1, { { NULL, "user@host.org", "user", "host.org" } } },
	/* null sender */
	{ "<>", 1, { { NULL, "", NULL, NULL } } },
	/* broken forms: still reported, marked invalid */
	{ "John Doe user@x.org", 1, { { "John Doe", "user@x.org", "user", "x.org", false, true } } },
	{ "John <user@x.org", 1, { { "John", "user@x.org", "user", "x.org", false, true } } },
	{ "just-a-name", 1, { { NULL, "just-a-name", "just-a-name", NULL, false, true } } },
	{ "Deal Shopper", 1, { { "Deal Shopper", "", NULL, NULL, false, true } } },
	{ "\"Zofia\"", 1, { { "Zofia", "", NULL, NULL, false, true } } },
	{ "user@", 1, { { NULL, "user@", "user", "", false, true } } },
	{ "user@bad domain!.org", 1, { { NULL, "user@baddomain!.org", "user", "baddomain!.org", false, true } } },
	/* domain literal */
	{ "<u@[192.0.2.1]>", 1, { { NULL, "u@[192.0.2.1]", "u", "[192.0.2.1]" } } },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_addr_list l = { 0 };
		mime_addr_parse(ta, cases[i].in, strlen(cases[i].in), &l);
		if (l.n != cases[i].n)
			fail_msg("case %zu (%s): %zu addresses", i, cases[i].in, l.n);
		for (size_t k = 0; k < l.n; k++) {
			const struct want *w = &cases[i].w[k];
			const struct mime_addr *a = &l.v[k];
#define CHK(f)                                                                              \
	if ((w->f == NULL) != (a->f == NULL) || (w->f && strcmp(w->f, a->f) != 0))              \
		fail_msg("case %zu.%zu %s: got '%s' want '%s'", i, k, #f, a->f ? a->f : "(null)", \
		    w->f ? w->f : "(null)");
			CHK(name) CHK(addr) CHK(local) CHK(domain)
#undef CHK
			if (a->in_group != w->group || a->invalid != w->invalid)
				fail_msg("case %zu.%zu: group %d invalid %d", i, k, a->in_group, a->invalid);
		}
	}
}

static void
test_message_lists(void **state)
{
	(void)state;
	struct mime_message *m = parse_str(
	    "From: A <a@x.org>\nTo: b@y.org,\n c@z.org\nTo: d@w.org\nCc: e@v.org\n"
	    "Reply-To: r@x.org\nSender: s@x.org\n\nbody");
	assert_int_equal(m->from.n, 1);
	assert_str(m->from.v[0].name, "A");
	assert_int_equal(m->to.n, 3); /* both To headers, folded list */
	assert_str(m->to.v[1].addr, "c@z.org");
	assert_str(m->to.v[2].addr, "d@w.org");
	assert_int_equal(m->cc.n, 1);
	assert_str(m->reply_to.v[0].addr, "r@x.org");
	assert_str(m->sender.v[0].addr, "s@x.org");
	m = parse_str("From: \xff\xfe <a@x.org>\n\nx");
	assert_true(mime_message_has_anomaly(m, MIME_A_INVALID_FROM_8BIT));
}

TESTS(T(test_table), T(test_message_lists))
