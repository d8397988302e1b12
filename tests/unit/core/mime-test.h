/* Shared by the test-mime-*.c files: cmocka includes and a per-test arena. */
#ifndef MIME_TEST_H
#define MIME_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../../core/mime-private.h"

static struct arena *ta;

static int
setup(void **state)
{
	(void)state;
	ta = arena_new(0);
	return ta == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	arena_free(&ta);
	return 0;
}

static inline struct mime_message *
parse_str(const char *s)
{
	return mime_parse(ta, span_make(s, strlen(s)), NULL);
}

static inline bool
span_is(struct span s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

#define assert_str(a, b) assert_string_equal((a) ? (a) : "(null)", (b) ? (b) : "(null)")
#define assert_span(s, want)                                                            \
	do {                                                                             \
		if (!span_is((s), (want)))                                               \
			fail_msg("got '%.*s' want '%s'", (int)(s).len, (const char *)(s).p, (want)); \
	} while (0)

#define TESTS(...)                                                                        \
	int main(void)                                                                    \
	{                                                                                 \
		const struct CMUnitTest tests[] = { __VA_ARGS__ };                       \
		return cmocka_run_group_tests(tests, NULL, NULL);                        \
	}
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
