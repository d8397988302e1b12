/*
 * store_sqlite.c - the SQLite token store (WAL, one writer, many readers).
 *
 * Reads: all of a message's tokens come back from one statement per chunk
 * of TOK_CHUNK hashes (WHERE hash IN (...)), prepared once; the last chunk
 * is padded by repeating its last hash.
 * Writes: token deltas are summed in an in-memory hash table during the
 * transaction and written at commit in key order, so a bulk learn touches
 * each B-tree page once and a token seen in many messages is written once.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "fcore/clock.h"
#include "fcore/xalloc.h"
#include "rev_beacon.h"
#include "schema_sql.h"

#define SCHEMA_VERSION 1
#define TOK_CHUNK 256
#define BUSY_TIMEOUT_MS 10000
#define REV_RECHECK_S 1.0 /* a reader asks SQLite at least this often (rev_beacon.h) */

enum st_id {
	ST_USER_GET,
	ST_USER_INS,
	ST_USER_ADD,
	ST_TOK_GET,
	ST_TOK_UPSERT,
	ST_LEARNED_GET,
	ST_LEARNED_SET,
	ST_META_GET,
	ST_META_SET,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT_TOKENS,
	ST_PRUNE,
	ST_LEARNED_COUNT,
	ST_USER_COUNT,
	ST_DB_SIZE,
	ST_USER_BY_ID,
	ST_TOK_SCAN,
	ST_BEGIN_READ,
	ST_COUNT
};

static const char *const st_sql[ST_COUNT] = {
	[ST_USER_GET] = "SELECT id, learned_spam, learned_ham FROM users WHERE name = ?1",
	[ST_USER_INS] = "INSERT INTO users (name) VALUES (?1)",
	[ST_USER_ADD] = "UPDATE users SET learned_spam = max(0, learned_spam + ?2),"
	    " learned_ham = max(0, learned_ham + ?3) WHERE id = ?1",
	[ST_TOK_GET] = NULL, /* built at open: TOK_CHUNK placeholders */
	[ST_TOK_UPSERT] = "INSERT INTO tokens (user_id, hash, spam, ham, seen)"
	    " VALUES (?1, ?2, max(0, ?3), max(0, ?4), ?5)"
	    " ON CONFLICT (user_id, hash) DO UPDATE SET spam = max(0, spam + ?3),"
	    " ham = max(0, ham + ?4), seen = ?5",
	[ST_LEARNED_GET] = "SELECT spam, global FROM learned WHERE digest = ?1 AND user_id = ?2",
	[ST_LEARNED_SET] = "INSERT INTO learned (digest, user_id, spam, global) VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (digest, user_id) DO UPDATE SET spam = ?3, global = ?4",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET value = ?2",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_COUNT_TOKENS] = "SELECT count(*) FROM tokens",
	[ST_PRUNE] = "DELETE FROM tokens WHERE (user_id, hash) IN (SELECT user_id, hash FROM tokens"
	    " ORDER BY (spam + ham > 1), seen LIMIT ?1)",
	[ST_LEARNED_COUNT] = "SELECT spam, count(*) FROM learned GROUP BY spam",
	[ST_USER_COUNT] = "SELECT count(*) FROM users WHERE id != 0",
	/* logical size: committed pages still in the WAL count too */
	[ST_DB_SIZE] = "SELECT p.page_count * s.page_size FROM pragma_page_count() AS p,"
	    " pragma_page_size() AS s",
	[ST_USER_BY_ID] = "SELECT id, learned_spam, learned_ham FROM users WHERE id = ?1",
	/* the primary key's order: no sort step */
	[ST_TOK_SCAN] = "SELECT hash, spam, ham FROM tokens WHERE user_id = ?1 AND (spam > 0 OR ham > 0)"
	    " ORDER BY hash",
	[ST_BEGIN_READ] = "BEGIN",
};

