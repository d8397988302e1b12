/*
 * rev_beacon.c - mapping and reading the store's revision word.
 *
 * The file is created (and grown to a page) by whichever process opens the
 * store first and may write it; a process that may not maps it read-only,
 * and one that finds no file at all goes without. The word is only ever
 * compared for change, never trusted as the revision itself.
 */
#include "rev_beacon.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcore/xalloc.h"

#define BEACON_SIZE 4096

struct rev_beacon {
	uint64_t *word;
	bool writable;
};

static int
open_file(const char *path, bool *writable)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	*writable = fd >= 0;
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat sb;
	/* never shrunk: another process may have it mapped */
	if (fstat(fd, &sb) != 0 || (sb.st_size < BEACON_SIZE &&
	    (!*writable || ftruncate(fd, BEACON_SIZE) != 0))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct rev_beacon *
rev_beacon_open(const char *db_path)
{
	char path[4096];
	bool writable;
	if ((size_t)snprintf(path, sizeof(path), "%s-rev", db_path) >= sizeof(path))
		return NULL;
	int fd = open_file(path, &writable);
	if (fd < 0)
		return NULL;
	void *map = mmap(NULL, BEACON_SIZE, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd,
	    0);
	close(fd);
	if (map == MAP_FAILED)
		return NULL;
	struct rev_beacon *b = xcalloc(1, sizeof(*b));
	b->word = map;
	b->writable = writable;
	return b;
}

bool
rev_beacon_publish(struct rev_beacon *b, uint64_t rev)
{
	if (b == NULL || !b->writable)
		return false;
	__atomic_store_n(b->word, rev, __ATOMIC_RELEASE);
	return true;
}

uint64_t
rev_beacon_read(const struct rev_beacon *b)
{
	return __atomic_load_n(b->word, __ATOMIC_ACQUIRE);
}

void
rev_beacon_close(struct rev_beacon **bp)
{
	struct rev_beacon *b = *bp;
	if (b == NULL)
		return;
	*bp = NULL;
	munmap(b->word, BEACON_SIZE);
	free(b);
}
