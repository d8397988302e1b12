#include "offline.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/dirwalk.h"
#include "fcore/log.h"
#include "fcore/mime.h"
#include "fcore/mime_json.h"
#include "fcore/xalloc.h"
#include "json_out.h"
#include "reply_json.h"
#include "rules/rules.h"
#include "scan.h"
#include "statedir.h"

struct offline_env {
	const char *user;
	const char *ip;
	const char *from;
	const char **rcpt;
	size_t nrcpt;
	const char *helo;
	bool timing;
	unsigned files;
	unsigned errors;
	double total_time;
	double stage[SCAN_ST_COUNT]; /* --timing: seconds per stage over all files */
};

uint8_t *
offline_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 65536, len = 0;
	uint8_t *data = xmalloc(cap);
	size_t n;
	while ((n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			data = xrealloc(data, cap);
		}
	}
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	if (rerr != 0) { /* e.g. EISDIR: reading fails, not opening */
		free(data);
		errno = rerr;
		return NULL;
	}
	*len_r = len;
	return data;
}

struct scan_walk {
	struct scan_engine *e;
	struct offline_env *env;
};

struct scan_line {
	const char *filename;
	struct offline_env *env;
	bool done;
};

/* --timing: the message's stages (ms) appended to its reply line. */
static char *
with_stages(char *line, const struct scan_task *t)
{
	json_t *o = line ? json_loads(line, 0, NULL) : NULL;
	free(line);
	if (o == NULL)
		return NULL;
	json_t *st = json_object();
	for (int i = 0; i < SCAN_ST_COUNT; i++)
		if (t->stage[i] > 0)
			json_object_set_new(st, scan_stage_name(i), json_real(t->stage[i] * 1e3));
	json_object_set_new(o, "stages_ms", st);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	return s;
}

/* The daemon's reply with "filename" as its last member (heap string). */
static char *
reply_line(const struct scan_task *t, const char *filename)
{
	struct buf b, name;
	buf_init(&b, NULL);
	buf_init(&name, NULL);
	reply_v2_write(t, &b);
	if (b.len > 0 && jo_utf8_valid(filename)) {
		struct json_out j;
		jo_init(&j, &name);
		jo_str(&j, filename);
		b.len--; /* the closing brace */
		buf_append_cstr(&b, ",\"filename\":");
		buf_append(&b, name.data, name.len);
		buf_append_byte(&b, '}');
	}
	char *line = xstrdup(buf_cstr(&b));
	buf_deinit(&b);
	buf_deinit(&name);
	return line;
}

static void
print_done(struct scan_task *t, void *arg)
{
	struct scan_line *l = arg;
	double t0 = clock_mono();
	char *s = reply_line(t, l->filename);
	/* The reply is part of a scan's cost; printing it is not. */
	t->stage[SCAN_ST_JSON] += clock_mono() - t0;
	if (l->env->timing)
		s = with_stages(s, t);
	if (s != NULL) {
		puts(s);
		free(s);
	}
	l->env->total_time += t->time_real;
	for (int i = 0; i < SCAN_ST_COUNT; i++)
		l->env->stage[i] += t->stage[i];
	l->done = true;
}

/* --timing: where the time of the scans went, as totals over all files. */
static void
print_stages(const struct offline_env *env)
{
	double sum = 0.0;
	for (int i = 0; i < SCAN_ST_COUNT; i++)
		sum += env->stage[i];
	double n = env->files ? (double)env->files : 1.0;
	fprintf(stderr, "%-18s %12s %10s %7s\n", "stage", "ms total", "ms/msg", "share");
	for (int i = 0; i < SCAN_ST_COUNT; i++)
		fprintf(stderr, "%-18s %12.1f %10.4f %6.1f%%\n", scan_stage_name(i), env->stage[i] * 1e3,
		    env->stage[i] * 1e3 / n, sum > 0 ? 100.0 * env->stage[i] / sum : 0.0);
	fprintf(stderr, "%-18s %12.1f %10.4f %6.1f%%\n", "total", sum * 1e3, sum * 1e3 / n, 100.0);
}

