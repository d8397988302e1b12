/*
 * rules_dbs.c - the groups' Hyperscan databases: layout, compile, fallbacks.
 *
 * A group's database holds its Hyperscan rules and the gates of its PCRE2
 * rules, by entry id. Every group that the cache cannot serve compiles in a
 * child process, one per core at a time (hs_jobs.c), largest first.
 *
 * A pattern Hyperscan refuses must cost its own rule only. Three guards:
 * a pattern whose bounded repeats unroll past UNROLL_LIMIT positions goes
 * to PCRE2 before any compile (re_unroll.c); when a group's compile fails
 * on one expression, that entry gets its fallback and the group compiles
 * again; when a group compiles for over rules_group_limit_ms, each of its
 * entries is tried alone for rules_alone_limit_ms, those that overrun or
 * fail get their fallback, and the group compiles again without a limit.
 *
 * Fallback: a rule goes to PCRE2 with a gate of its own; a gate is dropped
 * and its PCRE2 rule runs on every text. A pattern too large for Hyperscan
 * has a prefilter form as large, so it is gated by a literal or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

#define UNROLL_LIMIT 10000     /* stock patterns that compile: up to 7,100 */

/* Variables so that a test can make a compile overrun. */
unsigned rules_group_limit_ms = 60000; /* the stock body databases take 1-5 s */
unsigned rules_alone_limit_ms = 2000;  /* a stock pattern alone: at most 0.9 s */

/* A group while its database is laid out and compiled. */
struct group_build {
	struct scope_group *g;
	struct re_translation *gates; /* by position in g->rules */
	unsigned *pos;                /* entry -> position in g->rules */
	const char **exprs;           /* by entry */
	unsigned *flags, *ids;
	size_t bytes;                 /* of all expressions: the compile's likely cost */
	bool alone_checked;
	bool done;
};

/* Fills ent/pcre/exists from the rules' current engines. */
static void
group_fill(struct rules_db *db, struct scope_group *g, struct re_translation *gates)
{
	g->nent = g->npcre = g->nexists = g->nsettle = 0;
	for (unsigned k = 0; k < g->nrules; k++) {
		unsigned i = g->rules[k];
		struct rule *r = db->rules[i];
		if (r->engine != RULES_ENGINE_EXISTS && (r->neg || r->unset != NULL))
			g->settle[g->nsettle++] = i;
		if (db->live != NULL && !db->live[i] && r->engine != RULES_ENGINE_EXISTS)
			continue; /* nothing reads it (rules_live.c): not in the database */
		if (r->engine == RULES_ENGINE_EXISTS) {
			g->exists[g->nexists++] = i;
		} else if (r->engine == RULES_ENGINE_HYPERSCAN) {
			g->ent[g->nent++] = (struct group_entry){ i, GK_DIRECT };
		} else if (r->engine == RULES_ENGINE_PCRE2) {
			if (gates[k].gate != NULL || gates[k].prefilter)
				g->ent[g->nent++] = (struct group_entry){ i, GK_GATE };
			else
				g->pcre[g->npcre++] = i;
		}
	}
}

static const char *
gate_expr(struct arena *a, const struct re_translation *t)
{
	char *e = arena_alloc(a, t->gate_len * 4 + 1);
	for (size_t i = 0; i < t->gate_len; i++)
		sprintf(e + i * 4, "\\x%02x", (unsigned char)t->gate[i]);
	e[t->gate_len * 4] = '\0';
	return e;
}

/* Expression and flags of entry e as the database holds it. */
static void
entry_expr(struct rules_db *db, const struct group_build *b, unsigned e, const char **expr,
    unsigned *flags)
{
	const struct group_entry *en = &b->g->ent[e];
	struct rule *r = db->rules[en->rule];
	const struct re_translation *t = &b->gates[b->pos[e]];
	if (en->kind == GK_GATE && t->gate != NULL && !t->prefilter) {
		*expr = gate_expr(db->arena, t);
		*flags = HS_FLAG_SINGLEMATCH | (t->gate_caseless ? HS_FLAG_CASELESS : 0);
		return;
	}
	*expr = en->kind == GK_GATE && t->prefilter_expr != NULL ? t->prefilter_expr :
	    rules_hs_expr(db->arena, r);
	*flags = rules_hs_flags(r) | (en->kind == GK_GATE ? HS_FLAG_PREFILTER : 0);
}

