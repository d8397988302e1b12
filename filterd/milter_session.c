/*
 * milter_session - Postfix's milter connection on a worker's loop.
 *
 * Three parts, top to bottom: the event state machine that fills a task
 * (loop-free), the verdict -> reply mapping (pure), and the libevent glue
 * (listener, bufferevent, task timer). The contract is milter_session.h.
 */
#include "milter_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "accept_turn.h"
#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "reply_json.h"
#include "shm.h"

/* Connection arena: C/H data of one SMTP session, re-set at K only. */
#define CONN_ARENA_BUDGET (1u << 20)
/* Bytes handed to the decoder per feed (it buffers one packet plus this). */
#define FEED_CHUNK 65536
/* Reasons named in a reject text. */
#define REJECT_REASONS 3

struct conn_data {
	const char *ip;
	const char *hostname;
	const char *helo;
	const char *mta_name;
	const char *user_agent;
	const char *client_addr;	/* {client_addr}: fallback for C */
	const char *client_name;	/* {client_name}: fallback for C */
	bool tls;
};

struct milter_server {
	struct event_base *base;
	struct accept_turn *listener;
	struct scan_engine *engine;
	struct shm_stats *shm;
	unsigned active;
};

struct milter_session {
	struct milter_server *srv;	/* NULL: no I/O (tests) */
	struct scan_engine *engine;
	const struct fconf *cfg;
	char peer[INET6_ADDRSTRLEN + 8];
	enum milter_session_state state;
	struct milter_optneg neg;
	struct arena *conn_arena;
	struct conn_data conn;
	struct buf out;

	/* the message being received */
	struct scan_task *task;		/* NULL outside a message or if it failed */
	bool in_msg;
	bool mail_seen;			/* MAIL of this message arrived */
	bool oversize;
	bool in_body;
	size_t hdr_len;			/* header block length in raw */
	struct buf raw;			/* heap; moves to the task at EOB */

	/* the scan in flight */
	struct scan_task *scanning;
	uint64_t gen;			/* bumped when a scan's answer is given up */
	unsigned pending;		/* tasks whose done() has not fired */
	bool overloaded;
	milter_scan_fn scan_fn;

	/* I/O */
	struct bufferevent *bev;
	struct event *timer;
	struct milter_decoder *dec;
	bool processing;		/* inside process(): no re-entry */
	bool closing;			/* flush, then close */
	bool closed;			/* socket gone; free when pending == 0 */
};

/*
 * The scan(s) of one message. With milter.multi_rcpt "each" and per-user
 * Bayes, one task per distinct recipient runs after the first (the owner,
 * which holds the raw message and the envelope the others borrow), one at
 * a time, and the strictest result is answered. This struct lives in the
 * owner's arena, so the owner is freed last.
 */
struct pending_scan {
	struct milter_session *s;
	uint64_t gen;
	struct span headers;
	struct scan_task *owner;
	struct scan_task *best;		/* strictest result so far */
	size_t next_rcpt;		/* "each": next recipient to classify for */
	bool each;
	bool looping;			/* inside run_each(): no recursion */
	bool finished_sync;		/* the scan run_each started is done */
};

static void session_resume(struct milter_session *s);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void session_maybe_destroy(struct milter_session *s);

/* ------------------------------------------------------------------ */
/* Message and connection data                                         */
/* ------------------------------------------------------------------ */

