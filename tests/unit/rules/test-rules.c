/* test-rules.c - rules_load() and rules_run() end to end on small messages:
 * each shipped rule against its fixture, scope semantics, meta rules,
 * multiple/maxhits, disabled rules, the database cache and the stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "../test-util.h"

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/log.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"
#include "rules/rules.h"

unsigned rules_scratch_hits(const struct rules_db *db, const struct rules_scratch *s,
    const char *name);

struct run {
	struct arena *a;
	struct msg m;
	struct scan_result res;
};

/* The URL list is the MIME layer's job; while it is not there yet, take
 * http(s) links from the raw text so uri rules can be tested here. */
static void
add_urls(struct arena *a, struct mime_message *mm)
{
	if (mm->nurls > 0)
		return;
	mm->urls = arena_array(a, 16, sizeof(*mm->urls));
	const char *p = (const char *)mm->raw.p, *end = p + mm->raw.len;
	while (mm->nurls < 16) {
		const char *h = memmem(p, (size_t)(end - p), "http", 4);
		if (h == NULL)
			break;
		const char *e = h;
		while (e < end && *e > ' ' && *e != '"' && *e != '<' && *e != '>')
			e++;
		if (memmem(h, (size_t)(e - h), "://", 3) != NULL) {
			memset(&mm->urls[mm->nurls], 0, sizeof(mm->urls[0]));
			mm->urls[mm->nurls++].url = arena_strndup(a, h, (size_t)(e - h));
		}
		p = e;
	}
}

/* Date and Received times are the MIME layer's too; fill them the same way
 * when the parser in this tree does not. */
static time_t
parse_date(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *comma = strchr(s, ',');
	const char *end = strptime(comma ? comma + 1 : s, " %d %b %Y %H:%M:%S", &tm);
	if (end == NULL)
		return 0;
	int off = atoi(end);
	time_t t = timegm(&tm);
	return t - ((off / 100) * 3600 + (off % 100) * 60);
}

static void
add_dates(struct arena *a, struct mime_message *mm)
{
	if (mm->date != 0)
		return;
	mm->received = arena_array(a, mm->headers.n + 1, sizeof(*mm->received));
	mm->nreceived = 0;
	for (size_t i = 0; i < mm->headers.n; i++) {
		const struct mime_header *h = &mm->headers.v[i];
		if (span_caseeq_cstr(h->name, "Date")) {
			mm->date = parse_date(h->value);
			mm->has_date = mm->date != 0;
		} else if (span_caseeq_cstr(h->name, "Received")) {
			const char *semi = strrchr(h->value, ';');
			memset(&mm->received[mm->nreceived], 0, sizeof(mm->received[0]));
			mm->received[mm->nreceived++].ts = semi ? parse_date(semi + 1) : 0;
		}
	}
}

static void
run_text(struct run *r, const struct rules_db *db, struct rules_scratch *s,
    const struct symtab *st, const char *text, size_t len)
{
	r->a = arena_new(0);
	memset(&r->m, 0, sizeof(r->m));
	r->m.arena = r->a;
	r->m.raw = span_make(arena_memdup(r->a, text, len), len);
	r->m.mime = mime_parse(r->a, r->m.raw, NULL);
	add_urls(r->a, r->m.mime);
	add_dates(r->a, r->m.mime);
	result_init(&r->res, r->a, st);
	assert_true(rules_run(db, s, &r->m, &r->res) >= 0);
}

