#include "controller.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "stats/stats.h"
#include "version.h"

enum ctl_priv { CTL_PUBLIC, CTL_READ, CTL_ENABLE };

struct ctl_route {
	const char *path;
	enum ctl_priv priv;
	void (*fn)(struct http_conn *c, const struct http_request *req, struct span body,
	    struct controller_ctx *ctx, bool read_only);
};

static bool
parse_cidr(const char *s, struct in6_addr *addr_r, unsigned *bits_r)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	snprintf(tmp, sizeof(tmp), "%s", s);
	char *slash = strchr(tmp, '/');
	long bits = -1;
	if (slash != NULL) {
		*slash = '\0';
		bits = strtol(slash + 1, NULL, 10);
	}
	struct in_addr v4;
	if (inet_pton(AF_INET, tmp, &v4) == 1) {
		memset(addr_r, 0, sizeof(*addr_r));
		addr_r->s6_addr[10] = addr_r->s6_addr[11] = 0xff;
		memcpy(&addr_r->s6_addr[12], &v4, 4);
		*bits_r = bits < 0 || bits > 32 ? 128 : 96 + (unsigned)bits;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, addr_r) == 1) {
		*bits_r = bits < 0 || bits > 128 ? 128 : (unsigned)bits;
		return true;
	}
	return false;
}

static bool
prefix_match(const struct in6_addr *a, const struct in6_addr *net, unsigned bits)
{
	for (unsigned i = 0; i < 16 && bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((a->s6_addr[i] & mask) != (net->s6_addr[i] & mask))
			return false;
	}
	return true;
}

bool
controller_ip_in_list(const char *ip, const struct cfg_strlist *list)
{
	struct in6_addr a, net;
	unsigned bits, abits;
	if (!parse_cidr(ip, &a, &abits))
		return false;
	for (size_t i = 0; i < list->n; i++)
		if (parse_cidr(list->v[i], &net, &bits) && prefix_match(&a, &net, bits))
			return true;
	return false;
}

static const char *
supplied_password(const struct http_request *req, struct arena *a)
{
	struct span v;
	if (http_param_get(req, a, "Password", &v))
		return arena_strndup(a, v.p, v.len);
	return NULL;
}

/* Returns true when allowed; read_only_r says what the caller may do (2.2). */
static bool
check_auth(struct http_conn *c, const struct http_request *req, const struct fconf *cfg, bool privileged,
    bool *read_only_r)
{
	const char *ro_pw = cfg->controller.password;
	const char *en_pw = cfg->controller.enable_password;
	bool have_ro = ro_pw && *ro_pw, have_en = en_pw && *en_pw;
	bool trusted = http_conn_peer_is_unix(c) ||
	               controller_ip_in_list(http_conn_peer(c), &cfg->controller.secure_ip);
	if (trusted) {
		struct span fwd;
		if (http_param_get(req, http_conn_arena(c), "X-Forwarded-For", &fwd) ||
		    http_param_get(req, http_conn_arena(c), "X-Real-IP", &fwd)) {
			/* Last element of the list is the client the proxy saw. */
			size_t start = fwd.len;
			while (start > 0 && fwd.p[start - 1] != ',')
				start--;
			struct span last = span_trim(span_sub(fwd, start, fwd.len));
			char *ip = arena_strndup(http_conn_arena(c), last.p, last.len);
			trusted = ip && controller_ip_in_list(ip, &cfg->controller.secure_ip);
		}
	}
	if (trusted) {
		*read_only_r = false;
		return true;
	}
	const char *pw = supplied_password(req, http_conn_arena(c));
	if (pw == NULL) {
		if (cfg->controller.secure_ip.n == 0 && !privileged && !have_ro) {
			*read_only_r = true;
			return true;
		}
		if (cfg->controller.secure_ip.n == 0 && privileged && !have_ro && !have_en) {
			*read_only_r = false;
			return true;
		}
		return false;
	}
	if (strcmp(pw, "q1") == 0 || strcmp(pw, "q2") == 0)
		return false; /* default passwords never work from outside */
	if (privileged) {
		const char *need = have_en ? en_pw : ro_pw;
		if (need && *need && strcmp(pw, need) == 0) {
			*read_only_r = false;
			return true;
		}
		return false;
	}
	if (have_ro && strcmp(pw, ro_pw) == 0) {
		*read_only_r = have_en && strcmp(ro_pw, en_pw) != 0;
		return true;
	}
	if (have_en && strcmp(pw, en_pw) == 0) {
		*read_only_r = false;
		return true;
	}
	return false;
}

