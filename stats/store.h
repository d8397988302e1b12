/*
 * store - the token store behind Bayes, as a typed table of functions so a
 * Redis backend can sit beside SQLite (store_sqlite.c).
 *
 * A store holds, per user id (0 = global): token counts (spam, ham) keyed by
 * the 64-bit hash, the number of messages learned into each class, and the
 * digests of learned messages. Writes happen between begin() and commit();
 * token deltas given to tokens_add() may be buffered until commit().
 */
#ifndef STATS_STORE_H
#define STATS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/stats.h"

#define STORE_DIGEST_LEN 16

struct store;

struct store_counts {
	uint32_t spam;
	uint32_t ham;
};

struct store_user {
	int64_t id;         /* 0 = global */
	uint64_t learned_spam;
	uint64_t learned_ham;
};

enum store_learned {
	STORE_LEARNED_NONE = -1,
	STORE_LEARNED_HAM = 0,
	STORE_LEARNED_SPAM = 1,
};

struct store_ops {
	const char *name;
	/* Looks up a user (name "" = global); create makes one (writer).
	 * Returns 1 found, 0 not found, -1 error. */
	int (*user_get)(struct store *s, const char *name, bool create, struct store_user *u_r);
	/* Counts of n sorted unique hashes for one user, in one read. */
	int (*tokens_get)(struct store *s, int64_t uid, const uint64_t *h, size_t n,
	    struct store_counts *out);
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	/* Within begin/commit: adds dspam/dham (may be negative) to n tokens. */
	int (*tokens_add)(struct store *s, int64_t uid, const uint64_t *h, size_t n, int dspam,
	    int dham);
	int (*user_add)(struct store *s, int64_t uid, int dspam, int dham);
	/* Learned-message records: class and whether the global store got it too. */
	int (*learned_get)(struct store *s, const uint8_t *digest, int64_t uid,
	    enum store_learned *cls_r, bool *global_r);
	int (*learned_set)(struct store *s, const uint8_t *digest, int64_t uid,
	    enum store_learned cls, bool global);
	/* Bumps the learn generation (pruning age) and the class revision. */
	int (*generation_next)(struct store *s, bool spam);
	int (*summary)(struct store *s, struct stats_summary *out);
	/* Deletes tokens down to 90 % of max when above max; rows deleted or -1. */
	long (*prune)(struct store *s, uint64_t max_tokens);
	/* The data revision: bumped by every committed write, so two equal
	 * values mean the same committed data (snapshot.c relies on it). */
	int (*rev)(struct store *s, uint64_t *rev_r);
	/* One consistent read (one read transaction) of the revision, a
	 * user's learned counts and every token row of the user with a non-zero
	 * count; fn returning non-zero stops the scan (then 1 is returned).
	 * u_r->id is -1 when the user is missing. */
	int (*tokens_scan)(struct store *s, int64_t uid, uint64_t *rev_r, struct store_user *u_r,
	    int (*fn)(void *arg, uint64_t hash, struct store_counts c), void *arg);
	const char *(*errmsg)(struct store *s);
	void (*close)(struct store **sp);
};

struct store {
	const struct store_ops *ops;
};

struct store *store_sqlite_open(const char *path, bool writer, char *err, size_t errlen);

#endif
