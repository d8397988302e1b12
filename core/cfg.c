/*
 * cfg.c - the YAML configuration loader.
 *
 * DESIGN
 *	One table (cfg_keys[] below) names every key by its dotted path, its
 *	type, its range and the offset of the field it sets in struct fconf;
 *	that table is the whole grammar (Redis's config.c keeps its keys the
 *	same way). The loader starts from cfg_defaults_new(), walks the YAML
 *	mapping and, for each key, either finds its path in the table and
 *	converts the value, or finds that the path is a prefix of table paths
 *	("limits") and walks the nested mapping, or fails with "unknown key".
 *	Lists of records (rbl.zones) and the symbols mapping have small tables
 *	of their own, walked by the same code with a different base struct.
 *
 *	libfyaml stays in this file. Nothing here recurses on the input's
 *	depth: the table paths bound the nesting we descend into, and libfyaml
 *	itself refuses documents nested deeper than its depth limit.
 *
 * DIAGNOSTICS
 *	Every failure returns NULL with "FILE:LINE: reason" in err; the
 *	reason starts with the key path ("limits.mime_depth: 0 is out of range
 *	1..1000"). Lines are 1-based; for a value that is itself a mapping or
 *	sequence, the line of its first scalar. YAML syntax errors come from
 *	libfyaml's diagnostics with their line; duplicate keys are found here
 *	(libfyaml's check is quadratic).
 *	A missing or unreadable file gives "FILE: cannot open: strerror".
 *
 * OWNERSHIP
 *	All strings of a loaded fconf live in its arena (enum values point at
 *	static strings); the YAML document is freed before cfg_load returns.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>
#include <xxhash.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/utf8.h"
#include "fcore/xalloc.h"

#include "cfg-private.h"

/* A configuration file is written by hand or by a template; 16 MiB is far
 * beyond any real one and keeps a mistaken path (a mail spool, a disk image)
 * from being read into memory whole. */
#define CFG_MAX_FILE (16u * 1024 * 1024)
/* Key paths longer than this are truncated in messages and match nothing. */
#define CFG_PATH_MAX 256
#define CFG_SCORE_MAX 10000.0

enum cfg_type {
	CFG_BOOL,
	CFG_UINT,      /* unsigned field of width 1, 2, 4 or 8 */
	CFG_INT,       /* int64_t */
	CFG_SIZE,      /* uint64_t bytes, "64k" */
	CFG_DURATION,  /* double seconds, "500ms" */
	CFG_DOUBLE,
	CFG_THRESHOLD, /* double, null = NAN (action disabled) */
	CFG_STRING,
	CFG_ENUM,      /* int index into values, or the string (CFG_F_ENUM_STR) */
	CFG_STRLIST,   /* a scalar is a one-element list; values restricts items */
	CFG_CUSTOM,
};

enum {
	CFG_F_NULLABLE = 1 << 0, /* string: null sets NULL */
	CFG_F_REQUIRED = 1 << 1, /* record field that must be present */
	CFG_F_ENUM_STR = 1 << 2, /* enum stored as const char * */
	CFG_F_CIDR = 1 << 3,     /* list items are addresses or networks */
	CFG_F_SYMBOL = 1 << 4,   /* string is a symbol name */
	CFG_F_NONEMPTY = 1 << 5, /* string must not be "" */
};

struct cfg_ctx;
struct cfg_key;
typedef bool (*cfg_custom_fn)(struct cfg_ctx *x, struct fy_node *v, int line, void *base);

struct cfg_key {
	const char *path;
	enum cfg_type type;
	size_t off;
	size_t width;
	uint64_t umin, umax;       /* CFG_UINT, CFG_SIZE */
	double dmin, dmax;         /* CFG_INT, CFG_DURATION, CFG_DOUBLE, CFG_THRESHOLD */
	const char *const *values; /* CFG_ENUM, CFG_STRLIST; NULL-terminated */
	unsigned flags;
	cfg_custom_fn custom;
};

struct cfg_ctx {
	struct fconf *c;
	const char *name;
	char *err;
	size_t errlen;
	char path[CFG_PATH_MAX];
	size_t pathlen;
	bool truncated; /* path lost bytes: it cannot name a known key */
	struct span text; /* the YAML being read (single_quoted_text) */
};

/* ---- the tables ---------------------------------------------------------- */

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
/* Order of enum cfg_on_error. */
static const char *const on_error_values[] = { "tempfail", "accept", "reject", NULL };
static const char *const multi_rcpt_values[] = { "first", "each", NULL };
static const char *const stats_backends[] = { "sqlite", NULL };
static const char *const greylist_modes[] = { "score", "always", NULL };
static const char *const rbl_checks[] = { "from", "received", "helo", "rdns", "urls", "emails",
	"dkim", NULL };

#define FLD(T, f) .off = offsetof(T, f), .width = sizeof(((T *)0)->f)
#define K_BOOL(T, p, f) { .path = p, .type = CFG_BOOL, FLD(T, f) }
#define K_UINT(T, p, f, lo, hi) { .path = p, .type = CFG_UINT, FLD(T, f), .umin = lo, .umax = hi }
#define K_INT(T, p, f, lo, hi) { .path = p, .type = CFG_INT, FLD(T, f), .dmin = lo, .dmax = hi }
#define K_SIZE(T, p, f, lo, hi) { .path = p, .type = CFG_SIZE, FLD(T, f), .umin = lo, .umax = hi }
#define K_DUR(T, p, f, lo, hi) { .path = p, .type = CFG_DURATION, FLD(T, f), .dmin = lo, .dmax = hi }
#define K_DBL(T, p, f, lo, hi) { .path = p, .type = CFG_DOUBLE, FLD(T, f), .dmin = lo, .dmax = hi }
#define K_STR(T, p, f, fl) { .path = p, .type = CFG_STRING, FLD(T, f), .flags = fl }
#define K_ENUM(T, p, f, v) { .path = p, .type = CFG_ENUM, FLD(T, f), .values = v }
#define K_ENUMS(T, p, f, v) \
	{ .path = p, .type = CFG_ENUM, FLD(T, f), .values = v, .flags = CFG_F_ENUM_STR }
#define K_LIST(T, p, f, v, fl) { .path = p, .type = CFG_STRLIST, FLD(T, f), .values = v, .flags = fl }
#define K_CUSTOM(T, p, fn) { .path = p, .type = CFG_CUSTOM, .custom = fn }
#define K_ACTION(p, a) \
	{ .path = p, .type = CFG_THRESHOLD, FLD(struct fconf, actions.score[a]), \
	  .dmin = -CFG_SCORE_MAX, .dmax = CFG_SCORE_MAX }

