#include "fcore/result.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcore/arena.h"

static const char *const action_names[ACTION_COUNT] = {
	"reject", "soft reject", "rewrite subject", "add header", "greylist", "no action",
};

const char *
action_name(enum action a)
{
	return (unsigned)a < ACTION_COUNT ? action_names[a] : "no action";
}

int
action_parse(const char *s)
{
	for (int i = 0; i < ACTION_COUNT; i++) {
		const char *n = action_names[i];
		size_t k = 0;
		for (; n[k] && s[k]; k++) {
			char c = s[k] == '_' ? ' ' : s[k];
			if ((c | 0x20) != (n[k] | 0x20))
				break;
		}
		if (n[k] == '\0' && s[k] == '\0')
			return i;
	}
	return -1;
}

bool
action_is_spam(enum action a)
{
	return a <= ACTION_ADD_HEADER;
}

void
action_thresholds_default(struct action_thresholds *t)
{
	for (int i = 0; i < ACTION_COUNT; i++)
		t->score[i] = NAN;
	t->score[ACTION_REJECT] = 15.0;
	t->score[ACTION_ADD_HEADER] = 6.0;
	t->score[ACTION_GREYLIST] = 4.0;
}

enum action
action_for_score(const struct action_thresholds *t, double score)
{
	/* Of the actions whose threshold the score reaches, the one with the
	 * highest threshold wins (rspamd's rule); ties go to the more severe. */
	enum action best = ACTION_NO_ACTION;
	double best_thr = -INFINITY;
	for (int i = 0; i < ACTION_NO_ACTION; i++) {
		double thr = t->score[i];
		if (isnan(thr) || score < thr)
			continue;
		if (thr > best_thr) {
			best = (enum action)i;
			best_thr = thr;
		}
	}
	return best;
}

double
action_required_score(const struct action_thresholds *t)
{
	double best = NAN;
	for (int i = 0; i <= ACTION_ADD_HEADER; i++) {
		double thr = t->score[i];
		if (!isnan(thr) && (isnan(best) || thr > best))
			best = thr;
	}
	return isnan(best) ? 0.0 : best;
}

void
result_init(struct scan_result *r, struct arena *a, const struct symtab *t)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->symtab = t;
	r->action = ACTION_NO_ACTION;
	r->forced_score = NAN;
}

static bool
is_disabled(const struct scan_result *r, const char *name)
{
	for (size_t i = 0; i < r->ndisabled; i++)
		if (strcmp(r->disabled[i], name) == 0)
			return true;
	return false;
}

static struct fired_symbol *
find_fired(const struct scan_result *r, const char *name)
{
	for (size_t i = 0; i < r->nsyms; i++)
		if (strcmp(r->syms[i].name, name) == 0)
			return &r->syms[i];
	return NULL;
}

struct fired_symbol *
result_insert(struct scan_result *r, const char *name, double multiplier, const char *option)
{
	if (is_disabled(r, name))
		return NULL;
	struct fired_symbol *s = find_fired(r, name);
	if (s == NULL) {
		if (r->nsyms == r->cap) {
			size_t ncap = r->cap ? r->cap * 2 : 32;
			struct fired_symbol *n = arena_realloc(r->arena, r->syms,
			    r->cap * sizeof(*n), ncap * sizeof(*n));
			if (n == NULL)
				return NULL;
			r->syms = n;
			r->cap = ncap;
		}
		s = &r->syms[r->nsyms++];
		memset(s, 0, sizeof(*s));
		const struct symbol_def *d = r->symtab ? symtab_find(r->symtab, name) : NULL;
		s->def = d;
		s->name = d ? d->name : arena_strdup(r->arena, name);
		s->weight = d ? d->weight : 0.0;
		s->score = s->weight * multiplier;
		if (s->name == NULL) {
			r->nsyms--;
			return NULL;
		}
	}
	if (option != NULL)
		result_add_option(s, r, option);
	return s;
}

void
result_add_option(struct fired_symbol *s, struct scan_result *r, const char *option)
{
	if (s == NULL || option == NULL || s->noptions >= RESULT_MAX_OPTIONS)
		return;
	for (size_t i = 0; i < s->noptions; i++)
		if (strcmp(s->options[i], option) == 0)
			return;
	if (s->noptions == s->options_cap) {
		size_t ncap = s->options_cap ? s->options_cap * 2 : 4;
		const char **n = arena_realloc(r->arena, s->options,
		    s->options_cap * sizeof(*n), ncap * sizeof(*n));
		if (n == NULL)
			return;
		s->options = n;
		s->options_cap = ncap;
	}
	const char *copy = arena_strdup(r->arena, option);
	if (copy != NULL)
		s->options[s->noptions++] = copy;
}