static struct fconf *
config(const char **paths, size_t n)
{
	struct fconf *c = cfg_defaults();
	c->rules.paths.v = paths;
	c->rules.paths.n = n;
	c->rules.cache = false;
	return c;
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	*len_r = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static void
test_default_rules_fixtures(void **state)
{
	const char *paths[] = { SOURCE_DIR "/rules/default" };
	struct fconf *c = config(paths, 1);
	struct symtab *st = symtab_new();
	char err[512];
	struct rules_db *db = rules_load(c, st, err, sizeof(err));
	if (db == NULL)
		fail_msg("%s", err);
	struct rules_scratch *s = rules_scratch_new(db);
	DIR *d = opendir(FIXTURES_DIR "/rules");
	assert_non_null(d);
	struct dirent *e;
	unsigned checked = 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		char path[1024], name[256];
		snprintf(path, sizeof(path), "%s/rules/%s", FIXTURES_DIR, e->d_name);
		snprintf(name, sizeof(name), "%.*s", (int)(l - 4), e->d_name);
		size_t len;
		char *text = slurp(path, &len);
		struct run r;
		run_text(&r, db, s, st, text, len);
		if (strcmp(name, "clean") == 0) {
			if (r.res.nsyms != 0)
				fail_msg("clean.eml hit %s", r.res.syms[0].name);
		} else if (!result_has(&r.res, name)) {
			fail_msg("%s.eml does not hit %s", name, name);
		}
		const struct symbol_def *def = symtab_find(st, name);
		if (strcmp(name, "clean") != 0) {
			assert_non_null(def);
			assert_string_equal(def->group, "filterd");
			assert_true(def->description[0] != '\0');
		}
		checked++;
		arena_free(&r.a);
		free(text);
	}
	closedir(d);
	assert_true(checked >= 18);
	struct rules_stats stats;
	rules_get_stats(db, &stats);
	assert_true(stats.total >= 20);
	assert_int_equal(stats.failed, 0);
	rules_scratch_free(&s);
	rules_free(&db);
	symtab_free(&st);
	cfg_free(&c);
}

