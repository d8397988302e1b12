/*
 * NAME
 *	milter_proto - Sendmail milter v6 codec, as Postfix 3.7 speaks it
 *
 * SUMMARY
 *	Bytes in, events out (MTA -> filter); replies in, bytes out
 *	(filter -> MTA). No sockets, no event loop: the session glue
 *	(milter_session.h) reads the socket, feeds the decoder, acts on the
 *	events and writes what the encoders produce. Keeping the codec pure
 *	lets it be fuzzed and golden-tested byte for byte.
 *
 * SYNOPSIS
 *	d = milter_decoder_new(cfg->limits.milter_packet);
 *	on readable:  milter_decoder_feed(d, bytes, n);
 *	              while ((st = milter_decoder_next(d, &ev)) == MILTER_OK)
 *	                      handle(&ev);
 *	              if (st == MILTER_ERROR) close the connection;
 *	on EOF:       milter_decoder_finish(d, &ev) reports a cut packet;
 *	milter_decoder_free(&d);
 *
 * DESCRIPTION
 *	Framing (protocols.md §4.1): u32 big-endian length that counts the
 *	command byte, the command byte, length - 1 data bytes. The decoder
 *	is incremental: any split of the stream into feed() calls, down to
 *	one byte at a time, yields the same events.
 *
 *	Lifetime: every span and array in an event points into memory the
 *	decoder owns. It stays valid until the next milter_decoder_feed(),
 *	milter_decoder_free() (or _reset()); milter_decoder_next() never
 *	moves it. A session that wants to keep a value longer copies it
 *	(into the task or connection arena).
 *
 *	Strings on the wire are NUL-terminated; the spans here exclude the
 *	NUL. The last string of a packet may lack its NUL (tolerated: it ends
 *	at the end of the packet). Nothing here is NUL-terminated for C.
 *
 * DIAGNOSTICS
 *	A protocol violation produces one MILTER_EV_ERROR event (code, the
 *	command byte, and a static English reason for the log line) and
 *	makes the decoder sticky-failed: later next() calls repeat the
 *	error and feed() drops its input. The session then closes that one
 *	connection; Postfix applies milter_default_action for it.
 *	Errors: length 0; length over the limit (checked on the 4 length
 *	bytes, before the packet is buffered); unknown command byte; a
 *	packet whose data does not fit its command's layout (short OPTNEG,
 *	macro list with an odd number of strings, connect with a bad family
 *	or no port, header without a name, MAIL/RCPT without an address).
 *	A packet cut short by the end of input is not an error for next()
 *	(MILTER_NEED_MORE); milter_decoder_finish() reports it at EOF.
 */
#ifndef FILTERD_MILTER_PROTO_H
#define FILTERD_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"

/* The protocol version we speak; Postfix 3.7 offers 6. */
#define MILTER_VERSION		6
/* libmilter refuses MTAs below version 2 (SMFI_PROT_VERSION_MIN). */
#define MILTER_VERSION_MIN	2
/* design.md: "milter packet 1 MiB"; cfg limits.milter_packet overrides. */
#define MILTER_PACKET_MAX_DEFAULT (1u << 20)
/* Postfix MILTER_CHUNK_SIZE: body packets never carry more. */
#define MILTER_BODY_CHUNK	65535

/* Actions the filter may request (mfapi.h SMFIF_*). */
#define MILTER_ACT_ADDHDRS	0x001u
#define MILTER_ACT_CHGBODY	0x002u
#define MILTER_ACT_ADDRCPT	0x004u
#define MILTER_ACT_DELRCPT	0x008u
#define MILTER_ACT_CHGHDRS	0x010u
#define MILTER_ACT_QUARANTINE	0x020u
#define MILTER_ACT_CHGFROM	0x040u
#define MILTER_ACT_ADDRCPT_PAR	0x080u
#define MILTER_ACT_SETSYMLIST	0x100u