const struct fired_symbol *
result_find(const struct scan_result *r, const char *name)
{
	return find_fired(r, name);
}

bool
result_has(const struct scan_result *r, const char *name)
{
	return find_fired(r, name) != NULL;
}

void
result_add_message(struct scan_result *r, const char *key, const char *value)
{
	for (size_t i = 0; i < r->nmessages; i++) {
		if (strcmp(r->messages[i].key, key) == 0) {
			r->messages[i].value = arena_strdup(r->arena, value);
			return;
		}
	}
	struct result_message *n = arena_realloc(r->arena, r->messages,
	    r->nmessages * sizeof(*n), (r->nmessages + 1) * sizeof(*n));
	if (n == NULL)
		return;
	r->messages = n;
	n[r->nmessages].key = arena_strdup(r->arena, key);
	n[r->nmessages].value = arena_strdup(r->arena, value);
	if (n[r->nmessages].key && n[r->nmessages].value)
		r->nmessages++;
}

const char *
result_get_message(const struct scan_result *r, const char *key)
{
	for (size_t i = 0; i < r->nmessages; i++)
		if (strcmp(r->messages[i].key, key) == 0)
			return r->messages[i].value;
	return NULL;
}

void
result_force_action(struct scan_result *r, enum action a, double score, const char *smtp_message)
{
	/* The first pre-result wins unless a later one is more severe. */
	if (r->forced && r->forced_action <= a)
		return;
	r->forced = true;
	r->forced_action = a;
	r->forced_score = score;
	if (smtp_message != NULL)
		result_add_message(r, "smtp_message", smtp_message);
}

void
result_disable_symbol(struct scan_result *r, const char *name)
{
	const char **n = arena_realloc(r->arena, r->disabled, r->ndisabled * sizeof(*n),
	    (r->ndisabled + 1) * sizeof(*n));
	if (n == NULL)
		return;
	r->disabled = n;
	n[r->ndisabled] = arena_strdup(r->arena, name);
	if (n[r->ndisabled])
		r->ndisabled++;
}

static int
cmp_fired(const void *a, const void *b)
{
	return strcmp(((const struct fired_symbol *)a)->name, ((const struct fired_symbol *)b)->name);
}

static const char *
render_subject(struct scan_result *r, const char *tmpl, const char *old)
{
	struct { char *p; size_t len, cap; } o = { 0 };
	size_t tl = strlen(tmpl);
	size_t ol = old ? strlen(old) : 0;
	size_t cap = tl + ol * 4 + 64;
	char *out = arena_alloc(r->arena, cap);
	if (out == NULL)
		return NULL;
	o.p = out;
	o.cap = cap;
	for (size_t i = 0; i < tl && o.len + 1 < o.cap; i++) {
		if (tmpl[i] == '%' && i + 1 < tl && tmpl[i + 1] == 's') {
			size_t n = ol < o.cap - o.len - 1 ? ol : o.cap - o.len - 1;
			memcpy(o.p + o.len, old ? old : "", n);
			o.len += n;
			i++;
		} else if (tmpl[i] == '%' && i + 1 < tl && tmpl[i + 1] == 'd') {
			o.len += (size_t)snprintf(o.p + o.len, o.cap - o.len, "%.2f", r->score);
			if (o.len >= o.cap)
				o.len = o.cap - 1;
			i++;
		} else {
			o.p[o.len++] = tmpl[i];
		}
	}
	o.p[o.len] = '\0';
	return o.p;
}

void
result_finalize(struct scan_result *r, const struct action_thresholds *t, const char *old_subject)
{
	double score = 0.0;
	for (size_t i = 0; i < r->nsyms; i++)
		score += r->syms[i].score;
	if (isnan(score))
		score = 0.0;
	r->score = score;
	if (r->forced) {
		r->action = r->forced_action;
		if (!isnan(r->forced_score))
			r->score = r->forced_score;
	} else {
		r->action = action_for_score(t, score);
	}
	if (r->action == ACTION_REWRITE_SUBJECT) {
		const char *tmpl = r->subject_template ? r->subject_template : "*** SPAM *** %s";
		r->subject = render_subject(r, tmpl, old_subject);
	}
	if (r->nsyms > 1)
		qsort(r->syms, r->nsyms, sizeof(*r->syms), cmp_fired);
}