struct delta {
	int64_t uid;
	uint64_t hash;
	int32_t dspam, dham;
	bool used;
};

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	bool writer;
	bool in_tx;
	struct delta *dt; /* open addressing, power-of-two size */
	size_t dt_cap, dt_n;
	int64_t generation, rev_spam, rev_ham, rev;
	struct rev_beacon *beacon;
	/* a reader's last answer from SQLite, and the beacon then */
	bool rev_known;
	uint64_t rev_last, beacon_last;
	double rev_asked_at;
	char err[256];
};

#define SS(s) ((struct store_sqlite *)(s))

static int
fail(struct store_sqlite *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

static sqlite3_stmt *
st_get(struct store_sqlite *s, enum st_id id)
{
	sqlite3_stmt *st = s->st[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Steps a statement that returns no rows. */
static int
st_exec(struct store_sqlite *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(s, what);
}

static int64_t
u2i(uint64_t h)
{
	int64_t v;
	memcpy(&v, &h, sizeof(v));
	return v;
}

static uint64_t
i2u(int64_t v)
{
	uint64_t h;
	memcpy(&h, &v, sizeof(h));
	return h;
}

static int
meta_get(struct store_sqlite *s, const char *key, int64_t *v_r)
{
	sqlite3_stmt *st = st_get(s, ST_META_GET);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "meta");
}

static int
meta_set(struct store_sqlite *s, const char *key, int64_t v)
{
	sqlite3_stmt *st = st_get(s, ST_META_SET);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return st_exec(s, st, "meta");
}

static void
row_user(sqlite3_stmt *st, struct store_user *u_r)
{
	u_r->id = sqlite3_column_int64(st, 0);
	u_r->learned_spam = (uint64_t)sqlite3_column_int64(st, 1);
	u_r->learned_ham = (uint64_t)sqlite3_column_int64(st, 2);
}

static int
sq_user_get(struct store *base, const char *name, bool create, struct store_user *u_r)
{
	struct store_sqlite *s = SS(base);
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_stmt *st = st_get(s, ST_USER_GET);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			row_user(st, u_r);
			sqlite3_reset(st);
			return 1;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return fail(s, "user lookup");
		if (!create || pass > 0)
			break;
		st = st_get(s, ST_USER_INS);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (st_exec(s, st, "user insert") < 0)
			return -1;
	}
	memset(u_r, 0, sizeof(*u_r));
	u_r->id = -1;
	return 0;
}

static size_t
find_sorted(const uint64_t *h, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
sq_tokens_get(struct store *base, int64_t uid, const uint64_t *h, size_t n,
    struct store_counts *out)
{
	struct store_sqlite *s = SS(base);
	memset(out, 0, n * sizeof(*out));
	for (size_t off = 0; off < n; off += TOK_CHUNK) {
		size_t k = n - off < TOK_CHUNK ? n - off : TOK_CHUNK;
		sqlite3_stmt *st = st_get(s, ST_TOK_GET);
		sqlite3_bind_int64(st, 1, uid);
		for (size_t i = 0; i < TOK_CHUNK; i++)
			sqlite3_bind_int64(st, (int)i + 2, u2i(h[off + (i < k ? i : k - 1)]));
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			uint64_t key = i2u(sqlite3_column_int64(st, 0));
			size_t pos = find_sorted(h + off, k, key);
			if (pos < k && h[off + pos] == key) {
				int64_t sp = sqlite3_column_int64(st, 1), hm = sqlite3_column_int64(st, 2);
				out[off + pos].spam = sp > UINT32_MAX ? UINT32_MAX : (uint32_t)sp;
				out[off + pos].ham = hm > UINT32_MAX ? UINT32_MAX : (uint32_t)hm;
			}
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return fail(s, "token lookup");
	}
	return 0;
}

static void
dt_free(struct store_sqlite *s)
{
	free(s->dt);
	s->dt = NULL;
	s->dt_cap = s->dt_n = 0;
}

static size_t
dt_slot(const struct delta *dt, size_t cap, int64_t uid, uint64_t hash)
{
	size_t i = (size_t)((hash ^ ((uint64_t)uid * 0x9E3779B97F4A7C15ULL)) & (cap - 1));
	while (dt[i].used && (dt[i].uid != uid || dt[i].hash != hash))
		i = (i + 1) & (cap - 1);
	return i;
}

static void
dt_grow(struct store_sqlite *s)
{
	size_t ncap = s->dt_cap ? s->dt_cap * 2 : 1 << 16;
	struct delta *nd = xcalloc(ncap, sizeof(*nd));
	for (size_t i = 0; i < s->dt_cap; i++)
		if (s->dt[i].used)
			nd[dt_slot(nd, ncap, s->dt[i].uid, s->dt[i].hash)] = s->dt[i];
	free(s->dt);
	s->dt = nd;
	s->dt_cap = ncap;
}

static int
sq_tokens_add(struct store *base, int64_t uid, const uint64_t *h, size_t n, int dspam, int dham)
{
	struct store_sqlite *s = SS(base);
	if (!s->in_tx) {
		snprintf(s->err, sizeof(s->err), "tokens_add outside a transaction");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((s->dt_n + 1) * 4 > s->dt_cap * 3)
			dt_grow(s);
		struct delta *d = &s->dt[dt_slot(s->dt, s->dt_cap, uid, h[i])];
		if (!d->used) {
			*d = (struct delta){ .uid = uid, .hash = h[i], .used = true };
			s->dt_n++;
		}
		d->dspam += dspam;
		d->dham += dham;
	}
	return 0;
}

/* B-tree order: user id, then the hash as SQLite's signed integer. */
static int
cmp_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	int64_t p = u2i(x->hash), q = u2i(y->hash);
	return p < q ? -1 : p > q;
}

static int
dt_flush(struct store_sqlite *s)
{
	size_t n = 0;
	if (s->dt == NULL)
		return 0;
	for (size_t i = 0; i < s->dt_cap; i++)
		if (s->dt[i].used && (s->dt[i].dspam != 0 || s->dt[i].dham != 0))
			s->dt[n++] = s->dt[i];
	qsort(s->dt, n, sizeof(*s->dt), cmp_delta);
	sqlite3_stmt *st = s->st[ST_TOK_UPSERT];
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, s->dt[i].uid);
		sqlite3_bind_int64(st, 2, u2i(s->dt[i].hash));
		sqlite3_bind_int(st, 3, s->dt[i].dspam);
		sqlite3_bind_int(st, 4, s->dt[i].dham);
		sqlite3_bind_int64(st, 5, s->generation);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			return fail(s, "token write");
		}
	}
	sqlite3_reset(st);
	return 0;
}

