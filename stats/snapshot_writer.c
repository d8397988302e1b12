/*
 * snapshot_writer.c - the controller's background thread that keeps the
 * token snapshot current.
 *
 * Learns arrive one by one (imapsieve, rspamc) or in bursts; rewriting
 * the file after each would cost more than the lookups it saves. The
 * thread rewrites it once learning has been quiet for a while, and at the
 * latest max_delay after the first learn it has not written yet; readers
 * meanwhile ask SQLite, which is exact. It reads on its own connection,
 * so the controller's loop never waits for it.
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fcore/clock.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"

struct snap_writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *db_path;
	char *snap_path;
	double quiet, max_delay;
	bool stop;
	bool pending;
	double first_kick, last_kick;
};

static double
due_time(const struct snap_writer *w)
{
	double quiet_end = w->last_kick + w->quiet, latest = w->first_kick + w->max_delay;
	return quiet_end < latest ? quiet_end : latest;
}

static struct timespec
abs_time(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	return ts;
}

/* Sleeps until a write is due; false when asked to stop. */
static bool
wait_due(struct snap_writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->stop && !(w->pending && clock_mono() >= due_time(w))) {
		if (w->pending) {
			struct timespec ts = abs_time(due_time(w));
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		} else {
			pthread_cond_wait(&w->cv, &w->mu);
		}
	}
	bool go = !w->stop;
	w->pending = false;
	pthread_mutex_unlock(&w->mu);
	return go;
}

/* Rewrites the file unless it already holds the store's revision. */
static void
refresh(struct snap_writer *w, struct store *st)
{
	char err[512];
	uint64_t rev;
	if (st->ops->rev(st, &rev) < 0) {
		log_warn("bayes snapshot: %s", st->ops->errmsg(st));
		return;
	}
	struct snap *old = snap_open(w->snap_path, err, sizeof(err));
	bool current = old != NULL && snap_rev(old) == rev;
	snap_close(&old);
	if (current)
		return;
	if (snap_write(st, 0, w->snap_path, err, sizeof(err)) < 0)
		log_warn("bayes snapshot: %s", err);
}

/* A writer killed between writing and renaming leaves <snap>.tmp.<pid>;
 * this removes those whose process is gone. */
static void
remove_orphans(const char *snap_path)
{
	char dir[4096];
	const char *slash = strrchr(snap_path, '/');
	const char *base = slash ? slash + 1 : snap_path;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == snap_path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - snap_path), snap_path);
	size_t blen = strlen(base);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0)
			continue;
		char *end;
		long pid = strtol(n + blen + 5, &end, 10);
		if (*end != '\0' || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
			char path[8192];
			snprintf(path, sizeof(path), "%s/%s", dir, n);
			unlink(path);
		}
	}
	closedir(d);
}

static void *
writer_main(void *arg)
{
	struct snap_writer *w = arg;
	char err[512];
	remove_orphans(w->snap_path);
	struct store *st = store_sqlite_open(w->db_path, false, err, sizeof(err));
	if (st == NULL) {
		log_warn("bayes snapshot: %s", err);
		return NULL;
	}
	while (wait_due(w))
		refresh(w, st);
	st->ops->close(&st);
	return NULL;
}

struct snap_writer *
snap_writer_start(const char *db_path, const char *snap_path, double quiet, double max_delay,
    char *err, size_t errlen)
{
	struct snap_writer *w = xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->mu, NULL);
	w->db_path = xstrdup(db_path);
	w->snap_path = xstrdup(snap_path);
	w->quiet = quiet;
	w->max_delay = max_delay;
	/* a first pass at once: the file may be missing or stale */
	w->pending = true;
	w->first_kick = w->last_kick = clock_mono() - quiet;
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "snapshot thread: %s", strerror(rc));
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w->db_path);
		free(w->snap_path);
		free(w);
		return NULL;
	}
	return w;
}

void
snap_writer_kick(struct snap_writer *w)
{
	double now = clock_mono();
	pthread_mutex_lock(&w->mu);
	if (!w->pending)
		w->first_kick = now;
	w->pending = true;
	w->last_kick = now;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
snap_writer_stop(struct snap_writer **wp)
{
	struct snap_writer *w = *wp;
	if (w == NULL)
		return;
	*wp = NULL;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->db_path);
	free(w->snap_path);
	free(w);
}
