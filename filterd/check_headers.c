/*
 * check_headers.c - header sanity checks, named and weighted as rspamd's
 * (rules/headers_checks.lua, misc.lua, mid.lua, subject_checks.lua of rspamd
 * 3.4), so admins moving from rspamd see familiar symbols.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "checks.h"

struct builtin_symbol {
	const char *name;
	double weight;
	const char *group;
	const char *description;
};

static const struct builtin_symbol header_symbols[] = {
	{ "MISSING_DATE", 1.0, "headers", "Message date is missing" },
	{ "INVALID_DATE", 1.5, "headers", "Malformed date header" },
	{ "DATE_IN_PAST", 1.0, "headers", "Message date is in past" },
	{ "DATE_IN_FUTURE", 4.0, "headers", "Message date is in future" },
	{ "MISSING_MID", 2.5, "headers", "Message id is missing" },
	{ "MISSING_TO", 2.0, "headers", "To header is missing" },
	{ "MISSING_SUBJECT", 2.0, "headers", "Subject header is missing" },
	{ "EMPTY_SUBJECT", 1.0, "headers", "Subject header is empty" },
	{ "MISSING_FROM", 2.0, "headers", "Missing From: header" },
	{ "MULTIPLE_FROM", 8.0, "headers", "Multiple addresses in From" },
	{ "FROM_NO_DN", 0.0, "headers", "From header does not have a display name" },
	{ "FROM_HAS_DN", 0.0, "headers", "From header has a display name" },
	{ "FROM_EQ_ENVFROM", 0.0, "headers", "From address is the same as the envelope" },
	{ "FROM_NEQ_ENVFROM", 0.0, "headers", "From address is different to the envelope" },
	{ "TO_DN_NONE", 0.0, "headers", "None of the recipients have display names" },
	{ "TO_DN_ALL", 0.0, "headers", "All the recipients have display names" },
	{ "TO_DN_SOME", 0.0, "headers", "Some of the recipients have display names" },
	{ "HAS_REPLYTO", 0.0, "headers", "Has Reply-To header" },
	{ "REPLYTO_EQ_FROM", 0.0, "headers", "Reply-To header is identical to From header" },
	{ "MID_RHS_MATCH_FROM", 0.0, "headers", "Message-ID RHS matches From domain" },
	{ "SUBJ_ALL_CAPS", 3.0, "subject", "All capital letters in subject" },
	{ "RCVD_COUNT_ZERO", 0.0, "headers", "Message has no Received headers" },
	{ "RCVD_COUNT_ONE", 0.0, "headers", "Message has one Received header" },
	{ "RCVD_COUNT_TWO", 0.0, "headers", "Message has two Received headers" },
	{ "RCVD_COUNT_THREE", 0.0, "headers", "Message has 3-5 Received headers" },
	{ "RCVD_COUNT_FIVE", 0.0, "headers", "Message has 5-7 Received headers" },
	{ "RCVD_COUNT_SEVEN", 0.0, "headers", "Message has 7-11 Received headers" },
	{ "RCVD_COUNT_TWELVE", 0.0, "headers", "Message has 12 or more Received headers" },
	{ "RCPT_COUNT_ZERO", 0.0, "headers", "No recipients" },
	{ "RCPT_COUNT_ONE", 0.0, "headers", "One recipient" },
	{ "RCPT_COUNT_TWO", 0.0, "headers", "Two recipients" },
	{ "RCPT_COUNT_THREE", 0.0, "headers", "3-5 recipients" },
	{ "RCPT_COUNT_FIVE", 0.0, "headers", "5-7 recipients" },
	{ "RCPT_COUNT_SEVEN", 0.0, "headers", "7-11 recipients" },
	{ "RCPT_COUNT_TWELVE", 0.0, "headers", "12 or more recipients" },
	{ "GTUBE", 0.0, "gtube", "Test pattern (GTUBE) found" },
};

/* Weights of the MIME anomaly symbols, as rspamd scores them where it has them. */
static const struct builtin_symbol anomaly_weights[] = {
	{ "BROKEN_HEADERS", 10.0, "headers", NULL },
	{ "MISSING_MIME_VERSION", 2.0, "headers", NULL },
	{ "BROKEN_CONTENT_TYPE", 1.5, "headers", NULL },
	{ "R_BAD_CTE_7BIT", 3.5, "headers", NULL },
	{ "MIME_BAD_ATTACHMENT", 4.0, "mime_types", NULL },
	{ "INVALID_MSGID", 1.7, "headers", NULL },
	{ "MIME_BOUNDARY_MISSING", 1.0, "mime", NULL },
	{ "R_MISSING_CHARSET", 0.5, "headers", NULL },
	{ "MIME_BAD_EXTENSION", 2.0, "mime_types", NULL },
	{ "MIME_DOUBLE_BAD_EXTENSION", 3.0, "mime_types", NULL },
	{ "INVALID_FROM_8BIT", 6.0, "headers", NULL },
	{ "INVALID_RCPT_8BIT", 6.0, "headers", NULL },
};

