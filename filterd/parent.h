/*
 * parent - the supervisor process.
 *
 * DESIGN
 * The supervisor owns everything that outlives a worker: the config
 * generation, the compiled rules (built once here, inherited by fork and
 * shared copy-on-write), the listening sockets and the shared counters.
 * It forks `workers` scan workers and one controller, and then only watches:
 *   SIGCHLD  a child of the current generation that died is forked again
 *            (after a second if it died young, so a crash loop cannot spin);
 *   SIGHUP   the config file is read again; if it is bad, the error is
 *            logged and nothing changes; if it is good, a new engine is
 *            built, a new generation of children forked, and the old one
 *            sent SIGTERM (they finish their requests in flight);
 *   SIGTERM  every child is sent SIGTERM; the supervisor exits when the
 *   SIGINT   last one has (children that overstay are killed).
 */
#ifndef FILTERD_PARENT_H
#define FILTERD_PARENT_H

#include "fcore/cfg.h"

/* Takes ownership of cfg. Returns the process exit status. */
int parent_main(struct fconf *cfg, const char *config_path);

#endif
