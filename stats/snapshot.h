/*
 * snapshot - the global store's token counts as one read-only file that
 * every worker maps, so a classification looks its tokens up in memory
 * instead of descending SQLite's B-tree once per token (0.3-0.4 ms of a
 * 1 ms scan, and 10 ms for a 20 KB message).
 *
 * The file is <db>.snap: a header (magic, the store revision the rows were
 * read at, the user's learned counts, the number of rows), a bucket index
 * on the hashes' top bits, then the rows (hash, spam, ham) sorted by hash.
 * It is written to a temporary name and renamed, so a reader maps either
 * the old file or the new one, never half of one.
 *
 * Exactness: the store bumps its revision on every committed write. A
 * reader uses the snapshot only when the store's current revision equals
 * the snapshot's; otherwise it asks SQLite, so a learn is seen by the next
 * scan whether or not the snapshot has caught up.
 */
#ifndef STATS_SNAPSHOT_H
#define STATS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct snap;

/* Reads user uid's rows from st in one transaction and writes path
 * atomically. The number of rows written, or -1 with err set. */
long snap_write(struct store *st, int64_t uid, const char *path, char *err, size_t errlen);

/* Maps path. NULL when it does not exist (err "") or is not a valid
 * snapshot (err says why). */
struct snap *snap_open(const char *path, char *err, size_t errlen);
void snap_close(struct snap **sp);

uint64_t snap_rev(const struct snap *s);
/* The learned counts stored with the rows (id set to the snapshot's user). */
void snap_user(const struct snap *s, struct store_user *u_r);
/* Counts of n hashes (any order); zero for a hash not in the snapshot. */
void snap_get(const struct snap *s, const uint64_t *h, size_t n, struct store_counts *out);
/* Which file a path named when last looked at: a reader reopens the
 * snapshot only when the writer has replaced it since. */
struct snap_ident {
	bool exists;
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};
/* Looks at path again; true when it names another file than *id said
 * (then *id is updated). */
bool snap_ident_update(const char *path, struct snap_ident *id);

/* The writer thread (snapshot_writer.c): its own read connection to
 * db_path, a first refresh at once, then one quiet seconds after the last
 * kick and at most max_delay after the first unwritten one. */
struct snap_writer;
struct snap_writer *snap_writer_start(const char *db_path, const char *snap_path, double quiet,
    double max_delay, char *err, size_t errlen);
/* After a committed write (learn, prune). */
void snap_writer_kick(struct snap_writer *w);
void snap_writer_stop(struct snap_writer **wp);

#endif