/* What the database was compiled from; a cached database must match it. */
static uint64_t
layout_hash(const struct group_build *b)
{
	XXH64_state_t *st = XXH64_createState();
	XXH64_reset(st, 0);
	for (unsigned e = 0; e < b->g->nent; e++) {
		XXH64_update(st, b->exprs[e], strlen(b->exprs[e]) + 1);
		XXH64_update(st, &b->flags[e], sizeof(b->flags[e]));
	}
	uint64_t h = XXH64_digest(st);
	XXH64_freeState(st);
	return h;
}

/* pos: for each entry, its index in the group's rule list (for gates). */
static void
gate_positions(const struct scope_group *g, unsigned *pos)
{
	for (unsigned e = 0; e < g->nent; e++)
		for (unsigned k = 0; k < g->nrules; k++)
			if (g->rules[k] == g->ent[e].rule)
				pos[e] = k;
}

static struct re_translation *
group_gates(struct rules_db *db, struct scope_group *g)
{
	struct re_translation *gates = xcalloc(g->nrules ? g->nrules : 1, sizeof(*gates));
	for (unsigned k = 0; k < g->nrules; k++) {
		struct rule *r = db->rules[g->rules[k]];
		if (r->engine == RULES_ENGINE_PCRE2 && !r->nogate) {
			re_translate_gate_only(db->arena, r->re, r->re_flags, &gates[k]);
			rules_gate_choose(db->arena, r, &gates[k]);
		}
	}
	return gates;
}

/* Entry e cannot be in Hyperscan's database: a gate is dropped (the rule
 * runs ungated), a rule falls back to PCRE2 with a gate of its own. */
static void
drop_entry(struct rules_db *db, struct group_build *b, unsigned e, const char *msg, bool costly)
{
	struct rule *r = db->rules[b->g->ent[e].rule];
	struct re_translation *t = &b->gates[b->pos[e]];
	if (b->g->ent[e].kind == GK_GATE) {
		if (t->prefilter && t->gate != NULL) {
			t->prefilter = false; /* back to the weak literal */
			t->prefilter_expr = NULL;
			return;
		}
		t->gate = NULL;
		t->prefilter = false;
		r->nogate = true;
		return;
	}
	char why[300];
	snprintf(why, sizeof(why), "Hyperscan: %s", msg);
	rules_pcre_fallback(db, r, why);
	if (r->engine != RULES_ENGINE_PCRE2)
		return;
	re_translate_gate_only(db->arena, r->re, r->re_flags, t);
	rules_gate_choose(db->arena, r, t);
	if (costly) {
		t->prefilter = false;
		t->prefilter_expr = NULL;
		r->nogate = t->gate == NULL;
	}
	db->stats.pcre_fallback++;
}

/* Drops the entries that unroll past UNROLL_LIMIT; how many. */
static unsigned
drop_unrollable(struct rules_db *db, struct group_build *b)
{
	unsigned dropped = 0;
	for (unsigned e = 0; e < b->g->nent; e++) {
		const char *expr;
		unsigned flags;
		entry_expr(db, b, e, &expr, &flags);
		size_t n = re_unrolled_size(expr);
		if (n <= UNROLL_LIMIT)
			continue;
		char msg[128];
		snprintf(msg, sizeof(msg), "unrolls to %zu positions (limit %d)", n, UNROLL_LIMIT);
		drop_entry(db, b, e, msg, true);
		dropped++;
	}
	return dropped;
}

/* Entries and expressions from the rules' current engines and gates;
 * returns how many entries were dropped as unrollable on the way. */
static unsigned
lay_out(struct rules_db *db, struct group_build *b)
{
	struct scope_group *g = b->g;
	unsigned dropped = 0, d;
	do {
		group_fill(db, g, b->gates);
		gate_positions(g, b->pos);
		dropped += d = drop_unrollable(db, b);
	} while (d > 0);
	size_t n = g->nent ? g->nent : 1;
	b->exprs = xreallocarray(b->exprs, n, sizeof(*b->exprs));
	b->flags = xreallocarray(b->flags, n, sizeof(*b->flags));
	b->ids = xreallocarray(b->ids, n, sizeof(*b->ids));
	b->bytes = 0;
	for (unsigned e = 0; e < g->nent; e++) {
		entry_expr(db, b, e, &b->exprs[e], &b->flags[e]);
		b->ids[e] = e;
		b->bytes += strlen(b->exprs[e]);
	}
	g->layout = layout_hash(b);
	return dropped;
}

static unsigned
build_init(struct rules_db *db, struct group_build *b, struct scope_group *g)
{
	memset(b, 0, sizeof(*b));
	b->g = g;
	b->gates = group_gates(db, g);
	b->pos = xcalloc(g->nrules ? g->nrules : 1, sizeof(*b->pos));
	g->db = NULL;
	return lay_out(db, b);
}