static int
sq_begin(struct store *base)
{
	struct store_sqlite *s = SS(base);
	if (!s->writer) {
		snprintf(s->err, sizeof(s->err), "read-only store");
		return -1;
	}
	if (s->in_tx)
		return 0;
	if (st_exec(s, st_get(s, ST_BEGIN_WRITE), "begin") < 0)
		return -1;
	if (meta_get(s, "generation", &s->generation) < 0 || meta_get(s, "rev_spam", &s->rev_spam) < 0 ||
	    meta_get(s, "rev_ham", &s->rev_ham) < 0 || meta_get(s, "rev", &s->rev) < 0) {
		st_exec(s, st_get(s, ST_ROLLBACK), "rollback");
		return -1;
	}
	s->in_tx = true;
	return 0;
}

static void
sq_rollback(struct store *base)
{
	struct store_sqlite *s = SS(base);
	if (!s->in_tx)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = false;
	dt_free(s);
}

static int
sq_commit(struct store *base)
{
	struct store_sqlite *s = SS(base);
	if (!s->in_tx)
		return 0;
	if (dt_flush(s) < 0 || meta_set(s, "generation", s->generation) < 0 ||
	    meta_set(s, "rev_spam", s->rev_spam) < 0 || meta_set(s, "rev_ham", s->rev_ham) < 0 ||
	    meta_set(s, "rev", s->rev + 1) < 0 || st_exec(s, st_get(s, ST_COMMIT), "commit") < 0) {
		char keep[sizeof(s->err)];
		memcpy(keep, s->err, sizeof(keep));
		sq_rollback(base);
		memcpy(s->err, keep, sizeof(keep));
		return -1;
	}
	s->in_tx = false;
	dt_free(s);
	rev_beacon_publish(s->beacon, (uint64_t)s->rev + 1);
	return 0;
}