/* Protocol bits (mfdef.h SMFIP_*): NO* = "don't send", NR_* = "no reply". */
#define MILTER_P_NOCONNECT	0x000001u
#define MILTER_P_NOHELO		0x000002u
#define MILTER_P_NOMAIL		0x000004u
#define MILTER_P_NORCPT		0x000008u
#define MILTER_P_NOBODY		0x000010u
#define MILTER_P_NOHDRS		0x000020u
#define MILTER_P_NOEOH		0x000040u
#define MILTER_P_NR_HDR		0x000080u
#define MILTER_P_NOUNKNOWN	0x000100u
#define MILTER_P_NODATA		0x000200u
#define MILTER_P_SKIP		0x000400u
#define MILTER_P_RCPT_REJ	0x000800u
#define MILTER_P_NR_CONN	0x001000u
#define MILTER_P_NR_HELO	0x002000u
#define MILTER_P_NR_MAIL	0x004000u
#define MILTER_P_NR_RCPT	0x008000u
#define MILTER_P_NR_DATA	0x010000u
#define MILTER_P_NR_UNKN	0x020000u
#define MILTER_P_NR_EOH		0x040000u
#define MILTER_P_NR_BODY	0x080000u
#define MILTER_P_HDR_LEADSPC	0x100000u
#define MILTER_P_NR_ALL		0x0ff080u

/*
 * What filterd asks for (milter_negotiate() intersects with the offer).
 *
 * Actions: add headers (X-Spam-*), change/delete headers (spoofed
 * X-Spam-*, Subject rewrite), quarantine (hold queue). Nothing touches the
 * envelope or the body, so we do not ask for those rights.
 *
 * Protocol:
 *  - every NR_* bit: we answer only OPTNEG and end-of-message, as rspamd's
 *    proxy does (0x000ff080), so Postfix streams the whole transaction
 *    without a round trip per event;
 *  - NOUNKNOWN, NODATA: unknown SMTP commands and the DATA event carry
 *    nothing we use. Postfix still sends the macros of a skipped event
 *    (milter8.c: "Send the macros for this event, even when we're not
 *    reporting the event itself"), so D 'T' with the queue id still comes;
 *  - CONNECT, HELO, MAIL, RCPT, headers, EOH and body are all needed
 *    (IP, hostname, HELO, envelope, the message itself). EOH is kept: it
 *    is the one unambiguous place for the header/body separator, even
 *    for a message without body chunks;
 *  - not HDR_LEADSPC: Postfix then eats one space after "Name:" and
 *    inserts one in our h/i/m edits (protocols.md §4.7, verified), so the
 *    session writes plain values and rebuilds "Name: value";
 *  - not RCPT_REJ: rejected recipients are not recipients of the message;
 *  - not SKIP: it only helps a filter that replies to body chunks.
 */
#define MILTER_WANT_ACTIONS \
	(MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_QUARANTINE)
#define MILTER_WANT_PROTOCOL \
	(MILTER_P_NR_ALL | MILTER_P_NOUNKNOWN | MILTER_P_NODATA)

/* Macro stages for SETSYMLIST (mfapi.h SMFIM_*). */
enum milter_stage {
	MILTER_STAGE_CONNECT = 0,
	MILTER_STAGE_HELO = 1,
	MILTER_STAGE_ENVFROM = 2,
	MILTER_STAGE_ENVRCPT = 3,
	MILTER_STAGE_DATA = 4,
	MILTER_STAGE_EOM = 5,
	MILTER_STAGE_EOH = 6,
};

enum milter_status {
	MILTER_OK = 0,		/* *ev_r holds one event */
	MILTER_NEED_MORE = 1,	/* no complete packet buffered */
	MILTER_ERROR = -1,	/* *ev_r is the MILTER_EV_ERROR event */
};

