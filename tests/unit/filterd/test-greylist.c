/*
 * test-greylist.c - the greylist store and decision on a real SQLite file,
 * with the clock passed in (never slept), and the scan hook on real tasks.
 */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fcore/cfg.h"
#include "fcore/msg.h"
#include "fcore/result.h"
#include "greylist.h"
#include "scan.h"

#define T0 1700000000

struct fx {
	char dir[64];
	struct fconf *cfg;
	struct greylist *g;
};

static struct fx *
fx_new(const char *yaml)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512], text[2048];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-greylist-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(text, sizeof(text), "state_dir: %s\ngreylist:\n  enabled: true\n%s", f->dir,
	    yaml ? yaml : "");
	f->cfg = cfg_load_buffer("t.yaml", text, strlen(text), err, sizeof(err));
	if (f->cfg == NULL)
		fail_msg("config: %s", err);
	assert_int_equal(greylist_prepare(f->cfg, err, sizeof(err)), 0);
	f->g = greylist_open(f->cfg, err, sizeof(err));
	if (f->g == NULL)
		fail_msg("open: %s", err);
	return f;
}

static void
fx_free(struct fx *f)
{
	char path[128];

	greylist_close(&f->g);
	for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", NULL }; *sfx; sfx++) {
		snprintf(path, sizeof(path), "%s/greylist.sqlite%s", f->dir, *sfx);
		unlink(path);
	}
	rmdir(f->dir);
	cfg_free(&f->cfg);
	free(f);
}

static struct greylist_request
req_of(const char *ip, const char *from, const char *const *rcpt, size_t nrcpt, int64_t now)
{
	struct greylist_request r;
	struct in_addr v4;

	memset(&r, 0, sizeof(r));
	if (inet_pton(AF_INET, ip, &v4) == 1) {
		r.ip_is_v4 = true;
		r.ip.s6_addr[10] = r.ip.s6_addr[11] = 0xff;
		memcpy(r.ip.s6_addr + 12, &v4, 4);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &r.ip), 1);
	}
	r.from = from;
	r.rcpt = rcpt;
	r.nrcpt = nrcpt;
	r.now = now;
	return r;
}

static struct greylist_decision
check(struct fx *f, const char *ip, const char *from, const char *rcpt, int64_t now)
{
	const char *rcpts[] = { rcpt };
	struct greylist_request r = req_of(ip, from, rcpts, 1, now);
	struct greylist_decision d;
	char err[256];

	if (greylist_check(f->g, &r, &d, err, sizeof(err)) != 0)
		fail_msg("check: %s", err);
	return d;
}

static void
test_first_early_then_pass(void **state)
{
	struct fx *f = fx_new(NULL);
	struct greylist_decision d;

	(void)state;
	d = check(f, "192.0.2.10", "a@example.org", "b@example.com", T0);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "new record");
	assert_int_equal(d.wait, 300);
	d = check(f, "192.0.2.10", "a@example.org", "b@example.com", T0 + 100);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "too early");
	assert_int_equal(d.wait, 200);
	d = check(f, "192.0.2.10", "a@example.org", "b@example.com", T0 + 299);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	d = check(f, "192.0.2.10", "a@example.org", "b@example.com", T0 + 300);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	assert_int_equal(d.delayed, 300);
	assert_int_equal(d.client_passes, 1);
	/* Later passes are not "delayed" any more. */
	d = check(f, "192.0.2.10", "a@example.org", "b@example.com", T0 + 400);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	assert_int_equal(d.delayed, 0);
	/* Another recipient is a new triplet. */
	d = check(f, "192.0.2.10", "a@example.org", "c@example.com", T0 + 400);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	fx_free(f);
}

static void
test_retry_window(void **state)
{
	struct fx *f = fx_new("  delay: 60s\n  retry_window: 1h\n");
	struct greylist_decision d;

	(void)state;
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0).verdict, GREYLIST_DEFER);
	/* First retry after delay + window: starts over. */
	d = check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 60 + 3600 + 1);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "retry window passed");
	assert_int_equal(d.wait, 60);
	d = check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 60 + 3600 + 61);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	/* Once passed, the window no longer matters. */
	d = check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 5 * 86400);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	fx_free(f);
}