static void
reply_json(struct http_conn *c, int code, const char *reason, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(o);
	http_conn_reply(c, code, reason, "application/json", s, s ? strlen(s) : 0, NULL);
	free(s);
}

static json_t *
stat_json(const struct controller_ctx *ctx, bool read_only)
{
	struct shm_stats *s = ctx->scan.shm;
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string("3.4"));
	json_object_set_new(o, "config_id", json_string(ctx->cfg->hash));
	json_object_set_new(o, "uptime", json_integer((json_int_t)(time(NULL) - atomic_load(&s->start_time))));
	json_object_set_new(o, "read_only", json_boolean(read_only));
	json_object_set_new(o, "scanned", json_integer((json_int_t)atomic_load(&s->scanned)));
	json_object_set_new(o, "learned", json_integer((json_int_t)atomic_load(&s->learned)));
	json_t *actions = json_object();
	uint64_t spam = 0, ham = 0;
	for (int a = 0; a < ACTION_COUNT; a++) {
		uint64_t n = atomic_load(&s->actions[a]);
		json_object_set_new(actions, action_name((enum action)a), json_integer((json_int_t)n));
		if (action_is_spam((enum action)a))
			spam += n;
		else
			ham += n;
	}
	json_object_set_new(o, "actions", actions);
	json_t *times = json_array();
	for (int i = 0; i < SHM_SCAN_TIMES; i++) {
		uint32_t us = atomic_load(&s->scan_times_us[i]);
		json_array_append_new(times, us ? json_real(us / 1e6) : json_null());
	}
	json_object_set_new(o, "scan_times", times);
	json_object_set_new(o, "spam_count", json_integer((json_int_t)spam));
	json_object_set_new(o, "ham_count", json_integer((json_int_t)ham));
	json_object_set_new(o, "connections", json_integer((json_int_t)atomic_load(&s->connections)));
	json_object_set_new(o, "control_connections",
	    json_integer((json_int_t)atomic_load(&s->control_connections)));
	static const char *const pool_keys[] = { "pools_allocated", "pools_freed", "bytes_allocated",
		"chunks_allocated", "shared_chunks_allocated", "chunks_freed", "chunks_oversized", "fragmented" };
	for (size_t i = 0; i < sizeof(pool_keys) / sizeof(pool_keys[0]); i++)
		json_object_set_new(o, pool_keys[i], json_integer(0));
	struct stats_summary sum;
	memset(&sum, 0, sizeof(sum));
	if (ctx->scan.engine->stats != NULL)
		stats_summary(ctx->scan.engine->stats, &sum);
	json_object_set_new(o, "total_learns", json_integer((json_int_t)(sum.learned_spam + sum.learned_ham)));
	json_t *files = json_array();
	static const char *const syms[] = { "BAYES_SPAM", "BAYES_HAM" };
	for (int i = 0; i < 2; i++) {
		json_t *f = json_object();
		json_object_set_new(f, "revision", json_integer((json_int_t)(i == 0 ? sum.learned_spam : sum.learned_ham)));
		json_object_set_new(f, "used", json_integer((json_int_t)sum.tokens));
		json_object_set_new(f, "total", json_integer((json_int_t)ctx->cfg->stats.max_tokens));
		json_object_set_new(f, "size", json_integer((json_int_t)sum.size_bytes));
		json_object_set_new(f, "symbol", json_string(syms[i]));
		json_object_set_new(f, "type", json_string("sqlite"));
		json_object_set_new(f, "languages", json_integer(0));
		json_object_set_new(f, "users", json_integer((json_int_t)sum.users));
		json_array_append_new(files, f);
	}
	json_object_set_new(o, "statfiles", files);
	return o;
}

static void
route_ping(struct http_conn *c, const struct http_request *req, struct span body, struct controller_ctx *ctx, bool read_only)
{
	http_conn_reply(c, 200, "OK", "text/plain", "pong\r\n", 6, NULL);
}

