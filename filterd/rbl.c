/*
 * rbl.c - DNS block list lookups on evdns (see rbl.h).
 *
 * Lifetimes: items and per-zone state live in the task arena; each DNS query
 * is a malloc'ed rbl_query holding its async_req (async.h), because evdns may
 * answer after the task was finished and freed. The answer always feeds the
 * cache; it touches the task only while its request is still attached.
 */
#include "rbl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "async.h"
#include "controller.h"
#include "dns_name.h"
#include "fcore/arena.h"
#include "fcore/log.h"
#include "fcore/url.h"
#include "fcore/xalloc.h"
#include "scan.h"

enum {
	RBL_C_FROM = 1 << 0,
	RBL_C_RECEIVED = 1 << 1,
	RBL_C_HELO = 1 << 2,
	RBL_C_RDNS = 1 << 3,
	RBL_C_URLS = 1 << 4,
	RBL_C_EMAILS = 1 << 5,
	RBL_C_DKIM = 1 << 6,
};

static const char *const check_names[] = { "from", "received", "helo", "rdns", "urls", "emails", "dkim" };

/* Hostile mail can carry thousands of hops and URLs: the first ones are
 * the telling ones (newest hops, links near the top), and every item costs
 * one query per zone. */
#define RBL_MAX_RECEIVED 16
#define RBL_MAX_DOMAINS 64
#define RBL_MAX_ITEMS (2 + 2 + RBL_MAX_RECEIVED + RBL_MAX_DOMAINS)
/* Queries in flight per worker (evdns's default is 64). */
#define RBL_MAX_INFLIGHT 128
/* A list answers with one or a few addresses; more add nothing. */
#define RBL_MAX_ANSWERS 8
/* Direct-mapped: a collision just replaces the older entry. 4096 entries
 * of ~100 bytes stay well under a megabyte per worker. */
#define RBL_CACHE_SLOTS 4096
/* NXDOMAIN reaches us without the SOA minimum; keep it this long. */
#define RBL_NEGATIVE_TTL 60.0
/* RFC 5782 §5 test points are queried at start and this often after. */
#define RBL_PROBE_INTERVAL 300
/* Never trust a TTL beyond a day: lists change. */
#define RBL_MAX_TTL 86400.0

struct rbl_answer {
	int err;              /* DNS_ERR_NONE, DNS_ERR_NOTEXIST, ... */
	unsigned n;
	uint32_t addr[RBL_MAX_ANSWERS]; /* host byte order */
};

struct rbl_cache_entry {
	char *name;
	double expires;
	struct rbl_answer ans;
};

struct rbl {
	const struct fconf *cfg;
	struct event_base *base;
	struct evdns_base *dns;
	unsigned *zone_checks; /* per zone: RBL_C_* it wants */
	bool *zone_broken;     /* per zone: lists a test point that must not be */
	struct event *probe_timer;
	struct rbl_cache_entry *cache;
};

/* One health query (malloc'ed; rbl_free drains them before freeing r). */
struct rbl_probe {
	struct rbl *rbl;
	size_t zone;
	char name[DNS_NAME_MAX];
};

struct rbl_item {
	const char *text;     /* address or domain as queried */
	struct in6_addr addr;
	bool is_ip;
	bool v4;
	unsigned checks;      /* RBL_C_* where it was seen */
};

struct rbl_query {
	struct rbl *rbl;
	struct async_req *req;
	/* Valid only while req->check != NULL (task arena / task). */
	struct scan_task *t;
	const struct cfg_rbl_zone *zone;
	const struct rbl_item *item;
	unsigned check;       /* RBL_C_* named in the option */
	char name[DNS_NAME_MAX];
};

/* ---- symbols ---------------------------------------------------------------- */

