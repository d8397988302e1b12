#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns_name.h"
#include "fcore/cfg.h"

static const char *
ip_name(char *out, size_t outsz, const char *ip, const char *zone)
{
	struct in6_addr a;
	bool v4;
	assert_true(dns_name_parse_ip(ip, &a, &v4));
	return dns_name_ip(out, outsz, &a, v4, zone) > 0 ? out : NULL;
}

static void
test_ipv4(void **state)
{
	(void)state;
	char n[DNS_NAME_MAX];
	assert_string_equal(ip_name(n, sizeof(n), "192.0.2.99", "zen.example"), "99.2.0.192.zen.example");
	assert_string_equal(ip_name(n, sizeof(n), "127.0.0.2", "bl.test."), "2.0.0.127.bl.test");
	/* a v4-mapped IPv6 client is an IPv4 one for the lists */
	assert_string_equal(ip_name(n, sizeof(n), "::ffff:10.1.2.3", "bl.test"), "3.2.1.10.bl.test");
	struct in6_addr a;
	bool v4;
	assert_false(dns_name_parse_ip("192.0.2", &a, &v4));
	assert_false(dns_name_parse_ip("example.com", &a, &v4));
	/* too small a buffer is refused, not truncated */
	char small[12];
	assert_null(ip_name(small, sizeof(small), "192.0.2.99", "zen.example"));
}

