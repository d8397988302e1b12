/*
 * stats - per-user Bayes: tokenizer, classifier and the token store.
 *
 * Tokens (tokenize.c): orthogonal sparse bigrams (OSB: each word paired
 * with each of the next window-1 words, the distance part of the hash) over
 * the normalised words of the visible text (msg->mime->words; a plain
 * splitter over the text parts stands in while the parser leaves words
 * empty), OSB over the Subject, URL hosts, meta tokens (size class,
 * attachment count and types, charsets, HTML-only) and, when
 * cfg->stats.header_tokens, tokens from a fixed set of headers (From /
 * Reply-To / Message-ID domains, X-Mailer, User-Agent, Content-Type,
 * X-Priority, reply markers, Received hop class). Headers that name the
 * mailbox (Delivered-To, To, Cc, X-Original-To, List-*) are never used: they
 * say where a copy went, not what it is, and in the public corpus they leak
 * the label. Each token is a 64-bit XXH3 hash.
 *
 * Classifier (bayes.c): per token Robinson's f(w) = (s*x + n*p) / (s + n)
 * with p = (spam/Nspam) / (spam/Nspam + ham/Nham), s = 0.3, x = 0.6; tokens
 * with |f - 0.5| < 0.25 are skipped (bogofilter's min_dev) and the 150 most
 * significant of the rest are combined by Fisher's inverse chi-square,
 * H = C^-1(-2 sum ln f, 2n), S = C^-1(-2 sum ln(1 - f), 2n), P(spam) =
 * (1 + H - S) / 2, summed in log space.
 * BAYES_SPAM / BAYES_HAM fire when |P - 0.5| > 0.05, with the multiplier
 * ((max(P, 1-P) - 0.5) * 2)^8 and the option "(max(P,1-P) - 0.5) * 200 %"
 * exactly as rspamd 3.4, then "user" or "global" naming the store used.
 *
 * Defaults chosen with bench/bayes_eval (train 3,643 / dev 1,207 messages,
 * thin MIME parser): window 2 without unigrams is as accurate as windows
 * 3 and 5 (AUC 0.9984 vs 0.9988 vs 0.9977) at 2-4x the learning speed and
 * a quarter of the tokens; s = 0.3 and 150 significant tokens halve the
 * false positives where BAYES_SPAM fires compared with s = 1 and all tokens.
 * x = 0.6 with min_dev 0.25 (a token must say something clear to count;
 * one seen only a time or two leans a little towards spam) lifts the AUC
 * from 0.9986 to 0.9992 with header tokens, 0.9981 to 0.9986 without, and
 * BAYES_SPAM's recall from 0.955 to 0.963 at FPR 0.24 % (bench/README.md).
 *
 * Users: the user of a message is env.deliver_to, else the first recipient
 * (when cfg->stats.per_user). The user's own store answers when it holds
 * at least cfg->stats.min_learns messages of each class, else the global
 * store (user id 0) does, if it has enough; otherwise no symbol is inserted
 * and the reason is put into the result messages under the key "bayes".
 *
 * Learning: a message (identified by an XXH3-128 digest of its bytes after
 * any mbox "From " line) learned into the class it already has answers
 * STATS_LEARN_ALREADY; learned into the other class it is unlearned and
 * learned again. A learn for a user updates the user's store and, when
 * cfg->stats.learn_global, the global store; the learned-message record is
 * kept per (message, user), so the same message learned once for a user and
 * once without a user counts twice in the global store. Learns are buffered in memory
 * and written in one transaction at stats_learn_commit() (or at the end of
 * a lone stats_learn()), sorted by key, so bulk training is fast.
 *
 * Pruning: every token row carries the learn generation (a counter bumped
 * per learned message) at which it was last touched. When the table exceeds
 * cfg->stats.max_tokens, rows are deleted until it holds 90 % of the bound:
 * first rows seen in at most one message (spam + ham <= 1), oldest first,
 * then, if that is not enough, the oldest of the rest. Pruning runs at
 * the end of a bulk commit, every 512 single learns, or by stats_prune().
 *
 * Processes: one writer (the controller) opens with writer = true; workers
 * open read-only connections and see committed learns thanks to WAL; the
 * global store is read from the snapshot file while it is current. A
 * stats_ctx is one SQLite connection: use it from one thread at a time.
 * Every write is one transaction (BEGIN IMMEDIATE), so a killed writer
 * leaves either the whole learn or none of it.
 */
#ifndef STATS_STATS_H
#define STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"

struct fconf;
struct msg;
struct scan_result;
struct symtab;
struct arena;

#define STATS_SYM_SPAM "BAYES_SPAM"
#define STATS_SYM_HAM "BAYES_HAM"
#define STATS_WEIGHT_SPAM 5.1 /* rspamd's statistics_group.conf */
#define STATS_WEIGHT_HAM -3.0
#define STATS_RESULT_KEY "bayes" /* result message saying why there was no verdict */

struct stats_ctx;

/* db: cfg->stats.db or <cfg->state_dir>/bayes.sqlite. A reader creates the
 * database (schema only) when it does not exist yet. */
struct stats_ctx *stats_open(const struct fconf *cfg, bool writer, char *err, size_t errlen);
void stats_close(struct stats_ctx **cp);

void stats_register_symbols(struct symtab *t);

/* 0 on success (a symbol or a "bayes" message was added), -1 on a store error. */
int stats_classify(struct stats_ctx *c, const struct msg *msg, struct scan_result *res);