/* Envelope text as a C string; control bytes become '?' (log lines). */
static const char *
span_dup(struct arena *a, struct span v)
{
	char *s = v.len > 0 ? arena_strndup(a, v.p, v.len) : NULL;

	for (char *p = s; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

static const char *
macro_dup(struct arena *a, const struct milter_event *ev, const char *name)
{
	const struct milter_macro *m = milter_macro_find(ev, name);
	return m != NULL ? span_dup(a, m->value) : NULL;
}

static void
conn_reset(struct milter_session *s)
{
	arena_free(&s->conn_arena);
	s->conn_arena = arena_new(CONN_ARENA_BUDGET);
	memset(&s->conn, 0, sizeof(s->conn));
}

static void
msg_drop(struct milter_session *s)
{
	scan_task_free(&s->task);
	buf_deinit(&s->raw);
	buf_init(&s->raw, NULL);
	s->in_msg = false;
	s->mail_seen = false;
	s->oversize = false;
	s->in_body = false;
	s->hdr_len = 0;
}

/* Connection data is copied: a task may outlive a K reset (late scans). */
static void
msg_fill_conn(struct milter_session *s, struct scan_task *t)
{
	struct envelope *env = &t->msg.env;
	const struct conn_data *c = &s->conn;

	envelope_set_ip(env, t->arena, c->ip != NULL ? c->ip : c->client_addr);
	env->hostname = c->hostname ? arena_strdup(t->arena, c->hostname) : NULL;
	env->helo = c->helo ? arena_strdup(t->arena, c->helo) : NULL;
	env->mta_name = c->mta_name ? arena_strdup(t->arena, c->mta_name) : NULL;
	env->user_agent = c->user_agent ? arena_strdup(t->arena, c->user_agent) : NULL;
	env->tls = c->tls;
}

static void
msg_begin(struct milter_session *s)
{
	msg_drop(s);
	s->in_msg = true;
	s->task = scan_task_new(s->engine, span_make(NULL, 0));
	if (s->task == NULL) {
		log_error("milter %s: cannot allocate a task; the message gets "
		    "the milter.on_error answer", s->peer);
		return;
	}
	s->task->flags |= SCAN_F_MILTER;
	msg_fill_conn(s, s->task);
	if (s->cfg->limits.max_message == 0)
		s->oversize = true;
}

static void
msg_macros(struct milter_session *s, const struct milter_event *ev)
{
	struct scan_task *t = s->task;
	const struct milter_macro *m;

	if (t == NULL)
		return;
	m = milter_macro_find(ev, "i");
	if (m != NULL && m->value.len > 0 && (t->msg.env.queue_id == NULL ||
	    !span_eq_cstr(m->value, t->msg.env.queue_id))) {
		t->msg.env.queue_id = span_dup(t->arena, m->value);
		if (t->msg.env.queue_id != NULL)
			t->id = t->msg.env.queue_id;
	}
	m = milter_macro_find(ev, "{auth_authen}");
	if (m != NULL && m->value.len > 0)
		t->msg.env.user = span_dup(t->arena, m->value);
}

static void
conn_macros(struct milter_session *s, const struct milter_event *ev)
{
	struct arena *a = s->conn_arena;
	const char *v;

	if ((v = macro_dup(a, ev, "{daemon_name}")) != NULL ||
	    (v = macro_dup(a, ev, "j")) != NULL)
		s->conn.mta_name = v;
	if ((v = macro_dup(a, ev, "v")) != NULL)
		s->conn.user_agent = v;
	if ((v = macro_dup(a, ev, "{client_addr}")) != NULL)
		s->conn.client_addr = v;
	if ((v = macro_dup(a, ev, "{client_name}")) != NULL)
		s->conn.client_name = v;
	if (milter_macro_find(ev, "{tls_version}") != NULL ||
	    milter_macro_find(ev, "{cipher}") != NULL)
		s->conn.tls = true;
}

static void
on_macro(struct milter_session *s, const struct milter_event *ev)
{
	/* A D 'M' opens a message: its macros ({auth_authen}) come before M. */
	if (ev->macro.stage == 'M' && (!s->in_msg || s->mail_seen))
		msg_begin(s);
	if (!s->in_msg || ev->macro.stage == 'C' || ev->macro.stage == 'H')
		conn_macros(s, ev);
	else
		msg_macros(s, ev);
}

static bool
is_unknown_host(struct span h)
{
	return h.len == 0 || span_caseeq_cstr(h, "unknown") || h.p[0] == '[';
}

static void
on_connect(struct milter_session *s, const struct milter_event *ev)
{
	struct arena *a = s->conn_arena;
	uint8_t fam = ev->connect.family;

	s->conn.hostname = NULL;
	if (!is_unknown_host(ev->connect.hostname))
		s->conn.hostname = span_dup(a, ev->connect.hostname);
	else if (s->conn.client_name != NULL &&
	    !is_unknown_host(span_from_cstr(s->conn.client_name)))
		s->conn.hostname = s->conn.client_name;
	s->conn.ip = NULL;
	if (fam == MILTER_FAMILY_INET || fam == MILTER_FAMILY_INET6)
		s->conn.ip = span_dup(a, ev->connect.address);
}

/* "SIZE=n" announced over limits.max_message: do not buffer at all. */
static void
mail_size_check(struct milter_session *s, const struct milter_event *ev)
{
	for (size_t i = 1; i < ev->addr.argc; i++) {
		struct span arg = ev->addr.argv[i];
		uint64_t n = 0;

		if (!span_has_prefix_ci(arg, "SIZE=") || arg.len > 5 + 19)
			continue;
		for (size_t k = 5; k < arg.len; k++) {
			if (arg.p[k] < '0' || arg.p[k] > '9')
				return;
			n = n * 10 + (uint64_t)(arg.p[k] - '0');
		}
		if (n > s->cfg->limits.max_message)
			s->oversize = true;
	}
}

static void
on_mail(struct milter_session *s, const struct milter_event *ev)
{
	struct scan_task *t;

	if (!s->in_msg || s->mail_seen)
		msg_begin(s);
	s->mail_seen = true;
	mail_size_check(s, ev);
	if ((t = s->task) == NULL)
		return;
	t->msg.env.mail_from = envelope_clean_addr(t->arena,
	    (const char *)ev->addr.argv[0].p, ev->addr.argv[0].len);
}

static void
on_rcpt(struct milter_session *s, const struct milter_event *ev)
{
	struct scan_task *t = s->task;
	const char *a;

	if (t == NULL)
		return;
	a = envelope_clean_addr(t->arena, (const char *)ev->addr.argv[0].p,
	    ev->addr.argv[0].len);
	if (a == NULL || *a == '\0')
		return;
	envelope_add_rcpt(&t->msg.env, t->arena, a);
	/* Per-user Bayes: the first recipient (milter.multi_rcpt "first"). */
	if (t->msg.env.deliver_to == NULL)
		t->msg.env.deliver_to = a;
}

static void
raw_append(struct milter_session *s, struct span p)
{
	if (s->oversize)
		return;
	if (p.len > s->cfg->limits.max_message - s->raw.len) {
		/* Stop buffering; the rest is read and dropped (on_oversize). */
		s->oversize = true;
		buf_deinit(&s->raw);
		buf_init(&s->raw, NULL);
		return;
	}
	buf_append_span(&s->raw, p);
}

/* "Name: value\r\n", folds back to CRLF (Postfix joins them with a bare LF). */
static void
on_header(struct milter_session *s, const struct milter_event *ev)
{
	struct span v = ev->header.value;
	size_t start = 0;

	raw_append(s, ev->header.name);
	if (s->neg.protocol & MILTER_P_HDR_LEADSPC)
		raw_append(s, SPAN_LIT(":"));
	else
		raw_append(s, SPAN_LIT(": "));
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] != '\n')
			continue;
		if (i > start && v.p[i - 1] == '\r')
			raw_append(s, span_sub(v, start, i + 1 - start));
		else {
			raw_append(s, span_sub(v, start, i - start));
			raw_append(s, SPAN_LIT("\r\n"));
		}
		start = i + 1;
	}
	raw_append(s, span_sub(v, start, v.len - start));
	raw_append(s, SPAN_LIT("\r\n"));
}

