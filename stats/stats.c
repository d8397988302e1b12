/*
 * stats.c - the Bayes context: which store answers, learning with the
 * learned-message records, classification into BAYES_SPAM / BAYES_HAM.
 */
#include "stats/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/log.h"
#include "fcore/mime.h"
#include "fcore/numfmt.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"
#include "fcore/xalloc.h"
#include "snapshot.h"
#include "store.h"

#define PRUNE_EVERY 512 /* single learns between two pruning checks */
#define SNAP_QUIET 1.0      /* seconds without a learn before the snapshot is rewritten */
#define SNAP_MAX_DELAY 10.0 /* ... but no later than this after the first learn it lacks */

struct stats_ctx {
	struct store *store;
	char *db_path;
	char *snap_path;          /* NULL: stats.snapshot off */
	struct snap *snap;        /* readers: the mapped snapshot, maybe stale */
	struct snap_ident snap_id;
	struct snap_writer *snapw; /* writer: the thread keeping it current */
	bool last_from_snap;
	bool writer;
	bool bulk;
	unsigned min_learns;
	unsigned min_tokens;
	bool per_user;
	bool learn_global;
	uint64_t max_tokens;
	unsigned since_prune;
	struct stats_tok_opts tok;
	struct bayes_params bp;
	double last_prob;
	double last_logodds;
};

struct stats_ctx *
stats_open(const struct fconf *cfg, bool writer, char *err, size_t errlen)
{
	char path[4096];
	if (cfg->stats.db != NULL && cfg->stats.db[0] != '\0')
		snprintf(path, sizeof(path), "%s", cfg->stats.db);
	else
		snprintf(path, sizeof(path), "%s/bayes.sqlite", cfg->state_dir ? cfg->state_dir : ".");
	struct store *st = store_sqlite_open(path, writer, err, errlen);
	if (st == NULL)
		return NULL;
	struct stats_ctx *c = xcalloc(1, sizeof(*c));
	c->store = st;
	c->writer = writer;
	c->db_path = xstrdup(path);
	if (cfg->stats.snapshot) {
		c->snap_path = xmalloc(strlen(path) + sizeof(".snap"));
		sprintf(c->snap_path, "%s.snap", path);
	}
	c->min_learns = cfg->stats.min_learns;
	c->min_tokens = cfg->stats.min_tokens;
	c->per_user = cfg->stats.per_user;
	c->learn_global = cfg->stats.learn_global;
	c->max_tokens = cfg->stats.max_tokens;
	c->last_prob = NAN;
	stats_tok_opts_from_cfg(&c->tok, cfg);
	bayes_params_default(&c->bp);
	return c;
}

void
stats_close(struct stats_ctx **cp)
{
	struct stats_ctx *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	snap_writer_stop(&c->snapw);
	snap_close(&c->snap);
	c->store->ops->close(&c->store);
	free(c->snap_path);
	free(c->db_path);
	free(c);
}

void
stats_set_params(struct stats_ctx *c, const struct stats_tok_opts *o, const struct bayes_params *p)
{
	if (o != NULL)
		c->tok = *o;
	if (p != NULL)
		c->bp = *p;
}

double
stats_last_prob(const struct stats_ctx *c)
{
	return c->last_prob;
}

double
stats_last_logodds(const struct stats_ctx *c)
{
	return c->last_logodds;
}

void
stats_register_symbols(struct symtab *t)
{
	symtab_add(t, STATS_SYM_SPAM, STATS_WEIGHT_SPAM, "statistics",
	    "Message probably spam, probability: ");
	symtab_add(t, STATS_SYM_HAM, STATS_WEIGHT_HAM, "statistics",
	    "Message probably ham, probability: ");
}

static const char *
msg_user(const struct stats_ctx *c, const struct msg *msg)
{
	if (!c->per_user)
		return NULL;
	if (msg->env.deliver_to != NULL && msg->env.deliver_to[0] != '\0')
		return msg->env.deliver_to;
	if (msg->env.nrcpt > 0 && msg->env.rcpt[0] != NULL && msg->env.rcpt[0][0] != '\0')
		return msg->env.rcpt[0];
	return NULL;
}

static bool
enough(const struct stats_ctx *c, const struct store_user *u)
{
	return u->learned_spam >= c->min_learns && u->learned_ham >= c->min_learns;
}

