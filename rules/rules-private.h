/*
 * rules-private.h - shared by the rules library's sources only.
 *
 * Pipeline: cf_parse.c reads .cf files into a struct cf (one struct rule per
 * name, later definitions replacing earlier ones as in SpamAssassin);
 * cf_replace.c applies ReplaceTags; re_translate.c turns each Perl regex into
 * a Hyperscan expression or marks it for PCRE2; meta.c compiles meta
 * expressions; rules_compile.c groups rules by scope and builds the
 * databases; rules_cache.c stores and loads them; rules_run.c matches.
 */
#ifndef RULES_PRIVATE_H
#define RULES_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include "rules/rules.h"

struct arena;

enum rule_type {
	RT_NONE = -1,
	RT_HEADER,
	RT_MIMEHEADER,
	RT_BODY,
	RT_RAWBODY,
	RT_URI,
	RT_FULL,
	RT_META,
	RT_COUNT
};
const char *rule_type_name(int t);

/* header modifiers */
#define HDR_RAW 0x01
#define HDR_ADDR 0x02
#define HDR_NAME 0x04
#define HDR_UNSUP 0x80 /* a modifier filterd does not implement */

/* tflags */
#define TF_MULTIPLE 0x01
#define TF_NICE 0x02
#define TF_NET 0x04
#define TF_LEARN 0x08
#define TF_NOAUTOLEARN 0x10
#define TF_USERCONF 0x20
#define TF_PUBLISH 0x40
#define TF_NOSUBJECT 0x80 /* body rule: the first text (the Subject line) is skipped */

/* regex flags from the Perl delimiters */
#define RE_I 0x01
#define RE_M 0x02
#define RE_S 0x04
#define RE_X 0x08

struct meta_prog;

struct rule {
	const char *name;
	int type;              /* enum rule_type; RT_NONE: only score/describe/... seen */
	bool defined;
	const char *src;       /* regex as written (delimiters, flags) or meta expression */
	const char *eval;      /* "check_foo(args)" for eval: rules */
	const char *hdr;       /* header rules: header name without modifiers */
	unsigned hdr_flags;
	bool neg;              /* !~ */
	bool exists;           /* exists:HDR */
	const char *unset;     /* [if-unset: ...], NULL if none */
	double score;
	bool has_score;
	const char *describe;
	unsigned tflags;
	unsigned maxhits;
	int priority;
	bool replace;          /* listed in replace_rules */
	const char *file;
	unsigned line;

	/* compiled */
	const char *re;        /* pattern body after ReplaceTags */
	unsigned re_flags;
	enum rules_engine engine;
	const char *reason;
	int group;             /* scope group, -1 if none */
	pcre2_code *pcre;      /* fallbacks, multiple, if-unset */
	struct meta_prog *meta;
	bool enabled;          /* score != 0 */
	int eval_id;           /* implemented eval: function (RULES_ENGINE_EVAL) */
	double eval_a, eval_b; /* its numeric arguments; NAN = undef */
	bool nogate;           /* gate literal did not compile: PCRE2 runs ungated */
	/* Hyperscan's answer on the whole pattern as a prefilter: 0 not asked
	 * yet, 1 accepted, 2 refused. Asking takes ms for the largest stock
	 * patterns, so the cache remembers it for the warm start. */
	uint8_t prefilter_ok;
};

/* ---- .cf reader ---- */

struct cf_tag {
	const char *name;
	const char *value;
};

struct cf_taglist {
	struct cf_tag *v;
	size_t n, cap;
};

struct cf {
	struct arena *arena;
	struct rule **rules;   /* load order of first mention */
	size_t nrules, cap;
	uint32_t *slots;       /* name index: rule index + 1 */
	size_t nslots;
	struct cf_taglist tags, pre, inter, post;
	const char *replace_start, *replace_end;
	const char **files;
	size_t nfiles, files_cap;
	unsigned skipped_blocks;
	unsigned depth;        /* include depth */
	uint64_t body_part_scan_size;    /* SpamAssassin's settings of these names */
	uint64_t rawbody_part_scan_size;
	char *err;
	size_t errlen;
};

