/*
 * cf_parse.c - the SpamAssassin .cf reader.
 *
 * Line oriented, as SpamAssassin's Conf::Parser: '#' starts a comment unless
 * escaped as '\#', leading and trailing blanks go, the first word is the
 * directive. Conditionals nest with a fixed-size stack; a block whose
 * condition is false is skipped whole (its directives are not even checked).
 * Directives we do not know (whitelists, DNS zones, report templates, ...)
 * are ignored, as they configure plugins filterd does not have.
 *
 * Errors are "file:line: reason" and fatal: a malformed rule line, an
 * unbalanced else/endif, an unreadable include. The configuration is the
 * admin's, so the reader stops rather than guessing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fcore/arena.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

#define CF_MAX_COND 64     /* nesting of if/ifplugin */
#define CF_MAX_INCLUDE 8   /* include depth */
#define CF_MAX_FILE (64u << 20)

struct cf_reader {
	struct cf *cf;
	const char *file;
	unsigned line;
	/* conditional stack: active state of each level */
	bool active[CF_MAX_COND];
	bool parent_active[CF_MAX_COND];
	bool seen_else[CF_MAX_COND];
	unsigned ncond;
};

static int cf_error(struct cf_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
cf_error(struct cf_reader *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->cf->err, r->cf->errlen, "%s:%u: %s", r->file, r->line, msg);
	return -1;
}

static uint32_t
cf_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static size_t
cf_slot(const struct cf *cf, const char *name)
{
	size_t mask = cf->nslots - 1;
	size_t i = cf_hash(name) & mask;
	while (cf->slots[i] != 0 && strcmp(cf->rules[cf->slots[i] - 1]->name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

void
cf_init(struct cf *cf, struct arena *a, char *err, size_t errlen)
{
	memset(cf, 0, sizeof(*cf));
	cf->arena = a;
	cf->nslots = 1024;
	cf->slots = xcalloc(cf->nslots, sizeof(*cf->slots));
	cf->replace_start = "<";
	cf->replace_end = ">";
	cf->body_part_scan_size = 50000; /* SpamAssassin 4's defaults */
	cf->rawbody_part_scan_size = 500000;
	cf->err = err;
	cf->errlen = errlen;
}

void
cf_deinit(struct cf *cf)
{
	free(cf->slots);
	free(cf->rules);
	free(cf->tags.v);
	free(cf->pre.v);
	free(cf->inter.v);
	free(cf->post.v);
	free(cf->files);
	cf->slots = NULL;
	cf->rules = NULL;
	cf->files = NULL;
}

struct rule *
cf_find(const struct cf *cf, const char *name)
{
	uint32_t s = cf->slots[cf_slot(cf, name)];
	return s ? cf->rules[s - 1] : NULL;
}

static struct rule *
cf_get(struct cf *cf, const char *name)
{
	size_t i = cf_slot(cf, name);
	if (cf->slots[i] != 0)
		return cf->rules[cf->slots[i] - 1];
	if (cf->nrules == cf->cap) {
		cf->cap = cf->cap ? cf->cap * 2 : 512;
		cf->rules = xreallocarray(cf->rules, cf->cap, sizeof(*cf->rules));
	}
	struct rule *r = ARENA_NEW(cf->arena, struct rule);
	r->name = arena_strdup(cf->arena, name);
	r->type = RT_NONE;
	r->group = -1;
	cf->rules[cf->nrules++] = r;
	cf->slots[i] = (uint32_t)cf->nrules;
	if (cf->nrules * 2 > cf->nslots) {
		free(cf->slots);
		cf->nslots *= 2;
		cf->slots = xcalloc(cf->nslots, sizeof(*cf->slots));
		for (size_t k = 0; k < cf->nrules; k++)
			cf->slots[cf_slot(cf, cf->rules[k]->name)] = (uint32_t)(k + 1);
	}
	return r;
}

static void
taglist_set(struct cf *cf, struct cf_taglist *l, const char *name, const char *value)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, name) == 0) {
			l->v[i].value = arena_strdup(cf->arena, value);
			return;
		}
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = arena_strdup(cf->arena, name);
	l->v[l->n].value = arena_strdup(cf->arena, value);
	l->n++;
}

/* ---- small string helpers over NUL-terminated config lines ---- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Splits off the first word: returns it NUL-terminated, *rest_r at the next word. */
static char *
next_word(char *s, char **rest_r)
{
	while (*s && is_blank(*s))
		s++;
	char *w = s;
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	while (*s && is_blank(*s))
		s++;
	*rest_r = s;
	return w;
}

