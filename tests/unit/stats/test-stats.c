/* Learning and classification over the SQLite store, in a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"
#include "stats/stats.h"

struct fx {
	char dir[64];
	char db[128];
	struct fconf *cfg;
	struct symtab *syms;
	struct arena *a;
};

static const char *const spam_words[] = { "cheap", "viagra", "pills", "casino", "winner",
	"million", "dollars", "offer", "click", "unsubscribe", "bonus", "free" };
static const char *const ham_words[] = { "meeting", "patch", "kernel", "review", "thanks",
	"lunch", "schedule", "compile", "release", "branch", "merge", "notes" };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-stats.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/bayes.sqlite", f->dir);
	f->cfg = cfg_defaults();
	f->cfg->stats.db = f->db;
	f->cfg->stats.min_learns = 3;
	f->syms = symtab_new();
	stats_register_symbols(f->syms);
	f->a = arena_new(0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	arena_free(&f->a);
	symtab_free(&f->syms);
	cfg_free(&f->cfg);
	free(f);
	return 0;
}

/* A message of 16 words from one vocabulary, varied by seed. */
static struct msg *
mk(struct fx *f, bool spam, unsigned seed, const char *deliver_to)
{
	const char *const *w = spam ? spam_words : ham_words;
	char body[1024];
	size_t o = 0;
	/* the vocabulary in order from a rotating start (pairs shared by all
	 * seeds), then a seed-specific walk (pairs mostly its own) */
	for (unsigned i = 0; i < 8; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s ", w[(i + seed) % 12]);
	for (unsigned i = 0; i < 8; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s ", w[(i * (seed + 1) + seed) % 12]);
	struct msg *m = ARENA_NEW(f->a, struct msg);
	m->arena = f->a;
	const char *raw = arena_printf(f->a, "Message-ID: <%s%u@test>\nSubject: note %u\n\n%s\n",
	    spam ? "s" : "h", seed, seed, body);
	m->raw = span_from_cstr(raw);
	m->mime = mime_parse(f->a, m->raw, NULL);
	m->env.deliver_to = deliver_to;
	return m;
}

static struct stats_ctx *
open_w(struct fx *f)
{
	char err[256];
	struct stats_ctx *c = stats_open(f->cfg, true, err, sizeof(err));
	if (c == NULL)
		fail_msg("stats_open: %s", err);
	return c;
}

static void
learn_n(struct fx *f, struct stats_ctx *c, bool spam, unsigned from, unsigned n, const char *user)
{
	char err[256];
	for (unsigned i = from; i < from + n; i++)
		assert_int_equal(stats_learn(c, mk(f, spam, i, NULL), spam, user, err, sizeof(err)),
		    STATS_LEARN_OK);
}

static const struct fired_symbol *
classify(struct fx *f, struct stats_ctx *c, struct msg *m, struct scan_result *r)
{
	result_init(r, f->a, f->syms);
	assert_int_equal(stats_classify(c, m, r), 0);
	const struct fired_symbol *s = result_find(r, STATS_SYM_SPAM);
	return s ? s : result_find(r, STATS_SYM_HAM);
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	learn_n(f, c, true, 0, 4, NULL);
	learn_n(f, c, false, 0, 4, NULL);
	struct scan_result r;
	const struct fired_symbol *s = classify(f, c, mk(f, true, 7, NULL), &r);
	assert_non_null(s);
	assert_string_equal(s->name, STATS_SYM_SPAM);
	assert_true(s->score > 0 && s->score <= STATS_WEIGHT_SPAM);
	assert_int_equal(s->noptions, 2);
	assert_non_null(strchr(s->options[0], '%'));
	assert_string_equal(s->options[1], "global");
	assert_true(stats_last_prob(c) > 0.95);
	s = classify(f, c, mk(f, false, 7, NULL), &r);
	assert_non_null(s);
	assert_string_equal(s->name, STATS_SYM_HAM);
	assert_true(s->score < 0 && s->score >= STATS_WEIGHT_HAM);
	assert_true(stats_last_prob(c) < 0.05);
	stats_close(&c);
	assert_null(c);
}

static void
test_already_and_move(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	char err[256];
	struct stats_summary sm;
	assert_int_equal(stats_learn(c, mk(f, true, 1, NULL), true, NULL, err, sizeof(err)),
	    STATS_LEARN_OK);
	assert_int_equal(stats_learn(c, mk(f, true, 1, NULL), true, NULL, err, sizeof(err)),
	    STATS_LEARN_ALREADY);
	assert_string_equal(err, "<s1@test> has been already learned as spam, ignore it");
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_int_equal(sm.learned_spam, 1);
	assert_int_equal(sm.revision_spam, 1);
	uint64_t tokens = sm.tokens;
	assert_true(tokens > 0);
	/* the same message as ham: moved */
	assert_int_equal(stats_learn(c, mk(f, true, 1, NULL), false, NULL, err, sizeof(err)),
	    STATS_LEARN_OK);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_int_equal(sm.learned_spam, 0);
	assert_int_equal(sm.learned_ham, 1);
	assert_int_equal(sm.revision_spam, 1);
	assert_int_equal(sm.revision_ham, 1);
	assert_int_equal(stats_learn(c, mk(f, true, 1, NULL), false, NULL, err, sizeof(err)),
	    STATS_LEARN_ALREADY);
	assert_string_equal(err, "<s1@test> has been already learned as ham, ignore it");
	stats_close(&c);
}

static void
test_too_few_tokens(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	char err[256];
	struct msg *m = ARENA_NEW(f->a, struct msg);
	m->arena = f->a;
	m->raw = span_from_cstr("Message-ID: <tiny@x>\n\nhello there\n");
	m->mime = mime_parse(f->a, m->raw, NULL);
	assert_int_equal(stats_learn(c, m, true, NULL, err, sizeof(err)), STATS_LEARN_TOO_FEW_TOKENS);
	/* hello, there: one pair */
	assert_string_equal(err,
	    "<tiny@x> contains less tokens than required for bayes classifier: 1 < 11");
	m->raw = span_from_cstr("\nhello there\n");
	m->mime = mime_parse(f->a, m->raw, NULL);
	assert_int_equal(stats_learn(c, m, true, NULL, err, sizeof(err)), STATS_LEARN_TOO_FEW_TOKENS);
	assert_non_null(strstr(err, "<undef> contains less tokens"));
	/* err is optional */
	assert_int_equal(stats_learn(c, m, true, NULL, NULL, 0), STATS_LEARN_TOO_FEW_TOKENS);
	stats_close(&c);
}

static void
test_min_learns(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	struct scan_result r;
	learn_n(f, c, true, 0, 4, NULL);
	learn_n(f, c, false, 0, 2, NULL);
	assert_null(classify(f, c, mk(f, true, 9, NULL), &r));
	const char *why = result_get_message(&r, STATS_RESULT_KEY);
	assert_non_null(why);
	assert_non_null(strstr(why, "ham class needs more training samples (2 of 3"));
	learn_n(f, c, false, 2, 1, NULL);
	assert_non_null(classify(f, c, mk(f, true, 9, NULL), &r));
	assert_null(result_get_message(&r, STATS_RESULT_KEY));
	stats_close(&c);
}

static void
test_per_user(void **state)
{
	struct fx *f = *state;
	f->cfg->stats.learn_global = false;
	struct stats_ctx *c = open_w(f);
	struct scan_result r;
	char err[256];
	/* global: spam words are spam; user "a": the other way round */
	learn_n(f, c, true, 0, 4, NULL);
	learn_n(f, c, false, 0, 4, NULL);
	for (unsigned i = 100; i < 104; i++) {
		assert_int_equal(stats_learn(c, mk(f, true, i, NULL), false, "a", err, sizeof(err)),
		    STATS_LEARN_OK);
		assert_int_equal(stats_learn(c, mk(f, false, i, NULL), true, "a", err, sizeof(err)),
		    STATS_LEARN_OK);
	}
	const struct fired_symbol *s = classify(f, c, mk(f, true, 50, "a"), &r);
	assert_non_null(s);
	assert_string_equal(s->name, STATS_SYM_HAM);
	assert_string_equal(s->options[1], "user");
	s = classify(f, c, mk(f, true, 50, "b"), &r);
	assert_non_null(s);
	assert_string_equal(s->name, STATS_SYM_SPAM);
	assert_string_equal(s->options[1], "global");
	/* the first recipient stands in for Deliver-To */
	struct msg *m = mk(f, true, 50, NULL);
	envelope_add_rcpt(&m->env, f->a, "a");
	s = classify(f, c, m, &r);
	assert_string_equal(s->name, STATS_SYM_HAM);
	struct stats_summary sm;
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_int_equal(sm.users, 1);
	assert_int_equal(sm.learned_spam, 8);
	stats_close(&c);
}

static void
test_learn_global_too(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	struct scan_result r;
	learn_n(f, c, true, 0, 4, "u1");
	learn_n(f, c, false, 0, 4, "u1");
	/* the global store learned it too: another user gets a verdict */
	const struct fired_symbol *s = classify(f, c, mk(f, true, 30, "u2"), &r);
	assert_non_null(s);
	assert_string_equal(s->options[1], "global");
	s = classify(f, c, mk(f, true, 30, "u1"), &r);
	assert_string_equal(s->options[1], "user");
	stats_close(&c);
}

static void
test_bulk_and_rollback(void **state)
{
	struct fx *f = *state;
	struct stats_ctx *c = open_w(f);
	struct stats_summary sm;
	char err[256];
	assert_int_equal(stats_learn_begin(c), 0);
	learn_n(f, c, true, 0, 5, NULL);
	/* learned twice inside one batch: still detected */
	assert_int_equal(stats_learn(c, mk(f, true, 0, NULL), true, NULL, err, sizeof(err)),
	    STATS_LEARN_ALREADY);
	stats_learn_rollback(c);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_int_equal(sm.learned_spam, 0);
	assert_int_equal(sm.tokens, 0);
	assert_int_equal(stats_learn_begin(c), 0);
	learn_n(f, c, true, 0, 5, NULL);
	assert_int_equal(stats_learn_commit(c), 0);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_int_equal(sm.learned_spam, 5);
	assert_true(sm.tokens > 20);
	assert_true(sm.size_bytes >= 4096);
	stats_close(&c);
}

static void
test_prune(void **state)
{
	struct fx *f = *state;
	f->cfg->stats.max_tokens = 60;
	struct stats_ctx *c = open_w(f);
	struct stats_summary sm;
	learn_n(f, c, true, 0, 6, NULL);
	learn_n(f, c, false, 0, 6, NULL);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_true(sm.tokens > 60);
	long n = stats_prune(c);
	assert_true(n > 0);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_true(sm.tokens <= 60);
	assert_int_equal(sm.tokens, 54); /* pruned to 90 % of the bound */
	/* a bulk commit prunes by itself */
	assert_int_equal(stats_learn_begin(c), 0);
	learn_n(f, c, true, 10, 6, NULL);
	assert_int_equal(stats_learn_commit(c), 0);
	assert_int_equal(stats_summary(c, &sm), 0);
	assert_true(sm.tokens <= 60);
	stats_close(&c);
}

static void
test_writer_reader(void **state)
{
	struct fx *f = *state;
	char err[256];
	/* the reader comes first and creates the schema */
	struct stats_ctx *rd = stats_open(f->cfg, false, err, sizeof(err));
	assert_non_null(rd);
	struct stats_ctx *wr = open_w(f);
	struct stats_summary sm;
	struct scan_result r;
	assert_int_equal(stats_learn(rd, mk(f, true, 0, NULL), true, NULL, err, sizeof(err)),
	    STATS_LEARN_ERROR);
	assert_null(classify(f, rd, mk(f, true, 9, NULL), &r));
	learn_n(f, wr, true, 0, 3, NULL);
	learn_n(f, wr, false, 0, 3, NULL);
	assert_int_equal(stats_summary(rd, &sm), 0);
	assert_int_equal(sm.learned_spam, 3);
	const struct fired_symbol *s = classify(f, rd, mk(f, true, 9, NULL), &r);
	assert_non_null(s);
	assert_string_equal(s->name, STATS_SYM_SPAM);
	/* a reader keeps working while the writer holds a write transaction */
	assert_int_equal(stats_learn_begin(wr), 0);
	learn_n(f, wr, true, 3, 1, NULL);
	assert_non_null(classify(f, rd, mk(f, true, 9, NULL), &r));
	assert_int_equal(stats_summary(rd, &sm), 0);
	assert_int_equal(sm.learned_spam, 3);
	assert_int_equal(stats_learn_commit(wr), 0);
	assert_int_equal(stats_summary(rd, &sm), 0);
	assert_int_equal(sm.learned_spam, 4);
	stats_close(&wr);
	stats_close(&rd);
}

static void
test_schema_version(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	char err[256];
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(stats_open(f->cfg, true, err, sizeof(err)));
	assert_non_null(strstr(err, "schema version 99, expected 1"));
	/* a fresh file gets the schema and reopens */
	unlink(f->db);
	struct stats_ctx *c = open_w(f);
	stats_close(&c);
	c = open_w(f);
	stats_close(&c);
}


/* A message of 60 two-word phrases drawn from 600, leaning to the first
 * half for spam: the phrases' own word pairs recur (the signal), the pairs
 * across phrases mostly do not (thousands of distinct tokens, so the
 * snapshot's bucket index has many buckets). */
static struct msg *
mk_wide(struct fx *f, bool spam, unsigned seed)
{
	struct buf b;
	buf_init(&b, f->a);
	uint32_t x = seed * 2654435761u + (spam ? 17 : 91);
	buf_printf(&b, "Message-ID: <w%s%u@test>\nSubject: wide %u\n\n", spam ? "s" : "h", seed,
	    seed);
	for (unsigned i = 0; i < 60; i++) {
		x = x * 1103515245u + 12345u;
		bool own = (x >> 4) % 4 != 0;
		unsigned ph = (x >> 8) % 300 + (own == spam ? 0 : 300);
		buf_printf(&b, "p%ua p%ub ", ph, ph);
	}
	buf_printf(&b, "\n");
	struct msg *m = ARENA_NEW(f->a, struct msg);
	m->arena = f->a;
	m->raw = buf_span(&b);
	m->mime = mime_parse(f->a, m->raw, NULL);
	return m;
}

static void
learn_wide(struct fx *f, struct stats_ctx *c, unsigned from, unsigned n)
{
	char err[256];
	for (unsigned i = from; i < from + n; i++)
		for (int spam = 0; spam < 2; spam++)
			assert_int_equal(stats_learn(c, mk_wide(f, spam, i), spam, NULL, err, sizeof(err)),
			    STATS_LEARN_OK);
}

/* The probabilities of 40 fresh messages; how many came from the snapshot. */
static unsigned
probs_from(struct fx *f, struct stats_ctx *c, double *p)
{
	struct scan_result r;
	unsigned from_snap = 0;
	for (unsigned i = 0; i < 40; i++) {
		result_init(&r, f->a, f->syms);
		assert_int_equal(stats_classify(c, mk_wide(f, i % 2, 1000 + i), &r), 0);
		p[i] = stats_last_prob(c);
		from_snap += stats_last_from_snapshot(c);
	}
	return from_snap;
}

/* Whether all 40 came from the snapshot (none or all must). */
static bool
probs_of(struct fx *f, struct stats_ctx *c, double *p)
{
	unsigned n = probs_from(f, c, p);
	assert_true(n == 0 || n == 40);
	return n == 40;
}

static struct stats_ctx *
open_r(struct fx *f, bool snapshot)
{
	char err[256];
	f->cfg->stats.snapshot = snapshot;
	struct stats_ctx *c = stats_open(f->cfg, false, err, sizeof(err));
	f->cfg->stats.snapshot = true;
	if (c == NULL)
		fail_msg("stats_open: %s", err);
	return c;
}

static void
test_snapshot_same_answers(void **state)
{
	struct fx *f = *state;
	char err[256];
	char snap[160];
	snprintf(snap, sizeof(snap), "%s.snap", f->db);
	struct stats_ctx *wr = open_w(f), *rd = open_r(f, true), *sq = open_r(f, false);
	learn_wide(f, wr, 0, 30);
	double want[40], got[40];
	assert_false(probs_of(f, sq, want));
	assert_false(probs_of(f, rd, got)); /* no file yet: SQLite answers */
	long n = stats_snapshot_write(wr, err, sizeof(err));
	assert_true(n > 3000);
	assert_int_equal(access(snap, R_OK), 0);
	assert_true(probs_of(f, rd, got));
	assert_memory_equal(got, want, sizeof(got));
	unsigned right = 0; /* and the answers are real verdicts, not all 0.5 */
	for (unsigned i = 0; i < 40; i++)
		right += i % 2 ? want[i] > 0.55 : want[i] < 0.45;
	assert_true(right >= 34);
	/* a learn makes the file stale: SQLite answers, the same as a
	 * reader without snapshot, until the file is written again */
	learn_n(f, wr, true, 0, 2, NULL);
	assert_false(probs_of(f, sq, want));
	assert_false(probs_of(f, rd, got));
	assert_memory_equal(got, want, sizeof(got));
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	assert_true(probs_of(f, rd, got));
	assert_memory_equal(got, want, sizeof(got));
	/* pruning changes the data too */
	f->cfg->stats.max_tokens = 1000;
	stats_close(&wr);
	wr = open_w(f);
	assert_true(stats_prune(wr) > 0);
	assert_false(probs_of(f, rd, got));
	stats_close(&wr);
	stats_close(&sq);
	stats_close(&rd);
}

static void
test_snapshot_damaged_file(void **state)
{
	struct fx *f = *state;
	char err[256], snap[160];
	snprintf(snap, sizeof(snap), "%s.snap", f->db);
	struct stats_ctx *wr = open_w(f), *rd = open_r(f, true);
	learn_wide(f, wr, 0, 10);
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	double want[40], got[40];
	assert_true(probs_of(f, rd, want));
	/* cut short, then garbage of the right size: SQLite answers, the same */
	assert_int_equal(truncate(snap, 100), 0);
	learn_n(f, wr, true, 0, 1, NULL); /* a new revision makes the reader look again */
	stats_close(&rd);
	rd = open_r(f, true);
	assert_false(probs_of(f, rd, got));
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	FILE *fp = fopen(snap, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 80, SEEK_SET), 0);
	for (int i = 0; i < 64; i++)
		fputc(0xff, fp);
	fclose(fp);
	stats_close(&rd);
	rd = open_r(f, true);
	assert_false(probs_of(f, rd, got));
	/* a per-user store is never read from the snapshot */
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	f->cfg->stats.min_learns = 1;
	learn_n(f, wr, true, 50, 1, "u@example.test");
	learn_n(f, wr, false, 50, 1, "u@example.test");
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	stats_close(&rd);
	rd = open_r(f, true);
	struct scan_result r;
	classify(f, rd, mk(f, true, 3, "u@example.test"), &r);
	assert_false(stats_last_from_snapshot(rd));
	classify(f, rd, mk(f, true, 3, NULL), &r);
	assert_true(stats_last_from_snapshot(rd));
	stats_close(&wr);
	stats_close(&rd);
}

/* The controller's thread rewrites the file after learns, by itself. */
static void
test_snapshot_follow(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct stats_ctx *wr = open_w(f), *rd = open_r(f, true);
	learn_wide(f, wr, 0, 10);
	/* temporary files of writers that died are removed, a live one's kept */
	char dead[192], alive[192];
	snprintf(dead, sizeof(dead), "%s.snap.tmp.999999999", f->db);
	snprintf(alive, sizeof(alive), "%s.snap.tmp.%ld", f->db, (long)getppid());
	fclose(fopen(dead, "w"));
	fclose(fopen(alive, "w"));
	assert_int_equal(stats_snapshot_follow(wr, err, sizeof(err)), 0);
	double got[40];
	bool from = false;
	for (int i = 0; i < 100 && !from; i++) {
		usleep(50000);
		from = probs_from(f, rd, got) == 40;
	}
	assert_true(from); /* the first pass writes at once */
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(alive, F_OK), 0);
	learn_wide(f, wr, 10, 12);
	assert_true(probs_from(f, rd, got) < 40);
	from = false;
	for (int i = 0; i < 100 && !from; i++) { /* one quiet second, then written */
		usleep(50000);
		from = probs_from(f, rd, got) == 40;
	}
	assert_true(from);
	stats_close(&wr);
	stats_close(&rd);
}

