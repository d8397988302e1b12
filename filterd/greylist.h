/*
 * greylist - greylisting with postgrey's semantics (protocols.md §6.1) and
 * rspamd's reply (§6.2), kept in SQLite so it survives restarts.
 *
 * Key: (client network, envelope sender, recipient) -> first seen, last
 * seen, passes. The client network is the IP masked to greylist.ipv4_mask
 * (/24) or greylist.ipv6_mask (/64); the sender is normalised as postgrey
 * does (lower case, BATV prvs= tag and +extension stripped, standalone
 * digit runs of the local part -> '#'); the recipient is lower-cased.
 *
 * Decision for one message (all its recipients at once):
 *   client auto-whitelisted	-> pass ("whitelisted")
 *   any triplet new		-> record all, soft reject ("new record")
 *   any not yet passed, retried past delay + retry_window
 *				-> its first-seen restarts, soft reject
 *   any younger than delay	-> soft reject ("too early")
 *   else			-> pass; each triplet counts a pass; the
 *				   client counts one (at most one per hour,
 *				   as postgrey) and is whitelisted after
 *				   greylist.auto_whitelist of them.
 * Rows unseen for greylist.expire are treated as absent and swept, a
 * bounded number per call.
 *
 * The store: WAL, busy_timeout, schema versioned with user_version,
 * prepared statements, one connection per process. The supervisor creates
 * the schema before fork (greylist_prepare); each scan worker opens its own
 * connection after fork.
 */
#ifndef FILTERD_GREYLIST_H
#define FILTERD_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "fcore/cfg.h"
#include "fcore/symbol.h"

struct greylist;
struct scan_task;

enum greylist_verdict {
	GREYLIST_DEFER,		/* soft reject: retry later */
	GREYLIST_PASS,		/* every triplet is past its delay */
	GREYLIST_WHITELISTED,	/* the client is auto-whitelisted */
};

struct greylist_request {
	struct in6_addr ip;	/* IPv4 as v4-mapped (struct envelope's form) */
	bool ip_is_v4;
	const char *from;	/* "" = null sender */
	const char *const *rcpt;
	size_t nrcpt;		/* 0: one triplet with an empty recipient */
	int64_t now;		/* unix seconds, clock_offset applied */
};

struct greylist_decision {
	enum greylist_verdict verdict;
	const char *why;	/* DEFER: "new record", "too early", "retry window passed" */
	int64_t wait;		/* DEFER: seconds until a retry would pass */
	int64_t delayed;	/* PASS: on a first pass, seconds it was held; else 0 */
	unsigned client_passes;	/* the client's counted passes after this one */
};

/* Supervisor, before fork: creates or checks the schema. */
int greylist_prepare(const struct fconf *cfg, char *err, size_t errlen);
struct greylist *greylist_open(const struct fconf *cfg, char *err, size_t errlen);
void greylist_close(struct greylist **gp);

/* -1 on a database error (err set); the caller then lets the mail pass. */
int greylist_check(struct greylist *g, const struct greylist_request *req,
    struct greylist_decision *d, char *err, size_t errlen);
/* Deletes at most max rows unseen since now - expire; returns how many. */
unsigned greylist_sweep(struct greylist *g, int64_t now, unsigned max);

/* "192.0.2.0/24", "2001:db8:1:2::/64". */
void greylist_client_key(char *out, size_t outsz, const struct in6_addr *ip, bool v4,
    unsigned mask4, unsigned mask6);
/* postgrey's sender normalisation; truncates to outsz - 1. */
void greylist_sender_key(char *out, size_t outsz, const char *from);

/* The scan hook. */
void greylist_register(struct symtab *t);
/*
 * Runs after the action is known: decides per greylist.mode whether the
 * message is greylisted, adds GREYLIST with its options and, on a defer,
 * forces "soft reject" with greylist.message as messages.smtp_message.
 * Never for authenticated senders or local clients (User-Agent: rspamc,
 * Password). True when it changed the result (re-finalize it).
 */
bool greylist_scan(struct greylist *g, struct scan_task *t);

#endif
