/*
 * rules_bench - the SpamAssassin rule engine (rules/) on the stock rules,
 * over a corpus, on one core.
 *
 *   rules_bench [--cache-dir DIR] [--no-cold] [--top N] [--sample K]
 *               [--no-patterns] [--show RULE] [DIR...]   default: ../shared/corpus/dev
 *
 * Prints:
 *   - load: cold compile (empty cache directory: parse, classify, compile,
 *     write the cache) and warm load from that cache, wall and CPU seconds;
 *     databases, serialised bytes, in-memory database and scratch bytes,
 *     resident memory grown by the warm load;
 *   - matching: messages/s of rules_run() alone over pre-parsed messages
 *     (parse excluded) and of mime_parse() + rules_run() (parse included),
 *     in CPU time of this thread, best of PASSES;
 *   - the limit: Hyperscan alone (hs_scan of every group database with a
 *     callback that does nothing) over the same texts rules_run() scans,
 *     the texts built beforehand;
 *   - the costliest patterns: every Hyperscan rule compiled alone and
 *     scanned over its scope's texts of a sample (every K-th message), every
 *     PCRE2 rule timed on the texts its gate lets through (gate compiled
 *     alone, as the engine lays it out) and on all texts (ungated), with the
 *     gate's pass rate. The gate's own scan is shared inside the group
 *     database and is not charged to the rule. Every PCRE2 match outside
 *     its gate is reported (a gate must never hide a match).
 *
 * The texts are those of rules_run(): rules-text.h for header, mimeheader,
 * body, rawbody and uri; the raw message for full.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/dirwalk.h"
#include "fcore/log.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/xalloc.h"
#include "rules-private.h"
#include "rules-text.h"
#include "rules/rules.h"

#define PASSES 3
#define RUN_MAX_TEXT_BENCH 0xffffffffu /* as rules_run.c: hs_scan takes an unsigned length */

struct file {
	uint8_t *data;
	size_t len;
};

/* One message's texts, per group of the database. */
struct msg_texts {
	struct span **v; /* [group][k] */
	size_t *n;
};

static struct file *files;
static size_t nfiles;

/* One corpus file into files[]; the corpus MANIFEST is not a message. */
static int
load_one(const char *path, void *arg)
{
	(void)arg;
	const char *base = strrchr(path, '/');
	struct stat st;
	if (strcmp(base ? base + 1 : path, "MANIFEST") == 0 || stat(path, &st) != 0)
		return 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	files = xreallocarray(files, nfiles + 1, sizeof(*files));
	files[nfiles].data = xmalloc((size_t)st.st_size + 1);
	files[nfiles].len = fread(files[nfiles].data, 1, (size_t)st.st_size, f);
	nfiles++;
	fclose(f);
	return 0;
}

static void
load(const char *path)
{
	unsigned errors = 0;
	dirwalk(path, load_one, NULL, "rules_bench", &errors);
}

static double
clock_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
	return clock_of(CLOCK_THREAD_CPUTIME_ID);
}

static double
wall_now(void)
{
	return clock_of(CLOCK_MONOTONIC);
}

static double
rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

static struct rules_db *
load_rules(struct fconf *c, const char *what)
{
	char err[1024];
	double w0 = wall_now(), c0 = clock_of(CLOCK_PROCESS_CPUTIME_ID), m0 = rss_mb();
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "rules_bench: %s\n", err);
		exit(1);
	}
	struct rules_stats st;
	rules_get_stats(db, &st);
	printf("%s load: %.2f s wall, %.2f CPU-s, %s; %u databases, %.1f MB serialised, "
	       "RSS +%.1f MB\n",
	    what, wall_now() - w0, clock_of(CLOCK_PROCESS_CPUTIME_ID) - c0,
	    st.from_cache ? "from the cache" : "compiled", st.databases, st.db_bytes / 1e6,
	    rss_mb() - m0);
	return db;
}

