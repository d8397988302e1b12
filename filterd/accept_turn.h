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
 *
 * The socket's readiness is level-triggered, so a queue left non-empty
 * wakes the loop again on its next turn: nothing is switched off and on
 * per connection (libevent's listener, disabled after each accept, cost
 * two epoll_ctl calls a connection). Accepting has the loop's lowest
 * priority: a worker takes a connection only in a turn with nothing else
 * ready, so one that still has requests to read or answer leaves new
 * ones to an idle worker (p99 over dev/ 9.1-10.4 ms when it accepted
 * every turn, 7.9-8.8 when libevent's listener sat out a turn after each
 * accept). When the process runs out of file descriptors or memory,
 * accepting pauses for a moment instead of spinning on an error the next
 * turn would repeat.
 */
#ifndef FILTERD_ACCEPT_TURN_H
#define FILTERD_ACCEPT_TURN_H

#include <event2/event.h>
#include <sys/socket.h>

struct accept_turn;

/* fd: the accepted connection, non-blocking and close-on-exec. */
typedef void (*accept_turn_cb)(evutil_socket_t fd, const struct sockaddr *sa, void *arg);

/* NULL on failure; what names the listener in log lines ("scan", "milter"). */
struct accept_turn *accept_turn_new(struct event_base *base, evutil_socket_t listen_fd, accept_turn_cb cb,
    const char *what, void *arg);
void accept_turn_free(struct accept_turn **tp);

#endif
