#include "http_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "accept_turn.h"
#include "fcore/xalloc.h"
#include "version.h"

enum conn_state { CONN_HEAD, CONN_BODY, CONN_CHUNKED, CONN_HANDLING, CONN_WRITING };

struct http_server {
	struct event_base *base;
	struct accept_turn *listener;
	struct http_server_opts o;
	unsigned active;
};

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;
	struct arena *arena;
	enum conn_state state;
	bool dead; /* client gone while the handler runs */
	char peer[INET6_ADDRSTRLEN + 8];
	bool peer_unix;
	struct http_request req;
	struct buf body;
	uint64_t body_want;
	struct http_chunked chunked;
	struct event closing; /* the reply is out: frees the connection */
	bool closing_armed;
};

static void conn_free(struct http_conn *c);

static const char *
reason_default(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

struct arena *
http_conn_arena(struct http_conn *c)
{
	return c->arena;
}

const char *
http_conn_peer(const struct http_conn *c)
{
	return c->peer;
}

bool
http_conn_peer_is_unix(const struct http_conn *c)
{
	return c->peer_unix;
}

static void
write_done_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
closing_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	conn_free(arg);
}

/*
 * A reply nearly always fits the socket's buffer: written here, it spares
 * the loop a write event switched on and off (two epoll_ctl calls). The
 * bytes the socket took, or SIZE_MAX when the client is gone.
 */
static size_t
send_now(struct http_conn *c, const void *head, size_t head_len, const void *body, size_t body_len)
{
	struct iovec iov[2] = { { (void *)head, head_len }, { (void *)body, body_len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = body_len > 0 ? 2 : 1 };
	ssize_t n = sendmsg(bufferevent_getfd(c->bev), &m, MSG_NOSIGNAL);
	if (n >= 0)
		return (size_t)n;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : SIZE_MAX;
}

static void
sanitize_reason(char *out, size_t outsz, const char *reason)
{
	size_t o = 0;
	for (const char *p = reason; *p && o + 1 < outsz; p++)
		out[o++] = (*p == '\r' || *p == '\n') ? ' ' : *p;
	out[o] = '\0';
}

void
http_conn_reply(struct http_conn *c, int code, const char *reason, const char *content_type,
    const void *body, size_t len, const char *extra_headers)
{
	if (c->dead) {
		conn_free(c);
		return;
	}
	char date[64], why[512];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	sanitize_reason(why, sizeof(why), reason ? reason : reason_default(code));
	struct buf head;
	buf_init(&head, c->arena);
	buf_printf(&head,
	    "HTTP/1.1 %d %s\r\nConnection: close\r\nServer: filterd/%s\r\nDate: %s\r\n"
	    "Content-Length: %zu\r\nContent-Type: %s\r\n%s%s\r\n",
	    code, why, filterd_version(), date, len, content_type ? content_type : "application/json",
	    c->srv->o.no_store ? "Cache-Control: no-store\r\n" : "", extra_headers ? extra_headers : "");
	c->state = CONN_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, write_done_cb, NULL, c);
	size_t sent = send_now(c, head.data, head.len, body, len);
	if (sent == SIZE_MAX || sent == head.len + len) {
		/* Closed now, so the client sees the reply's end before this
		 * worker's next scan; the memory only on the next turn, as the
		 * caller may still hold the request. */
		int fd = bufferevent_getfd(c->bev);
		bufferevent_setfd(c->bev, -1);
		close(fd);
		static const struct timeval next_turn = { 0, 0 };
		evtimer_assign(&c->closing, c->srv->base, closing_cb, c);
		evtimer_add(&c->closing, &next_turn);
		c->closing_armed = true;
		return;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (sent < head.len)
		evbuffer_add(out, head.data + sent, head.len - sent);
	size_t body_sent = sent > head.len ? sent - head.len : 0;
	evbuffer_add(out, (const uint8_t *)body + body_sent, len - body_sent);
	bufferevent_enable(c->bev, EV_WRITE);
}

void
http_conn_reply_error(struct http_conn *c, int code, const char *reason)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(reason));
	if (c->srv->o.error_domain)
		json_object_set_new(o, "error_domain", json_string("protocol-error"));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	http_conn_reply(c, code, reason, "application/json", s, s ? strlen(s) : 0, NULL);
	free(s);
}

static void
dispatch(struct http_conn *c)
{
	c->state = CONN_HANDLING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	c->srv->o.handler(c, &c->req, buf_span(&c->body), c->srv->o.arg);
}

static void
body_begin(struct http_conn *c)
{
	const struct http_server_opts *o = &c->srv->o;
	if (o->on_head != NULL) {
		int code = o->on_head(c, &c->req, o->arg);
		if (code != 0)
			return; /* the hook replied */
	}
	if (c->req.chunked) {
		http_chunked_init(&c->chunked, o->max_body);
		c->state = CONN_CHUNKED;
		return;
	}
	uint64_t len = c->req.has_length ? c->req.content_length : 0;
	if (len > o->max_body) {
		http_conn_reply_error(c, 413, "Request body too large");
		return;
	}
	if (!buf_reserve(&c->body, (size_t)len)) {
		http_conn_reply_error(c, 413, "Request body too large");
		return;
	}
	c->body_want = len;
	c->state = CONN_BODY;
}

