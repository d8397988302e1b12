/*
 * NAME
 *	milter_session - one Postfix milter connection on a worker's loop
 *
 * SUMMARY
 *	DESIGN NOTE FOR THE IMPLEMENTER (declarations only; nothing here is
 *	implemented yet). The codec is milter_proto.h; this file says what the
 *	glue on top of it must do so that Postfix 3.7 (protocols.md §4) gets
 *	the right answers and never loses mail.
 *
 * SYNOPSIS
 *	milter_session_start(worker, fd, peer)	accept callback on milter.listen
 *	milter_session_scan_done(s, task)	task finished (any outcome)
 *
 * LAYERS
 *	socket --read--> milter_decoder_feed/next --events--> state machine
 *	state machine --fills--> struct task (envelope + raw message)
 *	task done --> verdict_to_replies() --milter_encode_*--> output buffer
 *	Only the first and last arrows touch libevent (a bufferevent per
 *	connection). Everything between is plain code over the codec and can
 *	be unit-tested with byte strings, like test-milter-proto.c does.
 *
 * MEMORY
 *	Two lifetimes, two arenas (style.md §5):
 *	- connection arena: negotiated options, C/H data (IP, hostname, HELO,
 *	  connection macros); lives until QUIT/close; reset by QUIT_NC.
 *	- task arena: everything of one message (MAIL, RCPTs, macros from the
 *	  'M' stage on, raw message buffer, scan result); freed at ABORT,
 *	  after the EOB reply, or on close.
 *	Codec spans die at the next feed(): copy what you keep
 *	(arena_strndup). Spans never hold a NUL except BODY/EOB data (the
 *	codec splits strings at NUL), so copying envelope fields to C strings
 *	loses nothing.
 *
 * STATE MACHINE (per connection)
 *
 *	  NEGOTIATE --O--> CONNECTED --M--> ENVELOPE --L|N|B--> CONTENT
 *	      ^              ^  ^  |            |                  |
 *	      |              |  |  +--A---------+------A-----------+
 *	      |              |  |                                  E
 *	      |              |  +----- reply sent ---- SCANNING <---+
 *	      +---- K -------+ (K: back to CONNECTED, see below)
 *	  any state --Q or EOF or decoder error--> CLOSING (flush, close)
 *
 *	NEGOTIATE	only OPTNEG is legal; anything else: log, close.
 *	CONNECTED	D, C, H, U, T(ignored), A (no-op), M starts a message.
 *	ENVELOPE	D, R, M (Postfix: a new MAIL after RSET comes after A,
 *			but tolerate it by resetting the message), T, L, N.
 *	CONTENT		D, L, N, B, E.
 *	SCANNING	the task runs; Postfix waits for our EOB reply and sends
 *			nothing. Stop reading (bufferevent_disable EV_READ) until
 *			the reply is queued. EOF here: cancel the task through its
 *			generation guard (style.md §5) and close.
 *	An event that is illegal in the current state is a protocol error:
 *	log once and close (Postfix applies milter_default_action). Never
 *	send a verdict for an event that did not ask for one.
 *
 * EVENT -> TASK FIELD (struct envelope in fcore/msg.h)
 *	OPTNEG	milter_negotiate(offer, MILTER_WANT_ACTIONS,
 *		MILTER_WANT_PROTOCOL, &neg); keep neg in the connection; reply
 *		milter_encode_optneg(&neg, NULL, 0). Version < 2: close.
 *	D 'C'	connection macros: "j" / "{daemon_name}" -> mta_name,
 *		"v" -> (log only), "{client_addr}", "{client_name}" as
 *		fallbacks for C below. Look names up with milter_macro_find(),
 *		which accepts "i" and "{i}" alike (§4.6: Postfix sends names
 *		exactly as configured).
 *	C	hostname: NULL if it is "unknown" or "[...]" -- Postfix sends
 *		"[1.2.3.4]" instead of "unknown" when rDNS failed (§4.2,
 *		milter8.c) -- else {client_name} unless "unknown".
 *		family '4'/'6': envelope_set_ip(address) (it strips a
 *		Sendmail "IPv6:" prefix and brackets). 'L' (unix socket) and
 *		'U': no IP unless {client_addr} is set. non_smtpd_milters
 *		(sendmail(1) mail) shows up as a faked 127.0.0.1 connect (§4.8).
 *		Stays valid for every message of the connection (§4.5).
 *	D 'H'	"{tls_version}" / "{cipher}" non-empty -> env.tls = true.
 *	H	helo (last one wins; Postfix sends A before a HELO that
 *		follows MAIL).
 *	D 'M'	start of a message's macros: "{auth_authen}" -> env.user
 *		(authenticated: skips greylisting and, per
 *		milter.skip_authenticated_headers, the X-Spam-* headers);
 *		"i" is usually absent here (§4.5).
 *	M	argv[0] -> envelope_clean_addr() -> mail_from ("<>" gives "",
 *		the null sender). ESMTP args: "SIZE=n" (case-insensitive) over
 *		limits.max_message may mark the message oversize early.
 *	D 'R'	"i" appears from the second RCPT on (Postfix assigns the queue
 *		id after the first accepted recipient).
 *	R	argv[0] -> envelope_add_rcpt(clean address). Deliver-to user
 *		for per-user Bayes: the first RCPT (milter.multi_rcpt "first";
 *		"each" = classify per recipient when the results differ).
 *	D 'T','L','N','B','E'  "i" -> env.queue_id: take the latest
 *		non-empty value of any stage; by E it is always there.
 *	T	nothing (NODATA was asked; Postfix still sends D 'T').
 *	L	append "name: value\r\n" to the raw message, turning each
 *		"\n" in value back into "\r\n" (Postfix joins folded lines
 *		with a bare LF and eats the one space after the colon, §4.2).
 *		Postfix does not send its own Received: header. Count
 *		occurrences of each configured X-Spam-* name (case-insensitive)
 *		for the spoofed-header removal below.
 *	N	append "\r\n" (header/body separator).
 *	B	append the chunk (CRLF as received, <= 64 KiB each).
 *		Past limits.max_message: stop appending, remember "oversize",
 *		keep consuming.
 *	E	append the data, if any (Sendmail's final chunk; Postfix sends
 *		none), then: oversize -> reply per milter.on_oversize without
 *		scanning; else run the task exactly as an HTTP /checkv2 scan
 *		does (same msg, same checks) and enter SCANNING.
 *	A	drop the task (arena), keep the connection data. Postfix sends
 *		A after every message and once more before Q (§4.5), so A in
 *		CONNECTED is normal and does nothing.
 *	Q	flush pending output, close.
 *	K	(Sendmail only) drop message and connection data, keep the
 *		negotiated options, expect C next.
 *	U	ignore (NOUNKNOWN was asked).
 *	ERROR	log once ("milter: <peer>: <why>"), close this connection
 *		only. Postfix applies milter_default_action; other sessions
 *		on the worker are untouched.
 *
 * WHEN TO REPLY
 *	OPTNEG: always. EOB: always (edits, then exactly one verdict).
 *	Any other event: only when the negotiated protocol lacks that event's
 *	NR_* bit (an MTA that refused "no reply", e.g. Sendmail or a
 *	milter_protocol < 6): then answer 'c' (milter_encode_continue).
 *	MILTER_P_NR_HDR covers L, NR_EOH N, NR_BODY B, NR_CONN C, NR_HELO H,
 *	NR_MAIL M, NR_RCPT R, NR_DATA T, NR_UNKN U. D, A, Q, K: never.
 *	Header edits (h, i, m) need MILTER_ACT_ADDHDRS / _CHGHDRS and q needs
 *	_QUARANTINE in neg.actions; if missing, skip the edit, keep the
 *	verdict. Edits are legal only in the EOB reply (§4.3).
 *	A scan that may outlive Postfix's patience: send 'p' (progress) every
 *	few seconds while SCANNING; milter_content_timeout defaults to 300 s,
 *	limits.task_timeout (8 s) keeps us far below it anyway.
 *
 * VERDICT -> REPLIES at EOB (§4.7, §4.10, issue 6), in this order:
 *	1. spoofed headers: for each configured X-Spam-* name that occurred
 *	   n times in the message, "m k name ''" for k = n..1 (highest first,
 *	   so earlier indexes stay valid; index is 1-based per name).
 *	2. result headers (unless the sender is authenticated and
 *	   skip_authenticated_headers): "h X-Spam-Status 'Yes|No,
 *	   score=%.2f required=%.2f'", score/symbols headers; folds as "\n\t"
 *	   (milter mode, §4.10); values must pass milter_encode_addheader()'s
 *	   check (no CR, LF only as a fold).
 *	3. the action:
 *	   no action		-> "a"
 *	   greylist		-> authenticated: as no action; else
 *				   y "451 4.7.1 <milter.tempfail_message>"
 *	   add header		-> "m 1 <milter.spam_header> Yes", "a"
 *	   rewrite subject	-> as add header, plus "m 1 Subject <new>", "a"
 *	   soft reject		-> y "451 4.7.1 <text>"
 *	   reject		-> y "554 5.7.1 <milter.reject_message>" whose %s
 *				   names the reason in plain words (the top
 *				   symbols' descriptions), never internal
 *				   details; milter_encode_replycode() makes it
 *				   one line and doubles '%'
 *	   virus (later issue)	-> y "554 5.7.1 Virus found: <name>"
 *	   task error, timeout,	-> milter.on_error: tempfail = "t" (Postfix:
 *	   overload		   451 4.7.1 Service unavailable - try again
 *				   later), accept = "a", reject = "r"
 *	   oversize		-> milter.on_oversize (default accept: "a")
 *	Never drop the connection instead of answering EOB; never leave
 *	SCANNING without a verdict. After the verdict: free the task, back to
 *	CONNECTED (Postfix follows with A anyway).
 *
 * OUTPUT
 *	All replies of one EOB go into one evbuffer write (Postfix reads
 *	them in a loop). Back-pressure: if the output buffer passes a high
 *	watermark, stop reading until it drains (style.md §8).
 */
