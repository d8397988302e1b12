/*
 * http_conn - HTTP/1.x connections on a worker's libevent loop.
 *
 * One request per connection, always answered with "Connection: close"
 * (protocols.md 1.1). The head is limited to max_headers bytes, the body to
 * max_body: a larger Content-Length is answered 413 before any of the body
 * is read. A client that stalls longer than io_timeout gets 408. The
 * on_head hook may refuse a request before its body is read (the controller
 * checks the password there, so unauthenticated bodies are never buffered).
 *
 * Lifetime: a connection lives until its reply is flushed. The handler may
 * answer later (asynchronous checks); if the client goes away meanwhile, the
 * connection stays allocated until http_conn_reply() is called, which then
 * only frees it.
 */
#ifndef FILTERD_HTTP_CONN_H
#define FILTERD_HTTP_CONN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "http_proto.h"

struct http_server;
struct http_conn;

typedef int (*http_head_fn)(struct http_conn *c, const struct http_request *req, void *arg);
typedef void (*http_handler_fn)(struct http_conn *c, const struct http_request *req, struct span body,
    void *arg);

struct http_server_opts {
	size_t max_headers;
	uint64_t max_body;
	double io_timeout;
	unsigned max_connections;
	bool error_domain;   /* scanner errors carry "error_domain" (protocols.md 1.9) */
	bool no_store;       /* controller: Cache-Control: no-store on every reply */
	http_head_fn on_head; /* NULL = accept all */
	http_handler_fn handler;
	void *arg;
};

struct http_server *http_server_new(struct event_base *base, int listen_fd, const struct http_server_opts *o);
void http_server_free(struct http_server **sp);
/* Stops accepting; connections in flight finish. */
void http_server_stop(struct http_server *s);
unsigned http_server_active(const struct http_server *s);

struct arena *http_conn_arena(struct http_conn *c);
const char *http_conn_peer(const struct http_conn *c); /* IP text, or "unix" */
bool http_conn_peer_is_unix(const struct http_conn *c);

/* Queues the reply and closes after it is flushed. extra_headers: "Name: v\r\n"... or NULL. */
void http_conn_reply(struct http_conn *c, int code, const char *reason, const char *content_type,
    const void *body, size_t len, const char *extra_headers);
/* JSON error body {"error":reason[,"error_domain":domain]}. */
void http_conn_reply_error(struct http_conn *c, int code, const char *reason);

#endif
