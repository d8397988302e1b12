#include "shm.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fcore/log.h"

struct shm_stats *
shm_stats_create(void)
{
	struct shm_stats *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		log_fatal("mmap of shared counters failed");
	memset(s, 0, sizeof(*s));
	atomic_store(&s->start_time, (int64_t)time(NULL));
	return s;
}

void
shm_stats_record_scan(struct shm_stats *s, enum action a, double seconds)
{
	atomic_fetch_add(&s->scanned, 1);
	atomic_fetch_add(&s->actions[a], 1);
	uint64_t slot = atomic_fetch_add(&s->scan_time_next, 1) % SHM_SCAN_TIMES;
	double us = seconds * 1e6;
	atomic_store(&s->scan_times_us[slot], us < 1 ? 1 : us > 4e9 ? 4000000000u : (uint32_t)us);
}

void
shm_stats_reset(struct shm_stats *s)
{
	atomic_store(&s->scanned, 0);
	atomic_store(&s->learned, 0);
	for (int i = 0; i < ACTION_COUNT; i++)
		atomic_store(&s->actions[i], 0);
}
