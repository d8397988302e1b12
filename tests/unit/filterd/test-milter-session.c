/*
 * test-milter-session.c - the milter session without a loop: events in,
 * task fields and reply bytes out.
 *
 * Events are built as wire packets and decoded by the real codec, so what
 * reaches the session is what Postfix's bytes become. Replies are decoded
 * back into one readable line per packet ("m 1 X-Spam: ", "y 554 ...")
 * by a strict little reader here that checks every length, so the
 * expectations below are the exact bytes, written legibly. The golden test
 * replays the captured Postfix 3.7 session (protocols.md §4.5).
 */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "fcore/cfg.h"
#include "milter_proto.h"
#include "milter_session.h"
#include "scan.h"

#define FIX FIXTURES_DIR "/milter/"
#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

struct fixture {
	struct fconf *cfg;
	struct scan_engine engine;
};

static struct fixture *
fixture_new(const char *yaml)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];
	char text[2048];

	snprintf(text, sizeof(text), "server_name: test.host\n%s", yaml ? yaml : "");
	f->cfg = cfg_load_buffer("t.yaml", text, strlen(text), err, sizeof(err));
	if (f->cfg == NULL)
		fail_msg("config: %s", err);
	assert_int_equal(scan_engine_init(&f->engine, f->cfg, false, err,
	    sizeof(err)), 0);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	scan_engine_deinit(&f->engine);
	cfg_free(&f->cfg);
	free(f);
}

/* ---------------------------------------------------------------- */
/* Reply reader: packets -> lines                                    */
/* ---------------------------------------------------------------- */

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* "Name\0value\0" -> "Name: value" (value shown with \n as "\n"). */
static void
name_value(struct buf *l, const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, 0, n);

	assert_non_null(nul);
	assert_int_equal(p[n - 1], 0);
	buf_append(l, p, (size_t)(nul - p));
	buf_append_cstr(l, ": ");
	for (const uint8_t *q = nul + 1; q < p + n - 1; q++) {
		if (*q == '\n')
			buf_append_cstr(l, "\\n");
		else
			buf_append_byte(l, *q);
	}
}

static void
reply_line(struct buf *l, uint8_t cmd, const uint8_t *p, size_t n)
{
	buf_append_byte(l, cmd);
	switch (cmd) {
	case 'O':
		assert_int_equal(n, 12);
		buf_printf(l, " %u 0x%x 0x%x", be32(p), be32(p + 4), be32(p + 8));
		break;
	case 'h':
		buf_append_byte(l, ' ');
		name_value(l, p, n);
		break;
	case 'i':
	case 'm':
		assert_true(n > 4);
		buf_printf(l, " %u ", be32(p));
		name_value(l, p + 4, n - 4);
		break;
	case 'y':
		assert_int_equal(p[n - 1], 0);
		buf_append_byte(l, ' ');
		buf_append(l, p, n - 1);
		break;
	default:
		assert_int_equal(n, 0);
	}
	buf_append_byte(l, '\n');
}

/* Every packet as a line; fails on any framing error. */
static const char *
reply_lines(struct buf *out, struct buf *lines)
{
	size_t i = 0;

	buf_reset(lines);
	while (i < out->len) {
		uint32_t len;

		assert_true(out->len - i >= 5);
		len = be32(out->data + i);
		assert_true(len >= 1 && len <= out->len - i - 4);
		reply_line(lines, out->data[i + 4], out->data + i + 5, len - 1);
		i += 4 + len;
	}
	buf_reset(out);
	return buf_cstr(lines);
}

/* ---------------------------------------------------------------- */
/* Feeding events                                                    */
/* ---------------------------------------------------------------- */

struct captured {
	struct scan_task *t;
	scan_done_fn done;
	void *arg;
	int calls;
	char raw[1024];
	char qid[32];
	char from[64];
	size_t nrcpt;
};

static struct captured cap;

/* A scan that records the task and leaves it pending (timeout tests). */
static void
hold_scan(struct scan_task *t, scan_done_fn done, void *arg)
{
	cap.t = t;
	cap.done = done;
	cap.arg = arg;
	cap.calls++;
}

/* A deterministic "scan": no checks, one symbol of score 1 (golden test). */
static void
fixed_scan(struct scan_task *t, scan_done_fn done, void *arg)
{
	struct fired_symbol *s = result_insert(&t->result, "FIXED", 1.0, "opt");

	cap.calls++;
	snprintf(cap.raw, sizeof(cap.raw), "%.*s", (int)t->msg.raw.len,
	    (const char *)t->msg.raw.p);
	snprintf(cap.qid, sizeof(cap.qid), "%s", t->msg.env.queue_id ?
	    t->msg.env.queue_id : "(null)");
	snprintf(cap.from, sizeof(cap.from), "%s", t->msg.env.mail_from ?
	    t->msg.env.mail_from : "(null)");
	cap.nrcpt = t->msg.env.nrcpt;
	s->score = s->weight = 1.0;
	result_finalize(&t->result, &t->actions, NULL);
	done(t, arg);
}

