/*
 * dirwalk - every regular file under a path, in name order, for the tools
 * that take FILE|DIR arguments (filterd scan / learn, filterc). In core
 * because filterd/ and learn/ are peers above it and neither links the
 * other; it needs nothing but the C library.
 */
#ifndef FCORE_DIRWALK_H
#define FCORE_DIRWALK_H

/* Called per file; a non-zero return stops the walk and is returned by dirwalk. */
typedef int (*dirwalk_fn)(const char *path, void *arg);

/* Calls fn for path, or for every file under it (recursively, name order,
 * dot-files skipped like rspamc). Paths that cannot be read are reported on
 * stderr as "who: path: reason" and counted in *errors. Returns 0, or what
 * fn returned when it stopped the walk. */
int dirwalk(const char *path, dirwalk_fn fn, void *arg, const char *who, unsigned *errors);

#endif