#define C struct fconf
#define KIB CFG_KIB
#define MIB CFG_MIB
#define GIB CFG_GIB

static bool parse_symbols(struct cfg_ctx *x, struct fy_node *v, int line, void *base);
static bool parse_zones(struct cfg_ctx *x, struct fy_node *v, int line, void *base);
static bool parse_returncodes(struct cfg_ctx *x, struct fy_node *v, int line, void *base);
static bool parse_returnbits(struct cfg_ctx *x, struct fy_node *v, int line, void *base);

/* Every key of the file. docs/config.md documents each one; keep them in step. */
static const struct cfg_key cfg_keys[] = {
	K_UINT(C, "workers", workers, 0, 256),
	K_STR(C, "state_dir", state_dir, CFG_F_NONEMPTY),
	K_ENUMS(C, "log_level", log_level, log_levels),
	K_STR(C, "server_name", server_name, CFG_F_NONEMPTY),

	K_LIST(C, "scan.listen", scan.listen, NULL, 0),
	K_BOOL(C, "scan.enable_test_patterns", scan.enable_test_patterns),

	K_LIST(C, "controller.listen", controller.listen, NULL, 0),
	K_STR(C, "controller.password", controller.password, 0),
	K_STR(C, "controller.enable_password", controller.enable_password, 0),
	K_LIST(C, "controller.secure_ip", controller.secure_ip, NULL, CFG_F_CIDR),
	K_STR(C, "controller.static_dir", controller.static_dir, CFG_F_NULLABLE),

	K_LIST(C, "milter.listen", milter.listen, NULL, 0),
	K_ENUM(C, "milter.on_error", milter.on_error, on_error_values),
	K_ENUM(C, "milter.on_oversize", milter.on_oversize, on_error_values),
	K_STR(C, "milter.reject_message", milter.reject_message, 0),
	K_STR(C, "milter.tempfail_message", milter.tempfail_message, 0),
	K_BOOL(C, "milter.skip_authenticated_headers", milter.skip_authenticated_headers),
	K_STR(C, "milter.spam_header", milter.spam_header, CFG_F_NONEMPTY),
	K_ENUMS(C, "milter.multi_rcpt", milter.multi_rcpt, multi_rcpt_values),

	K_ACTION("actions.reject", ACTION_REJECT),
	K_ACTION("actions.soft_reject", ACTION_SOFT_REJECT),
	K_ACTION("actions.rewrite_subject", ACTION_REWRITE_SUBJECT),
	K_ACTION("actions.add_header", ACTION_ADD_HEADER),
	K_ACTION("actions.greylist", ACTION_GREYLIST),
	K_STR(C, "actions.subject", subject_template, 0),

	K_SIZE(C, "limits.max_message", limits.max_message, KIB, 2 * GIB),
	K_UINT(C, "limits.mime_depth", limits.mime_depth, 1, 1000),
	K_UINT(C, "limits.mime_parts", limits.mime_parts, 1, 100000),
	K_UINT(C, "limits.header_lines", limits.header_lines, 1, 100000),
	K_SIZE(C, "limits.header_size", limits.header_size, KIB, 16 * MIB),
	K_SIZE(C, "limits.boundary", limits.boundary, 70, 64 * KIB),
	K_UINT(C, "limits.urls", limits.urls, 0, 1000000),
	K_SIZE(C, "limits.http_headers", limits.http_headers, KIB, 16 * MIB),
	K_SIZE(C, "limits.milter_packet", limits.milter_packet, 64 * KIB, 256 * MIB),
	K_SIZE(C, "limits.controller_preauth", limits.controller_preauth, KIB, 16 * MIB),
	K_DUR(C, "limits.task_timeout", limits.task_timeout, 0.1, 600),
	K_DUR(C, "limits.dns_timeout", limits.dns_timeout, 0.1, 60),
	K_DUR(C, "limits.io_timeout", limits.io_timeout, 1, 3600),
	K_UINT(C, "limits.max_connections", limits.max_connections, 1, 1000000),
	K_SIZE(C, "limits.task_memory", limits.task_memory, MIB, 64 * GIB),
	K_UINT(C, "limits.pcre_match_limit", limits.pcre_match_limit, 1000, 1000000000),
	K_UINT(C, "limits.pcre_depth_limit", limits.pcre_depth_limit, 100, 1000000000),
	K_UINT(C, "limits.lua_instructions", limits.lua_instructions, 1000, 1000000000000ull),

	K_BOOL(C, "rules.enabled", rules.enabled),
	K_LIST(C, "rules.paths", rules.paths, NULL, 0),
	K_LIST(C, "rules.local", rules.local, NULL, 0),
	K_BOOL(C, "rules.cache", rules.cache),
	K_STR(C, "rules.cache_dir", rules.cache_dir, CFG_F_NULLABLE),

	K_BOOL(C, "stats.enabled", stats.enabled),
	K_ENUMS(C, "stats.backend", stats.backend, stats_backends),
	K_STR(C, "stats.db", stats.db, CFG_F_NULLABLE | CFG_F_NONEMPTY),
	K_UINT(C, "stats.min_learns", stats.min_learns, 0, 1000000),
	K_BOOL(C, "stats.per_user", stats.per_user),
	K_BOOL(C, "stats.learn_global", stats.learn_global),
	K_UINT(C, "stats.max_tokens", stats.max_tokens, 1000, 10000000000ull),
	K_UINT(C, "stats.min_tokens", stats.min_tokens, 0, 10000),
	K_UINT(C, "stats.window", stats.window, 2, 8),
	K_BOOL(C, "stats.header_tokens", stats.header_tokens),
	K_BOOL(C, "stats.snapshot", stats.snapshot),

	K_BOOL(C, "rbl.enabled", rbl.enabled),
	K_STR(C, "rbl.resolver", rbl.resolver, CFG_F_NONEMPTY),
	K_DUR(C, "rbl.timeout", rbl.timeout, 0.1, 60),
	K_BOOL(C, "rbl.received", rbl.received),
	K_LIST(C, "rbl.trusted_networks", rbl.trusted_networks, NULL, CFG_F_CIDR),
	K_CUSTOM(C, "rbl.zones", parse_zones),

	K_BOOL(C, "greylist.enabled", greylist.enabled),
	K_ENUMS(C, "greylist.mode", greylist.mode, greylist_modes),
	K_STR(C, "greylist.db", greylist.db, CFG_F_NULLABLE | CFG_F_NONEMPTY),
	K_DUR(C, "greylist.delay", greylist.delay, 0, 86400),
	K_DUR(C, "greylist.retry_window", greylist.retry_window, 60, 30 * 86400),
	K_DUR(C, "greylist.expire", greylist.expire, 3600, 365 * 86400),
	K_UINT(C, "greylist.auto_whitelist", greylist.auto_whitelist, 0, 1000),
	K_UINT(C, "greylist.ipv4_mask", greylist.ipv4_mask, 8, 32),
	K_UINT(C, "greylist.ipv6_mask", greylist.ipv6_mask, 16, 128),
	K_STR(C, "greylist.message", greylist.message, 0),
	/* Ten years either way: enough to move the clock past any expiry. */
	K_INT(C, "greylist.clock_offset", greylist.clock_offset, -315360000.0, 315360000.0),

	K_CUSTOM(C, "symbols", parse_symbols),
};

