/*
 * milter_proto.c - Sendmail milter v6 codec (see milter_proto.h).
 *
 * Decoder design: one heap buffer holds the bytes fed since the last
 * compaction; rpos marks the first undecoded byte. next() decodes in place
 * and only advances rpos, so spans into the buffer survive until feed()
 * compacts or grows it. The arrays an event needs (macro pairs, MAIL/RCPT
 * argv) come from a scratch arena that feed() replaces, which gives them the
 * same lifetime as the spans without per-event bookkeeping.
 *
 * Every read from a packet goes through struct cursor, whose getters refuse
 * to pass the end of the packet, so a forgotten check fails closed.
 */
#include "milter_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/xalloc.h"

/* After a big packet, give the memory back once the buffer drains. */
#define MILTER_KEEP_BUFFER	(256u * 1024u)
/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
#define MILTER_REPLY_LINE_MAX	510u
/*
 * Strings in one macro or MAIL/RCPT packet. Postfix sends a handful (the
 * configured macro lists, a few ESMTP args); the cap keeps a packet of
 * NULs from turning 1 MiB of input into 16 MiB of span arrays.
 */
#define MILTER_MAX_STRINGS	4096u
/* milter_event_format() shows at most this much of one span. */
#define MILTER_FORMAT_SPAN_MAX	256u

struct milter_decoder {
	struct buf in;		/* heap; [rpos, in.len) not yet decoded */
	size_t rpos;
	size_t max_packet;
	struct arena *scratch;	/* event arrays; replaced by feed() */
	bool scratch_used;
	bool failed;
	struct milter_event error;	/* sticky once failed */
};