/* Writes text to a temporary .cf file; returns its path. */
static char *
temp_cf(const char *text)
{
	char *path = strdup("/tmp/test-rules-XXXXXX.cf");
	int fd = mkstemps(path, 3);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Removes a temp_cf() file and frees the configuration that read it. */
static void
done_cf(char *path, struct fconf **c)
{
	unlink(path);
	free(path);
	cfg_free(c);
}

static const char rules_text[] =
	"header H_ALL ALL =~ /^X-Tag: yes$/m\n"
	"header H_RAW Subject:raw =~ /Greetings\\n\\s+friend/\n"
	"header H_NEG X-Absent !~ /x/\n"
	"header H_UNSET X-Absent =~ /^dflt$/ [if-unset: dflt]\n"
	"header H_EXISTS exists:X-Tag\n"
	"header H_NOTEXISTS exists:X-Absent\n"
	"header H_ADDR From:addr =~ /^joe\\@example\\.com$/\n"
	"header H_NAME From:name =~ /^Joe Doe$/\n"
	"header H_TOCC ToCc =~ /carol/\n"
	"header H_ENV EnvelopeFrom =~ /^bounce\\@example\\.org$/\n"
	"body B_SUBJ /^Greetings friend$/\n"
	"body B_PARA /first line second line/\n"
	"body B_NOSPAN /second line.*third/\n"
	"body B_MULTI /\\bspam\\b/\n"
	"tflags B_MULTI multiple maxhits=3\n"
	"score B_MULTI 0.5\n"
	"body __B_SUB /third/\n"
	"body B_ZERO /third/\n"
	"score B_ZERO 0\n"
	"meta M_SUB __B_SUB && !B_ZERO\n"
	"meta M_ZERO B_ZERO\n"
	"body B_BACKREF /(p\\w+) \\1/\n"
	"body B_BAD /(unclosed/\n"
	"full F_FULL /^Subject: .*\\n(?:.*\\n)*X-Tag/m\n"
	"rawbody R_RAW /third paragraph/\n"
	"uri U_MAILTO /^mailto:unsub\\@example\\.com$/\n"
	"uri U_BARE /^unsub\\@/\n"
	"body B_NOSUBJ /Greetings/\n"
	"tflags B_NOSUBJ nosubject\n"
	"body B_NOSUBJ_BODY /pill/\n"
	"tflags B_NOSUBJ_BODY nosubject\n"
	"uri U_REDIR m{^http://10\\.1\\.2\\.3/x\\?a=1$}\n"
	"uri U_RAW m{^http://%77}\n"
	"uri U_NORM m{^http://www\\.example\\.org/$}\n"
	"header E_EVAL eval:check_for_fake_aol_relay_in_rcvd()\n"
	"meta M_EVAL E_EVAL || B_MULTI\n"
	"score H_ALL 2.5\n"
	"describe H_ALL the tag header\n";

static const char msg_text[] =
	"Return-Path: <bounce@example.org>\n"
	"Received: from a.example by b.example; Sun, 22 Nov 2026 10:00:00 +0000\n"
	"X-Envelope-From: <late@example.org>\n"
	"From: Joe Doe <joe@example.com>\n"
	"To: bob@example.net\n"
	"Cc: carol@example.net\n"
	"Subject: Greetings\n friend\n"
	"X-Tag: yes\n"
	"\n"
	"first line\nsecond line\n\n"
	"third paragraph spam spam spam spam spam\n"
	"pill pill\n"
	"write to unsub@example.com to leave\n"
	"see http://rd.example.com/*http://10.1.2.3/x?a=1&b=2 and http://%77ww.example.org/ now\n";

static void
test_semantics(void **state)
{
	char *path = temp_cf(rules_text);
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	struct symtab *st = symtab_new();
	char err[512];
	log_set_level(LOG_LVL_ERROR); /* B_BAD is reported as a warning */
	struct rules_db *db = rules_load(c, st, err, sizeof(err));
	if (db == NULL)
		fail_msg("%s", err);
	struct rules_scratch *s = rules_scratch_new(db);
	struct run r;
	run_text(&r, db, s, st, msg_text, sizeof(msg_text) - 1);
	static const char *hit[] = { "H_ALL", "H_RAW", "H_NEG", "H_UNSET", "H_EXISTS", "H_ADDR",
		"H_NAME", "H_TOCC", "H_ENV", "B_SUBJ", "B_PARA", "B_MULTI", "M_SUB", "B_BACKREF", "F_FULL",
		"R_RAW", "U_MAILTO", "U_REDIR", "U_RAW", "U_NORM", "B_NOSUBJ_BODY" };
	static const char *miss[] = { "H_NOTEXISTS", "B_NOSPAN", "__B_SUB", "B_ZERO", "M_ZERO",
		"B_BAD", "E_EVAL", "M_EVAL", "U_BARE", "B_NOSUBJ" };
	for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
		if (!result_has(&r.res, hit[i]))
			fail_msg("%s did not hit", hit[i]);
	for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++)
		if (result_has(&r.res, miss[i]))
			fail_msg("%s hit", miss[i]);
	assert_int_equal(rules_scratch_hits(db, s, "__B_SUB"), 1);
	assert_int_equal(rules_scratch_hits(db, s, "B_MULTI"), 3); /* maxhits */
	const struct fired_symbol *fs = result_find(&r.res, "B_MULTI");
	assert_true(fs->score > 1.49 && fs->score < 1.51);
	fs = result_find(&r.res, "H_ALL");
	assert_true(fs->score == 2.5);
	assert_string_equal(symtab_find(st, "H_ALL")->description, "the tag header");
	assert_string_equal(symtab_find(st, "H_ALL")->group, "spamassassin");
	assert_null(symtab_find(st, "__B_SUB"));
	assert_null(symtab_find(st, "B_ZERO"));

	struct rules_stats stats;
	rules_get_stats(db, &stats);
	assert_int_equal(stats.failed, 1);
	assert_int_equal(stats.eval_unsupported, 1);
	assert_int_equal(stats.meta, 3);
	bool saw_meta_unsupported = false;
	for (size_t i = 0; i < rules_count(db); i++) {
		struct rules_info in;
		assert_true(rules_get_info(db, i, &in));
		if (strcmp(in.name, "M_EVAL") == 0) {
			assert_int_equal(in.engine, RULES_ENGINE_UNSUPPORTED);
			assert_non_null(strstr(in.reason, "E_EVAL"));
			saw_meta_unsupported = true;
		}
		if (strcmp(in.name, "E_EVAL") == 0)
			assert_string_equal(in.reason, "eval:check_for_fake_aol_relay_in_rcvd");
		if (strcmp(in.name, "B_BACKREF") == 0)
			assert_int_equal(in.engine, RULES_ENGINE_PCRE2);
		if (strcmp(in.name, "H_ALL") == 0)
			assert_int_equal(in.engine, RULES_ENGINE_HYPERSCAN);
	}
	assert_true(saw_meta_unsupported);
	arena_free(&r.a);

	/* a second message through the same scratch: no state leaks over */
	static const char other[] = "From: x@y.z\nSubject: nothing\n\nquiet\n";
	run_text(&r, db, s, st, other, sizeof(other) - 1);
	assert_false(result_has(&r.res, "B_MULTI"));
	assert_false(result_has(&r.res, "H_ALL"));
	assert_true(result_has(&r.res, "H_NEG"));
	arena_free(&r.a);

	rules_scratch_free(&s);
	rules_free(&db);
	symtab_free(&st);
	cfg_free(&c);
	unlink(path);
	free(path);
}

