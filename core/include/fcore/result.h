/*
 * result - what a scan found: fired symbols with their options and scores,
 * messages for the MTA, the total score and the action.
 *
 * Checks insert symbols; result_finalize() adds up the scores and picks the
 * action from the thresholds (or the forced "pre-result" a check set, e.g.
 * GTUBE or greylisting). All memory comes from the task arena.
 */
#ifndef FCORE_RESULT_H
#define FCORE_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "fcore/symbol.h"

struct arena;

enum action {
	ACTION_REJECT,
	ACTION_SOFT_REJECT,
	ACTION_REWRITE_SUBJECT,
	ACTION_ADD_HEADER,
	ACTION_GREYLIST,
	ACTION_NO_ACTION,
	ACTION_COUNT
};

/* rspamd's strings, with spaces ("add header"). */
const char *action_name(enum action a);
/* Accepts spaces or underscores, any case; -1 if unknown. */
int action_parse(const char *s);
bool action_is_spam(enum action a);

/* Thresholds by action; NAN = no threshold. */
struct action_thresholds {
	double score[ACTION_COUNT];
};
void action_thresholds_default(struct action_thresholds *t);
/* The action for a score: the most severe with a threshold <= score. */
enum action action_for_score(const struct action_thresholds *t, double score);
/* Threshold of the highest-scoring enabled spam action (normally reject). */
double action_required_score(const struct action_thresholds *t);

struct fired_symbol {
	const char *name;
	const struct symbol_def *def; /* NULL if not registered */
	double score;                 /* contributed */
	double weight;                /* configured (metric_score) */
	const char **options;
	size_t noptions;
	size_t options_cap;
};

struct result_message {
	const char *key;
	const char *value;
};

#define RESULT_MAX_OPTIONS 32 /* per symbol: options past this are dropped */

struct scan_result {
	struct arena *arena;
	const struct symtab *symtab;
	struct fired_symbol *syms;
	size_t nsyms;
	size_t cap;
	struct result_message *messages;
	size_t nmessages;
	double score;
	enum action action;
	bool skipped;             /* rules were skipped (GTUBE, Flags: skip) */
	bool forced;              /* action forced by a check (pre-result) */
	enum action forced_action;
	double forced_score;      /* NAN = keep the computed score */
	const char *subject;      /* for rewrite subject */
	const char *subject_template; /* per-request override, %s = old subject, %d = score */
	const char **disabled;    /* symbols disabled for this task (Settings) */
	size_t ndisabled;
};

void result_init(struct scan_result *r, struct arena *a, const struct symtab *t);
/* Inserts (or, when already fired, adds options to) a symbol; the score is
 * weight * multiplier, kept at the first insert. option may be NULL. */
struct fired_symbol *result_insert(struct scan_result *r, const char *name, double multiplier,
    const char *option);
void result_add_option(struct fired_symbol *s, struct scan_result *r, const char *option);
const struct fired_symbol *result_find(const struct scan_result *r, const char *name);
bool result_has(const struct scan_result *r, const char *name);
void result_add_message(struct scan_result *r, const char *key, const char *value);
const char *result_get_message(const struct scan_result *r, const char *key);
/* A check decides the action (GTUBE, greylist). score NAN = keep computed. */
void result_force_action(struct scan_result *r, enum action a, double score, const char *smtp_message);
void result_disable_symbol(struct scan_result *r, const char *name);
/* Sums scores, applies the forced action or the thresholds, sorts symbols by name. */
void result_finalize(struct scan_result *r, const struct action_thresholds *t, const char *old_subject);

#endif