static enum milter_step
pkt(struct milter_session *s, uint8_t cmd, const void *data, size_t len)
{
	struct buf wire;
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev;
	enum milter_step step;

	buf_init(&wire, NULL);
	assert_true(milter_encode_packet(&wire, cmd, span_make(data, len)));
	milter_decoder_feed(d, wire.data, wire.len);
	assert_int_equal(milter_decoder_next(d, &ev), MILTER_OK);
	step = milter_session_on_event(s, &ev);
	if (step == MILTER_STEP_SCAN)
		milter_session_scan(s);
	milter_decoder_free(&d);
	buf_deinit(&wire);
	return step;
}

#define PKT(s, cmd, lit) pkt((s), (cmd), (lit), sizeof(lit) - 1)

static const char optneg_all[] = "\0\0\0\6\0\0\1\xff\0\x1f\xff\xff";

static struct milter_session *
session_connected(struct fixture *f)
{
	struct milter_session *s = milter_session_new(&f->engine, "test");
	struct buf lines;

	buf_init(&lines, NULL);
	assert_int_equal(PKT(s, 'O', optneg_all), MILTER_STEP_CONTINUE);
	assert_string_equal(reply_lines(milter_session_output(s), &lines),
	    "O 6 0x31 0xff380\n");
	PKT(s, 'D', "Cj\0mx.test\0{daemon_name}\0mx.test\0v\0Postfix 3.7.11\0");
	PKT(s, 'C', "mail.example.net\0" "4\x01\x19" "192.0.2.7\0");
	PKT(s, 'H', "helo.example.net\0");
	buf_deinit(&lines);
	return s;
}

/* MAIL, one RCPT, the given headers ("Name\0value\0" packets) and body. */
static void
message2(struct milter_session *s, const char *auth, bool carol)
{
	char d[128] = "M";
	size_t n = 1;

	if (auth != NULL) {
		memcpy(d + 1, "{auth_authen}", 14);
		n = 15 + strlen(auth) + 1;
		memcpy(d + 15, auth, strlen(auth) + 1);
	}
	pkt(s, 'D', d, n);
	PKT(s, 'M', "<sender@example.org>\0size=100\0");
	PKT(s, 'D', "R{rcpt_addr}\0bob@example.com\0");
	PKT(s, 'R', "<bob@example.com>\0");
	if (carol) {
		PKT(s, 'D', "Ri\0QID42\0");
		PKT(s, 'R', "<carol@example.com>\0");
	}
	PKT(s, 'D', "Ti\0QID42\0");
	PKT(s, 'L', "From\0Alice <alice@example.org>\0");
	PKT(s, 'L', "Subject\0hi\0");
	PKT(s, 'L', "X-Spam-Status\0Yes, score=99\0");
	PKT(s, 'L', "X-Spam\0Yes\0");
	PKT(s, 'L', "x-spam-status\0second forged\0");
	PKT(s, 'N', "");
	PKT(s, 'B', "Hello\r\n");
}

static void
message(struct milter_session *s, const char *auth)
{
	message2(s, auth, false);
}

static enum milter_step
eob(struct milter_session *s)
{
	return PKT(s, 'E', "");
}

/* ---------------------------------------------------------------- */
/* Event sequence -> task                                            */
/* ---------------------------------------------------------------- */