static void
test_auto_whitelist(void **state)
{
	struct fx *f = fx_new("  auto_whitelist: 3\n");
	struct greylist_decision d;
	int64_t t = T0;

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", t);
	t += 300;
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", t).client_passes, 1);
	/* Within the hour: the pass does not count again (postgrey). */
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", t + 10).client_passes, 1);
	t += 3600;
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", t).client_passes, 2);
	/* Not whitelisted yet: a new triplet of this client waits. */
	assert_int_equal(check(f, "192.0.2.1", "new@x.org", "b@y.com", t).verdict, GREYLIST_DEFER);
	t += 3600;
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", t).client_passes, 3);
	/* Now every triplet of the /24 passes at once. */
	d = check(f, "192.0.2.99", "other@z.org", "q@y.com", t + 1);
	assert_int_equal(d.verdict, GREYLIST_WHITELISTED);
	/* Another network does not. */
	assert_int_equal(check(f, "192.0.3.1", "other@z.org", "q@y.com", t + 1).verdict,
	    GREYLIST_DEFER);
	fx_free(f);
}

static void
test_auto_whitelist_off(void **state)
{
	struct fx *f = fx_new("  auto_whitelist: 0\n");
	int64_t t = T0;

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", t);
	for (int i = 0; i < 5; i++) {
		t += 3600;
		assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", t).verdict, GREYLIST_PASS);
	}
	assert_int_equal(check(f, "192.0.2.1", "n@x.org", "b@y.com", t).verdict, GREYLIST_DEFER);
	fx_free(f);
}

static void
test_expiry_and_sweep(void **state)
{
	struct fx *f = fx_new("  expire: 2d\n");
	struct greylist_decision d;
	int64_t old = T0 + 300 + 2 * 86400 + 1;

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", T0);
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 300).verdict, GREYLIST_PASS);
	check(f, "192.0.2.1", "a@x.org", "c@y.com", T0 + 300);
	check(f, "192.0.2.1", "a@x.org", "d@y.com", T0 + 300);
	/* Seen within expire: still known. */
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 86400).verdict,
	    GREYLIST_PASS);
	/* Three triplets and the client row, last seen T0 + 300 .. T0 + 86400. */
	assert_int_equal(greylist_sweep(f->g, T0 + 86400, 100), 0);
	/* Bounded: at most max rows per call. */
	assert_int_equal(greylist_sweep(f->g, old, 1), 1);
	assert_int_equal(greylist_sweep(f->g, old, 100), 1);
	assert_int_equal(greylist_sweep(f->g, old, 100), 0);
	/* b was seen at T0 + 86400: gone once that is older than expire. */
	d = check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 86400 + 2 * 86400 + 1);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "new record");
	fx_free(f);
}

static void
test_expired_before_sweep(void **state)
{
	struct fx *f = fx_new("  expire: 2d\n");
	struct greylist_decision d;

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", T0);
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 300).verdict, GREYLIST_PASS);
	/* The lookup itself ignores a stale row (the sweep comes after it). */
	d = check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 300 + 2 * 86400 + 1);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "new record");
	fx_free(f);
}

