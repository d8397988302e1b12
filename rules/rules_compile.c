/*
 * rules_compile.c - from parsed rules to engines and scope groups.
 *
 * Each regex rule gets an engine (Hyperscan, PCRE2, or failed), then joins
 * the group of the bytes it reads: one group per header (name and
 * modifiers) a header rule names, one per mimeheader name, and one each for
 * body (long patterns in groups of their own), rawbody, uri and full. Each
 * group compiles to one Hyperscan database holding its Hyperscan rules plus
 * the gates of its PCRE2 rules (rules_dbs.c).
 *
 * Meta rules are ordered inputs first; a meta over an input filterd cannot
 * evaluate (an eval: test, a failed regex) is unsupported itself, because
 * running it with that input at 0 would make up hits SpamAssassin does not
 * have. Inputs not defined at all (network plugins' rules are skipped with
 * their blocks) are 0, as in SpamAssassin without network tests.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

static const char *const type_names[RT_COUNT] = {
	"header", "mimeheader", "body", "rawbody", "uri", "full", "meta",
};

const char *
rule_type_name(int t)
{
	return t >= 0 && t < RT_COUNT ? type_names[t] : "none";
}

/* Header names SpamAssassin computes from its relay analysis: not offered. */
static bool
pseudo_header_unsupported(const char *h)
{
	return strncasecmp(h, "ALL-", 4) == 0 || strncasecmp(h, "X-Spam-Relays-", 14) == 0 ||
	    strcasecmp(h, "X-Spam-DKIM") == 0 || strncasecmp(h, "X-Spam-", 7) == 0;
}

