/*
 * accept_turn.c - see accept_turn.h.
 *
 * libevent's listener accepts in a loop until the queue is empty, but
 * stops when its callback disables it: the callback here disables it and
 * a zero timer turns it back on after this turn's ready events ran.
 */
#include "accept_turn.h"

#include <event2/event.h>
#include <stdlib.h>

#include "fcore/xalloc.h"

struct accept_turn {
	struct evconnlistener *listener;
	struct event *again;
	evconnlistener_cb cb;
	void *arg;
};

static void
again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct accept_turn *t = arg;
	(void)fd;
	(void)what;
	evconnlistener_enable(t->listener);
}

static void
one_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct accept_turn *t = arg;
	static const struct timeval next_turn = { 0, 0 };
	evconnlistener_disable(l);
	evtimer_add(t->again, &next_turn);
	t->cb(l, fd, sa, salen, t->arg);
}

struct accept_turn *
accept_turn_new(struct event_base *base, evutil_socket_t listen_fd, evconnlistener_cb cb,
    evconnlistener_errorcb errcb, void *arg)
{
	struct accept_turn *t = xcalloc(1, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
	t->again = evtimer_new(base, again_cb, t);
	t->listener = evconnlistener_new(base, one_accept, t, LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (t->again == NULL || t->listener == NULL) {
		accept_turn_free(&t);
		return NULL;
	}
	evconnlistener_set_error_cb(t->listener, errcb);
	return t;
}

void
accept_turn_free(struct accept_turn **tp)
{
	struct accept_turn *t = *tp;
	if (t == NULL)
		return;
	*tp = NULL;
	if (t->listener != NULL)
		evconnlistener_free(t->listener);
	if (t->again != NULL)
		event_free(t->again);
	free(t);
}
