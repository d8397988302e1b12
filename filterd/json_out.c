/*
 * json_out.c - see json_out.h. The comma before a member or element is
 * written by whoever starts it; a key leaves the next value uncommaed.
 */
#include "json_out.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fcore/numfmt.h"
#include "fcore/utf8.h"

void
jo_init(struct json_out *j, struct buf *b)
{
	memset(j, 0, sizeof(*j));
	j->b = b;
}

/* Before a value or a key at the current depth. */
static void
sep(struct json_out *j)
{
	if (j->need_comma[j->depth])
		buf_append_byte(j->b, ',');
	j->need_comma[j->depth] = true;
}

static void
open_container(struct json_out *j, char c)
{
	sep(j);
	buf_append_byte(j->b, (uint8_t)c);
	if (j->depth + 1 < JSON_OUT_MAX_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void
close_container(struct json_out *j, char c)
{
	buf_append_byte(j->b, (uint8_t)c);
	if (j->depth > 0)
		j->depth--;
}

void
jo_obj_begin(struct json_out *j)
{
	open_container(j, '{');
}

void
jo_obj_end(struct json_out *j)
{
	close_container(j, '}');
}

void
jo_arr_begin(struct json_out *j)
{
	open_container(j, '[');
}

void
jo_arr_end(struct json_out *j)
{
	close_container(j, ']');
}

static void
escaped(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *esc = NULL;
	switch (c) {
	case '"': esc = "\\\""; break;
	case '\\': esc = "\\\\"; break;
	case '\b': esc = "\\b"; break;
	case '\f': esc = "\\f"; break;
	case '\n': esc = "\\n"; break;
	case '\r': esc = "\\r"; break;
	case '\t': esc = "\\t"; break;
	default: break;
	}
	if (esc != NULL) {
		buf_append_cstr(b, esc);
	} else {
		char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		buf_append(b, u, sizeof(u));
	}
}

/* Runs of plain bytes are copied whole: a reply is mostly names and text. */
static void
quoted(struct buf *b, const char *s)
{
	buf_append_byte(b, '"');
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (;; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		buf_append(b, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		escaped(b, *p);
		run = p + 1;
	}
	buf_append_byte(b, '"');
}

void
jo_key(struct json_out *j, const char *key)
{
	sep(j);
	quoted(j->b, key);
	buf_append_byte(j->b, ':');
	j->need_comma[j->depth] = false; /* the value follows without one */
}

/* After a key the value restores the member's comma for the next one. */
static void
value_sep(struct json_out *j)
{
	sep(j);
}

void
jo_str(struct json_out *j, const char *s)
{
	value_sep(j);
	quoted(j->b, s);
}

/*
 * Scores and thresholds have at most three decimals; a reply holds some
 * fifty of them and printf's float formatting was 1.5 % of the CPU under
 * load. Such a value is written here as "%.9g" writes it: between 0.001
 * and 10^6, nine significant digits reach the third decimal, so a value
 * within 10^-12 (relative) of k/1000 prints as k/1000. The length, or -1
 * for any other value; t holds NUMFMT_MAX bytes.
 */
static int
real_short(char *t, double v)
{
	double a = fabs(v);
	/* zero too: "%.9g" writes "0" or "-0", and jansson adds ".0" */
	if (a != 0.0 && !(a >= 0.001 && a < 1e6))
		return -1;
	double k = nearbyint(a * 1000.0);
	if (fabs(a * 1000.0 - k) > k * 1e-12)
		return -1;
	/* three decimals, then "%.9g"'s trimming of trailing zeros */
	size_t n = fmt_fixed(t, v, 3);
	while (t[n - 1] == '0' && t[n - 2] != '.')
		n--;
	t[n] = '\0';
	return (int)n;
}

/* jansson's jsonp_dtostr: "%.9g", ".0" for whole numbers, exponent
 * without '+' and leading zeros. */
void
jo_real(struct json_out *j, double v)
{
	char t[NUMFMT_MAX];
	int n = real_short(t, v);
	if (n > 0) {
		value_sep(j);
		buf_append(j->b, t, (size_t)n);
		return;
	}
	n = snprintf(t, sizeof(t), "%.9g", v);
	if (n < 0 || (size_t)n >= sizeof(t) - 3)
		n = snprintf(t, sizeof(t), "0.0");
	char *dot = strchr(t, ',');
	if (dot != NULL)
		*dot = '.';
	if (strchr(t, '.') == NULL && strchr(t, 'e') == NULL) {
		memcpy(t + n, ".0", 3);
		n += 2;
	}
	char *e = strchr(t, 'e');
	if (e != NULL) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start)
			memmove(start, end, strlen(end) + 1);
	}
	value_sep(j);
	buf_append_cstr(j->b, t);
}

void
jo_int(struct json_out *j, long long v)
{
	char t[NUMFMT_MAX];
	size_t n = fmt_long(t, v);
	value_sep(j);
	buf_append(j->b, t, n);
}

void
jo_bool(struct json_out *j, bool v)
{
	value_sep(j);
	buf_append_cstr(j->b, v ? "true" : "false");
}

bool
jo_utf8_valid(const char *s)
{
	return utf8_valid(span_from_cstr(s), NULL);
}

void
jo_member_str(struct json_out *j, const char *key, const char *s)
{
	if (s == NULL || !jo_utf8_valid(s))
		return;
	jo_key(j, key);
	jo_str(j, s);
}
