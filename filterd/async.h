/*
 * async - the asynchronous half of a scan: checks that wait for answers
 * (DNS today; Lua and antivirus later) without blocking the loop.
 *
 * A check (async_check) belongs to one task and may start any number of
 * requests (async_req). The task resumes once every check is complete: all
 * its requests answered, or its own time-out fired, or the task's budget
 * (limits.task_timeout) ran out; it then finishes with what it has and the
 * log names the checks that timed out.
 *
 * Requests are malloc'ed, not taken from the task arena, because an answer
 * may arrive after its task was freed: a finished task detaches its requests
 * (req->check = NULL) and the late answer only frees the request.
 */
#ifndef FILTERD_ASYNC_H
#define FILTERD_ASYNC_H

#include <stdbool.h>

struct event_base;
struct scan_task;
struct async_check;
struct async_task;

struct async_req {
	struct async_req *next, *prev; /* live requests of the task */
	struct async_check *check;     /* NULL once detached: drop the answer */
	void *arg;                     /* the check's per-request data */
};

typedef void (*async_resume_fn)(struct scan_task *t);

/* Per task; budget in seconds (limits.task_timeout). NULL when the task's
 * memory budget is spent (then run no async check). */
struct async_task *async_task_new(struct scan_task *t, struct event_base *base, double budget,
    async_resume_fn resume);
/* Starts a check; timeout in seconds (<= 0: only the task budget). NULL
 * when the task's memory budget is spent: start no request then. */
struct async_check *async_check_begin(struct async_task *at, const char *name, double timeout);
/* A new pending request of check c, to be completed with async_req_done. */
struct async_req *async_req_new(struct async_check *c, void *arg);
/*
 * Called exactly once per request by its answer handler, when it is done
 * with it: the handler first looks at req->check; non-NULL means the task
 * is alive and the answer may be written into it (req->arg is valid), NULL
 * means the task finished without it and the answer is to be dropped. Frees
 * req and, when it was the last one pending, completes the check and may
 * resume (and so finish and free) the task before returning.
 */
void async_req_done(struct async_req *req);
/* No more requests will be started by c: it completes when they answer. */
void async_check_end(struct async_check *c);
/*
 * Ends the start phase: until then the task never resumes, so a check whose
 * answers come from a cache cannot finish the task under its starter. Resumes
 * at once (before returning) when nothing is pending.
 */
void async_task_release(struct async_task *at);
/* Names of the checks that timed out, comma-separated ("" = none). */
const char *async_task_timed_out(const struct async_task *at);
/* Detaches live requests and frees timers; called once when the task finishes. */
void async_task_close(struct async_task *at);

#endif