static bool
valid_rule_name(const char *n)
{
	if (*n == '\0' || (*n >= '0' && *n <= '9'))
		return false;
	for (; *n; n++) {
		char c = *n;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return false;
	}
	return true;
}

/* Comment removal and trimming in place, as Conf::Parser does. */
static char *
clean_line(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '#' && (p == s || p[-1] != '\\')) {
			break;
		}
		if (*p == '\\' && p[1] == '#') {
			*o++ = '#';
			p++;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	while (o > s && is_blank(o[-1]))
		*--o = '\0';
	while (*s && is_blank(*s))
		s++;
	return s;
}

/* ---- rule definitions ---- */

bool
cf_split_regex(struct arena *a, const char *src, const char **body_r, unsigned *flags_r)
{
	const char *p = src;
	char open, close;
	if (p[0] == 'm' && p[1] != '\0' && !((p[1] >= 'a' && p[1] <= 'z') ||
	    (p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= '0' && p[1] <= '9') || p[1] == '_' ||
	    is_blank(p[1]))) {
		open = p[1];
		p += 2;
	} else if (p[0] == '/') {
		open = '/';
		p += 1;
	} else {
		return false;
	}
	switch (open) {
	case '{': close = '}'; break;
	case '(': close = ')'; break;
	case '<': close = '>'; break;
	case '[': close = ']'; break;
	default: close = open; break;
	}
	const char *end = strrchr(p, close);
	if (end == NULL)
		return false;
	unsigned flags = 0;
	for (const char *f = end + 1; *f; f++) {
		switch (*f) {
		case 'i': flags |= RE_I; break;
		case 'm': flags |= RE_M; break;
		case 's': flags |= RE_S; break;
		case 'x': flags |= RE_X; break;
		case 'o': case 'g': case 'a': case 'u': case 'l': case 'd': case 'p': break;
		default: return false;
		}
	}
	*body_r = arena_strndup(a, p, (size_t)(end - p));
	*flags_r = flags;
	return true;
}

static int
set_regex(struct cf_reader *r, struct rule *ru, const char *spec)
{
	const char *body;
	unsigned flags;
	if (!cf_split_regex(r->cf->arena, spec, &body, &flags))
		return cf_error(r, "%s: not a delimited regex", ru->name);
	ru->src = arena_strdup(r->cf->arena, spec);
	ru->re = body;
	ru->re_flags = flags;
	return 0;
}

static void
rule_reset(struct cf_reader *r, struct rule *ru, int type)
{
	ru->type = type;
	ru->defined = true;
	ru->src = ru->eval = ru->hdr = ru->unset = ru->re = NULL;
	ru->hdr_flags = 0;
	ru->neg = ru->exists = false;
	ru->re_flags = 0;
	ru->file = r->file;
	ru->line = r->line;
}

static int
parse_eval(struct cf_reader *r, struct rule *ru, const char *spec)
{
	const char *fn = spec + 5;
	if (strchr(fn, '(') == NULL)
		return cf_error(r, "%s: eval without (arguments)", ru->name);
	ru->eval = arena_strdup(r->cf->arena, fn);
	ru->src = arena_strdup(r->cf->arena, spec);
	return 0;
}

static int
parse_header_spec(struct cf_reader *r, struct rule *ru, char *spec)
{
	struct arena *a = r->cf->arena;
	if (strncmp(spec, "eval:", 5) == 0)
		return parse_eval(r, ru, spec);
	if (strncmp(spec, "exists:", 7) == 0) {
		ru->exists = true;
		ru->hdr = arena_strdup(a, spec + 7);
		ru->src = arena_strdup(a, spec);
		if (*ru->hdr == '\0')
			return cf_error(r, "%s: exists: without a header name", ru->name);
		return 0;
	}
	char *rest;
	char *hdr = next_word(spec, &rest);
	char *op = next_word(rest, &rest);
	if (*hdr == '\0' || (strcmp(op, "=~") != 0 && strcmp(op, "!~") != 0) || *rest == '\0')
		return cf_error(r, "%s: expected HEADER =~ /regex/", ru->name);
	ru->neg = op[0] == '!';
	/* [if-unset: value] trails the regex */
	size_t rl = strlen(rest);
	if (rl > 0 && rest[rl - 1] == ']') {
		char *u = strstr(rest, "[if-unset:");
		if (u != NULL) {
			char *v = u + 10;
			while (*v == ' ' || *v == '\t')
				v++;
			ru->unset = arena_strndup(a, v, (size_t)(rest + rl - 1 - v));
			*u = '\0';
			while (u > rest && is_blank(u[-1]))
				*--u = '\0';
		}
	}
	char *colon;
	while ((colon = strrchr(hdr, ':')) != NULL && colon != hdr) {
		if (strcmp(colon, ":raw") == 0)
			ru->hdr_flags |= HDR_RAW;
		else if (strcmp(colon, ":addr") == 0)
			ru->hdr_flags |= HDR_ADDR;
		else if (strcmp(colon, ":name") == 0)
			ru->hdr_flags |= HDR_NAME;
		else
			ru->hdr_flags |= HDR_UNSUP; /* :host, :domain, :first, ... */
		*colon = '\0';
	}
	ru->hdr = arena_strdup(a, hdr);
	return set_regex(r, ru, rest);
}

