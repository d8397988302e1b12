/*
 * html.c - tolerant HTML tokenizer that renders visible text and links.
 *
 * DESIGN: one pass over the source in the "data" state; '<' starts a tag,
 * comment or declaration as the HTML5 tokenizer would read it, '&' starts a
 * character reference. There is no tree: open elements live on a fixed stack
 * (HTML_STACK_MAX entries) that only carries what rendering needs, i.e. the
 * tag, whether content is hidden and the literal text and background colours
 * in effect. Past the stack's depth elements are only counted, so depth never
 * costs memory or recursion. Raw-text elements (script, style, title, ...)
 * are skipped by searching for their end tag, as browsers do.
 *
 * Breaks between blocks are kept "pending" and written only before the next
 * visible text, so runs of empty blocks collapse to one break and no text
 * starts or ends with blanks.
 */
#include "fcore/ascii.h"
#include "fcore/html.h"

#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "extract-private.h"
#include "html-private.h"

#define HTML_STACK_MAX 256
#define HTML_MAX_ATTRS 32
#define HTML_NAME_MAX 16 /* longer tag names are matched by hash only */
/* How far down the stack an end tag looks for its element: bounds the work
 * of floods of unmatched end tags to a constant per tag. */
#define HTML_MATCH_DEPTH 64

/* Tag flags */
#define T_VOID 0x001
#define T_LINE 0x002 /* line break before and after */
#define T_PARA 0x004 /* paragraph break before and after */
#define T_CELL 0x008 /* a space between cells */
#define T_RAW 0x010  /* content is not rendered: skip to the end tag */
#define T_AUTO 0x020 /* implicitly closed by a sibling of the same kind */
#define T_TEXTAREA 0x040
#define T_TITLE 0x080

enum tag_id {
	TAG_OTHER = 0,
	TAG_A, TAG_AREA, TAG_BASE, TAG_BODY, TAG_BR, TAG_DD, TAG_DL, TAG_DT, TAG_FONT,
	TAG_FORM, TAG_IMG, TAG_LI, TAG_OL, TAG_OPTION, TAG_P, TAG_SELECT, TAG_TABLE,
	TAG_TD, TAG_TH, TAG_TR, TAG_UL, TAG_GENERIC,
};

struct tag_def {
	const char *name;
	uint8_t id;
	uint16_t flags;
};

/* Sorted by name for bsearch. */
static const struct tag_def tag_defs[] = {
	{ "a", TAG_A, 0 },
	{ "address", TAG_GENERIC, T_PARA },
	{ "area", TAG_AREA, T_VOID },
	{ "article", TAG_GENERIC, T_PARA },
	{ "aside", TAG_GENERIC, T_PARA },
	{ "base", TAG_BASE, T_VOID },
	{ "blockquote", TAG_GENERIC, T_PARA },
	{ "body", TAG_BODY, T_LINE },
	{ "br", TAG_BR, T_VOID | T_LINE },
	{ "caption", TAG_GENERIC, T_LINE },
	{ "center", TAG_GENERIC, T_PARA },
	{ "col", TAG_GENERIC, T_VOID },
	{ "dd", TAG_DD, T_LINE | T_AUTO },
	{ "details", TAG_GENERIC, T_PARA },
	{ "div", TAG_GENERIC, T_LINE },
	{ "dl", TAG_DL, T_PARA },
	{ "dt", TAG_DT, T_LINE | T_AUTO },
	{ "embed", TAG_GENERIC, T_VOID },
	{ "fieldset", TAG_GENERIC, T_PARA },
	{ "figure", TAG_GENERIC, T_PARA },
	{ "font", TAG_FONT, 0 },
	{ "footer", TAG_GENERIC, T_PARA },
	{ "form", TAG_FORM, T_PARA },
	{ "frame", TAG_GENERIC, T_VOID },
	{ "h1", TAG_GENERIC, T_PARA },
	{ "h2", TAG_GENERIC, T_PARA },
	{ "h3", TAG_GENERIC, T_PARA },
	{ "h4", TAG_GENERIC, T_PARA },
	{ "h5", TAG_GENERIC, T_PARA },
	{ "h6", TAG_GENERIC, T_PARA },
	{ "header", TAG_GENERIC, T_PARA },
	{ "hr", TAG_GENERIC, T_VOID | T_PARA },
	{ "html", TAG_GENERIC, T_LINE },
	{ "iframe", TAG_GENERIC, T_RAW },
	{ "img", TAG_IMG, T_VOID },
	{ "input", TAG_GENERIC, T_VOID },
	{ "keygen", TAG_GENERIC, T_VOID },
	{ "li", TAG_LI, T_LINE | T_AUTO },
	{ "link", TAG_GENERIC, T_VOID },
	{ "main", TAG_GENERIC, T_LINE },
	{ "meta", TAG_GENERIC, T_VOID },
	{ "nav", TAG_GENERIC, T_LINE },
	{ "noembed", TAG_GENERIC, T_RAW },
	{ "noframes", TAG_GENERIC, T_RAW },
	{ "ol", TAG_OL, T_PARA },
	{ "option", TAG_OPTION, T_LINE | T_AUTO },
	{ "p", TAG_P, T_PARA | T_AUTO },
	{ "param", TAG_GENERIC, T_VOID },
	{ "pre", TAG_GENERIC, T_PARA },
	{ "script", TAG_GENERIC, T_RAW },
	{ "section", TAG_GENERIC, T_PARA },
	{ "select", TAG_SELECT, T_LINE },
	{ "source", TAG_GENERIC, T_VOID },
	{ "style", TAG_GENERIC, T_RAW },
	{ "summary", TAG_GENERIC, T_LINE },
	{ "table", TAG_TABLE, T_PARA },
	{ "td", TAG_TD, T_CELL | T_AUTO },
	{ "template", TAG_GENERIC, T_RAW },
	{ "textarea", TAG_GENERIC, T_RAW | T_TEXTAREA },
	{ "th", TAG_TH, T_CELL | T_AUTO },
	{ "title", TAG_GENERIC, T_RAW | T_TITLE },
	{ "tr", TAG_TR, T_LINE | T_AUTO },
	{ "track", TAG_GENERIC, T_VOID },
	{ "ul", TAG_UL, T_PARA },
	{ "wbr", TAG_GENERIC, T_VOID },
	{ "xmp", TAG_GENERIC, T_RAW },
};

