/*
 * scan - the pipeline of one message (design.md "data flow"): parse, the
 * synchronous checks, the asynchronous ones, meta rules, score, action.
 *
 * A scan_engine holds what a process needs to scan: the config generation,
 * the symbol registry, the compiled rules and the Bayes store. It is built
 * once per process (rules are compiled by the supervisor before fork and
 * shared copy-on-write) and is read-only while scanning.
 *
 * A scan_task is one message: its arena, msg and result. scan_run() calls
 * done() when the result is final: the synchronous checks run at once, then
 * the asynchronous ones (DNS lists; see async.h) start on the engine's loop
 * and the task resumes when they answered or timed out. done() may thus be
 * called before scan_run() returns (nothing to wait for) or later from the
 * loop; callers must handle both. Without a loop (scan_engine_set_loop not
 * called) the asynchronous checks are skipped.
 */
#ifndef FILTERD_SCAN_H
#define FILTERD_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fcore/clock.h"
#include "fcore/cfg.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"

struct async_task;
struct event_base;
struct rbl;
struct rules_db;
struct rules_scratch;
struct stats_ctx;
struct greylist;

struct scan_engine {
	const struct fconf *cfg;
	struct symtab *symtab;
	struct rules_db *rules;
	struct rules_scratch *scratch;
	struct stats_ctx *stats;
	struct greylist *greylist; /* scan workers only, opened after fork */
	struct mime_limits mime_limits;
	struct event_base *base; /* the process's loop, for async checks */
	struct rbl *rbl;         /* per process, NULL when rbl is off */
};

/* Flags of protocols.md 1.3 */
#define SCAN_F_PASS_ALL 0x0001
#define SCAN_F_NO_LOG 0x0002
#define SCAN_F_SKIP 0x0004
#define SCAN_F_NO_STAT 0x0008
#define SCAN_F_MILTER 0x0010
#define SCAN_F_GROUPS 0x0020
#define SCAN_F_RAW 0x0040
#define SCAN_F_EXT_URLS 0x0080
#define SCAN_F_PROFILE 0x0100

/*
 * Stages of one scan, timed when SCAN_F_PROFILE is set (filterd scan
 * --timing, Flags: profile). The rule scopes follow rules_phase in order.
 * async is the wall time from the end of the synchronous checks to the
 * final result; json is filled by whoever builds the reply.
 */
enum scan_stage {
	SCAN_ST_PARSE,
	SCAN_ST_EXTRACT,
	SCAN_ST_CHECKS,        /* built-in C checks: GTUBE, headers, MIME anomalies */
	SCAN_ST_RULES,         /* first rules phase: header .. meta follow */
	SCAN_ST_RULES_LAST = SCAN_ST_RULES + 7,
	SCAN_ST_BAYES,
	SCAN_ST_ASYNC,
	SCAN_ST_SCORE,         /* result_finalize and greylisting: scores, action */
	SCAN_ST_JSON,
	SCAN_ST_COUNT
};
const char *scan_stage_name(int stage);

/* Inserted with the name of each async check that ran out of time. */
#define SCAN_SYM_TIMEOUT "CHECK_TIMEOUT"

struct scan_task;
typedef void (*scan_done_fn)(struct scan_task *t, void *arg);

struct scan_task {
	struct arena *arena;
	struct scan_engine *engine;
	struct msg msg;
	struct scan_result result;
	struct action_thresholds actions; /* config's, possibly overridden by Settings */
	uint32_t flags;
	const char *id;        /* log id: queue id or a short random id */
	const char *raw_subject; /* Subject for Raw: yes input */
	double start;          /* monotonic seconds */
	double time_real;      /* seconds the scan took */
	time_t now;            /* scan clock for date checks */
	double stage[SCAN_ST_COUNT]; /* seconds per stage, with SCAN_F_PROFILE */
	double stage_mark;     /* end of the last timed stage */
	scan_done_fn done;
	void *done_arg;
	struct async_task *async; /* the async phase, NULL outside it */
};

/* Builds the engine for this process: symbols, rules, stats (stats may be
 * opened later, after fork, with scan_engine_open_stats). */
int scan_engine_init(struct scan_engine *e, const struct fconf *cfg, bool compile_rules, char *err,
    size_t errlen);
void scan_engine_deinit(struct scan_engine *e);
/* Per process, after fork: Hyperscan scratch and the Bayes reader. */
int scan_engine_attach(struct scan_engine *e, bool stats_writer, char *err, size_t errlen);

/* Per process, after fork: the loop async checks run on (the RBL
 * resolver is created on it). */
int scan_engine_set_loop(struct scan_engine *e, struct event_base *base, char *err, size_t errlen);

/* Starts a task over raw (borrowed; must outlive the task). */
struct scan_task *scan_task_new(struct scan_engine *e, struct span raw);
void scan_task_free(struct scan_task **tp);
/* Applies a Settings JSON object (protocols.md 1.3); false if unparsable. */
bool scan_task_apply_settings(struct scan_task *t, const char *json, size_t len);
/* Parses Flags: a,b,c. Unknown flags are ignored. */
void scan_task_apply_flags(struct scan_task *t, struct span flags);

void scan_run(struct scan_task *t, scan_done_fn done, void *arg);

/* One log line per scanned message: id, score, action, symbols, time. */
void scan_log_result(const struct scan_task *t);

/* With SCAN_F_PROFILE: adds the time since the last mark to stage st. */
void scan_stage_mark(struct scan_task *t, int st);

#endif