static void
print_counts(const struct rules_db *db)
{
	struct rules_stats st;
	rules_get_stats(db, &st);
	printf("rules: %u (header %u, mimeheader %u, body %u, rawbody %u, uri %u, full %u, meta %u)\n",
	    st.total, st.header, st.mimeheader, st.body, st.rawbody, st.uri, st.full, st.meta);
	size_t hsz = 0, ssz = 0;
	hs_scratch_t *scr = NULL;
	for (size_t g = 0; g < db->ngroups; g++) {
		size_t n = 0;
		if (db->groups[g].db == NULL)
			continue;
		if (hs_database_size(db->groups[g].db, &n) == HS_SUCCESS)
			hsz += n;
		hs_alloc_scratch(db->groups[g].db, &scr);
	}
	if (scr != NULL)
		hs_scratch_size(scr, &ssz);
	hs_free_scratch(scr);
	printf("engines: hyperscan %u, pcre2 %u, unsupported %u, failed %u; databases in memory "
	       "%.1f MB, one scratch %.1f KB\n",
	    st.hs_compiled, st.pcre_fallback, st.eval_unsupported, st.failed, hsz / 1e6, ssz / 1e3);
}

static struct msg *
parse_all(void)
{
	struct msg *m = xcalloc(nfiles, sizeof(*m));
	for (size_t i = 0; i < nfiles; i++) {
		m[i].arena = arena_new(0);
		m[i].raw = span_make(files[i].data, files[i].len);
		m[i].mime = mime_parse(m[i].arena, m[i].raw, NULL);
	}
	return m;
}

static void
bench_matching(const struct rules_db *db, const struct msg *m, size_t bytes)
{
	struct rules_scratch *s = rules_scratch_new(db);
	double best_ex = 1e300, best_in = 1e300;
	for (int pass = 0; pass < PASSES; pass++) {
		double t0 = cpu_now();
		for (size_t i = 0; i < nfiles; i++)
			rules_run(db, s, &m[i], NULL);
		double dt = cpu_now() - t0;
		best_ex = dt < best_ex ? dt : best_ex;
		t0 = cpu_now();
		for (size_t i = 0; i < nfiles; i++) {
			struct msg one = { .raw = m[i].raw };
			one.arena = arena_new(0);
			one.mime = mime_parse(one.arena, one.raw, NULL);
			rules_run(db, s, &one, NULL);
			arena_free(&one.arena);
		}
		dt = cpu_now() - t0;
		best_in = dt < best_in ? dt : best_in;
	}
	rules_scratch_free(&s);
	printf("rules_run, parse excluded: %.0f messages/s (%.3f CPU-ms per message, %.1f MB/s)\n",
	    nfiles / best_ex, best_ex * 1e3 / nfiles, bytes / 1e6 / best_ex);
	printf("parse + rules_run:         %.0f messages/s (%.3f CPU-ms per message)\n",
	    nfiles / best_in, best_in * 1e3 / nfiles);
}

/* ---- the texts rules_run() scans, kept for the Hyperscan-only runs ---- */

static struct span
keep(struct arena *a, struct span t)
{
	if (t.len > RUN_MAX_TEXT_BENCH)
		t.len = RUN_MAX_TEXT_BENCH;
	return span_make(arena_memdup(a, t.p ? t.p : (const uint8_t *)"", t.len), t.len);
}

static void
push(struct arena *a, struct msg_texts *mt, size_t g, struct span t)
{
	size_t n = mt->n[g];
	struct span *v = arena_realloc(a, mt->v[g], n * sizeof(*v), (n + 1) * sizeof(*v));
	v[n] = keep(a, t);
	mt->v[g] = v;
	mt->n[g] = n + 1;
}

