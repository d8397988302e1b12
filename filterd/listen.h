/*
 * listen - opening the listening sockets named in the config
 * ("127.0.0.1:11333", "[::1]:11333", "/run/filterd/scan.sock").
 * The supervisor opens them before fork; workers accept on the shared fds.
 */
#ifndef FILTERD_LISTEN_H
#define FILTERD_LISTEN_H

#include <stddef.h>

/* Returns a non-blocking listening fd, or -1 with a reason in err. */
int listen_open(const char *spec, char *err, size_t errlen);

#endif