static int
sq_user_add(struct store *base, int64_t uid, int dspam, int dham)
{
	struct store_sqlite *s = SS(base);
	sqlite3_stmt *st = st_get(s, ST_USER_ADD);
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int(st, 2, dspam);
	sqlite3_bind_int(st, 3, dham);
	return st_exec(s, st, "user update");
}

static int
sq_learned_get(struct store *base, const uint8_t *digest, int64_t uid, enum store_learned *cls_r,
    bool *global_r)
{
	struct store_sqlite *s = SS(base);
	sqlite3_stmt *st = st_get(s, ST_LEARNED_GET);
	sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	*cls_r = STORE_LEARNED_NONE;
	*global_r = false;
	if (rc == SQLITE_ROW) {
		*cls_r = sqlite3_column_int(st, 0) ? STORE_LEARNED_SPAM : STORE_LEARNED_HAM;
		*global_r = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "learned lookup");
}

static int
sq_learned_set(struct store *base, const uint8_t *digest, int64_t uid, enum store_learned cls,
    bool global)
{
	struct store_sqlite *s = SS(base);
	sqlite3_stmt *st = st_get(s, ST_LEARNED_SET);
	sqlite3_bind_blob(st, 1, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int(st, 3, cls == STORE_LEARNED_SPAM);
	sqlite3_bind_int(st, 4, global);
	return st_exec(s, st, "learned write");
}

static int
sq_generation_next(struct store *base, bool spam)
{
	struct store_sqlite *s = SS(base);
	s->generation++;
	if (spam)
		s->rev_spam++;
	else
		s->rev_ham++;
	return 0;
}

static int
count_query(struct store_sqlite *s, enum st_id id, int64_t *v_r)
{
	sqlite3_stmt *st = st_get(s, id);
	int rc = sqlite3_step(st);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "count");
}

static int
sq_summary(struct store *base, struct stats_summary *out)
{
	struct store_sqlite *s = SS(base);
	int64_t v;
	memset(out, 0, sizeof(*out));
	if (count_query(s, ST_COUNT_TOKENS, &v) < 0)
		return -1;
	out->tokens = (uint64_t)v;
	if (count_query(s, ST_USER_COUNT, &v) < 0)
		return -1;
	out->users = (uint64_t)v;
	sqlite3_stmt *st = st_get(s, ST_LEARNED_COUNT);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 0))
			out->learned_spam = (uint64_t)sqlite3_column_int64(st, 1);
		else
			out->learned_ham = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "learned count");
	int64_t rs, rh;
	if (meta_get(s, "rev_spam", &rs) < 0 || meta_get(s, "rev_ham", &rh) < 0)
		return -1;
	out->revision_spam = (uint64_t)rs;
	out->revision_ham = (uint64_t)rh;
	if (count_query(s, ST_DB_SIZE, &v) < 0)
		return -1;
	out->size_bytes = (uint64_t)v;
	return 0;
}