/* Event types carry the SMFIC_* command byte they decode. */
enum milter_event_type {
	MILTER_EV_ERROR = 0,
	MILTER_EV_OPTNEG = 'O',
	MILTER_EV_MACRO = 'D',
	MILTER_EV_CONNECT = 'C',
	MILTER_EV_HELO = 'H',
	MILTER_EV_MAIL = 'M',
	MILTER_EV_RCPT = 'R',
	MILTER_EV_DATA = 'T',
	MILTER_EV_HEADER = 'L',
	MILTER_EV_EOH = 'N',
	MILTER_EV_BODY = 'B',
	MILTER_EV_EOB = 'E',
	MILTER_EV_ABORT = 'A',
	MILTER_EV_QUIT = 'Q',
	MILTER_EV_QUIT_NC = 'K',
	MILTER_EV_UNKNOWN = 'U',
};

enum milter_error {
	MILTER_ERR_NONE = 0,
	MILTER_ERR_ZERO_LENGTH,	/* length field 0 */
	MILTER_ERR_TOO_LONG,	/* length field over the decoder's limit */
	MILTER_ERR_UNKNOWN_CMD,	/* not an SMFIC_* byte */
	MILTER_ERR_MALFORMED,	/* data does not fit the command's layout */
	MILTER_ERR_TRUNCATED,	/* EOF inside a packet (finish() only) */
	MILTER_ERR_NOMEM,	/* scratch arena refused (cannot happen unbudgeted) */
};

/* Connect address families (SMFIA_*), as the wire byte. */
enum milter_family {
	MILTER_FAMILY_UNKNOWN = 'U',	/* no port, no address follow */
	MILTER_FAMILY_UNIX = 'L',	/* port 0, address = socket path */
	MILTER_FAMILY_INET = '4',
	MILTER_FAMILY_INET6 = '6',
};

struct milter_optneg {
	uint32_t version;
	uint32_t actions;	/* MILTER_ACT_* */
	uint32_t protocol;	/* MILTER_P_* */
};

struct milter_macro {
	struct span name;	/* as sent: "i" or "{i}" */
	struct span value;	/* may be empty ({mail_addr} of <>) */
};

struct milter_event {
	enum milter_event_type type;
	union {
		struct milter_optneg optneg;	/* OPTNEG */
		struct {
			uint8_t stage;		/* command the macros are for: 'C', 'M', ... */
			size_t count;
			const struct milter_macro *v;	/* NULL when count == 0 */
		} macro;
		struct {
			struct span hostname;	/* "[1.2.3.4]" when rDNS is unknown */
			uint8_t family;		/* enum milter_family */
			uint16_t port;		/* host order; 0 for U and L */
			struct span address;	/* empty for U */
		} connect;
		struct span helo;		/* HELO */
		struct {
			size_t argc;		/* >= 1 */
			const struct span *argv; /* argv[0] "<addr>" as sent, then ESMTP args */
		} addr;				/* MAIL, RCPT */
		struct {
			struct span name;
			struct span value;	/* folds as "\n\t"; leading space eaten by Postfix */
		} header;			/* HEADER */
		struct span body;		/* BODY chunk; EOB: optional final chunk (Sendmail) */
		struct span unknown;		/* UNKNOWN: the SMTP command line */
		struct {
			enum milter_error code;
			uint8_t cmd;		/* offending command byte (0 before one was read) */
			uint32_t length;	/* its length field, when known */
			const char *why;	/* static text for the log */
		} error;
	};
};

struct milter_decoder;

/* max_packet: limit on the length field (counts the command byte); 0 = default. */
struct milter_decoder *milter_decoder_new(size_t max_packet);
void milter_decoder_free(struct milter_decoder **dp);
/* Drops buffered bytes and a sticky error (a fresh connection). */
void milter_decoder_reset(struct milter_decoder *d);

/*
 * Appends len bytes. Invalidates the spans of earlier events. Call next()
 * until it stops returning MILTER_OK before feeding again: the decoder then
 * never holds more than one partial packet plus the bytes of one feed.
 */
void milter_decoder_feed(struct milter_decoder *d, const void *p, size_t len);
/* Decodes the next complete packet into *ev_r. */
enum milter_status milter_decoder_next(struct milter_decoder *d,
    struct milter_event *ev_r /* OUT */);
/*
 * At end of input: MILTER_OK if the stream ended on a packet boundary,
 * else MILTER_ERROR with a MILTER_ERR_TRUNCATED event (or the sticky error).
 */