enum stats_learn_status {
	STATS_LEARN_OK,
	STATS_LEARN_ALREADY,
	STATS_LEARN_TOO_FEW_TOKENS,
	STATS_LEARN_ERROR,
};

/* user NULL or "": the global store only. err gets rspamd's text for
 * ALREADY ("<mid> has been already learned as spam, ignore it"), TOO_FEW
 * ("<mid> contains less tokens than required for bayes classifier: 4 < 11")
 * and the reason of an ERROR. Writer only. */
enum stats_learn_status stats_learn(struct stats_ctx *c, const struct msg *msg, bool spam,
    const char *user, char *err, size_t errlen);

/* Bulk learning: learns between begin and commit share one transaction and
 * one sorted write of all token deltas (all rows touched get the learn
 * generation of the commit). ALREADY and TOO_FEW_TOKENS leave the batch
 * intact; after an ERROR the caller must roll back. rollback drops them all.
 * The controller can use this as a group commit for learns that arrive
 * together: a lone learn costs one write of every B-tree page it touches. */
int stats_learn_begin(struct stats_ctx *c);
int stats_learn_commit(struct stats_ctx *c);
void stats_learn_rollback(struct stats_ctx *c);

struct stats_summary {
	uint64_t learned_spam;  /* distinct messages now learned as spam (all users) */
	uint64_t learned_ham;
	uint64_t tokens;        /* rows in the token table (all users) */
	uint64_t users;         /* users with a store of their own */
	uint64_t size_bytes;    /* database size (pages in use, WAL included) */
	uint64_t revision_spam; /* learn operations into spam, ever */
	uint64_t revision_ham;
};
int stats_summary(struct stats_ctx *c, struct stats_summary *out);

/* Prunes to the bound now (writer only); returns rows deleted or -1. */
long stats_prune(struct stats_ctx *c);

/* The snapshot (<db>.snap, when cfg->stats.snapshot): the global store's
 * token counts as a file the readers map. A reader uses it while the
 * store's revision equals the file's, and SQLite otherwise, so results are
 * the same either way; only the time differs.
 * stats_snapshot_write() writes it now from this connection (offline
 * learning, tests, bench/); stats_snapshot_follow() starts the writer's
 * background thread that rewrites it after learns (controller). Both
 * return 0 when the snapshot is off; write returns the tokens written. */
long stats_snapshot_write(struct stats_ctx *c, char *err, size_t errlen);
int stats_snapshot_follow(struct stats_ctx *c, char *err, size_t errlen);
/* Whether the last stats_classify() read the snapshot. */
bool stats_last_from_snapshot(const struct stats_ctx *c);

/* ---- lower level: tokenizer and classifier, for tests and bench/ ---- */

struct stats_tokens {
	uint64_t *v;      /* sorted, unique */
	size_t n;
	size_t ntext;     /* tokens from words and Subject (before dedup), for min_tokens */
};

struct stats_tok_opts {
	unsigned window;      /* OSB window, >= 2 */
	bool header_tokens;
	bool unigrams;        /* also a token per single word */
	bool meta_tokens;
};
void stats_tok_opts_from_cfg(struct stats_tok_opts *o, const struct fconf *cfg);

/* Tokens of msg in arena a. Never fails short of the arena budget (then the
 * token list is what fitted). */
void stats_tokenize(struct arena *a, const struct msg *msg, const struct stats_tok_opts *o,
    struct stats_tokens *out);
/* OSB over a word list alone (kind distinguishes body from Subject). */
size_t stats_osb(const struct span *words, size_t nwords, unsigned window, bool unigrams,
    unsigned kind, uint64_t *out, size_t outcap);
/* Hash of one prefixed token, e.g. stats_token_hash("H:from", "example.com", 11). */
uint64_t stats_token_hash(const char *prefix, const void *p, size_t len);

struct bayes_params {
	double robs;       /* Robinson's s */
	double robx;       /* Robinson's x */
	double min_dev;    /* skip tokens with |f - 0.5| below this */
	unsigned max_sig;  /* use at most this many most significant tokens; 0 = all */
};
void bayes_params_default(struct bayes_params *p);

/* Robinson's f(w) for a token seen spam/ham times among nspam/nham messages. */
double bayes_token_prob(const struct bayes_params *p, uint64_t spam, uint64_t ham,
    uint64_t nspam, uint64_t nham);
/* Fisher combining of n token probabilities (modified in place: those at
 * least min_dev from 0.5 moved to the front, sorted when max_sig applies). Returns P(spam) in [0, 1]; 0.5 when n == 0. logodds_r
 * (may be NULL) gets log(P / (1 - P)) computed in log space: it keeps
 * ranking messages where P itself rounds to 0 or 1. */
double bayes_combine(const struct bayes_params *p, double *f, size_t n, double *logodds_r);
/* Survival of chi-square with 2*halfdof degrees of freedom at x2. */
double bayes_chi2q(double x2, unsigned halfdof);

/* The last probability computed by stats_classify (NAN when none), and the
 * store that answered; for bench/ and tests. */
double stats_last_prob(const struct stats_ctx *c);
double stats_last_logodds(const struct stats_ctx *c);
/* Overrides the tokenizer and classifier parameters (bench/). */
void stats_set_params(struct stats_ctx *c, const struct stats_tok_opts *o, const struct bayes_params *p);

#endif
