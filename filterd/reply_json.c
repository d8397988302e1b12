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

static json_t *
parsed(struct buf *b)
{
	json_t *o = json_loadb((const char *)b->data, b->len, 0, NULL);
	buf_deinit(b);
	return o;
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

static void
header_out(struct json_out *j, const char *name, const char *value)
{
	if (!jo_utf8_valid(name))
		return;
	jo_key(j, name);
	jo_obj_begin(j);
	jo_member_str(j, "value", value);
	jo_key(j, "order");
	jo_int(j, -1);
	jo_obj_end(j);
}

static void
milter_out(struct json_out *j, const struct scan_task *t, const char *key)
{
	const struct scan_result *r = &t->result;
	const struct fconf *cfg = t->engine->cfg;
	bool milter = (t->flags & SCAN_F_MILTER) != 0;
	const char *fold = milter ? "\n\t" : "\r\n\t";
	jo_key(j, key);
	jo_obj_begin(j);
	jo_key(j, "remove_headers");
	jo_obj_begin(j);
	static const char *const removed[] = { "X-Spam-Level", "X-Spam-Status", "X-Spamd-Bar",
		"X-Rspamd-Action", "X-Spamd-Result", "X-Spam" };
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++) {
		jo_key(j, removed[i]);
		jo_int(j, 0);
	}
	jo_obj_end(j);
	jo_key(j, "add_headers");
	jo_obj_begin(j);
	char tmp[NUMFMT_MAX + 16];
	const char *verdict = action_is_spam(r->action) ? "Yes, score=" : "No, score=";
	size_t n = strlen(verdict);
	memcpy(tmp, verdict, n);
	fmt_fixed(tmp + n, r->score, 2);
	header_out(j, "X-Spam-Status", tmp);
	if (t->msg.env.queue_id != NULL)
		header_out(j, "X-Rspamd-Queue-Id", t->msg.env.queue_id);
	/* Level and bar: one mark per whole point, capped so a header stays short. */
	int points = (int)fabs(r->score);
	if (points > 50)
		points = 50;
	memset(tmp, r->score >= 0 ? '*' : '-', (size_t)points);
	tmp[points] = '\0';
	if (r->score >= 1.0)
		header_out(j, "X-Spam-Level", tmp);
	memset(tmp, r->score >= 0 ? '+' : '-', (size_t)points);
	tmp[points] = '\0';
	header_out(j, "X-Spamd-Bar", points ? tmp : "/");
	header_out(j, "X-Spamd-Result", reply_spamd_result(t, fold));
	header_out(j, "X-Rspamd-Action", action_name(r->action));
	header_out(j, "X-Rspamd-Server", cfg->server_name);
	if (r->action == ACTION_ADD_HEADER || r->action == ACTION_REWRITE_SUBJECT)
		header_out(j, cfg->milter.spam_header, "Yes");
	jo_obj_end(j);
	jo_obj_end(j);
}

json_t *
reply_json_milter(const struct scan_task *t)
{
	if (t->result.skipped)
		return NULL;
	struct buf b;
	struct json_out j;
	buf_init(&b, NULL);
	jo_init(&j, &b);
	jo_obj_begin(&j);
	milter_out(&j, t, "m");
	jo_obj_end(&j);
	json_t *o = parsed(&b);
	json_t *m = json_incref(json_object_get(o, "m"));
	json_decref(o);
	return m;
}