struct cursor {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static size_t
cur_left(const struct cursor *c)
{
	return c->len - c->pos;
}

static bool
cur_byte(struct cursor *c, uint8_t *v_r)
{
	if (cur_left(c) < 1)
		return false;
	*v_r = c->p[c->pos++];
	return true;
}

static bool
cur_u16(struct cursor *c, uint16_t *v_r)
{
	if (cur_left(c) < 2)
		return false;
	*v_r = (uint16_t)((c->p[c->pos] << 8) | c->p[c->pos + 1]);
	c->pos += 2;
	return true;
}

static bool
cur_u32(struct cursor *c, uint32_t *v_r)
{
	if (cur_left(c) < 4)
		return false;
	const uint8_t *q = c->p + c->pos;
	*v_r = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
	    ((uint32_t)q[2] << 8) | (uint32_t)q[3];
	c->pos += 4;
	return true;
}

/*
 * One NUL-terminated string. With need_nul false the last string of a
 * packet may run to its end without a NUL (tolerated, see the header).
 */
static bool
cur_string(struct cursor *c, bool need_nul, struct span *s_r)
{
	size_t left = cur_left(c);
	const uint8_t *start = c->p + c->pos;
	const uint8_t *nul = left > 0 ? memchr(start, 0, left) : NULL;

	if (nul == NULL) {
		if (need_nul)
			return false;
		*s_r = span_make(start, left);
		c->pos = c->len;
		return true;
	}
	*s_r = span_make(start, (size_t)(nul - start));
	c->pos += s_r->len + 1;
	return true;
}

/*
 * Strings left in the cursor, counting an unterminated tail as one;
 * stops counting past MILTER_MAX_STRINGS.
 */
static size_t
cur_count_strings(const struct cursor *c)
{
	struct cursor t = *c;
	struct span s;
	size_t n = 0;

	while (n <= MILTER_MAX_STRINGS && cur_left(&t) > 0 &&
	    cur_string(&t, false, &s))
		n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

struct milter_decoder *
milter_decoder_new(size_t max_packet)
{
	struct milter_decoder *d = xcalloc(1, sizeof(*d));

	buf_init(&d->in, NULL);
	d->max_packet = max_packet != 0 ? max_packet : MILTER_PACKET_MAX_DEFAULT;
	d->scratch = arena_new(0);
	return d;
}

void
milter_decoder_free(struct milter_decoder **dp)
{
	struct milter_decoder *d = *dp;

	if (d == NULL)
		return;
	buf_deinit(&d->in);
	arena_free(&d->scratch);
	free(d);
	*dp = NULL;
}

static void
scratch_renew(struct milter_decoder *d)
{
	if (!d->scratch_used)
		return;
	arena_free(&d->scratch);
	d->scratch = arena_new(0);
	d->scratch_used = false;
}

void
milter_decoder_reset(struct milter_decoder *d)
{
	buf_deinit(&d->in);
	buf_init(&d->in, NULL);
	d->rpos = 0;
	d->failed = false;
	memset(&d->error, 0, sizeof(d->error));
	scratch_renew(d);
}

/* Drops decoded bytes so the buffer holds at most one partial packet. */
static void
compact(struct milter_decoder *d)
{
	size_t left = d->in.len - d->rpos;

	if (d->rpos == 0)
		return;
	if (left == 0 && d->in.cap > MILTER_KEEP_BUFFER) {
		buf_deinit(&d->in);
		buf_init(&d->in, NULL);
	} else if (left > 0) {
		memmove(d->in.data, d->in.data + d->rpos, left);
	}
	d->in.len = left;
	d->rpos = 0;
}

void
milter_decoder_feed(struct milter_decoder *d, const void *p, size_t len)
{
	/* After an error the connection is being closed; keep nothing. */
	if (d->failed || len == 0)
		return;
	compact(d);
	scratch_renew(d);
	buf_append(&d->in, p, len);
}

size_t
milter_decoder_pending(const struct milter_decoder *d)
{
	return d->in.len - d->rpos;
}

static enum milter_status
fail(struct milter_decoder *d, struct milter_event *ev_r,
    enum milter_error code, uint8_t cmd, uint32_t length, const char *why)
{
	d->failed = true;
	memset(&d->error, 0, sizeof(d->error));
	d->error.type = MILTER_EV_ERROR;
	d->error.error.code = code;
	d->error.error.cmd = cmd;
	d->error.error.length = length;
	d->error.error.why = why;
	*ev_r = d->error;
	return MILTER_ERROR;
}

static void *
scratch_array(struct milter_decoder *d, size_t n, size_t size)
{
	d->scratch_used = true;
	return arena_array(d->scratch, n, size);
}

/* Decoders for one command each: fill ev, or set *why and return false. */

static bool
dec_optneg(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	/* Extra bytes after the three words are ignored, as libmilter does. */
	if (!cur_u32(c, &ev->optneg.version) ||
	    !cur_u32(c, &ev->optneg.actions) ||
	    !cur_u32(c, &ev->optneg.protocol)) {
		*why = "optneg: shorter than 12 bytes";
		return false;
	}
	return true;
}

static bool
dec_macro(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	size_t n;
	struct milter_macro *v;

	if (!cur_byte(c, &ev->macro.stage)) {
		*why = "macro: no command byte";
		return false;
	}
	n = cur_count_strings(c);
	if (n > MILTER_MAX_STRINGS) {
		*why = "macro: too many strings";
		return false;
	}
	if (n % 2 != 0) {
		*why = "macro: name without value (odd number of strings)";
		return false;
	}
	ev->macro.count = n / 2;
	ev->macro.v = NULL;
	if (n == 0)
		return true;
	v = scratch_array(d, n / 2, sizeof(*v));
	if (v == NULL) {
		*why = "macro: out of memory";
		return false;
	}
	for (size_t i = 0; i < n / 2; i++) {
		cur_string(c, false, &v[i].name);
		cur_string(c, false, &v[i].value);
	}
	ev->macro.v = v;
	return true;
}

static bool
dec_connect(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	uint8_t fam;

	if (!cur_string(c, true, &ev->connect.hostname) || !cur_byte(c, &fam)) {
		*why = "connect: no hostname or family";
		return false;
	}
	ev->connect.family = fam;
	ev->connect.port = 0;
	ev->connect.address = span_make(c->p + c->pos, 0);
	switch (fam) {
	case MILTER_FAMILY_UNKNOWN:
		return true;
	case MILTER_FAMILY_INET:
	case MILTER_FAMILY_INET6:
	case MILTER_FAMILY_UNIX:
		if (!cur_u16(c, &ev->connect.port)) {
			*why = "connect: no port";
			return false;
		}
		cur_string(c, false, &ev->connect.address);
		return true;
	default:
		*why = "connect: bad address family";
		return false;
	}
}

static bool
dec_argv(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	size_t n = cur_count_strings(c);
	struct span *argv;

	if (n == 0 || n > MILTER_MAX_STRINGS) {
		*why = n == 0 ? "mail/rcpt: no address" : "mail/rcpt: too many arguments";
		return false;
	}
	argv = scratch_array(d, n, sizeof(*argv));
	if (argv == NULL) {
		*why = "mail/rcpt: out of memory";
		return false;
	}
	for (size_t i = 0; i < n; i++)
		cur_string(c, false, &argv[i]);
	ev->addr.argc = n;
	ev->addr.argv = argv;
	return true;
}

static bool
dec_header(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	if (!cur_string(c, true, &ev->header.name) || ev->header.name.len == 0) {
		*why = "header: no name";
		return false;
	}
	cur_string(c, false, &ev->header.value);
	return true;
}

static bool
dec_string(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	/* HELO and UNKNOWN: one string; the union members share the layout. */
	struct span *s = ev->type == MILTER_EV_HELO ? &ev->helo : &ev->unknown;

	cur_string(c, false, s);
	return true;
}

static bool
dec_data(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	ev->body = span_make(c->p + c->pos, cur_left(c));
	return true;
}

static bool
dec_empty(struct milter_decoder *d, struct cursor *c, struct milter_event *ev,
    const char **why)
{
	/* Trailing bytes on A, N, Q, K, T are ignored, as libmilter does. */
	return true;
}

typedef bool (*dec_fn)(struct milter_decoder *, struct cursor *,
    struct milter_event *, const char **);

static dec_fn
decoder_for(uint8_t cmd)
{
	switch (cmd) {
	case MILTER_EV_OPTNEG:	return dec_optneg;
	case MILTER_EV_MACRO:	return dec_macro;
	case MILTER_EV_CONNECT:	return dec_connect;
	case MILTER_EV_HELO:	return dec_string;
	case MILTER_EV_UNKNOWN:	return dec_string;
	case MILTER_EV_MAIL:	return dec_argv;
	case MILTER_EV_RCPT:	return dec_argv;
	case MILTER_EV_HEADER:	return dec_header;
	case MILTER_EV_BODY:	return dec_data;
	case MILTER_EV_EOB:	return dec_data;
	case MILTER_EV_DATA:
	case MILTER_EV_EOH:
	case MILTER_EV_ABORT:
	case MILTER_EV_QUIT:
	case MILTER_EV_QUIT_NC:	return dec_empty;
	default:		return NULL;
	}
}

enum milter_status
milter_decoder_next(struct milter_decoder *d, struct milter_event *ev_r)
{
	struct cursor hdr = { d->in.data, d->in.len, d->rpos };
	uint32_t len;
	uint8_t cmd;
	dec_fn fn;
	const char *why = NULL;

	if (d->failed) {
		*ev_r = d->error;
		return MILTER_ERROR;
	}
	if (!cur_u32(&hdr, &len))
		return MILTER_NEED_MORE;
	/* Check then read: the length is judged before waiting for the data. */
	if (len == 0)
		return fail(d, ev_r, MILTER_ERR_ZERO_LENGTH, 0, 0,
		    "packet length 0");
	if (len > d->max_packet)
		return fail(d, ev_r, MILTER_ERR_TOO_LONG, 0, len,
		    "packet length over limits.milter_packet");
	if (!cur_byte(&hdr, &cmd))
		return MILTER_NEED_MORE;
	if ((fn = decoder_for(cmd)) == NULL)
		return fail(d, ev_r, MILTER_ERR_UNKNOWN_CMD, cmd, len,
		    "unknown command");
	if (cur_left(&hdr) < (size_t)len - 1)
		return MILTER_NEED_MORE;

	struct cursor data = { d->in.data + hdr.pos, (size_t)len - 1, 0 };

	memset(ev_r, 0, sizeof(*ev_r));
	ev_r->type = (enum milter_event_type)cmd;
	if (!fn(d, &data, ev_r, &why))
		return fail(d, ev_r, MILTER_ERR_MALFORMED, cmd, len, why);
	d->rpos = hdr.pos + ((size_t)len - 1);
	return MILTER_OK;
}

enum milter_status
milter_decoder_finish(struct milter_decoder *d, struct milter_event *ev_r)
{
	if (d->failed) {
		*ev_r = d->error;
		return MILTER_ERROR;
	}
	if (milter_decoder_pending(d) == 0)
		return MILTER_OK;
	return fail(d, ev_r, MILTER_ERR_TRUNCATED,
	    milter_decoder_pending(d) > 4 ? d->in.data[d->rpos + 4] : 0, 0,
	    "connection closed inside a packet");
}

/* ------------------------------------------------------------------ */
/* Macros                                                              */
/* ------------------------------------------------------------------ */

bool
milter_macro_name_is(struct span name, const char *want)
{
	struct span w = span_from_cstr(want);

	if (w.len >= 2 && w.p[0] == '{' && w.p[w.len - 1] == '}')
		w = span_make(w.p + 1, w.len - 2);
	if (name.len >= 2 && name.p[0] == '{' && name.p[name.len - 1] == '}')
		name = span_make(name.p + 1, name.len - 2);
	return span_eq(name, w);
}

const struct milter_macro *
milter_macro_find(const struct milter_event *ev, const char *name)
{
	if (ev->type != MILTER_EV_MACRO)
		return NULL;
	for (size_t i = ev->macro.count; i > 0; i--) {
		if (milter_macro_name_is(ev->macro.v[i - 1].name, name))
			return &ev->macro.v[i - 1];
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                          */
/* ------------------------------------------------------------------ */

const char *
milter_error_name(enum milter_error code)
{
	switch (code) {
	case MILTER_ERR_NONE:		return "none";
	case MILTER_ERR_ZERO_LENGTH:	return "zero_length";
	case MILTER_ERR_TOO_LONG:	return "too_long";
	case MILTER_ERR_UNKNOWN_CMD:	return "unknown_command";
	case MILTER_ERR_MALFORMED:	return "malformed";
	case MILTER_ERR_TRUNCATED:	return "truncated";
	case MILTER_ERR_NOMEM:		return "nomem";
	}
	return "?";
}

static bool
fmt_byte(struct buf *out, uint8_t c)
{
	switch (c) {
	case '\n':	return buf_append_cstr(out, "\\n");
	case '\r':	return buf_append_cstr(out, "\\r");
	case '\t':	return buf_append_cstr(out, "\\t");
	case '\0':	return buf_append_cstr(out, "\\0");
	case '\\':	return buf_append_cstr(out, "\\\\");
	case '"':	return buf_append_cstr(out, "\\\"");
	}
	if (c >= 0x20 && c < 0x7f)
		return buf_append_byte(out, c);
	return buf_printf(out, "\\x%02x", c);
}

/* "bytes", escaped, cut at MILTER_FORMAT_SPAN_MAX. */
static bool
fmt_span(struct buf *out, struct span s)
{
	size_t n = s.len < MILTER_FORMAT_SPAN_MAX ? s.len : MILTER_FORMAT_SPAN_MAX;
	bool ok = buf_append_byte(out, '"');

	for (size_t i = 0; i < n; i++)
		ok = ok && fmt_byte(out, s.p[i]);
	ok = ok && buf_append_byte(out, '"');
	if (n < s.len)
		ok = ok && buf_printf(out, "...(%zu bytes)", s.len);
	return ok;
}

static bool
fmt_macros(struct buf *out, const struct milter_event *ev)
{
	bool ok = buf_append_cstr(out, "MACRO ") &&
	    fmt_span(out, span_make(&ev->macro.stage, 1));

	for (size_t i = 0; ok && i < ev->macro.count; i++) {
		ok = buf_append_byte(out, ' ') &&
		    fmt_span(out, ev->macro.v[i].name) &&
		    buf_append_byte(out, '=') &&
		    fmt_span(out, ev->macro.v[i].value);
	}
	return ok;
}

static bool
fmt_argv(struct buf *out, const char *what, const struct milter_event *ev)
{
	bool ok = buf_append_cstr(out, what);

	for (size_t i = 0; ok && i < ev->addr.argc; i++)
		ok = buf_append_byte(out, ' ') && fmt_span(out, ev->addr.argv[i]);
	return ok;
}

static bool
fmt_connect(struct buf *out, const struct milter_event *ev)
{
	uint8_t fam = ev->connect.family;

	return buf_append_cstr(out, "CONNECT ") &&
	    fmt_span(out, ev->connect.hostname) &&
	    buf_append_cstr(out, " family=") &&
	    fmt_span(out, span_make(&fam, 1)) &&
	    buf_printf(out, " port=%u addr=", (unsigned)ev->connect.port) &&
	    fmt_span(out, ev->connect.address);
}

static bool
fmt_error(struct buf *out, const struct milter_event *ev)
{
	uint8_t cmd = ev->error.cmd;

	return buf_printf(out, "ERROR %s cmd=",
	    milter_error_name(ev->error.code)) &&
	    fmt_span(out, span_make(&cmd, cmd != 0 ? 1 : 0)) &&
	    buf_printf(out, " length=%lu (%s)", (unsigned long)ev->error.length,
	    ev->error.why != NULL ? ev->error.why : "");
}

static bool
fmt_span_event(struct buf *out, const char *what, struct span s)
{
	return buf_append_cstr(out, what) && fmt_span(out, s);
}

bool
milter_event_format(struct buf *out, const struct milter_event *ev)
{
	switch (ev->type) {
	case MILTER_EV_ERROR:	return fmt_error(out, ev);
	case MILTER_EV_OPTNEG:
		return buf_printf(out, "OPTNEG version=%lu actions=0x%lx protocol=0x%lx",
		    (unsigned long)ev->optneg.version,
		    (unsigned long)ev->optneg.actions,
		    (unsigned long)ev->optneg.protocol);
	case MILTER_EV_MACRO:	return fmt_macros(out, ev);
	case MILTER_EV_CONNECT:	return fmt_connect(out, ev);
	case MILTER_EV_HELO:	return fmt_span_event(out, "HELO ", ev->helo);
	case MILTER_EV_MAIL:	return fmt_argv(out, "MAIL", ev);
	case MILTER_EV_RCPT:	return fmt_argv(out, "RCPT", ev);
	case MILTER_EV_HEADER:
		return fmt_span_event(out, "HEADER ", ev->header.name) &&
		    buf_append_byte(out, '=') && fmt_span(out, ev->header.value);
	case MILTER_EV_BODY:	return fmt_span_event(out, "BODY ", ev->body);
	case MILTER_EV_EOB:	return fmt_span_event(out, "EOB ", ev->body);
	case MILTER_EV_UNKNOWN:	return fmt_span_event(out, "UNKNOWN ", ev->unknown);
	case MILTER_EV_DATA:	return buf_append_cstr(out, "DATA");
	case MILTER_EV_EOH:	return buf_append_cstr(out, "EOH");
	case MILTER_EV_ABORT:	return buf_append_cstr(out, "ABORT");
	case MILTER_EV_QUIT:	return buf_append_cstr(out, "QUIT");
	case MILTER_EV_QUIT_NC:	return buf_append_cstr(out, "QUIT_NC");
	}
	return buf_append_cstr(out, "?");
}

/* ------------------------------------------------------------------ */
/* Negotiation                                                         */
/* ------------------------------------------------------------------ */

int
milter_negotiate(const struct milter_optneg *offer, uint32_t want_actions,
    uint32_t want_protocol, struct milter_optneg *reply_r)
{
	if (offer->version < MILTER_VERSION_MIN)
		return -1;
	/* Postfix: a filter version above the MTA's is a fatal conflict. */
	reply_r->version = offer->version < MILTER_VERSION ?
	    offer->version : MILTER_VERSION;
	/* Postfix: an action mask that is not a subset of its own is fatal. */
	reply_r->actions = want_actions & offer->actions;
	reply_r->protocol = want_protocol & offer->protocol;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */
/* ------------------------------------------------------------------ */

static bool
put_head(struct buf *out, uint8_t cmd, size_t datalen)
{
	uint8_t h[5];
	uint32_t n;

	if (datalen >= UINT32_MAX)
		return false;
	n = (uint32_t)datalen + 1;
	h[0] = (uint8_t)(n >> 24);
	h[1] = (uint8_t)(n >> 16);
	h[2] = (uint8_t)(n >> 8);
	h[3] = (uint8_t)n;
	h[4] = cmd;
	return buf_append(out, h, sizeof(h));
}

static bool
put_u32(struct buf *out, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	return buf_append(out, b, sizeof(b));
}

static bool
put_string(struct buf *out, struct span s)
{
	return buf_append_span(out, s) && buf_append_byte(out, 0);
}

/* Rolls a failed encoder back so no half packet is ever sent. */
static bool
done(struct buf *out, size_t mark, bool ok)
{
	if (!ok)
		out->len = mark;
	return ok;
}

bool
milter_encode_packet(struct buf *out, uint8_t cmd, struct span data)
{
	size_t mark = out->len;

	return done(out, mark, put_head(out, cmd, data.len) &&
	    buf_append_span(out, data));
}

bool
milter_encode_optneg(struct buf *out, const struct milter_optneg *o,
    const struct milter_symlist *sym, size_t nsym)
{
	size_t mark = out->len;
	size_t len = 12;
	bool ok;

	for (size_t i = 0; i < nsym; i++) {
		if ((unsigned)sym[i].stage > MILTER_STAGE_EOH || sym[i].macros == NULL)
			return false;
		len += 4 + strlen(sym[i].macros) + 1;
	}
	ok = put_head(out, 'O', len) && put_u32(out, o->version) &&
	    put_u32(out, o->actions) && put_u32(out, o->protocol);
	for (size_t i = 0; ok && i < nsym; i++)
		ok = put_u32(out, (uint32_t)sym[i].stage) &&
		    put_string(out, span_from_cstr(sym[i].macros));
	return done(out, mark, ok);
}

static bool
encode_bare(struct buf *out, uint8_t cmd)
{
	return milter_encode_packet(out, cmd, span_make(NULL, 0));
}

bool
milter_encode_continue(struct buf *out)
{
	return encode_bare(out, 'c');
}

bool
milter_encode_accept(struct buf *out)
{
	return encode_bare(out, 'a');
}

bool
milter_encode_reject(struct buf *out)
{
	return encode_bare(out, 'r');
}

bool
milter_encode_tempfail(struct buf *out)
{
	return encode_bare(out, 't');
}

bool
milter_encode_discard(struct buf *out)
{
	return encode_bare(out, 'd');
}

bool
milter_encode_progress(struct buf *out)
{
	return encode_bare(out, 'p');
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* 1 to 3 digits at *s; advances. */
static bool
scan_digits(const char **s)
{
	int n = 0;

	while (n < 3 && is_digit((uint8_t)**s)) {
		(*s)++;
		n++;
	}
	return n > 0;
}

/* RFC 3463 class.subject.detail, class matching the reply code's. */
static bool
xcode_ok(const char *x, char class)
{
	if (x[0] != class || x[1] != '.')
		return false;
	x += 2;
	if (!scan_digits(&x) || *x++ != '.' || !scan_digits(&x))
		return false;
	return *x == '\0';
}

static bool
rcode_ok(const char *r)
{
	return (r[0] == '4' || r[0] == '5') && is_digit((uint8_t)r[1]) &&
	    is_digit((uint8_t)r[2]) && r[3] == '\0';
}

/* One reply-text byte as sent: one line, ASCII, '%' doubled. */
static size_t
reply_byte(uint8_t c, uint8_t out[2])
{
	if (c == '%') {
		out[0] = out[1] = '%';
		return 2;
	}
	if (c < 0x20 || c == 0x7f)
		out[0] = ' ';
	else if (c >= 0x80)
		out[0] = '?';
	else
		out[0] = c;
	return 1;
}

static bool
put_reply_text(struct buf *out, struct span text, size_t room)
{
	bool ok = true;

	for (size_t i = 0; ok && i < text.len; i++) {
		uint8_t b[2];
		size_t n = reply_byte(text.p[i], b);

		if (n > room)
			break;
		room -= n;
		ok = buf_append(out, b, n);
	}
	return ok;
}

bool
milter_encode_replycode(struct buf *out, const char *rcode, const char *xcode,
    struct span text)
{
	size_t mark = out->len;
	size_t lenpos;
	size_t used;
	bool ok;

	if (rcode == NULL || !rcode_ok(rcode) ||
	    (xcode != NULL && !xcode_ok(xcode, rcode[0])))
		return false;
	/* The length is patched in below: text escaping decides it. */
	ok = put_head(out, 'y', 0);
	lenpos = out->len;
	ok = ok && buf_append_cstr(out, rcode);
	if (ok && xcode != NULL)
		ok = buf_append_byte(out, ' ') && buf_append_cstr(out, xcode);
	if (ok && text.len > 0) {
		ok = buf_append_byte(out, ' ');
		used = out->len - lenpos;
		ok = ok && put_reply_text(out, text,
		    MILTER_REPLY_LINE_MAX > used ? MILTER_REPLY_LINE_MAX - used : 0);
	}
	ok = ok && buf_append_byte(out, 0);
	if (ok) {
		uint32_t n = (uint32_t)(out->len - lenpos) + 1;

		out->data[mark] = (uint8_t)(n >> 24);
		out->data[mark + 1] = (uint8_t)(n >> 16);
		out->data[mark + 2] = (uint8_t)(n >> 8);
		out->data[mark + 3] = (uint8_t)n;
	}
	return done(out, mark, ok);
}

static bool
header_name_ok(struct span name)
{
	if (name.len == 0)
		return false;
	for (size_t i = 0; i < name.len; i++) {
		if (name.p[i] < 33 || name.p[i] > 126 || name.p[i] == ':')
			return false;
	}
	return true;
}

static bool
header_value_ok(struct span v)
{
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\0' || v.p[i] == '\r')
			return false;
		if (v.p[i] == '\n' &&
		    (i + 1 == v.len || (v.p[i + 1] != ' ' && v.p[i + 1] != '\t')))
			return false;
	}
	return true;
}

static bool
encode_header(struct buf *out, uint8_t cmd, bool with_index, uint32_t index,
    struct span name, struct span value)
{
	size_t mark = out->len;
	size_t len = (with_index ? 4 : 0) + name.len + 1 + value.len + 1;
	bool ok;

	if (!header_name_ok(name) || !header_value_ok(value))
		return false;
	ok = put_head(out, cmd, len);
	if (ok && with_index)
		ok = put_u32(out, index);
	ok = ok && put_string(out, name) && put_string(out, value);
	return done(out, mark, ok);
}

bool
milter_encode_addheader(struct buf *out, struct span name, struct span value)
{
	return encode_header(out, 'h', false, 0, name, value);
}

bool
milter_encode_insheader(struct buf *out, uint32_t index, struct span name,
    struct span value)
{
	return encode_header(out, 'i', true, index, name, value);
}

bool
milter_encode_chgheader(struct buf *out, uint32_t index, struct span name,
    struct span value)
{
	return encode_header(out, 'm', true, index, name, value);
}

bool
milter_encode_quarantine(struct buf *out, struct span reason)
{
	size_t mark = out->len;

	for (size_t i = 0; i < reason.len; i++) {
		if (reason.p[i] == '\0' || reason.p[i] == '\r' || reason.p[i] == '\n')
			return false;
	}
	return done(out, mark, put_head(out, 'q', reason.len + 1) &&
	    put_string(out, reason));
}
