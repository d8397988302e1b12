/*
 * mime_bench - parse + extract throughput of core's MIME layer on one core.
 *
 *   mime_bench [DIR...]     default: ../shared/corpus/train
 *
 * Every file is read into memory first; then each is parsed (mime_parse,
 * which runs the extract step) PASSES times in a fresh arena. Prints MB/s
 * and messages/s in CPU time of this thread (a loaded machine does not
 * distort it), plus the anomalies found per kind on the first pass.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/mime.h"
#include "fcore/xalloc.h"

#define PASSES 3

struct file {
	uint8_t *data;
	size_t len;
};

static struct file *files;
static size_t nfiles;

static void
load(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || strcmp(e->d_name, "MANIFEST") == 0)
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			load(sub);
		}
		if (d)
			closedir(d);
		return;
	}
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return;
	files = xreallocarray(files, nfiles + 1, sizeof(*files));
	files[nfiles].data = xmalloc((size_t)st.st_size + 1);
	files[nfiles].len = fread(files[nfiles].data, 1, (size_t)st.st_size, f);
	nfiles++;
	fclose(f);
}

static double
cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		load(CORPUS_DIR "/train");
	for (int i = 1; i < argc; i++)
		load(argv[i]);
	if (nfiles == 0) {
		fprintf(stderr, "mime_bench: no messages\n");
		return 1;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < nfiles; i++)
		bytes += files[i].len;
	struct mime_limits lim;
	mime_limits_default(&lim);
	unsigned long anomalies[MIME_ANOMALY_COUNT] = { 0 };
	size_t urls = 0, words = 0;
	double best = 1e300;
	for (int pass = 0; pass < PASSES; pass++) {
		double t0 = cpu_now();
		for (size_t i = 0; i < nfiles; i++) {
			struct arena *a = arena_new(512u << 20);
			struct mime_message *m = mime_parse(a, span_make(files[i].data, files[i].len), &lim);
			if (pass == 0 && m != NULL) {
				for (size_t k = 0; k < m->nanomalies; k++)
					anomalies[m->anomalies[k].kind]++;
				urls += m->nurls;
				words += m->nwords;
			}
			arena_free(&a);
		}
		double dt = cpu_now() - t0;
		if (dt < best)
			best = dt;
	}
	printf("parse+extract: %zu messages, %.1f MB, best of %d: %.3f CPU-s = %.1f MB/s, %.0f messages/s "
	       "(%.3f ms per message); %zu URLs, %zu words\n",
	    nfiles, bytes / 1e6, PASSES, best, bytes / 1e6 / best, nfiles / best, best * 1000.0 / nfiles, urls,
	    words);
	printf("anomalies (messages x kind):\n");
	for (int k = 0; k < MIME_ANOMALY_COUNT; k++)
		if (anomalies[k])
			printf("  %-28s %lu\n", mime_anomaly_symbol((enum mime_anomaly)k), anomalies[k]);
	return 0;
}