static void
test_masks(void **state)
{
	struct fx *f = fx_new(NULL);
	char k[64];
	struct in6_addr a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.s6_addr[10] = a.s6_addr[11] = 0xff;
	a.s6_addr[12] = 192, a.s6_addr[13] = 0, a.s6_addr[14] = 2, a.s6_addr[15] = 77;
	greylist_client_key(k, sizeof(k), &a, true, 24, 64);
	assert_string_equal(k, "192.0.2.0/24");
	greylist_client_key(k, sizeof(k), &a, true, 20, 64);
	assert_string_equal(k, "192.0.0.0/20");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &a), 1);
	greylist_client_key(k, sizeof(k), &a, false, 24, 64);
	assert_string_equal(k, "2001:db8:1:2::/64");
	greylist_client_key(k, sizeof(k), &a, false, 24, 48);
	assert_string_equal(k, "2001:db8:1::/48");
	/* One /24 is one client; the next /24 is not. */
	check(f, "192.0.2.5", "a@x.org", "b@y.com", T0);
	assert_int_equal(check(f, "192.0.2.200", "a@x.org", "b@y.com", T0 + 300).verdict,
	    GREYLIST_PASS);
	assert_int_equal(check(f, "192.0.3.5", "a@x.org", "b@y.com", T0 + 300).verdict,
	    GREYLIST_DEFER);
	/* One /64 likewise. */
	check(f, "2001:db8:1:2::1", "a@x.org", "b@y.com", T0);
	assert_int_equal(check(f, "2001:db8:1:2:ffff::9", "a@x.org", "b@y.com", T0 + 300).verdict,
	    GREYLIST_PASS);
	assert_int_equal(check(f, "2001:db8:1:3::1", "a@x.org", "b@y.com", T0 + 300).verdict,
	    GREYLIST_DEFER);
	fx_free(f);
}

static void
test_sender_key(void **state)
{
	char k[128];

	(void)state;
	greylist_sender_key(k, sizeof(k), "prvs=1234abcd=User+ext@Example.COM");
	assert_string_equal(k, "user@example.com");
	greylist_sender_key(k, sizeof(k), "bounce-123-x@a.org");
	assert_string_equal(k, "bounce-#-x@a.org");
	greylist_sender_key(k, sizeof(k), "user123@a.org");
	assert_string_equal(k, "user123@a.org");
	greylist_sender_key(k, sizeof(k), "42@a.org");
	assert_string_equal(k, "#@a.org");
	greylist_sender_key(k, sizeof(k), "");
	assert_string_equal(k, "");
	greylist_sender_key(k, 4, "abcdef@x");
	assert_string_equal(k, "abc");
}

static void
test_several_recipients(void **state)
{
	struct fx *f = fx_new(NULL);
	const char *both[] = { "b@y.com", "c@y.com" };
	struct greylist_request r;
	struct greylist_decision d;
	char err[256];

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", T0);
	assert_int_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 300).verdict, GREYLIST_PASS);
	/* b passed, c is new: the message waits and c is recorded. */
	r = req_of("192.0.2.1", "a@x.org", both, 2, T0 + 400);
	assert_int_equal(greylist_check(f->g, &r, &d, err, sizeof(err)), 0);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "new record");
	r.now = T0 + 650;
	assert_int_equal(greylist_check(f->g, &r, &d, err, sizeof(err)), 0);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	assert_string_equal(d.why, "too early");
	assert_int_equal(d.wait, 50);
	r.now = T0 + 700;
	assert_int_equal(greylist_check(f->g, &r, &d, err, sizeof(err)), 0);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	assert_int_equal(d.delayed, 300);
	/* No recipient at all: one triplet with an empty recipient. */
	r = req_of("192.0.2.1", "", NULL, 0, T0);
	assert_int_equal(greylist_check(f->g, &r, &d, err, sizeof(err)), 0);
	assert_int_equal(d.verdict, GREYLIST_DEFER);
	r.now = T0 + 300;
	assert_int_equal(greylist_check(f->g, &r, &d, err, sizeof(err)), 0);
	assert_int_equal(d.verdict, GREYLIST_PASS);
	fx_free(f);
}

static void
test_survives_reopen(void **state)
{
	struct fx *f = fx_new(NULL);
	char err[256];

	(void)state;
	check(f, "192.0.2.1", "a@x.org", "b@y.com", T0);
	greylist_close(&f->g);
	assert_int_equal(greylist_prepare(f->cfg, err, sizeof(err)), 0);
	f->g = greylist_open(f->cfg, err, sizeof(err));
	assert_non_null(f->g);
	assert_string_equal(check(f, "192.0.2.1", "a@x.org", "b@y.com", T0 + 10).why, "too early");
	fx_free(f);
}