/* Bumps the store's revision behind the store code's back, as the sqlite3
 * shell would. */
static void
raw_rev_bump(struct fx *f)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = value + 1 WHERE key = 'rev'",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

/* Readers learn from the store's beacon (<db>-rev) that nothing was
 * committed, without a read transaction per message: a commit through the
 * store moves it and is seen by the very next classification; a write that
 * bypasses it is seen within a second, when the reader asks SQLite anyway. */
static void
test_revision_beacon(void **state)
{
	struct fx *f = *state;
	char err[256], beacon[160];
	snprintf(beacon, sizeof(beacon), "%s-rev", f->db);
	struct stats_ctx *wr = open_w(f), *rd = open_r(f, true);
	assert_int_equal(access(beacon, R_OK), 0);
	learn_wide(f, wr, 0, 10);
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	double got[40];
	assert_true(probs_of(f, rd, got));
	learn_n(f, wr, true, 0, 1, NULL);
	assert_false(probs_of(f, rd, got));
	assert_true(stats_snapshot_write(wr, err, sizeof(err)) > 0);
	assert_true(probs_of(f, rd, got));
	raw_rev_bump(f);
	/* unseen while the beacon stands and the last answer is fresh: the
	 * reader did not ask SQLite for every message */
	assert_true(probs_of(f, rd, got));
	usleep(1100 * 1000);
	assert_false(probs_of(f, rd, got));
	stats_close(&wr);
	stats_close(&rd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_already_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_few_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_learns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_learn_global_too, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_and_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_same_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_damaged_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revision_beacon, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