static void
build_free(struct group_build *b)
{
	free(b->gates);
	free(b->pos);
	free(b->exprs);
	free(b->flags);
	free(b->ids);
}

static struct hs_job
group_job(const struct group_build *b)
{
	return (struct hs_job){ .exprs = b->exprs, .flags = b->flags, .ids = b->ids,
		.n = b->g->nent, .limit_ms = b->alone_checked ? 0 : rules_group_limit_ms, .want_db = true };
}

/* The group overran: each entry alone, those that overrun or fail dropped. */
static void
check_alone(struct rules_db *db, struct group_build *b)
{
	unsigned n = b->g->nent;
	struct hs_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (unsigned e = 0; e < n; e++)
		jobs[e] = (struct hs_job){ .exprs = &b->exprs[e], .flags = &b->flags[e],
			.ids = &b->ids[e], .n = 1, .limit_ms = rules_alone_limit_ms };
	hs_jobs_run(jobs, n, hs_jobs_parallel());
	for (unsigned e = 0; e < n; e++)
		if (jobs[e].status != HS_JOB_OK)
			drop_entry(db, b, e, jobs[e].why,
			    jobs[e].status == HS_JOB_TIMEOUT || strstr(jobs[e].why, "too large") != NULL);
	free(jobs);
	b->alone_checked = true;
}

/* One job's outcome; true when the group is settled. */
static bool
take_result(struct rules_db *db, struct group_build *b, struct hs_job *j)
{
	if (j->status == HS_JOB_OK) {
		b->g->db = j->db;
		return true;
	}
	if (j->status == HS_JOB_TIMEOUT) {
		log_warn("rules: a %s database %s; trying its %u patterns alone",
		    rule_type_name(b->g->scope), j->why, b->g->nent);
		check_alone(db, b);
	} else if (j->bad >= 0 && (unsigned)j->bad < b->g->nent) {
		drop_entry(db, b, (unsigned)j->bad, j->why, strstr(j->why, "too large") != NULL);
	} else {
		log_warn("rules: the %s%s%s database was not built (Hyperscan: %s); its %u patterns "
		         "do not run", rule_type_name(b->g->scope), b->g->hdr ? " " : "",
		    b->g->hdr ? b->g->hdr : "", j->why, b->g->nent);
		return true;
	}
	lay_out(db, b);
	return false;
}

static int
by_cost_desc(const void *a, const void *b)
{
	const struct group_build *x = *(struct group_build *const *)a;
	const struct group_build *y = *(struct group_build *const *)b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Compiles every group not yet done, in rounds until each has settled. */
static void
compile_pending(struct rules_db *db, struct group_build *bs, size_t n)
{
	struct group_build **todo = xcalloc(n ? n : 1, sizeof(*todo));
	struct hs_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (;;) {
		size_t k = 0;
		for (size_t g = 0; g < n; g++)
			if (!bs[g].done)
				todo[k++] = &bs[g];
		if (k == 0)
			break;
		qsort(todo, k, sizeof(*todo), by_cost_desc);
		for (size_t i = 0; i < k; i++)
			jobs[i] = group_job(todo[i]);
		hs_jobs_run(jobs, k, hs_jobs_parallel());
		for (size_t i = 0; i < k; i++)
			todo[i]->done = take_result(db, todo[i], &jobs[i]);
	}
	free(jobs);
	free(todo);
}

unsigned
rules_hs_screen_all(struct rules_db *db)
{
	unsigned dropped = 0;
	for (size_t g = 0; g < db->ngroups; g++) {
		struct group_build b;
		dropped += build_init(db, &b, &db->groups[g]);
		build_free(&b);
	}
	return dropped;
}

void
rules_hs_compile_all(struct rules_db *db, hs_database_t **pre, const uint64_t *pre_layout)
{
	size_t n = db->ngroups;
	struct group_build *bs = xcalloc(n ? n : 1, sizeof(*bs));
	for (size_t g = 0; g < n; g++) {
		struct group_build *b = &bs[g];
		build_init(db, b, &db->groups[g]);
		if (pre != NULL && pre[g] != NULL) {
			if (b->g->layout == pre_layout[g]) {
				b->g->db = pre[g];
				b->done = true;
				continue;
			}
			hs_free_database(pre[g]);
			db->cache_stale++;
			log_debug("rules: cached %s%s%s database (part %u) is stale",
			    rule_type_name(b->g->scope), b->g->hdr ? " " : "", b->g->hdr ? b->g->hdr : "",
			    b->g->part);
		}
		b->done = b->g->nent == 0;
	}
	compile_pending(db, bs, n);
	for (size_t g = 0; g < n; g++)
		build_free(&bs[g]);
	free(bs);
}
