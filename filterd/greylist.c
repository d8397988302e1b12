/*
 * greylist.c - the triplet store (SQLite) and the greylisting decision.
 * The contract is greylist.h.
 */
#include "greylist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/result.h"
#include "fcore/xalloc.h"
#include "scan.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000
/* postgrey counts at most one client pass per hour towards the whitelist. */
#define AWL_COUNT_INTERVAL 3600
/* Rows swept per check, and how often a process sweeps (scan clock). */
#define SWEEP_BATCH 100
#define SWEEP_INTERVAL 10
#define KEY_MAX 512
#define MAX_RCPTS 1000

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS triplet ("
    " client TEXT NOT NULL, sender TEXT NOT NULL, rcpt TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " passes INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (client, sender, rcpt));"
    "CREATE INDEX IF NOT EXISTS triplet_last_seen ON triplet (last_seen);"
    "CREATE TABLE IF NOT EXISTS client ("
    " client TEXT NOT NULL UNIQUE, passes INTEGER NOT NULL,"
    " last_count INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS client_last_seen ON client (last_seen);"
    "PRAGMA user_version = 1;";

enum stmt {
	ST_TRIPLET_GET,
	ST_TRIPLET_PUT,
	ST_TRIPLET_SEEN,
	ST_TRIPLET_PASS,
	ST_CLIENT_GET,
	ST_CLIENT_PUT,
	ST_SWEEP_TRIPLET,
	ST_SWEEP_CLIENT,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_TRIPLET_GET] = "SELECT first_seen, last_seen, passes FROM triplet"
	    " WHERE client = ?1 AND sender = ?2 AND rcpt = ?3",
	[ST_TRIPLET_PUT] = "INSERT INTO triplet (client, sender, rcpt, first_seen, last_seen, passes)"
	    " VALUES (?1, ?2, ?3, ?4, ?4, 0) ON CONFLICT (client, sender, rcpt) DO UPDATE"
	    " SET first_seen = ?4, last_seen = ?4, passes = 0",
	[ST_TRIPLET_SEEN] = "UPDATE triplet SET last_seen = ?4"
	    " WHERE client = ?1 AND sender = ?2 AND rcpt = ?3",
	[ST_TRIPLET_PASS] = "UPDATE triplet SET last_seen = ?4, passes = passes + 1"
	    " WHERE client = ?1 AND sender = ?2 AND rcpt = ?3",
	[ST_CLIENT_GET] = "SELECT passes, last_count, last_seen FROM client WHERE client = ?1",
	[ST_CLIENT_PUT] = "INSERT INTO client (client, passes, last_count, last_seen)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client) DO UPDATE"
	    " SET passes = ?2, last_count = ?3, last_seen = ?4",
	[ST_SWEEP_TRIPLET] = "DELETE FROM triplet WHERE rowid IN"
	    " (SELECT rowid FROM triplet WHERE last_seen < ?1 LIMIT ?2)",
	[ST_SWEEP_CLIENT] = "DELETE FROM client WHERE rowid IN"
	    " (SELECT rowid FROM client WHERE last_seen < ?1 LIMIT ?2)",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct greylist {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	const struct fconf *cfg;
	int64_t last_sweep;
};

/* One triplet of the message being checked. */
struct triplet {
	char rcpt[KEY_MAX];
	enum { T_NEW, T_RESTART, T_EARLY, T_PASSED } state;
	int64_t first_seen;
	int64_t passes;
};

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

void
greylist_client_key(char *out, size_t outsz, const struct in6_addr *ip, bool v4,
    unsigned mask4, unsigned mask6)
{
	struct in6_addr a = *ip;
	unsigned bits = v4 ? 96 + (mask4 > 32 ? 32 : mask4) : (mask6 > 128 ? 128 : mask6);
	char text[INET6_ADDRSTRLEN];

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
		if (keep < 8)
			a.s6_addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	if (v4)
		inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, &a, text, sizeof(text));
	snprintf(out, outsz, "%s/%u", text, v4 ? bits - 96 : bits);
}