static int
parse_rule(struct cf_reader *r, int type, char *args)
{
	char *rest;
	char *name = next_word(args, &rest);
	if (!valid_rule_name(name))
		return cf_error(r, "invalid rule name '%s'", name);
	if (*rest == '\0')
		return cf_error(r, "%s: missing definition", name);
	struct rule *ru = cf_get(r->cf, name);
	rule_reset(r, ru, type);
	switch (type) {
	case RT_HEADER:
	case RT_MIMEHEADER:
		return parse_header_spec(r, ru, rest);
	case RT_META:
		ru->src = arena_strdup(r->cf->arena, rest);
		return 0;
	default:
		if (strncmp(rest, "eval:", 5) == 0)
			return parse_eval(r, ru, rest);
		return set_regex(r, ru, rest);
	}
}

/* ---- per-rule attributes ---- */

static int
parse_score(struct cf_reader *r, char *args)
{
	char *rest;
	char *name = next_word(args, &rest);
	double v[4];
	int n = 0;
	while (*rest && n < 4) {
		char *w = next_word(rest, &rest);
		if (*w == '(') /* "(0.5)": SpamAssassin's "do not auto-update" mark */
			w++;
		char *end;
		v[n] = strtod(w, &end);
		if (end == w || (*end != '\0' && *end != ')'))
			return cf_error(r, "score %s: not a number", name);
		n++;
	}
	if (!valid_rule_name(name) || (n != 1 && n != 4) || *rest != '\0')
		return cf_error(r, "score %s: expected one or four values", name);
	struct rule *ru = cf_get(r->cf, name);
	ru->score = n == 1 ? v[0] : v[2]; /* set 2: Bayes on, network tests off */
	ru->has_score = true;
	return 0;
}

static int
parse_tflags(struct cf_reader *r, char *args)
{
	char *rest;
	char *name = next_word(args, &rest);
	if (!valid_rule_name(name))
		return cf_error(r, "tflags: invalid rule name '%s'", name);
	struct rule *ru = cf_get(r->cf, name);
	ru->tflags = 0;
	ru->maxhits = 0;
	while (*rest) {
		char *w = next_word(rest, &rest);
		if (strcmp(w, "multiple") == 0)
			ru->tflags |= TF_MULTIPLE;
		else if (strcmp(w, "nice") == 0)
			ru->tflags |= TF_NICE;
		else if (strcmp(w, "net") == 0)
			ru->tflags |= TF_NET;
		else if (strcmp(w, "learn") == 0)
			ru->tflags |= TF_LEARN;
		else if (strcmp(w, "noautolearn") == 0)
			ru->tflags |= TF_NOAUTOLEARN;
		else if (strcmp(w, "userconf") == 0)
			ru->tflags |= TF_USERCONF;
		else if (strcmp(w, "publish") == 0)
			ru->tflags |= TF_PUBLISH;
		else if (strcmp(w, "nosubject") == 0)
			ru->tflags |= TF_NOSUBJECT;
		else if (strncmp(w, "maxhits=", 8) == 0)
			ru->maxhits = (unsigned)strtoul(w + 8, NULL, 10);
		/* others (a, nopublish, domains_only, range=, ...) change nothing here */
	}
	return 0;
}

static int
parse_named_text(struct cf_reader *r, char *args, int which)
{
	char *rest;
	char *name = next_word(args, &rest);
	if (!valid_rule_name(name))
		return cf_error(r, "invalid rule name '%s'", name);
	struct rule *ru = cf_get(r->cf, name);
	if (which == 0) {
		ru->describe = arena_strdup(r->cf->arena, rest);
	} else {
		char *end;
		long v = strtol(rest, &end, 10);
		if (end == rest || *end != '\0')
			return cf_error(r, "priority %s: not an integer", name);
		ru->priority = (int)v;
	}
	return 0;
}

