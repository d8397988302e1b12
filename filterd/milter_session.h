/*
 * NAME
 *	milter_session - one Postfix milter connection on a worker's loop
 *
 * SUMMARY
 *	The glue on top of the codec (milter_proto.h) so that Postfix 3.7
 *	(protocols.md §4) gets the right answers and never loses mail.
 *	Implemented in milter_session.c; the notes below are the contract.
 *
 * SYNOPSIS
 *	srv = milter_server_new(base, fd, engine, shm)	one per milter.listen fd
 *	  (accepts, one session per connection, frees it on close)
 *	loop-free use (unit tests, golden bytes):
 *	  s = milter_session_new(engine, "peer");
 *	  for each decoded event: step = milter_session_on_event(s, &ev);
 *	  on MILTER_STEP_SCAN: milter_session_scan(s);
 *	  replies so far: milter_session_output(s)
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
 *	  'M' stage on, scan result); the task is created by D 'M' or M,
 *	  freed at ABORT, after the EOB reply, or on close. Connection data
 *	  is copied into it, so a late task never points into a reset
 *	  connection arena.
 *	- the raw message is a heap buffer (growing it inside an arena would
 *	  leave every outgrown copy behind); at EOB the task takes it over
 *	  through an arena destructor, so it lives exactly as long as the
 *	  task, also when the task finishes after a timeout.
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
 *		(authenticated: skips soft reject and, per
 *		milter.skip_authenticated_headers, the X-Spam-* headers);
 *		"i" is usually absent here (§4.5).
 *	M	argv[0] -> envelope_clean_addr() -> mail_from ("<>" gives "",
 *		the null sender). ESMTP args: "SIZE=n" (case-insensitive) over
 *		limits.max_message may mark the message oversize early.
 *	D 'R'	"i" appears from the second RCPT on (Postfix assigns the queue
 *		id after the first accepted recipient).
 *	R	argv[0] -> envelope_add_rcpt(clean address). Deliver-to user
 *		for per-user Bayes: the first RCPT (milter.multi_rcpt "first").
 *		milter.multi_rcpt "each" with stats.per_user (and more than
 *		one distinct recipient): at EOB the message is scanned once
 *		per distinct recipient (case-insensitive), one task after the
 *		other, each with that recipient as deliver_to; the strictest
 *		result (lower action in result.h's order, then the higher
 *		score) gives the headers and the verdict. Without per-user
 *		Bayes every recipient would get the same result: one scan.
 *	D 'T','L','N','B','E'  "i" -> env.queue_id: take the latest
 *		non-empty value of any stage; by E it is always there.
 *	T	nothing (NODATA was asked; Postfix still sends D 'T').
 *	L	append "name: value\r\n" to the raw message, turning each
 *		"\n" in value back into "\r\n" (Postfix joins folded lines
 *		with a bare LF and eats the one space after the colon, §4.2).
 *		Postfix does not send its own Received: header. Spoofed
 *		X-Spam-* headers are counted at EOB over this header block.
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
 *	A scan never outlives limits.task_timeout: a timer armed when the
 *	task starts answers per milter.on_error if the scan has not finished
 *	(Postfix's milter_content_timeout is 300 s, far above the 8 s
 *	default), and the late completion is dropped by a generation check.
 *	No 'p' (progress) is needed below that. The timer runs on the loop:
 *	it bounds checks that wait on the loop (DNS, antivirus pool); a
 *	synchronous check that blocks the loop itself is bounded by its own
 *	limits (PCRE2, Lua budgets), not by this timer.
 *
 * VERDICT -> REPLIES at EOB (§4.7, §4.10, issue 6), in this order:
 *	The header set is reply_headers()'s (the list the /checkv2 "milter"
 *	block is written from), so HTTP and milter never disagree.
 *	1. spoofed headers: for each name in its remove_headers plus
 *	   milter.spam_header that occurred n times in the message,
 *	   "m k name ''" for k = n..1 (highest first, so earlier indexes stay
 *	   valid; index is 1-based per name).
 *	2. result headers (unless the sender is authenticated and
 *	   skip_authenticated_headers): its headers to add, each an "h":
 *	   X-Spam-Status "Yes|No, score=%.2f",
 *	   X-Spamd-Result, X-Spam-Level, X-Spamd-Bar, X-Rspamd-Action, ...;
 *	   folds as "\n\t" (milter mode, §4.10); a value that fails
 *	   milter_encode_addheader()'s check (CR, bare LF) is left out.
 *	3. the action:
 *	   no action		-> "a"
 *	   greylist		-> "a" (as rspamd: the score-band greylist
 *				   candidate is only a hint; the greylist
 *				   check forces "soft reject" when it acts)
 *	   add header		-> "m 1 <milter.spam_header> Yes", "a"
 *	   rewrite subject	-> as add header, plus "m 1 Subject <new>", "a"
 *	   soft reject		-> authenticated: as no action; else
 *				   y "451 4.7.1 <smtp_message or
 *				   milter.tempfail_message>"
 *	   reject		-> y "554 5.7.1 <milter.reject_message>" whose %s
 *				   (or, without %s, a " (...)" suffix) names
 *				   the reason in plain words: the names of the
 *				   top symbols by score ("Spam message rejected
 *				   (GTUBE)"), never internal details;
 *				   milter_encode_replycode() makes it one line
 *				   and doubles '%'
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
 *	them in a loop). We only ever answer OPTNEG and EOB (a few hundred
 *	bytes) and stop reading while a scan runs, so the output never grows
 *	without bound and needs no watermark.
 *
 * OVERLOAD AND IDLE
 *	Past limits.max_connections sessions in a worker, a new connection is
 *	still served, but its messages get the milter.on_error answer without
 *	a scan: Postfix keeps the mail (tempfail) or passes it (accept), never
 *	a dropped connection. An idle milter connection is normal (Postfix
 *	keeps it for the whole SMTP session, smtpd_timeout 300 s), so the
 *	read timeout is MILTER_IDLE_TIMEOUT, not limits.io_timeout.
 */
