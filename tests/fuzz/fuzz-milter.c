/*
 * fuzz-milter.c - libFuzzer target for the milter codec (milter_proto.h).
 *
 * Input: byte 0 picks the feed chunk size (0 = all at once), byte 1 the
 * packet limit (0 = default 1 MiB, else n * 16 bytes), the rest is what the
 * MTA sends. The stream is decoded twice, whole and in chunks, and the
 * event lines must match (the decoder is incremental). Every byte of every
 * span is read so ASan sees any span that points past the buffer, and the
 * encoders get the decoded data as hostile input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/buf.h"
#include "milter_proto.h"

static volatile uint8_t sink;

static void
touch(struct span s)
{
	uint8_t x = 0;

	for (size_t i = 0; i < s.len; i++)
		x ^= s.p[i];
	sink ^= x;
}

static void
touch_event(const struct milter_event *ev)
{
	switch (ev->type) {
	case MILTER_EV_MACRO:
		for (size_t i = 0; i < ev->macro.count; i++) {
			touch(ev->macro.v[i].name);
			touch(ev->macro.v[i].value);
		}
		break;
	case MILTER_EV_CONNECT:
		touch(ev->connect.hostname);
		touch(ev->connect.address);
		break;
	case MILTER_EV_MAIL:
	case MILTER_EV_RCPT:
		for (size_t i = 0; i < ev->addr.argc; i++)
			touch(ev->addr.argv[i]);
		break;
	case MILTER_EV_HEADER:
		touch(ev->header.name);
		touch(ev->header.value);
		break;
	case MILTER_EV_HELO:
		touch(ev->helo);
		break;
	case MILTER_EV_UNKNOWN:
		touch(ev->unknown);
		break;
	case MILTER_EV_BODY:
	case MILTER_EV_EOB:
		touch(ev->body);
		break;
	default:
		break;
	}
}

/* Hostile data through the encoders: they must refuse or frame it. */
static void
encode_from(const struct milter_event *ev, struct buf *out)
{
	struct milter_optneg r;

	switch (ev->type) {
	case MILTER_EV_OPTNEG:
		if (milter_negotiate(&ev->optneg, MILTER_WANT_ACTIONS,
		    MILTER_WANT_PROTOCOL, &r) == 0)
			milter_encode_optneg(out, &r, NULL, 0);
		break;
	case MILTER_EV_HEADER:
		milter_encode_chgheader(out, 1, ev->header.name, ev->header.value);
		milter_encode_addheader(out, ev->header.name, ev->header.value);
		milter_encode_replycode(out, "554", "5.7.1", ev->header.value);
		milter_encode_quarantine(out, ev->header.value);
		break;
	case MILTER_EV_MACRO:
		if (milter_macro_find(ev, "i") != NULL)
			milter_encode_replycode(out, "451", NULL,
			    milter_macro_find(ev, "{i}")->value);
		break;
	default:
		break;
	}
}

static void
decode(const uint8_t *p, size_t len, size_t chunk, size_t max_packet,
    struct buf *lines)
{
	struct milter_decoder *d = milter_decoder_new(max_packet);
	struct milter_event ev;
	enum milter_status st = MILTER_NEED_MORE;
	struct buf out;

	buf_init(&out, NULL);
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (size_t off = 0; off < len && st != MILTER_ERROR; off += chunk) {
		milter_decoder_feed(d, p + off, len - off < chunk ? len - off : chunk);
		while ((st = milter_decoder_next(d, &ev)) != MILTER_NEED_MORE) {
			touch_event(&ev);
			encode_from(&ev, &out);
			milter_event_format(lines, &ev);
			buf_append_byte(lines, '\n');
			if (st == MILTER_ERROR)
				break;
		}
		buf_reset(&out);
	}
	if (st != MILTER_ERROR && milter_decoder_finish(d, &ev) == MILTER_ERROR)
		milter_event_format(lines, &ev);
	buf_deinit(&out);
	milter_decoder_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole, split;
	size_t chunk, max_packet;

	if (size < 2)
		return 0;
	chunk = data[0] % 65;
	max_packet = (size_t)data[1] * 16;
	data += 2;
	size -= 2;

	buf_init(&whole, NULL);
	buf_init(&split, NULL);
	decode(data, size, 0, max_packet, &whole);
	decode(data, size, chunk, max_packet, &split);
	if (!span_eq(buf_span(&whole), buf_span(&split)))
		abort();
	buf_deinit(&whole);
	buf_deinit(&split);
	return 0;
}