enum attr_id {
	A_HREF, A_SRC, A_ACTION, A_STYLE, A_COLOR, A_BGCOLOR, A_TEXT, A_HIDDEN,
	A_COUNT,
};

static const char *const attr_names[A_COUNT] = {
	"href", "src", "action", "style", "color", "bgcolor", "text", "hidden",
};

struct tag {
	const struct tag_def *def; /* NULL for unknown tags */
	uint32_t hash;             /* of the lower-case name, for matching end tags */
	bool end;
	bool self_closing;
	bool has[A_COUNT];
	struct span attr[A_COUNT]; /* raw values, references not decoded */
};

#define COLOR_NONE (-1)

struct elem {
	uint32_t hash;
	const struct tag_def *def;
	bool hidden;
	int32_t fg; /* 0xRRGGBB or COLOR_NONE */
	int32_t bg;
};

enum brk { BRK_NONE, BRK_SPACE, BRK_LINE, BRK_PARA };

struct hp {
	struct arena *a;
	const uint8_t *s;
	size_t n;
	struct buf out;
	struct buf inv;
	struct buf title;
	enum brk brk;
	bool inv_space;
	struct elem stack[HTML_STACK_MAX];
	size_t depth;
	size_t overflow; /* elements opened beyond the stack */
	struct html_link *links;
	size_t *link_start; /* offsets into out for the text of each link */
	size_t *link_end;
	size_t nlinks;
	size_t caplinks;
	ptrdiff_t open_a; /* index of the link whose text is being collected */
	struct html_doc *doc;
	bool failed;
};

/* ---- character references ---- */

static const uint16_t cp1252_c1[32] = {
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
};





