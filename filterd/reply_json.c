#include "reply_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/buf.h"

static json_t *
symbol_json(const struct fired_symbol *s, bool v2)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "score", json_real(s->score));
	if (v2)
		json_object_set_new(o, "metric_score", json_real(s->weight));
	if (s->def != NULL && s->def->description != NULL)
		json_object_set_new(o, "description", json_string(s->def->description));
	if (s->noptions > 0) {
		json_t *opts = json_array();
		for (size_t i = 0; i < s->noptions; i++)
			json_array_append_new(opts, json_string(s->options[i]));
		json_object_set_new(o, "options", opts);
	}
	return o;
}

static json_t *
messages_json(const struct scan_result *r)
{
	json_t *o = json_object();
	for (size_t i = 0; i < r->nmessages; i++)
		json_object_set_new(o, r->messages[i].key, json_string(r->messages[i].value));
	return o;
}

static void
add_urls(json_t *o, const struct scan_task *t)
{
	const struct mime_message *m = t->msg.mime;
	if (m == NULL || m->nurls == 0)
		return;
	json_t *urls = json_array();
	bool ext = (t->flags & SCAN_F_EXT_URLS) != 0;
	for (size_t i = 0; i < m->nurls; i++) {
		const struct mime_url *u = &m->urls[i];
		if (u->host == NULL)
			continue;
		if (ext) {
			json_t *e = json_object();
			json_object_set_new(e, "url", json_string(u->url));
			json_object_set_new(e, "tld", json_string(u->tld ? u->tld : u->host));
			json_object_set_new(e, "host", json_string(u->host));
			json_array_append_new(urls, e);
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = m->urls[k].host && strcmp(m->urls[k].host, u->host) == 0;
		if (!dup)
			json_array_append_new(urls, json_string(u->host));
	}
	json_object_set_new(o, "urls", urls);
	json_t *emails = json_array();
	for (size_t i = 0; i < m->nemails; i++)
		json_array_append_new(emails, json_string(m->emails[i].addr));
	json_object_set_new(o, "emails", emails);
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

json_t *
reply_json_v2(const struct scan_task *t)
{
	const struct scan_result *r = &t->result;
	json_t *o = json_object();
	json_object_set_new(o, "is_skipped", json_boolean(r->skipped));
	json_object_set_new(o, "score", json_real(r->score));
	json_object_set_new(o, "required_score", json_real(action_required_score(&t->actions)));
	json_object_set_new(o, "action", json_string(action_name(r->action)));
	if (r->action == ACTION_REWRITE_SUBJECT && r->subject != NULL)
		json_object_set_new(o, "subject", json_string(r->subject));
	json_t *syms = json_object();
	for (size_t i = 0; i < r->nsyms; i++)
		json_object_set_new(syms, r->syms[i].name, symbol_json(&r->syms[i], true));
	json_object_set_new(o, "symbols", syms);
	json_object_set_new(o, "messages", messages_json(r));
	add_urls(o, t);
	if (has_body(t))
		json_object_set_new(o, "message-id", json_string(message_id(t)));
	json_object_set_new(o, "time_real", json_real(t->time_real));
	json_t *milter = has_body(t) ? reply_json_milter(t) : NULL;
	if (milter != NULL)
		json_object_set_new(o, "milter", milter);
	return o;
}

json_t *
reply_json_v1(const struct scan_task *t)
{
	const struct scan_result *r = &t->result;
	json_t *def = json_object();
	json_object_set_new(def, "is_spam", json_boolean(action_is_spam(r->action)));
	json_object_set_new(def, "is_skipped", json_boolean(r->skipped));
	json_object_set_new(def, "score", json_real(r->score));
	json_object_set_new(def, "required_score", json_real(action_required_score(&t->actions)));
	json_object_set_new(def, "action", json_string(action_name(r->action)));
	for (size_t i = 0; i < r->nsyms; i++)
		json_object_set_new(def, r->syms[i].name, symbol_json(&r->syms[i], false));
	json_t *o = json_object();
	json_object_set_new(o, "default", def);
	json_object_set_new(o, "messages", messages_json(r));
	if (has_body(t))
		json_object_set_new(o, "message-id", json_string(message_id(t)));
	json_object_set_new(o, "time_real", json_real(t->time_real));
	json_t *milter = has_body(t) ? reply_json_milter(t) : NULL;
	if (milter != NULL)
		json_object_set_new(o, "rmilter", milter);
	return o;
}

const char *
reply_spamd_result(const struct scan_task *t, const char *fold)
{
	const struct scan_result *r = &t->result;
	struct buf b;
	buf_init(&b, t->arena);
	buf_printf(&b, "default: %s [%.2f / %.2f]", action_is_spam(r->action) ? "True" : "False", r->score,
	    action_required_score(&t->actions));
	for (size_t i = 0; i < r->nsyms; i++) {
		const struct fired_symbol *s = &r->syms[i];
		buf_printf(&b, ";%s%s(%.2f)[", fold, s->name, s->score);
		for (size_t k = 0; k < s->noptions; k++)
			buf_printf(&b, "%s%s", k ? "," : "", s->options[k]);
		buf_append_byte(&b, ']');
	}
	return buf_cstr(&b);
}

static void
add_header(json_t *add, const char *name, const char *value, int order)
{
	json_t *h = json_object();
	json_object_set_new(h, "value", json_string(value));
	json_object_set_new(h, "order", json_integer(order));
	json_object_set_new(add, name, h);
}

json_t *
reply_json_milter(const struct scan_task *t)
{
	const struct scan_result *r = &t->result;
	if (r->skipped)
		return NULL;
	const struct fconf *cfg = t->engine->cfg;
	bool milter = (t->flags & SCAN_F_MILTER) != 0;
	const char *fold = milter ? "\n\t" : "\r\n\t";
	json_t *o = json_object();
	json_t *rm = json_object();
	static const char *const removed[] = { "X-Spam-Level", "X-Spam-Status", "X-Spamd-Bar",
		"X-Rspamd-Action", "X-Spamd-Result", "X-Spam" };
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		json_object_set_new(rm, removed[i], json_integer(0));
	json_object_set_new(o, "remove_headers", rm);

	json_t *add = json_object();
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s, score=%.2f", action_is_spam(r->action) ? "Yes" : "No", r->score);
	add_header(add, "X-Spam-Status", tmp, -1);
	if (t->msg.env.queue_id != NULL)
		add_header(add, "X-Rspamd-Queue-Id", t->msg.env.queue_id, -1);
	/* Level and bar: one mark per whole point, capped so a header stays short. */
	int points = (int)fabs(r->score);
	if (points > 50)
		points = 50;
	memset(tmp, r->score >= 0 ? '*' : '-', (size_t)points);
	tmp[points] = '\0';
	if (r->score >= 1.0)
		add_header(add, "X-Spam-Level", tmp, -1);
	memset(tmp, r->score >= 0 ? '+' : '-', (size_t)points);
	tmp[points] = '\0';
	add_header(add, "X-Spamd-Bar", points ? tmp : "/", -1);
	add_header(add, "X-Spamd-Result", reply_spamd_result(t, fold), -1);
	add_header(add, "X-Rspamd-Action", action_name(r->action), -1);
	add_header(add, "X-Rspamd-Server", cfg->server_name, -1);
	if (r->action == ACTION_ADD_HEADER || r->action == ACTION_REWRITE_SUBJECT)
		add_header(add, cfg->milter.spam_header, "Yes", -1);
	json_object_set_new(o, "add_headers", add);
	return o;
}