static void
test_envelope_and_raw(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = session_connected(f);
	const struct scan_task *t;
	const char *want = "From: Alice <alice@example.org>\r\nSubject: hi\r\n"
	    "X-Spam-Status: Yes, score=99\r\nX-Spam: Yes\r\n"
	    "x-spam-status: second forged\r\n\r\nHello\r\n";

	(void)state;
	message2(s, "alice", true);
	t = milter_session_task(s);
	assert_non_null(t);
	assert_string_equal(t->msg.env.ip, "192.0.2.7");
	assert_string_equal(t->msg.env.hostname, "mail.example.net");
	assert_string_equal(t->msg.env.helo, "helo.example.net");
	assert_string_equal(t->msg.env.mta_name, "mx.test");
	assert_string_equal(t->msg.env.user_agent, "Postfix 3.7.11");
	assert_string_equal(t->msg.env.mail_from, "sender@example.org");
	assert_string_equal(t->msg.env.user, "alice");
	assert_string_equal(t->msg.env.queue_id, "QID42");
	assert_int_equal(t->msg.env.nrcpt, 2);
	assert_string_equal(t->msg.env.rcpt[0], "bob@example.com");
	assert_string_equal(t->msg.env.rcpt[1], "carol@example.com");
	assert_string_equal(t->msg.env.deliver_to, "bob@example.com");
	assert_true(t->flags & SCAN_F_MILTER);
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, fixed_scan);
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	assert_int_equal(cap.calls, 1);
	assert_string_equal(cap.raw, want);
	assert_string_equal(cap.qid, "QID42");
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	assert_null(milter_session_task(s));
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_folded_header_and_unknown_host(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = milter_session_new(&f->engine, "t");

	(void)state;
	PKT(s, 'O', optneg_all);
	PKT(s, 'D', "C{client_name}\0unknown\0");
	PKT(s, 'C', "[192.0.2.9]\0" "4\x01\x19" "192.0.2.9\0");
	PKT(s, 'H', "evil\r\nscan id=forged\0");
	PKT(s, 'M', "<>\0");
	PKT(s, 'R', "<x@example.com>\0");
	PKT(s, 'L', "X-Folded\0first\n\tsecond\0");
	PKT(s, 'N', "");
	assert_null(milter_session_task(s)->msg.env.hostname);
	/* Control bytes cannot forge log lines. */
	assert_string_equal(milter_session_task(s)->msg.env.helo, "evil??scan id=forged");
	assert_string_equal(milter_session_task(s)->msg.env.mail_from, "");
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, fixed_scan);
	eob(s);
	assert_string_equal(cap.raw, "X-Folded: first\r\n\tsecond\r\n\r\n");
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_abort_resets_message(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = session_connected(f);

	(void)state;
	message(s, NULL);
	assert_int_equal(PKT(s, 'A', ""), MILTER_STEP_CONTINUE);
	assert_null(milter_session_task(s));
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	PKT(s, 'M', "<other@example.org>\0");
	PKT(s, 'R', "<z@example.com>\0");
	assert_int_equal(milter_session_task(s)->msg.env.nrcpt, 1);
	assert_null(milter_session_task(s)->msg.env.queue_id);
	/* Connection data survives the abort. */
	assert_string_equal(milter_session_task(s)->msg.env.helo, "helo.example.net");
	assert_int_equal(milter_session_output(s)->len, 0);
	PKT(s, 'A', "");
	assert_int_equal(PKT(s, 'Q', ""), MILTER_STEP_CLOSE);
	milter_session_free(&s);
	fixture_free(f);
}

