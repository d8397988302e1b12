#include "http_scan.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "reply_json.h"

bool
http_path_is(struct span path, const char *name)
{
	if (path.len > 0 && path.p[0] == '/')
		path = span_sub(path, 1, path.len - 1);
	return span_caseeq_cstr(path, name);
}

bool
http_param_next(struct http_param_iter *it, struct arena *a, struct span *value_r)
{
	const struct http_request *req = it->req;
	while (it->hi < req->nheaders) {
		const struct http_header *h = &req->headers[it->hi++];
		if (span_caseeq_cstr(h->name, it->name)) {
			*value_r = h->value;
			return true;
		}
	}
	struct span q = req->query;
	while (it->qi < q.len) {
		size_t start = it->qi, end = start;
		while (end < q.len && q.p[end] != '&')
			end++;
		it->qi = end + 1;
		struct span pair = span_make(q.p + start, end - start);
		ptrdiff_t eq = span_find_byte(pair, '=');
		struct span key = eq >= 0 ? span_make(pair.p, (size_t)eq) : pair;
		if (!span_caseeq_cstr(key, it->name))
			continue;
		struct span raw = eq >= 0 ? span_sub(pair, (size_t)eq + 1, pair.len) : span_make(NULL, 0);
		char *v = http_url_decode(a, raw, true);
		if (v == NULL)
			return false;
		*value_r = span_from_cstr(v);
		return true;
	}
	return false;
}

bool
http_param_get(const struct http_request *req, struct arena *a, const char *name, struct span *value_r)
{
	struct http_param_iter it = { req, name, 0, 0 };
	return http_param_next(&it, a, value_r);
}

static const char *
param_str(struct scan_task *t, const struct http_request *req, const char *name)
{
	struct span v;
	if (!http_param_get(req, t->arena, name, &v))
		return NULL;
	v = span_trim(v);
	return arena_strndup(t->arena, v.p, v.len);
}

/* Rcpt may repeat and one value may hold several comma-separated addresses. */
static void
fill_rcpts(struct scan_task *t, const struct http_request *req)
{
	struct http_param_iter it = { req, "Rcpt", 0, 0 };
	struct span v;
	while (http_param_next(&it, t->arena, &v)) {
		size_t i = 0;
		bool quoted = false;
		size_t start = 0;
		for (i = 0; i <= v.len; i++) {
			if (i < v.len && v.p[i] == '"')
				quoted = !quoted;
			if (i < v.len && (v.p[i] != ',' || quoted))
				continue;
			const char *a = envelope_clean_addr(t->arena, (const char *)v.p + start, i - start);
			if (a != NULL && *a)
				envelope_add_rcpt(&t->msg.env, t->arena, a);
			start = i + 1;
		}
	}
}

static bool
load_file(struct scan_task *t, const char *name, int *code_r, const char **reason_r)
{
	size_t n = strlen(name);
	if (n >= 2 && name[0] == '"' && name[n - 1] == '"')
		name = arena_strndup(t->arena, name + 1, n - 2);
	char *path = http_url_decode(t->arena, span_from_cstr(name), false);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > t->engine->cfg->limits.max_message) {
		if (fd >= 0)
			close(fd);
		*code_r = 503;
		*reason_r = arena_printf(t->arena, "Invalid file (%s)", name);
		return false;
	}
	uint8_t *data = arena_alloc(t->arena, (size_t)st.st_size + 1);
	size_t got = 0;
	while (data != NULL && got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	t->msg.raw = span_make(data, got);
	return true;
}

