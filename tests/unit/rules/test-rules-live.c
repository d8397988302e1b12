/* test-rules-live.c - rules nothing reads are not matched (rules_live.c):
 * a __ sub-rule read only by a meta filterd cannot run costs no PCRE2 time
 * and reads 0, while scored rules and the inputs of live metas still hit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

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

/* Back-references send every pattern here to PCRE2; "pill " and "spam "
 * are gate literals, the __*_SUB ones have none. */
static const char rules_text[] =
	"body B_GATED /pill (\\w) \\1/\n"
	"body __LIVE_GATED /spam (\\w) \\1/\n"
	"body __DEAD_GATED /spam (\\w) \\1/\n"
	"body __LIVE_SUB /(\\w)(\\w) \\2\\1/\n"
	"body __DEAD_SUB /(\\w)(\\w) \\2\\1/\n"
	"body __DEAD_MULTI /(\\w) \\1/\n"
	"tflags __DEAD_MULTI multiple\n"
	"header __NO_EVAL eval:check_that_does_not_exist()\n"
	"meta M_LIVE __LIVE_GATED && __LIVE_SUB\n"
	"meta __M_MID __LIVE_SUB\n"
	"meta M_TOP __M_MID\n"
	"meta M_DEAD (__DEAD_GATED || __DEAD_SUB || __DEAD_MULTI) && __NO_EVAL\n";

static const char msg_text[] =
	"From: a@example.com\n"
	"Subject: hello\n"
	"\n"
	"pill x x\n\n"
	"spam y y\n\n"
	"ab ba\n";

static void
test_dead_rules_skipped(void **state)
{
	(void)state;
	char path[] = "/tmp/test-rules-live-XXXXXX.cf";
	int fd = mkstemps(path, 3);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rules_text, strlen(rules_text)), (ssize_t)strlen(rules_text));
	close(fd);
	struct fconf *c = cfg_defaults();
	const char *paths[] = { path };
	c->rules.paths.v = paths;
	c->rules.paths.n = 1;
	c->rules.cache = false;
	struct symtab *st = symtab_new();
	char err[512];
	log_set_level(LOG_LVL_ERROR);
	struct rules_db *db = rules_load(c, st, err, sizeof(err));
	if (db == NULL)
		fail_msg("%s", err);
	struct rules_scratch *s = rules_scratch_new(db);

	struct arena *a = arena_new(0);
	struct msg m;
	memset(&m, 0, sizeof(m));
	m.arena = a;
	m.raw = span_make((const uint8_t *)msg_text, sizeof(msg_text) - 1);
	m.mime = mime_parse(a, m.raw, NULL);
	assert_non_null(m.mime);
	struct scan_result res;
	result_init(&res, a, st);
	assert_true(rules_run(db, s, &m, &res) >= 0);

	/* live: scored, or read by a live meta (also through a __ meta) */
	assert_true(result_has(&res, "B_GATED"));
	assert_true(result_has(&res, "M_LIVE"));
	assert_true(result_has(&res, "M_TOP"));
	assert_int_equal(rules_scratch_hits(db, s, "__LIVE_GATED"), 1);
	assert_int_equal(rules_scratch_hits(db, s, "__LIVE_SUB"), 1);
	assert_int_equal(rules_scratch_hits(db, s, "__M_MID"), 1);
	/* dead: the same patterns, read only by a meta over an unsupported
	 * eval, are not run at all */
	assert_int_equal(rules_scratch_hits(db, s, "__DEAD_GATED"), 0);
	assert_int_equal(rules_scratch_hits(db, s, "__DEAD_SUB"), 0);
	assert_false(result_has(&res, "M_DEAD"));

	arena_free(&a);
	rules_scratch_free(&s);
	rules_free(&db);
	symtab_free(&st);
	cfg_free(&c);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_rules_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