#define Z struct cfg_rbl_zone
enum { ZONE_KEY_WEIGHT = 7 };
static const struct cfg_key zone_keys[] = {
	K_STR(Z, "symbol", symbol, CFG_F_REQUIRED | CFG_F_SYMBOL),
	K_STR(Z, "zone", zone, CFG_F_REQUIRED | CFG_F_NONEMPTY),
	K_LIST(Z, "checks", checks, rbl_checks, 0),
	K_BOOL(Z, "ipv4", ipv4),
	K_BOOL(Z, "ipv6", ipv6),
	K_BOOL(Z, "unknown", unknown),
	K_BOOL(Z, "enabled", enabled),
	[ZONE_KEY_WEIGHT] = K_DBL(Z, "weight", weight, -CFG_SCORE_MAX, CFG_SCORE_MAX),
	K_CUSTOM(Z, "returncodes", parse_returncodes),
	K_CUSTOM(Z, "returnbits", parse_returnbits),
};

#define S struct cfg_symbol_override
static const struct cfg_key symbol_keys[] = {
	{ .path = "weight", .type = CFG_DOUBLE, FLD(S, weight), .dmin = -CFG_SCORE_MAX,
	  .dmax = CFG_SCORE_MAX, .flags = CFG_F_REQUIRED },
	K_STR(S, "description", description, 0),
	K_STR(S, "group", group, CFG_F_NONEMPTY),
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))
/* Record tables are small enough for a fixed "seen" array. */
#define CFG_RECORD_KEYS_MAX 16

/* ---- diagnostics and paths ----------------------------------------------- */

static bool __attribute__((format(printf, 3, 4)))
fail(struct cfg_ctx *x, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->errlen == 0)
		return false;
	if (x->pathlen > 0)
		snprintf(x->err, x->errlen, "%s:%d: %s: %s", x->name, line, x->path, msg);
	else
		snprintf(x->err, x->errlen, "%s:%d: %s", x->name, line, msg);
	return false;
}

struct path_mark {
	size_t len;
	bool truncated;
};

/* Appends ".seg" (or "seg" at the top); control bytes become '?' so a
 * message never carries raw bytes of the file and never matches a key. */
static struct path_mark
path_push(struct cfg_ctx *x, struct span seg, bool dot)
{
	struct path_mark m = { x->pathlen, x->truncated };
	size_t room = sizeof(x->path) - 1 - x->pathlen;
	if (dot && x->pathlen > 0 && room > 0) {
		x->path[x->pathlen++] = '.';
		room--;
	}
	if (seg.len > room)
		x->truncated = true;
	size_t n = seg.len < room ? seg.len : room;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = seg.p[i];
		x->path[x->pathlen++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	x->path[x->pathlen] = '\0';
	return m;
}

static struct path_mark
path_push_index(struct cfg_ctx *x, size_t i)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "[%zu]", i);
	return path_push(x, span_make(tmp, (size_t)n), false);
}

static void
path_pop(struct cfg_ctx *x, struct path_mark m)
{
	x->pathlen = m.len;
	x->truncated = m.truncated;
	x->path[x->pathlen] = '\0';
}

/* ---- node helpers -------------------------------------------------------- */

/* 1-based line of a node: a scalar's own, a collection's first scalar's
 * (libfyaml 0.7 keeps marks on tokens only); 0 if it has none. */