static void
group_texts(struct arena *a, const struct rules_db *db, const struct msg *m, size_t gi,
    struct msg_texts *mt, struct buf *text, struct rules_lines *lines)
{
	const struct scope_group *g = &db->groups[gi];
	const struct mime_message *mm = m->mime;
	switch (g->scope) {
	case RT_HEADER:
		if (rules_header_text(m, g->hdr, g->hdr_flags, text))
			push(a, mt, gi, buf_span(text));
		break;
	case RT_MIMEHEADER:
		for (size_t p = 0; p < mm->nparts; p++)
			if (rules_part_header_text(&mm->parts[p], g->hdr, g->hdr_flags, text))
				push(a, mt, gi, buf_span(text));
		break;
	case RT_BODY:
	case RT_RAWBODY:
		if (g->scope == RT_BODY)
			rules_body_lines(m, db->body_part_scan_size, text, lines);
		else
			rules_rawbody_chunks(m, db->rawbody_part_scan_size, lines);
		for (size_t k = 0; k < lines->n; k++)
			push(a, mt, gi, lines->v[k]);
		break;
	case RT_URI:
		rules_uri_texts(m, text, lines);
		for (size_t k = 0; k < lines->n; k++)
			push(a, mt, gi, lines->v[k]);
		break;
	case RT_FULL:
		push(a, mt, gi, mm->raw);
		break;
	default:
		break;
	}
}

static struct msg_texts *
build_texts(const struct rules_db *db, const struct msg *m, struct arena *a)
{
	struct msg_texts *mt = xcalloc(nfiles, sizeof(*mt));
	struct buf text;
	struct rules_lines lines = { 0 };
	buf_init(&text, NULL);
	for (size_t i = 0; i < nfiles; i++) {
		mt[i].v = arena_array(a, db->ngroups + 1, sizeof(*mt[i].v));
		mt[i].n = arena_array(a, db->ngroups + 1, sizeof(*mt[i].n));
		memset(mt[i].v, 0, (db->ngroups + 1) * sizeof(*mt[i].v));
		memset(mt[i].n, 0, (db->ngroups + 1) * sizeof(*mt[i].n));
		if (m[i].mime == NULL)
			continue;
		for (size_t g = 0; g < db->ngroups; g++)
			group_texts(a, db, &m[i], g, &mt[i], &text, &lines);
	}
	buf_deinit(&text);
	free(lines.v);
	return mt;
}

static int
on_nothing(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	(void)id, (void)from, (void)to, (void)flags;
	(*(unsigned long *)ctx)++;
	return 0;
}

static int
by_cost(const void *a, const void *b, void *arg)
{
	const double *c = arg;
	double x = c[*(const size_t *)a], y = c[*(const size_t *)b];
	return x < y ? 1 : x > y ? -1 : 0;
}

static void
print_group_costs(const struct rules_db *db, const double *cost, const size_t *gbytes,
    const size_t *gtexts, double total)
{
	size_t *order = xcalloc(db->ngroups, sizeof(*order));
	for (size_t g = 0; g < db->ngroups; g++)
		order[g] = g;
	qsort_r(order, db->ngroups, sizeof(*order), by_cost, (void *)cost);
	printf("costliest databases (Hyperscan alone):\n");
	for (size_t k = 0; k < db->ngroups && k < 8; k++) {
		const struct scope_group *g = &db->groups[order[k]];
		size_t dbsz = 0;
		if (g->db != NULL)
			hs_database_size(g->db, &dbsz);
		printf("  %-10s %-24s part %u  %4u patterns (%5.2f MB)  %.3f ms/msg  %4.1f %%  %.1f MB in %zu "
		       "texts\n",
		    rule_type_name(g->scope), g->hdr ? g->hdr : "", g->part, g->nent, dbsz / 1e6,
		    cost[order[k]] * 1e3 / nfiles, cost[order[k]] / total * 100, gbytes[order[k]] / 1e6,
		    gtexts[order[k]]);
	}
	free(order);
}

