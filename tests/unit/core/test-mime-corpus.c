/*
 * test-mime-corpus - every message in CORPUS_DIR/{train,dev,mime} parses,
 * converts to JSON, and takes less than 100 ms. Run under the ASan+UBSan
 * build this is the sanitizer sweep of design.md. It prints throughput and
 * anomaly counts per kind (the parse-quality figures of the MIME issue).
 * A missing corpus skips the test rather than passing it silently.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/mime.h"
#include "fcore/mime_json.h"

#define MAX_MS 100.0

static struct {
	size_t files, bytes, parts, slow;
	double secs, worst_ms;
	char worst[512];
	size_t anomalies[MIME_ANOMALY_COUNT];
} st;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: a loaded CI machine must not fail it */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
skip_name(const char *path)
{
	static const char *const skip[] = { "/README.md", "/MANIFEST", "/SOURCES.tsv", "/READY" };
	if (strstr(path, "/LICENSES/") != NULL)
		return true;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		size_t n = strlen(skip[i]), l = strlen(path);
		if (l >= n && strcmp(path + l - n, skip[i]) == 0)
			return true;
	}
	return false;
}

static void
one(const char *path, const uint8_t *data, size_t len)
{
	struct arena *a = arena_new(0);
	double t0 = now();
	struct mime_message *m = mime_parse(a, span_make(data, len), NULL);
	double dt = now() - t0;

	assert_non_null(m);
	assert_true(m->nparts >= 1);
	for (size_t i = 0; i < m->nparts; i++) {
		assert_int_equal(m->parts[i].index, i);
		assert_true(m->parts[i].parent < (int)i);
	}
	for (size_t i = 0; i < m->nanomalies; i++)
		st.anomalies[m->anomalies[i].kind]++;
	json_t *j = mime_to_json(m);
	char *s = json_dumps(j, 0);
	assert_non_null(s);
	free(s);
	json_decref(j);
	st.files++;
	st.bytes += len;
	st.parts += m->nparts;
	st.secs += dt;
	if (dt * 1000 > st.worst_ms) {
		st.worst_ms = dt * 1000;
		snprintf(st.worst, sizeof(st.worst), "%s", path);
	}
	if (dt * 1000 > MAX_MS) {
		fprintf(stderr, "slow: %s %.1f ms\n", path, dt * 1000);
		st.slow++;
	}
	arena_free(&a);
}

static int
visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || skip_name(path))
		return 0;
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t *buf = malloc((size_t)sb->st_size + 1);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (size_t)sb->st_size, f);
	fclose(f);
	/* an exact-size heap copy: ASan catches any read past the end */
	uint8_t *exact = malloc(n ? n : 1);
	memcpy(exact, buf, n);
	free(buf);
	one(path, exact, n);
	free(exact);
	return 0;
}

static void
test_corpus(void **state)
{
	(void)state;
	static const char *const dirs[] = { "train", "dev", "mime" };
	char path[4096];
	struct stat sb;

	if (stat(CORPUS_DIR, &sb) != 0)
		skip();
	/* first parse loads libmagic; keep that out of the timings */
	struct arena *a = arena_new(0);
	mime_parse(a, SPAN_LIT("Content-Type: application/octet-stream\n\nx"), NULL);
	arena_free(&a);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, dirs[i]);
		if (stat(path, &sb) == 0)
			assert_int_equal(nftw(path, visit, 16, FTW_PHYS), 0);
	}
	printf("files %zu, %.1f MiB, %zu parts, %.2f s parse: %.1f MB/s, %.0f msgs/s; "
	       "worst %.1f ms (%s); over %.0f ms: %zu\n",
	    st.files, st.bytes / 1048576.0, st.parts, st.secs, st.bytes / 1e6 / st.secs,
	    st.files / st.secs, st.worst_ms, st.worst, MAX_MS, st.slow);
	for (int k = 0; k < MIME_ANOMALY_COUNT; k++)
		if (st.anomalies[k])
			printf("  %-28s %zu\n", mime_anomaly_symbol(k), st.anomalies[k]);
	assert_true(st.files > 0);
	assert_int_equal(st.slow, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