static const struct html_entity *
entity_find(const uint8_t *name, size_t len)
{
	size_t lo = 0, hi = html_nentities;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = html_entities[mid].name;
		size_t elen = strlen(e);
		int c = memcmp(name, e, len < elen ? len : elen);
		if (c == 0)
			c = len < elen ? -1 : (len > elen ? 1 : 0);
		if (c == 0)
			return &html_entities[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static size_t
decode_numeric(const uint8_t *p, size_t n, uint32_t *cp_r)
{
	size_t i = 2; /* past "&#" */
	uint32_t v = 0;
	size_t digits = 0;
	bool hex = i < n && (p[i] | 0x20) == 'x';
	if (hex)
		i++;
	for (; i < n; i++, digits++) {
		int d = hex ? ascii_hexval(p[i]) : (ascii_is_digit(p[i]) ? p[i] - '0' : -1);
		if (d < 0)
			break;
		if (v <= 0x10FFFF)
			v = v * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (digits == 0)
		return 0;
	if (i < n && p[i] == ';')
		i++;
	if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		v = UTF8_REPLACEMENT;
	else if (v >= 0x80 && v <= 0x9F)
		v = cp1252_c1[v - 0x80];
	*cp_r = v;
	return i;
}

#define ENTITY_NAME_MAX 32
#define ENTITY_LEGACY_MAX 6 /* longest name valid without ';' ("frac34") */

/*
 * p[0] == '&'. Returns the bytes consumed (0: not a reference, keep '&'
 * literally) and the code points in cp_r[0..1] (cp_r[1] == 0 if one).
 */
static size_t
decode_ref(const uint8_t *p, size_t n, bool in_attr, uint32_t cp_r[2])
{
	cp_r[1] = 0;
	if (n < 2)
		return 0;
	if (p[1] == '#')
		return decode_numeric(p, n, &cp_r[0]);
	size_t len = 0;
	while (1 + len < n && len < ENTITY_NAME_MAX && ascii_is_alnum(p[1 + len]))
		len++;
	if (len == 0)
		return 0;
	const struct html_entity *e;
	if (1 + len < n && p[1 + len] == ';' && (e = entity_find(p + 1, len)) != NULL) {
		cp_r[0] = e->cp;
		cp_r[1] = e->cp2;
		return len + 2;
	}
	for (size_t k = len < ENTITY_LEGACY_MAX ? len : ENTITY_LEGACY_MAX; k >= 2; k--) {
		e = entity_find(p + 1, k);
		if (e == NULL || !e->legacy)
			continue;
		if (in_attr && 1 + k < n && (ascii_is_alnum(p[1 + k]) || p[1 + k] == '='))
			return 0;
		cp_r[0] = e->cp;
		cp_r[1] = e->cp2;
		return k + 1;
	}
	return 0;
}

struct span
html_decode_entities(struct arena *a, struct span s, bool in_attribute)
{
	if (span_find_byte(s, '&') < 0) {
		void *copy = s.len ? arena_memdup(a, s.p, s.len) : NULL;
		return copy ? span_make(copy, s.len) : span_make(NULL, 0);
	}
	/* A reference of n >= 3 bytes yields at most n + 1 ("&nLt;" is 5 -> 6). */
	uint8_t *o = arena_alloc(a, s.len + s.len / 3 + 8);
	if (o == NULL)
		return span_make(NULL, 0);
	size_t k = 0;
	for (size_t i = 0; i < s.len;) {
		uint32_t cp[2];
		size_t used;
		if (s.p[i] == '&' && (used = decode_ref(s.p + i, s.len - i, in_attribute, cp)) > 0) {
			k += utf8_put(o + k, cp[0]);
			if (cp[1])
				k += utf8_put(o + k, cp[1]);
			i += used;
		} else
			o[k++] = s.p[i++];
	}
	return span_make(o, k);
}

/* ---- colours and inline style ---- */

struct named_color {
	const char *name;
	int32_t rgb;
};

/* The colours spam actually uses to hide text; others stay unknown. */
static const struct named_color named_colors[] = {
	{ "aqua", 0x00FFFF }, { "black", 0x000000 }, { "blue", 0x0000FF },
	{ "fuchsia", 0xFF00FF }, { "gray", 0x808080 }, { "green", 0x008000 },
	{ "grey", 0x808080 }, { "lime", 0x00FF00 }, { "maroon", 0x800000 },
	{ "navy", 0x000080 }, { "olive", 0x808000 }, { "orange", 0xFFA500 },
	{ "purple", 0x800080 }, { "red", 0xFF0000 }, { "silver", 0xC0C0C0 },
	{ "teal", 0x008080 }, { "white", 0xFFFFFF }, { "yellow", 0xFFFF00 },
};

static int32_t
parse_hex_color(const uint8_t *p, size_t n)
{
	int32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = ascii_hexval(p[i]);
		if (d < 0)
			return COLOR_NONE;
		v = v * 16 + d;
	}
	if (n == 3)
		v = ((v & 0xF00) * 0x1100) | ((v & 0x0F0) * 0x110) | ((v & 0x00F) * 0x11);
	return v;
}

static int32_t
parse_rgb_func(struct span s)
{
	int32_t ch[3] = { 0, 0, 0 };
	size_t i = 4, k = 0; /* past "rgb(" */
	while (i < s.len && k < 3) {
		while (i < s.len && (s.p[i] == ' ' || s.p[i] == ','))
			i++;
		if (i >= s.len || !ascii_is_digit(s.p[i]))
			return COLOR_NONE;
		int32_t v = 0;
		while (i < s.len && ascii_is_digit(s.p[i]) && v < 1000)
			v = v * 10 + (s.p[i++] - '0');
		if (i < s.len && s.p[i] == '%')
			return COLOR_NONE; /* rare; not worth the arithmetic */
		ch[k++] = v > 255 ? 255 : v;
	}
	return k == 3 ? (ch[0] << 16) | (ch[1] << 8) | ch[2] : COLOR_NONE;
}

/* A literal colour: #rgb, #rrggbb, rrggbb (legacy attributes), rgb(), a name. */
static int32_t
parse_color(struct span s)
{
	s = span_trim(s);
	if (s.len > 0 && s.p[0] == '#') {
		if (s.len == 4 || s.len == 7)
			return parse_hex_color(s.p + 1, s.len - 1);
		return COLOR_NONE;
	}
	if (s.len == 6 && parse_hex_color(s.p, 6) != COLOR_NONE)
		return parse_hex_color(s.p, 6);
	if (span_has_prefix_ci(s, "rgb("))
		return parse_rgb_func(s);
	for (size_t i = 0; i < sizeof(named_colors) / sizeof(named_colors[0]); i++)
		if (span_caseeq_cstr(s, named_colors[i].name))
			return named_colors[i].rgb;
	return COLOR_NONE;
}

/* The first token of a background shorthand that is a colour, if any. */
static int32_t
parse_background(struct span v)
{
	size_t i = 0;
	while (i < v.len) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		size_t st = i;
		int paren = 0;
		while (i < v.len && (paren > 0 || (v.p[i] != ' ' && v.p[i] != '\t'))) {
			if (v.p[i] == '(')
				paren++;
			else if (v.p[i] == ')' && paren > 0)
				paren--;
			i++;
		}
		if (i > st) {
			int32_t c = parse_color(span_make(v.p + st, i - st));
			if (c != COLOR_NONE)
				return c;
		}
	}
	return COLOR_NONE;
}

/* Near enough that a reader cannot tell text from background. */
static bool
colors_close(int32_t a, int32_t b)
{
	for (int sh = 0; sh <= 16; sh += 8) {
		int d = ((a >> sh) & 0xFF) - ((b >> sh) & 0xFF);
		if (d > 8 || d < -8)
			return false;
	}
	return true;
}

static bool
value_is_zeroish(struct span v)
{
	/* "0", "0.0", "0px", ".01" etc.: a number below 0.05 */
	size_t i = 0;
	bool seen = false;
	while (i < v.len && v.p[i] == '0') {
		i++;
		seen = true;
	}
	if (i < v.len && v.p[i] == '.') {
		i++;
		if (i < v.len && v.p[i] == '0') {
			seen = true;
			while (i < v.len && v.p[i] == '0')
				i++;
			if (i < v.len && ascii_is_digit(v.p[i]) && v.p[i] >= '5')
				return false;
		} else if (i < v.len && ascii_is_digit(v.p[i]))
			return false;
	}
	return seen && (i >= v.len || !ascii_is_digit(v.p[i]));
}

/* font-size that renders unreadably: 0 in any unit, or 1px/1pt. */
static bool
font_size_tiny(struct span v)
{
	if (value_is_zeroish(v))
		return true;
	if (v.len >= 3 && v.p[0] == '1' && !ascii_is_digit(v.p[1]) && v.p[1] != '.')
		return span_has_prefix_ci(span_sub(v, 1, v.len - 1), "px") ||
		    span_has_prefix_ci(span_sub(v, 1, v.len - 1), "pt");
	return false;
}

static void
apply_declaration(struct elem *e, struct span prop, struct span val)
{
	prop = span_trim(prop);
	val = span_trim(val);
	ptrdiff_t imp = span_find_byte(val, '!');
	if (imp >= 0)
		val = span_trim(span_sub(val, 0, (size_t)imp));
	if (span_caseeq_cstr(prop, "display")) {
		if (span_caseeq_cstr(val, "none"))
			e->hidden = true;
	} else if (span_caseeq_cstr(prop, "visibility")) {
		if (span_caseeq_cstr(val, "hidden") || span_caseeq_cstr(val, "collapse"))
			e->hidden = true;
	} else if (span_caseeq_cstr(prop, "opacity")) {
		if (value_is_zeroish(val))
			e->hidden = true;
	} else if (span_caseeq_cstr(prop, "font-size")) {
		if (font_size_tiny(val))
			e->hidden = true;
	} else if (span_caseeq_cstr(prop, "color")) {
		int32_t c = parse_color(val);
		if (c != COLOR_NONE)
			e->fg = c;
	} else if (span_caseeq_cstr(prop, "background-color")) {
		/* Any background we cannot read makes the comparison meaningless. */
		e->bg = parse_color(val);
	} else if (span_caseeq_cstr(prop, "background")) {
		e->bg = parse_background(val);
	}
}

static void
apply_style(struct elem *e, struct span style)
{
	size_t i = 0;
	while (i < style.len) {
		size_t st = i;
		while (i < style.len && style.p[i] != ';')
			i++;
		struct span decl = span_make(style.p + st, i - st);
		ptrdiff_t colon = span_find_byte(decl, ':');
		if (colon > 0)
			apply_declaration(e, span_sub(decl, 0, (size_t)colon),
			    span_sub(decl, (size_t)colon + 1, decl.len - (size_t)colon - 1));
		i++;
	}
}

/* ---- output ---- */

static bool
cur_hidden(const struct hp *h)
{
	return h->depth > 0 && h->stack[h->depth - 1].hidden;
}

static void
set_break(struct hp *h, enum brk b)
{
	if (b > h->brk)
		h->brk = b;
	h->inv_space = true;
}

static void
out_append(struct hp *h, struct buf *b, const void *p, size_t len)
{
	if (!buf_append(b, p, len))
		h->failed = true;
}

/* A run of non-blank bytes of rendered text. */
static void
emit(struct hp *h, const void *p, size_t len)
{
	if (len == 0)
		return;
	if (cur_hidden(h)) {
		if (h->inv_space && h->inv.len > 0)
			out_append(h, &h->inv, " ", 1);
		h->inv_space = false;
		out_append(h, &h->inv, p, len);
		h->doc->flags |= HTML_INVISIBLE;
		return;
	}
	if (h->out.len > 0) {
		static const char *const brk_text[] = { "", " ", "\n", "\n\n" };
		static const size_t brk_len[] = { 0, 1, 1, 2 };
		out_append(h, &h->out, brk_text[h->brk], brk_len[h->brk]);
	}
	h->brk = BRK_NONE;
	out_append(h, &h->out, p, len);
}

static bool
cp_is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == 0xA0;
}