static void
scan_file(struct scan_engine *e, struct offline_env *env, const char *path)
{
	size_t len;
	uint8_t *data = offline_read_file(path, &len);
	if (data == NULL) {
		fprintf(stderr, "filterd scan: %s: %s\n", path, strerror(errno));
		env->errors++;
		return;
	}
	struct scan_task *t = scan_task_new(e, span_make(data, len));
	struct envelope *ev = &t->msg.env;
	if (env->ip)
		envelope_set_ip(ev, t->arena, env->ip);
	if (env->from)
		ev->mail_from = envelope_clean_addr(t->arena, env->from, strlen(env->from));
	for (size_t i = 0; i < env->nrcpt; i++)
		envelope_add_rcpt(ev, t->arena, envelope_clean_addr(t->arena, env->rcpt[i], strlen(env->rcpt[i])));
	ev->deliver_to = env->user;
	ev->helo = env->helo;
	ev->filename = path;
	t->flags |= SCAN_F_NO_LOG;
	if (env->timing)
		t->flags |= SCAN_F_PROFILE;
	struct scan_line line = { path, env, false };
	scan_run(t, print_done, &line);
	/* The same pipeline as a worker: async checks answer on the loop, and
	 * the task budget bounds the wait. */
	while (!line.done && e->base != NULL)
		if (event_base_loop(e->base, EVLOOP_ONCE) != 0)
			break; /* nothing left to wait for */
	scan_task_free(&t);
	free(data);
	env->files++;
}

static int
scan_one(const char *path, void *arg)
{
	struct scan_walk *w = arg;
	scan_file(w->e, w->env, path);
	return 0;
}

static void
scan_usage(void)
{
	fprintf(stderr, "usage: filterd [--config FILE] scan [-d user] [-i ip] [-F from] [-r rcpt]... "
	                "[--helo name] [--timing] FILE|DIR...\n");
}