void
checks_register(struct symtab *t)
{
	for (size_t i = 0; i < sizeof(header_symbols) / sizeof(header_symbols[0]); i++) {
		const struct builtin_symbol *s = &header_symbols[i];
		symtab_add(t, s->name, s->weight, s->group, s->description);
	}
	for (int a = 0; a < MIME_ANOMALY_COUNT; a++) {
		const char *name = mime_anomaly_symbol((enum mime_anomaly)a);
		if (symtab_find(t, name) != NULL)
			continue; /* a header check owns it (MISSING_DATE, ...) */
		double w = 0.0;
		const char *group = "mime";
		for (size_t i = 0; i < sizeof(anomaly_weights) / sizeof(anomaly_weights[0]); i++) {
			if (strcmp(anomaly_weights[i].name, name) == 0) {
				w = anomaly_weights[i].weight;
				group = anomaly_weights[i].group;
			}
		}
		symtab_add(t, name, w, group, mime_anomaly_description((enum mime_anomaly)a));
	}
}

static const char *
count_class(size_t n)
{
	static const struct { size_t min; const char *name; } classes[] = {
		{ 12, "TWELVE" }, { 7, "SEVEN" }, { 5, "FIVE" }, { 3, "THREE" }, { 2, "TWO" }, { 1, "ONE" },
	};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (n >= classes[i].min)
			return classes[i].name;
	return "ZERO";
}

static void
insert_count(struct scan_result *r, const char *prefix, size_t n)
{
	char name[64], opt[24];
	snprintf(name, sizeof(name), "%s_%s", prefix, count_class(n));
	snprintf(opt, sizeof(opt), "%zu", n);
	result_insert(r, name, 1.0, opt);
}

static bool
header_present(const struct mime_message *mm, const char *name)
{
	return mime_header_get(&mm->headers, name) != NULL;
}

static void
check_date(const struct mime_message *mm, struct scan_result *r, time_t now)
{
	const struct mime_header *h = mime_header_get(&mm->headers, "Date");
	if (h == NULL || h->value_len == 0) {
		result_insert(r, "MISSING_DATE", 1.0, NULL);
		return;
	}
	if (!mm->has_date || mm->date == 0) {
		result_insert(r, "INVALID_DATE", 1.0, NULL);
		return;
	}
	double diff = difftime(now, mm->date);
	char opt[32];
	if (diff > 86400) {
		snprintf(opt, sizeof(opt), "%.0f", diff / 3600 - 0.5);
		result_insert(r, "DATE_IN_PAST", 1.0, opt);
	} else if (-diff > 7200) {
		snprintf(opt, sizeof(opt), "%.0f", -diff / 3600 - 0.5);
		result_insert(r, "DATE_IN_FUTURE", 1.0, opt);
	}
}

static void
check_subject(const struct mime_message *mm, struct scan_result *r)
{
	const struct mime_header *h = mime_header_get(&mm->headers, "Subject");
	if (h == NULL) {
		result_insert(r, "MISSING_SUBJECT", 1.0, NULL);
		return;
	}
	if (h->value_len == 0) {
		result_insert(r, "EMPTY_SUBJECT", 1.0, NULL);
		return;
	}
	/* Strip reply/forward prefixes, then: letters present and none lower-case. */
	const char *s = h->value;
	for (;;) {
		static const char *const prefixes[] = { "re:", "fwd:", "fw:", "aw:", "antwort:", "sv:" };
		bool stripped = false;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t n = strlen(prefixes[i]);
			if (strncasecmp(s, prefixes[i], n) == 0) {
				s += n;
				while (*s == ' ' || *s == '\t')
					s++;
				stripped = true;
			}
		}
		if (!stripped)
			break;
	}
	size_t upper = 0, lower = 0, chars = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) != 0x80)
			chars++;
		if (isupper(*p))
			upper++;
		else if (islower(*p))
			lower++;
	}
	if (upper > 0 && lower == 0) {
		double mult = chars / 40.0;
		result_insert(r, "SUBJ_ALL_CAPS", mult < 1.0 ? mult : 1.0, NULL);
	}
}