#ifndef FILTERD_MILTER_SESSION_H
#define FILTERD_MILTER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "milter_proto.h"

struct fconf;
struct scan_result;
struct sockaddr;
struct task;
struct worker;

enum milter_session_state {
	MILTER_SS_NEGOTIATE,	/* waiting for OPTNEG */
	MILTER_SS_CONNECTED,	/* connection data, no message */
	MILTER_SS_ENVELOPE,	/* after MAIL */
	MILTER_SS_CONTENT,	/* headers / body arriving */
	MILTER_SS_SCANNING,	/* after EOB, task running, input paused */
	MILTER_SS_CLOSING,	/* flushing, then close */
};

/* What the state machine asks the I/O glue to do after one event. */
enum milter_step {
	MILTER_STEP_CONTINUE,	/* keep reading; out may hold replies */
	MILTER_STEP_SCAN,	/* start the task; pause reading */
	MILTER_STEP_CLOSE,	/* flush out, then close */
};

/* What to answer when no scan verdict exists (cfg milter.on_error etc.). */
enum milter_fallback {
	MILTER_FALLBACK_TEMPFAIL,
	MILTER_FALLBACK_ACCEPT,
	MILTER_FALLBACK_REJECT,
};

struct milter_session;

/* Accept callback: takes fd; the session frees itself on close. */
struct milter_session *milter_session_start(struct worker *w, int fd,
    const struct sockaddr *peer, const struct fconf *cfg);