static void set_unsupported(struct rules_db *db, struct rule *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_unsupported(struct rules_db *db, struct rule *r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->engine = RULES_ENGINE_UNSUPPORTED;
	r->reason = arena_strdup(db->arena, buf);
}

void
rules_pcre_fallback(struct rules_db *db, struct rule *r, const char *why)
{
	char err[200];
	r->pcre = re_pcre_compile(r->re, r->re_flags, err, sizeof(err));
	if (r->pcre == NULL) {
		r->engine = RULES_ENGINE_UNSUPPORTED;
		r->reason = arena_printf(db->arena, "regex: %s", err);
		db->stats.failed++;
		log_warn("rules: %s:%u: %s: %s; rule skipped", r->file, r->line, r->name, err);
		return;
	}
	r->engine = RULES_ENGINE_PCRE2;
	r->reason = why ? arena_strdup(db->arena, why) : NULL;
}

/* Engine for one non-meta rule. decided: from the cache (no translation). */
static void
classify(struct rules_db *db, struct rule *r, int decided)
{
	if (!r->enabled) {
		r->engine = RULES_ENGINE_DISABLED;
		return;
	}
	if (r->eval != NULL && rules_eval_prepare(db, r)) {
		r->engine = RULES_ENGINE_EVAL;
		return;
	}
	if (r->eval != NULL) {
		char fn[128];
		snprintf(fn, sizeof(fn), "eval:%.*s", (int)strcspn(r->eval, "( \t"), r->eval);
		set_unsupported(db, r, "%s", fn);
		return;
	}
	if (r->hdr != NULL && ((r->hdr_flags & HDR_UNSUP) || pseudo_header_unsupported(r->hdr))) {
		set_unsupported(db, r, "header %s not available", r->hdr);
		return;
	}
	if (r->exists) {
		r->engine = RULES_ENGINE_EXISTS;
		return;
	}
	if (r->re == NULL) {
		set_unsupported(db, r, "%s", "no pattern");
		return;
	}
	int target = decided;
	if (target >= 0) {
		r->nogate = (target & 0x10) != 0;
		r->prefilter_ok = (target & 0x20) ? 1 : (target & 0x40) ? 2 : 0;
		target &= 0x0f;
	} else {
		struct re_translation t;
		re_translate(db->arena, r->re, r->re_flags, &t);
		target = t.target;
		r->reason = t.reason;
	}
	if (target == RE_TARGET_HS) {
		r->engine = RULES_ENGINE_HYPERSCAN;
		/* multiple: PCRE2 counts Perl's non-overlapping matches; if-unset
		 * defaults are matched on their own */
		if ((r->tflags & TF_MULTIPLE) || r->unset != NULL || r->neg) {
			char err[200];
			r->pcre = re_pcre_compile(r->re, r->re_flags, err, sizeof(err));
		}
	} else if (target == RE_TARGET_PCRE) {
		rules_pcre_fallback(db, r, r->reason);
	} else {
		set_unsupported(db, r, "%s", "regex: compiles in neither engine");
		db->stats.failed++;
	}
}

static struct rule *
rule_by_name(struct cf *cf, const char *name)
{
	struct rule *r = cf_find(cf, name);
	return r != NULL && r->defined ? r : NULL;
}

/* Index in db->rules: rules_compile() parks it in r->group until the
 * groups are built (rules_classify_all resets it). */
static int
rule_index(const struct rules_db *db, const struct rule *r)
{
	return r->group;
}

static void
meta_prepare(struct rules_db *db, struct cf *cf, struct rule *r)
{
	char err[200];
	r->meta = meta_compile(db->arena, r->src, err, sizeof(err));
	if (r->meta == NULL) {
		set_unsupported(db, r, "meta: %s", err);
		return;
	}
	r->engine = r->enabled ? RULES_ENGINE_META : RULES_ENGINE_DISABLED;
	for (size_t i = 0; i < meta_ninputs(r->meta); i++) {
		struct rule *in = rule_by_name(cf, meta_input(r->meta, i));
		meta_bind(r->meta, i, in ? rule_index(db, in) : -1);
	}
}

/* Orders metas inputs-first; marks cycles and unsupported inputs. */
static void
meta_order(struct rules_db *db)
{
	size_t n = db->nrules;
	uint8_t *done = xcalloc(n, 1);
	db->meta_order = arena_array(db->arena, n + 1, sizeof(unsigned));
	db->nmeta = 0;
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < n; i++) {
			struct rule *r = db->rules[i];
			if (r->type != RT_META || done[i] || r->meta == NULL)
				continue;
			bool ready = true;
			for (size_t k = 0; k < meta_ninputs(r->meta) && ready; k++) {
				int in = meta_bound(r->meta, k);
				if (in >= 0 && db->rules[in]->type == RT_META && !done[in] &&
				    db->rules[in]->meta != NULL)
					ready = false;
			}
			if (!ready)
				continue;
			done[i] = 1;
			progress = true;
			db->meta_order[db->nmeta++] = (unsigned)i;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct rule *r = db->rules[i];
		if (r->type == RT_META && r->meta != NULL && !done[i]) {
			set_unsupported(db, r, "%s", "meta: dependency cycle");
			r->meta = NULL;
		}
	}
	free(done);
}

/* Network tests need no exemption here: their plugins' blocks are skipped,
 * so they are not defined and read as 0, as in SpamAssassin without network
 * tests. A defined eval: rule (even one flagged net, like FreeMail's) is a
 * local test filterd does not run. */
static bool
input_unsupported(const struct rule *in)
{
	return in->engine == RULES_ENGINE_UNSUPPORTED;
}

static void
meta_propagate(struct rules_db *db)
{
	for (size_t k = 0; k < db->nmeta; k++) {
		struct rule *r = db->rules[db->meta_order[k]];
		if (r->engine == RULES_ENGINE_UNSUPPORTED)
			continue;
		for (size_t i = 0; i < meta_ninputs(r->meta); i++) {
			int in = meta_bound(r->meta, i);
			if (in >= 0 && input_unsupported(db->rules[in])) {
				set_unsupported(db, r, "meta input %s unsupported", db->rules[in]->name);
				break;
			}
		}
	}
}

void
rules_meta_repropagate(struct rules_db *db)
{
	meta_propagate(db);
}

