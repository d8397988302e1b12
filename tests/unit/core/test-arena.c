/*
 * test-arena.c - the task arena: alignment, overflow and budget refusals,
 * realloc, destructors, the failure hook and large objects. Runs in both the
 * chunked build and the ARENA_DEBUG (sanitizer) build, where every
 * allocation is its own malloc and realloc always copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"

static bool
aligned(const void *p)
{
	return ((uintptr_t)p % alignof(max_align_t)) == 0;
}

static void
test_alignment_and_zalloc(void **state)
{
	struct arena *a = arena_new(0);
	for (size_t size = 0; size < 200; size++) {
		uint8_t *p = arena_alloc(a, size);
		assert_non_null(p);
		assert_true(aligned(p));
		memset(p, 0xa5, size);
		uint8_t *z = arena_zalloc(a, size + 1);
		assert_non_null(z);
		assert_true(aligned(z));
		for (size_t i = 0; i <= size; i++)
			assert_int_equal(z[i], 0);
	}
	struct pair {
		long a;
		double b;
	} *pp = ARENA_NEW(a, struct pair);
	assert_non_null(pp);
	assert_int_equal(pp->a, 0);
	int *arr = ARENA_NEW_ARRAY(a, int, 10);
	assert_non_null(arr);
	assert_false(arena_exhausted(a));
	arena_free(&a);
	assert_null(a);
	arena_free(&a); /* NULL is fine */
}

static void
test_array_overflow(void **state)
{
	struct arena *a = arena_new(0);
	assert_non_null(arena_array(a, 0, 16));
	assert_non_null(arena_array(a, 16, 0));
	assert_false(arena_exhausted(a));
	assert_null(arena_array(a, SIZE_MAX / 2 + 1, 2));
	assert_true(arena_exhausted(a));
	assert_null(arena_array(a, SIZE_MAX, SIZE_MAX));
	/* The arena still serves sane requests afterwards. */
	assert_non_null(arena_array(a, 4, 4));
	arena_free(&a);
}

static void
test_budget(void **state)
{
	struct arena *a = arena_new(1000);
	assert_non_null(arena_alloc(a, 600));
	assert_int_equal(arena_bytes_used(a), 600);
	assert_false(arena_exhausted(a));
	assert_null(arena_alloc(a, 401));
	assert_true(arena_exhausted(a));
	assert_int_equal(arena_bytes_used(a), 600); /* a refused request costs nothing */
	/* What still fits is served; "exhausted" stays set for the scan to report. */
	assert_non_null(arena_alloc(a, 400));
	assert_int_equal(arena_bytes_used(a), 1000);
	assert_null(arena_alloc(a, 1));
	assert_null(arena_strdup(a, "x"));
	assert_null(arena_printf(a, "%d", 1));
	assert_null(arena_memdup(a, "ab", 2));
	assert_true(arena_exhausted(a));
	arena_free(&a);

	a = arena_new(64);
	assert_non_null(arena_alloc(a, 64));
	assert_null(arena_alloc(a, 1));
	arena_free(&a);
}

static void
test_arena_realloc(void **state)
{
	struct arena *a = arena_new(0);
	char *p = arena_alloc(a, 16);
	memcpy(p, "0123456789abcdef", 16);
	char *q = arena_realloc(a, p, 16, 40);
	assert_non_null(q);
	assert_memory_equal(q, "0123456789abcdef", 16);
#ifndef ARENA_DEBUG
	assert_ptr_equal(q, p); /* the last allocation grows where it is */
#endif
	memset(q + 16, 'x', 24);
	/* Not the last allocation any more: it must move and keep its bytes. */
	char *other = arena_alloc(a, 8);
	assert_non_null(other);
	char *r = arena_realloc(a, q, 40, 100);
	assert_non_null(r);
	assert_ptr_not_equal(r, q);
	assert_memory_equal(r, "0123456789abcdef", 16);
	for (int i = 16; i < 40; i++)
		assert_int_equal(r[i], 'x');
	/* Shrinking keeps the pointer. */
	assert_ptr_equal(arena_realloc(a, r, 100, 10), r);
	/* NULL old is a plain allocation. */
	assert_non_null(arena_realloc(a, NULL, 0, 32));
	/* Growing past the chunk moves, even when it was the last one. */
	char *s = arena_alloc(a, 32);
	memset(s, 'y', 32);
	char *t = arena_realloc(a, s, 32, 64 * 1024);
	assert_non_null(t);
	for (int i = 0; i < 32; i++)
		assert_int_equal(t[i], 'y');
	arena_free(&a);

	/* With a budget, a refused realloc returns NULL and leaves old intact. */
	a = arena_new(200);
	p = arena_alloc(a, 100);
	memset(p, 'z', 100);
	assert_null(arena_realloc(a, p, 100, 400));
	assert_true(arena_exhausted(a));
	assert_int_equal(p[99], 'z');
	arena_free(&a);
}