static void
check_from(const struct msg *m, struct scan_result *r)
{
	const struct mime_message *mm = m->mime;
	if (!header_present(mm, "From")) {
		result_insert(r, "MISSING_FROM", 1.0, NULL);
		return;
	}
	if (mm->from.n == 0)
		return;
	if (mm->from.n > 1)
		result_insert(r, "MULTIPLE_FROM", 1.0, NULL);
	const struct mime_addr *from = &mm->from.v[0];
	result_insert(r, from->name && *from->name ? "FROM_HAS_DN" : "FROM_NO_DN", 1.0, NULL);
	const char *env = m->env.mail_from;
	if (env != NULL && *env && from->addr != NULL) {
		if (strcasecmp(env, from->addr) == 0) {
			result_insert(r, "FROM_EQ_ENVFROM", 1.0, NULL);
		} else {
			struct fired_symbol *s = result_insert(r, "FROM_NEQ_ENVFROM", 1.0, from->addr);
			result_add_option(s, r, env);
		}
	}
	const struct mime_header *rt = mime_header_get(&mm->headers, "Reply-To");
	if (rt != NULL) {
		result_insert(r, "HAS_REPLYTO", 1.0, NULL);
		if (mm->reply_to.n > 0 && mm->reply_to.v[0].addr && from->addr &&
		    strcasecmp(mm->reply_to.v[0].addr, from->addr) == 0)
			result_insert(r, "REPLYTO_EQ_FROM", 1.0, NULL);
	}
	if (mm->message_id != NULL && from->domain != NULL) {
		const char *at = strrchr(mm->message_id, '@');
		if (at != NULL && strcasecmp(at + 1, from->domain) == 0)
			result_insert(r, "MID_RHS_MATCH_FROM", 1.0, NULL);
	}
}

static void
check_recipients(const struct msg *m, struct scan_result *r)
{
	const struct mime_message *mm = m->mime;
	if (!header_present(mm, "To"))
		result_insert(r, "MISSING_TO", 1.0, NULL);
	size_t with_dn = 0, total = mm->to.n + mm->cc.n;
	for (size_t i = 0; i < mm->to.n; i++)
		with_dn += mm->to.v[i].name && *mm->to.v[i].name;
	for (size_t i = 0; i < mm->cc.n; i++)
		with_dn += mm->cc.v[i].name && *mm->cc.v[i].name;
	if (total > 0)
		result_insert(r, with_dn == 0 ? "TO_DN_NONE" : with_dn == total ? "TO_DN_ALL" : "TO_DN_SOME",
		    1.0, NULL);
	/* Envelope recipients when the MTA gave them, else those of the headers. */
	insert_count(r, "RCPT_COUNT", m->env.nrcpt ? m->env.nrcpt : total);
}

void
checks_headers_run(const struct msg *m, struct scan_result *r, time_t now)
{
	const struct mime_message *mm = m->mime;
	if (mm == NULL)
		return;
	check_date(mm, r, now);
	if (mm->message_id == NULL || *mm->message_id == '\0')
		result_insert(r, "MISSING_MID", 1.0, NULL);
	check_subject(mm, r);
	check_from(m, r);
	check_recipients(m, r);
	insert_count(r, "RCVD_COUNT", mm->nreceived);
}

void
checks_mime_anomalies_run(const struct msg *m, struct scan_result *r)
{
	if (m->mime == NULL)
		return;
	for (size_t i = 0; i < m->mime->nanomalies; i++) {
		const struct mime_anomaly_hit *a = &m->mime->anomalies[i];
		result_insert(r, mime_anomaly_symbol(a->kind), 1.0, a->detail);
	}
}
