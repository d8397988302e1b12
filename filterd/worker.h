/*
 * worker - one child process: a libevent loop serving its listeners.
 *
 * A scan worker serves the scanner port (and the milter port); the
 * controller serves port 11334. SIGTERM stops accepting and lets requests in
 * flight finish (bounded by the task budget), then the process exits.
 */
#ifndef FILTERD_WORKER_H
#define FILTERD_WORKER_H

#include "scan.h"
#include "shm.h"

enum worker_role { WORKER_SCAN, WORKER_CONTROLLER };

struct worker_fds {
	int *scan;
	size_t nscan;
	int *controller;
	size_t ncontroller;
	int *milter;
	size_t nmilter;
};

/* Runs until stopped; returns the process exit status. */
int worker_main(enum worker_role role, struct scan_engine *engine, const struct worker_fds *fds,
    struct shm_stats *shm);

#endif