static int
node_line(struct fy_node *n)
{
	for (int depth = 0; n != NULL && depth < 64; depth++) {
		void *it = NULL;
		struct fy_node_pair *p;
		switch (fy_node_get_type(n)) {
		case FYNT_SCALAR: {
			struct fy_token *t = fy_node_get_scalar_token(n);
			const struct fy_mark *m = t != NULL ? fy_token_start_mark(t) : NULL;
			return m != NULL ? m->line + 1 : 0;
		}
		case FYNT_SEQUENCE:
			n = fy_node_sequence_iterate(n, &it);
			break;
		case FYNT_MAPPING:
			p = fy_node_mapping_iterate(n, &it);
			n = p != NULL ? fy_node_pair_key(p) : NULL;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

static int
line_or(struct fy_node *n, int fallback)
{
	int l = node_line(n);
	return l > 0 ? l : fallback;
}

static bool
is_scalar(struct fy_node *n)
{
	return n != NULL && fy_node_get_type(n) == FYNT_SCALAR && !fy_node_is_alias(n);
}

/*
 * A single-quoted scalar's text, read from the source between its quotes:
 * '' is one quote; a line break with the blanks around it folds to a
 * space, or to one newline per empty line after it. libfyaml 0.7.12 leaks
 * the chunk array it grows to read such a scalar holding many escaped
 * quotes (fuzz-cfg found it; upstream issue 337), so it is not asked. NULL
 * when the marks do not fit the source.
 */
static const char *
single_quoted_text(struct cfg_ctx *x, struct fy_node *n, size_t *len_r)
{
	struct fy_token *t = fy_node_get_scalar_token(n);
	const struct fy_mark *s = t != NULL ? fy_token_start_mark(t) : NULL;
	const struct fy_mark *e = t != NULL ? fy_token_end_mark(t) : NULL;
	if (s == NULL || e == NULL || e->input_pos < s->input_pos || e->input_pos > x->text.len)
		return NULL;
	const uint8_t *p = x->text.p + s->input_pos;
	size_t len = e->input_pos - s->input_pos, o = 0;
	char *out = arena_alloc(x->c->arena, len + 1);
	for (size_t i = 0; i < len;) {
		if (p[i] == '\'' && i + 1 < len && p[i + 1] == '\'') {
			out[o++] = '\'';
			i += 2;
		} else if (p[i] == '\n' || p[i] == '\r') {
			while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
			size_t breaks = 0;
			while (i < len && (p[i] == '\n' || p[i] == '\r')) {
				i += p[i] == '\r' && i + 1 < len && p[i + 1] == '\n' ? 2 : 1;
				breaks++;
				while (i < len && (p[i] == ' ' || p[i] == '\t'))
					i++;
			}
			if (breaks == 1)
				out[o++] = ' ';
			for (size_t k = 1; k < breaks; k++)
				out[o++] = '\n';
		} else {
			out[o++] = (char)p[i++];
		}
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* x may be NULL where only plain scalars are read (is_null). */
static struct span
scalar_span(struct cfg_ctx *x, struct fy_node *n)
{
	size_t len = 0;
	const char *s = NULL;
	if (x != NULL && fy_node_get_style(n) == FYNS_SINGLE_QUOTED)
		s = single_quoted_text(x, n, &len);
	if (s == NULL)
		s = fy_node_get_scalar(n, &len);
	return s != NULL ? span_make(s, len) : span_make("", 0);
}

/* YAML's null: no node, or a plain "", "~", "null". A quoted "null" is text. */
static bool
is_null(struct fy_node *n)
{
	if (n == NULL)
		return true;
	if (!is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
		return false;
	struct span s = scalar_span(NULL, n);
	return s.len == 0 || span_eq_cstr(s, "~") || span_eq_cstr(s, "null") ||
	    span_eq_cstr(s, "Null") || span_eq_cstr(s, "NULL");
}

static const char *
node_kind(struct fy_node *n)
{
	if (is_null(n))
		return "null";
	if (fy_node_is_alias(n))
		return "an alias";
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return "a mapping";
	case FYNT_SEQUENCE:
		return "a sequence";
	default:
		return "a scalar";
	}
}

/* The scalar of a value, or an error naming what was found instead. */
static bool
want_scalar(struct cfg_ctx *x, struct fy_node *v, int line, const char *what, struct span *s_r)
{
	if (v != NULL && fy_node_is_alias(v))
		return fail(x, line, "aliases are not supported");
	if (!is_scalar(v) || is_null(v))
		return fail(x, line, "expected %s, got %s", what, node_kind(v));
	*s_r = scalar_span(x, v);
	return true;
}

struct shown {
	char s[80];
};

/* A value as shown in a message: control bytes become '?', long values are
 * cut. Returned by value so two can appear in one printf. */
static struct shown
value_str(struct cfg_ctx *x, struct span s)
{
	struct shown r;
	size_t n = s.len < sizeof(r.s) - 4 ? s.len : sizeof(r.s) - 4;
	for (size_t i = 0; i < n; i++)
		r.s[i] = s.p[i] < 0x20 || s.p[i] == 0x7f ? '?' : (char)s.p[i];
	if (n < s.len) {
		memcpy(r.s + n, "...", 3);
		n += 3;
	}
	r.s[n] = '\0';
	(void)x;
	return r;
}

static const char *
arena_scalar(struct cfg_ctx *x, struct fy_node *v, int line, struct span s)
{
	if (memchr(s.p, '\0', s.len) != NULL) {
		fail(x, line, "contains a NUL byte");
		return NULL;
	}
	return arena_strndup(x->c->arena, s.p, s.len);
}

/* ---- setters, one per type ----------------------------------------------- */

static void
store_uint(void *f, size_t width, uint64_t v)
{
	switch (width) {
	case 1: *(uint8_t *)f = (uint8_t)v; break;
	case 2: *(uint16_t *)f = (uint16_t)v; break;
	case 4: *(uint32_t *)f = (uint32_t)v; break;
	default: *(uint64_t *)f = v; break;
	}
}

static bool
set_bool(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	if (!want_scalar(x, v, line, "true or false", &s))
		return false;
	if (!cfg_value_bool(s, f))
		return fail(x, line, "\"%s\" is not true or false", value_str(x, s).s);
	return true;
}

static bool
set_uint(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	uint64_t u;
	bool size = k->type == CFG_SIZE;
	if (!want_scalar(x, v, line, size ? "a size" : "an unsigned integer", &s))
		return false;
	if (size && !cfg_value_size(s, &u))
		return fail(x, line, "\"%s\" is not a size (a number with an optional k, M or G)",
		    value_str(x, s).s);
	if (!size && !cfg_value_uint(s, &u))
		return fail(x, line, "\"%s\" is not an unsigned integer", value_str(x, s).s);
	if (u < k->umin || u > k->umax) {
		char lo[32], hi[32];
		if (size) {
			cfg_value_size_str(k->umin, lo, sizeof(lo));
			cfg_value_size_str(k->umax, hi, sizeof(hi));
		} else {
			snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->umin);
			snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->umax);
		}
		return fail(x, line, "%s is out of range %s..%s", value_str(x, s).s, lo, hi);
	}
	store_uint(f, k->width, u);
	return true;
}

static bool
set_int(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	int64_t i;
	if (!want_scalar(x, v, line, "an integer", &s))
		return false;
	if (!cfg_value_int(s, &i))
		return fail(x, line, "\"%s\" is not an integer", value_str(x, s).s);
	if ((double)i < k->dmin || (double)i > k->dmax)
		return fail(x, line, "%s is out of range %.0f..%.0f", value_str(x, s).s, k->dmin, k->dmax);
	*(int64_t *)f = i;
	return true;
}

static bool
set_double(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	double d;
	bool dur = k->type == CFG_DURATION;
	if (k->type == CFG_THRESHOLD && is_null(v)) {
		*(double *)f = NAN;
		return true;
	}
	if (!want_scalar(x, v, line, dur ? "a duration" : "a number", &s))
		return false;
	if (dur && !cfg_value_duration(s, &d))
		return fail(x, line, "\"%s\" is not a duration (a number with ms, s, m, h or d)",
		    value_str(x, s).s);
	if (!dur && !cfg_value_double(s, &d))
		return fail(x, line, "\"%s\" is not a number", value_str(x, s).s);
	if (d < k->dmin || d > k->dmax) {
		char lo[32], hi[32];
		if (dur) {
			cfg_value_duration_str(k->dmin, lo, sizeof(lo));
			cfg_value_duration_str(k->dmax, hi, sizeof(hi));
		} else {
			snprintf(lo, sizeof(lo), "%g", k->dmin);
			snprintf(hi, sizeof(hi), "%g", k->dmax);
		}
		return fail(x, line, "%s is out of range %s..%s", value_str(x, s).s, lo, hi);
	}
	*(double *)f = d;
	return true;
}

/* Symbol names as rules and plugins write them: letters, digits, '_', '-',
 * '.'; anything else would not survive the rspamd protocol's headers. */
static bool
is_symbol_name(struct span s)
{
	if (s.len == 0 || s.len > 128)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool
set_string(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	if ((k->flags & CFG_F_NULLABLE) && is_null(v)) {
		*(const char **)f = NULL;
		return true;
	}
	if (!want_scalar(x, v, line, "a string", &s))
		return false;
	if ((k->flags & CFG_F_NONEMPTY) && s.len == 0)
		return fail(x, line, "must not be empty");
	if ((k->flags & CFG_F_SYMBOL) && !is_symbol_name(s))
		return fail(x, line, "\"%s\" is not a valid symbol name (A-Z, a-z, 0-9, _ - .)",
		    value_str(x, s).s);
	const char *str = arena_scalar(x, v, line, s);
	if (str == NULL)
		return false;
	*(const char **)f = str;
	return true;
}

static int
enum_index(const char *const *values, struct span s)
{
	for (int i = 0; values[i] != NULL; i++)
		if (span_caseeq_cstr(s, values[i]))
			return i;
	return -1;
}

static struct shown
enum_list(const char *const *values)
{
	struct shown r;
	size_t n = 0;
	r.s[0] = '\0';
	for (int i = 0; values[i] != NULL && n < sizeof(r.s); i++)
		n += (size_t)snprintf(r.s + n, sizeof(r.s) - n, "%s%s", i ? ", " : "", values[i]);
	return r;
}

static bool
set_enum(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct span s;
	if (!want_scalar(x, v, line, "one of the allowed words", &s))
		return false;
	int i = enum_index(k->values, s);
	if (i < 0)
		return fail(x, line, "\"%s\" is not one of %s", value_str(x, s).s, enum_list(k->values).s);
	_Static_assert(sizeof(enum cfg_on_error) == sizeof(int), "enum fields are stored as int");
	if (k->flags & CFG_F_ENUM_STR)
		*(const char **)f = k->values[i];
	else
		*(int *)f = i;
	return true;
}

static bool
list_item(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *item, int line,
    const char **out_r)
{
	struct span s;
	line = line_or(item, line);
	if (!want_scalar(x, item, line, "a string", &s))
		return false;
	if (k->values != NULL) {
		int i = enum_index(k->values, s);
		if (i < 0)
			return fail(x, line, "\"%s\" is not one of %s", value_str(x, s).s,
			    enum_list(k->values).s);
		*out_r = k->values[i];
		return true;
	}
	if ((k->flags & CFG_F_CIDR) && !cfg_value_is_cidr(s))
		return fail(x, line, "\"%s\" is not an IP address or network", value_str(x, s).s);
	*out_r = arena_scalar(x, item, line, s);
	return *out_r != NULL;
}

static bool
set_strlist(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int line, void *f)
{
	struct cfg_strlist *l = f;
	if (is_null(v)) {
		l->v = NULL;
		l->n = 0;
		return true;
	}
	if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING)
		return fail(x, line, "expected a string or a list of strings, got a mapping");
	if (fy_node_get_type(v) != FYNT_SEQUENCE) {
		const char **one = arena_alloc(x->c->arena, sizeof(*one));
		if (!list_item(x, k, v, line, &one[0]))
			return false;
		l->v = one;
		l->n = 1;
		return true;
	}
	int n = fy_node_sequence_item_count(v);
	const char **arr = ARENA_NEW_ARRAY(x->c->arena, const char *, n > 0 ? (size_t)n : 1);
	size_t i = 0;
	void *it = NULL;
	struct fy_node *item;
	while ((item = fy_node_sequence_iterate(v, &it)) != NULL && i < (size_t)n) {
		if (!list_item(x, k, item, line, &arr[i]))
			return false;
		i++;
	}
	l->v = arr;
	l->n = i;
	return true;
}

/* ---- mappings ------------------------------------------------------------ */

/*
 * Keys seen in one mapping. libfyaml's own duplicate-key check is quadratic
 * in the size of a mapping (20,000 symbols took 16 s to parse), so it is
 * turned off and this open-addressing set, sized for the mapping, does the
 * job in linear time.
 */
struct keyset {
	struct span *slot;
	size_t mask;
};

static void
keyset_init(struct keyset *ks, int n)
{
	size_t cap = 8;
	while (cap < (size_t)(n > 0 ? n : 0) * 2)
		cap *= 2;
	ks->slot = xcalloc(cap, sizeof(*ks->slot));
	ks->mask = cap - 1;
}

/* false if key was already in the set. At most half the slots are used. */
static bool
keyset_add(struct keyset *ks, struct span key)
{
	size_t i = (size_t)XXH64(key.p, key.len, 0) & ks->mask;
	while (ks->slot[i].p != NULL) {
		if (span_eq(ks->slot[i], key))
			return false;
		i = (i + 1) & ks->mask;
	}
	ks->slot[i] = key;
	return true;
}

typedef bool (*pair_fn)(struct cfg_ctx *x, struct fy_node *k, struct span key, int kline,
    struct fy_node *v, void *arg);

/* Calls fn for each key of a mapping with x->path naming it; keys must be
 * non-null scalars and unique. */
static bool
each_pair(struct cfg_ctx *x, struct fy_node *map, int line, pair_fn fn, void *arg)
{
	struct keyset seen;
	keyset_init(&seen, fy_node_mapping_item_count(map));
	bool ok = true;
	void *it = NULL;
	struct fy_node_pair *p;
	while (ok && (p = fy_node_mapping_iterate(map, &it)) != NULL) {
		struct fy_node *k = fy_node_pair_key(p);
		struct fy_node *v = fy_node_pair_value(p);
		int kline = line_or(k, line_or(v, line));
		if (!is_scalar(k) || is_null(k)) {
			ok = fail(x, kline, "keys must be plain strings, got %s", node_kind(k));
			break;
		}
		struct span key = scalar_span(x, k);
		struct path_mark m = path_push(x, key, true);
		if (!keyset_add(&seen, key))
			ok = fail(x, kline, "duplicate key");
		else
			ok = fn(x, k, key, kline, v, arg);
		path_pop(x, m);
	}
	free(seen.slot);
	return ok;
}

static bool
apply_value(struct cfg_ctx *x, const struct cfg_key *k, struct fy_node *v, int kline, void *base)
{
	void *f = (char *)base + k->off;
	int line = line_or(v, kline);
	if (v != NULL && fy_node_is_alias(v))
		return fail(x, line, "aliases are not supported");
	switch (k->type) {
	case CFG_BOOL:
		return set_bool(x, k, v, line, f);
	case CFG_UINT:
	case CFG_SIZE:
		return set_uint(x, k, v, line, f);
	case CFG_INT:
		return set_int(x, k, v, line, f);
	case CFG_DURATION:
	case CFG_DOUBLE:
	case CFG_THRESHOLD:
		return set_double(x, k, v, line, f);
	case CFG_STRING:
		return set_string(x, k, v, line, f);
	case CFG_ENUM:
		return set_enum(x, k, v, line, f);
	case CFG_STRLIST:
		return set_strlist(x, k, v, line, f);
	case CFG_CUSTOM:
		return k->custom(x, v, line, base);
	}
	return fail(x, line, "internal error: bad key type");
}

static bool walk_mapping(struct cfg_ctx *x, struct fy_node *map, const struct cfg_key *tab,
    size_t ntab, void *base, bool *seen, size_t rel);

/* Applies one key whose path is in x->path (relative part from rel). */
static bool
apply_key(struct cfg_ctx *x, int kline, struct fy_node *v, const struct cfg_key *tab,
    size_t ntab, void *base, bool *seen, size_t rel)
{
	if (x->truncated || rel > x->pathlen)
		return fail(x, kline, "unknown key");
	const char *rp = x->path + rel;
	for (size_t i = 0; i < ntab; i++) {
		if (strcmp(tab[i].path, rp) == 0) {
			if (seen != NULL)
				seen[i] = true;
			return apply_value(x, &tab[i], v, kline, base);
		}
	}
	size_t rl = strlen(rp);
	for (size_t i = 0; i < ntab; i++) {
		if (strncmp(tab[i].path, rp, rl) != 0 || tab[i].path[rl] != '.')
			continue;
		/* A section such as "limits:" with nothing under it changes nothing. */
		if (is_null(v))
			return true;
		if (fy_node_get_type(v) != FYNT_MAPPING || fy_node_is_alias(v))
			return fail(x, line_or(v, kline), "expected a mapping, got %s", node_kind(v));
		return walk_mapping(x, v, tab, ntab, base, seen, rel);
	}
	return fail(x, kline, "unknown key");
}

struct walk {
	const struct cfg_key *tab;
	size_t ntab;
	void *base;
	bool *seen;
	size_t rel;
};

static bool
walk_pair(struct cfg_ctx *x, struct fy_node *k, struct span key, int kline, struct fy_node *v,
    void *arg)
{
	struct walk *w = arg;
	/* "limits.mime_depth: 5" would otherwise match the table's own path
	 * and set the key a second time behind the nested form's back. */
	if (span_find_byte(key, '.') >= 0)
		return fail(x, kline, "unknown key");
	return apply_key(x, kline, v, w->tab, w->ntab, w->base, w->seen, w->rel);
}

static bool
walk_mapping(struct cfg_ctx *x, struct fy_node *map, const struct cfg_key *tab, size_t ntab,
    void *base, bool *seen, size_t rel)
{
	struct walk w = { tab, ntab, base, seen, rel };
	return each_pair(x, map, line_or(map, 0), walk_pair, &w);
}

/* Walks a record (one zone, one symbol) with its own table and checks that
 * the required keys were there. x->path names the record. */
static bool
walk_record(struct cfg_ctx *x, struct fy_node *map, int line, const struct cfg_key *tab,
    size_t ntab, void *base, bool *seen)
{
	if (map == NULL || fy_node_get_type(map) != FYNT_MAPPING || fy_node_is_alias(map))
		return fail(x, line, "expected a mapping, got %s", node_kind(map));
	for (size_t i = 0; i < ntab; i++)
		seen[i] = false;
	if (!walk_mapping(x, map, tab, ntab, base, seen, x->pathlen + 1))
		return false;
	for (size_t i = 0; i < ntab; i++)
		if ((tab[i].flags & CFG_F_REQUIRED) && !seen[i])
			return fail(x, line, "missing required key '%s'", tab[i].path);
	return true;
}

/* ---- custom keys --------------------------------------------------------- */

struct symbols {
	struct cfg_symbol_override *v;
	size_t n;
	size_t cap;
};

static bool
parse_symbol(struct cfg_ctx *x, struct fy_node *k, struct span name, int kline,
    struct fy_node *v, void *arg)
{
	struct symbols *syms = arg;
	if (syms->n == syms->cap)
		return fail(x, kline, "internal error: symbol count");
	if (!is_symbol_name(name))
		return fail(x, kline, "\"%s\" is not a valid symbol name (A-Z, a-z, 0-9, _ - .)",
		    value_str(x, name).s);
	struct cfg_symbol_override *o = &syms->v[syms->n];
	o->name = arena_strndup(x->c->arena, name.p, name.len);
	o->weight = 0;
	o->description = NULL;
	o->group = NULL;
	bool ok;
	if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING) {
		bool seen[NKEYS(symbol_keys)];
		ok = walk_record(x, v, line_or(v, kline), symbol_keys, NKEYS(symbol_keys), o, seen);
	} else {
		/* NAME: 2.5 is short for NAME: {weight: 2.5}. */
		ok = apply_value(x, &symbol_keys[0], v, kline, o);
	}
	if (ok)
		syms->n++;
	return ok;
}

static bool
parse_symbols(struct cfg_ctx *x, struct fy_node *v, int line, void *base)
{
	struct fconf *c = base;
	if (is_null(v))
		return true;
	if (fy_node_get_type(v) != FYNT_MAPPING)
		return fail(x, line, "expected a mapping of symbol names, got %s", node_kind(v));
	int n = fy_node_mapping_item_count(v);
	struct symbols syms = { .cap = n > 0 ? (size_t)n : 0 };
	syms.v = ARENA_NEW_ARRAY(c->arena, struct cfg_symbol_override, syms.cap + 1);
	if (!each_pair(x, v, line, parse_symbol, &syms))
		return false;
	c->symbols = syms.v;
	c->nsymbols = syms.n;
	return true;
}

static void
zone_defaults(struct arena *a, struct cfg_rbl_zone *z)
{
	memset(z, 0, sizeof(*z));
	z->checks.v = ARENA_NEW_ARRAY(a, const char *, 1);
	z->checks.v[0] = rbl_checks[0];
	z->checks.n = 1;
	z->ipv4 = z->ipv6 = z->unknown = z->enabled = true;
	z->weight = 1.0;
}

static bool
parse_zones(struct cfg_ctx *x, struct fy_node *v, int line, void *base)
{
	struct fconf *c = base;
	if (is_null(v)) {
		c->rbl.zones = NULL;
		c->rbl.nzones = 0;
		return true;
	}
	if (fy_node_get_type(v) != FYNT_SEQUENCE)
		return fail(x, line, "expected a list of zones, got %s", node_kind(v));
	int n = fy_node_sequence_item_count(v);
	struct cfg_rbl_zone *arr = ARENA_NEW_ARRAY(c->arena, struct cfg_rbl_zone, n > 0 ? (size_t)n : 1);
	size_t i = 0;
	void *it = NULL;
	struct fy_node *item;
	_Static_assert(NKEYS(zone_keys) <= CFG_RECORD_KEYS_MAX, "zone table too big");
	while ((item = fy_node_sequence_iterate(v, &it)) != NULL && i < (size_t)n) {
		bool seen[NKEYS(zone_keys)];
		struct cfg_rbl_zone *z = &arr[i];
		zone_defaults(c->arena, z);
		struct path_mark m = path_push_index(x, i);
		bool ok = walk_record(x, item, line_or(item, line), zone_keys, NKEYS(zone_keys), z, seen);
		path_pop(x, m);
		if (!ok)
			return false;
		/* With return codes the base symbol only marks answers that match none
		 * of them, so by default it scores nothing. */
		if (!seen[ZONE_KEY_WEIGHT] && z->ncodes > 0)
			z->weight = 0;
		i++;
	}
	c->rbl.zones = arr;
	c->rbl.nzones = i;
	return true;
}

/* Makes room for extra more codes on a zone (returncodes and returnbits may
 * both be given). */
static struct cfg_rbl_code *
zone_grow(struct arena *a, struct cfg_rbl_zone *z, size_t extra)
{
	struct cfg_rbl_code *codes = ARENA_NEW_ARRAY(a, struct cfg_rbl_code, z->ncodes + extra + 1);
	if (z->ncodes > 0)
		memcpy(codes, z->codes, z->ncodes * sizeof(*codes));
	z->codes = codes;
	return codes + z->ncodes;
}

static bool
returncode_item(struct cfg_ctx *x, struct fy_node *item, int line, const char *sym,
    struct cfg_rbl_code *out)
{
	struct span s;
	line = line_or(item, line);
	if (!want_scalar(x, item, line, "an address", &s))
		return false;
	/* A '%' marks a Lua-style pattern (127%.0%.0%.%d+); anything else must be
	 * the exact IPv4 address the list answers with. */
	if (span_find_byte(s, '%') < 0 && !cfg_value_is_ipv4(s))
		return fail(x, line, "\"%s\" is not an IPv4 address or pattern", value_str(x, s).s);
	out->symbol = sym;
	out->pattern = arena_scalar(x, item, line, s);
	out->bits = 0;
	out->weighted = false;
	return out->pattern != NULL;
}

/* The addresses of one returncodes symbol: one, or a list. */
static bool
add_codes(struct cfg_ctx *x, struct fy_node *v, int kline, struct cfg_rbl_zone *z, const char *sym)
{
	if (v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE) {
		int n = fy_node_sequence_item_count(v);
		if (n <= 0)
			return fail(x, kline, "expected at least one address");
		struct cfg_rbl_code *codes = zone_grow(x->c->arena, z, (size_t)n);
		void *it = NULL;
		struct fy_node *item;
		size_t i = 0;
		while ((item = fy_node_sequence_iterate(v, &it)) != NULL && i < (size_t)n) {
			if (!returncode_item(x, item, kline, sym, &codes[i]))
				return false;
			i++;
		}
		z->ncodes += i;
		return true;
	}
	struct cfg_rbl_code *code = zone_grow(x->c->arena, z, 1);
	if (!returncode_item(x, v, kline, sym, code))
		return false;
	z->ncodes++;
	return true;
}

/* The long form of a code symbol: { codes: ..., weight: N } or
 * { bits: N, weight: N }. */
struct code_spec {
	struct cfg_rbl_zone *z;
	const char *sym;
	uint32_t bits;
	double weight;
};

static bool
spec_codes(struct cfg_ctx *x, struct fy_node *v, int line, void *base)
{
	struct code_spec *cs = base;
	return add_codes(x, v, line, cs->z, cs->sym);
}

#define CS struct code_spec
enum { CODE_KEY_WEIGHT = 1 };
static const struct cfg_key code_keys[] = {
	{ .path = "codes", .type = CFG_CUSTOM, .custom = spec_codes, .flags = CFG_F_REQUIRED },
	[CODE_KEY_WEIGHT] = K_DBL(CS, "weight", weight, -CFG_SCORE_MAX, CFG_SCORE_MAX),
};
static const struct cfg_key bits_keys[] = {
	{ .path = "bits", .type = CFG_UINT, FLD(CS, bits), .umin = 1, .umax = UINT32_MAX,
	  .flags = CFG_F_REQUIRED },
	[CODE_KEY_WEIGHT] = K_DBL(CS, "weight", weight, -CFG_SCORE_MAX, CFG_SCORE_MAX),
};

/* Walks the long form; codes added by it get the weight when given. */
static bool
code_spec_walk(struct cfg_ctx *x, struct fy_node *v, int kline, struct cfg_rbl_zone *z,
    const char *sym, bool bits)
{
	struct code_spec cs = { .z = z, .sym = sym };
	bool seen[2];
	size_t first = z->ncodes;
	if (!walk_record(x, v, line_or(v, kline), bits ? bits_keys : code_keys, 2, &cs, seen))
		return false;
	if (bits) {
		struct cfg_rbl_code *code = zone_grow(x->c->arena, z, 1);
		code->symbol = sym;
		code->pattern = NULL;
		code->bits = cs.bits;
		z->ncodes++;
	}
	for (size_t i = first; i < z->ncodes; i++) {
		z->codes[i].weighted = seen[CODE_KEY_WEIGHT];
		z->codes[i].weight = cs.weight;
	}
	return true;
}

static bool
returncodes_symbol(struct cfg_ctx *x, struct fy_node *k, struct span name, int kline,
    struct fy_node *v, void *arg)
{
	struct cfg_rbl_zone *z = arg;
	if (!is_symbol_name(name))
		return fail(x, kline, "\"%s\" is not a valid symbol name (A-Z, a-z, 0-9, _ - .)",
		    value_str(x, name).s);
	const char *sym = arena_strndup(x->c->arena, name.p, name.len);
	if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING)
		return code_spec_walk(x, v, kline, z, sym, false);
	return add_codes(x, v, kline, z, sym);
}

static bool
returnbits_symbol(struct cfg_ctx *x, struct fy_node *k, struct span name, int kline,
    struct fy_node *v, void *arg)
{
	struct cfg_rbl_zone *z = arg;
	static const struct cfg_key bits_key = { .path = "bits", .type = CFG_UINT,
		.width = sizeof(uint32_t), .umin = 1, .umax = UINT32_MAX };
	if (!is_symbol_name(name))
		return fail(x, kline, "\"%s\" is not a valid symbol name (A-Z, a-z, 0-9, _ - .)",
		    value_str(x, name).s);
	const char *sym = arena_strndup(x->c->arena, name.p, name.len);
	if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING)
		return code_spec_walk(x, v, kline, z, sym, true);
	struct cfg_rbl_code *code = zone_grow(x->c->arena, z, 1);
	code->symbol = sym;
	code->pattern = NULL;
	code->weighted = false;
	if (!apply_value(x, &bits_key, v, kline, &code->bits))
		return false;
	z->ncodes++;
	return true;
}

