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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