enum milter_status milter_decoder_finish(struct milter_decoder *d,
    struct milter_event *ev_r /* OUT */);
/* Bytes buffered but not yet decoded. */
size_t milter_decoder_pending(const struct milter_decoder *d);

/*
 * Macro lookup tolerant of both spellings: "i" finds "i" and "{i}",
 * "{auth_authen}" finds "auth_authen" too. The last definition wins, as
 * with a second D for the same stage. NULL if absent.
 */
const struct milter_macro *milter_macro_find(const struct milter_event *ev,
    const char *name);
bool milter_macro_name_is(struct span name, const char *want);

/*
 * One line describing an event, bytes escaped (\n, \t, \r, \0, \xNN,
 * backslash) so hostile data cannot forge log lines. For debug logs and
 * the golden tests.
 */
bool milter_event_format(struct buf *out, const struct milter_event *ev);
const char *milter_error_name(enum milter_error code);

/*
 * Negotiation: given the MTA's OPTNEG offer and what we want, the reply:
 * version = min(ours, MTA's), actions = want & offer (Postfix refuses a
 * superset), protocol = want & offer. -1 if the MTA's version is below
 * MILTER_VERSION_MIN (the session then closes the connection).
 */
int milter_negotiate(const struct milter_optneg *offer, uint32_t want_actions,
    uint32_t want_protocol, struct milter_optneg *reply_r /* OUT */);

/* SETSYMLIST entry: macros (space separated, NUL-free) for one stage. */
struct milter_symlist {
	enum milter_stage stage;
	const char *macros;
};

/*
 * Encoders: append one packet to out; false when the input cannot be sent
 * faithfully (see each) or the buffer cannot grow. On false, out->len is
 * back where it was, so a half packet never reaches the MTA.
 */
/* Generic framing (also what a test MTA uses to build commands). */
bool milter_encode_packet(struct buf *out, uint8_t cmd, struct span data);
/* OPTNEG reply; nsym > 0 appends SETSYMLIST pairs (needs that action). */
bool milter_encode_optneg(struct buf *out, const struct milter_optneg *o,
    const struct milter_symlist *sym, size_t nsym);
bool milter_encode_continue(struct buf *out);	/* c */
bool milter_encode_accept(struct buf *out);	/* a */
bool milter_encode_reject(struct buf *out);	/* r */
bool milter_encode_tempfail(struct buf *out);	/* t */
bool milter_encode_discard(struct buf *out);	/* d */
bool milter_encode_progress(struct buf *out);	/* p */
/*
 * y "rcode xcode text": rcode 3 digits starting 4 or 5; xcode "D.D.D"
 * whose class digit matches rcode (or NULL to omit). text is made one
 * printable-ASCII line (controls -> ' ', 8-bit -> '?'), '%' doubled as
 * Postfix and Sendmail expect, and cut so the reply fits an SMTP line
 * (RFC 5321 §4.5.3.1.5: 512 octets with CRLF). False on a bad code.
 */
bool milter_encode_replycode(struct buf *out, const char *rcode,
    const char *xcode, struct span text);
/*
 * Header edits. name: 1+ bytes of RFC 5322 ftext (33..126 but ':').
 * value: no NUL, no CR; an LF must be followed by SP or HT (a fold,
 * Postfix's own convention), so a value cannot smuggle a new header.
 * False otherwise.
 */
bool milter_encode_addheader(struct buf *out, struct span name, struct span value);	/* h */
/* i: index 0 = very top, counting Postfix's own Received: (§4.7). */
bool milter_encode_insheader(struct buf *out, uint32_t index, struct span name,
    struct span value);
/* m: index = 1-based occurrence of that name; empty value deletes. */
bool milter_encode_chgheader(struct buf *out, uint32_t index, struct span name,
    struct span value);
/* q: reason without NUL, CR or LF (false otherwise). Follow with a verdict. */
bool milter_encode_quarantine(struct buf *out, struct span reason);

#endif
