/*
 * rules - SpamAssassin .cf rules on Hyperscan, with PCRE2 for what
 * Hyperscan cannot compile, and meta rules over the hits.
 *
 * rules_load() reads the rule files once (in the supervisor), registers every
 * scored rule as a symbol, and compiles one Hyperscan database per scope
 * (one per header name a header rule reads, body, rawbody, uri, full), or
 * loads them from the cache in state_dir when the rules, the Hyperscan
 * version and the CPU features are unchanged. The result is read-only and is
 * shared by the workers after fork; each worker takes one scratch.
 *
 * Scores: SpamAssassin's four-value score lines are read as set 2 (Bayes on,
 * network tests off), the set filterd runs in. A rule with score 0 is
 * disabled as in SpamAssassin: not run, 0 in meta rules.
 */
#ifndef RULES_RULES_H
#define RULES_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct fconf;
struct symtab;
struct msg;
struct scan_result;

struct rules_db;      /* compiled, read-only, shared by workers after fork */
struct rules_scratch; /* per worker (Hyperscan scratch, PCRE2 match data) */

/* Reads cfg->rules.paths (default when empty: FILTERD_RULES_DIR then
 * /usr/share/spamassassin if it exists) and then cfg->rules.local. NULL with
 * "file:line: reason" in err only for fatal problems (unreadable file,
 * unbalanced if/endif, malformed rule line); a rule whose regex fails to
 * compile is logged and skipped. symtab may be NULL. */
struct rules_db *rules_load(const struct fconf *cfg, struct symtab *symtab, char *err,
    size_t errlen);
void rules_free(struct rules_db **dbp);

struct rules_scratch *rules_scratch_new(const struct rules_db *db);
void rules_scratch_free(struct rules_scratch **sp);

/* Runs every scope over the parsed message and inserts the hits into res
 * (multiplier 1, or the hit count for tflags multiple). Rules whose name
 * starts with __ are evaluated for meta rules but not inserted. Returns the
 * number of rules inserted, -1 if msg has no parsed MIME tree. */
int rules_run(const struct rules_db *db, struct rules_scratch *s, const struct msg *msg,
    struct scan_result *res);

/* Where rules_run() spends its time, for profiling: seconds per phase are
 * added to acc[RULES_PH_*] by every later rules_run() on this scratch until
 * it is set to NULL again (the default: no clock is read). The body phase
 * includes rendering the text lines; meta includes inserting the hits. */
enum rules_phase {
	RULES_PH_HEADER,
	RULES_PH_MIMEHEADER,
	RULES_PH_BODY,
	RULES_PH_RAWBODY,
	RULES_PH_URI,
	RULES_PH_FULL,
	RULES_PH_EVAL,
	RULES_PH_META,
	RULES_PH_COUNT
};
void rules_scratch_profile(struct rules_scratch *s, double *acc);

struct rules_stats {
	unsigned total;            /* rule definitions read (after if/ifplugin) */
	unsigned header, body, rawbody, uri, full, meta;
	unsigned mimeheader;
	unsigned eval_unsupported; /* eval: rules (and metas over them) not run */
	unsigned hs_compiled;      /* patterns in Hyperscan databases */
	unsigned pcre_fallback;    /* patterns run by PCRE2 */
	unsigned failed;           /* regexes neither engine compiled: skipped */
	unsigned unread;           /* regex rules nothing reads (unscored, only inputs of
	                            * metas that cannot run): not matched, not counted
	                            * in hs_compiled / pcre_fallback */
	unsigned skipped_blocks;   /* ifplugin/if blocks for plugins we do not implement */
	unsigned files;
	unsigned databases;
	size_t db_bytes;           /* size of the serialised Hyperscan databases */
	double compile_seconds;    /* whole load, parse included */
	bool from_cache;
};
void rules_get_stats(const struct rules_db *db, struct rules_stats *out);

enum rules_engine {
	RULES_ENGINE_HYPERSCAN,
	RULES_ENGINE_PCRE2,
	RULES_ENGINE_META,
	RULES_ENGINE_EXISTS,       /* header exists: test, no regex */
	RULES_ENGINE_UNSUPPORTED,
	RULES_ENGINE_DISABLED,     /* score 0 */
	RULES_ENGINE_EVAL,         /* eval: function implemented by filterd */
};

struct rules_info {
	const char *name;
	const char *type;      /* "header", "body", "rawbody", "uri", "full", "meta", "mimeheader" */
	enum rules_engine engine;
	const char *reason;    /* UNSUPPORTED: "eval:check_foo", "regex: ...", "meta input FOO" */
	const char *file;
	unsigned line;
	double score;
};
/* Rule i in load order, i < rules_count(); false past the end. */
size_t rules_count(const struct rules_db *db);
bool rules_get_info(const struct rules_db *db, size_t i, struct rules_info *out_r);
const char *rules_engine_name(enum rules_engine e);
/* Files read, in order. */
size_t rules_nfiles(const struct rules_db *db);
const char *rules_file(const struct rules_db *db, size_t i);

#endif
