/*
 * mime_received.c - one Received header into from/helo/rdns/ip/by/with/date.
 *
 * There is no single grammar in the wild; the common shapes are
 *   Postfix/Sendmail: from HELO (RDNS [IP]) by HOST (Postfix) with ESMTPS id X; DATE
 *   Exim:             from RDNS ([IP]:PORT helo=HELO) by HOST with esmtp ...
 *                     from [IP] (helo=HELO) by ...
 *   qmail:            from unknown (HELO helo) (IP) by ...
 *   Exchange:         from HOST (IPv6:::1) by HOST (IPv6:...) with Microsoft SMTP Server ...
 * so the header is read as clauses (from/by/with/via/id/for), each a word
 * plus parenthesised comments, and the comments of the "from" clause are
 * searched for HELO names, reverse names and bracketed or bare IPs. The date
 * is whatever follows the last ';'.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

static bool
ip_text(const char *s, size_t n, char *out, size_t outsz)
{
	unsigned char tmp[16];
	if (n >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || n >= outsz)
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	if (inet_pton(AF_INET, out, tmp) == 1 || inet_pton(AF_INET6, out, tmp) == 1)
		return true;
	/* "1.2.3.4:25" or "1.2.3.4.25" style ports after an IPv4 */
	char *colon = strrchr(out, ':');
	if (colon != NULL && strchr(out, ':') == colon) {
		*colon = 0;
		return inet_pton(AF_INET, out, tmp) == 1;
	}
	return false;
}

struct tok {
	const char *p;
	size_t n;
	bool comment; /* text inside (...) without the parens */
};

/* Next word or comment starting at *i. */
static bool
next_tok(const char *v, size_t len, size_t *i, struct tok *t)
{
	size_t k = *i;
	while (k < len && (mime_is_wsp((uint8_t)v[k]) || v[k] == ','))
		k++;
	if (k >= len)
		return false;
	if (v[k] == '(') {
		int depth = 1;
		size_t s = ++k;
		while (k < len && depth > 0) {
			if (v[k] == '(')
				depth++;
			else if (v[k] == ')')
				depth--;
			k++;
		}
		t->p = v + s;
		t->n = (depth == 0 ? k - 1 : k) - s;
		t->comment = true;
	} else {
		size_t s = k;
		while (k < len && !mime_is_wsp((uint8_t)v[k]) && v[k] != '(')
			k++;
		t->p = v + s;
		t->n = k - s;
		t->comment = false;
	}
	*i = k;
	return true;
}

static const char *
dup_word(struct arena *a, const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ';' || p[n - 1] == ','))
		n--;
	return n ? mime_lower_dup(a, p, n) : NULL;
}

static void
try_ip(struct arena *a, struct mime_received *r, const char *p, size_t n)
{
	char ip[64];
	if (r->ip == NULL && ip_text(p, n, ip, sizeof(ip)))
		r->ip = arena_strdup(a, ip);
}

/* "(rdns [ip]:port helo=x)", "(HELO x)", "(1.2.3.4)", "(may be forged)". */
static void
from_comment(struct arena *a, struct mime_received *r, const char *p, size_t n)
{
	size_t i = 0;
	struct tok t;
	bool prev_helo = false;

	while (i < n) {
		size_t k = i;
		while (k < n && (mime_is_wsp((uint8_t)p[k]) || p[k] == ','))
			k++;
		size_t s = k;
		while (k < n && !mime_is_wsp((uint8_t)p[k]) && p[k] != ',')
			k++;
		i = k;
		t.p = p + s;
		t.n = k - s;
		if (t.n == 0)
			break;
		if (prev_helo) {
			r->helo = dup_word(a, t.p, t.n);
			prev_helo = false;
		} else if ((t.n == 4 && (strncasecmp(t.p, "helo", 4) == 0 || strncasecmp(t.p, "ehlo", 4) == 0))) {
			prev_helo = true;
		} else if (t.n > 5 && strncasecmp(t.p, "helo=", 5) == 0) {
			r->helo = dup_word(a, t.p + 5, t.n - 5);
		} else if (memchr(t.p, '@', t.n) != NULL) {
			/* qmail "(ident@1.2.3.4)", Sendmail "(user@host [ip])" */
			const char *at = memchr(t.p, '@', t.n);
			try_ip(a, r, at + 1, t.n - (size_t)(at + 1 - t.p));
		} else if (t.p[0] == '[') {
			const char *e = memchr(t.p, ']', t.n);
			try_ip(a, r, t.p + 1, e ? (size_t)(e - t.p) - 1 : t.n - 1);
		} else if (r->ip == NULL && (t.p[0] >= '0' && t.p[0] <= '9')) {
			try_ip(a, r, t.p, t.n);
		} else if (t.n > 5 && strncasecmp(t.p, "IPv6:", 5) == 0) {
			try_ip(a, r, t.p, t.n);
		} else if (r->rdns == NULL && s == 0 && memchr(t.p, '.', t.n) != NULL &&
		    memchr(t.p, '=', t.n) == NULL) {
			r->rdns = dup_word(a, t.p, t.n);
		}
	}
}

