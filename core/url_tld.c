/*
 * url_tld.c - the public suffix list as a compact hash set.
 *
 * Each rule of publicsuffix.org's list is stored once, lower-case and in
 * punycode (the list spells IDN suffixes in UTF-8), with what kind of rule it
 * is: a plain suffix, the parent of a wildcard ("*.ck" stores "ck") or an
 * exception ("!www.ck"). One open-addressing table over a single string pool;
 * about 10,000 rules, ~300 KiB. Loaded once per process on first use
 * (pthread_once) so workers share nothing and tests need no setup.
 *
 * Lookup walks the host's suffixes from the longest: the first exception,
 * plain rule or wildcard match is the longest match, which is the algorithm
 * publicsuffix.org specifies.
 */
#include "fcore/url.h"

#include <idn2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract-private.h"
#include "fcore/xalloc.h"

#define R_PLAIN 0x1
#define R_WILD 0x2
#define R_EXCEPT 0x4

#define TLD_MAX_LABELS 128 /* a 253-byte host has at most 127 labels */

struct tld_slot {
	uint32_t hash;
	uint32_t off;  /* into pool; 0 = empty slot (pool starts with a pad byte) */
	uint16_t len;
	uint8_t kind;
};

struct tld_set {
	struct tld_slot *slots;
	size_t mask;
	size_t used;
	char *pool;
	size_t pool_len;
	size_t pool_cap;
};

static struct tld_set tld;
static pthread_once_t tld_once = PTHREAD_ONCE_INIT;

/* Used when the list is not installed: the suffixes most mail names. */
static const char *const tld_builtin[] = {
	"com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro",
	"io", "co", "me", "tv", "cc", "ws", "us", "uk", "de", "fr", "ru", "cn", "jp",
	"br", "it", "nl", "es", "pl", "au", "ca", "in", "eu", "ch", "se", "no", "dk",
	"fi", "be", "at", "cz", "hu", "ro", "gr", "pt", "ie", "tr", "ua", "kr", "tw",
	"hk", "sg", "nz", "za", "mx", "ar", "cl", "xyz", "top", "online", "site",
	"club", "shop", "app", "dev", "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au",
	"net.au", "org.au", "co.jp", "ne.jp", "or.jp", "com.br", "com.cn", "net.cn",
	"org.cn", "co.za", "co.nz", "com.mx", "com.ar", "com.tr", "co.in", "com.tw",
	"com.hk",
};

static uint32_t
tld_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint8_t
tld_get(const struct tld_set *t, const uint8_t *p, size_t n)
{
	if (t->slots == NULL)
		return 0;
	uint32_t h = tld_hash(p, n);
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct tld_slot *s = &t->slots[i];
		if (s->off == 0)
			return 0;
		if (s->hash == h && s->len == n && memcmp(t->pool + s->off, p, n) == 0)
			return s->kind;
	}
}

static void
tld_grow(struct tld_set *t)
{
	size_t ncap = t->slots ? (t->mask + 1) * 2 : 16384;
	struct tld_slot *ns = xcalloc(ncap, sizeof(*ns));
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		struct tld_slot s = t->slots[i];
		if (s.off == 0)
			continue;
		size_t k = s.hash & (ncap - 1);
		while (ns[k].off != 0)
			k = (k + 1) & (ncap - 1);
		ns[k] = s;
	}
	free(t->slots);
	t->slots = ns;
	t->mask = ncap - 1;
}

static void
tld_put(struct tld_set *t, const char *rule, size_t n, uint8_t kind)
{
	if (n == 0 || n > 255)
		return;
	if (t->slots == NULL || (t->used + 1) * 2 > t->mask + 1)
		tld_grow(t);
	uint32_t h = tld_hash((const uint8_t *)rule, n);
	size_t i = h & t->mask;
	for (;; i = (i + 1) & t->mask) {
		struct tld_slot *s = &t->slots[i];
		if (s->off == 0)
			break;
		if (s->hash == h && s->len == n && memcmp(t->pool + s->off, rule, n) == 0) {
			s->kind |= kind;
			return;
		}
	}
	if (t->pool_len + n > t->pool_cap) {
		t->pool_cap = (t->pool_cap ? t->pool_cap * 2 : 65536) + n;
		t->pool = xrealloc(t->pool, t->pool_cap);
	}
	if (t->pool_len == 0)
		t->pool[t->pool_len++] = '\0';
	memcpy(t->pool + t->pool_len, rule, n);
	t->slots[i] = (struct tld_slot){ h, (uint32_t)t->pool_len, (uint16_t)n, kind };
	t->pool_len += n;
	t->used++;
}