/* The snapshot when it holds exactly the store's committed data, else
 * NULL (SQLite answers). A replaced file is mapped again; a stale one is
 * kept until the writer replaces it. */
static const struct snap *
current_snap(struct stats_ctx *c)
{
	uint64_t rev;
	if (c->snap_path == NULL || c->store->ops->rev(c->store, &rev) < 0)
		return NULL;
	if (c->snap != NULL && snap_rev(c->snap) == rev)
		return c->snap;
	if (snap_ident_update(c->snap_path, &c->snap_id)) {
		char err[512];
		snap_close(&c->snap);
		c->snap = snap_open(c->snap_path, err, sizeof(err));
		if (c->snap == NULL && err[0] != '\0')
			log_warn("bayes: %s", err);
	}
	return c->snap != NULL && snap_rev(c->snap) == rev ? c->snap : NULL;
}

/* The store that answers for this message; 0 and *why set when none. */
static int
pick_store(struct stats_ctx *c, const struct msg *msg, struct store_user *u_r, bool *per_user_r,
    char *why, size_t whylen)
{
	const struct store_ops *ops = c->store->ops;
	const char *user = msg_user(c, msg);
	*per_user_r = false;
	c->last_from_snap = false;
	if (user != NULL) {
		int rc = ops->user_get(c->store, user, false, u_r);
		if (rc < 0)
			return -1;
		if (rc > 0 && enough(c, u_r)) {
			*per_user_r = true;
			return 1;
		}
	}
	const struct snap *snap = current_snap(c);
	int rc = 1;
	if (snap != NULL)
		snap_user(snap, u_r);
	else
		rc = ops->user_get(c->store, "", false, u_r);
	if (rc < 0)
		return -1;
	c->last_from_snap = snap != NULL;
	if (rc > 0 && enough(c, u_r))
		return 1;
	bool spam_short = rc == 0 || u_r->learned_spam < c->min_learns;
	snprintf(why, whylen,
	    "not classified: the %s class needs more training samples (%llu of %u learned)",
	    spam_short ? "spam" : "ham",
	    rc == 0 ? 0ULL : (unsigned long long)(spam_short ? u_r->learned_spam : u_r->learned_ham),
	    c->min_learns);
	return 0;
}

static struct arena *
work_arena(const struct msg *msg, struct arena **own_r)
{
	*own_r = NULL;
	if (msg->arena != NULL)
		return msg->arena;
	*own_r = arena_new(0);
	return *own_r;
}

static void
insert_verdict(const struct stats_ctx *c, struct scan_result *res, double prob, bool per_user)
{
	double p = prob < 0.5 ? 1.0 - prob : prob;
	double mult = pow((p - 0.5) * 2.0, 8);
	char pct[NUMFMT_MAX + 1];
	size_t n = fmt_fixed(pct, (p - 0.5) * 200.0, 2);
	memcpy(pct + n, "%", 2);
	struct fired_symbol *s = result_insert(res, prob > 0.5 ? STATS_SYM_SPAM : STATS_SYM_HAM,
	    mult > 1.0 ? 1.0 : mult, pct);
	if (s != NULL)
		result_add_option(s, res, per_user ? "user" : "global");
}

static double
probability(struct stats_ctx *c, struct arena *a, const struct stats_tokens *t,
    const struct store_counts *cnt, const struct store_user *u)
{
	double *f = ARENA_NEW_ARRAY(a, double, t->n ? t->n : 1);
	size_t n = 0;
	if (f == NULL)
		return 0.5;
	for (size_t i = 0; i < t->n; i++)
		if (cnt[i].spam + (uint64_t)cnt[i].ham > 0)
			f[n++] = bayes_token_prob(&c->bp, cnt[i].spam, cnt[i].ham, u->learned_spam,
			    u->learned_ham);
	return bayes_combine(&c->bp, f, n, &c->last_logodds);
}

