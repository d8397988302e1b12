/*
 * fuzz-milter-session.c - libFuzzer target for the milter session state
 * machine (milter_session.h) on top of the codec.
 *
 * Input: byte 0 picks the scan outcome (the action, and whether the scan
 * "hangs" so the task timeout and the late completion run), byte 1 the
 * feed chunk size; the rest is what the MTA sends. The scan is a fake with
 * no checks: the point is the session (hostile envelope, headers folded
 * any way, events out of order, the header block the spoofed-header
 * counter walks, a hostile Subject through rewrite subject), not the
 * checks, which have their own fuzzers. Every reply the session writes
 * must be well framed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/buf.h"
#include "fcore/cfg.h"
#include "milter_proto.h"
#include "milter_session.h"
#include "scan.h"

static struct scan_engine engine;
static uint8_t mode;
static struct scan_task *held;
static scan_done_fn held_done;
static void *held_arg;

static void
fake_scan(struct scan_task *t, scan_done_fn done, void *arg)
{
	char subject[48];
	size_t n = t->msg.raw.len < sizeof(subject) - 1 ? t->msg.raw.len : sizeof(subject) - 1;
	struct fired_symbol *s = result_insert(&t->result, "FUZZ", 1.0, "opt\n\tx");

	if (n > 0)
		memcpy(subject, t->msg.raw.p, n);
	subject[n] = '\0';
	if (s != NULL)
		s->score = s->weight = (double)(mode >> 4);
	result_force_action(&t->result, (enum action)(mode % ACTION_COUNT), NAN, NULL);
	result_finalize(&t->result, &t->actions, subject);
	if (mode & 0x08) {
		/* Hang: the timeout answers, the completion comes later. */
		held = t;
		held_done = done;
		held_arg = arg;
		return;
	}
	done(t, arg);
}

/* Replies must be whole packets. */
static void
check_framing(struct buf *out)
{
	size_t i = 0;

	while (i < out->len) {
		uint32_t len;

		if (out->len - i < 5)
			abort();
		len = (uint32_t)out->data[i] << 24 | (uint32_t)out->data[i + 1] << 16 |
		    (uint32_t)out->data[i + 2] << 8 | out->data[i + 3];
		if (len < 1 || len > out->len - i - 4)
			abort();
		i += 4 + len;
	}
	buf_reset(out);
}

static void
scan_step(struct milter_session *s)
{
	milter_session_scan(s);
	if (held != NULL) {
		struct scan_task *t = held;

		held = NULL;
		milter_session_timeout(s);
		held_done(t, held_arg);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_session *s;
	struct milter_decoder *d;
	struct milter_event ev;
	size_t chunk;
	bool closed = false;

	if (engine.cfg == NULL) {
		char err[256];
		const char yaml[] = "server_name: fuzz\nlimits:\n  max_message: 4k\n";
		struct fconf *cfg = cfg_load_buffer("fuzz.yaml", yaml, sizeof(yaml) - 1, err,
		    sizeof(err));

		if (cfg == NULL || scan_engine_init(&engine, cfg, false, err, sizeof(err)) != 0)
			abort();
	}
	if (size < 2)
		return 0;
	mode = data[0];
	chunk = data[1] ? data[1] : size;
	data += 2;
	size -= 2;
	s = milter_session_new(&engine, "fuzz");
	d = milter_decoder_new(64 * 1024);
	milter_session_set_scan_fn(s, fake_scan);
	for (size_t off = 0; off < size && !closed; off += chunk) {
		milter_decoder_feed(d, data + off, size - off < chunk ? size - off : chunk);
		while (!closed && milter_decoder_next(d, &ev) != MILTER_NEED_MORE) {
			enum milter_step step = milter_session_on_event(s, &ev);

			if (step == MILTER_STEP_SCAN)
				scan_step(s);
			closed = step == MILTER_STEP_CLOSE;
			check_framing(milter_session_output(s));
		}
	}
	milter_decoder_free(&d);
	milter_session_free(&s);
	return 0;
}
