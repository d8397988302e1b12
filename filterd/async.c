#include "async.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "scan.h"

struct async_check {
	struct async_task *at;
	struct async_check *next;
	const char *name;
	struct event *timer;
	unsigned pending;
	bool ended;
	bool complete;
};

struct async_task {
	struct scan_task *t;
	struct event_base *base;
	struct event *budget;
	async_resume_fn resume;
	struct async_req *live;
	struct async_check *checks;
	unsigned open;      /* incomplete checks + the start hold */
	bool resumed;
	const char *timed_out;
};

static struct timeval
tv_of(double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
	return tv;
}

static void
task_maybe_resume(struct async_task *at)
{
	if (at->open > 0 || at->resumed)
		return;
	at->resumed = true;
	if (at->budget != NULL)
		evtimer_del(at->budget);
	at->resume(at->t);
}

static void
check_complete(struct async_check *c)
{
	if (c->complete)
		return;
	c->complete = true;
	if (c->timer != NULL)
		evtimer_del(c->timer);
	c->at->open--;
	task_maybe_resume(c->at);
}

static void
req_unlink(struct async_task *at, struct async_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		at->live = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

/* Detaches the live requests of c (all of them when c is NULL). */
static void
detach(struct async_task *at, const struct async_check *c)
{
	struct async_req *r = at->live, *next;
	for (; r != NULL; r = next) {
		next = r->next;
		if (c != NULL && r->check != c)
			continue;
		req_unlink(at, r);
		r->check->pending--;
		r->check = NULL;
	}
}

static void
check_time_out(struct async_check *c)
{
	struct async_task *at = c->at;
	if (c->complete)
		return;
	log_info("scan id=%s: check %s timed out with %u request(s) unanswered", at->t->id, c->name,
	    c->pending);
	const char *both = at->timed_out == NULL ? c->name :
	    arena_printf(at->t->arena, "%s,%s", at->timed_out, c->name);
	if (both != NULL)
		at->timed_out = both;
	detach(at, c);
	check_complete(c);
}

static void
check_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	check_time_out(arg);
}

static void
budget_cb(evutil_socket_t fd, short what, void *arg)
{
	struct async_task *at = arg;
	(void)fd;
	(void)what;
	log_warn("scan id=%s: limits.task_timeout reached, finishing with the answers so far", at->t->id);
	/* Held while walking: the last check to complete would otherwise
	 * resume the task and free the list under the loop. */
	at->open++;
	for (struct async_check *c = at->checks; c != NULL; c = c->next)
		check_time_out(c);
	at->open--;
	task_maybe_resume(at);
}

struct async_task *
async_task_new(struct scan_task *t, struct event_base *base, double budget, async_resume_fn resume)
{
	struct async_task *at = ARENA_NEW(t->arena, struct async_task);
	if (at == NULL)
		return NULL;
	at->t = t;
	at->base = base;
	at->resume = resume;
	at->open = 1;
	if (budget > 0) {
		at->budget = evtimer_new(base, budget_cb, at);
		struct timeval tv = tv_of(budget);
		evtimer_add(at->budget, &tv);
	}
	return at;
}

struct async_check *
async_check_begin(struct async_task *at, const char *name, double timeout)
{
	struct async_check *c = ARENA_NEW(at->t->arena, struct async_check);
	if (c == NULL)
		return NULL;
	c->at = at;
	c->name = name;
	c->next = at->checks;
	at->checks = c;
	at->open++;
	if (timeout > 0) {
		c->timer = evtimer_new(at->base, check_timer_cb, c);
		struct timeval tv = tv_of(timeout);
		evtimer_add(c->timer, &tv);
	}
	return c;
}

struct async_req *
async_req_new(struct async_check *c, void *arg)
{
	struct async_req *r = xcalloc(1, sizeof(*r));
	r->check = c;
	r->arg = arg;
	r->next = c->at->live;
	if (r->next != NULL)
		r->next->prev = r;
	c->at->live = r;
	c->pending++;
	return r;
}

void
async_req_done(struct async_req *r)
{
	struct async_check *c = r->check;
	if (c != NULL) {
		req_unlink(c->at, r);
		c->pending--;
	}
	free(r);
	if (c != NULL && c->ended && c->pending == 0)
		check_complete(c);
}

void
async_check_end(struct async_check *c)
{
	c->ended = true;
	if (c->pending == 0)
		check_complete(c);
}

void
async_task_release(struct async_task *at)
{
	at->open--;
	task_maybe_resume(at);
}

const char *
async_task_timed_out(const struct async_task *at)
{
	return at->timed_out != NULL ? at->timed_out : "";
}

void
async_task_close(struct async_task *at)
{
	detach(at, NULL);
	for (struct async_check *c = at->checks; c != NULL; c = c->next) {
		if (c->timer != NULL)
			event_free(c->timer);
		c->timer = NULL;
	}
	if (at->budget != NULL)
		event_free(at->budget);
	at->budget = NULL;
}
