/*
 * cf_replace.c - ReplaceTags: <TAG> in the patterns of replace_rules rules.
 *
 * Follows the order of SpamAssassin's plugin: the first <pre X>, <post X>
 * and <inter X> markers are removed and applied (pre before each tag, post
 * after each tag, inter into each empty gap of the split around tags,
 * including the one before a leading tag), then each tag is replaced by its
 * value; values that contain tags themselves cause up to five more passes.
 */
#include <string.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "rules-private.h"

#define REPLACE_MAX_PASSES 6

static const char *
tag_value(const struct cf_taglist *l, const char *name, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].name) == n && memcmp(l->v[i].name, name, n) == 0)
			return l->v[i].value;
	return NULL;
}

/* Removes the first "<kind NAME>" from s; returns NAME's value in l or NULL. */
static const char *
take_marker(const struct cf *cf, struct buf *s, const char *kind, const struct cf_taglist *l)
{
	size_t sl = strlen(cf->replace_start), el = strlen(cf->replace_end), kl = strlen(kind);
	struct span hay = buf_span(s);
	for (size_t i = 0; i + sl + kl + 1 <= hay.len; i++) {
		if (memcmp(hay.p + i, cf->replace_start, sl) != 0 ||
		    memcmp(hay.p + i + sl, kind, kl) != 0 || hay.p[i + sl + kl] != ' ')
			continue;
		size_t ns = i + sl + kl + 1;
		ptrdiff_t e = span_find(span_sub(hay, ns, hay.len - ns), span_make(cf->replace_end, el));
		if (e <= 0)
			continue;
		const char *v = tag_value(l, (const char *)hay.p + ns, (size_t)e);
		size_t cut = ns + (size_t)e + el;
		memmove(s->data + i, s->data + cut, s->len - cut);
		s->len -= cut - i;
		return v;
	}
	return NULL;
}

/* Length of a tag at p ("<[^<>]+>" with the default delimiters), or 0. */
static size_t
tag_len(const struct cf *cf, const char *p, size_t n)
{
	size_t sl = strlen(cf->replace_start), el = strlen(cf->replace_end);
	if (n < sl + el + 1 || memcmp(p, cf->replace_start, sl) != 0)
		return 0;
	for (size_t i = sl; i + el <= n; i++) {
		if (memcmp(p + i, cf->replace_start, sl) == 0)
			return 0;
		if (memcmp(p + i, cf->replace_end, el) == 0)
			return i > sl ? i + el : 0;
	}
	return 0;
}

static bool
has_tag(const char *v)
{
	const char *lt = strchr(v, '<');
	return lt != NULL && strchr(lt + 1, '>') != NULL && lt[1] != '>';
}

/* One pass over s into out; sets *again when a value brought new tags. */
static void
replace_pass(const struct cf *cf, struct buf *s, struct buf *out, bool *again)
{
	const char *pre = take_marker(cf, s, "pre", &cf->pre);
	const char *post = take_marker(cf, s, "post", &cf->post);
	const char *inter = take_marker(cf, s, "inter", &cf->inter);
	const char *p = (const char *)s->data;
	size_t n = s->len, i = 0;
	bool last_was_tag = false, at_start = true;
	while (i <= n) {
		size_t tl = i < n ? tag_len(cf, p + i, n - i) : 0;
		if (tl == 0) {
			if (i == n)
				break;
			buf_append_byte(out, (uint8_t)p[i]);
			last_was_tag = false;
			at_start = false;
			i++;
			continue;
		}
		if ((last_was_tag || at_start) && inter != NULL)
			buf_append_cstr(out, inter);
		if (pre != NULL)
			buf_append_cstr(out, pre);
		const char *v = NULL;
		size_t sl = strlen(cf->replace_start), el = strlen(cf->replace_end);
		if (tl > sl + el && memcmp(p + i, cf->replace_start, sl) == 0)
			v = tag_value(&cf->tags, p + i + sl, tl - sl - el);
		if (v != NULL) {
			buf_append_cstr(out, v);
			if (has_tag(v))
				*again = true;
		} else {
			buf_append(out, p + i, tl);
		}
		if (post != NULL)
			buf_append_cstr(out, post);
		last_was_tag = true;
		at_start = false;
		i += tl;
	}
}

const char *
cf_replace_tags(const struct cf *cf, const char *re)
{
	struct buf cur, out;
	buf_init(&cur, NULL);
	buf_init(&out, NULL);
	buf_append_cstr(&cur, re);
	bool again = true;
	for (int pass = 0; again && pass < REPLACE_MAX_PASSES; pass++) {
		again = false;
		buf_reset(&out);
		replace_pass(cf, &cur, &out, &again);
		struct buf t = cur;
		cur = out;
		out = t;
	}
	const char *res = arena_strndup(cf->arena, cur.data, cur.len);
	buf_deinit(&cur);
	buf_deinit(&out);
	return res;
}
