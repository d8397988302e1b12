/*
 * test-dirwalk.c - files in name order, directories descended, dot-files
 * skipped, unreadable paths counted, a callback's non-zero stops the walk,
 * and a tree deeper than any sane stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../test-util.h"

#include "fcore/dirwalk.h"

struct seen {
	char names[16][512];
	size_t n;
	size_t total;
	size_t stop_at; /* 0: never */
};

static int
record(const char *path, void *arg)
{
	struct seen *s = arg;
	if (s->n < 16)
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", path);
	s->total++;
	return s->stop_at != 0 && s->total == s->stop_at ? 7 : 0;
}

static void
touch(const char *dir, const char *name)
{
	char p[512];
	int n = snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_true(n > 0 && (size_t)n < sizeof(p));
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
}

static void
make_tree(char *dir)
{
	assert_non_null(mkdtemp(dir));
	char p[512];
	snprintf(p, sizeof(p), "%s/b", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.hidden", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	touch(dir, "c");
	touch(dir, "a");
	touch(dir, ".dot");
	snprintf(p, sizeof(p), "%s/b", dir);
	touch(p, "z");
	touch(p, "y");
	snprintf(p, sizeof(p), "%s/.hidden", dir);
	touch(p, "h");
}

static void
test_order_and_skips(void **state)
{
	char dir[] = "/tmp/dirwalk.XXXXXX";
	make_tree(dir);
	struct seen s = { .n = 0 };
	unsigned errors = 0;
	assert_int_equal(dirwalk(dir, record, &s, "test", &errors), 0);
	assert_int_equal(errors, 0);
	assert_int_equal(s.n, 4);
	const char *want[] = { "/a", "/b/y", "/b/z", "/c" };
	for (size_t i = 0; i < 4; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s%s", dir, want[i]);
		assert_string_equal(s.names[i], p);
	}
	/* A file argument is the file itself, dot or not. */
	char p[512];
	snprintf(p, sizeof(p), "%s/.dot", dir);
	memset(&s, 0, sizeof(s));
	assert_int_equal(dirwalk(p, record, &s, "test", &errors), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], p);
	test_remove_tree(dir);
}

static void
test_errors_and_stop(void **state)
{
	char dir[] = "/tmp/dirwalk.XXXXXX";
	make_tree(dir);
	struct seen s = { .n = 0 };
	unsigned errors = 0;
	char p[512];
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(dirwalk(p, record, &s, "test", &errors), 0);
	assert_int_equal(errors, 1);
	assert_int_equal(s.n, 0);
	s.stop_at = 2;
	assert_int_equal(dirwalk(dir, record, &s, "test", &errors), 7);
	assert_int_equal(s.total, 2);
	assert_int_equal(errors, 1);
	test_remove_tree(dir);
}

static void
test_deep_tree(void **state)
{
	char dir[] = "/tmp/dirwalk.XXXXXX";
	assert_non_null(mkdtemp(dir));
	/* Deep by relative mkdir so no path exceeds what the test builds. */
	char *cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(dir), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(mkdir("d", 0700), 0);
		assert_int_equal(chdir("d"), 0);
	}
	touch(".", "leaf");
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	struct seen s = { .n = 0 };
	unsigned errors = 0;
	assert_int_equal(dirwalk(dir, record, &s, "test", &errors), 0);
	assert_int_equal(errors, 0);
	assert_int_equal(s.total, 1);
	test_remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_skips),
		cmocka_unit_test(test_errors_and_stop),
		cmocka_unit_test(test_deep_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