static void
count_types(struct rules_db *db)
{
	struct rules_stats *s = &db->stats;
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		s->total++;
		switch (r->type) {
		case RT_HEADER: s->header++; break;
		case RT_MIMEHEADER: s->mimeheader++; break;
		case RT_BODY: s->body++; break;
		case RT_RAWBODY: s->rawbody++; break;
		case RT_URI: s->uri++; break;
		case RT_FULL: s->full++; break;
		case RT_META: s->meta++; break;
		default: break;
		}
		if (r->engine == RULES_ENGINE_UNSUPPORTED && r->eval != NULL)
			s->eval_unsupported++;
		if (r->engine == RULES_ENGINE_PCRE2)
			s->pcre_fallback++;
	}
}

/* Collects the defined rules and compiles meta expressions. */
int
rules_compile(struct rules_db *db, struct cf *cf)
{
	size_t n = 0;
	for (size_t i = 0; i < cf->nrules; i++)
		if (cf->rules[i]->defined)
			n++;
	db->rules = arena_array(db->arena, n ? n : 1, sizeof(*db->rules));
	for (size_t i = 0; i < cf->nrules; i++) {
		struct rule *r = cf->rules[i];
		if (r->defined) {
			r->group = (int)db->nrules;
			db->rules[db->nrules++] = r;
		}
	}
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		if (r->type == RT_META)
			meta_prepare(db, cf, r);
	}
	return 0;
}

void
rules_classify_all(struct rules_db *db, const int8_t *decided)
{
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		r->group = -1;
		if (r->type != RT_META)
			classify(db, r, decided ? decided[i] : -1);
	}
	db->evals = arena_array(db->arena, db->nrules + 1, sizeof(unsigned));
	db->nevals = 0;
	for (size_t i = 0; i < db->nrules; i++)
		if (db->rules[i]->engine == RULES_ENGINE_EVAL)
			db->evals[db->nevals++] = (unsigned)i;
	meta_order(db);
	meta_propagate(db);
	count_types(db);
}

/* ---- groups ---- */

/*
 * Hyperscan's compile time grows much faster than the pattern count, and
 * long patterns weigh most: the 340 live stock body entries compile in
 * 21 s as one database, in 4.2 s (the 300 under 1,000 characters) plus
 * 3.0 and 3.4 s (the 40 long ones, in two) as three, which compile side by
 * side (rules_dbs.c). Scanning three costs no more than one (0.42-0.45 vs
 * 0.49 ms a message over dev/ raw text): the short patterns' literal
 * matcher no longer waits on the long ones' automata.
 */
#define LONG_BODY_RE 1000
#define LONG_BODY_PER_DB 20

static unsigned
group_part(const struct rule *r, unsigned *nlong)
{
	if (r->type != RT_BODY || r->re == NULL || strlen(r->re) < LONG_BODY_RE)
		return 0;
	return 1 + (*nlong)++ / LONG_BODY_PER_DB;
}

static bool
same_key(const struct scope_group *g, const struct rule *r, unsigned part)
{
	if (g->scope != r->type || g->part != part)
		return false;
	if (r->type != RT_HEADER && r->type != RT_MIMEHEADER)
		return true;
	/* case matters: MESSAGEID and ALL are pseudo-headers, MessageID is not */
	return strcmp(g->hdr, r->hdr) == 0 && g->hdr_flags == (r->hdr_flags & ~HDR_UNSUP);
}

static bool
in_group_engine(const struct rule *r)
{
	return r->engine == RULES_ENGINE_HYPERSCAN || r->engine == RULES_ENGINE_PCRE2 ||
	    r->engine == RULES_ENGINE_EXISTS;
}

