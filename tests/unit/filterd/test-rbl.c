#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fcore/cfg.h"
#include "rbl.h"

static int
check(const char *resolver, bool enabled, char *err, size_t errlen)
{
	struct fconf *c = cfg_defaults();
	c->rbl.enabled = enabled;
	c->rbl.resolver = resolver;
	int rc = rbl_check_config(c, err, errlen);
	cfg_free(&c);
	return rc;
}

static void
test_resolver_config(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(check("127.0.0.1:5353", true, err, sizeof(err)), 0);
	assert_int_equal(check("127.0.0.1", true, err, sizeof(err)), 0);
	assert_int_equal(check("[::1]:53", true, err, sizeof(err)), 0);
	assert_int_equal(check(FIXTURES_DIR, true, err, sizeof(err)), 0); /* readable path */
	assert_int_equal(check("resolver.example:53", true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rbl.resolver"));
	assert_int_equal(check("/nonexistent/resolv.conf", true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/resolv.conf"));
	/* nothing is checked while the lists are off */
	assert_int_equal(check("bogus", false, err, sizeof(err)), 0);
}

static void
test_new_and_free(void **state)
{
	(void)state;
	char err[256];
	struct event_base *base = event_base_new();
	struct fconf *c = cfg_defaults();
	c->rbl.enabled = true;
	c->rbl.resolver = "127.0.0.1:9";
	struct rbl *r = rbl_new(c, base, err, sizeof(err));
	assert_non_null(r);
	rbl_free(&r);
	assert_null(r);
	rbl_free(&r); /* twice is harmless */
	c->rbl.resolver = "not an address";
	assert_null(rbl_new(c, base, err, sizeof(err)));
	cfg_free(&c);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolver_config),
		cmocka_unit_test(test_new_and_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
