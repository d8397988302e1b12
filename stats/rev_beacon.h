/*
 * rev_beacon - a shared word that every writer of a store sets to the
 * store's revision after each commit, so readers learn that nothing was
 * committed without asking SQLite.
 *
 * Asking costs a read transaction per classification: 12 us and three
 * fcntl locks, 2 % of a scan (perf over dev/). The beacon is <db>-rev, one
 * page mapped shared by every process that opens the store. Readers still
 * ask SQLite when it changes and at least once a second, so a commit that
 * did not come through this code (the sqlite3 shell, a crash between the
 * commit and the store) is seen within that second.
 */
#ifndef STATS_REV_BEACON_H
#define STATS_REV_BEACON_H

#include <stdbool.h>
#include <stdint.h>

struct rev_beacon;

/* Maps <db_path>-rev, creating it when it can; NULL when it cannot be
 * mapped (the caller then always asks SQLite). */
struct rev_beacon *rev_beacon_open(const char *db_path);
/* Sets the word (a store's writer, after each commit); false when this
 * process could only map the page for reading. */
bool rev_beacon_publish(struct rev_beacon *b, uint64_t rev);
uint64_t rev_beacon_read(const struct rev_beacon *b);
void rev_beacon_close(struct rev_beacon **bp);

#endif