int
offline_scan_main(const struct fconf *cfg, int argc, char **argv)
{
	struct offline_env env;
	memset(&env, 0, sizeof(env));
	static const struct option longopts[] = {
		{ "deliver", required_argument, NULL, 'd' }, { "ip", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'F' }, { "rcpt", required_argument, NULL, 'r' },
		{ "helo", required_argument, NULL, 'H' }, { "timing", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	optind = 0; /* GNU getopt: 0 re-initialises, so options may follow files */
	while ((ch = getopt_long(argc, argv, "d:i:F:r:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': env.user = optarg; break;
		case 'i': env.ip = optarg; break;
		case 'F': env.from = optarg; break;
		case 'r':
			env.rcpt = xreallocarray(env.rcpt, env.nrcpt + 1, sizeof(*env.rcpt));
			env.rcpt[env.nrcpt++] = optarg;
			break;
		case 'H': env.helo = optarg; break;
		case 't': env.timing = true; break;
		default: scan_usage(); return 2;
		}
	}
	if (optind >= argc) {
		scan_usage();
		return 2;
	}
	struct scan_engine e;
	char err[1024];
	if (state_dir_ensure(cfg->state_dir) != 0)
		return 1;
	struct event_base *base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "filterd scan: cannot create an event loop\n");
		return 1;
	}
	if (scan_engine_init(&e, cfg, true, err, sizeof(err)) != 0 ||
	    scan_engine_attach(&e, false, err, sizeof(err)) != 0 ||
	    scan_engine_set_loop(&e, base, err, sizeof(err)) != 0) {
		fprintf(stderr, "filterd scan: %s\n", err);
		scan_engine_deinit(&e);
		event_base_free(base);
		return 1;
	}
	double start = clock_mono();
	struct scan_walk w = { &e, &env };
	for (int i = optind; i < argc; i++)
		dirwalk(argv[i], scan_one, &w, "filterd scan", &env.errors);
	double wall = clock_mono() - start;
	if (env.timing)
		print_stages(&env);
	if (env.timing)
		fprintf(stderr, "scanned %u file(s) in %.3f s: %.3f ms per message (scan only), %.1f messages/s\n",
		    env.files, wall, env.files ? env.total_time * 1000.0 / env.files : 0.0,
		    wall > 0 ? env.files / wall : 0.0);
	scan_engine_deinit(&e);
	event_base_free(base);
	free(env.rcpt);
	return env.errors ? 1 : 0;
}

int
offline_mime_main(const struct fconf *cfg, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: filterd [--config FILE] mime FILE...\n");
		return 2;
	}
	struct scan_engine e;
	char err[256];
	/* Only the limits are needed: no rules, no Bayes. */
	if (scan_engine_init(&e, cfg, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "filterd mime: %s\n", err);
		return 1;
	}
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		size_t len;
		uint8_t *data = offline_read_file(argv[i], &len);
		if (data == NULL) {
			fprintf(stderr, "filterd mime: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		struct arena *a = arena_new((size_t)cfg->limits.task_memory);
		struct mime_message *m = mime_parse(a, span_make(data, len), &e.mime_limits);
		json_t *o = m ? mime_to_json(m) : json_object();
		if (argc > 2)
			json_object_set_new(o, "filename", json_string(argv[i]));
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
		json_decref(o);
		if (s != NULL)
			puts(s);
		free(s);
		arena_free(&a);
		free(data);
	}
	scan_engine_deinit(&e);
	return rc;
}

int
offline_rules_main(const struct fconf *cfg, int argc, char **argv)
{
	bool list = argc > 1 && strcmp(argv[1], "--list") == 0;
	struct scan_engine e;
	char err[1024];
	if (state_dir_ensure(cfg->state_dir) != 0)
		return 1;
	if (scan_engine_init(&e, cfg, true, err, sizeof(err)) != 0) {
		fprintf(stderr, "filterd rules: %s\n", err);
		return 1;
	}
	if (e.rules == NULL) {
		printf("rules are disabled (rules.enabled: false)\n");
		scan_engine_deinit(&e);
		return 0;
	}
	struct rules_stats rs;
	rules_get_stats(e.rules, &rs);
	for (size_t i = 0; i < rules_nfiles(e.rules); i++)
		printf("file: %s\n", rules_file(e.rules, i));
	printf("rules: %u (header %u, mimeheader %u, body %u, rawbody %u, uri %u, full %u, meta %u)\n",
	    rs.total, rs.header, rs.mimeheader, rs.body, rs.rawbody, rs.uri, rs.full, rs.meta);
	printf("engines: hyperscan %u, pcre2 %u; unsupported %u; failed %u; not run (nothing reads "
	       "them) %u; skipped blocks %u\n",
	    rs.hs_compiled, rs.pcre_fallback, rs.eval_unsupported, rs.failed, rs.unread,
	    rs.skipped_blocks);
	printf("databases: %u (%zu bytes), %s in %.2f s\n", rs.databases, rs.db_bytes,
	    rs.from_cache ? "loaded from cache" : "compiled", rs.compile_seconds);
	for (size_t i = 0; list && i < rules_count(e.rules); i++) {
		struct rules_info info;
		if (!rules_get_info(e.rules, i, &info))
			continue;
		if (info.engine == RULES_ENGINE_UNSUPPORTED)
			printf("%s\t%s\tunsupported:%s\n", info.name, info.type, info.reason ? info.reason : "");
		else if (info.engine == RULES_ENGINE_PCRE2 && info.reason != NULL)
			printf("%s\t%s\t%s\t%s\n", info.name, info.type, rules_engine_name(info.engine),
			    info.reason);
		else
			printf("%s\t%s\t%s\n", info.name, info.type, rules_engine_name(info.engine));
	}
	scan_engine_deinit(&e);
	return 0;
}