static long
sq_prune(struct store *base, uint64_t max_tokens)
{
	struct store_sqlite *s = SS(base);
	int64_t n;
	if (max_tokens == 0 || count_query(s, ST_COUNT_TOKENS, &n) < 0)
		return max_tokens == 0 ? 0 : -1;
	if ((uint64_t)n <= max_tokens)
		return 0;
	int64_t target = (int64_t)(max_tokens - max_tokens / 10);
	bool own_tx = !s->in_tx;
	if (own_tx && sq_begin(base) < 0)
		return -1;
	sqlite3_stmt *st = st_get(s, ST_PRUNE);
	sqlite3_bind_int64(st, 1, n - target);
	if (st_exec(s, st, "prune") < 0) {
		if (own_tx)
			sq_rollback(base);
		return -1;
	}
	long deleted = (long)sqlite3_changes(s->db);
	if (own_tx && sq_commit(base) < 0)
		return -1;
	return deleted;
}

static int
rev_query(struct store_sqlite *s, uint64_t *rev_r)
{
	int64_t v;
	int rc = meta_get(s, "rev", &v);
	*rev_r = (uint64_t)v;
	return rc;
}

/* A reader answers from its last query while the beacon has not moved and
 * the query is under REV_RECHECK_S old. The beacon is read before SQLite:
 * a commit landing in between moves it after this read, so the next call
 * asks again. */
static int
sq_rev(struct store *base, uint64_t *rev_r)
{
	struct store_sqlite *s = SS(base);
	bool cache = s->beacon != NULL && !s->writer;
	uint64_t seen = cache ? rev_beacon_read(s->beacon) : 0;
	double now = cache ? clock_mono() : 0;
	if (cache && s->rev_known && seen == s->beacon_last && now - s->rev_asked_at < REV_RECHECK_S) {
		*rev_r = s->rev_last;
		return 0;
	}
	int rc = rev_query(s, rev_r);
	s->rev_known = cache && rc == 0;
	s->rev_last = *rev_r;
	s->beacon_last = seen;
	s->rev_asked_at = now;
	return rc;
}

static int
user_by_id(struct store_sqlite *s, int64_t uid, struct store_user *u_r)
{
	sqlite3_stmt *st = st_get(s, ST_USER_BY_ID);
	sqlite3_bind_int64(st, 1, uid);
	memset(u_r, 0, sizeof(*u_r));
	u_r->id = -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_user(st, u_r);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "user lookup");
}

static int
scan_rows(struct store_sqlite *s, int64_t uid,
    int (*fn)(void *arg, uint64_t hash, struct store_counts c), void *arg)
{
	sqlite3_stmt *st = st_get(s, ST_TOK_SCAN);
	sqlite3_bind_int64(st, 1, uid);
	int rc, stop = 0;
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t sp = sqlite3_column_int64(st, 1), hm = sqlite3_column_int64(st, 2);
		struct store_counts c = {
			.spam = sp > UINT32_MAX ? UINT32_MAX : (uint32_t)sp,
			.ham = hm > UINT32_MAX ? UINT32_MAX : (uint32_t)hm,
		};
		stop = fn(arg, i2u(sqlite3_column_int64(st, 0)), c);
	}
	sqlite3_reset(st);
	if (stop != 0)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(s, "token scan");
}

/* Revision, learned counts and rows in one read transaction: a learn
 * committed meanwhile cannot pair old totals with new counts. */