static bool
is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Local part: BATV "prvs=tag=user" -> "user", "+ext" dropped, \b\d+\b -> '#'. */
static size_t
normalise_local(char *out, size_t outsz, const char *lp, size_t len)
{
	size_t o = 0;

	if (len > 5 && strncmp(lp, "prvs=", 5) == 0) {
		const char *eq = memchr(lp + 5, '=', len - 5);
		if (eq != NULL) {
			len -= (size_t)(eq + 1 - lp);
			lp = eq + 1;
		}
	}
	const char *plus = memchr(lp, '+', len);
	if (plus != NULL)
		len = (size_t)(plus - lp);
	for (size_t i = 0; i < len && o + 1 < outsz; i++) {
		if (isdigit((unsigned char)lp[i]) && (i == 0 || !is_word(lp[i - 1]))) {
			size_t j = i;
			while (j < len && isdigit((unsigned char)lp[j]))
				j++;
			if (j == len || !is_word(lp[j])) {
				out[o++] = '#';
				i = j - 1;
				continue;
			}
		}
		out[o++] = lp[i];
	}
	return o;
}

void
greylist_sender_key(char *out, size_t outsz, const char *from)
{
	char low[KEY_MAX];
	size_t n = 0;

	if (outsz == 0)
		return;
	for (; from[n] != '\0' && n + 1 < sizeof(low); n++)
		low[n] = (char)tolower((unsigned char)from[n]);
	low[n] = '\0';
	const char *at = strrchr(low, '@');
	size_t lplen = at != NULL ? (size_t)(at - low) : n;
	size_t o = normalise_local(out, outsz, low, lplen);
	if (at != NULL)
		o += (size_t)snprintf(out + o, outsz - o, "%s", at);
	out[o < outsz ? o : outsz - 1] = '\0';
}

static void
rcpt_key(char *out, size_t outsz, const char *rcpt)
{
	size_t n = 0;

	for (; rcpt[n] != '\0' && n + 1 < outsz; n++)
		out[n] = (char)tolower((unsigned char)rcpt[n]);
	out[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

static int
db_fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "greylist: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

static int
user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
schema_init(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	if (sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL,
	    NULL) != SQLITE_OK)
		return db_fail(db, path, err, errlen);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, path, err, errlen);
	int v = user_version(db);
	if (v != 0 && v != SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err, errlen, "greylist: %s has schema version %d, expected %d", path, v,
		    SCHEMA_VERSION);
		return -1;
	}
	if (v == 0 && sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(db, path, err, errlen);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, path, err, errlen);
	return 0;
}

static sqlite3 *
db_open(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		db_fail(db, path, err, errlen);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (schema_init(db, path, err, errlen) != 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int
greylist_prepare(const struct fconf *cfg, char *err, size_t errlen)
{
	if (!cfg->greylist.enabled)
		return 0;
	sqlite3 *db = db_open(cfg->greylist.db, err, errlen);
	if (db == NULL)
		return -1;
	sqlite3_close(db);
	return 0;
}

struct greylist *
greylist_open(const struct fconf *cfg, char *err, size_t errlen)
{
	struct greylist *g = xcalloc(1, sizeof(*g));

	g->cfg = cfg;
	g->db = db_open(cfg->greylist.db, err, errlen);
	if (g->db == NULL) {
		free(g);
		return NULL;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(g->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &g->st[i],
		    NULL) != SQLITE_OK) {
			db_fail(g->db, "prepare", err, errlen);
			greylist_close(&g);
			return NULL;
		}
	}
	return g;
}

void
greylist_close(struct greylist **gp)
{
	struct greylist *g = *gp;

	if (g == NULL)
		return;
	*gp = NULL;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(g->st[i]);
	sqlite3_close(g->db);
	free(g);
}

/* Binds the key (?1..?3) and the time (?4) of a triplet statement. */
static sqlite3_stmt *
bind_triplet(struct greylist *g, enum stmt which, const char *client, const char *sender,
    const char *rcpt, int64_t now)
{
	sqlite3_stmt *st = g->st[which];

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
	if (which != ST_TRIPLET_GET)
		sqlite3_bind_int64(st, 4, now);
	return st;
}

static bool
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

static bool
exec_stmt(struct greylist *g, enum stmt which)
{
	return step_done(g->st[which]);
}

unsigned
greylist_sweep(struct greylist *g, int64_t now, unsigned max)
{
	unsigned n = 0;
	int64_t cutoff = now - (int64_t)g->cfg->greylist.expire;

	for (enum stmt w = ST_SWEEP_TRIPLET; w <= ST_SWEEP_CLIENT && n < max; w++) {
		sqlite3_stmt *st = g->st[w];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, cutoff);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)(max - n));
		if (step_done(st))
			n += (unsigned)sqlite3_changes(g->db);
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The decision                                                        */
/* ------------------------------------------------------------------ */

struct client_row {
	bool found;
	int64_t passes, last_count;
};

