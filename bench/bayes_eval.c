/*
 * bayes_eval - trains Bayes on corpus/train and measures it on corpus/dev.
 *
 * Prints, per configuration: offline learning rate (bulk: one transaction;
 * single: one transaction per message, as the controller learns), the
 * classification time per message (median, p99), ROC AUC of the Bayes
 * probability, spam recall and ham FPR where BAYES_SPAM fires, the recall
 * reachable at FPR <= 0.3 %, and the database size. The whole score
 * (rules + Bayes) at the add-header action and learning over the controller
 * need the daemon: bench/run --accuracy prints them (bench/README.md).
 *
 * usage: bayes_eval [-c corpus] [-w window] [-H 0|1] [-s max_sig] [-d min_dev]
 *                   [-u 0|1] [-x robx] [-r robs] [-S single_n]
 * Without -H both settings (header tokens on, off) are measured.
 * Classification reads the token snapshot as the daemon's workers do;
 * BAYES_EVAL_SQLITE=1 reads SQLite instead.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/clock.h"
#include "fcore/mime.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"
#include "fcore/xalloc.h"
#include "stats/stats.h"

struct mail {
	uint8_t *data;
	size_t len;
	bool spam;
	const char *name;
};

struct set {
	struct mail *v;
	size_t n, cap;
};

/* CPU time of this process: the machine is shared, wall time is noisy. */
static double
cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_dir(struct set *s, const char *dir, bool spam)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		exit(1);
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "rb");
		struct stat sb;
		if (f == NULL || fstat(fileno(f), &sb) != 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			exit(1);
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 1024;
			s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
		}
		struct mail *m = &s->v[s->n++];
		m->len = (size_t)sb.st_size;
		m->data = xmalloc(m->len ? m->len : 1);
		m->spam = spam;
		m->name = xstrdup(path);
		if (fread(m->data, 1, m->len, f) != m->len) {
			fprintf(stderr, "%s: short read\n", path);
			exit(1);
		}
		fclose(f);
		free(names[i]);
	}
	free(names);
}

static void
msg_build(struct msg *m, struct arena *a, const struct mail *ml)
{
	memset(m, 0, sizeof(*m));
	m->arena = a;
	m->raw = span_make(ml->data, ml->len);
	m->mime = mime_parse(a, m->raw, NULL);
}

struct config {
	struct stats_tok_opts tok;
	struct bayes_params bp;
	unsigned single_n;
};

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct scored {
	double p;
	bool spam;
};

static int
cmp_scored(const void *a, const void *b)
{
	return cmp_dbl(&((const struct scored *)a)->p, &((const struct scored *)b)->p);
}

/* Mann-Whitney U with ties counted half. */
static double
auc(struct scored *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_scored);
	double rank_sum = 0, npos = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j].p == v[i].p)
			j++;
		double avg = (double)(i + j + 1) / 2.0;
		for (size_t k = i; k < j; k++)
			if (v[k].spam) {
				rank_sum += avg;
				npos++;
			}
		i = j;
	}
	double nneg = (double)n - npos;
	return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* Best recall with FPR <= maxfpr (v sorted ascending by p). */
static double
recall_at_fpr(const struct scored *v, size_t n, double maxfpr, double *thr_r)
{
	size_t npos = 0, nneg = 0;
	for (size_t i = 0; i < n; i++)
		v[i].spam ? npos++ : nneg++;
	size_t tp = 0, fp = 0;
	double best = 0;
	*thr_r = 1;
	for (size_t i = n; i > 0;) {
		size_t j = i;
		while (j > 0 && v[j - 1].p == v[i - 1].p) {
			v[j - 1].spam ? tp++ : fp++;
			j--;
		}
		if ((double)fp / nneg <= maxfpr && (double)tp / npos > best) {
			best = (double)tp / npos;
			*thr_r = v[i - 1].p;
		}
		i = j;
	}
	return best;
}

static struct stats_ctx *
open_ctx(const char *dbpath, const struct config *cf)
{
	struct fconf *cfg = cfg_defaults();
	char err[512];
	cfg->stats.db = dbpath;
	struct stats_ctx *c = stats_open(cfg, true, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "stats_open: %s\n", err);
		exit(1);
	}
	stats_set_params(c, &cf->tok, &cf->bp);
	cfg_free(&cfg);
	return c;
}

