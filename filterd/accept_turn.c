/*
 * accept_turn.c - see accept_turn.h.
 */
#include "accept_turn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/log.h"
#include "fcore/xalloc.h"

/* How long accepting rests after running out of descriptors or memory. */
static const struct timeval pause_after_error = { 0, 100000 };

struct accept_turn {
	struct event *ready;
	struct event *resume;
	accept_turn_cb cb;
	const char *what;
	void *arg;
};

static bool
out_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void
ready_cb(evutil_socket_t listen_fd, short events, void *arg)
{
	struct accept_turn *t = arg;
	(void)events;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		t->cb(fd, (const struct sockaddr *)&ss, t->arg);
		return;
	}
	/* EAGAIN: another worker took it; the rest are the client's doing */
	if (!out_of_resources(errno))
		return;
	log_warn("%s accept: %s; accepting again in %ld ms", t->what, strerror(errno),
	    (long)pause_after_error.tv_usec / 1000);
	event_del(t->ready);
	evtimer_add(t->resume, &pause_after_error);
}

static void
resume_cb(evutil_socket_t fd, short events, void *arg)
{
	struct accept_turn *t = arg;
	(void)fd;
	(void)events;
	event_add(t->ready, NULL);
}

struct accept_turn *
accept_turn_new(struct event_base *base, evutil_socket_t listen_fd, accept_turn_cb cb, const char *what,
    void *arg)
{
	int fl = fcntl(listen_fd, F_GETFL);
	/* shared by the workers: the one that loses the race must not block */
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	struct accept_turn *t = xcalloc(1, sizeof(*t));
	t->cb = cb;
	t->what = what;
	t->arg = arg;
	t->ready = event_new(base, listen_fd, EV_READ | EV_PERSIST, ready_cb, t);
	t->resume = evtimer_new(base, resume_cb, t);
	if (t->ready == NULL || t->resume == NULL ||
	    event_priority_set(t->ready, event_base_get_npriorities(base) - 1) != 0 ||
	    event_add(t->ready, NULL) != 0) {
		accept_turn_free(&t);
		return NULL;
	}
	return t;
}

void
accept_turn_free(struct accept_turn **tp)
{
	struct accept_turn *t = *tp;
	if (t == NULL)
		return;
	*tp = NULL;
	if (t->ready != NULL)
		event_free(t->ready);
	if (t->resume != NULL)
		event_free(t->resume);
	free(t);
}
