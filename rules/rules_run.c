/*
 * rules_run.c - matching one message.
 *
 * For each scope group: build its text(s), one Hyperscan scan each (one
 * callback per pattern and text: SINGLEMATCH), then PCRE2 for the rules
 * whose gate literal was seen and for the ungated ones. A rule hits once per
 * message; tflags multiple rules are counted with PCRE2 (Perl's
 * non-overlapping //g matches, up to maxhits) in each text where Hyperscan
 * saw them. Then the meta rules, inputs first, and the inserts.
 *
 * State per message lives in the worker's scratch and is cleared with one
 * memset; nothing is allocated per message once the buffers have grown.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcore/clock.h"
#include "fcore/log.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/xalloc.h"
#include "rules-private.h"
#include "rules-text.h"

#define RUN_MAX_TEXT 0xffffffffu /* hs_scan takes an unsigned int length */

struct rules_scratch {
	hs_scratch_t *hs;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	unsigned *hits;     /* per rule, this message */
	uint8_t *cand;      /* per rule: gate literal seen in this text */
	uint8_t *seen;      /* per rule: matched in this text */
	uint8_t *negm;      /* per rule: matched in some text (for !~) */
	unsigned *touched;  /* rules with seen set */
	size_t ntouched;
	unsigned *cands;    /* rules with cand set, so a text's gates are found
	                     * without walking every entry of the group */
	size_t ncands;
	size_t nrules;
	uint8_t *meta_dirty; /* per meta_order position: an input moved off its baseline */
	struct buf text;
	struct rules_lines lines;
	bool subject_line;  /* scanning the body's first text: nosubject rules skip it */
	double *profile;    /* seconds per RULES_PH_*, or NULL */
};

void
rules_scratch_profile(struct rules_scratch *s, double *acc)
{
	s->profile = acc;
}

static double
prof_now(const struct rules_scratch *s)
{
	return s->profile == NULL ? 0.0 : clock_mono();
}

/* Adds the time since *t0 to phase ph and restarts the clock. */
static void
prof_add(struct rules_scratch *s, int ph, double *t0)
{
	if (s->profile == NULL)
		return;
	double t1 = prof_now(s);
	s->profile[ph] += t1 - *t0;
	*t0 = t1;
}

/* Scope group type to profile phase; RT_HEADER.. RT_FULL map in order. */
static int
scope_phase(int scope)
{
	return scope >= RT_HEADER && scope <= RT_FULL ? RULES_PH_HEADER + (scope - RT_HEADER) :
	                                               RULES_PH_META;
}

struct rules_scratch *
rules_scratch_new(const struct rules_db *db)
{
	struct rules_scratch *s = xcalloc(1, sizeof(*s));
	for (size_t g = 0; g < db->ngroups; g++) {
		if (db->groups[g].db != NULL &&
		    hs_alloc_scratch(db->groups[g].db, &s->hs) != HS_SUCCESS)
			log_fatal("rules: cannot allocate Hyperscan scratch");
	}
	s->nrules = db->nrules;
	size_t n = db->nrules ? db->nrules : 1;
	s->hits = xcalloc(n, sizeof(*s->hits));
	s->cand = xcalloc(n, 1);
	s->seen = xcalloc(n, 1);
	s->negm = xcalloc(n, 1);
	s->touched = xcalloc(n, sizeof(*s->touched));
	s->cands = xcalloc(n, sizeof(*s->cands));
	s->meta_dirty = xcalloc(db->nmeta ? db->nmeta : 1, 1);
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (s->md == NULL || s->mctx == NULL)
		log_fatal("rules: cannot allocate PCRE2 match data");
	if (s->jit != NULL)
		pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	pcre2_set_match_limit(s->mctx, db->pcre_match_limit ? db->pcre_match_limit : 100000);
	pcre2_set_depth_limit(s->mctx, db->pcre_depth_limit ? db->pcre_depth_limit : 10000);
	buf_init(&s->text, NULL);
	return s;
}

void
rules_scratch_free(struct rules_scratch **sp)
{
	struct rules_scratch *s = *sp;
	if (s == NULL)
		return;
	hs_free_scratch(s->hs);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s->hits);
	free(s->cand);
	free(s->seen);
	free(s->negm);
	free(s->touched);
	free(s->cands);
	free(s->meta_dirty);
	free(s->lines.v);
	buf_deinit(&s->text);
	free(s);
	*sp = NULL;
}

struct scan_ctx {
	const struct rules_db *db;
	struct rules_scratch *s;
	const struct scope_group *g;
};

static void
touch(struct rules_scratch *s, unsigned r)
{
	if (!s->seen[r]) {
		s->seen[r] = 1;
		s->touched[s->ntouched++] = r;
	}
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	struct scan_ctx *c = ctx;
	const struct group_entry *e = &c->g->ent[id];
	if (e->kind == GK_GATE) {
		if (!c->s->cand[e->rule]) {
			c->s->cand[e->rule] = 1;
			c->s->cands[c->s->ncands++] = e->rule;
		}
	} else
		touch(c->s, e->rule);
	return 0;
}