void
rbl_register(struct symtab *t, const struct fconf *cfg)
{
	if (!cfg->rbl.enabled)
		return;
	for (size_t i = 0; i < cfg->rbl.nzones; i++) {
		const struct cfg_rbl_zone *z = &cfg->rbl.zones[i];
		if (!z->enabled)
			continue;
		char desc[320];
		snprintf(desc, sizeof(desc), "Listed in %s", z->zone);
		symtab_add(t, z->symbol, z->weight, "rbl", desc);
		char fail[256];
		snprintf(fail, sizeof(fail), "%s_FAIL", z->symbol);
		snprintf(desc, sizeof(desc), "Lookup in %s failed", z->zone);
		symtab_add(t, fail, 0.0, "rbl", desc);
		for (size_t c = 0; c < z->ncodes; c++) {
			const struct cfg_rbl_code *code = &z->codes[c];
			/* Without a weight in the zone a code symbol scores 1 unless
			 * it is already known; "symbols:" overrides both later. */
			if (!code->weighted && symtab_find(t, code->symbol) != NULL)
				continue;
			snprintf(desc, sizeof(desc), "Listed in %s", z->zone);
			symtab_add(t, code->symbol, code->weighted ? code->weight : 1.0, "rbl", desc);
		}
	}
}

/* ---- cache ------------------------------------------------------------------ */

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static const struct rbl_answer *
cache_get(struct rbl *r, const char *name)
{
	struct rbl_cache_entry *e = &r->cache[name_hash(name) % RBL_CACHE_SLOTS];
	if (e->name == NULL || strcmp(e->name, name) != 0 || e->expires <= clock_mono())
		return NULL;
	return &e->ans;
}

static void
cache_put(struct rbl *r, const char *name, const struct rbl_answer *a, int ttl)
{
	double keep = a->err == DNS_ERR_NOTEXIST && ttl <= 0 ? RBL_NEGATIVE_TTL : (double)ttl;
	if (a->err != DNS_ERR_NONE && a->err != DNS_ERR_NOTEXIST)
		return; /* failures are not answers */
	if (keep <= 0)
		return;
	if (keep > RBL_MAX_TTL)
		keep = RBL_MAX_TTL;
	struct rbl_cache_entry *e = &r->cache[name_hash(name) % RBL_CACHE_SLOTS];
	free(e->name);
	e->name = xstrdup(name);
	e->expires = clock_mono() + keep;
	e->ans = *a;
}

/* ---- resolver --------------------------------------------------------------- */

static bool
set_option(struct evdns_base *dns, const char *opt, double v)
{
	char val[32];
	snprintf(val, sizeof(val), "%g", v);
	return evdns_base_set_option(dns, opt, val) == 0;
}

int
rbl_check_config(const struct fconf *cfg, char *err, size_t errlen)
{
	const char *res = cfg->rbl.resolver;
	if (!cfg->rbl.enabled)
		return 0;
	if (res[0] == '/') {
		if (access(res, R_OK) != 0) {
			snprintf(err, errlen, "rbl.resolver: cannot read %s: %s", res, strerror(errno));
			return -1;
		}
		return 0;
	}
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);
	if (evutil_parse_sockaddr_port(res, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(err, errlen, "rbl.resolver: \"%s\" is neither address[:port] nor a path", res);
		return -1;
	}
	return 0;
}

static int
add_resolver(struct evdns_base *dns, const char *resolver, char *err, size_t errlen)
{
	if (resolver[0] == '/') {
		int rc = evdns_base_resolv_conf_parse(dns, DNS_OPTION_NAMESERVERS, resolver);
		if (rc != 0 && rc != 6) { /* 6: no nameserver in the file (default added) */
			snprintf(err, errlen, "rbl.resolver: cannot use %s (evdns error %d)", resolver, rc);
			return -1;
		}
		return 0;
	}
	if (evdns_base_nameserver_ip_add(dns, resolver) != 0) {
		snprintf(err, errlen, "rbl.resolver: \"%s\" is not an address[:port]", resolver);
		return -1;
	}
	return 0;
}