static void
client_get(struct greylist *g, const char *client, int64_t now, struct client_row *c)
{
	sqlite3_stmt *st = g->st[ST_CLIENT_GET];

	memset(c, 0, sizeof(*c));
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int64(st, 2) >= now - (int64_t)g->cfg->greylist.expire) {
		c->found = true;
		c->passes = sqlite3_column_int64(st, 0);
		c->last_count = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}

static bool
client_put(struct greylist *g, const char *client, const struct client_row *c, int64_t now)
{
	sqlite3_stmt *st = g->st[ST_CLIENT_PUT];

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->passes);
	sqlite3_bind_int64(st, 3, c->last_count);
	sqlite3_bind_int64(st, 4, now);
	return step_done(st);
}

static void
triplet_state(struct greylist *g, const char *client, const char *sender, struct triplet *t,
    int64_t now)
{
	const struct fconf *cfg = g->cfg;
	sqlite3_stmt *st = bind_triplet(g, ST_TRIPLET_GET, client, sender, t->rcpt, now);

	t->state = T_NEW;
	t->first_seen = now;
	t->passes = 0;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int64(st, 1) >= now - (int64_t)cfg->greylist.expire) {
		t->first_seen = sqlite3_column_int64(st, 0);
		t->passes = sqlite3_column_int64(st, 2);
		double age = (double)(now - t->first_seen);
		if (t->passes > 0 || (age >= cfg->greylist.delay &&
		    age <= cfg->greylist.delay + cfg->greylist.retry_window))
			t->state = T_PASSED;
		else if (age < cfg->greylist.delay)
			t->state = T_EARLY;
		else
			t->state = T_RESTART;
	}
	sqlite3_reset(st);
}

static const char *
state_why(int state)
{
	switch (state) {
	case T_NEW:	return "new record";
	case T_RESTART:	return "retry window passed";
	default:	return "too early";
	}
}

/* Writes every triplet: new/restarted ones start over, the others are seen
 * (and count a pass when the message passes). */
static bool
triplets_write(struct greylist *g, const char *client, const char *sender, struct triplet *ts,
    size_t n, bool pass, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		enum stmt w = ts[i].state == T_NEW || ts[i].state == T_RESTART ? ST_TRIPLET_PUT :
		    pass ? ST_TRIPLET_PASS : ST_TRIPLET_SEEN;
		if (!step_done(bind_triplet(g, w, client, sender, ts[i].rcpt, now)))
			return false;
	}
	return true;
}

static void
decide(const struct greylist *g, const struct triplet *ts, size_t n, int64_t now,
    struct greylist_decision *d)
{
	d->verdict = GREYLIST_PASS;
	for (size_t i = 0; i < n; i++) {
		const struct triplet *t = &ts[i];
		int64_t wait = (int64_t)ceil(g->cfg->greylist.delay);
		if (t->state == T_PASSED) {
			if (t->passes == 0 && now - t->first_seen > d->delayed)
				d->delayed = now - t->first_seen;
			continue;
		}
		if (t->state == T_EARLY)
			wait = t->first_seen + wait - now;
		if (d->verdict != GREYLIST_DEFER || t->state < T_EARLY)
			d->why = state_why(t->state);
		d->verdict = GREYLIST_DEFER;
		if (wait > d->wait)
			d->wait = wait;
	}
	if (d->verdict == GREYLIST_DEFER)
		d->delayed = 0;
}

/* A pass counts towards the client's whitelist, at most once an hour. */
static bool
client_count(struct greylist *g, const char *client, struct client_row *c, int64_t now,
    struct greylist_decision *d)
{
	if (!c->found) {
		c->passes = 1;
		c->last_count = now;
	} else if (now - c->last_count >= AWL_COUNT_INTERVAL) {
		c->passes++;
		c->last_count = now;
	}
	d->client_passes = (unsigned)(c->passes > UINT32_MAX ? UINT32_MAX : c->passes);
	return client_put(g, client, c, now);
}

static int
check_locked(struct greylist *g, const struct greylist_request *req, struct triplet *ts,
    size_t n, struct greylist_decision *d)
{
	const struct fconf *cfg = g->cfg;
	char client[INET6_ADDRSTRLEN + 8], sender[KEY_MAX];
	struct client_row c;

	greylist_client_key(client, sizeof(client), &req->ip, req->ip_is_v4, cfg->greylist.ipv4_mask,
	    cfg->greylist.ipv6_mask);
	greylist_sender_key(sender, sizeof(sender), req->from ? req->from : "");
	client_get(g, client, req->now, &c);
	if (c.found && cfg->greylist.auto_whitelist > 0 && c.passes >= cfg->greylist.auto_whitelist) {
		d->verdict = GREYLIST_WHITELISTED;
		d->client_passes = (unsigned)(c.passes > UINT32_MAX ? UINT32_MAX : c.passes);
		return client_put(g, client, &c, req->now) ? 0 : -1;
	}
	for (size_t i = 0; i < n; i++)
		triplet_state(g, client, sender, &ts[i], req->now);
	decide(g, ts, n, req->now, d);
	if (!triplets_write(g, client, sender, ts, n, d->verdict == GREYLIST_PASS, req->now))
		return -1;
	if (d->verdict == GREYLIST_PASS && !client_count(g, client, &c, req->now, d))
		return -1;
	return 0;
}