static bool
parse_codes(struct cfg_ctx *x, struct fy_node *v, int line, struct cfg_rbl_zone *z, bool bits)
{
	if (is_null(v))
		return true;
	if (fy_node_get_type(v) != FYNT_MAPPING)
		return fail(x, line, "expected a mapping of symbol names, got %s", node_kind(v));
	return each_pair(x, v, line, bits ? returnbits_symbol : returncodes_symbol, z);
}

static bool
parse_returncodes(struct cfg_ctx *x, struct fy_node *v, int line, void *base)
{
	return parse_codes(x, v, line, base, false);
}

static bool
parse_returnbits(struct cfg_ctx *x, struct fy_node *v, int line, void *base)
{
	return parse_codes(x, v, line, base, true);
}

/* ---- document ------------------------------------------------------------ */

static void
diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* Turns libfyaml's first collected error into our message. */
static bool
fail_diag(struct cfg_ctx *x, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *e;
	while ((e = fy_diag_errors_iterate(diag, &it)) != NULL) {
		if (e->type < FYET_ERROR)
			continue;
		int line = e->line > 0 ? e->line : 1;
		const char *msg = e->msg != NULL ? e->msg : "YAML error";
		return fail(x, line, "YAML syntax error: %s", msg);
	}
	return fail(x, 1, "cannot parse YAML");
}