/* Whether anything reads the rule's result (rules_live.c). */
static bool
is_live(const struct rules_db *db, unsigned i)
{
	return db->live == NULL || db->live[i];
}

static bool
pcre_match(const struct rules_scratch *s, const pcre2_code *re, struct span t, size_t start)
{
	int rc = pcre2_match(re, t.p, t.len, start, 0, s->md, s->mctx);
	return rc >= 0;
}

/* Perl's count of non-overlapping matches, at most max (0 = no limit). */
static unsigned
pcre_count(const struct rules_scratch *s, const pcre2_code *re, struct span t, unsigned max)
{
	unsigned n = 0;
	size_t pos = 0;
	while (pos <= t.len && (max == 0 || n < max) && n < 100000) {
		if (!pcre_match(s, re, t, pos))
			break;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
		n++;
		pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	return n;
}

static void
settle_text(const struct rules_db *db, struct rules_scratch *s, struct span t)
{
	for (size_t k = 0; k < s->ntouched; k++) {
		unsigned i = s->touched[k];
		const struct rule *r = db->rules[i];
		s->seen[i] = 0;
		if (s->subject_line && (r->tflags & TF_NOSUBJECT))
			continue;
		if (r->neg) {
			s->negm[i] = 1;
			continue;
		}
		if ((r->tflags & TF_MULTIPLE) && r->pcre != NULL && is_live(db, i)) {
			unsigned c = pcre_count(s, r->pcre, t, r->maxhits);
			s->hits[i] += c ? c : 1;
			if (r->maxhits && s->hits[i] > r->maxhits)
				s->hits[i] = r->maxhits;
		} else if (r->tflags & TF_MULTIPLE) {
			s->hits[i]++;
		} else {
			s->hits[i] = 1;
		}
	}
	s->ntouched = 0;
}

static void
scan_text(const struct rules_db *db, struct rules_scratch *s, const struct scope_group *g,
    struct span t)
{
	if (t.len > RUN_MAX_TEXT)
		t.len = RUN_MAX_TEXT;
	struct scan_ctx c = { db, s, g };
	if (g->db != NULL)
		hs_scan(g->db, (const char *)(t.p ? t.p : (const uint8_t *)""), (unsigned)t.len, 0,
		    s->hs, on_match, &c);
	for (size_t k = 0; k < s->ncands; k++) {
		unsigned i = s->cands[k];
		s->cand[i] = 0;
		if (!s->seen[i] && is_live(db, i) && pcre_match(s, db->rules[i]->pcre, t, 0))
			touch(s, i);
	}
	s->ncands = 0;
	for (unsigned k = 0; k < g->npcre; k++) {
		unsigned i = g->pcre[k];
		if (!s->seen[i] && (s->hits[i] == 0 || (db->rules[i]->tflags & TF_MULTIPLE)) &&
		    is_live(db, i) && pcre_match(s, db->rules[i]->pcre, t, 0))
			touch(s, i);
	}
	settle_text(db, s, t);
}

/* After all texts of a header group: !~ rules, if-unset and exists:. */
static void
settle_header_group(const struct rules_db *db, struct rules_scratch *s,
    const struct scope_group *g, bool present)
{
	for (unsigned k = 0; k < g->nexists; k++) {
		unsigned i = g->exists[k];
		s->hits[i] = present ^ db->rules[i]->neg;
	}
	for (unsigned k = 0; k < g->nsettle; k++) {
		unsigned i = g->settle[k];
		const struct rule *r = db->rules[i];
		if (!present && r->unset != NULL && r->pcre != NULL) {
			struct span u = span_from_cstr(r->unset);
			s->hits[i] = pcre_match(s, r->pcre, u, 0) ^ r->neg;
		} else if (r->neg) {
			s->hits[i] = !s->negm[i];
		}
		s->negm[i] = 0;
	}
}

static void
run_header_group(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    const struct scope_group *g)
{
	bool present = rules_header_text(msg, g->hdr, g->hdr_flags, &s->text);
	if (present)
		scan_text(db, s, g, buf_span(&s->text));
	settle_header_group(db, s, g, present);
}

static void
run_mimeheader_group(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    const struct scope_group *g)
{
	const struct mime_message *m = msg->mime;
	bool any = false;
	for (size_t p = 0; p < m->nparts; p++) {
		if (!rules_part_header_text(&m->parts[p], g->hdr, g->hdr_flags, &s->text))
			continue;
		any = true;
		scan_text(db, s, g, buf_span(&s->text));
	}
	settle_header_group(db, s, g, any);
}

static void
run_lines(const struct rules_db *db, struct rules_scratch *s, const struct scope_group *g)
{
	for (size_t i = 0; i < s->lines.n; i++) {
		s->subject_line = i == 0 && g->scope == RT_BODY;
		scan_text(db, s, g, s->lines.v[i]);
	}
	s->subject_line = false;
}

static void
run_uri_group(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    const struct scope_group *g)
{
	rules_uri_texts(msg, &s->text, &s->lines);
	run_lines(db, s, g);
}

static void
run_group(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    const struct scope_group *g, bool *body_built)
{
	const struct mime_message *m = msg->mime;
	switch (g->scope) {
	case RT_HEADER:
		run_header_group(db, s, msg, g);
		break;
	case RT_MIMEHEADER:
		run_mimeheader_group(db, s, msg, g);
		break;
	case RT_BODY:
		if (!*body_built)
			rules_body_lines(msg, db->body_part_scan_size, &s->text, &s->lines);
		*body_built = true;
		run_lines(db, s, g);
		break;
	case RT_RAWBODY:
		rules_rawbody_chunks(msg, db->rawbody_part_scan_size, &s->lines);
		*body_built = false;
		run_lines(db, s, g);
		break;
	case RT_URI:
		run_uri_group(db, s, msg, g);
		*body_built = false;
		break;
	case RT_FULL:
		scan_text(db, s, g, m->raw);
		break;
	default:
		break;
	}
}

static void
run_evals(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg)
{
	struct rules_scratch_eval se = { .md = s->md };
	for (size_t k = 0; k < db->nevals; k++) {
		unsigned i = db->evals[k];
		if (!is_live(db, i))
			continue;
		s->hits[i] = rules_eval_run(db, &se, db->rules[i], msg);
	}
}

static void
mark_readers(const struct rules_db *db, uint8_t *dirty, unsigned j)
{
	for (unsigned d = db->meta_dep_start[j]; d < db->meta_dep_start[j + 1]; d++)
		dirty[db->meta_dep[d]] = 1;
}

/* Metas whose inputs all sit at their baseline keep its value (meta_index.c). */
static void
run_metas(const struct rules_db *db, struct rules_scratch *s)
{
	uint8_t *dirty = s->meta_dirty;
	for (size_t j = 0; j < db->nrules; j++)
		if (s->hits[j] != 0)
			mark_readers(db, dirty, (unsigned)j);
	for (size_t k = 0; k < db->nmeta; k++) {
		unsigned i = db->meta_order[k];
		const struct rule *r = db->rules[i];
		if (r->engine != RULES_ENGINE_META || !is_live(db, i))
			continue;
		if (!dirty[k]) {
			s->hits[i] = db->meta_base[k];
			continue;
		}
		dirty[k] = 0;
		s->hits[i] = meta_eval(r->meta, s->hits) != 0.0;
		if (s->hits[i] != db->meta_base[k])
			mark_readers(db, dirty, i);
	}
}

int
rules_run(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    struct scan_result *res)
{
	if (msg == NULL || msg->mime == NULL)
		return -1;
	double t0 = prof_now(s);
	memset(s->hits, 0, s->nrules * sizeof(*s->hits));
	bool body_built = false;
	/* body groups first, so the rendered text is built once */
	for (size_t g = 0; g < db->ngroups; g++)
		if (db->groups[g].scope == RT_BODY) {
			run_group(db, s, msg, &db->groups[g], &body_built);
			prof_add(s, RULES_PH_BODY, &t0);
		}
	for (size_t g = 0; g < db->ngroups; g++)
		if (db->groups[g].scope != RT_BODY) {
			run_group(db, s, msg, &db->groups[g], &body_built);
			prof_add(s, scope_phase(db->groups[g].scope), &t0);
		}
	run_evals(db, s, msg);
	prof_add(s, RULES_PH_EVAL, &t0);
	run_metas(db, s);
	int n = 0;
	for (size_t i = 0; i < db->nrules; i++) {
		const struct rule *r = db->rules[i];
		if (s->hits[i] == 0 || !r->enabled || strncmp(r->name, "__", 2) == 0)
			continue;
		double mult = (r->tflags & TF_MULTIPLE) ? (double)s->hits[i] : 1.0;
		if (res != NULL)
			result_insert(res, r->name, mult, NULL);
		n++;
	}
	prof_add(s, RULES_PH_META, &t0);
	return n;
}

/* Test hook: hit count of a rule (including __ rules) after rules_run(). */
unsigned rules_scratch_hits(const struct rules_db *db, const struct rules_scratch *s,
    const char *name);

unsigned
rules_scratch_hits(const struct rules_db *db, const struct rules_scratch *s, const char *name)
{
	for (size_t i = 0; i < db->nrules; i++)
		if (strcmp(db->rules[i]->name, name) == 0)
			return s->hits[i];
	return 0;
}
