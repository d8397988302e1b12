/*
 * test-milter_proto.c - golden bytes for the milter codec.
 *
 * The decoder is checked against the Postfix 3.7 session of protocols.md
 * §4.5 (bytes: fixtures/milter/postfix37-session.hex, written by an
 * independent script; events: postfix37-session.events, written by hand),
 * fed whole and in every chunk size. Every encoder is checked against
 * hand-assembled bytes. Malformed input must give one error event and never
 * read past what was fed (the ASan build checks the latter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcore/buf.h"
#include "milter_proto.h"

#define FIX FIXTURES_DIR "/milter/"

static void
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char tmp[4096];
	size_t n;

	assert_non_null(f);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(out, tmp, n);
	fclose(f);
}

/* "# comment" lines and hex byte pairs separated by blanks. */
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
		assert_true((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
		v = c <= '9' ? c - '0' : c - 'a' + 10;
		if (hi < 0) {
			hi = v;
		} else {
			buf_append_byte(out, (uint8_t)(hi << 4 | v));
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	buf_deinit(&text);
}

/*
 * Feeds data in chunks of the given size, draining events after each feed;
 * appends one line per event to lines. Returns the last status.
 */
static enum milter_status
decode_lines(const uint8_t *data, size_t len, size_t chunk, size_t max_packet,
    struct buf *lines)
{
	struct milter_decoder *d = milter_decoder_new(max_packet);
	struct milter_event ev;
	enum milter_status st = MILTER_NEED_MORE;

	for (size_t off = 0; off < len && st != MILTER_ERROR; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		milter_decoder_feed(d, data + off, n);
		while ((st = milter_decoder_next(d, &ev)) != MILTER_NEED_MORE) {
			assert_true(milter_event_format(lines, &ev));
			buf_append_byte(lines, '\n');
			if (st == MILTER_ERROR)
				break;
		}
	}
	if (st != MILTER_ERROR && milter_decoder_finish(d, &ev) == MILTER_ERROR) {
		st = MILTER_ERROR;
		milter_event_format(lines, &ev);
		buf_append_byte(lines, '\n');
	}
	milter_decoder_free(&d);
	assert_null(d);
	return st;
}

static void
assert_buf_eq(const struct buf *got, const struct buf *want)
{
	if (got->len != want->len || memcmp(got->data, want->data, got->len) != 0) {
		fprintf(stderr, "got:\n%.*s\nwant:\n%.*s\n", (int)got->len,
		    (const char *)got->data, (int)want->len,
		    (const char *)want->data);
		fail();
	}
}

static void
assert_bytes(const struct buf *got, const void *want, size_t len)
{
	assert_int_equal(got->len, len);
	assert_memory_equal(got->data, want, len);
}

/* ---------------------------------------------------------------- */

static void
test_postfix37_golden(void **state)
{
	struct buf wire, want, got;

	buf_init(&wire, NULL);
	buf_init(&want, NULL);
	buf_init(&got, NULL);
	load_hex(FIX "postfix37-session.hex", &wire);
	read_file(FIX "postfix37-session.events", &want);
	assert_int_not_equal(decode_lines(wire.data, wire.len, wire.len, 0, &got),
	    MILTER_ERROR);
	assert_buf_eq(&got, &want);
	buf_deinit(&wire);
	buf_deinit(&want);
	buf_deinit(&got);
}

static void
test_postfix37_every_chunk_size(void **state)
{
	struct buf wire, want;

	buf_init(&wire, NULL);
	buf_init(&want, NULL);
	load_hex(FIX "postfix37-session.hex", &wire);
	read_file(FIX "postfix37-session.events", &want);
	for (size_t chunk = 1; chunk <= wire.len; chunk++) {
		struct buf got;

		buf_init(&got, NULL);
		decode_lines(wire.data, wire.len, chunk, 0, &got);
		assert_buf_eq(&got, &want);
		buf_deinit(&got);
	}
	buf_deinit(&wire);
	buf_deinit(&want);
}

/* Expects the next event to be of the given type. */
static void
next_is(struct milter_decoder *d, struct milter_event *ev, int type)
{
	assert_int_equal(milter_decoder_next(d, ev), MILTER_OK);
	assert_int_equal(ev->type, type);
}

static void
test_postfix37_fields(void **state)
{
	struct buf wire;
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev, first;
	const struct milter_macro *m;

	buf_init(&wire, NULL);
	load_hex(FIX "postfix37-session.hex", &wire);
	milter_decoder_feed(d, wire.data, wire.len);

	next_is(d, &ev, MILTER_EV_OPTNEG);
	assert_int_equal(ev.optneg.version, 6);
	assert_int_equal(ev.optneg.actions, 0x1ff);
	assert_int_equal(ev.optneg.protocol, 0x1fffff);

	next_is(d, &first, MILTER_EV_MACRO);
	assert_int_equal(first.macro.stage, 'C');
	assert_int_equal(first.macro.count, 5);
	m = milter_macro_find(&first, "{v}");
	assert_non_null(m);
	assert_true(span_eq_cstr(m->value, "Postfix 3.7.11"));
	assert_non_null(milter_macro_find(&first, "daemon_name"));
	assert_null(milter_macro_find(&first, "i"));

	next_is(d, &ev, MILTER_EV_CONNECT);
	assert_true(span_eq_cstr(ev.connect.hostname, "localhost"));
	assert_int_equal(ev.connect.family, MILTER_FAMILY_INET);
	assert_int_equal(ev.connect.port, 50470);
	assert_true(span_eq_cstr(ev.connect.address, "127.0.0.1"));
	/* Spans and arrays of earlier events survive next(). */
	assert_true(span_eq_cstr(first.macro.v[4].value, "localhost [127.0.0.1]"));

	next_is(d, &ev, MILTER_EV_MACRO);
	assert_int_equal(ev.macro.count, 0);
	assert_null(ev.macro.v);
	next_is(d, &ev, MILTER_EV_HELO);
	assert_true(span_eq_cstr(ev.helo, "client.helo.example"));
	next_is(d, &ev, MILTER_EV_MACRO);
	next_is(d, &ev, MILTER_EV_MAIL);
	assert_int_equal(ev.addr.argc, 3);
	assert_true(span_eq_cstr(ev.addr.argv[0], "<sender@example.org>"));
	assert_true(span_eq_cstr(ev.addr.argv[2], "BODY=8BITMIME"));
	next_is(d, &ev, MILTER_EV_MACRO);
	assert_null(milter_macro_find(&ev, "i")); /* no queue id at first RCPT */
	next_is(d, &ev, MILTER_EV_RCPT);
	next_is(d, &ev, MILTER_EV_MACRO);
	m = milter_macro_find(&ev, "{i}"); /* Postfix sends the bare "i" */
	assert_non_null(m);
	assert_true(span_eq_cstr(m->value, "73DF0A762B1"));
	assert_int_equal(milter_decoder_pending(d) > 0, 1);
	buf_deinit(&wire);
	milter_decoder_free(&d);
}

/* ---------------------------------------------------------------- */
/* Malformed input                                                   */
/* ---------------------------------------------------------------- */

/* Decodes raw bytes in one feed; returns the first error event's code. */
static enum milter_error
first_error(const void *p, size_t len, size_t max_packet, uint8_t *cmd_r)
{
	struct milter_decoder *d = milter_decoder_new(max_packet);
	struct milter_event ev, again;
	enum milter_status st;

	milter_decoder_feed(d, p, len);
	while ((st = milter_decoder_next(d, &ev)) == MILTER_OK)
		;
	if (st == MILTER_NEED_MORE)
		st = milter_decoder_finish(d, &ev);
	if (st != MILTER_ERROR) {
		milter_decoder_free(&d);
		return MILTER_ERR_NONE;
	}
	assert_int_equal(ev.type, MILTER_EV_ERROR);
	assert_non_null(ev.error.why);
	/* Sticky: the session may ask again, and further input is dropped. */
	milter_decoder_feed(d, "\0\0\0\1A", 5);
	assert_int_equal(milter_decoder_next(d, &again), MILTER_ERROR);
	assert_int_equal(again.error.code, ev.error.code);
	if (cmd_r != NULL)
		*cmd_r = ev.error.cmd;
	milter_decoder_free(&d);
	return ev.error.code;
}

#define ERR(lit, max) first_error(lit, sizeof(lit) - 1, max, NULL)

static void
test_zero_length(void **state)
{
	assert_int_equal(ERR("\0\0\0\0", 0), MILTER_ERR_ZERO_LENGTH);
	/* After a good packet, too. */
	assert_int_equal(ERR("\0\0\0\1A\0\0\0\0", 0), MILTER_ERR_ZERO_LENGTH);
}

static void
test_too_long(void **state)
{
	struct milter_decoder *d = milter_decoder_new(100);
	struct milter_event ev;

	/* Exactly the limit is fine: "B" + 99 bytes. */
	uint8_t ok[4 + 100] = { 0, 0, 0, 100, 'B' };
	assert_int_equal(first_error(ok, sizeof(ok), 100, NULL), MILTER_ERR_NONE);

	/* One over: refused on the four length bytes alone. */
	milter_decoder_feed(d, "\0\0\0\x65", 4);
	assert_int_equal(milter_decoder_next(d, &ev), MILTER_ERROR);
	assert_int_equal(ev.error.code, MILTER_ERR_TOO_LONG);
	assert_int_equal(ev.error.length, 101);
	/* Nothing more is buffered for it. */
	milter_decoder_feed(d, ok, sizeof(ok));
	assert_int_equal(milter_decoder_pending(d), 4);
	milter_decoder_free(&d);

	/* The default limit is 1 MiB; 4 GiB - 1 is refused at once. */
	assert_int_equal(ERR("\xff\xff\xff\xff", 0), MILTER_ERR_TOO_LONG);
	assert_int_equal(ERR("\0\x10\0\x01", 0), MILTER_ERR_TOO_LONG);
}

static void
test_truncated(void **state)
{
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev;

	/* HELO announcing 10 bytes, 4 arrive: need more, then EOF = error. */
	milter_decoder_feed(d, "\0\0\0\x0bHabc", 8);
	assert_int_equal(milter_decoder_next(d, &ev), MILTER_NEED_MORE);
	assert_int_equal(milter_decoder_pending(d), 8);
	assert_int_equal(milter_decoder_finish(d, &ev), MILTER_ERROR);
	assert_int_equal(ev.error.code, MILTER_ERR_TRUNCATED);
	assert_int_equal(ev.error.cmd, 'H');
	milter_decoder_free(&d);

	/* Cut inside the length field. */
	assert_int_equal(ERR("\0\0", 0), MILTER_ERR_TRUNCATED);
	/* Clean end. */
	assert_int_equal(ERR("\0\0\0\1Q", 0), MILTER_ERR_NONE);
}

static void
test_unknown_command(void **state)
{
	uint8_t cmd = 0;

	/* Judged on the command byte, before the data arrives. */
	assert_int_equal(first_error("\0\0\0\x50Z", 5, 0, &cmd),
	    MILTER_ERR_UNKNOWN_CMD);
	assert_int_equal(cmd, 'Z');
	/* A reply byte is not a command. */
	assert_int_equal(ERR("\0\0\0\1a", 0), MILTER_ERR_UNKNOWN_CMD);
	assert_int_equal(ERR("\0\0\0\1\0", 0), MILTER_ERR_UNKNOWN_CMD);
}

static void
test_malformed_packets(void **state)
{
	uint8_t cmd = 0;

	/* Macro with a name and no value. */
	assert_int_equal(first_error("\0\0\0\x08" "DCi\0v\0j\0", 12, 0, &cmd),
	    MILTER_ERR_MALFORMED);
	assert_int_equal(cmd, 'D');
	assert_int_equal(ERR("\0\0\0\x03" "DMi", 0), MILTER_ERR_MALFORMED);
	/* Macro without its command byte. */
	assert_int_equal(ERR("\0\0\0\x01" "D", 0), MILTER_ERR_MALFORMED);
	/* Connect: bad family, no port, no family, no NUL after hostname. */
	assert_int_equal(ERR("\0\0\0\x0a" "Chost\0X\0\x19" "a", 0),
	    MILTER_ERR_MALFORMED);
	assert_int_equal(ERR("\0\0\0\x08" "Chost\0" "4\0", 0),
	    MILTER_ERR_MALFORMED);
	assert_int_equal(ERR("\0\0\0\x06" "Chost\0", 0), MILTER_ERR_MALFORMED);
	assert_int_equal(ERR("\0\0\0\x06" "Chost4", 0), MILTER_ERR_MALFORMED);
	/* Optneg shorter than three words. */
	assert_int_equal(ERR("\0\0\0\x0c" "O\0\0\0\6\0\0\1\xff\0\0\0", 0),
	    MILTER_ERR_MALFORMED);
	/* Header without a name, or without the NUL after it. */
	assert_int_equal(ERR("\0\0\0\x04" "L\0v\0", 0), MILTER_ERR_MALFORMED);
	assert_int_equal(ERR("\0\0\0\x05" "LFrom", 0), MILTER_ERR_MALFORMED);
	/* MAIL / RCPT without an address. */
	assert_int_equal(ERR("\0\0\0\x01" "M", 0), MILTER_ERR_MALFORMED);
	assert_int_equal(ERR("\0\0\0\x01" "R", 0), MILTER_ERR_MALFORMED);
}

/* A packet of NULs must not become a huge span array. */
static void
test_string_cap(void **state)
{
	static uint8_t p[4 + 0x1004];

	/* "D" + stage + 4096 empty strings (2048 pairs): the cap, accepted. */
	memset(p, 0, sizeof(p));
	p[2] = 0x10;
	p[3] = 0x02;
	p[4] = 'D';
	p[5] = 'M';
	assert_int_equal(first_error(p, 4 + 0x1002, 0, NULL), MILTER_ERR_NONE);
	/* Two more strings: refused. */
	p[3] = 0x04;
	assert_int_equal(first_error(p, 4 + 0x1004, 0, NULL), MILTER_ERR_MALFORMED);
	/* MAIL with 4097 arguments. */
	p[2] = 0x10;
	p[3] = 0x02;
	p[4] = 'M';
	p[5] = 0;
	assert_int_equal(first_error(p, 4 + 0x1002, 0, NULL), MILTER_ERR_MALFORMED);
	p[3] = 0x01;
	assert_int_equal(first_error(p, 4 + 0x1001, 0, NULL), MILTER_ERR_NONE);
}

static void
test_tolerated(void **state)
{
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev;
	const struct milter_macro *m;
	static const uint8_t in[] =
	    "\0\0\0\x0d" "DE{i}\0" "Q1\0i\0Q2"	/* last value without NUL */
	    "\0\0\0\x04" "Hbob"			/* HELO without NUL */
	    "\0\0\0\x0c" "C[1.2.3.4]\0U"		/* unknown family: nothing after */
	    "\0\0\0\x0f" "Cx\0L\0\0/run/sock"	/* unix socket */
	    "\0\0\0\x07" "M<a@b>\0"			/* one argument */
	    "\0\0\0\x05" "LX\0\0\0"			/* empty value, extra NUL */
	    "\0\0\0\x03" "Aab"			/* trailing bytes ignored */
	    "\0\0\0\x05" "E" "tail";		/* EOB with a final chunk */

	milter_decoder_feed(d, in, sizeof(in) - 1);
	next_is(d, &ev, MILTER_EV_MACRO);
	assert_int_equal(ev.macro.count, 2);
	/* Both spellings, last definition wins. */
	m = milter_macro_find(&ev, "i");
	assert_non_null(m);
	assert_true(span_eq_cstr(m->value, "Q2"));
	assert_true(span_eq_cstr(ev.macro.v[0].name, "{i}"));
	next_is(d, &ev, MILTER_EV_HELO);
	assert_true(span_eq_cstr(ev.helo, "bob"));
	next_is(d, &ev, MILTER_EV_CONNECT);
	assert_int_equal(ev.connect.family, MILTER_FAMILY_UNKNOWN);
	assert_true(span_eq_cstr(ev.connect.hostname, "[1.2.3.4]"));
	assert_int_equal(ev.connect.address.len, 0);
	next_is(d, &ev, MILTER_EV_CONNECT);
	assert_int_equal(ev.connect.family, MILTER_FAMILY_UNIX);
	assert_int_equal(ev.connect.port, 0);
	assert_true(span_eq_cstr(ev.connect.address, "/run/sock"));
	next_is(d, &ev, MILTER_EV_MAIL);
	assert_int_equal(ev.addr.argc, 1);
	next_is(d, &ev, MILTER_EV_HEADER);
	assert_true(span_eq_cstr(ev.header.name, "X"));
	assert_int_equal(ev.header.value.len, 0);
	next_is(d, &ev, MILTER_EV_ABORT);
	next_is(d, &ev, MILTER_EV_EOB);
	assert_true(span_eq_cstr(ev.body, "tail"));
	assert_int_equal(milter_decoder_next(d, &ev), MILTER_NEED_MORE);
	assert_int_equal(milter_decoder_finish(d, &ev), MILTER_OK);

	/* Reset clears a sticky error (a new connection on the same object). */
	milter_decoder_feed(d, "\0\0\0\0", 4);
	assert_int_equal(milter_decoder_next(d, &ev), MILTER_ERROR);
	milter_decoder_reset(d);
	milter_decoder_feed(d, "\0\0\0\1Q", 5);
	next_is(d, &ev, MILTER_EV_QUIT);
	milter_decoder_free(&d);
}

static void
test_macro_name_is(void **state)
{
	assert_true(milter_macro_name_is(SPAN_LIT("{auth_authen}"), "auth_authen"));
	assert_true(milter_macro_name_is(SPAN_LIT("auth_authen"), "{auth_authen}"));
	assert_true(milter_macro_name_is(SPAN_LIT("i"), "i"));
	assert_false(milter_macro_name_is(SPAN_LIT("{i"), "i"));
	assert_false(milter_macro_name_is(SPAN_LIT("{}"), "i"));
	assert_false(milter_macro_name_is(SPAN_LIT("j"), "i"));
}

/* ---------------------------------------------------------------- */
/* Encoders                                                          */
/* ---------------------------------------------------------------- */

static void
test_encode_bare_replies(void **state)
{
	static const struct {
		bool (*fn)(struct buf *);
		char cmd;
	} t[] = {
		{ milter_encode_continue, 'c' }, { milter_encode_accept, 'a' },
		{ milter_encode_reject, 'r' }, { milter_encode_tempfail, 't' },
		{ milter_encode_discard, 'd' }, { milter_encode_progress, 'p' },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf out;
		uint8_t want[5] = { 0, 0, 0, 1, (uint8_t)t[i].cmd };

		buf_init(&out, NULL);
		assert_true(t[i].fn(&out));
		assert_bytes(&out, want, sizeof(want));
		buf_deinit(&out);
	}
}

static void
test_encode_optneg(void **state)
{
	struct buf out;
	struct milter_optneg o = { 6, 0x31, 0xff380 };
	static const uint8_t want[] = {
		0, 0, 0, 0x0d, 'O', 0, 0, 0, 6, 0, 0, 0, 0x31, 0, 0x0f, 0xf3, 0x80,
	};
	static const struct milter_symlist sym[] = {
		{ MILTER_STAGE_ENVFROM, "i {auth_authen}" },
	};
	static const uint8_t want_sym[] =
	    "\0\0\0\x21" "O\0\0\0\6\0\0\1\x31\0\x0f\xf3\x80"
	    "\0\0\0\2i {auth_authen}";

	/* protocols.md §4.4: rspamd 3.4's captured reply to Postfix 3.7. */
	struct milter_optneg rspamd = { 6, 0x1ff, 0x000ff080 };
	static const uint8_t captured[] = {
		0x00, 0x00, 0x00, 0x0d, 0x4f, 0x00, 0x00, 0x00, 0x06,
		0x00, 0x00, 0x01, 0xff, 0x00, 0x0f, 0xf0, 0x80,
	};

	buf_init(&out, NULL);
	assert_true(milter_encode_optneg(&out, &rspamd, NULL, 0));
	assert_bytes(&out, captured, sizeof(captured));
	buf_reset(&out);
	assert_true(milter_encode_optneg(&out, &o, NULL, 0));
	assert_bytes(&out, want, sizeof(want));
	buf_reset(&out);
	o.actions |= MILTER_ACT_SETSYMLIST;
	assert_true(milter_encode_optneg(&out, &o, sym, 1));
	assert_bytes(&out, want_sym, sizeof(want_sym)); /* incl. the final NUL */
	buf_deinit(&out);
}

static void
test_negotiate(void **state)
{
	struct milter_optneg postfix = { 6, 0x1ff, 0x1fffff }, r;
	struct milter_optneg old = { 2, 0x0f, 0x7f };
	struct milter_optneg ancient = { 1, 0x0f, 0x3f };

	assert_int_equal(milter_negotiate(&postfix, MILTER_WANT_ACTIONS,
	    MILTER_WANT_PROTOCOL, &r), 0);
	assert_int_equal(r.version, 6);
	assert_int_equal(r.actions, 0x31);
	assert_int_equal(r.protocol, 0x0ff380);
	/* An older MTA: its version, a subset of its actions and bits. */
	assert_int_equal(milter_negotiate(&old, MILTER_WANT_ACTIONS,
	    MILTER_WANT_PROTOCOL, &r), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.actions, 0x01);
	assert_int_equal(r.protocol, 0);
	assert_int_equal(milter_negotiate(&ancient, MILTER_WANT_ACTIONS,
	    MILTER_WANT_PROTOCOL, &r), -1);
}

static void
test_encode_replycode(void **state)
{
	struct buf out;
	static const uint8_t reject[] =
	    "\0\0\0\x21y554 5.7.1 Spam message rejected";
	static const uint8_t escaped[] = "\0\0\0\x1a" "y451 4.7.1 100%% sure  x?";
	static const uint8_t bare[] = "\0\0\0\x05y451";

	buf_init(&out, NULL);
	assert_true(milter_encode_replycode(&out, "554", "5.7.1",
	    SPAN_LIT("Spam message rejected")));
	assert_bytes(&out, reject, sizeof(reject));

	/* §4.10 captured GTUBE verdicts: y "554 5.7.1 Gtube pattern"; m 1 X-Spam Yes. */
	buf_reset(&out);
	assert_true(milter_encode_replycode(&out, "554", "5.7.1",
	    SPAN_LIT("Gtube pattern")));
	assert_true(milter_encode_chgheader(&out, 1, SPAN_LIT("X-Spam"),
	    SPAN_LIT("Yes")));
	assert_true(milter_encode_accept(&out));
	static const uint8_t gtube[] =
	    "\0\0\0\x19" "y554 5.7.1 Gtube pattern\0"
	    "\0\0\0\x10" "m\0\0\0\1X-Spam\0Yes\0"
	    "\0\0\0\x01" "a";
	assert_bytes(&out, gtube, sizeof(gtube) - 1);

	/* '%' doubled, CR LF to spaces, 8-bit to '?'. */
	buf_reset(&out);
	assert_true(milter_encode_replycode(&out, "451", "4.7.1",
	    SPAN_LIT("100% sure\r\nx\xe9")));
	assert_bytes(&out, escaped, sizeof(escaped));

	buf_reset(&out);
	assert_true(milter_encode_replycode(&out, "451", NULL, SPAN_LIT("")));
	assert_bytes(&out, bare, sizeof(bare));

	/* Bad codes leave the buffer as it was. */
	buf_reset(&out);
	buf_append_cstr(&out, "keep");
	assert_false(milter_encode_replycode(&out, "250", "2.0.0", SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "554", "4.7.1", SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "55", NULL, SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "5544", NULL, SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "554", "5.7", SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "554", "5.7.1234", SPAN_LIT("x")));
	assert_false(milter_encode_replycode(&out, "554", "5.7.1 ", SPAN_LIT("x")));
	assert_bytes(&out, "keep", 4);
	buf_deinit(&out);
}

static void
test_replycode_long_text(void **state)
{
	struct buf out;
	char text[2000];

	/* All '%': the cut must not split a "%%" pair. */
	memset(text, '%', sizeof(text));
	buf_init(&out, NULL);
	assert_true(milter_encode_replycode(&out, "554", "5.7.1",
	    span_make(text, sizeof(text))));
	/* Line (without its NUL) at most 510 bytes, an even run of '%'. */
	assert_true(out.len - 5 - 1 <= 510);
	assert_int_equal(out.data[out.len - 1], 0);
	assert_int_equal((out.len - 5 - 1 - 10) % 2, 0);
	assert_int_equal(((size_t)out.data[2] << 8 | out.data[3]), out.len - 4);
	buf_deinit(&out);
}

static void
test_encode_headers(void **state)
{
	struct buf out;
	static const uint8_t add[] = "\0\0\0\x0c" "hX-Spam\0Yes";
	static const uint8_t ins[] =
	    "\0\0\0\x1c" "i\0\0\0\1X-Spam-Status\0No, x\n\ty";
	static const uint8_t chg_del[] = "\0\0\0\x0dm\0\0\0\2X-Spam\0";
	static const uint8_t quar[] = "\0\0\0\x0b" "qSpam held";

	buf_init(&out, NULL);
	assert_true(milter_encode_addheader(&out, SPAN_LIT("X-Spam"),
	    SPAN_LIT("Yes")));
	assert_bytes(&out, add, sizeof(add));
	buf_reset(&out);
	assert_true(milter_encode_insheader(&out, 1, SPAN_LIT("X-Spam-Status"),
	    SPAN_LIT("No, x\n\ty")));
	assert_bytes(&out, ins, sizeof(ins));
	buf_reset(&out);
	assert_true(milter_encode_chgheader(&out, 2, SPAN_LIT("X-Spam"),
	    SPAN_LIT("")));
	assert_bytes(&out, chg_del, sizeof(chg_del));
	buf_reset(&out);
	assert_true(milter_encode_quarantine(&out, SPAN_LIT("Spam held")));
	assert_bytes(&out, quar, sizeof(quar));

	/* Refused: nothing is appended. */
	buf_reset(&out);
	assert_false(milter_encode_addheader(&out, SPAN_LIT(""), SPAN_LIT("v")));
	assert_false(milter_encode_addheader(&out, SPAN_LIT("X:Y"), SPAN_LIT("v")));
	assert_false(milter_encode_addheader(&out, SPAN_LIT("X Y"), SPAN_LIT("v")));
	assert_false(milter_encode_addheader(&out, SPAN_LIT("X"), SPAN_LIT("a\nB: c")));
	assert_false(milter_encode_addheader(&out, SPAN_LIT("X"), SPAN_LIT("a\r\n\tb")));
	assert_false(milter_encode_addheader(&out, SPAN_LIT("X"), SPAN_LIT("a\n")));
	assert_false(milter_encode_chgheader(&out, 1, SPAN_LIT("X"),
	    span_make("a\0b", 3)));
	assert_false(milter_encode_quarantine(&out, SPAN_LIT("a\nb")));
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

/* Encoded MTA commands decode back (the framing both ways agrees). */
static void
test_packet_roundtrip(void **state)
{
	struct buf out;
	struct milter_decoder *d = milter_decoder_new(0);
	struct milter_event ev;

	buf_init(&out, NULL);
	assert_true(milter_encode_packet(&out, 'L',
	    span_make("Subject\0hi\0", 11)));
	assert_true(milter_encode_packet(&out, 'B', SPAN_LIT("x\r\n")));
	milter_decoder_feed(d, out.data, out.len);
	next_is(d, &ev, MILTER_EV_HEADER);
	assert_true(span_eq_cstr(ev.header.name, "Subject"));
	assert_true(span_eq_cstr(ev.header.value, "hi"));
	next_is(d, &ev, MILTER_EV_BODY);
	assert_true(span_eq_cstr(ev.body, "x\r\n"));
	milter_decoder_free(&d);
	buf_deinit(&out);
}

static void
test_format_escapes(void **state)
{
	struct buf out;
	struct milter_event ev = { .type = MILTER_EV_HELO };
	char big[300];

	buf_init(&out, NULL);
	ev.helo = SPAN_LIT("a\"b\\c\x01\n");
	assert_true(milter_event_format(&out, &ev));
	assert_true(span_eq_cstr(buf_span(&out), "HELO \"a\\\"b\\\\c\\x01\\n\""));
	buf_reset(&out);
	memset(big, 'x', sizeof(big));
	ev.helo = span_make(big, sizeof(big));
	assert_true(milter_event_format(&out, &ev));
	assert_true(span_find(buf_span(&out), SPAN_LIT("\"...(300 bytes)")) > 0);
	buf_deinit(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postfix37_golden),
		cmocka_unit_test(test_postfix37_every_chunk_size),
		cmocka_unit_test(test_postfix37_fields),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_malformed_packets),
		cmocka_unit_test(test_string_cap),
		cmocka_unit_test(test_tolerated),
		cmocka_unit_test(test_macro_name_is),
		cmocka_unit_test(test_encode_bare_replies),
		cmocka_unit_test(test_encode_optneg),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_encode_replycode),
		cmocka_unit_test(test_replycode_long_text),
		cmocka_unit_test(test_encode_headers),
		cmocka_unit_test(test_packet_roundtrip),
		cmocka_unit_test(test_format_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