static int
parse_replace(struct cf_reader *r, const char *dir, char *args)
{
	struct cf *cf = r->cf;
	char *rest;
	if (strcmp(dir, "replace_start") == 0 || strcmp(dir, "replace_end") == 0) {
		if (*args == '\0')
			return cf_error(r, "%s: missing value", dir);
		if (dir[8] == 's')
			cf->replace_start = arena_strdup(cf->arena, args);
		else
			cf->replace_end = arena_strdup(cf->arena, args);
		return 0;
	}
	if (strcmp(dir, "replace_rules") == 0) {
		while (*args) {
			char *n = next_word(args, &rest);
			args = rest;
			if (valid_rule_name(n))
				cf_get(cf, n)->replace = true;
		}
		return 0;
	}
	char *name = next_word(args, &rest);
	if (*name == '\0' || *rest == '\0')
		return cf_error(r, "%s: expected NAME VALUE", dir);
	struct cf_taglist *l = strcmp(dir, "replace_tag") == 0 ? &cf->tags :
	    strcmp(dir, "replace_pre") == 0 ? &cf->pre :
	    strcmp(dir, "replace_inter") == 0 ? &cf->inter : &cf->post;
	taglist_set(cf, l, name, rest);
	return 0;
}

/* ---- conditionals ---- */

static bool
cond_active(const struct cf_reader *r)
{
	return r->ncond == 0 || r->active[r->ncond - 1];
}

static int
cond_push(struct cf_reader *r, int value)
{
	if (value < 0)
		return cf_error(r, "cannot parse if condition");
	if (r->ncond == CF_MAX_COND)
		return cf_error(r, "if/ifplugin nested too deep");
	bool parent = cond_active(r);
	if (parent && !value)
		r->cf->skipped_blocks++;
	r->parent_active[r->ncond] = parent;
	r->active[r->ncond] = parent && value;
	r->seen_else[r->ncond] = false;
	r->ncond++;
	return 0;
}

static int
parse_conditional(struct cf_reader *r, const char *dir, char *args, bool *handled_r)
{
	*handled_r = true;
	if (strcmp(dir, "ifplugin") == 0) {
		if (!cond_active(r))
			return cond_push(r, 0);
		return cond_push(r, cf_plugin_loaded(args) ? 1 : 0);
	}
	if (strcmp(dir, "if") == 0) {
		if (!cond_active(r))
			return cond_push(r, 0);
		return cond_push(r, cf_eval_cond(args));
	}
	if (strcmp(dir, "else") == 0) {
		if (r->ncond == 0 || r->seen_else[r->ncond - 1])
			return cf_error(r, "else without if");
		unsigned k = r->ncond - 1;
		r->seen_else[k] = true;
		if (r->parent_active[k] && r->active[k])
			r->cf->skipped_blocks++;
		r->active[k] = r->parent_active[k] && !r->active[k];
		return 0;
	}
	if (strcmp(dir, "endif") == 0) {
		if (r->ncond == 0)
			return cf_error(r, "endif without if");
		r->ncond--;
		return 0;
	}
	*handled_r = false;
	return 0;
}

/* ---- directives ---- */

static int cf_read_file(struct cf *cf, const char *path);

static int
parse_include(struct cf_reader *r, const char *arg)
{
	if (*arg == '\0')
		return cf_error(r, "include: missing file name");
	char path[4096];
	if (arg[0] == '/') {
		snprintf(path, sizeof(path), "%s", arg);
	} else {
		const char *slash = strrchr(r->file, '/');
		if (slash != NULL)
			snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - r->file), r->file, arg);
		else
			snprintf(path, sizeof(path), "%s", arg);
	}
	if (r->cf->depth >= CF_MAX_INCLUDE)
		return cf_error(r, "include nested too deep: %s", arg);
	struct stat st;
	if (stat(path, &st) != 0 || S_ISDIR(st.st_mode))
		return cf_error(r, "include: cannot read %s", arg);
	r->cf->depth++;
	int rc = cf_read_file(r->cf, path);
	r->cf->depth--;
	return rc;
}

static const struct {
	const char *name;
	int type;
} rule_dirs[] = {
	{ "header", RT_HEADER },
	{ "mimeheader", RT_MIMEHEADER },
	{ "body", RT_BODY },
	{ "rawbody", RT_RAWBODY },
	{ "uri", RT_URI },
	{ "full", RT_FULL },
	{ "meta", RT_META },
};

