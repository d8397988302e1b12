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
 * done() when the result is final; today every check is synchronous so that
 * happens before scan_run() returns, but callers must not rely on it: the
 * asynchronous checks (DNS, antivirus) finish later on the event loop.
 */
#ifndef FILTERD_SCAN_H
#define FILTERD_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fcore/cfg.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"

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
	scan_done_fn done;
	void *done_arg;
};

/* Builds the engine for this process: symbols, rules, stats (stats may be
 * opened later, after fork, with scan_engine_open_stats). */
int scan_engine_init(struct scan_engine *e, const struct fconf *cfg, bool compile_rules, char *err,
    size_t errlen);
void scan_engine_deinit(struct scan_engine *e);
/* Per process, after fork: Hyperscan scratch and the Bayes reader. */
int scan_engine_attach(struct scan_engine *e, bool stats_writer, char *err, size_t errlen);

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

double scan_monotonic(void);

#endif