static void
test_eval_shifted_date(void **state)
{
	char *path = temp_cf(
	    "header PAST_06_12 eval:check_for_shifted_date('-12', '-6')\n"
	    "header PAST_96_XX eval:check_for_shifted_date('undef', '-96')\n"
	    "header FUTURE_03_06 eval:check_for_shifted_date('3', '6')\n"
	    "header BAD_ARGS eval:check_for_shifted_date('x')\n"
	    "header OTHER eval:check_for_no_such_thing()\n");
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	assert_non_null(db);
	struct rules_scratch *s = rules_scratch_new(db);
	/* the fetchmail and local hops on top are days later: left out */
	static const char past[] =
	    "Received: from localhost (localhost [127.0.0.1]) by h.example (Postfix) with ESMTP id 1;"
	    " Mon, 30 Sep 2002 10:00:00 +0100\n"
	    "Received: from mail.example by localhost with IMAP (fetchmail-5.9.0) for me@localhost;"
	    " Mon, 30 Sep 2002 10:00:00 +0100 (IST)\n"
	    "Received: from a.example by mx.example; Fri, 27 Sep 2002 20:00:00 +0000\n"
	    "Date: Fri, 27 Sep 2002 10:00:00 +0000\n"
	    "Subject: x\n\nbody\n";
	struct run r;
	run_text(&r, db, s, NULL, past, sizeof(past) - 1);
	assert_true(result_has(&r.res, "PAST_06_12"));
	assert_false(result_has(&r.res, "PAST_96_XX"));
	assert_false(result_has(&r.res, "FUTURE_03_06"));
	arena_free(&r.a);
	static const char future[] =
	    "Received: from a.example by mx.example; Fri, 27 Sep 2002 10:00:00 +0000\n"
	    "Date: Fri, 27 Sep 2002 14:00:00 +0000\n"
	    "Subject: x\n\nbody\n";
	run_text(&r, db, s, NULL, future, sizeof(future) - 1);
	assert_true(result_has(&r.res, "FUTURE_03_06"));
	assert_false(result_has(&r.res, "PAST_06_12"));
	arena_free(&r.a);
	for (size_t i = 0; i < rules_count(db); i++) {
		struct rules_info in;
		rules_get_info(db, i, &in);
		bool implemented = strncmp(in.name, "PAST", 4) == 0 || strncmp(in.name, "FUT", 3) == 0;
		assert_int_equal(in.engine, implemented ? RULES_ENGINE_EVAL : RULES_ENGINE_UNSUPPORTED);
	}
	rules_scratch_free(&s);
	rules_free(&db);
	cfg_free(&c);
	unlink(path);
	free(path);
}

static void
test_eval_mime(void **state)
{
	char *path = temp_cf(
	    "body M_HTML_ONLY eval:check_for_mime_html_only()\n"
	    "body M_HTML eval:check_for_mime_html()\n"
	    "rawbody M_B64 eval:check_for_mime('mime_base64_count')\n"
	    "rawbody M_LONG eval:check_for_mime('mime_qp_long_line')\n");
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	assert_non_null(db);
	struct rules_scratch *s = rules_scratch_new(db);
	static const char html[] = "Content-Type: text/html\nSubject: x\n\n<b>hi</b>\n";
	static const char plain[] = "Content-Type: text/plain\nSubject: x\n\nhi\n";
	struct run r;
	run_text(&r, db, s, NULL, html, sizeof(html) - 1);
	assert_true(result_has(&r.res, "M_HTML_ONLY"));
	assert_true(result_has(&r.res, "M_HTML"));
	arena_free(&r.a);
	run_text(&r, db, s, NULL, plain, sizeof(plain) - 1);
	assert_false(result_has(&r.res, "M_HTML_ONLY"));
	assert_false(result_has(&r.res, "M_HTML"));
	assert_false(result_has(&r.res, "M_B64"));
	arena_free(&r.a);
	for (size_t i = 0; i < rules_count(db); i++) {
		struct rules_info in;
		rules_get_info(db, i, &in);
		assert_int_equal(in.engine, strcmp(in.name, "M_LONG") == 0 ?
		    RULES_ENGINE_UNSUPPORTED : RULES_ENGINE_EVAL);
	}
	rules_scratch_free(&s);
	rules_free(&db);
	cfg_free(&c);
	unlink(path);
	free(path);
}