static void
route_stat(struct http_conn *c, const struct http_request *req, struct span body, struct controller_ctx *ctx, bool read_only)
{
	reply_json(c, 200, "OK", stat_json(ctx, read_only));
}

static void
route_statreset(struct http_conn *c, const struct http_request *req, struct span body,
    struct controller_ctx *ctx, bool read_only)
{
	json_t *o = stat_json(ctx, read_only);
	shm_stats_reset(ctx->scan.shm);
	reply_json(c, 200, "OK", o);
}

static void
route_auth(struct http_conn *c, const struct http_request *req, struct span body, struct controller_ctx *ctx, bool read_only)
{
	struct shm_stats *s = ctx->scan.shm;
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string("3.4"));
	json_object_set_new(o, "auth", json_string("ok"));
	json_object_set_new(o, "uptime", json_integer((json_int_t)(time(NULL) - atomic_load(&s->start_time))));
	json_object_set_new(o, "clean", json_integer((json_int_t)atomic_load(&s->actions[ACTION_NO_ACTION])));
	json_object_set_new(o, "probable", json_integer((json_int_t)(atomic_load(&s->actions[ACTION_ADD_HEADER]) +
	    atomic_load(&s->actions[ACTION_REWRITE_SUBJECT]))));
	json_object_set_new(o, "greylist", json_integer((json_int_t)atomic_load(&s->actions[ACTION_GREYLIST])));
	json_object_set_new(o, "reject", json_integer((json_int_t)atomic_load(&s->actions[ACTION_REJECT])));
	json_object_set_new(o, "soft_reject", json_integer((json_int_t)atomic_load(&s->actions[ACTION_SOFT_REJECT])));
	json_object_set_new(o, "scanned", json_integer((json_int_t)atomic_load(&s->scanned)));
	json_object_set_new(o, "learned", json_integer((json_int_t)atomic_load(&s->learned)));
	json_object_set_new(o, "read_only", json_boolean(read_only));
	json_object_set_new(o, "config_id", json_string(ctx->cfg->hash));
	reply_json(c, 200, "OK", o);
}

static void
route_actions(struct http_conn *c, const struct http_request *req, struct span body,
    struct controller_ctx *ctx, bool read_only)
{
	static const enum action order[] = { ACTION_GREYLIST, ACTION_ADD_HEADER, ACTION_REJECT,
		ACTION_SOFT_REJECT, ACTION_REWRITE_SUBJECT, ACTION_NO_ACTION };
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		json_t *o = json_object();
		double v = ctx->cfg->actions.score[order[i]];
		json_object_set_new(o, "action", json_string(action_name(order[i])));
		json_object_set_new(o, "value", isnan(v) ? json_null() : json_real(v));
		json_array_append_new(arr, o);
	}
	reply_json(c, 200, "OK", arr);
}

static void
route_checkv2(struct http_conn *c, const struct http_request *req, struct span body,
    struct controller_ctx *ctx, bool read_only)
{
	http_scan_handle(c, req, body, &ctx->scan, HTTP_SCAN_V2);
}

static void
route_check(struct http_conn *c, const struct http_request *req, struct span body, struct controller_ctx *ctx, bool read_only)
{
	http_scan_handle(c, req, body, &ctx->scan, HTTP_SCAN_V1);
}

