/*
 * rbl - DNS block lists (RBL/DNSBL, RHSBL, SURBL/URIBL) as an async check.
 *
 * What is looked up (a zone's "checks"): the client IP (from), the IPs of
 * Received hops outside rbl.trusted_networks (received, when rbl.received
 * is on), the HELO and reverse names (helo, rdns), the registered domains of
 * the message's URLs (urls; numeric-IP URLs are looked up as addresses) and
 * of its e-mail addresses (emails); authenticated senders get no address
 * checks. Items are de-duplicated per message, so each (item, zone) is
 * queried at most once; answers are kept in a small per-worker cache for
 * their TTL.
 *
 * One struct rbl per worker process: it owns the evdns resolver on the
 * worker's loop (rbl.resolver: "host:port" or a resolv.conf path) and the
 * cache. Each enabled zone is one async check of the task, named by the
 * zone's symbol, with rbl.timeout as its time-out.
 *
 * Symbols (protocols.md 6.4): a return code mapped by returncodes/returnbits
 * inserts its symbol; an answer in 127/8 matching none inserts the zone's
 * symbol when "unknown" is on (or the zone has no codes). Options read
 * "<item>:<check>:<answer>". A DNS error other than NXDOMAIN inserts
 * <symbol>_FAIL ("<item>:<error>"); 127.255.255.x answers (the list refused
 * the query) are logged and insert nothing unless a return code names them.
 *
 * Health: every zone is probed at start and every 5 minutes with the RFC
 * 5782 test point that must not be listed; a zone listing it is skipped
 * until it stops (it would list every sender).
 */
#ifndef FILTERD_RBL_H
#define FILTERD_RBL_H

#include "fcore/cfg.h"
#include "fcore/symbol.h"

struct event_base;
struct async_task;
struct scan_task;
struct rbl;

/* Registers the symbols of the enabled zones (before admin overrides). */
void rbl_register(struct symtab *t, const struct fconf *cfg);

/* Checks what rbl_new() will need, so a bad rbl.resolver fails at start in
 * the supervisor rather than in every worker. */
int rbl_check_config(const struct fconf *cfg, char *err, size_t errlen);

/* Per worker, on its loop. NULL with a reason in err if the resolver
 * cannot be set up. */
struct rbl *rbl_new(const struct fconf *cfg, struct event_base *base, char *err, size_t errlen);
void rbl_free(struct rbl **rp);

/* Starts the lookups of t, one async check per enabled zone of at. */
void rbl_start(struct rbl *r, struct scan_task *t, struct async_task *at);

#endif