/* An MTA that refused the no-reply bits gets 'c' after each such event. */
static void
test_continue_without_nr(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = milter_session_new(&f->engine, "t");
	struct buf lines;

	(void)state;
	buf_init(&lines, NULL);
	PKT(s, 'O', "\0\0\0\6\0\0\1\xff\0\0\0\0");
	PKT(s, 'D', "Cj\0x\0");
	PKT(s, 'C', "h\0U");
	PKT(s, 'H', "x\0");
	PKT(s, 'M', "<a@b>\0");
	PKT(s, 'R', "<c@d>\0");
	PKT(s, 'L', "A\0b\0");
	PKT(s, 'N', "");
	PKT(s, 'B', "x\r\n");
	assert_string_equal(reply_lines(milter_session_output(s), &lines),
	    "O 6 0x31 0x0\nc\nc\nc\nc\nc\nc\nc\n");
	PKT(s, 'A', "");
	assert_int_equal(milter_session_output(s)->len, 0);
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_protocol_errors_close(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = milter_session_new(&f->engine, "t");
	struct milter_event err = { .type = MILTER_EV_ERROR };

	(void)state;
	assert_int_equal(PKT(s, 'H', "x\0"), MILTER_STEP_CLOSE);
	milter_session_free(&s);
	s = session_connected(f);
	assert_int_equal(PKT(s, 'R', "<c@d>\0"), MILTER_STEP_CLOSE);
	assert_int_equal(milter_session_state(s), MILTER_SS_CLOSING);
	milter_session_free(&s);
	s = session_connected(f);
	PKT(s, 'M', "<a@b>\0");
	err.error.why = "test";
	assert_int_equal(milter_session_on_event(s, &err), MILTER_STEP_CLOSE);
	assert_null(milter_session_task(s));
	assert_int_equal(milter_session_output(s)->len, 0);
	milter_session_free(&s);
	/* Too-old MTA. */
	s = milter_session_new(&f->engine, "t");
	assert_int_equal(PKT(s, 'O', "\0\0\0\1\0\0\1\xff\0\0\0\0"), MILTER_STEP_CLOSE);
	milter_session_free(&s);
	fixture_free(f);
}

/* ---------------------------------------------------------------- */
/* Verdict -> reply bytes                                            */
/* ---------------------------------------------------------------- */

static const struct milter_optneg neg_full = { 6, MILTER_WANT_ACTIONS,
	MILTER_WANT_PROTOCOL };

static const char spoofed_headers[] = "From: a@b\r\nX-Spam-Status: Yes\r\n"
    "X-Spam: no\r\n \tfolded X-Spam: x\r\nx-spam-status: again\r\n";

/* A finished task with the given symbols (name, score) and action. */
static struct scan_task *
task_with(struct fixture *f, const char *const *names, const double *scores,
    size_t n, int forced)
{
	struct scan_task *t = scan_task_new(&f->engine, SPAN_LIT("Subject: hi\r\n\r\nx\r\n"));

	t->flags |= SCAN_F_MILTER;
	t->msg.env.queue_id = "QID7";
	for (size_t i = 0; i < n; i++) {
		struct fired_symbol *s = result_insert(&t->result, names[i], 1.0, NULL);
		s->score = s->weight = scores[i];
	}
	if (forced >= 0)
		result_force_action(&t->result, (enum action)forced, NAN, NULL);
	result_finalize(&t->result, &t->actions, "hi");
	return t;
}

static const char *
verdict(struct fixture *f, struct scan_task *t, bool auth, struct buf *lines)
{
	struct buf out;
	const char *r;

	buf_init(&out, NULL);
	assert_true(milter_verdict_to_replies(&out, &neg_full, t,
	    SPAN_LIT(spoofed_headers), auth));
	r = reply_lines(&out, lines);
	buf_deinit(&out);
	(void)f;
	return r;
}

/* The last packet of out is y "text". */
static void
assert_last_replycode(const struct buf *out, const char *text)
{
	size_t n = strlen(text);
	uint8_t want[512];

	assert_true(n + 6 < sizeof(want));
	want[0] = want[1] = 0;
	want[2] = (uint8_t)((n + 2) >> 8);
	want[3] = (uint8_t)(n + 2);
	want[4] = 'y';
	memcpy(want + 5, text, n + 1);
	assert_true(out->len >= n + 6);
	assert_memory_equal(out->data + out->len - (n + 6), want, n + 6);
}

static void
test_verdict_no_action(void **state)
{
	struct fixture *f = fixture_new(NULL);
	static const char *const names[] = { "ONE", "TWO" };
	static const double scores[] = { 1.0, 0.5 };
	struct scan_task *t = task_with(f, names, scores, 2, -1);
	struct buf lines;

	(void)state;
	buf_init(&lines, NULL);
	/* Only the names that occur are removed, highest index first. */
	assert_string_equal(verdict(f, t, false, &lines),
	    "m 2 X-Spam-Status: \nm 1 X-Spam-Status: \n"
	    "m 1 X-Spam: \n"
	    "h X-Spam-Status: No, score=1.50\n"
	    "h X-Rspamd-Queue-Id: QID7\n"
	    "h X-Spam-Level: *\n"
	    "h X-Spamd-Bar: +\n"
	    "h X-Spamd-Result: default: False [1.50 / 15.00];\\n\tONE(1.00)[];\\n\tTWO(0.50)[]\n"
	    "h X-Rspamd-Action: no action\n"
	    "h X-Rspamd-Server: test.host\n"
	    "a\n");
	/* Authenticated: spoofed headers still go, no result headers. */
	assert_string_equal(verdict(f, t, true, &lines),
	    "m 2 X-Spam-Status: \nm 1 X-Spam-Status: \nm 1 X-Spam: \na\n");
	scan_task_free(&t);
	buf_deinit(&lines);
	fixture_free(f);
}

static void
test_verdict_add_header_and_subject(void **state)
{
	struct fixture *f = fixture_new(NULL);
	static const char *const names[] = { "BIG" };
	static const double scores[] = { 7.0 };
	struct scan_task *t = task_with(f, names, scores, 1, -1);
	struct buf lines;
	const char *r;

	(void)state;
	buf_init(&lines, NULL);
	assert_int_equal(t->result.action, ACTION_ADD_HEADER);
	r = verdict(f, t, false, &lines);
	assert_non_null(strstr(r, "h X-Spam-Status: Yes, score=7.00\n"));
	assert_null(strstr(r, "h X-Spam:"));
	assert_non_null(strstr(r, "h X-Rspamd-Action: add header\nh X-Rspamd-Server: test.host\n"
	    "m 1 X-Spam: Yes\na\n"));
	assert_int_equal(strncmp(r, "m 2 X-Spam-Status: \nm 1 X-Spam-Status: \nm 1 X-Spam: \n", 52), 0);
	scan_task_free(&t);
	t = task_with(f, names, scores, 1, ACTION_REWRITE_SUBJECT);
	r = verdict(f, t, false, &lines);
	assert_non_null(strstr(r, "m 1 Subject: *** SPAM *** hi\nm 1 X-Spam: Yes\na\n"));
	scan_task_free(&t);
	buf_deinit(&lines);
	fixture_free(f);
}

static void
test_verdict_greylist_and_soft_reject(void **state)
{
	struct fixture *f = fixture_new(NULL);
	static const char *const names[] = { "MID" };
	static const double scores[] = { 4.5 };
	struct scan_task *t = task_with(f, names, scores, 1, -1);
	struct buf out, lines;

	(void)state;
	buf_init(&out, NULL);
	buf_init(&lines, NULL);
	assert_int_equal(t->result.action, ACTION_GREYLIST);
	assert_non_null(strstr(verdict(f, t, false, &lines), "h X-Rspamd-Action: greylist\n"
	    "h X-Rspamd-Server: test.host\na\n"));
	scan_task_free(&t);

	t = task_with(f, names, scores, 1, ACTION_SOFT_REJECT);
	assert_true(milter_verdict_to_replies(&out, &neg_full, t, SPAN_LIT(""), false));
	assert_last_replycode(&out, "451 4.7.1 Try again later");
	/* Authenticated senders are not soft-rejected. */
	assert_non_null(strstr(verdict(f, t, true, &lines), "a\n"));
	assert_null(strstr(lines.data ? (const char *)lines.data : "", "y 451"));
	scan_task_free(&t);
	buf_deinit(&out);
	buf_deinit(&lines);
	fixture_free(f);
}

static void
test_verdict_reject_text(void **state)
{
	struct fixture *f = fixture_new(NULL);
	static const char *const names[] = { "SMALL", "BIG", "MID", "ZERO", "NEG" };
	static const double scores[] = { 1.0, 10.0, 5.0, 0.0, -1.0 };
	struct scan_task *t = task_with(f, names, scores, 5, -1);
	struct buf out;

	(void)state;
	buf_init(&out, NULL);
	assert_int_equal(t->result.action, ACTION_REJECT);
	assert_true(milter_verdict_to_replies(&out, &neg_full, t, SPAN_LIT(""), false));
	assert_last_replycode(&out, "554 5.7.1 Spam message rejected (BIG, MID, SMALL)");
	scan_task_free(&t);
	buf_deinit(&out);
	fixture_free(f);

	f = fixture_new("milter:\n  reject_message: \"Refused: %s; 100% sure\"\n");
	t = task_with(f, names, scores, 5, -1);
	assert_string_equal(milter_reject_text(t), "Refused: BIG, MID, SMALL; 100% sure");
	buf_init(&out, NULL);
	assert_true(milter_verdict_to_replies(&out, &neg_full, t, SPAN_LIT(""), false));
	/* Postfix wants '%' doubled in a reply text. */
	assert_non_null(memmem(out.data, out.len, "100%% sure", 10));
	scan_task_free(&t);
	buf_deinit(&out);
	fixture_free(f);
}

static void
test_spam_header_configurable(void **state)
{
	struct fixture *f = fixture_new("milter:\n  spam_header: X-Junk\n");
	static const char *const names[] = { "BIG" };
	static const double scores[] = { 7.0 };
	struct scan_task *t = task_with(f, names, scores, 1, -1);
	struct buf out, lines;
	const char *r;

	(void)state;
	buf_init(&out, NULL);
	buf_init(&lines, NULL);
	assert_true(milter_verdict_to_replies(&out, &neg_full, t,
	    SPAN_LIT("X-Junk: forged\r\n"), false));
	r = reply_lines(&out, &lines);
	assert_int_equal(strncmp(r, "m 1 X-Junk: \n", 13), 0);
	assert_non_null(strstr(r, "m 1 X-Junk: Yes\na\n"));
	scan_task_free(&t);
	buf_deinit(&out);
	buf_deinit(&lines);
	fixture_free(f);
}

/* Without CHGHDRS/ADDHDRS rights: no edits, the verdict stands. */
static void
test_verdict_without_header_rights(void **state)
{
	struct fixture *f = fixture_new(NULL);
	static const char *const names[] = { "BIG" };
	static const double scores[] = { 7.0 };
	struct scan_task *t = task_with(f, names, scores, 1, -1);
	struct milter_optneg neg = { 6, 0, MILTER_WANT_PROTOCOL };
	struct buf out, lines;

	(void)state;
	buf_init(&out, NULL);
	buf_init(&lines, NULL);
	assert_true(milter_verdict_to_replies(&out, &neg, t, SPAN_LIT(spoofed_headers), false));
	assert_string_equal(reply_lines(&out, &lines), "a\n");
	scan_task_free(&t);
	buf_deinit(&out);
	buf_deinit(&lines);
	fixture_free(f);
}

static void
test_header_count(void **state)
{
	(void)state;
	assert_int_equal(milter_header_count(SPAN_LIT(spoofed_headers), "X-Spam-Status"), 2);
	assert_int_equal(milter_header_count(SPAN_LIT(spoofed_headers), "x-spam"), 1);
	assert_int_equal(milter_header_count(SPAN_LIT(spoofed_headers), "X-Spam-Level"), 0);
	assert_int_equal(milter_header_count(SPAN_LIT("A: 1\r\nA : 2\r\nAB: 3"), "A"), 2);
	assert_int_equal(milter_header_count(SPAN_LIT(""), "A"), 0);
}

/* ---------------------------------------------------------------- */
/* Whole sessions through the real scan                              */
/* ---------------------------------------------------------------- */

static void
test_gtube_rejected_554(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = session_connected(f);
	struct buf lines;
	struct buf *out;

	(void)state;
	buf_init(&lines, NULL);
	message(s, NULL);
	PKT(s, 'B', "This is the GTUBE:\r\n" GTUBE "\r\n");
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	out = milter_session_output(s);
	assert_last_replycode(out, "554 5.7.1 Spam message rejected (GTUBE)");
	/* Spoofed X-Spam-* are still removed before the verdict. */
	assert_string_equal(reply_lines(out, &lines),
	    "m 1 X-Spam: \ny 554 5.7.1 Spam message rejected (GTUBE)\n");
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	/* Next message on the same connection. */
	PKT(s, 'A', "");
	message(s, NULL);
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	assert_non_null(strstr(reply_lines(out, &lines), "h X-Spam-Status: "));
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_oversize_not_scanned(void **state)
{
	struct fixture *f = fixture_new("limits:\n  max_message: 1k\n");
	struct milter_session *s = session_connected(f);
	struct buf lines;
	char big[700];

	(void)state;
	buf_init(&lines, NULL);
	memset(big, 'x', sizeof(big));
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, fixed_scan);
	message(s, NULL);
	pkt(s, 'B', big, sizeof(big));
	pkt(s, 'B', big, sizeof(big));
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	assert_int_equal(cap.calls, 0);
	assert_string_equal(reply_lines(milter_session_output(s), &lines), "a\n");
	/* Announced too big by SIZE=: same answer; on_oversize: tempfail. */
	milter_session_free(&s);
	fixture_free(f);
	f = fixture_new("limits:\n  max_message: 1k\nmilter:\n  on_oversize: tempfail\n");
	s = session_connected(f);
	milter_session_set_scan_fn(s, fixed_scan);
	PKT(s, 'M', "<a@b>\0SIZE=5000\0");
	PKT(s, 'R', "<c@d>\0");
	PKT(s, 'B', "small\r\n");
	eob(s);
	assert_int_equal(cap.calls, 0);
	assert_string_equal(reply_lines(milter_session_output(s), &lines), "t\n");
	/* The next message is scanned again. */
	PKT(s, 'A', "");
	message(s, NULL);
	eob(s);
	assert_int_equal(cap.calls, 1);
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_timeout_then_late_result(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct milter_session *s = session_connected(f);
	struct buf lines;
	struct captured late;

	(void)state;
	buf_init(&lines, NULL);
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, hold_scan);
	message(s, NULL);
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	assert_int_equal(milter_session_state(s), MILTER_SS_SCANNING);
	assert_int_equal(milter_session_output(s)->len, 0);
	milter_session_timeout(s);
	assert_string_equal(reply_lines(milter_session_output(s), &lines), "t\n");
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	late = cap;
	/* The connection goes on; the next message is answered normally. */
	milter_session_set_scan_fn(s, fixed_scan);
	PKT(s, 'A', "");
	message(s, NULL);
	eob(s);
	assert_non_null(strstr(reply_lines(milter_session_output(s), &lines), "\na\n"));
	/* The first scan finishes now: dropped, nothing written, task freed. */
	result_finalize(&late.t->result, &late.t->actions, NULL);
	late.done(late.t, late.arg);
	assert_int_equal(milter_session_output(s)->len, 0);
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_overload_answers_on_error(void **state)
{
	struct fixture *f = fixture_new("milter:\n  on_error: accept\n");
	struct milter_session *s = session_connected(f);
	struct buf lines;

	(void)state;
	buf_init(&lines, NULL);
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, fixed_scan);
	milter_session_set_overloaded(s, true);
	message(s, NULL);
	eob(s);
	assert_int_equal(cap.calls, 0);
	assert_string_equal(reply_lines(milter_session_output(s), &lines), "a\n");
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

static void
test_fallback_bytes(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, NULL);
	assert_true(milter_fallback_reply(&out, MILTER_FALLBACK_TEMPFAIL));
	assert_true(milter_fallback_reply(&out, MILTER_FALLBACK_ACCEPT));
	assert_true(milter_fallback_reply(&out, MILTER_FALLBACK_REJECT));
	assert_int_equal(out.len, 15);
	assert_memory_equal(out.data, "\0\0\0\1t\0\0\0\1a\0\0\0\1r", 15);
	buf_deinit(&out);
}

/* ---------------------------------------------------------------- */
/* Golden: the captured Postfix 3.7 session                          */
/* ---------------------------------------------------------------- */

static void
read_file(const char *path, struct buf *out)
{
	FILE *fp = fopen(path, "rb");
	char tmp[4096];
	size_t n;

	assert_non_null(fp);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_append(out, tmp, n);
	fclose(fp);
}

static void
load_hex(const char *path, struct buf *out)
{
	struct buf text;
	bool comment = false;
	int hi = -1;

	buf_init(&text, NULL);
	read_file(path, &text);
	for (size_t i = 0; i < text.len; i++) {
		char c = (char)text.data[i];
		int v;

		if (c == '\n')
			comment = false;
		if (comment || c == ' ' || c == '\n')
			continue;
		if (c == '#') {
			comment = true;
			continue;
		}
		v = c <= '9' ? c - '0' : c - 'a' + 10;
		if (hi < 0) {
			hi = v;
		} else {
			buf_append_byte(out, (uint8_t)(hi << 4 | v));
			hi = -1;
		}
	}
	buf_deinit(&text);
}

static void
run_golden(struct fixture *f, const struct buf *wire, size_t chunk, struct buf *want)
{
	struct milter_session *s = milter_session_new(&f->engine, "golden");
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev;
	struct buf lines, all;
	enum milter_step step = MILTER_STEP_CONTINUE;

	buf_init(&lines, NULL);
	buf_init(&all, NULL);
	memset(&cap, 0, sizeof(cap));
	milter_session_set_scan_fn(s, fixed_scan);
	for (size_t off = 0; off < wire->len && step != MILTER_STEP_CLOSE; off += chunk) {
		milter_decoder_feed(d, wire->data + off,
		    wire->len - off < chunk ? wire->len - off : chunk);
		while (step != MILTER_STEP_CLOSE &&
		    milter_decoder_next(d, &ev) == MILTER_OK) {
			step = milter_session_on_event(s, &ev);
			if (step == MILTER_STEP_SCAN) {
				milter_session_scan(s);
				if (cap.calls == 1) {
					assert_string_equal(cap.raw,
					    "From: Alice <alice@example.org>\r\n"
					    "To: bob@example.com, carol@example.com\r\n"
					    "Subject: Test message\r\n"
					    "X-Folded: first line\r\n\tsecond line\r\n"
					    "\r\nBody line 1\r\nBody line 2\r\n");
					assert_string_equal(cap.qid, "73DF0A762B1");
					assert_string_equal(cap.from, "sender@example.org");
					assert_int_equal(cap.nrcpt, 2);
				} else {
					assert_string_equal(cap.qid, "8E5F3C1A0D2");
					assert_string_equal(cap.from, "");
					assert_int_equal(cap.nrcpt, 1);
				}
				buf_append_cstr(&all, reply_lines(milter_session_output(s), &lines));
			}
		}
	}
	buf_append_cstr(&all, reply_lines(milter_session_output(s), &lines));
	assert_int_equal(step, MILTER_STEP_CLOSE);
	assert_int_equal(cap.calls, 2);
	/* OPTNEG reply, then per message the edits and the verdict; nothing
	 * else, since every NR_* bit was granted. */
	if (strcmp(buf_cstr(&all), buf_cstr(want)) != 0)
		fail_msg("chunk %zu:\n%s\nwant:\n%s", chunk, buf_cstr(&all), buf_cstr(want));
	milter_decoder_free(&d);
	buf_deinit(&lines);
	buf_deinit(&all);
	milter_session_free(&s);
}

static void
test_postfix37_golden_session(void **state)
{
	struct fixture *f = fixture_new(NULL);
	struct buf wire, want;

	(void)state;
	buf_init(&wire, NULL);
	buf_init(&want, NULL);
	load_hex(FIX "postfix37-session.hex", &wire);
	read_file(FIX "postfix37-session.replies", &want);
	run_golden(f, &wire, wire.len, &want);
	for (size_t chunk = 1; chunk < 40; chunk++)
		run_golden(f, &wire, chunk, &want);
	buf_deinit(&wire);
	buf_deinit(&want);
	fixture_free(f);
}

/* ---------------------------------------------------------------- */
/* milter.multi_rcpt                                                  */
/* ---------------------------------------------------------------- */

static char users[256];

/* Per-user "Bayes": carol's store calls the message spam (7 points). */
static void
per_user_result(struct scan_task *t)
{
	const char *u = t->msg.env.deliver_to ? t->msg.env.deliver_to : "-";

	snprintf(users + strlen(users), sizeof(users) - strlen(users), "%s%s",
	    users[0] ? "," : "", u);
	if (strcmp(u, "carol@example.com") == 0) {
		struct fired_symbol *s = result_insert(&t->result, "USER_SPAM", 1.0, u);
		s->score = s->weight = 7.0;
	}
	result_finalize(&t->result, &t->actions, NULL);
}

static void
per_user_scan(struct scan_task *t, scan_done_fn done, void *arg)
{
	cap.calls++;
	per_user_result(t);
	done(t, arg);
}

static const char *
multi_rcpt_reply(const char *yaml, struct buf *lines, int *calls)
{
	struct fixture *f = fixture_new(yaml);
	struct milter_session *s = session_connected(f);
	const char *r;

	memset(&cap, 0, sizeof(cap));
	users[0] = '\0';
	milter_session_set_scan_fn(s, per_user_scan);
	PKT(s, 'D', "M");
	PKT(s, 'M', "<sender@example.org>\0");
	PKT(s, 'R', "<bob@example.com>\0");
	PKT(s, 'R', "<carol@example.com>\0");
	PKT(s, 'R', "<Carol@example.com>\0");	/* the same user again */
	PKT(s, 'L', "Subject\0hi\0");
	PKT(s, 'N', "");
	PKT(s, 'B', "Hello\r\n");
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	r = reply_lines(milter_session_output(s), lines);
	assert_int_equal(milter_session_state(s), MILTER_SS_CONNECTED);
	*calls = cap.calls;
	milter_session_free(&s);
	fixture_free(f);
	return r;
}

static void
test_multi_rcpt_first_and_each(void **state)
{
	struct buf lines;
	int calls;

	(void)state;
	buf_init(&lines, NULL);
	/* first: one scan, with bob's store. */
	assert_non_null(strstr(multi_rcpt_reply(NULL, &lines, &calls),
	    "h X-Rspamd-Action: no action\n"));
	assert_int_equal(calls, 1);
	assert_string_equal(users, "bob@example.com");
	/* each: one scan per distinct recipient; the strictest (carol's) wins. */
	assert_non_null(strstr(multi_rcpt_reply("milter:\n  multi_rcpt: each\n", &lines,
	    &calls), "h X-Rspamd-Action: add header\n"));
	assert_non_null(strstr((const char *)lines.data, "m 1 X-Spam: Yes\na\n"));
	assert_int_equal(calls, 2);
	assert_string_equal(users, "bob@example.com,carol@example.com");
	/* each without per-user Bayes: nothing differs per recipient, one scan. */
	assert_non_null(strstr(multi_rcpt_reply("milter:\n  multi_rcpt: each\n"
	    "stats:\n  per_user: false\n", &lines, &calls), "no action"));
	assert_int_equal(calls, 1);
	buf_deinit(&lines);
}

static void
test_multi_rcpt_each_async_and_timeout(void **state)
{
	struct fixture *f = fixture_new("milter:\n  multi_rcpt: each\n");
	struct milter_session *s = session_connected(f);
	struct buf lines;
	struct captured first;

	(void)state;
	buf_init(&lines, NULL);
	memset(&cap, 0, sizeof(cap));
	users[0] = '\0';
	milter_session_set_scan_fn(s, hold_scan);
	message2(s, NULL, true);
	assert_int_equal(eob(s), MILTER_STEP_SCAN);
	assert_int_equal(cap.calls, 1);
	/* Bob's scan finishes later; carol's starts only then. */
	first = cap;
	per_user_result(first.t);
	first.done(first.t, first.arg);
	assert_int_equal(cap.calls, 2);
	assert_int_equal(milter_session_output(s)->len, 0);
	per_user_result(cap.t);
	cap.done(cap.t, cap.arg);
	assert_non_null(strstr(reply_lines(milter_session_output(s), &lines),
	    "m 1 X-Spam: Yes\na\n"));
	assert_string_equal(users, "bob@example.com,carol@example.com");
	/* A timeout between the two: on_error now, both tasks freed later. */
	PKT(s, 'A', "");
	memset(&cap, 0, sizeof(cap));
	message2(s, NULL, true);
	eob(s);
	first = cap;
	per_user_result(first.t);
	first.done(first.t, first.arg);
	milter_session_timeout(s);
	assert_string_equal(reply_lines(milter_session_output(s), &lines), "t\n");
	per_user_result(cap.t);
	cap.done(cap.t, cap.arg);
	assert_int_equal(milter_session_output(s)->len, 0);
	assert_int_equal(cap.calls, 2);
	buf_deinit(&lines);
	milter_session_free(&s);
	fixture_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_and_raw),
		cmocka_unit_test(test_folded_header_and_unknown_host),
		cmocka_unit_test(test_abort_resets_message),
		cmocka_unit_test(test_continue_without_nr),
		cmocka_unit_test(test_protocol_errors_close),
		cmocka_unit_test(test_verdict_no_action),
		cmocka_unit_test(test_verdict_add_header_and_subject),
		cmocka_unit_test(test_verdict_greylist_and_soft_reject),
		cmocka_unit_test(test_verdict_reject_text),
		cmocka_unit_test(test_spam_header_configurable),
		cmocka_unit_test(test_verdict_without_header_rights),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_gtube_rejected_554),
		cmocka_unit_test(test_oversize_not_scanned),
		cmocka_unit_test(test_timeout_then_late_result),
		cmocka_unit_test(test_overload_answers_on_error),
		cmocka_unit_test(test_fallback_bytes),
		cmocka_unit_test(test_postfix37_golden_session),
		cmocka_unit_test(test_multi_rcpt_first_and_each),
		cmocka_unit_test(test_multi_rcpt_each_async_and_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