static void
test_ipv6(void **state)
{
	(void)state;
	char n[DNS_NAME_MAX];
	/* RFC 5782 §2.4 example shape, protocols.md 6.3 */
	assert_string_equal(ip_name(n, sizeof(n), "2001:db8::1", "zone"),
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zone");
	assert_string_equal(ip_name(n, sizeof(n), "2001:DB8:ABCD:12::F", "v6.test"),
	    "f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.v6.test");
	/* a zone so long the name passes 253 bytes */
	char zone[200];
	memset(zone, 'a', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = '\0';
	assert_null(ip_name(n, sizeof(n), "2001:db8::1", zone));
}

static size_t
dom(char *out, const char *d, const char *zone)
{
	return dns_name_domain(out, DNS_NAME_MAX, span_make(d, strlen(d)), zone);
}

static void
test_domain(void **state)
{
	(void)state;
	char n[DNS_NAME_MAX];
	assert_int_equal(dom(n, "Example.COM", "dbl.test"), strlen("example.com.dbl.test"));
	assert_string_equal(n, "example.com.dbl.test");
	assert_true(dom(n, "mail.example.org.", "multi.test") > 0);
	assert_string_equal(n, "mail.example.org.multi.test");
	assert_true(dom(n, "xn--bcher-kva.example", "dbl.test") > 0);
	assert_string_equal(n, "xn--bcher-kva.example.dbl.test");
	/* hostile bytes never reach the resolver */
	assert_int_equal(dom(n, "a b.example", "dbl.test"), 0);
	assert_int_equal(dom(n, "a..example", "dbl.test"), 0);
	assert_int_equal(dom(n, ".example", "dbl.test"), 0);
	assert_int_equal(dom(n, "", "dbl.test"), 0);
	assert_int_equal(dom(n, "[192.0.2.1]", "dbl.test"), 0);
	assert_int_equal(dom(n, "evil.example\n", "dbl.test"), 0);
	assert_int_equal(dns_name_domain(n, sizeof(n), span_make("a\0b.example", 11), "dbl.test"), 0);
	char label[80];
	memset(label, 'x', 64);
	strcpy(label + 64, ".example");
	assert_int_equal(dom(n, label, "dbl.test"), 0); /* 64-byte label */
	assert_true(dom(n, label + 1, "dbl.test") > 0); /* 63 bytes: the limit */
}

static void
test_numeric_url(void **state)
{
	(void)state;
	/* a URL host decoded to an IP is queried like an address */
	char n[DNS_NAME_MAX];
	assert_string_equal(ip_name(n, sizeof(n), "203.0.113.7", "multi.surbl.test"),
	    "7.113.0.203.multi.surbl.test");
}

static void
test_listing(void **state)
{
	(void)state;
	assert_true(dns_answer_is_listing(0x7f000002));
	assert_true(dns_answer_is_listing(0x7f00000a));
	assert_false(dns_answer_is_listing(0x0a000002));       /* 10.0.0.2 */
	assert_false(dns_answer_is_listing(0x7fffffff));       /* 127.255.255.255 */
	assert_true(dns_answer_is_refusal(0x7ffffffe));        /* 127.255.255.254 */
	assert_false(dns_answer_is_refusal(0x7f000002));
}

static void
test_patterns(void **state)
{
	(void)state;
	assert_true(dns_pattern_match("127%.0%.0%.%d+", "127.0.0.2"));
	assert_true(dns_pattern_match("127%.0%.0%.%d+", "127.0.0.255"));
	assert_false(dns_pattern_match("127%.0%.0%.%d+", "127.0.0."));
	assert_false(dns_pattern_match("127%.0%.0%.%d+", "127.0.0.2x")); /* anchored */
	assert_false(dns_pattern_match("127%.0%.0%.%d+", "1127.0.0.2"));
	assert_true(dns_pattern_match("127.0.%d+.2", "127.0.15.2")); /* '.' = any byte */
	assert_true(dns_pattern_match("127%.0%.0%.[4-7]", "127.0.0.6"));
	assert_false(dns_pattern_match("127%.0%.0%.[4-7]", "127.0.0.8"));
	assert_true(dns_pattern_match("127%.0%.0%.[^4-7]", "127.0.0.8"));
	assert_true(dns_pattern_match("127%.0%.0%.1?0", "127.0.0.10"));
	assert_true(dns_pattern_match("127%.0%.0%.1?0", "127.0.0.0"));
	assert_true(dns_pattern_match("127%..-%.2", "127.0.9.2"));
	assert_false(dns_pattern_match("127%.0%.0%.[4", "127.0.0.4")); /* malformed */
	assert_false(dns_pattern_match("127%", "127"));
}

static struct fconf *
load(const char *yaml)
{
	char err[512] = "";
	struct fconf *c = cfg_load_buffer("test.yaml", yaml, strlen(yaml), err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s\n", err);
	assert_non_null(c);
	return c;
}

static void
test_returncodes(void **state)
{
	(void)state;
	struct fconf *c = load("rbl:\n"
	                       "  zones:\n"
	                       "    - symbol: ZEN\n"
	                       "      zone: zen.test\n"
	                       "      returncodes:\n"
	                       "        ZEN_SBL: 127.0.0.2\n"
	                       "        ZEN_XBL: [127.0.0.4, 127.0.0.5, \"127%.0%.0%.[67]\"]\n"
	                       "        ZEN_ANY: \"127%.0%.0%.%d+\"\n"
	                       "        ZEN_PBL: { codes: [127.0.0.10, 127.0.0.11], weight: 0.5 }\n");
	assert_int_equal(c->rbl.nzones, 1);
	const struct cfg_rbl_zone *z = &c->rbl.zones[0];
	assert_true(z->weight == 0.0);
	const char *s[8];
	assert_int_equal(dns_answer_map(z, 0x7f000002, s, 8), 2);
	assert_string_equal(s[0], "ZEN_SBL");
	assert_string_equal(s[1], "ZEN_ANY");
	assert_int_equal(dns_answer_map(z, 0x7f000007, s, 8), 2);
	assert_string_equal(s[0], "ZEN_XBL");
	assert_int_equal(dns_answer_map(z, 0x7f000005, s, 1), 2); /* counted past max */
	assert_string_equal(s[0], "ZEN_XBL");
	assert_int_equal(dns_answer_map(z, 0x7f000103, s, 8), 0); /* 127.0.1.3 */
	assert_int_equal(dns_answer_map(z, 0x7f00000b, s, 8), 2);
	assert_string_equal(s[0], "ZEN_ANY");
	assert_string_equal(s[1], "ZEN_PBL");
	/* the long form carries a weight; the short one does not */
	for (size_t i = 0; i < z->ncodes; i++) {
		bool pbl = strcmp(z->codes[i].symbol, "ZEN_PBL") == 0;
		assert_int_equal(z->codes[i].weighted, pbl);
		if (pbl)
			assert_true(z->codes[i].weight == 0.5);
	}
	cfg_free(&c);
}

static void
test_returnbits(void **state)
{
	(void)state;
	struct fconf *c = load("rbl:\n"
	                       "  zones:\n"
	                       "    - symbol: MULTI\n"
	                       "      zone: multi.test\n"
	                       "      checks: [urls]\n"
	                       "      returnbits: { M_PH: { bits: 8, weight: 7.5 }, M_MW: 16, M_ABUSE: 64, M_CR: 128 }\n");
	const struct cfg_rbl_zone *z = &c->rbl.zones[0];
	const char *s[8];
	/* 127.0.0.72 = 64 + 8 */
	assert_int_equal(dns_answer_map(z, 0x7f000048, s, 8), 2);
	assert_string_equal(s[0], "M_PH");
	assert_string_equal(s[1], "M_ABUSE");
	assert_int_equal(dns_answer_map(z, 0x7f000002, s, 8), 0);
	assert_int_equal(dns_answer_map(z, 0x7f0000d8, s, 8), 4); /* 128+64+16+8 */
	assert_true(z->codes[0].weighted && z->codes[0].weight == 7.5);
	cfg_free(&c);
	char err[256];
	const char *bad = "rbl:\n  zones:\n    - symbol: X\n      zone: x.test\n"
	                  "      returnbits: { X_A: { weight: 2 } }\n";
	assert_null(cfg_load_buffer("bad.yaml", bad, strlen(bad), err, sizeof(err)));
	assert_non_null(strstr(err, "bits"));
}

static const struct cfg_rbl_zone *
zone_named(const struct fconf *c, const char *sym)
{
	for (size_t i = 0; i < c->rbl.nzones; i++)
		if (strcmp(c->rbl.zones[i].symbol, sym) == 0)
			return &c->rbl.zones[i];
	fail_msg("no zone %s", sym);
	return NULL;
}

/* The well-known lists of docs/config.md load and map as documented. */
static void
test_documented_zones(void **state)
{
	(void)state;
	static char doc[1 << 18];
	FILE *f = fopen(SOURCE_DIR "/docs/config.md", "rb");
	assert_non_null(f);
	size_t n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	char *begin = strstr(doc, "<!-- rbl-zones: begin -->\n```yaml\n");
	assert_non_null(begin);
	begin = strchr(strchr(begin, '\n') + 1, '\n') + 1;
	char *end = strstr(begin, "```\n<!-- rbl-zones: end -->");
	assert_non_null(end);
	*end = '\0';
	struct fconf *c = load(begin);
	assert_int_equal(c->rbl.nzones, 7);
	for (size_t i = 0; i < c->rbl.nzones; i++)
		assert_false(c->rbl.zones[i].enabled);
	const char *s[8];
	assert_int_equal(dns_answer_map(zone_named(c, "RBL_SPAMHAUS"), 0x7f000006, s, 8), 1);
	assert_string_equal(s[0], "RBL_SPAMHAUS_XBL");
	assert_int_equal(dns_answer_map(zone_named(c, "RBL_SPAMHAUS"), 0x7ffffffe, s, 8), 1);
	assert_string_equal(s[0], "RBL_SPAMHAUS_BLOCKED");
	assert_int_equal(dns_answer_map(zone_named(c, "DBL"), 0x7f000104, s, 8), 1);
	assert_string_equal(s[0], "DBL_PHISH");
	assert_int_equal(dns_answer_map(zone_named(c, "SURBL_MULTI"), 0x7f000018, s, 8), 2);
	assert_string_equal(s[0], "PH_SURBL_MULTI");
	assert_string_equal(s[1], "MW_SURBL_MULTI");
	assert_int_equal(dns_answer_map(zone_named(c, "URIBL_MULTI"), 0x7f000001, s, 8), 0);
	assert_int_equal(dns_answer_map(zone_named(c, "RCVD_IN_DNSWL"), 0x7f000a03, s, 8), 1);
	assert_string_equal(s[0], "RCVD_IN_DNSWL_HI");
	cfg_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_numeric_url),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_returncodes),
		cmocka_unit_test(test_returnbits),
		cmocka_unit_test(test_documented_zones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