static void
body_begin(struct milter_session *s)
{
	if (s->in_body)
		return;
	s->in_body = true;
	s->hdr_len = s->raw.len;
	raw_append(s, SPAN_LIT("\r\n"));
}

/* ------------------------------------------------------------------ */
/* The state machine                                                   */
/* ------------------------------------------------------------------ */

/* The NR_* bit that spares us a reply to this event, 0 if none exists. */
static uint32_t
no_reply_bit(enum milter_event_type type)
{
	switch (type) {
	case MILTER_EV_CONNECT:	return MILTER_P_NR_CONN;
	case MILTER_EV_HELO:	return MILTER_P_NR_HELO;
	case MILTER_EV_MAIL:	return MILTER_P_NR_MAIL;
	case MILTER_EV_RCPT:	return MILTER_P_NR_RCPT;
	case MILTER_EV_DATA:	return MILTER_P_NR_DATA;
	case MILTER_EV_HEADER:	return MILTER_P_NR_HDR;
	case MILTER_EV_EOH:	return MILTER_P_NR_EOH;
	case MILTER_EV_BODY:	return MILTER_P_NR_BODY;
	case MILTER_EV_UNKNOWN:	return MILTER_P_NR_UNKN;
	default:		return 0;
	}
}

static enum milter_step
protocol_error(struct milter_session *s, const char *why, uint8_t cmd)
{
	log_warn("milter %s: %s (command '%c' in state %d); closing this "
	    "connection", s->peer, why, cmd >= 0x20 && cmd < 0x7f ? cmd : '?',
	    (int)s->state);
	s->state = MILTER_SS_CLOSING;
	msg_drop(s);
	return MILTER_STEP_CLOSE;
}

static enum milter_step
on_optneg(struct milter_session *s, const struct milter_event *ev)
{
	if (s->state != MILTER_SS_NEGOTIATE)
		return protocol_error(s, "second option negotiation", 'O');
	if (milter_negotiate(&ev->optneg, MILTER_WANT_ACTIONS,
	    MILTER_WANT_PROTOCOL, &s->neg) < 0)
		return protocol_error(s, "MTA milter version too old", 'O');
	milter_encode_optneg(&s->out, &s->neg, NULL, 0);
	s->state = MILTER_SS_CONNECTED;
	return MILTER_STEP_CONTINUE;
}

/* Which states an event may come in; false: protocol error. */
static bool
event_legal(const struct milter_session *s, enum milter_event_type type)
{
	bool msg = s->state == MILTER_SS_ENVELOPE ||
	    s->state == MILTER_SS_CONTENT;

	switch (type) {
	case MILTER_EV_CONNECT:
		return s->state == MILTER_SS_CONNECTED;
	case MILTER_EV_RCPT:
		return s->state == MILTER_SS_ENVELOPE;
	case MILTER_EV_DATA:
	case MILTER_EV_HEADER:
	case MILTER_EV_EOH:
	case MILTER_EV_BODY:
	case MILTER_EV_EOB:
		return msg;
	default:
		return true;
	}
}