int
rules_build_groups(struct rules_db *db)
{
	size_t cap = 16;
	db->groups = xcalloc(cap, sizeof(*db->groups));
	db->ngroups = 0;
	unsigned nlong = 0;
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		/* counted whatever the engine, so a rule's part is the same on a
		 * cold start and a cached one, where failed rules are known early */
		unsigned part = group_part(r, &nlong);
		if (r->type == RT_META || r->type == RT_NONE || !in_group_engine(r))
			continue;
		size_t g = 0;
		while (g < db->ngroups && !same_key(&db->groups[g], r, part))
			g++;
		if (g == db->ngroups) {
			if (db->ngroups == cap) {
				cap *= 2;
				db->groups = xreallocarray(db->groups, cap, sizeof(*db->groups));
			}
			memset(&db->groups[g], 0, sizeof(db->groups[g]));
			db->groups[g].scope = r->type;
			db->groups[g].hdr = r->hdr;
			db->groups[g].hdr_flags = r->hdr_flags & ~HDR_UNSUP;
			db->groups[g].part = part;
			db->ngroups++;
		}
		r->group = (int)g;
		db->groups[g].nrules++;
	}
	for (size_t g = 0; g < db->ngroups; g++) {
		struct scope_group *gr = &db->groups[g];
		size_t m = gr->nrules;
		gr->rules = arena_array(db->arena, m, sizeof(unsigned));
		gr->pcre = arena_array(db->arena, m, sizeof(unsigned));
		gr->exists = arena_array(db->arena, m, sizeof(unsigned));
		gr->settle = arena_array(db->arena, m, sizeof(unsigned));
		gr->ent = arena_array(db->arena, m, sizeof(*gr->ent));
		gr->nrules = 0;
	}
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		if (r->group >= 0) {
			struct scope_group *gr = &db->groups[r->group];
			gr->rules[gr->nrules++] = (unsigned)i; /* sized by the first pass */
		}
	}
	return 0;
}

unsigned
rules_hs_flags(const struct rule *r)
{
	unsigned f = HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH;
	if (r->re_flags & RE_I)
		f |= HS_FLAG_CASELESS;
	if (r->re_flags & RE_M)
		f |= HS_FLAG_MULTILINE;
	if (r->re_flags & RE_S)
		f |= HS_FLAG_DOTALL;
	return f;
}

/* The pattern as Hyperscan reads it: /x through the (?x) switch, with a
 * newline that ends a trailing comment. */
const char *
rules_hs_expr(struct arena *a, const struct rule *r)
{
	return (r->re_flags & RE_X) ? arena_printf(a, "(?x)%s\n", r->re) : r->re;
}

/* Expressions and flags of a group's database, in id order (heap arrays). */
static bool
prefilter_accepts(const char *expr, unsigned flags)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;
	if (hs_expression_info(expr, flags | HS_FLAG_PREFILTER, &info, &err) != HS_SUCCESS) {
		hs_free_compile_error(err);
		return false;
	}
	free(info);
	return true;
}

/*
 * A literal gate is cheapest for Hyperscan, but a short one or a header
 * rule's is in nearly every text: "http" passed 84 % of URIs, header names
 * 98-100 % of header blocks. Those give way to the pattern in prefilter
 * form (PCRE2 behind gates over dev/, bench/rules_bench: 60 -> 29 us a
 * message, for 2 us more of Hyperscan).
 */
#define WEAK_LITERAL_LEN 4

static bool
weak_literal(const struct rule *r, const struct re_translation *t)
{
	return t->gate_len <= WEAK_LITERAL_LEN || r->type == RT_HEADER;
}

/*
 * A strong literal when there is one; else the pattern in prefilter form;
 * else, when Hyperscan rejects that too (too long, embedded anchors), a
 * required run of the pattern in prefilter form (re_gate.c); else the weak
 * literal, if any, or no gate. t->prefilter set: the prefilter is the gate.
 */
void
rules_gate_choose(struct arena *a, struct rule *r, struct re_translation *t)
{
	t->prefilter = false;
	t->prefilter_expr = NULL;
	if (t->gate != NULL && !weak_literal(r, t))
		return;
	unsigned flags = rules_hs_flags(r);
	if (r->prefilter_ok == 0 && !(r->re_flags & RE_X))
		r->prefilter_ok = prefilter_accepts(r->re, flags) ? 1 : 2;
	if ((r->re_flags & RE_X) || r->prefilter_ok == 1) {
		t->prefilter = true;
	} else {
		t->prefilter_expr = re_gate_run(a, r->re, flags);
		t->prefilter = t->prefilter_expr != NULL;
	}
	/* a weak literal stays behind, for when the prefilter fails to compile */
}