static void
head_error(struct http_conn *c, enum http_status st)
{
	switch (st) {
	case HTTP_ERR_VERSION: http_conn_reply_error(c, 505, "HTTP version not supported"); break;
	case HTTP_ERR_TOO_MANY: http_conn_reply_error(c, 431, "Too many request headers"); break;
	case HTTP_ERR_LENGTH: http_conn_reply_error(c, 400, "Invalid Content-Length"); break;
	case HTTP_ERR_ENCODING: http_conn_reply_error(c, 501, "Unsupported Transfer-Encoding"); break;
	default: http_conn_reply_error(c, 400, "Malformed HTTP request"); break;
	}
}

static bool
read_head(struct http_conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t look = avail < c->srv->o.max_headers ? avail : c->srv->o.max_headers;
	const uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)look);
	size_t end = data ? http_head_end(data, look) : 0;
	if (end == 0) {
		if (avail >= c->srv->o.max_headers)
			http_conn_reply_error(c, 431, "Request headers too large");
		return false;
	}
	uint8_t *head = arena_memdup(c->arena, data, end);
	evbuffer_drain(in, end);
	if (head == NULL) {
		http_conn_reply_error(c, 431, "Request headers too large");
		return false;
	}
	enum http_status st = http_parse_head(c->arena, span_make(head, end), &c->req);
	if (st != HTTP_OK) {
		head_error(c, st);
		return false;
	}
	body_begin(c);
	return c->state == CONN_BODY || c->state == CONN_CHUNKED;
}

static void
read_body(struct http_conn *c, struct evbuffer *in)
{
	size_t need = (size_t)(c->body_want - c->body.len);
	size_t n = evbuffer_get_length(in);
	if (n > need)
		n = need;
	if (n > 0) {
		evbuffer_remove(in, c->body.data + c->body.len, n);
		c->body.len += n;
	}
	if (c->body.len == c->body_want)
		dispatch(c);
}

static void
read_chunked(struct http_conn *c, struct evbuffer *in)
{
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		size_t used = 0;
		enum http_status st = http_chunked_feed(&c->chunked, span_make(v.iov_base, v.iov_len),
		    &c->body, &used);
		evbuffer_drain(in, used);
		if (st == HTTP_OK) {
			dispatch(c);
			return;
		}
		if (st == HTTP_ERR_LENGTH) {
			http_conn_reply_error(c, 413, "Request body too large");
			return;
		}
		if (st != HTTP_NEED_MORE) {
			http_conn_reply_error(c, 400, "Malformed chunked body");
			return;
		}
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (c->state == CONN_HEAD && !read_head(c, in))
		return;
	if (c->state == CONN_BODY)
		read_body(c, in);
	else if (c->state == CONN_CHUNKED)
		read_chunked(c, in);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;
	(void)bev;
	if (c->state == CONN_HANDLING) {
		c->dead = true; /* the handler still owns a reference */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == CONN_WRITING) {
			conn_free(c);
			return;
		}
		http_conn_reply_error(c, 408, "Request timeout");
		return;
	}
	if ((what & BEV_EVENT_EOF) && (c->state == CONN_BODY || c->state == CONN_CHUNKED ||
	    (c->state == CONN_HEAD && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0))) {
		/* Half-closed mid-request: the client can still read our answer. */
		http_conn_reply_error(c, 400, "Truncated request");
		return;
	}
	conn_free(c);
}

static void
conn_free(struct http_conn *c)
{
	c->srv->active--;
	if (c->closing_armed)
		event_del(&c->closing);
	bufferevent_free(c->bev);
	struct arena *a = c->arena;
	arena_free(&a);
}

static void
set_peer(struct http_conn *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], c->peer, sizeof(c->peer));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, c->peer, sizeof(c->peer));
	} else {
		strcpy(c->peer, "unix");
		c->peer_unix = true;
	}
}

static void
accept_cb(evutil_socket_t fd, const struct sockaddr *sa, void *arg)
{
	struct http_server *s = arg;
	/* Head, body and slack; the body buffer is reserved once at its exact size. */
	struct arena *a = arena_new((size_t)(s->o.max_body + s->o.max_headers * 4 + 65536));
	struct http_conn *c = ARENA_NEW(a, struct http_conn);
	c->arena = a;
	c->srv = s;
	set_peer(c, sa);
	buf_init(&c->body, a);
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->active++;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	struct timeval tv = { (time_t)s->o.io_timeout,
		(suseconds_t)((s->o.io_timeout - (double)(time_t)s->o.io_timeout) * 1e6) };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (s->active > s->o.max_connections) {
		http_conn_reply_error(c, 503, "Too many connections");
		return;
	}
	/* writing is switched on only for a reply the socket did not take at once */
	bufferevent_enable(c->bev, EV_READ);
}

struct http_server *
http_server_new(struct event_base *base, int listen_fd, const struct http_server_opts *o)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->o = *o;
	s->listener = accept_turn_new(base, listen_fd, accept_cb, "http", s);
	if (s->listener == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
http_server_stop(struct http_server *s)
{
	accept_turn_free(&s->listener);
}

void
http_server_free(struct http_server **sp)
{
	if (*sp == NULL)
		return;
	http_server_stop(*sp);
	free(*sp);
	*sp = NULL;
}

unsigned
http_server_active(const struct http_server *s)
{
	return s->active;
}
