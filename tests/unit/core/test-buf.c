/*
 * test-buf.c - spans (borrowed bytes) and bufs (owned, growable bytes), on
 * the heap and in an arena with a budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/buf.h"

static void
test_span_eq(void **state)
{
	struct span a = SPAN_LIT("Hello");
	assert_true(span_eq(a, span_make("Hello", 5)));
	assert_false(span_eq(a, span_make("Hell", 4)));
	assert_false(span_eq(a, span_make("hello", 5)));
	assert_true(span_eq(span_make(NULL, 0), span_make("", 0)));
	assert_true(span_eq_cstr(a, "Hello"));
	assert_false(span_eq_cstr(a, "Hello!"));
	/* Bytes after a NUL still count. */
	assert_false(span_eq(span_make("a\0b", 3), span_make("a\0c", 3)));
	assert_true(span_eq(span_make("a\0b", 3), span_make("a\0b", 3)));
	assert_false(span_eq_cstr(span_make("a\0b", 3), "a"));

	assert_true(span_caseeq_cstr(span_make("CONTENT-type", 12), "content-TYPE"));
	assert_false(span_caseeq_cstr(span_make("content-typ", 11), "content-type"));
	assert_false(span_caseeq_cstr(span_make("a\0", 2), "ab"));
	assert_true(span_caseeq_cstr(span_make("", 0), ""));
	assert_true(span_has_prefix_ci(span_make("Received: x", 11), "received:"));
	assert_false(span_has_prefix_ci(span_make("Recei", 5), "received:"));
	assert_false(span_has_prefix_ci(span_make("Re\0eived:", 9), "received:"));
	assert_true(span_has_prefix_ci(span_make(NULL, 0), ""));

	struct span c = span_from_cstr("abc");
	assert_int_equal(c.len, 3);
	assert_int_equal(span_from_cstr(NULL).len, 0);
}

static void
test_span_trim(void **state)
{
	struct span t = span_trim(span_make(" \t\r\n value \r\n", 13));
	assert_true(span_eq_cstr(t, "value"));
	assert_int_equal(span_trim(span_make(" \t \r\n", 5)).len, 0);
	assert_int_equal(span_trim(span_make(NULL, 0)).len, 0);
	/* Inner blanks and other bytes stay. */
	assert_true(span_eq_cstr(span_trim(span_make("\va b\v", 5)), "\va b\v"));
	assert_true(span_eq_cstr(span_trim(span_make(" a b ", 5)), "a b"));
}

static void
test_span_find(void **state)
{
	struct span hay = span_make("ab\0cd--boundary--", 17);
	assert_int_equal(span_find(hay, SPAN_LIT("--boundary")), 5);
	assert_int_equal(span_find(hay, span_make("\0c", 2)), 2);
	assert_int_equal(span_find(hay, SPAN_LIT("nope")), -1);
	assert_int_equal(span_find(hay, span_make("", 0)), 0);
	assert_int_equal(span_find(SPAN_LIT("ab"), SPAN_LIT("abc")), -1);
	assert_int_equal(span_find(span_make(NULL, 0), SPAN_LIT("a")), -1);
	assert_int_equal(span_find_byte(hay, '\0'), 2);
	assert_int_equal(span_find_byte(hay, '-'), 5);
	assert_int_equal(span_find_byte(hay, 'z'), -1);
	assert_int_equal(span_find_byte(span_make(NULL, 0), 'a'), -1);
}

static void
test_span_sub(void **state)
{
	struct span s = SPAN_LIT("0123456789");
	assert_true(span_eq_cstr(span_sub(s, 2, 3), "234"));
	assert_true(span_eq_cstr(span_sub(s, 7, 100), "789"));
	assert_true(span_eq_cstr(span_sub(s, 0, SIZE_MAX), "0123456789"));
	struct span e = span_sub(s, 10, 1);
	assert_int_equal(e.len, 0);
	assert_ptr_equal(e.p, s.p + 10);
	e = span_sub(s, 11, 5);
	assert_int_equal(e.len, 0);
	assert_ptr_equal(e.p, s.p + 10); /* clamped to the end, never past it */
	e = span_sub(s, SIZE_MAX, SIZE_MAX);
	assert_int_equal(e.len, 0);
	assert_ptr_equal(e.p, s.p + 10);
}

