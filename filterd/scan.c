#include "scan.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "async.h"
#include "checks.h"
#include "greylist.h"
#include "rbl.h"
#include "rules/rules.h"
#include "stats/stats.h"
#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/numfmt.h"
#include "fcore/xalloc.h"

_Static_assert(SCAN_ST_RULES_LAST - SCAN_ST_RULES + 1 == RULES_PH_COUNT,
    "one scan stage per rules phase");

const char *
scan_stage_name(int stage)
{
	static const char *const names[SCAN_ST_COUNT] = {
		"parse", "extract", "checks", "rules header", "rules mimeheader", "rules body",
		"rules rawbody", "rules uri", "rules full", "rules eval", "rules meta", "bayes",
		"async", "score", "json",
	};
	return stage >= 0 && stage < SCAN_ST_COUNT ? names[stage] : "?";
}

void
scan_stage_mark(struct scan_task *t, int st)
{
	if (!(t->flags & SCAN_F_PROFILE))
		return;
	double now = clock_mono();
	t->stage[st] += now - t->stage_mark;
	t->stage_mark = now;
}

static void
limits_from_cfg(struct mime_limits *l, const struct fconf *cfg)
{
	mime_limits_default(l);
	l->max_depth = cfg->limits.mime_depth;
	l->max_parts = cfg->limits.mime_parts;
	l->max_header_lines = cfg->limits.header_lines;
	l->max_header_size = (size_t)cfg->limits.header_size;
	l->max_boundary = (size_t)cfg->limits.boundary;
	l->max_urls = cfg->limits.urls;
}

static void
apply_symbol_overrides(struct symtab *t, const struct fconf *cfg)
{
	for (size_t i = 0; i < cfg->nsymbols; i++) {
		const struct cfg_symbol_override *o = &cfg->symbols[i];
		const struct symbol_def *d = symtab_find(t, o->name);
		symtab_add(t, o->name, o->weight, o->group ? o->group : d ? d->group : NULL,
		    o->description ? o->description : d ? d->description : NULL);
	}
}

int
scan_engine_init(struct scan_engine *e, const struct fconf *cfg, bool compile_rules, char *err,
    size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	e->symtab = symtab_new();
	limits_from_cfg(&e->mime_limits, cfg);
	checks_register(e->symtab);
	symtab_add(e->symtab, SCAN_SYM_TIMEOUT, 0.0, "filterd", "An asynchronous check timed out");
	if (rbl_check_config(cfg, err, errlen) != 0)
		return -1;
	rbl_register(e->symtab, cfg);
	if (cfg->stats.enabled)
		stats_register_symbols(e->symtab);
	if (cfg->greylist.enabled)
		greylist_register(e->symtab);
	if (compile_rules && cfg->rules.enabled) {
		e->rules = rules_load(cfg, e->symtab, err, errlen);
		if (e->rules == NULL)
			return -1;
		struct rules_stats rs;
		rules_get_stats(e->rules, &rs);
		log_info("rules: %u loaded from %u file(s): %u Hyperscan, %u PCRE2, %u meta, %u unsupported, "
		         "%u failed; %u database(s) %s in %.2f s",
		    rs.total, rs.files, rs.hs_compiled, rs.pcre_fallback, rs.meta, rs.eval_unsupported, rs.failed,
		    rs.databases, rs.from_cache ? "loaded from cache" : "compiled", rs.compile_seconds);
	}
	/* Admin overrides win over every module's defaults: applied last. */
	apply_symbol_overrides(e->symtab, cfg);
	return 0;
}

int
scan_engine_attach(struct scan_engine *e, bool stats_writer, char *err, size_t errlen)
{
	/* SQLite handles must not cross fork(): each process opens its own. */
	if (e->rules != NULL && e->scratch == NULL)
		e->scratch = rules_scratch_new(e->rules);
	if (e->cfg->stats.enabled && e->stats == NULL) {
		e->stats = stats_open(e->cfg, stats_writer, err, errlen);
		if (e->stats == NULL)
			return -1;
	}
	return 0;
}

int
scan_engine_set_loop(struct scan_engine *e, struct event_base *base, char *err, size_t errlen)
{
	e->base = base;
	if (e->cfg->rbl.enabled && e->rbl == NULL) {
		e->rbl = rbl_new(e->cfg, base, err, errlen);
		if (e->rbl == NULL)
			return -1;
	}
	return 0;
}

void
scan_engine_deinit(struct scan_engine *e)
{
	rbl_free(&e->rbl);
	stats_close(&e->stats);
	greylist_close(&e->greylist);
	rules_scratch_free(&e->scratch);
	rules_free(&e->rules);
	symtab_free(&e->symtab);
}

static const char *
random_id(struct arena *a)
{
	static unsigned long counter;
	return arena_printf(a, "%06lx", ((unsigned long)getpid() << 12 ^ ++counter ^ (unsigned long)time(NULL)) & 0xffffff);
}

