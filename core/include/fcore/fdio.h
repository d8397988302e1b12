/*
 * fdio - whole writes to a file descriptor.
 */
#ifndef FCORE_FDIO_H
#define FCORE_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* Writes all n bytes, retrying short writes and EINTR; false on error. */
bool fd_write_all(int fd, const void *p, size_t n);

#endif