static unsigned
checks_mask(const struct cfg_strlist *l)
{
	unsigned m = 0;
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < sizeof(check_names) / sizeof(check_names[0]); k++)
			if (strcmp(l->v[i], check_names[k]) == 0)
				m |= 1u << k;
	return m;
}

/* ---- zone health (RFC 5782 §5, protocols.md 6.5) ------------------------------ */

/*
 * A zone that lists 127.0.0.1 (address lists) or "invalid" (name lists) is
 * answering everything: it refuses service (Spamhaus through a public
 * resolver) or is broken, and would list every sender. Such a zone is
 * skipped until a later probe gets NXDOMAIN again. A probe that times out
 * changes nothing: a silent zone is the per-check time-out's business.
 */
static void
probe_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct rbl_probe *p = arg;
	struct rbl *r = p->rbl;
	const struct cfg_rbl_zone *z = &r->cfg->rbl.zones[p->zone];
	(void)ttl;
	(void)addresses;
	bool listed = result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0;
	bool clean = result == DNS_ERR_NOTEXIST || result == DNS_ERR_NODATA;
	if (listed && !r->zone_broken[p->zone])
		log_warn("rbl: %s lists its test point %s: zone skipped until it stops", z->zone, p->name);
	else if (clean && r->zone_broken[p->zone])
		log_info("rbl: %s answers its test point correctly again: zone used", z->zone);
	if (listed)
		r->zone_broken[p->zone] = true;
	else if (clean)
		r->zone_broken[p->zone] = false;
	free(p);
}

static void
probe_zone(struct rbl *r, size_t i)
{
	const struct cfg_rbl_zone *z = &r->cfg->rbl.zones[i];
	struct rbl_probe *p = xcalloc(1, sizeof(*p));
	p->rbl = r;
	p->zone = i;
	size_t n;
	if (r->zone_checks[i] & (RBL_C_FROM | RBL_C_RECEIVED)) {
		struct in6_addr a;
		bool v4;
		dns_name_parse_ip("127.0.0.1", &a, &v4);
		n = dns_name_ip(p->name, sizeof(p->name), &a, v4, z->zone);
	} else {
		n = dns_name_domain(p->name, sizeof(p->name), SPAN_LIT("invalid"), z->zone);
	}
	if (n == 0 || evdns_base_resolve_ipv4(r->dns, p->name, DNS_QUERY_NO_SEARCH, probe_cb, p) == NULL)
		free(p);
}

static void
probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rbl *r = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < r->cfg->rbl.nzones; i++)
		if (r->cfg->rbl.zones[i].enabled && r->zone_checks[i] != 0)
			probe_zone(r, i);
	struct timeval tv = { RBL_PROBE_INTERVAL, 0 };
	evtimer_add(r->probe_timer, &tv);
}

/* evdns writes to stderr by default; its news belong in our log. */
static void
evdns_log(int is_warn, const char *msg)
{
	if (is_warn)
		log_warn("rbl resolver: %s", msg);
	else
		log_debug("rbl resolver: %s", msg);
}

struct rbl *
rbl_new(const struct fconf *cfg, struct event_base *base, char *err, size_t errlen)
{
	evdns_set_log_fn(evdns_log);
	struct evdns_base *dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns == NULL) {
		snprintf(err, errlen, "rbl: cannot create the resolver");
		return NULL;
	}
	if (add_resolver(dns, cfg->rbl.resolver, err, errlen) != 0) {
		evdns_base_free(dns, 0);
		return NULL;
	}
	/* A lost packet is sent again once, still inside the check's time-out. */
	double try_timeout = cfg->limits.dns_timeout;
	if (try_timeout > cfg->rbl.timeout / 2)
		try_timeout = cfg->rbl.timeout / 2;
	set_option(dns, "timeout:", try_timeout);
	set_option(dns, "attempts:", 2);
	/* Bursts past this overflow the socket buffers of a list server and
	 * lose packets; the rest wait in evdns's queue. */
	set_option(dns, "max-inflight:", RBL_MAX_INFLIGHT);
	/* A burst of lost packets must not make evdns give up on the only
	 * resolver it has for its probing interval. */
	set_option(dns, "max-timeouts:", 255);
	struct rbl *r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->base = base;
	r->dns = dns;
	r->cache = xcalloc(RBL_CACHE_SLOTS, sizeof(*r->cache));
	r->zone_checks = xcalloc(cfg->rbl.nzones + 1, sizeof(*r->zone_checks));
	for (size_t i = 0; i < cfg->rbl.nzones; i++)
		r->zone_checks[i] = checks_mask(&cfg->rbl.zones[i].checks);
	r->zone_broken = xcalloc(cfg->rbl.nzones + 1, sizeof(*r->zone_broken));
	r->probe_timer = evtimer_new(base, probe_timer_cb, r);
	struct timeval now = { 0, 0 };
	evtimer_add(r->probe_timer, &now);
	return r;
}