static double
train(struct stats_ctx *c, const struct set *tr, size_t from, size_t to, bool bulk)
{
	char err[512];
	size_t bad = 0;
	double t0 = clock_mono(), c0 = cpu();
	if (bulk)
		stats_learn_begin(c);
	for (size_t i = from; i < to; i++) {
		struct arena *a = arena_new(0);
		struct msg m;
		msg_build(&m, a, &tr->v[i]);
		enum stats_learn_status st = stats_learn(c, &m, tr->v[i].spam, NULL, err, sizeof(err));
		if (st == STATS_LEARN_ERROR) {
			fprintf(stderr, "learn: %s\n", err);
			exit(1);
		}
		bad += st != STATS_LEARN_OK;
		arena_free(&a);
	}
	double tc = clock_mono();
	if (bulk && stats_learn_commit(c) < 0) {
		fprintf(stderr, "commit failed\n");
		exit(1);
	}
	double dt = clock_mono() - t0, dc = cpu() - c0;
	if (bulk)
		printf("  (bulk: %.2f s parse + tokenize + buffer, %.2f s commit)\n", tc - t0, clock_mono() - tc);
	if (bad)
		printf("  (%zu messages not learned: too few tokens or already learned)\n", bad);
	printf("  (%.0f msgs per CPU second)\n", (double)(to - from) / dc);
	return (double)(to - from) / dt;
}

static void
evaluate(struct stats_ctx *c, const struct set *dev, struct symtab *syms)
{
	struct scored *sc = xcalloc(dev->n, sizeof(*sc));
	double *times = xcalloc(dev->n, sizeof(*times));
	double *ctimes = xcalloc(dev->n, sizeof(*ctimes));
	size_t tp = 0, fp = 0, npos = 0, nneg = 0, nover = 0, nnone = 0;
	for (size_t i = 0; i < dev->n; i++) {
		struct arena *a = arena_new(0);
		struct msg m;
		struct scan_result res;
		msg_build(&m, a, &dev->v[i]);
		result_init(&res, a, syms);
		double t0 = clock_mono(), c0 = cpu();
		if (stats_classify(c, &m, &res) < 0) {
			fprintf(stderr, "classify failed\n");
			exit(1);
		}
		times[i] = clock_mono() - t0;
		ctimes[i] = cpu() - c0;
		double p = stats_last_prob(c), lo = stats_last_logodds(c);
		nnone += isnan(p);
		/* rank by the log-odds: the same order as p, without rounding */
		sc[i].p = isnan(lo) ? 0 : lo;
		sc[i].spam = dev->v[i].spam;
		bool fired = result_has(&res, STATS_SYM_SPAM);
		if (getenv("BAYES_EVAL_LIST") != NULL)
			printf("  %s %.3f %s\n", dev->v[i].spam ? "spam" : "ham ", lo, dev->v[i].name);
		dev->v[i].spam ? npos++ : nneg++;
		if (fired)
			dev->v[i].spam ? tp++ : fp++;
		nover += !isnan(p) && (p >= 1.0 || p <= 0.0);
		arena_free(&a);
	}
	qsort(times, dev->n, sizeof(*times), cmp_dbl);
	qsort(ctimes, dev->n, sizeof(*ctimes), cmp_dbl);
	printf("  classify CPU: median %.3f ms, p99 %.3f ms\n", ctimes[dev->n / 2] * 1e3,
	    ctimes[dev->n * 99 / 100] * 1e3);
	double a = auc(sc, dev->n), thr;
	double r3 = recall_at_fpr(sc, dev->n, 0.003, &thr);
	printf("  classify: median %.3f ms, p99 %.3f ms (%zu unclassified, %zu saturated at 0/1)\n",
	    times[dev->n / 2] * 1e3, times[dev->n * 99 / 100] * 1e3, nnone, nover);
	printf("  BAYES_SPAM fired: recall %.3f (%zu/%zu), FPR %.2f %% (%zu/%zu)\n",
	    (double)tp / npos, tp, npos, 100.0 * fp / nneg, fp, nneg);
	printf("  ROC AUC %.5f; best recall at FPR <= 0.3 %%: %.3f (log-odds >= %.2f)\n", a, r3, thr);
	free(sc);
	free(times);
	free(ctimes);
}