static bool
apply_root(struct cfg_ctx *x, struct fy_document *doc)
{
	struct fy_node *root = fy_document_root(doc);
	if (is_null(root))
		return true;
	if (fy_node_get_type(root) != FYNT_MAPPING || fy_node_is_alias(root))
		return fail(x, line_or(root, 1), "the top level must be a mapping, got %s",
		    node_kind(root));
	return walk_mapping(x, root, cfg_keys, NKEYS(cfg_keys), x->c, NULL, 0);
}

/* Parses data and overlays it on x->c. An empty stream (or only comments)
 * is an empty configuration; a second document is refused rather than
 * silently ignored. */
static bool
apply_yaml(struct cfg_ctx *x, const char *data, size_t len)
{
	struct fy_diag_cfg dc;
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = diag_discard;
	struct fy_diag *diag = fy_diag_create(&dc);
	if (diag == NULL)
		return fail(x, 1, "cannot create the YAML parser");
	fy_diag_set_collect_errors(diag, true);
	/* Duplicate keys are found by each_pair(): see struct keyset. */
	struct fy_parse_cfg pc = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 |
		FYPCF_ALLOW_DUPLICATE_KEYS, .diag = diag };
	struct fy_parser *fyp = fy_parser_create(&pc);
	bool ok = false;
	x->text = span_make(data, len);
	if (fyp == NULL || fy_parser_set_string(fyp, data, len) != 0) {
		fail(x, 1, "cannot create the YAML parser");
		goto out;
	}
	struct fy_document *doc = fy_parse_load_document(fyp);
	if (doc == NULL) {
		ok = !fy_diag_got_error(diag) || fail_diag(x, diag);
		goto out;
	}
	struct fy_document *next = fy_parse_load_document(fyp);
	if (next != NULL) {
		fail(x, line_or(fy_document_root(next), 1), "only one YAML document is allowed");
		fy_parse_document_destroy(fyp, next);
	} else if (fy_diag_got_error(diag)) {
		fail_diag(x, diag);
	} else {
		ok = apply_root(x, doc);
	}
	fy_parse_document_destroy(fyp, doc);