static enum milter_step
on_message_event(struct milter_session *s, const struct milter_event *ev)
{
	switch (ev->type) {
	case MILTER_EV_MAIL:
		on_mail(s, ev);
		s->state = MILTER_SS_ENVELOPE;
		break;
	case MILTER_EV_RCPT:
		on_rcpt(s, ev);
		break;
	case MILTER_EV_HEADER:
		on_header(s, ev);
		s->state = MILTER_SS_CONTENT;
		break;
	case MILTER_EV_EOH:
		body_begin(s);
		s->state = MILTER_SS_CONTENT;
		break;
	case MILTER_EV_BODY:
		body_begin(s);
		raw_append(s, ev->body);
		s->state = MILTER_SS_CONTENT;
		break;
	case MILTER_EV_EOB:
		if (!s->in_body)
			s->hdr_len = s->raw.len;
		raw_append(s, ev->body);
		s->state = MILTER_SS_SCANNING;
		return MILTER_STEP_SCAN;
	default:
		break;
	}
	return MILTER_STEP_CONTINUE;
}

static enum milter_step
dispatch(struct milter_session *s, const struct milter_event *ev)
{
	switch (ev->type) {
	case MILTER_EV_MACRO:
		on_macro(s, ev);
		return MILTER_STEP_CONTINUE;
	case MILTER_EV_CONNECT:
		on_connect(s, ev);
		return MILTER_STEP_CONTINUE;
	case MILTER_EV_HELO:
		/* A HELO inside a message ends it (Postfix sends A first). */
		if (s->in_msg)
			msg_drop(s);
		s->conn.helo = span_dup(s->conn_arena, ev->helo);
		s->state = MILTER_SS_CONNECTED;
		return MILTER_STEP_CONTINUE;
	case MILTER_EV_ABORT:
		msg_drop(s);
		s->state = MILTER_SS_CONNECTED;
		return MILTER_STEP_CONTINUE;
	case MILTER_EV_QUIT_NC:
		msg_drop(s);
		conn_reset(s);
		s->state = MILTER_SS_CONNECTED;
		return MILTER_STEP_CONTINUE;
	case MILTER_EV_QUIT:
		msg_drop(s);
		s->state = MILTER_SS_CLOSING;
		return MILTER_STEP_CLOSE;
	case MILTER_EV_DATA:
	case MILTER_EV_UNKNOWN:
		return MILTER_STEP_CONTINUE;
	default:
		return on_message_event(s, ev);
	}
}

enum milter_step
milter_session_on_event(struct milter_session *s, const struct milter_event *ev)
{
	enum milter_step step;
	uint32_t nr;

	if (s->state == MILTER_SS_CLOSING)
		return MILTER_STEP_CLOSE;
	if (ev->type == MILTER_EV_ERROR)
		return protocol_error(s, ev->error.why, ev->error.cmd);
	if (ev->type == MILTER_EV_OPTNEG)
		return on_optneg(s, ev);
	if (s->state == MILTER_SS_NEGOTIATE)
		return protocol_error(s, "event before option negotiation",
		    (uint8_t)ev->type);
	if (s->state == MILTER_SS_SCANNING)
		return protocol_error(s, "event while the message is scanned",
		    (uint8_t)ev->type);
	if (!event_legal(s, ev->type))
		return protocol_error(s, "event out of order", (uint8_t)ev->type);
	step = dispatch(s, ev);
	nr = no_reply_bit(ev->type);
	if (step == MILTER_STEP_CONTINUE && nr != 0 && !(s->neg.protocol & nr))
		milter_encode_continue(&s->out);
	return step;
}

/* ------------------------------------------------------------------ */
/* Verdict -> replies                                                  */
/* ------------------------------------------------------------------ */

uint32_t
milter_header_count(struct span headers, const char *name)
{
	uint32_t n = 0;
	size_t i = 0;

	while (i < headers.len) {
		size_t eol = i;
		ptrdiff_t colon;
		struct span line;

		while (eol < headers.len && headers.p[eol] != '\n')
			eol++;
		line = span_sub(headers, i, eol - i);
		i = eol + 1;
		if (line.len == 0 || line.p[0] == ' ' || line.p[0] == '\t')
			continue;
		colon = span_find_byte(line, ':');
		if (colon > 0 && span_caseeq_cstr(span_trim(span_make(line.p,
		    (size_t)colon)), name) && n < UINT32_MAX)
			n++;
	}
	return n;
}

static bool
remove_one(struct buf *out, struct span headers, const char *name)
{
	uint32_t n = milter_header_count(headers, name);

	/* Highest first: deleting occurrence k leaves 1..k-1 where they are. */
	for (uint32_t k = n; k > 0; k--)
		if (!milter_encode_chgheader(out, k, span_from_cstr(name),
		    span_make(NULL, 0)))
			return false;
	return true;
}

/* The names we are about to add, as they arrived from outside: gone. */
static bool
remove_spoofed(struct buf *out, const struct milter_optneg *neg,
    const struct fconf *cfg, const struct reply_headers *h, struct span headers)
{
	bool spam_listed = false;

	if (!(neg->actions & MILTER_ACT_CHGHDRS))
		return true;
	for (size_t i = 0; i < h->nremove; i++) {
		spam_listed |= strcasecmp(h->remove[i], cfg->milter.spam_header) == 0;
		if (!remove_one(out, headers, h->remove[i]))
			return false;
	}
	return spam_listed || remove_one(out, headers, cfg->milter.spam_header);
}