/* Every group's database over its texts, timed group by group. */
static void
bench_hs_only(const struct rules_db *db, const struct msg_texts *mt)
{
	hs_scratch_t *scr = NULL;
	for (size_t g = 0; g < db->ngroups; g++)
		if (db->groups[g].db != NULL)
			hs_alloc_scratch(db->groups[g].db, &scr);
	double *cost = xcalloc(db->ngroups, sizeof(*cost));
	size_t *gbytes = xcalloc(db->ngroups, sizeof(*gbytes));
	size_t *gtexts = xcalloc(db->ngroups, sizeof(*gtexts));
	for (size_t g = 0; g < db->ngroups; g++)
		cost[g] = db->groups[g].db != NULL ? 1e300 : 0;
	size_t bytes = 0, texts = 0;
	unsigned long matches = 0;
	for (int pass = 0; pass < PASSES; pass++) {
		bytes = texts = 0;
		matches = 0;
		for (size_t g = 0; g < db->ngroups; g++) {
			const hs_database_t *d = db->groups[g].db;
			if (d == NULL)
				continue;
			double t0 = cpu_now();
			gbytes[g] = gtexts[g] = 0;
			for (size_t i = 0; i < nfiles; i++)
				for (size_t k = 0; k < mt[i].n[g]; k++) {
					struct span t = mt[i].v[g][k];
					hs_scan(d, (const char *)t.p, (unsigned)t.len, 0, scr, on_nothing, &matches);
					gbytes[g] += t.len;
					gtexts[g]++;
					texts++;
				}
			double dt = cpu_now() - t0;
			cost[g] = dt < cost[g] ? dt : cost[g];
			bytes += gbytes[g];
		}
	}
	double best = 0;
	for (size_t g = 0; g < db->ngroups; g++)
		best += cost[g];
	hs_free_scratch(scr);
	printf("Hyperscan alone, same databases and texts: %.0f messages/s (%.3f CPU-ms per message); "
	       "%zu texts, %.1f MB scanned per pass (%.1f MB/s), %lu matches reported\n",
	    nfiles / best, best * 1e3 / nfiles, texts, bytes / 1e6, bytes / 1e6 / best, matches);
	print_group_costs(db, cost, gbytes, gtexts, best);
	free(cost);
	free(gbytes);
	free(gtexts);
}

/* ---- per-pattern cost ---- */

struct cost {
	const char *name;
	const char *scope;
	const char *engine;
	double us_per_msg;    /* as the engine runs it */
	double ungated_us;    /* PCRE2: on every text */
	double pass_rate;     /* PCRE2: texts the gate let through / texts */
	const char *gate;     /* PCRE2: "literal" / "prefilter" / "none" */
	unsigned missed;      /* PCRE2: texts it matched that its gate did not let through */
};

static hs_database_t *
compile_alone(const char *expr, unsigned flags)
{
	hs_database_t *d = NULL;
	hs_compile_error_t *e = NULL;
	if (hs_compile(expr, flags, HS_MODE_BLOCK, NULL, &d, &e) != HS_SUCCESS) {
		hs_free_compile_error(e);
		return NULL;
	}
	return d;
}

/* The gate of a PCRE2 rule as rules_compile.c lays it out, compiled alone. */
static hs_database_t *
compile_gate(struct arena *a, const struct rule *r, const char **kind_r)
{
	struct re_translation t;
	struct rule choose = *r; /* the choice memoises on the rule */
	re_translate_gate_only(a, r->re, r->re_flags, &t);
	rules_gate_choose(a, &choose, &t);
	if (r->nogate) {
		hs_database_t *d = NULL;
		hs_compile_error_t *e = NULL;
		*kind_r = "none";
		if (hs_compile(rules_hs_expr(a, r), rules_hs_flags(r) | HS_FLAG_PREFILTER, HS_MODE_BLOCK, NULL,
		        &d, &e) != HS_SUCCESS) {
			*kind_r = arena_printf(a, "none (prefilter: %s)", e->message);
			hs_free_compile_error(e);
		}
		hs_free_database(d);
		return NULL;
	}
	if (t.gate != NULL && !t.prefilter) {
		char *e = arena_alloc(a, t.gate_len * 4 + 1);
		for (size_t i = 0; i < t.gate_len; i++)
			sprintf(e + i * 4, "\\x%02x", (unsigned char)t.gate[i]);
		*kind_r = "literal";
		return compile_alone(e, HS_FLAG_SINGLEMATCH | (t.gate_caseless ? HS_FLAG_CASELESS : 0));
	}
	if (t.prefilter_expr != NULL) {
		*kind_r = "prefilter run";
		return compile_alone(t.prefilter_expr, rules_hs_flags(r) | HS_FLAG_PREFILTER);
	}
	*kind_r = t.prefilter ? "prefilter" : "none";
	return t.prefilter ? compile_alone(rules_hs_expr(a, r), rules_hs_flags(r) | HS_FLAG_PREFILTER) :
	                     NULL;
}

