/*
 * accept_turn - a listener that accepts one connection per turn of the
 * worker's loop.
 *
 * The workers share each listening socket. A worker that took every
 * pending connection at once would then scan them one after the other
 * while another worker sat idle; taking one and serving what is ready
 * before the next leaves the rest in the kernel's queue for whichever
 * worker is free first (bench/loadgen -c 8 over dev/, 2 workers, three
 * alternating runs: 1,513-1,731 -> 1,625-1,776 messages/s, p99 16-25 ->
 * 14-17 ms).
 */
#ifndef FILTERD_ACCEPT_TURN_H
#define FILTERD_ACCEPT_TURN_H

#include <event2/listener.h>

struct accept_turn;

/* NULL on failure. cb and errcb are evconnlistener's. */
struct accept_turn *accept_turn_new(struct event_base *base, evutil_socket_t listen_fd,
    evconnlistener_cb cb, evconnlistener_errorcb errcb, void *arg);
void accept_turn_free(struct accept_turn **tp);

#endif