static void
add_result_headers(struct buf *out, const struct milter_optneg *neg,
    const struct fconf *cfg, const struct reply_headers *h)
{
	if (!(neg->actions & MILTER_ACT_ADDHDRS))
		return;
	for (size_t i = 0; i < h->nadd; i++) {
		const char *name = h->add[i].name, *value = h->add[i].value;
		/* The spam flag is the action's business (m 1, below). */
		if (strcasecmp(name, cfg->milter.spam_header) == 0)
			continue;
		if (!milter_encode_addheader(out, span_from_cstr(name), span_from_cstr(value)))
			log_debug("milter: header %s left out (value not sendable)", name);
	}
}

/* "m 1 name value": changes the first occurrence, or appends (§4.7). */
static void
set_header(struct buf *out, const struct milter_optneg *neg, const char *name,
    const char *value)
{
	if (value == NULL || !(neg->actions & MILTER_ACT_CHGHDRS))
		return;
	if (!milter_encode_chgheader(out, 1, span_from_cstr(name),
	    span_from_cstr(value)))
		log_debug("milter: %s left unchanged (value not sendable)", name);
}

static int
sym_by_score(const void *a, const void *b)
{
	const struct fired_symbol *x = *(const struct fired_symbol *const *)a;
	const struct fired_symbol *y = *(const struct fired_symbol *const *)b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* "A, B, C": the symbols that scored most; all of them if none scored. */
static const char *
reject_reasons(const struct scan_task *t)
{
	const struct scan_result *r = &t->result;
	const struct fired_symbol **v;
	struct buf b;
	size_t n = 0;
	bool any_positive = false;

	v = ARENA_NEW_ARRAY(t->arena, const struct fired_symbol *, r->nsyms + 1);
	if (v == NULL)
		return "";
	for (size_t i = 0; i < r->nsyms; i++) {
		v[n++] = &r->syms[i];
		any_positive |= r->syms[i].score > 0;
	}
	qsort(v, n, sizeof(*v), sym_by_score);
	buf_init(&b, t->arena);
	for (size_t i = 0, k = 0; i < n && k < REJECT_REASONS; i++) {
		if (any_positive && v[i]->score <= 0)
			break;
		buf_printf(&b, "%s%s", k++ ? ", " : "", v[i]->name);
	}
	return buf_cstr(&b);
}

const char *
milter_reject_text(const struct scan_task *t)
{
	const char *tmpl = t->engine->cfg->milter.reject_message;
	const char *reason = reject_reasons(t);
	const char *pct = strstr(tmpl, "%s");

	if (pct != NULL)
		return arena_printf(t->arena, "%.*s%s%s", (int)(pct - tmpl), tmpl,
		    reason, pct + 2);
	if (*reason == '\0')
		return tmpl;
	return arena_printf(t->arena, "%s (%s)", tmpl, reason);
}

static bool
action_replies(struct buf *out, const struct milter_optneg *neg,
    const struct scan_task *t, bool authenticated)
{
	const struct scan_result *r = &t->result;
	const struct fconf *cfg = t->engine->cfg;
	const char *msg;

	switch (r->action) {
	case ACTION_REJECT:
		return milter_encode_replycode(out, "554", "5.7.1",
		    span_from_cstr(milter_reject_text(t)));
	case ACTION_SOFT_REJECT:
		if (authenticated)
			break;
		msg = result_get_message(r, "smtp_message");
		return milter_encode_replycode(out, "451", "4.7.1",
		    span_from_cstr(msg ? msg : cfg->milter.tempfail_message));
	case ACTION_REWRITE_SUBJECT:
		set_header(out, neg, "Subject", r->subject);
		/* FALLTHROUGH */
	case ACTION_ADD_HEADER:
		set_header(out, neg, cfg->milter.spam_header, "Yes");
		break;
	default:
		break;
	}
	return milter_encode_accept(out);
}

bool
milter_verdict_to_replies(struct buf *out, const struct milter_optneg *neg,
    const struct scan_task *t, struct span headers, bool authenticated)
{
	const struct fconf *cfg = t->engine->cfg;
	struct reply_headers h;
	size_t mark = out->len;
	bool ok;

	reply_headers(t, &h);	/* skipped: nothing listed */
	ok = remove_spoofed(out, neg, cfg, &h, headers);
	if (ok && !(authenticated && cfg->milter.skip_authenticated_headers))
		add_result_headers(out, neg, cfg, &h);
	ok = ok && action_replies(out, neg, t, authenticated);
	if (!ok)
		out->len = mark;
	return ok;
}

bool
milter_fallback_reply(struct buf *out, enum milter_fallback how)
{
	switch (how) {
	case MILTER_FALLBACK_ACCEPT:
		return milter_encode_accept(out);
	case MILTER_FALLBACK_REJECT:
		return milter_encode_reject(out);
	default:
		return milter_encode_tempfail(out);
	}
}

static enum milter_fallback
fallback_of(enum cfg_on_error e)
{
	switch (e) {
	case CFG_ON_ERROR_ACCEPT:
		return MILTER_FALLBACK_ACCEPT;
	case CFG_ON_ERROR_REJECT:
		return MILTER_FALLBACK_REJECT;
	default:
		return MILTER_FALLBACK_TEMPFAIL;
	}
}

/* ------------------------------------------------------------------ */
/* Running the task                                                    */
/* ------------------------------------------------------------------ */

static const char *
qid_of(const struct scan_task *t)
{
	return t != NULL && t->msg.env.queue_id != NULL ? t->msg.env.queue_id : "-";
}

/* An EOB answer without a verdict; the session is ready for the next one. */
static void
answer_fallback(struct milter_session *s, enum cfg_on_error how)
{
	milter_fallback_reply(&s->out, fallback_of(how));
	if (s->state == MILTER_SS_SCANNING)
		s->state = MILTER_SS_CONNECTED;
}

/* Frees every task of a message: t (just finished), best, owner last. */
static void
pending_free(struct pending_scan *p, struct scan_task *t)
{
	struct scan_task *owner = p->owner, *best = p->best;

	if (t != owner && t != best)
		scan_task_free(&t);
	if (best != NULL && best != owner)
		scan_task_free(&best);
	scan_task_free(&owner);
}

/* Lower action = stricter (result.h's order); a tie goes to the higher score. */
static bool
stricter(const struct scan_task *a, const struct scan_task *b)
{
	if (a->result.action != b->result.action)
		return a->result.action < b->result.action;
	return a->result.score > b->result.score;
}

static void
keep_strictest(struct pending_scan *p, struct scan_task *t)
{
	struct scan_task *loser;

	if (p->best == NULL || stricter(t, p->best)) {
		loser = p->best;
		p->best = t;
	} else {
		loser = t;
	}
	if (loser != NULL && loser != p->owner)
		scan_task_free(&loser);
}

static void
answer_scan(struct milter_session *s, struct pending_scan *p)
{
	struct scan_task *t = p->best;
	bool authenticated = t->msg.env.user != NULL;

	s->scanning = NULL;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	if (s->srv != NULL && s->srv->shm != NULL)
		shm_stats_record_scan(s->srv->shm, t->result.action, t->time_real);
	if (!milter_verdict_to_replies(&s->out, &s->neg, t, p->headers,
	    authenticated))
		milter_fallback_reply(&s->out, fallback_of(s->cfg->milter.on_error));
	pending_free(p, t);
	msg_drop(s);
	s->state = MILTER_SS_CONNECTED;
	session_resume(s);
}

/* The next recipient not classified yet (case-insensitive), or NULL. */
static const char *
next_recipient(struct pending_scan *p)
{
	const struct envelope *env = &p->owner->msg.env;

	while (p->next_rcpt < env->nrcpt) {
		const char *r = env->rcpt[p->next_rcpt++];
		size_t i = 0;

		while (i < p->next_rcpt - 1 && strcasecmp(env->rcpt[i], r) != 0)
			i++;
		if (i == p->next_rcpt - 1)
			return r;
	}
	return NULL;
}

static void scan_done_cb(struct scan_task *t, void *arg);

/* A task for the same message classified for another recipient's store. */
static bool
start_for_recipient(struct milter_session *s, struct pending_scan *p, const char *rcpt)
{
	struct scan_task *o = p->owner;
	struct scan_task *t = scan_task_new(s->engine, o->msg.raw);

	if (t == NULL)
		return false;
	t->msg.env = o->msg.env;	/* borrowed: the owner outlives t */
	t->msg.env.deliver_to = rcpt;
	t->flags = o->flags;
	t->id = o->id;
	t->now = o->now;
	s->scanning = t;
	s->pending++;
	s->scan_fn(t, scan_done_cb, p);
	return true;
}

/* One recipient after the other, iteratively: a scan that finishes at once
 * comes back here through finished_sync instead of recursing. */
static void
run_each(struct milter_session *s, struct pending_scan *p)
{
	const char *rcpt;

	p->looping = true;
	while ((rcpt = next_recipient(p)) != NULL) {
		p->finished_sync = false;
		if (!start_for_recipient(s, p, rcpt))
			break;
		if (!p->finished_sync) {
			p->looping = false;
			return;		/* its done() goes on */
		}
	}
	p->looping = false;
	answer_scan(s, p);
}

static void
scan_done_cb(struct scan_task *t, void *arg)
{
	struct pending_scan *p = arg;
	struct milter_session *s = p->s;

	s->pending--;
	if (p->gen != s->gen || s->scanning != t || s->closed) {
		/* Answered already (timeout) or nobody left to answer. */
		log_info("milter %s: qid=%s late scan result dropped", s->peer,
		    qid_of(t));
		pending_free(p, t);
		session_maybe_destroy(s);
		return;
	}
	keep_strictest(p, t);
	if (!p->each)
		answer_scan(s, p);
	else if (p->looping)
		p->finished_sync = true;
	else
		run_each(s, p);
}

/* milter.multi_rcpt "each" matters only when Bayes is kept per user. */
static bool
classify_each(const struct milter_session *s, const struct scan_task *t)
{
	const struct fconf *cfg = s->cfg;

	return cfg->milter.multi_rcpt != NULL &&
	    strcmp(cfg->milter.multi_rcpt, "each") == 0 && cfg->stats.enabled &&
	    cfg->stats.per_user && t->msg.env.nrcpt > 1;
}

/* Hands the raw buffer to the task (freed with it) and starts the scan. */
static void
scan_start(struct milter_session *s, struct scan_task *t)
{
	struct pending_scan *p = ARENA_NEW(t->arena, struct pending_scan);

	if (p == NULL) {
		scan_task_free(&t);
		answer_fallback(s, s->cfg->milter.on_error);
		return;
	}
	arena_add_destructor(t->arena, free, s->raw.data);
	t->msg.raw = buf_span(&s->raw);
	p->headers = span_make(s->raw.data, s->hdr_len);
	buf_init(&s->raw, NULL);
	p->s = s;
	p->gen = s->gen;
	p->owner = t;
	p->each = classify_each(s, t);
	p->next_rcpt = 1;	/* the owner classifies for the first */
	p->looping = p->each;
	s->scanning = t;
	s->pending++;
	if (s->timer != NULL) {
		double tt = s->cfg->limits.task_timeout;
		struct timeval tv = { (time_t)tt,
		    (suseconds_t)((tt - (double)(time_t)tt) * 1e6) };
		evtimer_add(s->timer, &tv);
	}
	if (!p->each) {
		s->scan_fn(t, scan_done_cb, p);	/* p may be gone after this */
		return;
	}
	s->scan_fn(t, scan_done_cb, p);		/* "each": p lives until answered */
	if (p->finished_sync)
		run_each(s, p);
	else
		p->looping = false;
}

void
milter_session_scan(struct milter_session *s)
{
	struct scan_task *t = s->task;

	s->task = NULL;
	s->state = MILTER_SS_SCANNING;
	if (t == NULL) {
		answer_fallback(s, s->cfg->milter.on_error);
	} else if (s->oversize) {
		log_info("milter %s: qid=%s message over limits.max_message "
		    "(%llu bytes), not scanned", s->peer, qid_of(t),
		    (unsigned long long)s->cfg->limits.max_message);
		scan_task_free(&t);
		answer_fallback(s, s->cfg->milter.on_oversize);
	} else if (s->overloaded) {
		log_warn("milter %s: qid=%s worker overloaded, not scanned",
		    s->peer, qid_of(t));
		scan_task_free(&t);
		answer_fallback(s, s->cfg->milter.on_error);
	} else {
		if (t->msg.env.queue_id != NULL)
			t->id = t->msg.env.queue_id;
		scan_start(s, t);
	}
	if (s->scanning == NULL)
		msg_drop(s);
}

void
milter_session_timeout(struct milter_session *s)
{
	if (s->scanning == NULL)
		return;
	log_warn("milter %s: qid=%s scan exceeded limits.task_timeout "
	    "(%.1f s); answering per milter.on_error", s->peer,
	    qid_of(s->scanning), s->cfg->limits.task_timeout);
	s->scanning = NULL;
	s->gen++;
	answer_fallback(s, s->cfg->milter.on_error);
	msg_drop(s);
	session_resume(s);
}

/* ------------------------------------------------------------------ */
/* Session objects                                                     */
/* ------------------------------------------------------------------ */

struct milter_session *
milter_session_new(struct scan_engine *engine, const char *peer)
{
	struct milter_session *s = xcalloc(1, sizeof(*s));

	s->engine = engine;
	s->cfg = engine->cfg;
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "-");
	s->state = MILTER_SS_NEGOTIATE;
	s->scan_fn = scan_run;
	buf_init(&s->out, NULL);
	buf_init(&s->raw, NULL);
	conn_reset(s);
	return s;
}