static void
test_schema_version_checked(void **state)
{
	struct fx *f = fx_new(NULL);
	char err[512], path[128];
	sqlite3 *db;

	(void)state;
	greylist_close(&f->g);
	snprintf(path, sizeof(path), "%s/greylist.sqlite", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	err[0] = '\0';
	assert_null(greylist_open(f->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "schema version 7, expected 1"));
	assert_int_equal(greylist_prepare(f->cfg, err, sizeof(err)), -1);
	fx_free(f);
}

static void
test_disabled_creates_nothing(void **state)
{
	char dir[] = "/tmp/test-greylist-off-XXXXXX", text[256], err[256], path[300];
	struct fconf *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text), "state_dir: %s\n", dir);
	cfg = cfg_load_buffer("t.yaml", text, strlen(text), err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(greylist_prepare(cfg, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/greylist.sqlite", dir);
	assert_int_equal(access(path, F_OK), -1);
	cfg_free(&cfg);
	rmdir(dir);
}

/* ---------------------------------------------------------------- */
/* The scan hook                                                      */
/* ---------------------------------------------------------------- */

struct hook {
	struct fx *f;
	struct scan_engine e;
};

static struct hook *
hook_new(const char *yaml)
{
	struct hook *h = calloc(1, sizeof(*h));
	char err[256];

	h->f = fx_new(yaml);
	assert_int_equal(scan_engine_init(&h->e, h->f->cfg, false, err, sizeof(err)), 0);
	h->e.greylist = h->f->g;
	return h;
}

static void
hook_free(struct hook *h)
{
	h->e.greylist = NULL;
	scan_engine_deinit(&h->e);
	fx_free(h->f);
	free(h);
}

/* A finished task with this action and envelope, as scan_finish has it. */
static struct scan_task *
task(struct hook *h, enum action a, const char *user, bool local, int64_t now)
{
	static const char raw[] = "Subject: x\r\n\r\nbody\r\n";
	struct scan_task *t = scan_task_new(&h->e, span_make(raw, sizeof(raw) - 1));

	assert_non_null(t);
	assert_true(envelope_set_ip(&t->msg.env, t->arena, "198.51.100.7"));
	t->msg.env.mail_from = "s@example.org";
	envelope_add_rcpt(&t->msg.env, t->arena, "r@example.com");
	t->msg.env.user = user;
	t->msg.env.local_client = local;
	t->now = (time_t)now;
	/* Thresholds that give score 0 this action, finalized as scan_finish does. */
	for (int i = 0; i < ACTION_COUNT; i++)
		t->actions.score[i] = i == (int)a ? 0.0 : NAN;
	result_finalize(&t->result, &t->actions, NULL);
	assert_int_equal(t->result.action, a);
	return t;
}

static const struct fired_symbol *
run_hook(struct hook *h, struct scan_task *t)
{
	if (greylist_scan(h->e.greylist, t))
		result_finalize(&t->result, &t->actions, NULL);
	return result_find(&t->result, "GREYLIST");
}

static void
test_hook_score_mode(void **state)
{
	struct hook *h = hook_new("  mode: score\n");
	struct scan_task *t;
	const struct fired_symbol *s;

	(void)state;
	/* Below the greylist threshold: untouched, nothing recorded. */
	t = task(h, ACTION_NO_ACTION, NULL, false, T0);
	assert_null(run_hook(h, t));
	assert_int_equal(t->result.action, ACTION_NO_ACTION);
	scan_task_free(&t);
	/* In the band: soft reject with the retry message. */
	t = task(h, ACTION_GREYLIST, NULL, false, T0);
	s = run_hook(h, t);
	assert_non_null(s);
	assert_int_equal(t->result.action, ACTION_SOFT_REJECT);
	assert_string_equal(result_get_message(&t->result, "smtp_message"), "Try again later");
	assert_int_equal(s->noptions, 3);
	assert_string_equal(s->options[0], "greylisted");
	assert_string_equal(s->options[1], "new record");
	assert_string_equal(s->options[2], "retry in 300 s");
	assert_true(s->score == 0.0);
	scan_task_free(&t);
	/* Reject stays reject. */
	t = task(h, ACTION_REJECT, NULL, false, T0);
	assert_null(run_hook(h, t));
	scan_task_free(&t);
	/* After the delay an add-header message passes and keeps its action. */
	t = task(h, ACTION_ADD_HEADER, NULL, false, T0 + 300);
	s = run_hook(h, t);
	assert_non_null(s);
	assert_int_equal(t->result.action, ACTION_ADD_HEADER);
	assert_string_equal(s->options[0], "pass");
	assert_string_equal(s->options[1], "delayed 300 s");
	assert_null(result_get_message(&t->result, "smtp_message"));
	scan_task_free(&t);
	hook_free(h);
}

static void
test_hook_always_mode(void **state)
{
	struct hook *h = hook_new("  mode: always\n  message: Greylisted, come back later\n");
	struct scan_task *t;

	(void)state;
	t = task(h, ACTION_NO_ACTION, NULL, false, T0);
	assert_non_null(run_hook(h, t));
	assert_int_equal(t->result.action, ACTION_SOFT_REJECT);
	assert_string_equal(result_get_message(&t->result, "smtp_message"),
	    "Greylisted, come back later");
	scan_task_free(&t);
	t = task(h, ACTION_NO_ACTION, NULL, false, T0 + 200);
	assert_string_equal(run_hook(h, t)->options[1], "too early");
	assert_int_equal(t->result.action, ACTION_SOFT_REJECT);
	scan_task_free(&t);
	t = task(h, ACTION_NO_ACTION, NULL, false, T0 + 301);
	assert_non_null(run_hook(h, t));
	assert_int_equal(t->result.action, ACTION_NO_ACTION);
	scan_task_free(&t);
	hook_free(h);
}

static void
test_hook_exempt(void **state)
{
	struct hook *h = hook_new("  mode: always\n");
	struct scan_task *t;

	(void)state;
	t = task(h, ACTION_NO_ACTION, "alice", false, T0);
	assert_null(run_hook(h, t));
	assert_int_equal(t->result.action, ACTION_NO_ACTION);
	scan_task_free(&t);
	t = task(h, ACTION_NO_ACTION, NULL, true, T0);
	assert_null(run_hook(h, t));
	assert_int_equal(t->result.action, ACTION_NO_ACTION);
	scan_task_free(&t);
	/* Neither wrote a record: the first real attempt is "new record". */
	t = task(h, ACTION_NO_ACTION, NULL, false, T0 + 1);
	assert_string_equal(run_hook(h, t)->options[1], "new record");
	scan_task_free(&t);
	/* clock_offset moves the scan clock. */
	h->f->cfg->greylist.clock_offset = 300;
	t = task(h, ACTION_NO_ACTION, NULL, false, T0 + 1);
	assert_string_equal(run_hook(h, t)->options[0], "pass");
	scan_task_free(&t);
	hook_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_early_then_pass),
		cmocka_unit_test(test_retry_window),
		cmocka_unit_test(test_auto_whitelist),
		cmocka_unit_test(test_auto_whitelist_off),
		cmocka_unit_test(test_expiry_and_sweep),
		cmocka_unit_test(test_expired_before_sweep),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_sender_key),
		cmocka_unit_test(test_several_recipients),
		cmocka_unit_test(test_survives_reopen),
		cmocka_unit_test(test_schema_version_checked),
		cmocka_unit_test(test_disabled_creates_nothing),
		cmocka_unit_test(test_hook_score_mode),
		cmocka_unit_test(test_hook_always_mode),
		cmocka_unit_test(test_hook_exempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