static void
emit_cp(struct hp *h, uint32_t cp)
{
	uint8_t tmp[4];
	if (cp_is_space(cp))
		set_break(h, BRK_SPACE);
	else
		emit(h, tmp, utf8_put(tmp, cp));
}

/* ---- links ---- */

static void
link_close(struct hp *h)
{
	if (h->open_a >= 0)
		h->link_end[h->open_a] = h->out.len;
	h->open_a = -1;
}

static struct html_link *
link_add(struct hp *h, enum html_link_kind kind, struct span raw)
{
	if (h->nlinks >= HTML_MAX_LINKS) {
		h->doc->flags |= HTML_TRUNCATED;
		return NULL;
	}
	if (h->nlinks == h->caplinks) {
		size_t ncap = h->caplinks ? h->caplinks * 2 : 16;
		struct html_link *l = arena_realloc(h->a, h->links, h->caplinks * sizeof(*l), ncap * sizeof(*l));
		size_t *st = arena_realloc(h->a, h->link_start, h->caplinks * sizeof(size_t), ncap * sizeof(size_t));
		size_t *en = arena_realloc(h->a, h->link_end, h->caplinks * sizeof(size_t), ncap * sizeof(size_t));
		if (l == NULL || st == NULL || en == NULL) {
			h->failed = true;
			return NULL;
		}
		h->links = l;
		h->link_start = st;
		h->link_end = en;
		h->caplinks = ncap;
	}
	struct html_link *l = &h->links[h->nlinks];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->href = span_trim(html_decode_entities(h->a, raw, true));
	l->hidden = cur_hidden(h);
	h->link_start[h->nlinks] = h->link_end[h->nlinks] = 0;
	h->nlinks++;
	return l;
}