void cf_init(struct cf *cf, struct arena *a, char *err, size_t errlen);
void cf_deinit(struct cf *cf);
/* Reads a file or every *.cf in a directory (sorted, as SpamAssassin). */
int cf_read_path(struct cf *cf, const char *path);
/* Reads a buffer; name is used in error messages and to resolve includes. */
int cf_read_buffer(struct cf *cf, const char *name, const char *data, size_t len);
struct rule *cf_find(const struct cf *cf, const char *name);
/* After all files: ReplaceTags, default scores. */
void cf_finish(struct cf *cf);
/* ReplaceTags on one pattern body; arena result. */
const char *cf_replace_tags(const struct cf *cf, const char *re);
/* Splits "m{..}flags" / "/../flags"; false if not a delimited regex. */
bool cf_split_regex(struct arena *a, const char *src, const char **body_r, unsigned *flags_r);
/* Evaluates an `if` condition; -1 on syntax error. */
int cf_eval_cond(const char *expr);
bool cf_plugin_loaded(const char *name);

/* ---- regex translation ---- */

enum re_target { RE_TARGET_HS, RE_TARGET_PCRE, RE_TARGET_FAIL };

struct re_translation {
	enum re_target target;
	const char *expr;      /* Hyperscan expression (HS) */
	unsigned hs_flags;
	const char *reason;    /* why PCRE2 / why failed */
	const char *gate;      /* literal that must occur for a PCRE2 match, or NULL */
	size_t gate_len;
	bool gate_caseless;
	bool prefilter;        /* gate is the pattern in HS_FLAG_PREFILTER form */
	const char *prefilter_expr; /* with prefilter: a required run of the pattern
	                             * (re_gate.c) instead of the whole, or NULL */
};

/* Decides the engine for a Perl regex body with flags. */
void re_translate(struct arena *a, const char *re, unsigned flags, struct re_translation *out);
/* Only the gate literal (for PCRE2 rules). */
void re_translate_gate_only(struct arena *a, const char *re, unsigned flags,
    struct re_translation *out);
/* The gate of a PCRE2 rule (rules_compile.c): after re_translate_gate_only(),
 * decides between the literal and the pattern's prefilter form. */
struct rule;
void rules_gate_choose(struct arena *a, struct rule *r, struct re_translation *t);
/* A Hyperscan rule's flags (i m s, single match, empty allowed) and its
 * expression as compiled (rules_compile.c). */
unsigned rules_hs_flags(const struct rule *r);
const char *rules_hs_expr(struct arena *a, const struct rule *r);
/* re_gate.c: the required run of re with the largest minimum width that
 * Hyperscan accepts in prefilter mode with hs_flags; NULL if none. */
const char *re_gate_run(struct arena *a, const char *re, unsigned hs_flags);
/* Compiles for PCRE2 with JIT; NULL + reason on failure. */
pcre2_code *re_pcre_compile(const char *re, unsigned flags, char *why, size_t whylen);

/* ---- meta ---- */

struct meta_prog *meta_compile(struct arena *a, const char *expr, char *err, size_t errlen);
/* Names referenced, for dependency order. */
size_t meta_ninputs(const struct meta_prog *p);
const char *meta_input(const struct meta_prog *p, size_t i);
void meta_bind(struct meta_prog *p, size_t i, int rule);
int meta_bound(const struct meta_prog *p, size_t i);
/* Evaluates with hit counts per rule index. */
double meta_eval(const struct meta_prog *p, const unsigned *hits);

/* ---- eval: functions (rules_eval.c) ---- */

struct rules_db;
struct msg;
struct rules_scratch_eval {
	pcre2_match_data *md;
	/* per message: the Date / Received difference, read by the 13 stock
	 * check_for_shifted_date rules */
	bool have_date_diff;
	double date_diff;
};
/* true when r->eval names an implemented function with valid arguments */
bool rules_eval_prepare(struct rules_db *db, struct rule *r);
int rules_eval_init(struct rules_db *db);
bool rules_parse_date(const char *s, size_t len, time_t *out);
unsigned rules_eval_run(const struct rules_db *db, struct rules_scratch_eval *se,
    const struct rule *r, const struct msg *msg);

/* ---- compiled database ---- */

enum group_kind { GK_DIRECT, GK_GATE };

struct group_entry {
	unsigned rule;
	uint8_t kind;
};

struct scope_group {
	int scope;             /* enum rule_type */
	const char *hdr;       /* header and mimeheader groups */
	unsigned hdr_flags;
	unsigned part;         /* body: 0 short patterns, 1.. long ones (rules_compile.c) */
	hs_database_t *db;
	struct group_entry *ent;  /* by Hyperscan id */
	unsigned nent;
	unsigned *pcre;        /* PCRE2 rules without a gate: run on every text */
	unsigned npcre;
	unsigned *rules;       /* every regex rule of the group */
	unsigned nrules;
	unsigned *exists;      /* exists: rules on this header */
	unsigned nexists;
	unsigned *settle;      /* header rules with !~ or [if-unset:]: settled after the texts */
	unsigned nsettle;
	uint64_t layout;       /* hash of the expressions the database holds */
};