static void
learn(struct http_conn *c, const struct http_request *req, struct span body, struct controller_ctx *ctx,
    bool spam)
{
	struct scan_engine *e = ctx->scan.engine;
	if (body.len == 0) {
		http_conn_reply_error(c, 400, "Empty body is not permitted");
		return;
	}
	if (e->stats == NULL) {
		http_conn_reply_error(c, 404, "no classifiers defined");
		return;
	}
	struct scan_task *t = scan_task_new(e, body);
	int code = 0;
	const char *reason = NULL;
	if (t == NULL || !http_scan_fill_task(t, req, &code, &reason)) {
		http_conn_reply_error(c, t ? code : 500, t ? reason : "Cannot allocate task");
		scan_task_free(&t);
		return;
	}
	t->msg.mime = mime_parse(t->arena, t->msg.raw, &e->mime_limits);
	const char *user = ctx->cfg->stats.per_user ? t->msg.env.deliver_to : NULL;
	char err[512];
	enum stats_learn_status st = stats_learn(e->stats, &t->msg, spam, user, err, sizeof(err));
	switch (st) {
	case STATS_LEARN_OK:
		atomic_fetch_add(&ctx->scan.shm->learned, 1);
		reply_json(c, 200, "OK", json_pack("{s:b}", "success", 1));
		log_info("learned %s: mid=<%s> user=%s", spam ? "spam" : "ham",
		    t->msg.mime && t->msg.mime->message_id ? t->msg.mime->message_id : "undef",
		    user ? user : "(global)");
		break;
	case STATS_LEARN_ALREADY:
		reply_json(c, 208, err, json_pack("{s:s}", "error", err));
		break;
	case STATS_LEARN_TOO_FEW_TOKENS:
		/* rspamd answers 204 with a body; rspamc reads it. */
		reply_json(c, 204, err, json_pack("{s:s}", "error", err));
		break;
	default:
		log_error("learn failed: %s", err);
		http_conn_reply_error(c, 500, err);
		break;
	}
	scan_task_free(&t);
}

static void
route_learnspam(struct http_conn *c, const struct http_request *req, struct span body,
    struct controller_ctx *ctx, bool read_only)
{
	learn(c, req, body, ctx, true);
}

static void
route_learnham(struct http_conn *c, const struct http_request *req, struct span body,
    struct controller_ctx *ctx, bool read_only)
{
	learn(c, req, body, ctx, false);
}

static const struct ctl_route routes[] = {
	{ "ping", CTL_PUBLIC, route_ping },
	{ "auth", CTL_READ, route_auth },
	{ "stat", CTL_READ, route_stat },
	{ "statreset", CTL_ENABLE, route_statreset },
	{ "actions", CTL_READ, route_actions },
	{ "checkv2", CTL_READ, route_checkv2 },
	{ "check", CTL_READ, route_check },
	{ "scan", CTL_READ, route_checkv2 },
	{ "learnspam", CTL_ENABLE, route_learnspam },
	{ "learnham", CTL_ENABLE, route_learnham },
};

static const struct ctl_route *
find_route(const struct http_request *req)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (http_path_is(req->path, routes[i].path))
			return &routes[i];
	return NULL;
}

int
controller_on_head(struct http_conn *c, const struct http_request *req, void *arg)
{
	struct controller_ctx *ctx = arg;
	atomic_fetch_add(&ctx->scan.shm->control_connections, 1);
	if (span_caseeq_cstr(req->method, "OPTIONS"))
		return 0;
	const struct ctl_route *r = find_route(req);
	if (r == NULL || r->priv == CTL_PUBLIC) {
		/* Unauthenticated requests never get more than controller_preauth bytes buffered. */
		if (req->chunked || (req->has_length && req->content_length > ctx->cfg->limits.controller_preauth)) {
			http_conn_reply_error(c, 413, "Request body too large");
			return 413;
		}
		return 0;
	}
	bool read_only = true;
	if (!check_auth(c, req, ctx->cfg, r->priv == CTL_ENABLE, &read_only)) {
		http_conn_reply_error(c, 401, "Unauthorized");
		return 401;
	}
	if (r->priv == CTL_ENABLE && read_only) {
		http_conn_reply_error(c, 401, "Unauthorized");
		return 401;
	}
	return 0;
}

void
controller_handler(struct http_conn *c, const struct http_request *req, struct span body, void *arg)
{
	struct controller_ctx *ctx = arg;
	if (span_caseeq_cstr(req->method, "OPTIONS")) {
		http_conn_reply(c, 200, "OK", "text/plain", "", 0,
		    "Access-Control-Allow-Methods: POST, GET, OPTIONS\r\n"
		    "Access-Control-Allow-Headers: Content-Type,Password,Map,Weight,Flag\r\n");
		return;
	}
	const struct ctl_route *r = find_route(req);
	if (r == NULL) {
		http_conn_reply(c, 404, "Not found", "text/plain", "Not found", 9, NULL);
		return;
	}
	bool read_only = true;
	if (r->priv != CTL_PUBLIC)
		check_auth(c, req, ctx->cfg, r->priv == CTL_ENABLE, &read_only);
	r->fn(c, req, body, ctx, read_only);
}