/* Loads c's rules and scans text once: bit i set when names[i] hit;
 * from_cache_r (may be NULL) says whether the rules came from the cache. */
static unsigned
hits_in(struct fconf *c, const char *text, size_t len, const char *const *names, size_t n,
    bool *from_cache_r)
{
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	assert_non_null(db);
	struct rules_stats st;
	rules_get_stats(db, &st);
	if (from_cache_r != NULL)
		*from_cache_r = st.from_cache;
	struct rules_scratch *s = rules_scratch_new(db);
	struct run r;
	run_text(&r, db, s, NULL, text, len);
	unsigned hits = 0;
	for (size_t i = 0; i < n; i++)
		hits |= result_has(&r.res, names[i]) ? 1u << i : 0;
	arena_free(&r.a);
	rules_scratch_free(&s);
	rules_free(&db);
	return hits;
}

/* Which of LATE (body) and RLATE (rawbody) hit a text/plain message whose
 * marker line starts after `filler` bytes, under the given cf lines. */
static unsigned
late_hits(const char *extra_cf, size_t filler)
{
	char cf[256];
	snprintf(cf, sizeof(cf), "body LATE /latemarker/\nrawbody RLATE /rawlate/\n%s", extra_cf);
	char *path = temp_cf(cf);
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	size_t n = filler + 64;
	char *text = malloc(n);
	size_t o = (size_t)snprintf(text, n, "Subject: t\n\n");
	for (; o < filler + 12; o++) /* lines of 60: "wwwww wwwww ..." */
		text[o] = o % 61 == 60 ? '\n' : o % 6 == 5 ? ' ' : 'w';
	o += (size_t)snprintf(text + o, n - o, "latemarker rawlate\n");
	static const char *const names[] = { "LATE", "RLATE" };
	unsigned hits = hits_in(c, text, o, names, 2, NULL);
	free(text);
	cfg_free(&c);
	unlink(path);
	free(path);
	return hits;
}

/* body_part_scan_size / rawbody_part_scan_size as SpamAssassin applies
 * them: a part's text is cut near the size, at the end of the line that
 * crosses it (within 1 KiB), else at a space, else at the size. */
static void
test_part_scan_size(void **state)
{
	(void)state;
	assert_int_equal(late_hits("", 1000), 3);
	/* the marker's line starts before 50,000 and ends within 1 KiB past it */
	assert_int_equal(late_hits("", 49990), 3);
	/* the marker follows a line that crossed 50,000: cut before it */
	assert_int_equal(late_hits("", 60000), 2);
	assert_int_equal(late_hits("body_part_scan_size 0\n", 60000), 3);
	assert_int_equal(late_hits("body_part_scan_size 0\nrawbody_part_scan_size 30000\n", 60000), 1);
}

/* A pattern whose bounded repeats unroll to 40,000 positions (Hyperscan
 * would compile it for seconds) is given to PCRE2 without a gate before any
 * compile, cold and warm, with the same matches. */