static void
test_buf_heap(void **state)
{
	struct buf b;
	buf_init(&b, NULL);
	assert_string_equal(buf_cstr(&b), "");
	assert_true(buf_append(&b, "ab", 2));
	assert_true(buf_append_byte(&b, 0));
	assert_true(buf_append_cstr(&b, "cd"));
	assert_true(buf_append_span(&b, SPAN_LIT("ef")));
	assert_true(buf_append(&b, NULL, 0));
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "ab\0cdef", 7);
	assert_true(buf_printf(&b, "[%d:%s]", 42, "x"));
	assert_int_equal(b.len, 13);
	const char *s = buf_cstr(&b);
	assert_memory_equal(s, "ab\0cdef[42:x]", 14); /* terminator not counted */
	assert_int_equal(b.len, 13);
	/* Growth across many doublings keeps every byte. */
	for (int i = 0; i < 10000; i++)
		assert_true(buf_append_byte(&b, (uint8_t)i));
	assert_int_equal(b.len, 10013);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b.data[13 + i], (uint8_t)i);
	char big[300];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(buf_printf(&b, "%s", big));
	assert_int_equal(b.len, 10013 + 299);
	assert_true(span_eq(buf_span(&b), span_make(b.data, b.len)));
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_deinit(&b);
	assert_null(b.data);
}

/* Appends until the arena budget refuses; the buffer must then hold exactly
 * what was accepted, refuse further appends, and still terminate. */
static void
test_buf_arena_budget(void **state)
{
	struct arena *a = arena_new(1000);
	struct buf b;
	buf_init(&b, a);
	size_t accepted = 0;
	uint8_t chunk[50];
	for (int round = 0; round < 100; round++) {
		memset(chunk, 'a' + round % 26, sizeof(chunk));
		if (!buf_append(&b, chunk, sizeof(chunk)))
			break;
		accepted += sizeof(chunk);
	}
	assert_true(b.failed);
	assert_true(arena_exhausted(a));
	assert_true(accepted > 0 && accepted < 1000);
	assert_int_equal(b.len, accepted);
	assert_true(b.cap > b.len);
	for (size_t i = 0; i < accepted; i++)
		assert_int_equal(b.data[i], 'a' + (i / 50) % 26);
	/* Failed is sticky: even a byte that would fit is refused, so the
	 * content never has a hole in the middle. */
	assert_false(buf_append_byte(&b, 'z'));
	assert_false(buf_append(&b, NULL, 0));
	assert_false(buf_printf(&b, "x"));
	assert_int_equal(b.len, accepted);
	const char *s = buf_cstr(&b);
	assert_int_equal(strlen(s), accepted);
	buf_reset(&b);
	assert_false(b.failed);
	assert_true(buf_append_cstr(&b, "ok"));
	assert_string_equal(buf_cstr(&b), "ok");
	buf_deinit(&b);
	arena_free(&a);
}

/* A buffer filled to its last byte before the budget: the terminator fits in
 * the capacity it has, so buf_cstr() must not need to grow or fail. */
static void
test_buf_cstr_at_budget(void **state)
{
	struct arena *a = arena_new(64);
	struct buf b;
	buf_init(&b, a);
	char data[63];
	memset(data, 'x', sizeof(data));
	assert_true(buf_append(&b, data, sizeof(data)));
	assert_int_equal(b.cap, 64);
	const char *s = buf_cstr(&b);
	assert_false(b.failed);
	assert_int_equal(strlen(s), 63);
	assert_int_equal(b.len, 63);
	/* One more byte does not fit (its terminator would need a 65th). */
	assert_false(buf_append_byte(&b, 'y'));
	assert_true(b.failed);
	assert_int_equal(strlen(buf_cstr(&b)), 63);
	arena_free(&a);
}

static void
test_buf_arena_fail_hook(void **state)
{
	struct arena *a = arena_new(0);
	struct buf b;
	buf_init(&b, a);
	assert_true(buf_append_cstr(&b, "first"));
	arena_fail_after(a, 1);
	char big[200];
	memset(big, 'b', sizeof(big));
	assert_false(buf_append(&b, big, sizeof(big)));
	assert_true(b.failed);
	assert_int_equal(b.len, 5);
	assert_string_equal(buf_cstr(&b), "first");
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_span_eq),
		cmocka_unit_test(test_span_trim),
		cmocka_unit_test(test_span_find),
		cmocka_unit_test(test_span_sub),
		cmocka_unit_test(test_buf_heap),
		cmocka_unit_test(test_buf_arena_budget),
		cmocka_unit_test(test_buf_cstr_at_budget),
		cmocka_unit_test(test_buf_arena_fail_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