void
milter_session_free(struct milter_session **sp)
{
	struct milter_session *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	msg_drop(s);
	buf_deinit(&s->raw);
	buf_deinit(&s->out);
	arena_free(&s->conn_arena);
	milter_decoder_free(&s->dec);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s);
}

struct buf *
milter_session_output(struct milter_session *s)
{
	return &s->out;
}

enum milter_session_state
milter_session_state(const struct milter_session *s)
{
	return s->state;
}

const struct scan_task *
milter_session_task(const struct milter_session *s)
{
	return s->task;
}

void
milter_session_set_scan_fn(struct milter_session *s, milter_scan_fn fn)
{
	s->scan_fn = fn != NULL ? fn : scan_run;
}

void
milter_session_set_overloaded(struct milter_session *s, bool on)
{
	s->overloaded = on;
}

/* ------------------------------------------------------------------ */
/* libevent glue                                                       */
/* ------------------------------------------------------------------ */

static void
session_destroy(struct milter_session *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->srv != NULL)
		s->srv->active--;
	milter_session_free(&s);
}

static void
session_maybe_destroy(struct milter_session *s)
{
	if (s->closed && s->pending == 0)
		session_destroy(s);
}

/* The socket is done with; the struct waits for tasks still running. */
static void
session_close(struct milter_session *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->closed = true;
	s->scanning = NULL;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	session_maybe_destroy(s);
}