int
stats_classify(struct stats_ctx *c, const struct msg *msg, struct scan_result *res)
{
	struct store_user u;
	bool per_user;
	char why[160];
	c->last_prob = NAN;
	c->last_logodds = NAN;
	int rc = pick_store(c, msg, &u, &per_user, why, sizeof(why));
	if (rc <= 0) {
		if (rc == 0)
			result_add_message(res, STATS_RESULT_KEY, arena_strdup(res->arena, why));
		return rc;
	}
	if (msg->mime == NULL) {
		result_add_message(res, STATS_RESULT_KEY, "not classified: no parsed message");
		return 0;
	}
	struct arena *own, *a = work_arena(msg, &own);
	struct stats_tokens t;
	stats_tokenize(a, msg, &c->tok, &t);
	struct store_counts *cnt = ARENA_NEW_ARRAY(a, struct store_counts, t.n ? t.n : 1);
	rc = -1;
	if (cnt != NULL && c->last_from_snap && !per_user) {
		snap_get(c->snap, t.v, t.n, cnt);
		rc = 0;
	} else if (cnt != NULL && c->store->ops->tokens_get(c->store, u.id, t.v, t.n, cnt) == 0) {
		rc = 0;
	}
	if (rc == 0) {
		c->last_prob = probability(c, a, &t, cnt, &u);
		if (fabs(c->last_prob - 0.5) > 0.05)
			insert_verdict(c, res, c->last_prob, per_user);
		else
			result_add_message(res, STATS_RESULT_KEY, "not classified: no significant tokens");
	}
	arena_free(&own);
	return rc;
}

static void
message_digest(const struct msg *msg, uint8_t out[STORE_DIGEST_LEN])
{
	struct span raw = msg->mime != NULL ? msg->mime->raw : msg->raw;
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, XXH3_128bits(raw.p, raw.len));
	memcpy(out, canon.digest, STORE_DIGEST_LEN);
}

static void
mid_text(const struct msg *msg, char *out, size_t outlen)
{
	const char *mid = msg->mime != NULL ? msg->mime->message_id : NULL;
	char esc[256];
	if (mid == NULL)
		snprintf(out, outlen, "<undef>");
	else
		snprintf(out, outlen, "<%s>", log_escape(esc, sizeof(esc), mid, strlen(mid)));
}

static int
learn_apply(struct stats_ctx *c, const struct stats_tokens *t, int64_t uid, bool global,
    int dspam, int dham)
{
	const struct store_ops *ops = c->store->ops;
	if (ops->tokens_add(c->store, uid, t->v, t->n, dspam, dham) < 0 ||
	    ops->user_add(c->store, uid, dspam, dham) < 0)
		return -1;
	if (global && uid != 0 &&
	    (ops->tokens_add(c->store, 0, t->v, t->n, dspam, dham) < 0 ||
	    ops->user_add(c->store, 0, dspam, dham) < 0))
		return -1;
	return 0;
}

/* Within a transaction: the learn itself, with the move between classes. */
static enum stats_learn_status
learn_tx(struct stats_ctx *c, const struct msg *msg, const struct stats_tokens *t, bool spam,
    const char *user, char *err, size_t errlen)
{
	const struct store_ops *ops = c->store->ops;
	struct store_user u = { .id = 0 };
	uint8_t digest[STORE_DIGEST_LEN];
	enum store_learned old;
	bool old_global;
	if (c->per_user && user != NULL && user[0] != '\0' &&
	    ops->user_get(c->store, user, true, &u) <= 0)
		return STATS_LEARN_ERROR;
	message_digest(msg, digest);
	if (ops->learned_get(c->store, digest, u.id, &old, &old_global) < 0)
		return STATS_LEARN_ERROR;
	if (old == (spam ? STORE_LEARNED_SPAM : STORE_LEARNED_HAM)) {
		char mid[300];
		mid_text(msg, mid, sizeof(mid));
		snprintf(err, errlen, "%s has been already learned as %s, ignore it", mid,
		    spam ? "spam" : "ham");
		return STATS_LEARN_ALREADY;
	}
	if (old != STORE_LEARNED_NONE &&
	    learn_apply(c, t, u.id, old_global, spam ? 0 : -1, spam ? -1 : 0) < 0)
		return STATS_LEARN_ERROR;
	bool global = c->learn_global;
	if (learn_apply(c, t, u.id, global, spam ? 1 : 0, spam ? 0 : 1) < 0 ||
	    ops->learned_set(c->store, digest, u.id, spam ? STORE_LEARNED_SPAM : STORE_LEARNED_HAM,
	    global && u.id != 0) < 0 ||
	    ops->generation_next(c->store, spam) < 0)
		return STATS_LEARN_ERROR;
	return STATS_LEARN_OK;
}