struct sample {
	const struct msg_texts *mt;
	size_t step;
	size_t nmsg;
};

static double
time_hs(hs_database_t *d, const struct sample *sm, int g, hs_scratch_t **scr)
{
	unsigned long n = 0;
	hs_alloc_scratch(d, scr);
	double t0 = cpu_now();
	for (size_t i = 0; i < nfiles; i += sm->step)
		for (size_t k = 0; k < sm->mt[i].n[g]; k++) {
			struct span t = sm->mt[i].v[g][k];
			hs_scan(d, (const char *)t.p, (unsigned)t.len, 0, *scr, on_nothing, &n);
		}
	return (cpu_now() - t0) * 1e6 / sm->nmsg;
}

static int
on_gate(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	(void)id, (void)from, (void)to, (void)flags;
	*(int *)ctx = 1;
	return 1; /* one match is enough */
}

static void
time_pcre(const struct rule *r, hs_database_t *gate, const struct sample *sm, int g,
    hs_scratch_t **scr, pcre2_match_data *md, struct cost *c)
{
	size_t texts = 0, passed = 0;
	double gated = 0, all = 0;
	if (gate != NULL)
		hs_alloc_scratch(gate, scr);
	for (size_t i = 0; i < nfiles; i += sm->step)
		for (size_t k = 0; k < sm->mt[i].n[g]; k++) {
			struct span t = sm->mt[i].v[g][k];
			int open = 1;
			if (gate != NULL) {
				open = 0;
				hs_scan(gate, (const char *)t.p, (unsigned)t.len, 0, *scr, on_gate, &open);
			}
			double t0 = cpu_now();
			int rc = pcre2_match(r->pcre, t.p, t.len, 0, 0, md, NULL);
			double dt = cpu_now() - t0;
			if (rc >= 0 && !open)
				c->missed++;
			all += dt;
			texts++;
			if (open) {
				gated += dt;
				passed++;
			}
		}
	c->us_per_msg = gated * 1e6 / sm->nmsg;
	c->ungated_us = all * 1e6 / sm->nmsg;
	c->pass_rate = texts ? (double)passed / (double)texts : 0;
}

