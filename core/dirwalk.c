/*
 * dirwalk - iterative over an explicit stack of pending paths: the depth
 * of a directory tree is not ours to trust.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fcore/dirwalk.h"
#include "fcore/xalloc.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entries of directory path (dot-files left out) as "path/name", sorted. */
static char **
dir_names(const char *path, size_t *n_r, const char *who, unsigned *errors)
{
	char **names = NULL;
	size_t n = 0;
	*n_r = 0;
	DIR *d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "%s: %s: %s\n", who, path, strerror(errno));
		(*errors)++;
		return NULL;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		size_t sz = strlen(path) + strlen(de->d_name) + 2;
		names[n] = xmalloc(sz);
		snprintf(names[n], sz, "%s/%s", path, de->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	*n_r = n;
	return names;
}

int
dirwalk(const char *path, dirwalk_fn fn, void *arg, const char *who, unsigned *errors)
{
	char **stack = xmalloc(sizeof(*stack));
	size_t depth = 1;
	int rc = 0;
	stack[0] = xstrdup(path);
	while (depth > 0 && rc == 0) {
		char *p = stack[--depth];
		struct stat st;
		if (stat(p, &st) != 0) {
			fprintf(stderr, "%s: %s: %s\n", who, p, strerror(errno));
			(*errors)++;
		} else if (!S_ISDIR(st.st_mode)) {
			rc = fn(p, arg);
		} else {
			size_t n;
			char **names = dir_names(p, &n, who, errors);
			/* Pushed in reverse so they pop in name order. */
			stack = xreallocarray(stack, depth + n + 1, sizeof(*stack));
			for (size_t i = n; i > 0; i--)
				stack[depth++] = names[i - 1];
			free(names);
		}
		free(p);
	}
	while (depth > 0)
		free(stack[--depth]);
	free(stack);
	return rc;
}
