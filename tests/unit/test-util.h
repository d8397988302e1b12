/*
 * test-util.h - small helpers shared by the unit-test binaries (each test
 * file is its own executable, so these are static).
 */
#ifndef FILTERD_TEST_UTIL_H
#define FILTERD_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Removes a temporary directory and everything under it; the test fails
 * if that does not work. Needs cmocka.h included first. */
static inline void
test_remove_tree(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

#endif