static int order[8];
static int norder;

static void
record(void *data)
{
	order[norder++] = *(int *)data;
}

static void
test_destructors_reverse(void **state)
{
	static int ids[] = { 1, 2, 3, 4 };
	norder = 0;
	struct arena *a = arena_new(16);
	for (int i = 0; i < 4; i++)
		arena_add_destructor(a, record, &ids[i]);
	/* Even past the budget a destructor is kept. */
	assert_null(arena_alloc(a, 100));
	arena_add_destructor(a, record, &ids[0]);
	assert_int_equal(norder, 0);
	arena_free(&a);
	assert_int_equal(norder, 5);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 4);
	assert_int_equal(order[2], 3);
	assert_int_equal(order[3], 2);
	assert_int_equal(order[4], 1);
}

static void
test_fail_after(void **state)
{
	struct arena *a = arena_new(0);
	arena_fail_after(a, 3);
	assert_non_null(arena_alloc(a, 8));
	assert_non_null(arena_alloc(a, 8));
	assert_false(arena_exhausted(a));
	assert_null(arena_alloc(a, 8));
	assert_true(arena_exhausted(a));
	/* One-shot: the next allocation works again. */
	assert_non_null(arena_alloc(a, 8));
	arena_fail_after(a, 1);
	assert_null(arena_strdup(a, "abc"));
	arena_fail_after(a, 0); /* never */
	for (int i = 0; i < 100; i++)
		assert_non_null(arena_alloc(a, 8));
	arena_free(&a);
}

static void
test_big_allocations(void **state)
{
	struct arena *a = arena_new(0);
	char *small = arena_alloc(a, 10);
	memcpy(small, "small-one", 10);
	size_t big = 3u << 20;
	uint8_t *p = arena_alloc(a, big);
	assert_non_null(p);
	assert_true(aligned(p));
	memset(p, 0x5a, big);
	/* The current chunk stays open for small objects. */
	char *small2 = arena_alloc(a, 10);
	assert_non_null(small2);
	memcpy(small2, "small-two", 10);
	assert_string_equal(small, "small-one");
	assert_int_equal(p[0], 0x5a);
	assert_int_equal(p[big - 1], 0x5a);
	/* Many chunks' worth of small objects. */
	for (int i = 0; i < 10000; i++) {
		uint64_t *v = arena_alloc(a, 200);
		assert_non_null(v);
		*v = (uint64_t)i;
	}
	assert_true(arena_bytes_used(a) >= big + 10000 * 200);
	/* Sizes that would wrap the chunk header or the alignment are refused. */
	assert_null(arena_alloc(a, SIZE_MAX));
	assert_true(arena_exhausted(a));
	assert_null(arena_alloc(a, SIZE_MAX - 8));
	/* Aligns without wrapping, but header + size would wrap: a short chunk
	 * handed out as a huge one is the bug this guards against. */
	assert_null(arena_alloc(a, SIZE_MAX - 100));
	assert_null(arena_realloc(a, small, 10, SIZE_MAX - 100));
	assert_null(arena_strndup(a, "x", SIZE_MAX));
	arena_free(&a);
}

static void
test_strings(void **state)
{
	struct arena *a = arena_new(0);
	char *s = arena_strndup(a, "ab\0cd", 5);
	assert_memory_equal(s, "ab\0cd", 6);
	assert_string_equal(arena_strdup(a, ""), "");
	assert_string_equal(arena_printf(a, "%s-%05d", "x", 42), "x-00042");
	uint8_t *m = arena_memdup(a, "\x01\x00\x02", 3);
	assert_memory_equal(m, "\x01\x00\x02", 3);
	assert_non_null(arena_memdup(a, NULL, 0));
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment_and_zalloc),
		cmocka_unit_test(test_array_overflow),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_arena_realloc),
		cmocka_unit_test(test_destructors_reverse),
		cmocka_unit_test(test_fail_after),
		cmocka_unit_test(test_big_allocations),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