static void
run(const struct config *cf, const struct set *tr, const struct set *dev, struct symtab *syms)
{
	char dir[] = "/tmp/bayes_eval.XXXXXX", db[256];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	printf("window %u, header tokens %s, unigrams %s, max_sig %u, min_dev %.3f, s %.3f, x %.3f\n",
	    cf->tok.window, cf->tok.header_tokens ? "on" : "off", cf->tok.unigrams ? "on" : "off",
	    cf->bp.max_sig, cf->bp.min_dev, cf->bp.robs, cf->bp.robx);
	if (cf->single_n > 0) {
		snprintf(db, sizeof(db), "%s/single.sqlite", dir);
		struct stats_ctx *c = open_ctx(db, cf);
		size_t n = cf->single_n < tr->n ? cf->single_n : tr->n;
		printf("  learn, one transaction per message: %.0f msgs/s (%zu messages)\n",
		    train(c, tr, 0, n, false), n);
		stats_close(&c);
	}
	snprintf(db, sizeof(db), "%s/bayes.sqlite", dir);
	struct stats_ctx *c = open_ctx(db, cf);
	printf("  learn, bulk (one transaction): %.0f msgs/s (%zu messages)\n",
	    train(c, tr, 0, tr->n, true), tr->n);
	struct stats_summary sum;
	stats_summary(c, &sum);
	printf("  store: %llu spam + %llu ham learned, %llu tokens, %.1f MiB\n",
	    (unsigned long long)sum.learned_spam, (unsigned long long)sum.learned_ham,
	    (unsigned long long)sum.tokens, sum.size_bytes / 1048576.0);
	/* as the daemon's workers read it: from the snapshot, unless
	 * BAYES_EVAL_SQLITE is set (the B-tree lookups, for comparison) */
	char err[512];
	double t0 = clock_mono();
	long ns = getenv("BAYES_EVAL_SQLITE") ? 0 : stats_snapshot_write(c, err, sizeof(err));
	if (ns < 0)
		fprintf(stderr, "snapshot: %s\n", err);
	else if (ns > 0)
		printf("  snapshot: %ld tokens written in %.3f s\n", ns, clock_mono() - t0);
	evaluate(c, dev, syms);
	printf("  token counts read from: %s\n", stats_last_from_snapshot(c) ? "snapshot" : "SQLite");
	stats_close(&c);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int
main(int argc, char **argv)
{
	const char *corpus = CORPUS_DIR;
	struct config cf;
	int headers = -1, opt;
	stats_tok_opts_from_cfg(&cf.tok, NULL);
	bayes_params_default(&cf.bp);
	cf.single_n = 500;
	while ((opt = getopt(argc, argv, "c:w:H:s:d:u:x:r:S:")) != -1) {
		switch (opt) {
		case 'c': corpus = optarg; break;
		case 'w': cf.tok.window = (unsigned)atoi(optarg); break;
		case 'H': headers = atoi(optarg); break;
		case 's': cf.bp.max_sig = (unsigned)atoi(optarg); break;
		case 'd': cf.bp.min_dev = atof(optarg); break;
		case 'u': cf.tok.unigrams = atoi(optarg) != 0; break;
		case 'x': cf.bp.robx = atof(optarg); break;
		case 'r': cf.bp.robs = atof(optarg); break;
		case 'S': cf.single_n = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-c corpus] [-w window] [-H 0|1] [-s max_sig] "
			    "[-d min_dev] [-u 0|1] [-x robx] [-r robs] [-S single_n]\n", argv[0]);
			return 2;
		}
	}
	struct set tr = { 0 }, dev = { 0 };
	char path[4096];
	snprintf(path, sizeof(path), "%s/train/ham", corpus);
	load_dir(&tr, path, false);
	snprintf(path, sizeof(path), "%s/train/spam", corpus);
	load_dir(&tr, path, true);
	snprintf(path, sizeof(path), "%s/dev/ham", corpus);
	load_dir(&dev, path, false);
	snprintf(path, sizeof(path), "%s/dev/spam", corpus);
	load_dir(&dev, path, true);
	printf("corpus %s: train %zu, dev %zu messages\n", corpus, tr.n, dev.n);
	struct symtab *syms = symtab_new();
	stats_register_symbols(syms);
	for (int h = 1; h >= 0; h--) {
		if (headers >= 0 && h != headers)
			continue;
		cf.tok.header_tokens = h;
		run(&cf, &tr, &dev, syms);
	}
	symtab_free(&syms);
	return 0;
}
