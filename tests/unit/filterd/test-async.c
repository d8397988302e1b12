/* The async framework on a real libevent loop, with requests answered (or
 * not) by timers instead of DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "async.h"
#include "fcore/arena.h"
#include "scan.h"

struct fixture {
	struct event_base *base;
	struct scan_task t;
	int resumed;
	double resumed_at;
	const char *timed_out;
	struct async_task *at;
	bool free_on_resume; /* like a worker: the task's arena goes at once */
};

static struct fixture *cur;

static void
on_resume(struct scan_task *t)
{
	(void)t;
	cur->resumed++;
	cur->resumed_at = clock_mono();
	cur->timed_out = strdup(async_task_timed_out(cur->at));
	async_task_close(cur->at);
	if (cur->free_on_resume)
		arena_free(&cur->t.arena);
}

/* An answer that arrives after delay seconds. */
struct answer {
	struct async_req *req;
	struct event *ev;
	int *answered;
};

static void
answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct answer *a = arg;
	(void)fd;
	(void)what;
	if (a->req->check != NULL)
		(*a->answered)++;
	async_req_done(a->req);
	event_free(a->ev);
	free(a);
}

static void
answer_later(struct fixture *f, struct async_check *c, double delay, int *answered)
{
	struct answer *a = calloc(1, sizeof(*a));
	a->req = async_req_new(c, NULL);
	a->answered = answered;
	a->ev = evtimer_new(f->base, answer_cb, a);
	struct timeval tv = { 0, (suseconds_t)(delay * 1e6) };
	evtimer_add(a->ev, &tv);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->base = event_base_new();
	f->t.arena = arena_new(1 << 20);
	f->t.id = "test";
	cur = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	/* Drains the late answers so LeakSanitizer sees everything freed. */
	event_base_dispatch(f->base);
	event_base_free(f->base);
	arena_free(&f->t.arena);
	free((void *)f->timed_out);
	free(f);
	return 0;
}

static void
test_resumes_when_all_answered(void **state)
{
	struct fixture *f = *state;
	int answered = 0;
	double t0 = clock_mono();
	f->at = async_task_new(&f->t, f->base, 5.0, on_resume);
	struct async_check *a = async_check_begin(f->at, "A", 2.0);
	struct async_check *b = async_check_begin(f->at, "B", 2.0);
	for (int i = 0; i < 10; i++)
		answer_later(f, i % 2 ? a : b, 0.01 + i * 0.005, &answered);
	async_check_end(a);
	async_check_end(b);
	async_task_release(f->at);
	assert_int_equal(f->resumed, 0);
	event_base_dispatch(f->base);
	assert_int_equal(f->resumed, 1);
	assert_int_equal(answered, 10);
	assert_string_equal(f->timed_out, "");
	assert_true(f->resumed_at - t0 < 1.0);
}

static void
test_nothing_pending_resumes_at_release(void **state)
{
	struct fixture *f = *state;
	f->at = async_task_new(&f->t, f->base, 5.0, on_resume);
	struct async_check *a = async_check_begin(f->at, "A", 1.0);
	async_check_end(a);
	assert_int_equal(f->resumed, 0); /* held until the start phase ends */
	async_task_release(f->at);
	assert_int_equal(f->resumed, 1);
}

static void
test_check_time_out_and_late_answer(void **state)
{
	struct fixture *f = *state;
	f->free_on_resume = true;
	int answered = 0;
	double t0 = clock_mono();
	f->at = async_task_new(&f->t, f->base, 5.0, on_resume);
	struct async_check *fast = async_check_begin(f->at, "FAST", 1.0);
	struct async_check *slow = async_check_begin(f->at, "SLOW", 0.1);
	answer_later(f, fast, 0.02, &answered);
	answer_later(f, slow, 0.4, &answered); /* after SLOW's time-out */
	async_check_end(fast);
	async_check_end(slow);
	async_task_release(f->at);
	event_base_dispatch(f->base);
	assert_int_equal(f->resumed, 1);
	assert_string_equal(f->timed_out, "SLOW");
	double took = f->resumed_at - t0;
	assert_true(took >= 0.09 && took < 0.3);
	/* the late answer came, found its task gone and was only freed */
	assert_int_equal(answered, 1);
}

static void
test_budget_ends_everything(void **state)
{
	struct fixture *f = *state;
	f->free_on_resume = true;
	int answered = 0;
	double t0 = clock_mono();
	f->at = async_task_new(&f->t, f->base, 0.15, on_resume);
	struct async_check *c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = async_check_begin(f->at, i == 0 ? "X" : i == 1 ? "Y" : "Z", i == 2 ? 0.05 : 0);
		answer_later(f, c[i], 0.5, &answered);
		async_check_end(c[i]);
	}
	async_task_release(f->at);
	event_base_dispatch(f->base);
	assert_int_equal(f->resumed, 1);
	double took = f->resumed_at - t0;
	assert_true(took >= 0.14 && took < 0.4);
	/* Z by its own time-out first, then X and Y by the budget */
	assert_non_null(strstr(f->timed_out, "Z"));
	assert_non_null(strstr(f->timed_out, "X"));
	assert_non_null(strstr(f->timed_out, "Y"));
	assert_int_equal(answered, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resumes_when_all_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_pending_resumes_at_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_time_out_and_late_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_ends_everything, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
