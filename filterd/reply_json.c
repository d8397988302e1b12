#include "reply_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "fcore/numfmt.h"
#include "json_out.h"

static void
symbol_out(struct json_out *j, const struct fired_symbol *s, bool v2)
{
	jo_key(j, s->name);
	jo_obj_begin(j);
	jo_member_str(j, "name", s->name);
	jo_key(j, "score");
	jo_real(j, s->score);
	if (v2) {
		jo_key(j, "metric_score");
		jo_real(j, s->weight);
	}
	if (s->def != NULL)
		jo_member_str(j, "description", s->def->description);
	if (s->noptions > 0) {
		jo_key(j, "options");
		jo_arr_begin(j);
		for (size_t i = 0; i < s->noptions; i++)
			if (jo_utf8_valid(s->options[i]))
				jo_str(j, s->options[i]);
		jo_arr_end(j);
	}
	jo_obj_end(j);
}

static void
symbols_out(struct json_out *j, const struct scan_result *r, bool v2)
{
	for (size_t i = 0; i < r->nsyms; i++)
		if (jo_utf8_valid(r->syms[i].name))
			symbol_out(j, &r->syms[i], v2);
}

/* A key given twice keeps its first place and its last valid value, as
 * a jansson object did. */
static void
messages_out(struct json_out *j, const struct scan_result *r)
{
	jo_key(j, "messages");
	jo_obj_begin(j);
	for (size_t i = 0; i < r->nmessages; i++) {
		const char *key = r->messages[i].key;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(r->messages[k].key, key) == 0;
		if (seen)
			continue;
		const char *value = NULL;
		for (size_t k = i; k < r->nmessages; k++)
			if (strcmp(r->messages[k].key, key) == 0 && jo_utf8_valid(r->messages[k].value))
				value = r->messages[k].value;
		if (value != NULL && jo_utf8_valid(key))
			jo_member_str(j, key, value);
	}
	jo_obj_end(j);
}

static void
url_ext_out(struct json_out *j, const struct mime_url *u)
{
	jo_obj_begin(j);
	jo_member_str(j, "url", u->url);
	jo_member_str(j, "tld", u->tld ? u->tld : u->host);
	jo_member_str(j, "host", u->host);
	jo_obj_end(j);
}