static int
sq_tokens_scan(struct store *base, int64_t uid, uint64_t *rev_r, struct store_user *u_r,
    int (*fn)(void *arg, uint64_t hash, struct store_counts c), void *arg)
{
	struct store_sqlite *s = SS(base);
	if (s->in_tx) {
		snprintf(s->err, sizeof(s->err), "token scan inside a write transaction");
		return -1;
	}
	if (st_exec(s, st_get(s, ST_BEGIN_READ), "begin") < 0)
		return -1;
	/* the rows' own revision, from inside their transaction */
	int rc = rev_query(s, rev_r);
	if (rc == 0)
		rc = user_by_id(s, uid, u_r);
	if (rc == 0)
		rc = scan_rows(s, uid, fn, arg);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

static const char *
sq_errmsg(struct store *base)
{
	return SS(base)->err;
}

static void
sq_close(struct store **sp)
{
	struct store_sqlite *s = SS(*sp);
	if (s == NULL)
		return;
	*sp = NULL;
	sq_rollback(&s->base);
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	dt_free(s);
	rev_beacon_close(&s->beacon);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.user_get = sq_user_get,
	.tokens_get = sq_tokens_get,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.tokens_add = sq_tokens_add,
	.user_add = sq_user_add,
	.learned_get = sq_learned_get,
	.learned_set = sq_learned_set,
	.generation_next = sq_generation_next,
	.summary = sq_summary,
	.prune = sq_prune,
	.rev = sq_rev,
	.tokens_scan = sq_tokens_scan,
	.errmsg = sq_errmsg,
	.close = sq_close,
};

static char *
tok_get_sql(void)
{
	size_t cap = 128 + TOK_CHUNK * 2;
	char *sql = xmalloc(cap);
	size_t o = (size_t)snprintf(sql, cap,
	    "SELECT hash, spam, ham FROM tokens WHERE user_id = ?1 AND hash IN (?");
	for (size_t i = 1; i < TOK_CHUNK; i++) {
		sql[o++] = ',';
		sql[o++] = '?';
	}
	sql[o++] = ')';
	sql[o] = '\0';
	return sql;
}

static int
prepare_all(struct store_sqlite *s)
{
	for (size_t i = 0; i < ST_COUNT; i++) {
		char *dyn = i == ST_TOK_GET ? tok_get_sql() : NULL;
		int rc = sqlite3_prepare_v3(s->db, dyn ? dyn : st_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
		free(dyn);
		if (rc != SQLITE_OK)
			return fail(s, "prepare");
	}
	return 0;
}

static int
schema_init(struct store_sqlite *s)
{
	int v = -1;
	sqlite3_stmt *st;
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL,
	    NULL) != SQLITE_OK)
		return fail(s, "pragma");
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(s, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v == SCHEMA_VERSION)
		return 0;
	if (v != 0) {
		snprintf(s->err, sizeof(s->err), "bayes database has schema version %d, expected %d", v,
		    SCHEMA_VERSION);
		return -1;
	}
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, "schema");
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		fail(s, "schema");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "schema");
}

static struct store_sqlite *
open_conn(const char *path, bool writer, char *err, size_t errlen)
{
	struct store_sqlite *s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->writer = writer;
	int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto bad;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* Token lookups are random: keep the B-tree in memory (mapped for
	 * readers, cached for the writer, whose transactions touch many pages).
	 * Single learns rewrite the same hot pages: checkpointing every 8192
	 * WAL pages instead of 1000 took them from 676 to 872 per CPU second. */
	sqlite3_exec(s->db, writer ? "PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;"
	    " PRAGMA wal_autocheckpoint = 8192; PRAGMA journal_size_limit = 67108864"
	    : "PRAGMA mmap_size = 268435456; PRAGMA cache_size = -65536", NULL, NULL, NULL);
	if ((writer && schema_init(s) < 0) || prepare_all(s) < 0) {
		snprintf(err, errlen, "%s: %s", path, s->err);
		goto bad;
	}
	s->beacon = rev_beacon_open(path);
	uint64_t rev;
	if (writer && rev_query(s, &rev) == 0)
		rev_beacon_publish(s->beacon, rev);
	return s;
bad: {
	struct store *b = &s->base;
	sq_close(&b);
	return NULL;
}
}

struct store *
store_sqlite_open(const char *path, bool writer, char *err, size_t errlen)
{
	struct stat sb;
	if (!writer && stat(path, &sb) != 0 && errno == ENOENT) {
		/* Workers may start before the controller: create the schema. */
		struct store_sqlite *w = open_conn(path, true, err, errlen);
		if (w == NULL)
			return NULL;
		struct store *b = &w->base;
		sq_close(&b);
	}
	struct store_sqlite *s = open_conn(path, writer, err, errlen);
	return s ? &s->base : NULL;
}