static void
test_slow_hyperscan_pattern_goes_to_pcre2(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-rules-cache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf cf;
	buf_init(&cf, NULL);
	buf_append_cstr(&cf, "body SLOW /(?:a[bc]{0,200}d){200}x(?:q0");
	for (int i = 1; i < 250; i++) /* long enough to be compiled in a timed child */
		buf_printf(&cf, "|q%d", i);
	buf_append_cstr(&cf, ")?/\nscore SLOW 1\n");
	char *path = temp_cf(buf_cstr(&cf));
	buf_deinit(&cf);
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	c->rules.cache = true;
	c->state_dir = dir;
	struct buf yes, no;
	buf_init(&yes, NULL);
	buf_init(&no, NULL);
	buf_append_cstr(&yes, "Subject: t\n\n");
	buf_append_cstr(&no, "Subject: t\n\n");
	for (int i = 0; i < 200; i++) {
		buf_append_cstr(&yes, "ad");
		if (i > 0)
			buf_append_cstr(&no, "ad");
	}
	buf_append_cstr(&yes, "x\n");
	buf_append_cstr(&no, "x\n");
	for (int pass = 0; pass < 2; pass++) {
		char err[512];
		struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
		assert_non_null(db);
		struct rules_stats st;
		rules_get_stats(db, &st);
		assert_int_equal(st.from_cache, pass == 1);
		struct rules_info in;
		rules_get_info(db, 0, &in);
		assert_string_equal(in.name, "SLOW");
		assert_int_equal(in.engine, RULES_ENGINE_PCRE2);
		if (pass == 0) /* the cache keeps the engine, not the reason */
			assert_non_null(strstr(in.reason, "unrolls to"));
		struct rules_scratch *s = rules_scratch_new(db);
		struct run r;
		run_text(&r, db, s, NULL, buf_cstr(&yes), yes.len);
		assert_true(result_has(&r.res, "SLOW"));
		arena_free(&r.a);
		run_text(&r, db, s, NULL, buf_cstr(&no), no.len);
		assert_false(result_has(&r.res, "SLOW"));
		arena_free(&r.a);
		rules_scratch_free(&s);
		rules_free(&db);
	}
	buf_deinit(&yes);
	buf_deinit(&no);
	test_remove_tree(dir);
	done_cf(path, &c);
}

/* Metas start from their value when nothing hits and are evaluated only
 * downstream of a rule that moved off it (meta_index.c): a meta that is
 * true when nothing hits, chains over it, and counts. */