static void
links_on_tag(struct hp *h, const struct tag *t)
{
	uint8_t id = t->def ? t->def->id : TAG_OTHER;
	if (id == TAG_A) {
		link_close(h);
		if (t->end || !t->has[A_HREF])
			return;
		if (link_add(h, HTML_LINK_A, t->attr[A_HREF]) != NULL) {
			h->open_a = (ptrdiff_t)h->nlinks - 1;
			/* A pending break belongs before the link text, not inside it. */
			h->link_start[h->open_a] = h->out.len;
		}
	} else if (t->end) {
		return;
	} else if (id == TAG_AREA && t->has[A_HREF]) {
		link_add(h, HTML_LINK_AREA, t->attr[A_HREF]);
	} else if (id == TAG_IMG && t->has[A_SRC]) {
		link_add(h, HTML_LINK_IMG, t->attr[A_SRC]);
	} else if (id == TAG_FORM && t->has[A_ACTION]) {
		link_add(h, HTML_LINK_FORM, t->attr[A_ACTION]);
	} else if (id == TAG_BASE && t->has[A_HREF] && !(h->doc->flags & HTML_HAS_BASE)) {
		h->doc->base = span_trim(html_decode_entities(h->a, t->attr[A_HREF], true));
		h->doc->flags |= HTML_HAS_BASE;
	}
}

/* ---- element stack ---- */

static void
pop_to(struct hp *h, size_t idx)
{
	h->depth = idx;
}

/* Index of the nearest open element with this id above any of the stoppers, or -1. */
static ptrdiff_t
find_open(const struct hp *h, uint8_t id, uint8_t alt, const uint8_t *stop, size_t nstop)
{
	for (size_t i = h->depth; i-- > 0 && h->depth - i <= HTML_MATCH_DEPTH;) {
		uint8_t e = h->stack[i].def ? h->stack[i].def->id : TAG_OTHER;
		if (e == id || e == alt)
			return (ptrdiff_t)i;
		for (size_t k = 0; k < nstop; k++)
			if (e == stop[k])
				return -1;
	}
	return -1;
}

/* HTML's implied end tags, approximately: enough to keep unclosed p, li, td
 * and tr from piling up on the stack. */