out:
	if (fyp != NULL)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return ok;
}

/* YAML is Unicode text. Checked before libfyaml sees the bytes: 0.7.12
 * loops forever on a directive line holding invalid UTF-8 ("%\x80", found
 * by fuzz-cfg). */
static bool
check_utf8(struct cfg_ctx *x, struct span in)
{
	size_t bad;
	if (utf8_valid(in, &bad))
		return true;
	int line = 1;
	for (size_t i = 0; i < bad; i++)
		line += in.p[i] == '\n';
	return fail(x, line, "invalid UTF-8 (byte 0x%02x)", in.p[bad]);
}

struct fconf *
cfg_load_buffer(const char *name, const char *data, size_t len, char *err, size_t errlen)
{
	struct cfg_ctx x = { .name = name != NULL ? name : "(config)", .err = err,
		.errlen = err != NULL ? errlen : 0 };
	name = x.name;
	if (len > CFG_MAX_FILE) {
		if (x.errlen > 0)
			snprintf(err, errlen, "%s: too large (more than 16M)", name);
		return NULL;
	}
	/* libfyaml gets a NUL-terminated copy: fuzz-cfg caught 0.7.12 reading
	 * one byte past a bare input (token text of an alias key), and with the
	 * terminator such a read stays inside our buffer. */
	char *copy = xmalloc(len + 1);
	if (len > 0)
		memcpy(copy, data, len);
	copy[len] = '\0';
	x.c = cfg_defaults_new();
	bool ok = check_utf8(&x, span_make(copy, len)) && apply_yaml(&x, copy, len);
	free(copy);
	if (!ok) {
		cfg_free(&x.c);
		return NULL;
	}
	cfg_defaults_finalize(x.c);
	x.c->path = arena_strdup(x.c->arena, name);
	snprintf(x.c->hash, sizeof(x.c->hash), "%016llx",
	    (unsigned long long)XXH64(data, len, 0));
	return x.c;
}

/* Reads the whole file into a heap buffer; b is left for the caller to free. */
static bool
read_file(const char *path, struct buf *b, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		/* One chunk past the limit is enough to tell "too large". */
		if (b->len > CFG_MAX_FILE)
			break;
		buf_append(b, chunk, n);
	}
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	if (rerr != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(rerr));
		return false;
	}
	return true;
}

struct fconf *
cfg_load(const char *path, char *err, size_t errlen)
{
	char dummy[1];
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	struct buf b;
	buf_init(&b, NULL);
	struct fconf *c = NULL;
	if (read_file(path, &b, err, errlen))
		c = cfg_load_buffer(path, b.len > 0 ? buf_cstr(&b) : "", b.len, err, errlen);
	buf_deinit(&b);
	return c;
}