static int
cost_cmp(const void *a, const void *b)
{
	double x = ((const struct cost *)a)->us_per_msg, y = ((const struct cost *)b)->us_per_msg;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void
bench_patterns(const struct rules_db *db, const struct msg_texts *mt, size_t step, int top)
{
	struct arena *a = arena_new(0);
	struct sample sm = { mt, step, (nfiles + step - 1) / step };
	struct cost *costs = xcalloc(db->nrules + 1, sizeof(*costs));
	size_t n = 0;
	hs_scratch_t *scr = NULL;
	pcre2_match_data *md = pcre2_match_data_create(32, NULL);
	double ungated_total = 0, pcre_total = 0, hs_total = 0;
	size_t dead = 0;
	for (size_t i = 0; i < db->nrules; i++) {
		const struct rule *r = db->rules[i];
		if (r->group < 0 || !r->enabled ||
		    (r->engine != RULES_ENGINE_HYPERSCAN && r->engine != RULES_ENGINE_PCRE2))
			continue;
		/* rules nothing reads are never run (rules_live.c): timing them
		 * would point at costs a scan does not have */
		if (db->live != NULL && !db->live[i]) {
			dead++;
			continue;
		}
		struct cost *c = &costs[n];
		c->name = r->name;
		c->scope = rule_type_name(r->type);
		c->engine = rules_engine_name(r->engine);
		if (r->engine == RULES_ENGINE_HYPERSCAN) {
			hs_database_t *d = compile_alone(rules_hs_expr(a, r), rules_hs_flags(r));
			if (d == NULL)
				continue;
			c->us_per_msg = time_hs(d, &sm, r->group, &scr);
			hs_total += c->us_per_msg;
			hs_free_database(d);
		} else if (r->pcre != NULL) {
			hs_database_t *gate = compile_gate(a, r, &c->gate);
			time_pcre(r, gate, &sm, r->group, &scr, md, c);
			pcre_total += c->us_per_msg;
			ungated_total += c->ungated_us;
			hs_free_database(gate);
		}
		n++;
	}
	unsigned missed = 0;
	for (size_t k = 0; k < n; k++) {
		missed += costs[k].missed;
		if (costs[k].missed)
			printf("GATE UNSOUND: %s matched %u text(s) its gate (%s) did not pass\n",
			    costs[k].name, costs[k].missed, costs[k].gate);
	}
	qsort(costs, n, sizeof(*costs), cost_cmp);
	printf("\n%d costliest patterns on %zu messages (every %zu-th), CPU-us per message "
	       "(%zu not run: nothing reads them):\n", top, sm.nmsg, step, dead);
	printf("  %-32s %-10s %-9s %9s  %s\n", "rule", "scope", "engine", "us/msg",
	    "PCRE2: gate, pass rate, ungated us/msg");
	for (size_t k = 0; k < n && (int)k < top; k++) {
		const struct cost *c = &costs[k];
		printf("  %-32s %-10s %-9s %9.1f", c->name, c->scope, c->engine, c->us_per_msg);
		if (c->gate != NULL)
			printf("  %s, %.1f %%, %.1f", c->gate, c->pass_rate * 100, c->ungated_us);
		printf("\n");
	}
	printf("sum over patterns alone: Hyperscan %.0f us/msg (each alone; together they share one scan), "
	       "PCRE2 behind gates %.0f us/msg (ungated %.0f)\n",
	    hs_total, pcre_total, ungated_total);
	printf("gates checked: %u PCRE2 match(es) outside their gate (must be 0)\n", missed);
	pcre2_match_data_free(md);
	hs_free_scratch(scr);
	free(costs);
	arena_free(&a);
}

/* Share of a group's texts in which d matches. */
static double
pass_rate(hs_database_t *d, const struct msg_texts *mt, int g)
{
	hs_scratch_t *scr = NULL;
	size_t texts = 0, passed = 0;
	if (d == NULL || hs_alloc_scratch(d, &scr) != HS_SUCCESS)
		return 1.0;
	for (size_t i = 0; i < nfiles; i++)
		for (size_t k = 0; k < mt[i].n[g]; k++) {
			int open = 0;
			struct span t = mt[i].v[g][k];
			hs_scan(d, (const char *)t.p, (unsigned)t.len, 0, scr, on_gate, &open);
			passed += (size_t)open;
			texts++;
		}
	hs_free_scratch(scr);
	return texts ? (double)passed / (double)texts : 0;
}

/* --show NAME: the rule's pattern after ReplaceTags, its gate and the gate's
 * pass rate; beside it, the required run re_gate.c would pick. */
static int
show_rule(const struct rules_db *db, const char *name, const struct msg_texts *mt)
{
	for (size_t i = 0; i < db->nrules; i++) {
		const struct rule *r = db->rules[i];
		if (strcmp(r->name, name) != 0)
			continue;
		struct arena *a = arena_new(0);
		const char *kind = "";
		hs_database_t *gate = r->engine == RULES_ENGINE_PCRE2 ? compile_gate(a, r, &kind) : NULL;
		struct re_translation lt;
		re_translate_gate_only(a, r->re ? r->re : "", r->re_flags, &lt);
		if (strcmp(kind, "literal") != 0)
			lt.gate = NULL; /* a weak literal that gave way to the prefilter */
		printf("%s %s %s flags %u\n%s\ngate: %s%s%.*s%s, passes %.1f %% of texts\n", r->name,
		    rule_type_name(r->type), rules_engine_name(r->engine), r->re_flags, r->re ? r->re : "",
		    kind, lt.gate ? " \"" : "", lt.gate ? (int)lt.gate_len : 0, lt.gate ? lt.gate : "",
		    lt.gate ? (lt.gate_caseless ? "\"i" : "\"") : "", pass_rate(gate, mt, r->group) * 100);
		hs_free_database(gate);
		const char *run = r->re ? re_gate_run(a, r->re, rules_hs_flags(r)) : NULL;
		if (run != NULL) {
			hs_database_t *d = compile_alone(run, rules_hs_flags(r) | HS_FLAG_PREFILTER);
			printf("required run: %s\nits prefilter passes %.1f %% of texts\n", run,
			    pass_rate(d, mt, r->group) * 100);
			hs_free_database(d);
		}
		arena_free(&a);
		return 0;
	}
	fprintf(stderr, "rules_bench: no rule %s\n", name);
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rules_bench [--cache-dir DIR] [--no-cold] [--top N] [--sample K] "
	                "[--no-patterns] [--show RULE] [DIR...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cache-dir", required_argument, NULL, 'c' }, { "no-cold", no_argument, NULL, 'n' },
		{ "top", required_argument, NULL, 't' }, { "sample", required_argument, NULL, 's' },
		{ "no-patterns", no_argument, NULL, 'p' }, { "show", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cache = NULL, *show = NULL;
	bool cold = true, patterns = true;
	int top = 20, ch;
	size_t step = 10;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cache = optarg; break;
		case 'n': cold = false; break;
		case 't': top = atoi(optarg); break;
		case 's': step = (size_t)atoi(optarg) > 0 ? (size_t)atoi(optarg) : 1; break;
		case 'p': patterns = false; break;
		case 'w': show = optarg; break;
		default: usage();
		}
	}
	log_set_level(LOG_LVL_ERROR);
	if (optind >= argc)
		load(CORPUS_DIR "/dev");
	for (int i = optind; i < argc; i++)
		load(argv[i]);
	if (nfiles == 0) {
		fprintf(stderr, "rules_bench: no messages\n");
		return 1;
	}
	char tmpl[] = "/tmp/rules-bench-XXXXXX";
	if (cache == NULL && (cache = mkdtemp(tmpl)) == NULL)
		return 1;
	struct fconf *c = cfg_defaults();
	c->state_dir = cache;
	c->rules.cache_dir = cache;
	c->rules.cache = true;
	if (cold)
		rules_free((struct rules_db *[]){ load_rules(c, "cold") });
	struct rules_db *db = load_rules(c, "warm");
	print_counts(db);

	size_t bytes = 0;
	for (size_t i = 0; i < nfiles; i++)
		bytes += files[i].len;
	printf("corpus: %zu messages, %.1f MB\n", nfiles, bytes / 1e6);
	struct msg *m = parse_all();
	if (show == NULL)
		bench_matching(db, m, bytes);
	struct arena *ta = arena_new(0);
	struct msg_texts *mt = build_texts(db, m, ta);
	if (show != NULL)
		return show_rule(db, show, mt);
	bench_hs_only(db, mt);
	if (patterns)
		bench_patterns(db, mt, step, top);
	free(mt);
	arena_free(&ta);
	for (size_t i = 0; i < nfiles; i++)
		arena_free(&m[i].arena);
	free(m);
	rules_free(&db);
	cfg_free(&c);
	return 0;
}