static void
close_implied(struct hp *h, const struct tag_def *d)
{
	static const uint8_t lists[] = { TAG_UL, TAG_OL };
	static const uint8_t cells[] = { TAG_TR, TAG_TABLE };
	static const uint8_t rows[] = { TAG_TABLE };
	static const uint8_t dls[] = { TAG_DL };
	static const uint8_t sel[] = { TAG_SELECT };
	ptrdiff_t i = -1;
	if (h->depth > 0 && h->stack[h->depth - 1].def != NULL &&
	    h->stack[h->depth - 1].def->id == TAG_P && (d->flags & (T_PARA | T_LINE)))
		pop_to(h, h->depth - 1);
	switch (d->id) {
	case TAG_LI:
		i = find_open(h, TAG_LI, TAG_LI, lists, 2);
		break;
	case TAG_TD:
	case TAG_TH:
		i = find_open(h, TAG_TD, TAG_TH, cells, 2);
		break;
	case TAG_TR:
		i = find_open(h, TAG_TR, TAG_TR, rows, 1);
		break;
	case TAG_DT:
	case TAG_DD:
		i = find_open(h, TAG_DT, TAG_DD, dls, 1);
		break;
	case TAG_OPTION:
		i = find_open(h, TAG_OPTION, TAG_OPTION, sel, 1);
		break;
	default:
		break;
	}
	if (i >= 0)
		pop_to(h, (size_t)i);
}

static void
push_elem(struct hp *h, const struct tag *t)
{
	if (h->depth == HTML_STACK_MAX) {
		h->overflow++;
		h->doc->flags |= HTML_TRUNCATED;
		return;
	}
	struct elem e = { .hash = t->hash, .def = t->def, .fg = COLOR_NONE, .bg = COLOR_NONE };
	if (h->depth > 0) {
		const struct elem *p = &h->stack[h->depth - 1];
		e.hidden = p->hidden;
		e.fg = p->fg;
		e.bg = p->bg;
	}
	if (t->has[A_HIDDEN])
		e.hidden = true;
	if (t->has[A_COLOR]) {
		int32_t c = parse_color(html_decode_entities(h->a, t->attr[A_COLOR], true));
		if (c != COLOR_NONE)
			e.fg = c;
	}
	if (t->has[A_TEXT] && t->def != NULL && t->def->id == TAG_BODY) {
		int32_t c = parse_color(html_decode_entities(h->a, t->attr[A_TEXT], true));
		if (c != COLOR_NONE)
			e.fg = c;
	}
	if (t->has[A_BGCOLOR])
		e.bg = parse_color(html_decode_entities(h->a, t->attr[A_BGCOLOR], true));
	if (t->has[A_STYLE])
		apply_style(&e, html_decode_entities(h->a, t->attr[A_STYLE], true));
	if (e.fg != COLOR_NONE && e.bg != COLOR_NONE && colors_close(e.fg, e.bg))
		e.hidden = true;
	h->stack[h->depth++] = e;
}

static void
end_elem(struct hp *h, const struct tag *t)
{
	if (h->overflow > 0) {
		h->overflow--;
		return;
	}
	for (size_t i = h->depth; i-- > 0 && h->depth - i <= HTML_MATCH_DEPTH;) {
		if (h->stack[i].hash == t->hash) {
			pop_to(h, i);
			return;
		}
	}
	/* An end tag with nothing to close is ignored, as browsers do. */
}

/* ---- tokenizer ---- */

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Bytes that interrupt a run of plain text. */
static const uint8_t text_special[256] = {
	['\0'] = 1, ['\t'] = 1, ['\n'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1, ['&'] = 1,
};

static void
render_text(struct hp *h, const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t st = i;
		while (i < len && !text_special[p[i]])
			i++;
		emit(h, p + st, i - st);
		if (i >= len)
			break;
		uint8_t c = p[i];
		if (c == '&') {
			uint32_t cp[2];
			size_t used = decode_ref(p + i, len - i, false, cp);
			if (used == 0) {
				emit(h, "&", 1);
				i++;
				continue;
			}
			emit_cp(h, cp[0]);
			if (cp[1])
				emit_cp(h, cp[1]);
			i += used;
		} else {
			if (c != '\0')
				set_break(h, BRK_SPACE);
			i++;
		}
	}
}

static void
render_title(struct hp *h, struct span raw)
{
	if (h->title.len > 0)
		return; /* the first title counts */
	struct span t = html_decode_entities(h->a, raw, false);
	bool sp = false;
	for (size_t i = 0; i < t.len; i++) {
		if (is_space(t.p[i]) || t.p[i] == '\0') {
			sp = true;
			continue;
		}
		if (sp && h->title.len > 0)
			out_append(h, &h->title, " ", 1);
		sp = false;
		out_append(h, &h->title, &t.p[i], 1);
	}
}

static uint32_t
name_hash(uint32_t hv, uint8_t c)
{
	return (hv ^ ascii_lower(c)) * 16777619u;
}

static int
tag_def_cmp(const void *key, const void *el)
{
	return strcmp(key, ((const struct tag_def *)el)->name);
}

static const struct tag_def *
tag_lookup(const char *lname)
{
	return bsearch(lname, tag_defs, sizeof(tag_defs) / sizeof(tag_defs[0]), sizeof(tag_defs[0]), tag_def_cmp);
}