int
greylist_check(struct greylist *g, const struct greylist_request *req,
    struct greylist_decision *d, char *err, size_t errlen)
{
	size_t n = req->nrcpt == 0 ? 1 : req->nrcpt > MAX_RCPTS ? MAX_RCPTS : req->nrcpt;
	struct triplet *ts = xcalloc(n, sizeof(*ts));
	int rc;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < req->nrcpt && i < n; i++)
		rcpt_key(ts[i].rcpt, sizeof(ts[i].rcpt), req->rcpt[i]);
	if (!exec_stmt(g, ST_BEGIN)) {
		free(ts);
		return db_fail(g->db, "begin", err, errlen);
	}
	rc = check_locked(g, req, ts, n, d);
	if (rc == 0 && req->now - g->last_sweep >= SWEEP_INTERVAL) {
		g->last_sweep = req->now;
		greylist_sweep(g, req->now, SWEEP_BATCH);
	}
	if (rc == 0 && !exec_stmt(g, ST_COMMIT))
		rc = -1;
	if (rc != 0) {
		db_fail(g->db, "update", err, errlen);
		exec_stmt(g, ST_ROLLBACK);
	}
	free(ts);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The scan hook                                                       */
/* ------------------------------------------------------------------ */

void
greylist_register(struct symtab *t)
{
	symtab_add(t, "GREYLIST", 0.0, "greylist", "Greylisting: the message was delayed or passed");
}

/* Whether this message is greylisted at all (§6.2, greylist.mode). */
static bool
applies(const struct scan_task *t)
{
	const struct fconf *cfg = t->engine->cfg;
	const struct scan_result *r = &t->result;
	const struct envelope *env = &t->msg.env;

	if (r->skipped || r->forced || r->action == ACTION_REJECT || r->action == ACTION_SOFT_REJECT)
		return false;
	if (env->user != NULL || env->local_client || !env->ip_valid)
		return false;
	if (strcmp(cfg->greylist.mode, "always") == 0)
		return true;
	return r->action != ACTION_NO_ACTION;
}

static void
add_verdict(struct scan_task *t, const struct greylist_decision *d)
{
	struct scan_result *r = &t->result;
	const struct fconf *cfg = t->engine->cfg;
	struct fired_symbol *s;

	switch (d->verdict) {
	case GREYLIST_WHITELISTED:
		result_insert(r, "GREYLIST", 1.0, "whitelisted");
		return;
	case GREYLIST_PASS:
		s = result_insert(r, "GREYLIST", 1.0, "pass");
		if (s != NULL && d->delayed > 0)
			result_add_option(s, r, arena_printf(t->arena, "delayed %" PRId64 " s", d->delayed));
		return;
	case GREYLIST_DEFER:
		s = result_insert(r, "GREYLIST", 1.0, "greylisted");
		if (s != NULL) {
			result_add_option(s, r, d->why);
			result_add_option(s, r, arena_printf(t->arena, "retry in %" PRId64 " s", d->wait));
		}
		result_force_action(r, ACTION_SOFT_REJECT, NAN, cfg->greylist.message);
		return;
	}
}

bool
greylist_scan(struct greylist *g, struct scan_task *t)
{
	const struct envelope *env = &t->msg.env;
	struct greylist_request req;
	struct greylist_decision d;
	char err[256];

	if (g == NULL || !applies(t))
		return false;
	memset(&req, 0, sizeof(req));
	req.ip = env->ip_addr;
	req.ip_is_v4 = env->ip_is_v4;
	req.from = env->mail_from;
	req.rcpt = (const char *const *)env->rcpt;
	req.nrcpt = env->nrcpt;
	req.now = (int64_t)t->now + t->engine->cfg->greylist.clock_offset;
	if (greylist_check(g, &req, &d, err, sizeof(err)) != 0) {
		/* A broken store must not hold mail: pass, loudly. */
		log_error("%s (id=%s: not greylisted)", err, t->id);
		return false;
	}
	add_verdict(t, &d);
	return true;
}