void
rbl_free(struct rbl **rp)
{
	struct rbl *r = *rp;
	if (r == NULL)
		return;
	*rp = NULL;
	/* Fails the requests still in flight; their callbacks (which free
	 * them) are deferred to the loop, so it runs once more. */
	event_free(r->probe_timer);
	evdns_base_free(r->dns, 1);
	event_base_loop(r->base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < RBL_CACHE_SLOTS; i++)
		free(r->cache[i].name);
	free(r->cache);
	free(r->zone_checks);
	free(r->zone_broken);
	free(r);
}

/* ---- items ------------------------------------------------------------------ */

struct items {
	struct rbl_item *v;
	size_t n;
	size_t domains; /* urls + emails added so far */
};

/* true when text is a new item (a known one only gains the check). */
static bool
add_item(struct items *it, const char *text, bool is_ip, const struct in6_addr *a, bool v4,
    unsigned check)
{
	if (it->v == NULL || text == NULL)
		return false; /* the task's memory budget ran out */
	for (size_t i = 0; i < it->n; i++) {
		if (strcmp(it->v[i].text, text) == 0) {
			it->v[i].checks |= check;
			return false;
		}
	}
	if (it->n >= RBL_MAX_ITEMS)
		return false;
	struct rbl_item *e = &it->v[it->n++];
	e->text = text;
	e->is_ip = is_ip;
	if (a != NULL)
		e->addr = *a;
	e->v4 = v4;
	e->checks = check;
	return true;
}

static bool
add_ip(struct scan_task *t, struct items *it, const char *ip, unsigned check)
{
	struct in6_addr a;
	bool v4;
	if (ip == NULL || !dns_name_parse_ip(ip, &a, &v4))
		return false;
	char canon[INET6_ADDRSTRLEN];
	if (v4)
		inet_ntop(AF_INET, &a.s6_addr[12], canon, sizeof(canon));
	else
		inet_ntop(AF_INET6, &a, canon, sizeof(canon));
	return add_item(it, arena_strdup(t->arena, canon), true, &a, v4, check);
}

static bool
add_domain(struct items *it, const char *d, unsigned check)
{
	return d != NULL && d[0] != '\0' && add_item(it, d, false, NULL, false, check);
}

static bool
trusted(const struct fconf *cfg, const char *ip)
{
	return cfg->rbl.trusted_networks.n > 0 && controller_ip_in_list(ip, &cfg->rbl.trusted_networks);
}

static void
collect_received(struct scan_task *t, struct items *it)
{
	const struct mime_message *m = t->msg.mime;
	size_t hops = 0;
	for (size_t i = 0; m != NULL && i < m->nreceived && hops < RBL_MAX_RECEIVED; i++) {
		const char *ip = m->received[i].ip;
		if (ip == NULL || trusted(t->engine->cfg, ip))
			continue;
		add_ip(t, it, ip, RBL_C_RECEIVED);
		hops++;
	}
}