/* One rule as written in the list: "com", "*.ck", "!www.ck", "公司.cn". */
static void
tld_add_rule(struct tld_set *t, char *rule)
{
	uint8_t kind = R_PLAIN;
	if (rule[0] == '!') {
		kind = R_EXCEPT;
		rule++;
	} else if (rule[0] == '*' && rule[1] == '.') {
		kind = R_WILD;
		rule += 2;
	}
	bool ascii = true;
	for (char *c = rule; *c; c++) {
		if ((unsigned char)*c >= 0x80)
			ascii = false;
		*c = (char)ascii_lower((uint8_t)*c);
	}
	if (ascii) {
		tld_put(t, rule, strlen(rule), kind);
		return;
	}
	char *puny = NULL;
	if (idn2_to_ascii_8z(rule, &puny, IDN2_NONTRANSITIONAL) == IDN2_OK ||
	    idn2_to_ascii_8z(rule, &puny, IDN2_TRANSITIONAL) == IDN2_OK) {
		tld_put(t, puny, strlen(puny), kind);
	}
	idn2_free(puny);
}

static void
tld_clear(struct tld_set *t)
{
	free(t->slots);
	free(t->pool);
	memset(t, 0, sizeof(*t));
}

int
url_tld_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	struct tld_set nt = { 0 };
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *r = line;
		while (*r == ' ' || *r == '\t')
			r++;
		if (r[0] == '/' && r[1] == '/')
			continue;
		r[strcspn(r, " \t\r\n")] = '\0';
		if (*r != '\0')
			tld_add_rule(&nt, r);
	}
	fclose(f);
	if (nt.used == 0) {
		tld_clear(&nt);
		return -1;
	}
	tld_clear(&tld);
	tld = nt;
	return 0;
}

static void
tld_init_once(void)
{
	if (tld.used > 0 || url_tld_load(URL_TLD_DEFAULT_PATH) == 0)
		return;
	for (size_t i = 0; i < sizeof(tld_builtin) / sizeof(tld_builtin[0]); i++) {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%s", tld_builtin[i]);
		tld_add_rule(&tld, tmp);
	}
}

/* Index in host where the public suffix starts. */
static size_t
suffix_start(struct span host, bool *known_r)
{
	pthread_once(&tld_once, tld_init_once);
	size_t starts[TLD_MAX_LABELS];
	size_t n = 0, base = 0;
	/* Only the last 255 bytes can hold a suffix (DNS names are shorter), and
	 * 255 bytes have at most 128 labels. */
	if (host.len > 255) {
		base = host.len - 255;
		while (base < host.len && host.p[base - 1] != '.')
			base++;
	}
	starts[n++] = base;
	for (size_t i = base; i < host.len && n < TLD_MAX_LABELS; i++)
		if (host.p[i] == '.' && i + 1 < host.len)
			starts[n++] = i + 1;
	for (size_t k = 0; k < n; k++) {
		const uint8_t *s = host.p + starts[k];
		size_t len = host.len - starts[k];
		uint8_t kind = tld_get(&tld, s, len);
		if ((kind & R_EXCEPT) && k + 1 < n) {
			*known_r = true;
			return starts[k + 1];
		}
		if (kind & R_PLAIN) {
			*known_r = true;
			return starts[k];
		}
		if (k + 1 < n && (tld_get(&tld, host.p + starts[k + 1], host.len - starts[k + 1]) & R_WILD)) {
			*known_r = true;
			return starts[k];
		}
	}
	*known_r = false;
	return starts[n - 1];
}

struct span
url_tld_suffix(struct span host, bool *known_r)
{
	bool known;
	if (host.len == 0) {
		if (known_r)
			*known_r = false;
		return host;
	}
	size_t st = suffix_start(host, &known);
	if (known_r)
		*known_r = known;
	return span_sub(host, st, host.len - st);
}

struct span
url_tld_registered(struct span host, bool *known_r)
{
	bool known = false;
	size_t st = host.len ? suffix_start(host, &known) : 0;
	if (known_r)
		*known_r = known;
	if (st < 2)
		return span_make(host.p, 0);
	size_t i = st - 1; /* the dot before the suffix */
	while (i > 0 && host.p[i - 1] != '.')
		i--;
	return span_sub(host, i, host.len - i);
}