/* Called for every attribute of every tag: length first, then one compare. */
static int
attr_lookup(const uint8_t *p, size_t len)
{
	char l[8];
	if (len < 3 || len > 7)
		return -1;
	for (size_t i = 0; i < len; i++)
		l[i] = (char)ascii_lower(p[i]);
	for (int i = 0; i < A_COUNT; i++)
		if (strlen(attr_names[i]) == len && memcmp(l, attr_names[i], len) == 0)
			return i;
	return -1;
}

/* Reads one attribute at s[i] (not blank, not '/' or '>'); returns the index after it. */
static size_t
parse_attr(const uint8_t *s, size_t n, size_t i, struct tag *t)
{
	size_t st = i++;
	while (i < n && !is_space(s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=')
		i++;
	int id = attr_lookup(s + st, i - st);
	size_t j = i;
	while (j < n && is_space(s[j]))
		j++;
	struct span val = span_make(s + i, 0);
	if (j < n && s[j] == '=') {
		j++;
		while (j < n && is_space(s[j]))
			j++;
		if (j < n && (s[j] == '"' || s[j] == '\'')) {
			const uint8_t *q = memchr(s + j + 1, s[j], n - j - 1);
			size_t e = q ? (size_t)(q - s) : n;
			val = span_make(s + j + 1, e - j - 1);
			i = q ? e + 1 : n;
		} else {
			size_t e = j;
			while (e < n && !is_space(s[e]) && s[e] != '>')
				e++;
			val = span_make(s + j, e - j);
			i = e;
		}
	}
	if (id >= 0 && !t->has[id]) {
		t->has[id] = true;
		t->attr[id] = val;
	}
	return i;
}

/*
 * s[pos] == '<', followed by a letter or by '/' and a letter. Fills t and
 * returns the index after '>', or n when the input ends inside the tag (the
 * tag is then dropped: *complete_r false).
 */
static size_t
parse_tag(const uint8_t *s, size_t n, size_t pos, struct tag *t, bool *complete_r)
{
	memset(t, 0, sizeof(*t));
	size_t i = pos + 1;
	if (s[i] == '/') {
		t->end = true;
		i++;
	}
	char lname[HTML_NAME_MAX + 1];
	size_t nl = 0;
	uint32_t hv = 2166136261u;
	while (i < n && !is_space(s[i]) && s[i] != '/' && s[i] != '>') {
		hv = name_hash(hv, s[i]);
		if (nl <= HTML_NAME_MAX)
			lname[nl < HTML_NAME_MAX ? nl : HTML_NAME_MAX] = (char)ascii_lower(s[i]);
		nl++;
		i++;
	}
	t->hash = hv;
	if (nl <= HTML_NAME_MAX && memchr(lname, '\0', nl) == NULL) {
		lname[nl] = '\0';
		t->def = tag_lookup(lname);
	}
	*complete_r = false;
	while (i < n) {
		uint8_t c = s[i];
		if (c == '>') {
			*complete_r = true;
			return i + 1;
		}
		if (is_space(c)) {
			i++;
		} else if (c == '/') {
			if (i + 1 < n && s[i + 1] == '>')
				t->self_closing = true;
			i++;
		} else {
			i = parse_attr(s, n, i, t);
		}
	}
	return n;
}

/* Index just past the first occurrence of needle at or after pos, or n. */
static size_t
skip_past(const uint8_t *s, size_t n, size_t pos, const char *needle, size_t nlen)
{
	const uint8_t *p = pos < n ? memmem(s + pos, n - pos, needle, nlen) : NULL;
	return p ? (size_t)(p - s) + nlen : n;
}

/* s[pos..] is "<!--": the HTML5 comment states, condensed. */
static size_t
skip_comment(const uint8_t *s, size_t n, size_t pos)
{
	size_t i = pos + 4;
	if (i < n && s[i] == '>')
		return i + 1; /* "<!-->" */
	if (i + 1 < n && s[i] == '-' && s[i + 1] == '>')
		return i + 2; /* "<!--->" */
	for (; i + 2 < n; i++) {
		if (s[i] != '-' || s[i + 1] != '-')
			continue;
		if (s[i + 2] == '>')
			return i + 3;
		if (s[i + 2] == '!' && i + 3 < n && s[i + 3] == '>')
			return i + 4;
	}
	return n;
}

/* Start of the end tag "</name" (any case) closing a raw-text element, or n. */
static size_t
find_raw_end(const uint8_t *s, size_t n, size_t pos, const char *name)
{
	size_t nlen = strlen(name);
	while (pos < n) {
		const uint8_t *lt = memchr(s + pos, '<', n - pos);
		if (lt == NULL)
			return n;
		size_t i = (size_t)(lt - s);
		if (i + 2 + nlen <= n && s[i + 1] == '/' &&
		    span_caseeq_cstr(span_make(s + i + 2, nlen), name) &&
		    (i + 2 + nlen == n || is_space(s[i + 2 + nlen]) || s[i + 2 + nlen] == '/' ||
		        s[i + 2 + nlen] == '>'))
			return i;
		pos = i + 1;
	}
	return n;
}

static size_t
raw_content(struct hp *h, size_t pos, const struct tag_def *d)
{
	size_t end = find_raw_end(h->s, h->n, pos, d->name);
	if (d->flags & T_TITLE)
		render_title(h, span_make(h->s + pos, end - pos));
	else if (d->flags & T_TEXTAREA)
		render_text(h, h->s + pos, end - pos);
	return end;
}

static enum brk
tag_break(const struct tag_def *d)
{
	if (d == NULL)
		return BRK_NONE;
	if (d->flags & T_PARA)
		return BRK_PARA;
	if (d->flags & T_LINE)
		return BRK_LINE;
	if (d->flags & T_CELL)
		return BRK_SPACE;
	return BRK_NONE;
}

static size_t
handle_tag(struct hp *h, size_t pos)
{
	struct tag t;
	bool complete;
	size_t next = parse_tag(h->s, h->n, pos, &t, &complete);
	if (!complete)
		return next;
	const struct tag_def *d = t.def;
	if (tag_break(d) != BRK_NONE)
		set_break(h, tag_break(d));
	if (t.end) {
		links_on_tag(h, &t);
		if (d == NULL || !(d->flags & T_VOID))
			end_elem(h, &t);
		return next;
	}
	if (d != NULL)
		close_implied(h, d);
	bool opens = !t.self_closing && (d == NULL || !(d->flags & T_VOID));
	if (opens)
		push_elem(h, &t);
	links_on_tag(h, &t);
	if (opens && d != NULL && (d->flags & T_RAW))
		next = raw_content(h, next, d);
	return next;
}

/* s[pos] == '<'. Returns where the data state resumes. */
static size_t
markup(struct hp *h, size_t pos)
{
	const uint8_t *s = h->s;
	size_t n = h->n;
	uint8_t c1 = pos + 1 < n ? s[pos + 1] : 0;
	if (ascii_is_alpha(c1))
		return handle_tag(h, pos);
	if (c1 == '/') {
		if (pos + 2 < n && ascii_is_alpha(s[pos + 2]))
			return handle_tag(h, pos);
		if (pos + 2 < n && s[pos + 2] == '>')
			return pos + 3;
		return skip_past(s, n, pos + 2, ">", 1);
	}
	if (c1 == '!') {
		if (pos + 4 <= n && s[pos + 2] == '-' && s[pos + 3] == '-')
			return skip_comment(s, n, pos);
		if (pos + 9 <= n && memcmp(s + pos + 2, "[CDATA[", 7) == 0)
			return skip_past(s, n, pos + 9, "]]>", 3);
		return skip_past(s, n, pos + 2, ">", 1);
	}
	if (c1 == '?')
		return skip_past(s, n, pos + 2, ">", 1);
	emit(h, "<", 1);
	return pos + 1;
}

static void
finish(struct hp *h)
{
	struct html_doc *doc = h->doc;
	link_close(h);
	doc->text = buf_span(&h->out);
	doc->invisible = buf_span(&h->inv);
	doc->title = buf_span(&h->title);
	for (size_t i = 0; i < h->nlinks; i++) {
		size_t st = h->link_start[i], en = h->link_end[i];
		if (h->links[i].kind == HTML_LINK_A && en > st && en <= h->out.len)
			h->links[i].text = span_trim(span_make(h->out.data + st, en - st));
	}
	doc->links = h->links;
	doc->nlinks = h->nlinks;
}

int
html_parse(struct arena *a, struct span src, struct html_doc *doc_r)
{
	struct hp *h = arena_zalloc(a, sizeof(*h));
	memset(doc_r, 0, sizeof(*doc_r));
	if (h == NULL)
		return -1;
	h->a = a;
	h->s = src.p;
	h->n = src.len;
	h->doc = doc_r;
	h->open_a = -1;
	buf_init(&h->out, a);
	buf_init(&h->inv, a);
	buf_init(&h->title, a);
	/* Rendered text is nearly always shorter than the source. */
	if (!buf_reserve(&h->out, src.len / 2 + 64))
		h->failed = true;
	size_t pos = 0;
	while (pos < h->n && !h->failed) {
		const uint8_t *lt = memchr(h->s + pos, '<', h->n - pos);
		size_t end = lt ? (size_t)(lt - h->s) : h->n;
		render_text(h, h->s + pos, end - pos);
		if (end >= h->n)
			break;
		pos = markup(h, end);
	}
	finish(h);
	return h->failed ? -1 : 0;
}

struct span
html_to_text(struct arena *a, struct span src)
{
	struct html_doc doc;
	html_parse(a, src, &doc);
	return doc.text;
}