static void
collect_urls(struct scan_task *t, struct items *it)
{
	const struct mime_message *m = t->msg.mime;
	for (size_t i = 0; m != NULL && i < m->nurls && it->domains < RBL_MAX_DOMAINS; i++) {
		const struct mime_url *u = &m->urls[i];
		bool added;
		if (u->flags & URL_NUMERIC_IP) {
			const char *h = u->host;
			size_t hl = h ? strlen(h) : 0;
			/* "[v6]" hosts keep their brackets */
			if (hl > 2 && h[0] == '[' && h[hl - 1] == ']')
				h = arena_strndup(t->arena, h + 1, hl - 2);
			added = add_ip(t, it, h, RBL_C_URLS);
		} else {
			added = add_domain(it, u->tld, RBL_C_URLS);
		}
		/* Distinct ones count: repeating a clean link must not push a
		 * listed one past the limit. */
		if (added)
			it->domains++;
	}
}

static void
collect_emails(struct scan_task *t, struct items *it)
{
	const struct mime_message *m = t->msg.mime;
	for (size_t i = 0; m != NULL && i < m->nemails && it->domains < RBL_MAX_DOMAINS; i++) {
		const char *d = m->emails[i].domain;
		if (d == NULL)
			continue;
		struct span reg = url_tld_registered(span_from_cstr(d), NULL);
		if (reg.len == 0)
			continue;
		if (add_domain(it, arena_strndup(t->arena, reg.p, reg.len), RBL_C_EMAILS))
			it->domains++;
	}
}

static void
collect(struct rbl *r, struct scan_task *t, unsigned wanted, struct items *it)
{
	const struct envelope *env = &t->msg.env;
	it->v = ARENA_NEW_ARRAY(t->arena, struct rbl_item, RBL_MAX_ITEMS);
	if (it->v == NULL)
		return;
	/* An authenticated sender submits from wherever it is, often a
	 * dynamic address that policy lists (PBL) name: no address checks. */
	bool authed = env->user != NULL;
	if ((wanted & RBL_C_FROM) && !authed && env->ip_valid && !trusted(r->cfg, env->ip))
		add_ip(t, it, env->ip, RBL_C_FROM);
	if ((wanted & RBL_C_RECEIVED) && !authed && r->cfg->rbl.received)
		collect_received(t, it);
	if (wanted & RBL_C_HELO)
		add_domain(it, env->helo, RBL_C_HELO);
	if (wanted & RBL_C_RDNS)
		add_domain(it, env->hostname, RBL_C_RDNS);
	if (wanted & RBL_C_URLS)
		collect_urls(t, it);
	if (wanted & RBL_C_EMAILS)
		collect_emails(t, it);
}

/* ---- answers ---------------------------------------------------------------- */

static const char *
check_name(unsigned check)
{
	for (size_t k = 0; k < sizeof(check_names) / sizeof(check_names[0]); k++)
		if (check & (1u << k))
			return check_names[k];
	return "?";
}