static void
maybe_prune(struct stats_ctx *c, unsigned learns)
{
	c->since_prune += learns;
	if (c->since_prune < PRUNE_EVERY)
		return;
	c->since_prune = 0;
	if (c->store->ops->prune(c->store, c->max_tokens) < 0)
		log_warn("bayes: pruning failed: %s", c->store->ops->errmsg(c->store));
}

/* After a committed write: pruning when due, then the snapshot. */
static void
after_commit(struct stats_ctx *c, unsigned learns)
{
	maybe_prune(c, learns);
	if (c->snapw != NULL)
		snap_writer_kick(c->snapw);
}

enum stats_learn_status
stats_learn(struct stats_ctx *c, const struct msg *msg, bool spam, const char *user, char *err,
    size_t errlen)
{
	const struct store_ops *ops = c->store->ops;
	char scratch[8];
	if (err == NULL || errlen == 0) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	if (!c->writer) {
		snprintf(err, errlen, "bayes store opened read-only");
		return STATS_LEARN_ERROR;
	}
	struct arena *own, *a = work_arena(msg, &own);
	struct stats_tokens t;
	stats_tokenize(a, msg, &c->tok, &t);
	enum stats_learn_status st;
	if (t.ntext < c->min_tokens) {
		char mid[300];
		mid_text(msg, mid, sizeof(mid));
		snprintf(err, errlen, "%s contains less tokens than required for bayes classifier: %zu < %u",
		    mid, t.ntext, c->min_tokens);
		st = STATS_LEARN_TOO_FEW_TOKENS;
	} else if (!c->bulk && ops->begin(c->store) < 0) {
		st = STATS_LEARN_ERROR;
	} else {
		st = learn_tx(c, msg, &t, spam, user, err, errlen);
		if (!c->bulk) {
			if (st == STATS_LEARN_OK && ops->commit(c->store) < 0)
				st = STATS_LEARN_ERROR;
			else if (st != STATS_LEARN_OK)
				ops->rollback(c->store);
			if (st == STATS_LEARN_OK)
				after_commit(c, 1);
		}
	}
	if (st == STATS_LEARN_ERROR && err[0] == '\0')
		snprintf(err, errlen, "bayes store: %s", ops->errmsg(c->store));
	arena_free(&own);
	return st;
}

int
stats_learn_begin(struct stats_ctx *c)
{
	if (!c->writer || c->bulk)
		return c->bulk ? 0 : -1;
	if (c->store->ops->begin(c->store) < 0)
		return -1;
	c->bulk = true;
	return 0;
}

int
stats_learn_commit(struct stats_ctx *c)
{
	if (!c->bulk)
		return 0;
	c->bulk = false;
	if (c->store->ops->commit(c->store) < 0)
		return -1;
	after_commit(c, PRUNE_EVERY);
	return 0;
}

void
stats_learn_rollback(struct stats_ctx *c)
{
	if (!c->bulk)
		return;
	c->bulk = false;
	c->store->ops->rollback(c->store);
}

int
stats_summary(struct stats_ctx *c, struct stats_summary *out)
{
	return c->store->ops->summary(c->store, out);
}

long
stats_prune(struct stats_ctx *c)
{
	if (!c->writer || c->bulk)
		return -1;
	long n = c->store->ops->prune(c->store, c->max_tokens);
	if (n > 0 && c->snapw != NULL)
		snap_writer_kick(c->snapw);
	return n;
}

long
stats_snapshot_write(struct stats_ctx *c, char *err, size_t errlen)
{
	if (c->snap_path == NULL)
		return 0;
	return snap_write(c->store, 0, c->snap_path, err, errlen);
}

int
stats_snapshot_follow(struct stats_ctx *c, char *err, size_t errlen)
{
	if (c->snap_path == NULL || c->snapw != NULL)
		return 0;
	c->snapw = snap_writer_start(c->db_path, c->snap_path, SNAP_QUIET, SNAP_MAX_DELAY, err,
	    errlen);
	return c->snapw != NULL ? 0 : -1;
}

bool
stats_last_from_snapshot(const struct stats_ctx *c)
{
	return c->last_from_snap;
}
