/*
 * offline_learn - `filterd learn --spam|--ham [-d user] FILE|DIR...`: bulk
 * training straight into the Bayes database, for a first training or when
 * the daemon is down. The same parse and stats_learn() as the controller's
 * /learnspam, but many learns share one transaction (stats_learn_begin /
 * commit): a lone learn rewrites every B-tree page it touches, a batch
 * rewrites each page once.
 *
 * SQLite's lock keeps this safe next to a running controller (a batch waits
 * for the writer lock and holds it for its commit), but the controller's
 * learns then wait too: meant for quiet moments.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcore/dirwalk.h"
#include "fcore/mime.h"
#include "offline.h"
#include "scan.h"
#include "stats/stats.h"
#include "statedir.h"

#define WHO "filterd learn"
#define DEFAULT_BATCH 1000

struct learn_counts {
	unsigned learned;
	unsigned already;
	unsigned too_few;
};

struct learn_run {
	struct scan_engine e;
	bool spam;
	bool verbose;
	const char *user;
	unsigned batch_max;
	unsigned in_batch;
	struct learn_counts done;  /* committed */
	struct learn_counts batch; /* in the open transaction */
	unsigned errors;           /* unreadable files and store errors */
	bool failed;               /* a store error: the run stopped */
};

static void
counts_add(struct learn_counts *to, const struct learn_counts *from)
{
	to->learned += from->learned;
	to->already += from->already;
	to->too_few += from->too_few;
}

static int
batch_begin(struct learn_run *r)
{
	memset(&r->batch, 0, sizeof(r->batch));
	r->in_batch = 0;
	if (stats_learn_begin(r->e.stats) != 0) {
		fprintf(stderr, WHO ": cannot start a transaction on the bayes database\n");
		r->errors++;
		r->failed = true;
		return -1;
	}
	return 0;
}

static int
batch_commit(struct learn_run *r)
{
	if (stats_learn_commit(r->e.stats) != 0) {
		fprintf(stderr, WHO ": commit failed: %u learn(s) of this batch are lost\n",
		    r->batch.learned);
		r->errors++;
		r->failed = true;
		return -1;
	}
	counts_add(&r->done, &r->batch);
	memset(&r->batch, 0, sizeof(r->batch));
	r->in_batch = 0;
	return 0;
}

static void
count_status(struct learn_run *r, const char *path, enum stats_learn_status st, const char *err)
{
	switch (st) {
	case STATS_LEARN_OK:
		r->batch.learned++;
		if (r->verbose)
			printf("%s: learned as %s\n", path, r->spam ? "spam" : "ham");
		break;
	case STATS_LEARN_ALREADY:
		r->batch.already++;
		if (r->verbose)
			printf("%s: %s\n", path, err);
		break;
	case STATS_LEARN_TOO_FEW_TOKENS:
		r->batch.too_few++;
		if (r->verbose)
			printf("%s: %s\n", path, err);
		break;
	default:
		break;
	}
}

/* A store error leaves the transaction unusable: everything since the last
 * commit is rolled back and the run stops, so the summary is exact. */
static int
learn_failed(struct learn_run *r, const char *path, const char *err)
{
	fprintf(stderr, WHO ": %s: %s; %u learn(s) since the last commit rolled back\n", path, err,
	    r->batch.learned);
	stats_learn_rollback(r->e.stats);
	memset(&r->batch, 0, sizeof(r->batch));
	r->errors++;
	r->failed = true;
	return -1;
}

static int
learn_one(const char *path, void *arg)
{
	struct learn_run *r = arg;
	size_t len;
	uint8_t *data = offline_read_file(path, &len);
	if (data == NULL) {
		fprintf(stderr, WHO ": %s: %s\n", path, strerror(errno));
		r->errors++;
		return 0;
	}
	struct scan_task *t = scan_task_new(&r->e, span_make(data, len));
	if (t == NULL) {
		free(data);
		return learn_failed(r, path, "cannot allocate a task");
	}
	t->msg.env.deliver_to = r->user;
	t->msg.mime = mime_parse(t->arena, t->msg.raw, &r->e.mime_limits);
	const char *user = r->e.cfg->stats.per_user ? r->user : NULL;
	char err[512];
	enum stats_learn_status st = stats_learn(r->e.stats, &t->msg, r->spam, user, err, sizeof(err));
	scan_task_free(&t);
	free(data);
	if (st == STATS_LEARN_ERROR)
		return learn_failed(r, path, err);
	count_status(r, path, st, err);
	if (++r->in_batch >= r->batch_max && (batch_commit(r) != 0 || batch_begin(r) != 0))
		return -1;
	return 0;
}