static void
insert(struct scan_task *t, const char *sym, const struct rbl_query *q, uint32_t a)
{
	const char *opt = arena_printf(t->arena, "%s:%s:%u.%u.%u.%u", q->item->text, check_name(q->check),
	    a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
	result_insert(&t->result, sym, 1.0, opt);
}

static void
apply_one(struct scan_task *t, const struct rbl_query *q, uint32_t a)
{
	const struct cfg_rbl_zone *z = q->zone;
	const char *syms[16];
	size_t n = dns_answer_map(z, a, syms, sizeof(syms) / sizeof(syms[0]));
	if (n > sizeof(syms) / sizeof(syms[0]))
		n = sizeof(syms) / sizeof(syms[0]);
	for (size_t i = 0; i < n; i++)
		insert(t, syms[i], q, a);
	if (n > 0)
		return;
	if (dns_answer_is_refusal(a)) {
		log_warn("scan id=%s: %s refused the query for %s (answer 127.255.255.%u)", t->id, z->zone,
		    q->item->text, a & 0xff);
		return;
	}
	if (dns_answer_is_listing(a) && (z->unknown || z->ncodes == 0))
		insert(t, z->symbol, q, a);
}

static void
apply(struct scan_task *t, const struct rbl_query *q, const struct rbl_answer *ans)
{
	if (ans->err == DNS_ERR_NOTEXIST || ans->err == DNS_ERR_NODATA)
		return;
	if (ans->err != DNS_ERR_NONE) {
		const char *sym = arena_printf(t->arena, "%s_FAIL", q->zone->symbol);
		const char *opt = arena_printf(t->arena, "%s:%s", q->item->text, evdns_err_to_string(ans->err));
		result_insert(&t->result, sym, 1.0, opt);
		return;
	}
	for (unsigned i = 0; i < ans->n; i++)
		apply_one(t, q, ans->addr[i]);
}

static void
dns_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct rbl_query *q = arg;
	struct rbl_answer ans = { .err = result };
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A) {
		const uint32_t *a = addresses;
		for (int i = 0; i < count && ans.n < RBL_MAX_ANSWERS; i++)
			ans.addr[ans.n++] = ntohl(a[i]);
	}
	if (result == DNS_ERR_NONE && ans.n == 0)
		ans.err = DNS_ERR_NODATA;
	if (result != DNS_ERR_SHUTDOWN && result != DNS_ERR_CANCEL)
		cache_put(q->rbl, q->name, &ans, ttl);
	if (q->req->check != NULL)
		apply(q->t, q, &ans);
	/* May finish (and free) the task: nothing of it is used after. */
	async_req_done(q->req);
	free(q);
}

/* ---- queries ---------------------------------------------------------------- */

static size_t
query_name(char *out, size_t outsz, const struct cfg_rbl_zone *z, const struct rbl_item *it)
{
	if (!it->is_ip)
		return dns_name_domain(out, outsz, span_from_cstr(it->text), z->zone);
	if (it->v4 ? !z->ipv4 : !z->ipv6)
		return 0;
	return dns_name_ip(out, outsz, &it->addr, it->v4, z->zone);
}

static void
query(struct rbl *r, struct scan_task *t, struct async_check *c, const struct cfg_rbl_zone *z,
    const struct rbl_item *it, unsigned check)
{
	struct rbl_query *q = xcalloc(1, sizeof(*q));
	if (query_name(q->name, sizeof(q->name), z, it) == 0) {
		free(q);
		return;
	}
	q->rbl = r;
	q->t = t;
	q->zone = z;
	q->item = it;
	q->check = check;
	const struct rbl_answer *cached = cache_get(r, q->name);
	if (cached != NULL) {
		apply(t, q, cached);
		free(q);
		return;
	}
	q->req = async_req_new(c, q);
	if (evdns_base_resolve_ipv4(r->dns, q->name, DNS_QUERY_NO_SEARCH, dns_cb, q) == NULL) {
		log_warn("scan id=%s: cannot start the query %s", t->id, q->name);
		async_req_done(q->req);
		free(q);
	}
}

void
rbl_start(struct rbl *r, struct scan_task *t, struct async_task *at)
{
	const struct fconf *cfg = r->cfg;
	unsigned wanted = 0;
	for (size_t i = 0; i < cfg->rbl.nzones; i++)
		if (cfg->rbl.zones[i].enabled)
			wanted |= r->zone_checks[i];
	struct items it = { 0 };
	collect(r, t, wanted, &it);
	for (size_t i = 0; i < cfg->rbl.nzones; i++) {
		const struct cfg_rbl_zone *z = &cfg->rbl.zones[i];
		unsigned zc = r->zone_checks[i];
		if (!z->enabled || zc == 0 || r->zone_broken[i])
			continue;
		struct async_check *c = async_check_begin(at, z->symbol, cfg->rbl.timeout);
		if (c == NULL)
			return;
		for (size_t k = 0; k < it.n; k++) {
			unsigned hit = it.v[k].checks & zc;
			if (hit != 0)
				query(r, t, c, z, &it.v[k], hit & -hit);
		}
		async_check_end(c);
	}
}