#ifndef FILTERD_MILTER_SESSION_H
#define FILTERD_MILTER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "milter_proto.h"
#include "scan.h"

struct event_base;
struct shm_stats;

/* Seconds a milter connection may sit idle: above Postfix's smtpd_timeout. */
#define MILTER_IDLE_TIMEOUT 900

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
	MILTER_STEP_CONTINUE,	/* keep reading; the output may hold replies */
	MILTER_STEP_SCAN,	/* call milter_session_scan(); pause reading */
	MILTER_STEP_CLOSE,	/* flush the output, then close */
};

/* What to answer when no scan verdict exists (cfg milter.on_error etc.). */
enum milter_fallback {
	MILTER_FALLBACK_TEMPFAIL,
	MILTER_FALLBACK_ACCEPT,
	MILTER_FALLBACK_REJECT,
};

struct milter_session;
struct milter_server;

/* Serves one listening fd on base; sessions scan with engine. */
struct milter_server *milter_server_new(struct event_base *base, int listen_fd,
    struct scan_engine *engine, struct shm_stats *shm);
/* Stops accepting; sessions in flight go on. */
void milter_server_stop(struct milter_server *srv);
void milter_server_free(struct milter_server **srvp);
unsigned milter_server_active(const struct milter_server *srv);

/* A session without I/O (tests); peer names it in logs. */
struct milter_session *milter_session_new(struct scan_engine *engine,
    const char *peer);
void milter_session_free(struct milter_session **sp);

/*
 * The loop-free core: one decoded event in (MILTER_EV_ERROR included),
 * replies appended to the session's output, the next step out.
 */
enum milter_step milter_session_on_event(struct milter_session *s,
    const struct milter_event *ev);
/*
 * After MILTER_STEP_SCAN: runs the message's task as /checkv2 does
 * (scan_task_new + scan_run, SCAN_F_MILTER) or answers without a scan
 * (oversize, overload). The EOB reply lands in the output when the task
 * finishes, or per milter.on_error when milter_session_timeout() comes
 * first; the state is back to CONNECTED once it is there.
 */
void milter_session_scan(struct milter_session *s);
/* The task budget ran out: answer per milter.on_error, drop the late result. */
void milter_session_timeout(struct milter_session *s);
/* Replies not yet written (the glue drains it; tests read it). */
struct buf *milter_session_output(struct milter_session *s);
enum milter_session_state milter_session_state(const struct milter_session *s);
/* The current message's task (NULL outside a message): envelope, raw. */
const struct scan_task *milter_session_task(const struct milter_session *s);
/* Test hook: how the task is run (default scan_run). */
typedef void (*milter_scan_fn)(struct scan_task *t, scan_done_fn done, void *arg);
void milter_session_set_scan_fn(struct milter_session *s, milter_scan_fn fn);
/* Test hook: act as if past limits.max_connections. */
void milter_session_set_overloaded(struct milter_session *s, bool on);

/*
 * Pure verdict mapping (the table above): edits + one verdict for a
 * finished scan of t. headers = the message's header block as
 * reassembled ("Name: value\r\n"...), where spoofed headers are counted.
 * False only if out cannot grow; then the caller answers with
 * milter_fallback_reply().
 */
bool milter_verdict_to_replies(struct buf *out, const struct milter_optneg *neg,
    const struct scan_task *t, struct span headers, bool authenticated);
/* "t", "a" or "r": always fits, never fails short of out of memory. */
bool milter_fallback_reply(struct buf *out, enum milter_fallback how);
/* The SMTP text of a reject: milter.reject_message naming the top symbols. */
const char *milter_reject_text(const struct scan_task *t);
/* Occurrences of name (ASCII case-insensitive) in a header block. */
uint32_t milter_header_count(struct span headers, const char *name);

#endif
