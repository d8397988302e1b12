/*
 * shm - counters shared by every process, mapped before fork.
 *
 * Workers add to them after each scan; the controller reads them for /stat,
 * /auth and the console. Plain atomics: no locks, no pointers inside.
 */
#ifndef FILTERD_SHM_H
#define FILTERD_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "fcore/result.h"

#define SHM_SCAN_TIMES 31

struct shm_stats {
	_Atomic uint64_t scanned;
	_Atomic uint64_t learned;
	_Atomic uint64_t actions[ACTION_COUNT];
	_Atomic uint64_t connections;
	_Atomic uint64_t control_connections;
	_Atomic uint64_t scan_time_next;
	_Atomic uint32_t scan_times_us[SHM_SCAN_TIMES]; /* 0 = empty slot */
	_Atomic int64_t start_time;
};

struct shm_stats *shm_stats_create(void);
void shm_stats_record_scan(struct shm_stats *s, enum action a, double seconds);
void shm_stats_reset(struct shm_stats *s);

#endif