bool
http_scan_fill_task(struct scan_task *t, const struct http_request *req, int *code_r,
    const char **reason_r)
{
	struct envelope *env = &t->msg.env;
	const char *v;
	if ((v = param_str(t, req, "IP")) != NULL)
		envelope_set_ip(env, t->arena, v);
	env->helo = param_str(t, req, "Helo");
	if ((v = param_str(t, req, "Hostname")) != NULL && strcasecmp(v, "unknown") != 0)
		env->hostname = v;
	if ((v = param_str(t, req, "From")) != NULL)
		env->mail_from = envelope_clean_addr(t->arena, v, strlen(v));
	fill_rcpts(t, req);
	env->user = param_str(t, req, "User");
	if ((v = param_str(t, req, "Deliver-To")) != NULL)
		env->deliver_to = envelope_clean_addr(t->arena, v, strlen(v));
	env->queue_id = param_str(t, req, "Queue-Id");
	if (env->queue_id != NULL)
		t->id = env->queue_id;
	env->user_agent = param_str(t, req, "User-Agent");
	env->mta_name = param_str(t, req, "MTA-Name");
	env->filename = param_str(t, req, "Filename");
	env->tls = param_str(t, req, "TLS-Cipher") != NULL;
	env->local_client = (env->user_agent && strcmp(env->user_agent, "rspamc") == 0) ||
	                    http_request_header(req, "Password") != NULL;
	struct span flags;
	struct http_param_iter it = { req, "Flags", 0, 0 };
	while (http_param_next(&it, t->arena, &flags))
		scan_task_apply_flags(t, flags);
	if ((v = param_str(t, req, "Pass")) != NULL && strcasecmp(v, "all") == 0)
		t->flags |= SCAN_F_PASS_ALL;
	if (param_str(t, req, "Milter") != NULL)
		t->flags |= SCAN_F_MILTER;
	if ((v = param_str(t, req, "Log")) != NULL && strcasecmp(v, "no") == 0)
		t->flags |= SCAN_F_NO_LOG;
	if ((v = param_str(t, req, "Raw")) != NULL && strcasecmp(v, "yes") == 0) {
		t->flags |= SCAN_F_RAW;
		t->raw_subject = param_str(t, req, "Subject");
	}
	if ((v = param_str(t, req, "URL-Format")) != NULL && strcasecmp(v, "extended") == 0)
		t->flags |= SCAN_F_EXT_URLS;
	if ((v = param_str(t, req, "Settings")) != NULL && !scan_task_apply_settings(t, v, strlen(v)))
		log_warn("task %s: cannot parse Settings header, ignored", t->id);
	if ((v = param_str(t, req, "Compression")) != NULL) {
		*code_r = 503;
		*reason_r = "Invalid compression method";
		return false;
	}
	if ((v = param_str(t, req, "File")) != NULL || (v = param_str(t, req, "Path")) != NULL)
		return load_file(t, v, code_r, reason_r);
	return true;
}

struct pending_scan {
	struct http_conn *conn;
	struct http_scan_ctx *ctx;
	enum http_scan_kind kind;
};

static void
scan_done(struct scan_task *t, void *arg)
{
	struct pending_scan *p = arg;
	struct buf b;
	buf_init(&b, NULL);
	if (p->kind == HTTP_SCAN_V1)
		reply_v1_write(t, &b);
	else
		reply_v2_write(t, &b);
	if (!(t->flags & SCAN_F_NO_STAT) && p->ctx->shm != NULL && p->kind != HTTP_SCAN_SKIP)
		shm_stats_record_scan(p->ctx->shm, t->result.action, t->time_real);
	if (b.failed || b.len == 0)
		http_conn_reply_error(p->conn, 500, "Cannot serialise the reply");
	else
		http_conn_reply(p->conn, 200, "OK", "application/json", (const char *)b.data, b.len, NULL);
	buf_deinit(&b);
	scan_task_free(&t);
}

void
http_scan_handle(struct http_conn *c, const struct http_request *req, struct span body,
    struct http_scan_ctx *ctx, enum http_scan_kind kind)
{
	struct scan_task *t = scan_task_new(ctx->engine, body);
	if (t == NULL) {
		http_conn_reply_error(c, 500, "Cannot allocate task");
		return;
	}
	int code = 0;
	const char *reason = NULL;
	if (!http_scan_fill_task(t, req, &code, &reason)) {
		http_conn_reply_error(c, code, reason);
		scan_task_free(&t);
		return;
	}
	if (kind == HTTP_SCAN_SKIP)
		t->flags |= SCAN_F_SKIP;
	struct pending_scan *p = ARENA_NEW(t->arena, struct pending_scan);
	p->conn = c;
	p->ctx = ctx;
	p->kind = kind;
	scan_run(t, scan_done, p);
}

void
http_scan_worker_handler(struct http_conn *c, const struct http_request *req, struct span body,
    void *arg)
{
	struct http_scan_ctx *ctx = arg;
	atomic_fetch_add(&ctx->shm->connections, 1);
	static const char *const v1_paths[] = { "check", "symbols", "scan", "process", "report",
		"report_ifspam" };
	if (http_path_is(req->path, "ping")) {
		http_conn_reply(c, 200, "OK", "text/plain", "pong\r\n", 6, NULL);
		return;
	}
	if (http_path_is(req->path, "checkv2")) {
		http_scan_handle(c, req, body, ctx, HTTP_SCAN_V2);
		return;
	}
	if (http_path_is(req->path, "skip")) {
		http_scan_handle(c, req, body, ctx, HTTP_SCAN_SKIP);
		return;
	}
	for (size_t i = 0; i < sizeof(v1_paths) / sizeof(v1_paths[0]); i++) {
		if (http_path_is(req->path, v1_paths[i])) {
			http_scan_handle(c, req, body, ctx, HTTP_SCAN_V1);
			return;
		}
	}
	/* rspamd answers 500 + (400 % 100) for an unknown command (protocols.md 1.9). */
	http_conn_reply_error(c, 500, "invalid command");
}
