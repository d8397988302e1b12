/*
 * rules_compile.c - from parsed rules to scope groups and databases.
 *
 * Each regex rule gets an engine (Hyperscan, PCRE2, or failed), then joins
 * the group of the bytes it reads: one group per header (name and
 * modifiers) a header rule names, one per mimeheader name, and one each for
 * body, rawbody, uri and full. Each group compiles to one Hyperscan
 * database holding its Hyperscan rules plus the gate literals of its PCRE2
 * rules. A pattern Hyperscan accepts alone but not in the database (too
 * large) moves to PCRE2 and the group is compiled again: one bad rule never
 * costs the others.
 *
 * Meta rules are ordered inputs first; a meta over an input filterd cannot
 * evaluate (an eval: test, a failed regex) is unsupported itself, because
 * running it with that input at 0 would make up hits SpamAssassin does not
 * have. Inputs not defined at all (network plugins' rules are skipped with
 * their blocks) are 0, as in SpamAssassin without network tests.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include <xxhash.h>
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

static void
pcre_fallback(struct rules_db *db, struct rule *r, const char *why)
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
		pcre_fallback(db, r, r->reason);
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

static bool
same_key(const struct scope_group *g, const struct rule *r)
{
	if (g->scope != r->type)
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
	for (size_t i = 0; i < db->nrules; i++) {
		struct rule *r = db->rules[i];
		if (r->type == RT_META || r->type == RT_NONE || !in_group_engine(r))
			continue;
		size_t g = 0;
		while (g < db->ngroups && !same_key(&db->groups[g], r))
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

/* Fills ent/pcre/exists from the rules' current engines. */
static void
group_fill(struct rules_db *db, struct scope_group *g, struct re_translation *gates)
{
	g->nent = g->npcre = g->nexists = 0;
	for (unsigned k = 0; k < g->nrules; k++) {
		unsigned i = g->rules[k];
		struct rule *r = db->rules[i];
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
static void
group_exprs(struct rules_db *db, struct scope_group *g, struct re_translation *gates,
    unsigned *gate_pos, const char ***exprs_r, unsigned **flags_r)
{
	const char **exprs = xcalloc(g->nent ? g->nent : 1, sizeof(*exprs));
	unsigned *flags = xcalloc(g->nent ? g->nent : 1, sizeof(*flags));
	for (unsigned e = 0; e < g->nent; e++) {
		struct rule *r = db->rules[g->ent[e].rule];
		const struct re_translation *t = &gates[gate_pos[e]];
		if (g->ent[e].kind == GK_GATE && t->gate != NULL) {
			exprs[e] = gate_expr(db->arena, t);
			flags[e] = HS_FLAG_SINGLEMATCH | (t->gate_caseless ? HS_FLAG_CASELESS : 0);
			continue;
		}
		if (g->ent[e].kind == GK_GATE && t->prefilter_expr != NULL)
			exprs[e] = t->prefilter_expr;
		else
			exprs[e] = rules_hs_expr(db->arena, r);
		flags[e] = rules_hs_flags(r);
		if (g->ent[e].kind == GK_GATE)
			flags[e] |= HS_FLAG_PREFILTER;
	}
	*exprs_r = exprs;
	*flags_r = flags;
}

/* What the database was compiled from; a cached database must match it. */
static uint64_t
layout_hash(const struct scope_group *g, const char **exprs, const unsigned *flags)
{
	XXH64_state_t *st = XXH64_createState();
	XXH64_reset(st, 0);
	for (unsigned e = 0; e < g->nent; e++) {
		XXH64_update(st, exprs[e], strlen(exprs[e]) + 1);
		XXH64_update(st, &flags[e], sizeof(flags[e]));
	}
	uint64_t h = XXH64_digest(st);
	XXH64_freeState(st);
	return h;
}

static hs_error_t
group_hs_compile(struct rules_db *db, struct scope_group *g, struct re_translation *gates,
    unsigned *gate_pos, hs_compile_error_t **cerr)
{
	const char **exprs;
	unsigned *flags;
	group_exprs(db, g, gates, gate_pos, &exprs, &flags);
	unsigned *ids = xcalloc(g->nent ? g->nent : 1, sizeof(*ids));
	for (unsigned e = 0; e < g->nent; e++)
		ids[e] = e;
	g->layout = layout_hash(g, exprs, flags);
	g->db = NULL;
	hs_error_t rc = HS_SUCCESS;
	if (g->nent > 0)
		rc = hs_compile_multi(exprs, flags, ids, g->nent, HS_MODE_BLOCK, NULL, &g->db, cerr);
	free(exprs);
	free(flags);
	free(ids);
	return rc;
}

/* True when a cached database was built from this group's current layout. */
static bool
group_layout_matches(struct rules_db *db, struct scope_group *g, struct re_translation *gates,
    unsigned *gate_pos, uint64_t cached)
{
	const char **exprs;
	unsigned *flags;
	group_exprs(db, g, gates, gate_pos, &exprs, &flags);
	g->layout = layout_hash(g, exprs, flags);
	free(exprs);
	free(flags);
	return g->layout == cached;
}

/* gate_pos: for each entry, the index in the group's rule list (for gates). */
static void
gate_positions(const struct rules_db *db, const struct scope_group *g, unsigned *pos)
{
	for (unsigned e = 0; e < g->nent; e++)
		for (unsigned k = 0; k < g->nrules; k++)
			if (g->rules[k] == g->ent[e].rule)
				pos[e] = k;
}


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
 * The literal when there is one; else the pattern in prefilter form; else,
 * when Hyperscan rejects that too (too long, embedded anchors), a required
 * run of the pattern in prefilter form (re_gate.c); else no gate.
 */
void
rules_gate_choose(struct arena *a, struct rule *r, struct re_translation *t)
{
	t->prefilter = false;
	t->prefilter_expr = NULL;
	if (t->gate != NULL)
		return;
	unsigned flags = rules_hs_flags(r);
	if (r->prefilter_ok == 0 && !(r->re_flags & RE_X))
		r->prefilter_ok = prefilter_accepts(r->re, flags) ? 1 : 2;
	if ((r->re_flags & RE_X) || r->prefilter_ok == 1) {
		t->prefilter = true;
		return;
	}
	t->prefilter_expr = re_gate_run(a, r->re, flags);
	t->prefilter = t->prefilter_expr != NULL;
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

#define ALONE_FORK_LEN 1000  /* longer expressions compile in a child, timed */
#define ALONE_LIMIT_MS 2000
#define ALONE_TOO_LONG "compiles for over 2 s"

static bool
compile_here(const char *expr, unsigned flags, char *why, size_t whylen)
{
	hs_database_t *d = NULL;
	hs_compile_error_t *cerr = NULL;
	if (hs_compile(expr, flags, HS_MODE_BLOCK, NULL, &d, &cerr) == HS_SUCCESS) {
		hs_free_database(d);
		return true;
	}
	snprintf(why, whylen, "%s", cerr ? cerr->message : "compile failed");
	hs_free_compile_error(cerr);
	return false;
}

/* Child side: the verdict as "1" or "0<reason>" on the pipe. */
static void
compile_child(int wfd, const char *expr, unsigned flags)
{
	char msg[256];
	msg[0] = compile_here(expr, flags, msg + 1, sizeof(msg) - 1) ? '1' : '0';
	ssize_t w = write(wfd, msg, msg[0] == '1' ? 1 : strlen(msg));
	(void)w;
	_exit(0);
}

/*
 * Whether Hyperscan compiles expr alone; why says why not. A long pattern
 * compiles in a child given ALONE_LIMIT_MS, and one that takes longer is
 * refused as too costly: the __FILL_THIS_FORM_* family takes 2-16 s each,
 * only to fail as too large or to give a gate that passes 93-100 % of
 * texts. Its verdict is kept in the rule cache, so this runs only cold.
 */
static bool
compile_alone(const char *expr, unsigned flags, char *why, size_t whylen)
{
	int pfd[2];
	if (strlen(expr) < ALONE_FORK_LEN || pipe(pfd) != 0)
		return compile_here(expr, flags, why, whylen);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return compile_here(expr, flags, why, whylen);
	}
	if (pid == 0) {
		close(pfd[0]);
		compile_child(pfd[1], expr, flags);
	}
	close(pfd[1]);
	struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
	int pr;
	do
		pr = poll(&pf, 1, ALONE_LIMIT_MS);
	while (pr < 0 && errno == EINTR);
	char buf[257];
	ssize_t n = pr > 0 ? read(pfd[0], buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		kill(pid, SIGKILL);
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	if (n <= 0) {
		snprintf(why, whylen, "%s", ALONE_TOO_LONG);
		return false;
	}
	buf[n] = '\0';
	if (buf[0] == '1')
		return true;
	snprintf(why, whylen, "%s", buf + 1);
	return false;
}

/* A pattern Hyperscan finds too large or too slow to compile has a
 * prefilter form as large: such a rule gets a literal gate or none. */
static bool
too_costly(const char *msg)
{
	return strstr(msg, "too large") != NULL || strcmp(msg, ALONE_TOO_LONG) == 0;
}

/* Entry e failed in Hyperscan: a gate is dropped (the rule runs ungated),
 * a rule falls back to PCRE2 with a gate of its own. */
static void
drop_entry(struct rules_db *db, struct scope_group *g, struct re_translation *gates,
    const unsigned *pos, unsigned e, const char *msg)
{
	struct rule *r = db->rules[g->ent[e].rule];
	if (g->ent[e].kind == GK_GATE) {
		gates[pos[e]].gate = NULL;
		gates[pos[e]].prefilter = false;
		r->nogate = true;
		return;
	}
	char why[256];
	snprintf(why, sizeof(why), "Hyperscan: %s", msg);
	pcre_fallback(db, r, why);
	if (r->engine == RULES_ENGINE_PCRE2) {
		struct re_translation t;
		re_translate_gate_only(db->arena, r->re, r->re_flags, &t);
		rules_gate_choose(db->arena, r, &t);
		if (too_costly(msg) && t.gate == NULL) {
			t.prefilter = false;
			t.prefilter_expr = NULL;
			r->nogate = true;
		}
		gates[pos[e]] = t;
		db->stats.pcre_fallback++;
	}
}

/*
 * Compiles each entry of the group alone and gives those Hyperscan refuses
 * the same fallback as a failed group compile. Hyperscan names only the
 * first bad expression of a group and only after compiling most of it: the
 * stock body rules hold several, each found by a whole body compile of
 * 5-48 s. Alone, a pattern compiles in milliseconds. Returns how many
 * entries were dropped.
 */
unsigned
rules_hs_validate_group(struct rules_db *db, struct scope_group *g)
{
	struct re_translation *gates = group_gates(db, g);
	unsigned *pos = xcalloc(g->nrules ? g->nrules : 1, sizeof(*pos));
	group_fill(db, g, gates);
	gate_positions(db, g, pos);
	const char **exprs;
	unsigned *flags, dropped = 0;
	group_exprs(db, g, gates, pos, &exprs, &flags);
	for (unsigned e = 0; e < g->nent; e++) {
		char why[256];
		if (compile_alone(exprs[e], flags[e], why, sizeof(why)))
			continue;
		drop_entry(db, g, gates, pos, e, why);
		dropped++;
	}
	free(exprs);
	free(flags);
	free(gates);
	free(pos);
	return dropped;
}

/* Lays out one group and compiles its database, unless pre (from the
 * cache) is given. */
int
rules_hs_compile_group(struct rules_db *db, struct scope_group *g, hs_database_t *pre,
    uint64_t pre_layout)
{
	struct re_translation *gates = group_gates(db, g);
	g->db = NULL;
	unsigned *pos = xcalloc(g->nrules ? g->nrules : 1, sizeof(*pos));
	int rc = 0;
	for (;;) {
		group_fill(db, g, gates);
		gate_positions(db, g, pos);
		if (pre != NULL) {
			if (group_layout_matches(db, g, gates, pos, pre_layout)) {
				g->db = pre;
				break;
			}
			hs_free_database(pre);
			pre = NULL;
			db->cache_stale++;
		}
		if (g->db != NULL || g->nent == 0)
			break;
		hs_compile_error_t *cerr = NULL;
		hs_error_t hr = group_hs_compile(db, g, gates, pos, &cerr);
		if (hr == HS_SUCCESS)
			break;
		int bad = cerr ? cerr->expression : -1;
		if (bad < 0 || (unsigned)bad >= g->nent) {
			log_warn("rules: Hyperscan: %s", cerr ? cerr->message : "compile failed");
			hs_free_compile_error(cerr);
			rc = -1;
			break;
		}
		drop_entry(db, g, gates, pos, (unsigned)bad, cerr->message);
		hs_free_compile_error(cerr);
	}
	free(gates);
	free(pos);
	return rc;
}