struct rules_db {
	struct arena *arena;
	struct rule **rules;
	size_t nrules;
	struct scope_group *groups;
	size_t ngroups;
	unsigned *meta_order;  /* meta rules, inputs first */
	size_t nmeta;
	unsigned *meta_dep_start, *meta_dep; /* rule j is read by the metas at
	                                      * meta_dep[meta_dep_start[j] ..
	                                      * meta_dep_start[j + 1]) (positions
	                                      * in meta_order); meta_index.c */
	uint8_t *meta_base;    /* per position: the meta's value when nothing hits */
	const char **files;
	size_t nfiles;
	struct rules_stats stats;
	uint32_t pcre_match_limit, pcre_depth_limit;
	size_t body_part_scan_size, rawbody_part_scan_size; /* per part; 0 = whole */
	unsigned max_ent;      /* largest nent, for scratch */
	unsigned cache_stale;  /* cached databases whose layout no longer matched */
	unsigned *evals;       /* rules run by rules_eval.c */
	size_t nevals;
	uint8_t *live;         /* per rule: its result is read (rules_live.c) */
	pcre2_code *eval_local_re, *eval_fetchmail_re, *eval_rcvd_date_re;
};


/* ---- Hyperscan compiles in child processes (hs_jobs.c) ---- */

#define HS_JOBS_MAX_PARALLEL 16

enum hs_job_status { HS_JOB_OK, HS_JOB_FAILED, HS_JOB_TIMEOUT };

struct hs_job {
	const char *const *exprs;
	const unsigned *flags, *ids;
	unsigned n;
	unsigned limit_ms;     /* 0 = none */
	bool want_db;          /* else only whether it compiles */
	/* out */
	enum hs_job_status status;
	hs_database_t *db;
	int bad;               /* failed: the expression Hyperscan named, or -1 */
	char why[256];
};

/* Online cores, at most HS_JOBS_MAX_PARALLEL. */
unsigned hs_jobs_parallel(void);
/* Runs every job, at most parallel at a time; returns when all are done. */
void hs_jobs_run(struct hs_job *jobs, size_t n, unsigned parallel);

/* re_unroll.c: how many positions Hyperscan's graph of the pattern has once
 * bounded repeats are unrolled (an estimate, in pattern atoms). */
size_t re_unrolled_size(const char *re);

int rules_compile(struct rules_db *db, struct cf *cf);
/* Once the rules are final: each rule's readers and each meta's baseline. */
void rules_meta_index(struct rules_db *db);
/* After the groups are built, before their databases: fills db->live. */
void rules_mark_live(struct rules_db *db);
/* Marks metas over inputs that became unsupported since classification. */
void rules_meta_repropagate(struct rules_db *db);
int rules_build_groups(struct rules_db *db);
/* decided: per rule RE_TARGET_* from the cache, or NULL to translate. */
void rules_classify_all(struct rules_db *db, const int8_t *decided);
/* Lays out every group and compiles its database (rules_dbs.c). pre and
 * pre_layout (from the cache, by group, or NULL): a database is used
 * instead of compiling when its group lays out the same, else freed. */
void rules_hs_compile_all(struct rules_db *db, hs_database_t **pre, const uint64_t *pre_layout);
/* Before a cold compile: entries whose patterns unroll too far get their
 * fallback at once, so the metas can follow before anything compiles;
 * returns how many. */
unsigned rules_hs_screen_all(struct rules_db *db);
/* How long a group's compile, and then one pattern's, may run. */
extern unsigned rules_group_limit_ms, rules_alone_limit_ms;
/* A rule Hyperscan cannot take moves to PCRE2, or is unsupported when PCRE2
 * refuses it too (counted in stats.failed). */
void rules_pcre_fallback(struct rules_db *db, struct rule *r, const char *why);
/* Cache in state_dir, keyed by rules content, Hyperscan version and CPU.
 * load: true when decisions and databases were read (dbs[g] per group). */
uint64_t rules_content_key(const struct rules_db *db);
bool rules_cache_read(const char *dir, uint64_t key, size_t nrules, int8_t **decided_r,
    hs_database_t ***dbs_r, uint64_t **layouts_r, size_t *ndbs_r);
void rules_cache_write(const struct rules_db *db, const char *dir, uint64_t key);

#endif