static void
urls_out(struct json_out *j, const struct scan_task *t)
{
	const struct mime_message *m = t->msg.mime;
	if (m == NULL || m->nurls == 0)
		return;
	bool ext = (t->flags & SCAN_F_EXT_URLS) != 0;
	jo_key(j, "urls");
	jo_arr_begin(j);
	for (size_t i = 0; i < m->nurls; i++) {
		const struct mime_url *u = &m->urls[i];
		if (u->host == NULL)
			continue;
		if (ext) {
			url_ext_out(j, u);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = m->urls[k].host && strcmp(m->urls[k].host, u->host) == 0;
		if (!dup && jo_utf8_valid(u->host))
			jo_str(j, u->host);
	}
	jo_arr_end(j);
	jo_key(j, "emails");
	jo_arr_begin(j);
	for (size_t i = 0; i < m->nemails; i++)
		if (jo_utf8_valid(m->emails[i].addr))
			jo_str(j, m->emails[i].addr);
	jo_arr_end(j);
}

static const char *
message_id(const struct scan_task *t)
{
	const struct mime_message *m = t->msg.mime;
	return m && m->message_id && *m->message_id ? m->message_id : "undef";
}

static bool
has_body(const struct scan_task *t)
{
	return t->msg.raw.len > 0;
}

static void
verdict_out(struct json_out *j, const struct scan_task *t)
{
	const struct scan_result *r = &t->result;
	jo_key(j, "is_skipped");
	jo_bool(j, r->skipped);
	jo_key(j, "score");
	jo_real(j, r->score);
	jo_key(j, "required_score");
	jo_real(j, action_required_score(&t->actions));
	jo_member_str(j, "action", action_name(r->action));
}

static void milter_out(struct json_out *j, const struct scan_task *t, const char *key);

static void
tail_out(struct json_out *j, const struct scan_task *t, const char *milter_key)
{
	if (has_body(t))
		jo_member_str(j, "message-id", message_id(t));
	jo_key(j, "time_real");
	jo_real(j, t->time_real);
	if (has_body(t) && !t->result.skipped)
		milter_out(j, t, milter_key);
}

void
reply_v2_write(const struct scan_task *t, struct buf *out)
{
	const struct scan_result *r = &t->result;
	struct json_out j;
	jo_init(&j, out);
	jo_obj_begin(&j);
	verdict_out(&j, t);
	if (r->action == ACTION_REWRITE_SUBJECT && r->subject != NULL)
		jo_member_str(&j, "subject", r->subject);
	jo_key(&j, "symbols");
	jo_obj_begin(&j);
	symbols_out(&j, r, true);
	jo_obj_end(&j);
	messages_out(&j, r);
	urls_out(&j, t);
	tail_out(&j, t, "milter");
	jo_obj_end(&j);
}

void
reply_v1_write(const struct scan_task *t, struct buf *out)
{
	const struct scan_result *r = &t->result;
	struct json_out j;
	jo_init(&j, out);
	jo_obj_begin(&j);
	jo_key(&j, "default");
	jo_obj_begin(&j);
	jo_key(&j, "is_spam");
	jo_bool(&j, action_is_spam(r->action));
	verdict_out(&j, t);
	symbols_out(&j, r, false);
	jo_obj_end(&j);
	messages_out(&j, r);
	tail_out(&j, t, "rmilter");
	jo_obj_end(&j);
}

const char *
reply_spamd_result(const struct scan_task *t, const char *fold)
{
	const struct scan_result *r = &t->result;
	struct buf b;
	buf_init(&b, t->arena);
	buf_append_cstr(&b, action_is_spam(r->action) ? "default: True [" : "default: False [");
	buf_append_fixed(&b, r->score, 2);
	buf_append_cstr(&b, " / ");
	buf_append_fixed(&b, action_required_score(&t->actions), 2);
	buf_append_byte(&b, ']');
	for (size_t i = 0; i < r->nsyms; i++) {
		const struct fired_symbol *s = &r->syms[i];
		buf_append_byte(&b, ';');
		buf_append_cstr(&b, fold);
		buf_append_cstr(&b, s->name);
		buf_append_byte(&b, '(');
		buf_append_fixed(&b, s->score, 2);
		buf_append_cstr(&b, ")[");
		for (size_t k = 0; k < s->noptions; k++) {
			if (k > 0)
				buf_append_byte(&b, ',');
			buf_append_cstr(&b, s->options[k]);
		}
		buf_append_byte(&b, ']');
	}
	return buf_cstr(&b);
}

/* A header that is not UTF-8 is left out, of the JSON reply and the milter alike. */
static void
add_header(struct reply_headers *h, const char *name, const char *value)
{
	if (value == NULL || !jo_utf8_valid(name) || !jo_utf8_valid(value))
		return;
	if (h->nadd < REPLY_HEADERS_MAX)
		h->add[h->nadd++] = (struct reply_header){ name, value };
}

/* One mark per whole point, capped so a header stays short. */
static const char *
score_marks(const struct scan_task *t, char positive)
{
	double score = t->result.score;
	int points = (int)fabs(score);
	if (points > 50)
		points = 50;
	char *s = arena_alloc(t->arena, (size_t)points + 1);
	if (s == NULL)
		return "";
	memset(s, score >= 0 ? positive : '-', (size_t)points);
	s[points] = '\0';
	return s;
}

bool
reply_headers(const struct scan_task *t, struct reply_headers *h)
{
	static const char *const spoofable[] = { "X-Spam-Level", "X-Spam-Status", "X-Spamd-Bar",
		"X-Rspamd-Action", "X-Spamd-Result", "X-Spam" };
	memset(h, 0, sizeof(*h));
	if (t->result.skipped)
		return false;
	const struct scan_result *r = &t->result;
	const struct fconf *cfg = t->engine->cfg;
	h->remove = spoofable;
	h->nremove = sizeof(spoofable) / sizeof(spoofable[0]);
	char score[NUMFMT_MAX];
	fmt_fixed(score, r->score, 2);
	add_header(h, "X-Spam-Status",
	    arena_printf(t->arena, "%s, score=%s", action_is_spam(r->action) ? "Yes" : "No", score));
	if (t->msg.env.queue_id != NULL)
		add_header(h, "X-Rspamd-Queue-Id", t->msg.env.queue_id);
	const char *level = score_marks(t, '*'), *bar = score_marks(t, '+');
	if (r->score >= 1.0)
		add_header(h, "X-Spam-Level", level);
	add_header(h, "X-Spamd-Bar", bar[0] ? bar : "/");
	bool milter = (t->flags & SCAN_F_MILTER) != 0;
	add_header(h, "X-Spamd-Result", reply_spamd_result(t, milter ? "\n\t" : "\r\n\t"));
	add_header(h, "X-Rspamd-Action", action_name(r->action));
	add_header(h, "X-Rspamd-Server", cfg->server_name);
	if (r->action == ACTION_ADD_HEADER || r->action == ACTION_REWRITE_SUBJECT)
		add_header(h, cfg->milter.spam_header, "Yes");
	return true;
}

static void
milter_out(struct json_out *j, const struct scan_task *t, const char *key)
{
	struct reply_headers h;
	reply_headers(t, &h);
	jo_key(j, key);
	jo_obj_begin(j);
	jo_key(j, "remove_headers");
	jo_obj_begin(j);
	for (size_t i = 0; i < h.nremove; i++) {
		jo_key(j, h.remove[i]);
		jo_int(j, 0);
	}
	jo_obj_end(j);
	jo_key(j, "add_headers");
	jo_obj_begin(j);
	for (size_t i = 0; i < h.nadd; i++) {
		jo_key(j, h.add[i].name);
		jo_obj_begin(j);
		jo_member_str(j, "value", h.add[i].value);
		jo_key(j, "order");
		jo_int(j, -1);
		jo_obj_end(j);
	}
	jo_obj_end(j);
	jo_obj_end(j);
}