enum clause { CL_NONE, CL_FROM, CL_BY, CL_WITH, CL_OTHER };

static enum clause
keyword(const struct tok *t)
{
	static const struct {
		const char *w;
		enum clause c;
	} kw[] = { { "from", CL_FROM }, { "by", CL_BY }, { "with", CL_WITH }, { "via", CL_OTHER },
		{ "id", CL_OTHER }, { "for", CL_OTHER } };
	if (t->comment)
		return CL_NONE;
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strlen(kw[i].w) == t->n && strncasecmp(t->p, kw[i].w, t->n) == 0)
			return kw[i].c;
	return CL_NONE;
}

static void
finish_from(struct arena *a, struct mime_received *r)
{
	if (r->from_name == NULL)
		return;
	/* "from [ip]": the address literal counts only when no comment gave
	 * the connecting IP (Postfix puts the HELO literal there) */
	if (r->from_name[0] == '[') {
		const char *e = strchr(r->from_name, ']');
		try_ip(a, r, r->from_name + 1, e ? (size_t)(e - r->from_name) - 1 : strlen(r->from_name) - 1);
	}
	bool unknown = strcmp(r->from_name, "unknown") == 0 || r->from_name[0] == '[';
	if (r->from_name[0] == '[' && r->ip == NULL)
		return;
	if (r->helo == NULL && !unknown) {
		r->helo = r->from_name; /* Postfix/Sendmail: from HELO (RDNS [IP]) */
	} else if (r->rdns == NULL && !unknown && r->helo != r->from_name) {
		r->rdns = r->from_name; /* Exim/qmail: from RDNS (... helo=X) */
	}
	if (r->rdns != NULL && strcmp(r->rdns, "unknown") == 0)
		r->rdns = NULL;
}

void
mime_received_parse(struct arena *a, const char *v, size_t len, struct mime_received *r)
{
	size_t i = 0, body = len;
	enum clause cl = CL_NONE;
	bool want_word = false;
	struct tok t;

	memset(r, 0, sizeof(*r));
	for (size_t k = len; k > 0; k--)
		if (v[k - 1] == ';') {
			body = k - 1;
			time_t ts;
			if (mime_date_parse(v + k, len - k, &ts))
				r->ts = ts;
			break;
		}
	while (next_tok(v, body, &i, &t)) {
		enum clause k = keyword(&t);
		if (k != CL_NONE) {
			cl = k;
			want_word = true;
			continue;
		}
		if (cl == CL_FROM && t.comment) {
			from_comment(a, r, t.p, t.n);
			continue;
		}
		if (!want_word || t.comment)
			continue;
		want_word = false;
		if (cl == CL_FROM && r->from_name == NULL) {
			r->from_name = dup_word(a, t.p, t.n);
		} else if (cl == CL_BY && r->by == NULL) {
			r->by = dup_word(a, t.p, t.n);
		} else if (cl == CL_WITH && r->with == NULL) {
			r->with = arena_strndup(a, t.p, t.n);
		}
	}
	finish_from(a, r);
}
