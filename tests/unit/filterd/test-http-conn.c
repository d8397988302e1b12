/*
 * test-http-conn.c - HTTP connections on a real libevent loop, against a
 * client in a child process: a reply the socket takes at once, and one it
 * does not (the listening socket's small send buffer is inherited by the
 * accepted one), each read whole and followed by the connection's end.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "http_conn.h"

#define BIG_REPLY (1024 * 1024)

struct fixture {
	struct event_base *base;
	struct http_server *srv;
	int port;
	size_t reply_len;
	char *reply;
};

static void
handler(struct http_conn *c, const struct http_request *req, struct span body, void *arg)
{
	struct fixture *f = arg;
	(void)req;
	(void)body;
	http_conn_reply(c, 200, "OK", "text/plain", f->reply, f->reply_len, NULL);
}

static int
listen_small_sndbuf(int *port_r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int small = 4096;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	return fd;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->base = event_base_new();
	/* as a worker's loop: accepting has the lowest of three priorities */
	assert_int_equal(event_base_priority_init(f->base, 3), 0);
	int fd = listen_small_sndbuf(&f->port);
	struct http_server_opts o = { .max_headers = 8192, .max_body = 1 << 20, .io_timeout = 10,
		.max_connections = 16, .handler = handler, .arg = f };
	f->srv = http_server_new(f->base, fd, &o);
	assert_non_null(f->srv);
	f->reply = malloc(BIG_REPLY);
	for (size_t i = 0; i < BIG_REPLY; i++)
		f->reply[i] = (char)('a' + i % 26);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	http_server_free(&f->srv);
	event_base_free(f->base);
	free(f->reply);
	free(f);
	return 0;
}

/* The child: one request, a pause so the server's socket fills, then the
 * whole reply up to the connection's end. Exit status 0 when the body is
 * the expected bytes and nothing follows. */
static void
client(const struct fixture *f)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		_exit(2);
	static const char req[] = "POST /x HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello";
	if (write(s, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		_exit(3);
	usleep(200000);
	size_t cap = BIG_REPLY + 4096, got = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while ((n = read(s, buf + got, cap - got)) > 0)
		got += (size_t)n;
	char *body = memmem(buf, got, "\r\n\r\n", 4);
	if (n < 0 || body == NULL)
		_exit(4);
	body += 4;
	size_t body_len = got - (size_t)(body - buf);
	if (body_len != f->reply_len || memcmp(body, f->reply, body_len) != 0)
		_exit(5);
	_exit(0);
}

/* Runs the loop until the client exits; its exit status. */
static int
serve_one(struct fixture *f)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		client(f);
	int status = 0;
	for (int i = 0; i < 20000; i++) {
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			/* the connection's memory goes on the loop's next turn */
			event_base_loop(f->base, EVLOOP_NONBLOCK);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
		}
		usleep(500);
	}
	kill(pid, 9);
	waitpid(pid, &status, 0);
	fail_msg("the client did not finish");
	return -1;
}

static void
test_reply_sent_at_once(void **state)
{
	struct fixture *f = *state;
	f->reply_len = 100;
	assert_int_equal(serve_one(f), 0);
	assert_int_equal(http_server_active(f->srv), 0);
}

static void
test_reply_larger_than_socket_buffer(void **state)
{
	struct fixture *f = *state;
	f->reply_len = BIG_REPLY;
	assert_int_equal(serve_one(f), 0);
	assert_int_equal(http_server_active(f->srv), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_sent_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_larger_than_socket_buffer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