static void
test_meta_baseline(void **state)
{
	(void)state;
	char *path = temp_cf("body A /alpha/\nbody B /beta/\nbody C /gamma/\n"
	                     "meta M_NOT !A\nmeta M_AND A && B\nmeta M_CHAIN M_NOT && C\n"
	                     "meta M_NOTNOT !M_NOT\nmeta M_SUM (A + B + C) >= 2\n"
	                     "score A 1\nscore B 1\nscore C 1\nscore M_NOT 1\nscore M_AND 1\n"
	                     "score M_CHAIN 1\nscore M_NOTNOT 1\nscore M_SUM 1\n");
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	static const char *const names[] = { "A", "B", "C", "M_NOT", "M_AND", "M_CHAIN",
		"M_NOTNOT", "M_SUM" };
	static const struct { const char *text; unsigned hits; } cases[] = {
		{ "Subject: t\n\nalpha beta\n", 0x1 | 0x2 | 0x10 | 0x40 | 0x80 },
		{ "Subject: t\n\ngamma\n", 0x4 | 0x8 | 0x20 },
		{ "Subject: t\n\nnothing here\n", 0x8 },
		{ "Subject: t\n\nalpha gamma\n", 0x1 | 0x4 | 0x40 | 0x80 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned hits = hits_in(c, cases[i].text, strlen(cases[i].text), names, 8, NULL);
		if (hits != cases[i].hits)
			fail_msg("%s: hits 0x%x, expected 0x%x", cases[i].text, hits, cases[i].hits);
	}
	done_cf(path, &c);
}

extern unsigned rules_group_limit_ms, rules_alone_limit_ms;

/* A group that compiles too long has its patterns tried alone: the one
 * that overruns alone goes to PCRE2, the rest stay in Hyperscan, and both
 * still match. The slow pattern unrolls to 9,201 positions, under the
 * screen's limit, and compiles for 0.4-0.7 s; the group may take 50 ms, a
 * pattern alone 100 ms (abc takes a few, forked child included). */
static void
test_group_overrun_tries_patterns_alone(void **state)
{
	(void)state;
	char *path = temp_cf("body FAST /abc/\nbody SLOW /(?:a[bc]{0,90}d){100}x/\n"
	                     "score FAST 1\nscore SLOW 1\n");
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	unsigned group = rules_group_limit_ms, alone = rules_alone_limit_ms;
	rules_group_limit_ms = 50;
	rules_alone_limit_ms = 100;
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	rules_group_limit_ms = group;
	rules_alone_limit_ms = alone;
	assert_non_null(db);
	struct rules_info in;
	assert_true(rules_get_info(db, 0, &in));
	assert_string_equal(in.name, "FAST");
	assert_int_equal(in.engine, RULES_ENGINE_HYPERSCAN);
	assert_true(rules_get_info(db, 1, &in));
	assert_string_equal(in.name, "SLOW");
	assert_int_equal(in.engine, RULES_ENGINE_PCRE2);
	assert_non_null(strstr(in.reason, "compiles for over 100 ms"));
	rules_free(&db);
	static const char *const names[] = { "FAST", "SLOW" };
	struct buf t;
	buf_init(&t, NULL);
	buf_append_cstr(&t, "Subject: t\n\nabc ");
	for (int i = 0; i < 100; i++)
		buf_append_cstr(&t, "ad");
	buf_append_cstr(&t, "x\n");
	rules_group_limit_ms = 50;
	rules_alone_limit_ms = 100;
	unsigned hits = hits_in(c, buf_cstr(&t), t.len, names, 2, NULL);
	rules_group_limit_ms = group;
	rules_alone_limit_ms = alone;
	assert_int_equal(hits, 3);
	assert_int_equal(hits_in(c, "Subject: t\n\nab adx\n", 20, names, 2, NULL), 0);
	buf_deinit(&t);
	done_cf(path, &c);
}

/* Long body patterns compile in databases of their own, twenty rules a
 * database; every rule still matches its text, cold and from the cache. */
static void
test_long_body_patterns_split(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-rules-split-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf cf;
	buf_init(&cf, NULL);
	enum { NLONG = 45 };
	for (int i = 0; i < NLONG; i++) {
		buf_printf(&cf, "body LONG%d /marker%dz(?:w0", i, i);
		for (int k = 1; k < 300; k++) /* over 1,000 characters */
			buf_printf(&cf, "|w%d", k);
		buf_printf(&cf, ")/\nscore LONG%d 1\n", i);
	}
	buf_append_cstr(&cf, "body SHORT /shortmarker/\nscore SHORT 1\n");
	char *path = temp_cf(buf_cstr(&cf));
	buf_deinit(&cf);
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	c->rules.cache = true;
	c->state_dir = dir;
	for (int pass = 0; pass < 2; pass++) {
		char err[512];
		struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
		assert_non_null(db);
		struct rules_stats st;
		rules_get_stats(db, &st);
		assert_int_equal(st.from_cache, pass == 1);
		assert_int_equal(st.hs_compiled, NLONG + 1);
		assert_int_equal(st.databases, 1 + (NLONG + 19) / 20);
		rules_free(&db);
	}
	static const char *const names[] = { "LONG0", "LONG19", "LONG20", "LONG44", "SHORT" };
	const char *text = "Subject: t\n\nmarker0zw5 marker20zw199 marker44zw0 shortmarker\n";
	assert_int_equal(hits_in(c, text, strlen(text), names, 5, NULL), 0x1d);
	text = "Subject: t\n\nmarker19zw7\n";
	assert_int_equal(hits_in(c, text, strlen(text), names, 5, NULL), 0x2);
	test_remove_tree(dir);
	done_cf(path, &c);
}

/* The cache keeps Hyperscan's verdict on prefilter gates: the warm load
 * lays the gate out as the cold compile did and it still lets matches in. */
static void
test_cache_prefilter_gate(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-rules-cache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *pf = temp_cf("body PF_TRIPLE /\\b(\\w+) \\1 \\1\\b/\nscore PF_TRIPLE 1\n");
	const char *paths[] = { pf };
	struct fconf *c = config(paths, 1);
	c->rules.cache = true;
	c->state_dir = dir;
	const char *yes = "Subject: t\n\nso we we we go\n", *no = "Subject: t\n\nso we go we\n";
	static const char *const names[] = { "PF_TRIPLE" };
	bool cached;
	assert_int_equal(hits_in(c, yes, strlen(yes), names, 1, &cached), 1);
	assert_false(cached);
	assert_int_equal(hits_in(c, yes, strlen(yes), names, 1, &cached), 1);
	assert_true(cached);
	assert_int_equal(hits_in(c, no, strlen(no), names, 1, &cached), 0);
	assert_true(cached);
	test_remove_tree(dir);
	unlink(pf);
	free(pf);
	cfg_free(&c);
}

static void
test_cache(void **state)
{
	char dir[] = "/tmp/test-rules-cache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *paths[] = { SOURCE_DIR "/rules/default" };
	struct fconf *c = config(paths, 1);
	c->rules.cache = true;
	c->state_dir = dir;
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	assert_non_null(db);
	struct rules_stats s1, s2;
	rules_get_stats(db, &s1);
	assert_false(s1.from_cache);
	rules_free(&db);
	db = rules_load(c, NULL, err, sizeof(err));
	assert_non_null(db);
	rules_get_stats(db, &s2);
	assert_true(s2.from_cache);
	assert_int_equal(s1.hs_compiled, s2.hs_compiled);
	assert_int_equal(s1.pcre_fallback, s2.pcre_fallback);
	/* the loaded databases work */
	struct rules_scratch *s = rules_scratch_new(db);
	size_t len;
	char *text = slurp(FIXTURES_DIR "/rules/FD_CLICK_HERE.eml", &len);
	struct run r;
	run_text(&r, db, s, NULL, text, len);
	assert_true(result_has(&r.res, "FD_CLICK_HERE"));
	arena_free(&r.a);
	free(text);
	rules_scratch_free(&s);
	rules_free(&db);
	/* a changed rule set gets another key: compiled, not loaded */
	char *extra = temp_cf("body EXTRA /extra/\n");
	const char *paths2[] = { SOURCE_DIR "/rules/default", extra };
	c->rules.paths.v = paths2;
	c->rules.paths.n = 2;
	db = rules_load(c, NULL, err, sizeof(err));
	rules_get_stats(db, &s2);
	assert_false(s2.from_cache);
	rules_free(&db);
	/* only the current database stays in state_dir */
	DIR *d = opendir(dir);
	unsigned nfiles = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		nfiles += strncmp(de->d_name, "rules-", 6) == 0;
	closedir(d);
	assert_int_equal(nfiles, 1);
	unlink(extra);
	free(extra);
	test_remove_tree(dir);
	cfg_free(&c);
}

static void
test_load_errors(void **state)
{
	char *path = temp_cf("body OK /ok/\n\nmeta BAD (OK &&\n");
	const char *paths[] = { path };
	struct fconf *c = config(paths, 1);
	char err[512];
	struct rules_db *db = rules_load(c, NULL, err, sizeof(err));
	/* a malformed meta is reported per rule, not fatal */
	assert_non_null(db);
	rules_free(&db);
	unlink(path);
	free(path);
	path = temp_cf("body OK /ok/\nendif\n");
	paths[0] = path;
	db = rules_load(c, NULL, err, sizeof(err));
	assert_null(db);
	char want[600];
	snprintf(want, sizeof(want), "%s:2: endif without if", path);
	assert_string_equal(err, want);
	unlink(path);
	free(path);
	paths[0] = "/nonexistent/rules";
	assert_null(rules_load(c, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/rules:0: cannot read"));
	cfg_free(&c);
}

int
main(void)
{
	log_init("test-rules", LOG_LVL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rules_fixtures),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_eval_shifted_date),
		cmocka_unit_test(test_eval_mime),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_prefilter_gate),
		cmocka_unit_test(test_part_scan_size),
		cmocka_unit_test(test_slow_hyperscan_pattern_goes_to_pcre2),
		cmocka_unit_test(test_group_overrun_tries_patterns_alone),
		cmocka_unit_test(test_long_body_patterns_split),
		cmocka_unit_test(test_meta_baseline),
		cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