static void
flush_out(struct milter_session *s)
{
	if (s->bev != NULL && s->out.len > 0)
		bufferevent_write(s->bev, s->out.data, s->out.len);
	buf_reset(&s->out);
}

static void
close_when_flushed(struct bufferevent *bev, void *arg)
{
	struct milter_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_close(s);
}

/* Decoded events until input runs dry, a scan starts or the end. */
static void
process(struct milter_session *s)
{
	struct milter_event ev;
	enum milter_step step;

	s->processing = true;
	while (s->state != MILTER_SS_SCANNING && !s->closing) {
		enum milter_status st = milter_decoder_next(s->dec, &ev);

		if (st == MILTER_NEED_MORE)
			break;
		step = milter_session_on_event(s, &ev);
		if (step == MILTER_STEP_CLOSE)
			s->closing = true;
		else if (step == MILTER_STEP_SCAN)
			milter_session_scan(s);
	}
	s->processing = false;
}

static void
after_input(struct milter_session *s)
{
	flush_out(s);
	if (s->closing) {
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_setcb(s->bev, NULL, close_when_flushed, event_cb, s);
		close_when_flushed(s->bev, s);
		return;
	}
	if (s->state == MILTER_SS_SCANNING)
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct milter_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* feed() only once the decoder is drained (milter_proto.h). */
	while (evbuffer_get_length(in) > 0 && s->state != MILTER_SS_SCANNING &&
	    !s->closing) {
		size_t n = evbuffer_get_length(in);
		unsigned char *p;

		if (n > FEED_CHUNK)
			n = FEED_CHUNK;
		p = evbuffer_pullup(in, (ev_ssize_t)n);
		milter_decoder_feed(s->dec, p, n);
		evbuffer_drain(in, n);
		process(s);
	}
	after_input(s);
}