static void
learn_usage(void)
{
	fprintf(stderr, "usage: filterd [--config FILE] learn --spam|--ham [-d user] [--batch N] [-v] "
	                "FILE|DIR...\n");
}

static int
parse_args(struct learn_run *r, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "spam", no_argument, NULL, 's' }, { "ham", no_argument, NULL, 'H' },
		{ "deliver", required_argument, NULL, 'd' }, { "batch", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' }, { NULL, 0, NULL, 0 },
	};
	int ch, classes = 0;
	optind = 0; /* GNU getopt: 0 re-initialises, so options may follow files */
	while ((ch = getopt_long(argc, argv, "d:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': r->spam = true; classes |= 1; break;
		case 'H': r->spam = false; classes |= 2; break;
		case 'd': r->user = optarg; break;
		case 'b': r->batch_max = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'v': r->verbose = true; break;
		default: return -1;
		}
	}
	if ((classes != 1 && classes != 2) || optind >= argc || r->batch_max == 0)
		return -1;
	return 0;
}

static double
cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wall and CPU rates both: the CPU one is what the code costs on a busy machine. */
static void
print_summary(const struct learn_run *r, double wall, double cpu)
{
	const struct learn_counts *c = &r->done;
	unsigned n = c->learned + c->already + c->too_few;
	printf("%s: %u learned, %u already learned, %u too few tokens, %u error(s); "
	       "%u message(s) in %.3f s, %.1f messages/s (%.0f per CPU second)%s\n",
	    r->spam ? "spam" : "ham", c->learned, c->already, c->too_few, r->errors, n, wall,
	    wall > 0 ? n / wall : 0.0, cpu > 0 ? n / cpu : 0.0,
	    r->failed ? " (stopped at a store error)" : "");
}

/* The daemon's workers then start from a current snapshot instead of
 * waiting for the controller's first rewrite. */
static void
write_snapshot(struct learn_run *r)
{
	char err[512];
	double t0 = clock_mono();
	long n = stats_snapshot_write(r->e.stats, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, WHO ": bayes snapshot: %s\n", err);
	else if (n > 0)
		printf("bayes snapshot: %ld tokens written in %.3f s\n", n, clock_mono() - t0);
}

int
offline_learn_main(const struct fconf *cfg, int argc, char **argv)
{
	struct learn_run r;
	memset(&r, 0, sizeof(r));
	r.batch_max = DEFAULT_BATCH;
	if (parse_args(&r, argc, argv) != 0) {
		learn_usage();
		return 2;
	}
	if (!cfg->stats.enabled) {
		fprintf(stderr, WHO ": Bayes is disabled (stats.enabled: false)\n");
		return 1;
	}
	char err[1024];
	if (state_dir_ensure(cfg->state_dir) != 0)
		return 1;
	/* No rules: learning needs the parser and the store only. */
	if (scan_engine_init(&r.e, cfg, false, err, sizeof(err)) != 0 ||
	    scan_engine_attach(&r.e, true, err, sizeof(err)) != 0) {
		fprintf(stderr, WHO ": %s\n", err);
		scan_engine_deinit(&r.e);
		return 1;
	}
	double start = clock_mono(), cpu0 = cpu_seconds();
	if (batch_begin(&r) == 0) {
		for (int i = optind; i < argc && !r.failed; i++)
			dirwalk(argv[i], learn_one, &r, WHO, &r.errors);
		if (!r.failed)
			batch_commit(&r);
	}
	print_summary(&r, clock_mono() - start, cpu_seconds() - cpu0);
	write_snapshot(&r);
	scan_engine_deinit(&r.e);
	return r.errors ? 1 : 0;
}