/* body_part_scan_size / rawbody_part_scan_size N (0 = no limit). */
static int
parse_scan_size(struct cf_reader *r, const char *dir, const char *args, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(args, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (args[0] < '0' || args[0] > '9' || *end != '\0' || errno != 0 || v > (1ULL << 32))
		return cf_error(r, "%s: expected a size in bytes, got \"%s\"", dir, args);
	*out = v;
	return 0;
}

static int
parse_directive(struct cf_reader *r, char *line)
{
	char *args;
	char *dir = next_word(line, &args);
	bool handled;
	int rc = parse_conditional(r, dir, args, &handled);
	if (handled || rc != 0 || !cond_active(r))
		return rc;
	for (size_t i = 0; i < sizeof(rule_dirs) / sizeof(rule_dirs[0]); i++)
		if (strcmp(dir, rule_dirs[i].name) == 0)
			return parse_rule(r, rule_dirs[i].type, args);
	if (strcmp(dir, "score") == 0)
		return parse_score(r, args);
	if (strcmp(dir, "describe") == 0)
		return parse_named_text(r, args, 0);
	if (strcmp(dir, "priority") == 0)
		return parse_named_text(r, args, 1);
	if (strcmp(dir, "tflags") == 0)
		return parse_tflags(r, args);
	if (strncmp(dir, "replace_", 8) == 0)
		return parse_replace(r, dir, args);
	if (strcmp(dir, "include") == 0)
		return parse_include(r, args);
	if (strcmp(dir, "body_part_scan_size") == 0)
		return parse_scan_size(r, dir, args, &r->cf->body_part_scan_size);
	if (strcmp(dir, "rawbody_part_scan_size") == 0)
		return parse_scan_size(r, dir, args, &r->cf->rawbody_part_scan_size);
	/* lang xx <directive>: translations of describe/report; ignored */
	return 0;
}

int
cf_read_buffer(struct cf *cf, const char *name, const char *data, size_t len)
{
	struct cf_reader r = { .cf = cf, .file = arena_strdup(cf->arena, name) };
	if (cf->nfiles == cf->files_cap) {
		cf->files_cap = cf->files_cap ? cf->files_cap * 2 : 32;
		cf->files = xreallocarray(cf->files, cf->files_cap, sizeof(*cf->files));
	}
	cf->files[cf->nfiles++] = r.file;
	char *line = NULL;
	size_t cap = 0;
	size_t pos = 0;
	int rc = 0;
	while (pos < len && rc == 0) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (data + pos)) : len - pos;
		if (ll + 1 > cap) {
			cap = ll + 1;
			line = xrealloc(line, cap);
		}
		memcpy(line, data + pos, ll);
		line[ll] = '\0';
		/* a NUL inside a line ends it: config lines are C strings */
		pos += ll + (nl ? 1 : 0);
		r.line++;
		char *s = clean_line(line);
		if (*s != '\0')
			rc = parse_directive(&r, s);
	}
	free(line);
	if (rc == 0 && r.ncond != 0) {
		r.line++;
		rc = cf_error(&r, "missing endif (%u if blocks open at end of file)", r.ncond);
	}
	return rc;
}

static int
cf_read_file(struct cf *cf, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(cf->err, cf->errlen, "%s:0: cannot read: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > CF_MAX_FILE) {
		fclose(f);
		snprintf(cf->err, cf->errlen, "%s:0: cannot read: too large", path);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	char *data = xmalloc(n + 1);
	size_t got = fread(data, 1, n, f);
	fclose(f);
	int rc = cf_read_buffer(cf, path, data, got);
	free(data);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
cf_read_path(struct cf *cf, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(cf->err, cf->errlen, "%s:0: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return cf_read_file(cf, path);
	DIR *d = opendir(path);
	if (d == NULL) {
		snprintf(cf->err, cf->errlen, "%s:0: cannot read: %s", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 3, ".cf") != 0 || e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			char full[4096];
			snprintf(full, sizeof(full), "%s/%s", path, names[i]);
			rc = cf_read_file(cf, full);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Default scores as SpamAssassin: 1, 0.01 for T_ rules, negative when nice. */
void
cf_finish(struct cf *cf)
{
	for (size_t i = 0; i < cf->nrules; i++) {
		struct rule *r = cf->rules[i];
		if (!r->defined)
			continue;
		if (!r->has_score) {
			r->score = strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0;
			if (r->tflags & TF_NICE)
				r->score = -r->score;
		}
		r->enabled = r->score != 0.0;
		if (r->replace && r->re != NULL)
			r->re = cf_replace_tags(cf, r->re);
	}
}