struct scan_task *
scan_task_new(struct scan_engine *e, struct span raw)
{
	struct arena *a = arena_new((size_t)e->cfg->limits.task_memory);
	struct scan_task *t = ARENA_NEW(a, struct scan_task);
	if (t == NULL) {
		arena_free(&a);
		return NULL;
	}
	t->arena = a;
	t->engine = e;
	t->msg.arena = a;
	t->msg.raw = raw;
	t->actions = e->cfg->actions;
	t->start = clock_mono();
	t->now = time(NULL);
	t->id = random_id(a);
	result_init(&t->result, a, e->symtab);
	t->result.subject_template = e->cfg->subject_template;
	return t;
}

void
scan_task_free(struct scan_task **tp)
{
	if (*tp == NULL)
		return;
	struct arena *a = (*tp)->arena;
	*tp = NULL;
	arena_free(&a);
}

static void
settings_actions(struct scan_task *t, json_t *actions)
{
	const char *key;
	json_t *v;
	json_object_foreach(actions, key, v) {
		int a = action_parse(key);
		if (a < 0 || a == ACTION_NO_ACTION)
			continue;
		if (json_is_number(v))
			t->actions.score[a] = json_number_value(v);
		else if (json_is_null(v))
			t->actions.score[a] = NAN;
	}
}

bool
scan_task_apply_settings(struct scan_task *t, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return false;
	}
	/* Either the "apply" part itself or a rule object holding one. */
	json_t *apply = json_object_get(root, "apply");
	if (!json_is_object(apply))
		apply = root;
	json_t *v = json_object_get(apply, "actions");
	if (json_is_object(v))
		settings_actions(t, v);
	v = json_object_get(apply, "subject");
	if (json_is_string(v))
		t->result.subject_template = arena_strdup(t->arena, json_string_value(v));
	v = json_object_get(apply, "symbols_disabled");
	if (json_is_array(v)) {
		size_t i;
		json_t *s;
		json_array_foreach(v, i, s) {
			if (json_is_string(s))
				result_disable_symbol(&t->result, json_string_value(s));
		}
	}
	json_decref(root);
	return true;
}

void
scan_task_apply_flags(struct scan_task *t, struct span flags)
{
	static const struct { const char *name; uint32_t flag; } known[] = {
		{ "pass_all", SCAN_F_PASS_ALL }, { "no_log", SCAN_F_NO_LOG }, { "skip", SCAN_F_SKIP },
		{ "no_stat", SCAN_F_NO_STAT }, { "milter", SCAN_F_MILTER }, { "groups", SCAN_F_GROUPS },
		{ "ext_urls", SCAN_F_EXT_URLS }, { "profile", SCAN_F_PROFILE },
	};
	size_t i = 0;
	while (i < flags.len) {
		size_t j = i;
		while (j < flags.len && flags.p[j] != ',')
			j++;
		struct span f = span_trim(span_make(flags.p + i, j - i));
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (span_caseeq_cstr(f, known[k].name))
				t->flags |= known[k].flag;
		i = j + 1;
	}
}

/* false when a test pattern decided the result: nothing else runs. */
static bool
run_checks(struct scan_task *t)
{
	struct scan_engine *e = t->engine;
	const struct fconf *cfg = e->cfg;
	bool gtube = checks_gtube_run(&t->msg, &t->result, &t->actions, cfg->scan.enable_test_patterns);
	if (!gtube) {
		checks_headers_run(&t->msg, &t->result, t->now);
		checks_mime_anomalies_run(&t->msg, &t->result);
	}
	scan_stage_mark(t, SCAN_ST_CHECKS);
	if (gtube)
		return false;
	if (e->rules != NULL && e->scratch != NULL && t->msg.mime != NULL) {
		bool prof = (t->flags & SCAN_F_PROFILE) != 0;
		if (prof)
			rules_scratch_profile(e->scratch, &t->stage[SCAN_ST_RULES]);
		rules_run(e->rules, e->scratch, &t->msg, &t->result);
		if (prof)
			rules_scratch_profile(e->scratch, NULL);
		t->stage_mark = prof ? clock_mono() : 0.0;
	}
	if (e->stats != NULL && t->msg.mime != NULL)
		stats_classify(e->stats, &t->msg, &t->result);
	scan_stage_mark(t, SCAN_ST_BAYES);
	return true;
}

/* Parse and extract as two timed steps when profiling, one call otherwise. */
static void
parse_message(struct scan_task *t)
{
	if (!(t->flags & SCAN_F_PROFILE)) {
		t->msg.mime = mime_parse(t->arena, t->msg.raw, &t->engine->mime_limits);
		return;
	}
	struct mime_limits lim = t->engine->mime_limits;
	lim.defer_extract = true;
	t->msg.mime = mime_parse(t->arena, t->msg.raw, &lim);
	scan_stage_mark(t, SCAN_ST_PARSE);
	if (t->msg.mime != NULL)
		mime_extract(t->arena, t->msg.mime, &lim);
	scan_stage_mark(t, SCAN_ST_EXTRACT);
}