/* A completion (scan done, timeout) may let buffered events go on. */
static void
session_resume(struct milter_session *s)
{
	if (s->bev == NULL || s->processing)
		return;
	process(s);
	if (s->bev != NULL && s->state != MILTER_SS_SCANNING && !s->closing)
		read_cb(s->bev, s);
	else if (s->bev != NULL)
		after_input(s);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct milter_session *s = arg;
	struct milter_event ev;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && s->dec != NULL &&
	    milter_decoder_finish(s->dec, &ev) == MILTER_ERROR)
		log_warn("milter %s: connection closed inside a packet (%s)",
		    s->peer, ev.error.why);
	else if (what & BEV_EVENT_TIMEOUT)
		log_info("milter %s: idle for %d s, closing", s->peer,
		    MILTER_IDLE_TIMEOUT);
	session_close(s);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	milter_session_timeout(arg);
}

static void
peer_text(char *out, size_t outsz, const struct sockaddr *sa)
{
	if (sa != NULL && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outsz);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    out, (socklen_t)outsz);
	} else {
		snprintf(out, outsz, "unix");
	}
}

static void
accept_cb(evutil_socket_t fd, const struct sockaddr *sa, void *arg)
{
	struct milter_server *srv = arg;
	struct milter_session *s;
	char peer[INET6_ADDRSTRLEN + 8];
	struct timeval idle = { MILTER_IDLE_TIMEOUT, 0 };

	peer_text(peer, sizeof(peer), sa);
	s = milter_session_new(srv->engine, peer);
	s->srv = srv;
	s->dec = milter_decoder_new((size_t)s->cfg->limits.milter_packet);
	s->timer = evtimer_new(srv->base, timeout_cb, s);
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	srv->active++;
	if (srv->active > s->cfg->limits.max_connections) {
		/* Served, but unscanned: Postfix gets on_error, never a hangup. */
		s->overloaded = true;
		log_warn("milter %s: more than %u connections in this worker; "
		    "messages get the milter.on_error answer", peer,
		    s->cfg->limits.max_connections);
	}
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	bufferevent_set_timeouts(s->bev, &idle, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

struct milter_server *
milter_server_new(struct event_base *base, int listen_fd,
    struct scan_engine *engine, struct shm_stats *shm)
{
	struct milter_server *srv = xcalloc(1, sizeof(*srv));

	srv->base = base;
	srv->engine = engine;
	srv->shm = shm;
	srv->listener = accept_turn_new(base, listen_fd, accept_cb, "milter", srv);
	if (srv->listener == NULL) {
		free(srv);
		return NULL;
	}
	return srv;
}

void
milter_server_stop(struct milter_server *srv)
{
	accept_turn_free(&srv->listener);
}

void
milter_server_free(struct milter_server **srvp)
{
	if (*srvp == NULL)
		return;
	milter_server_stop(*srvp);
	free(*srvp);
	*srvp = NULL;
}

unsigned
milter_server_active(const struct milter_server *srv)
{
	return srv->active;
}