/*
 * The loop-free core, testable with byte strings: one decoded event in,
 * replies appended to out, the next step out. Called by the read callback
 * for each MILTER_OK/MILTER_ERROR from milter_decoder_next().
 */
enum milter_step milter_session_on_event(struct milter_session *s,
    const struct milter_event *ev, struct buf *out /* OUT: replies */);

/*
 * The task of the current message finished (result valid) or failed
 * (result NULL: error, timeout, overload). Appends the EOB reply, frees the
 * task, resumes reading.
 */
void milter_session_scan_done(struct milter_session *s, struct task *t,
    const struct scan_result *result);

/*
 * Pure verdict mapping (the table above): edits + one verdict for a
 * finished scan. spoofed_counts[i] = occurrences of the i-th configured
 * X-Spam-* header in the message. False only if out cannot grow; then the
 * caller answers with milter_fallback_reply().
 */
bool milter_verdict_to_replies(struct buf *out, const struct milter_optneg *neg,
    const struct fconf *cfg, const struct scan_result *result,
    bool authenticated, const uint32_t *spoofed_counts);
/* "t", "a" or "r": always fits, never fails short of out of memory. */
bool milter_fallback_reply(struct buf *out, enum milter_fallback how);

enum milter_session_state milter_session_state(const struct milter_session *s);

#endif