static void
scan_finish(struct scan_task *t)
{
	scan_stage_mark(t, SCAN_ST_ASYNC);
	const char *subject = t->msg.mime ? t->msg.mime->subject : t->raw_subject;
	result_finalize(&t->result, &t->actions, subject);
	/* Greylisting needs the action; a defer forces soft reject. */
	if (greylist_scan(t->engine->greylist, t))
		result_finalize(&t->result, &t->actions, subject);
	scan_stage_mark(t, SCAN_ST_SCORE);
	t->time_real = clock_mono() - t->start;
	if (!(t->flags & SCAN_F_NO_LOG))
		scan_log_result(t);
	if (t->done)
		t->done(t, t->done_arg);
}

/* The async phase is over: answers, time-outs or the budget. */
static void
scan_resume(struct scan_task *t)
{
	const char *late = async_task_timed_out(t->async);
	async_task_close(t->async);
	t->async = NULL;
	while (*late != '\0') {
		const char *comma = strchr(late, ',');
		size_t n = comma ? (size_t)(comma - late) : strlen(late);
		result_insert(&t->result, SCAN_SYM_TIMEOUT, 1.0, arena_strndup(t->arena, late, n));
		late += comma ? n + 1 : n;
	}
	scan_finish(t);
}

/* Starts the async checks; false (and nothing started) when there are none. */
static bool
start_async(struct scan_task *t)
{
	struct scan_engine *e = t->engine;
	if (e->base == NULL || e->rbl == NULL)
		return false;
	double left = e->cfg->limits.task_timeout - (clock_mono() - t->start);
	/* The sync checks used the budget up: the async ones still get a
	 * moment rather than a time-out that has already passed. */
	t->async = async_task_new(t, e->base, left > 0.01 ? left : 0.01, scan_resume);
	if (t->async == NULL)
		return false;
	rbl_start(e->rbl, t, t->async);
	async_task_release(t->async);
	return true;
}

void
scan_run(struct scan_task *t, scan_done_fn done, void *arg)
{
	t->done = done;
	t->done_arg = arg;
	t->stage_mark = clock_mono();
	if (t->msg.raw.len == 0 || (t->flags & SCAN_F_SKIP)) {
		/* Empty body or Flags: skip: a normal empty result (protocols.md 1.4). */
		t->result.skipped = (t->flags & SCAN_F_SKIP) != 0;
		scan_finish(t);
		return;
	}
	if (!(t->flags & SCAN_F_RAW))
		parse_message(t);
	if (!run_checks(t) || !start_async(t))
		scan_finish(t);
}

void
scan_log_result(const struct scan_task *t)
{
	if (log_get_level() > LOG_LVL_INFO)
		return;
	/* the symbol list alone can be long: capped, as a log line should be */
	char syms[2048];
	size_t o = 0;
	for (size_t i = 0; i < t->result.nsyms; i++) {
		const struct fired_symbol *s = &t->result.syms[i];
		char score[NUMFMT_MAX];
		size_t name = strlen(s->name), len = fmt_fixed(score, s->score, 2);
		if (o + name + len + 4 > sizeof(syms))
			break;
		if (i > 0)
			syms[o++] = ',';
		memcpy(syms + o, s->name, name);
		o += name;
		syms[o++] = '(';
		memcpy(syms + o, score, len);
		o += len;
		syms[o++] = ')';
	}
	syms[o] = '\0';
	const char *mid = t->msg.mime && t->msg.mime->message_id ? t->msg.mime->message_id : "undef";
	char esc[256];
	log_escape(esc, sizeof(esc), mid, strlen(mid));
	const struct envelope *env = &t->msg.env;
	char score[NUMFMT_MAX], required[NUMFMT_MAX], ms[NUMFMT_MAX];
	fmt_fixed(score, t->result.score, 2);
	fmt_fixed(required, action_required_score(&t->actions), 2);
	fmt_fixed(ms, t->time_real * 1000.0, 3);
	log_info("scan id=%s qid=%s mid=<%s> ip=%s helo=%s from=%s rcpts=%zu user=%s score=%s/%s "
	         "action=%s symbols=[%s] size=%zu time=%sms",
	    t->id, env->queue_id ? env->queue_id : "-", esc, env->ip ? env->ip : "-",
	    env->helo ? env->helo : "-", env->mail_from ? env->mail_from : "-", env->nrcpt,
	    env->deliver_to ? env->deliver_to : env->user ? env->user : "-", score, required,
	    action_name(t->result.action), syms, t->msg.raw.len, ms);
}
