/*
 * rules_cache.c - compiled databases on disk, so a restart with unchanged
 * rules loads in milliseconds instead of compiling for tens of seconds.
 *
 * The file name carries a key: a hash of everything that shapes the
 * databases (each rule's name, scope, header, pattern, flags and
 * enablement), the Hyperscan version and the host's CPU features. A file
 * with another key is simply not looked at; a torn or foreign file fails its
 * checks and the rules are compiled as if there were no cache. Besides the
 * databases the file keeps each rule's engine decision (target in the low
 * nibble; 0x10 ungated; 0x20 / 0x40 Hyperscan accepts / refuses the whole
 * pattern as a prefilter gate), so the warm path does not ask Hyperscan
 * about each pattern again.
 *
 * Layout (host byte order; the key covers the platform):
 *   "FRHSDB03" key:u64 nrules:u64 decided[nrules] ngroups:u64
 *   { layout:u64 size:u64 bytes[size] } x ngroups
 * layout is a hash of the expressions each database was compiled from; a
 * database whose group now lays out differently (another filterd version
 * extracting other gates) is compiled again, so the cache never serves a
 * database whose ids mean something else.
 * Written to a temporary name and renamed, so readers never see a partial
 * file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

#define CACHE_MAGIC "FRHSDB03"
#define CACHE_MAX_DB (1u << 30) /* sanity bound on one serialised database */

static void
hash_str(XXH64_state_t *st, const char *s)
{
	if (s != NULL)
		XXH64_update(st, s, strlen(s) + 1);
	else
		XXH64_update(st, "\xff", 1);
}

uint64_t
rules_content_key(const struct rules_db *db)
{
	XXH64_state_t *st = XXH64_createState();
	XXH64_reset(st, 0x66696c7465726421ull);
	hash_str(st, hs_version());
	/* how PCRE2 gates are chosen (rules_gate_choose): a cached nogate
	 * decision from another choice must not be reused */
	hash_str(st, "gates: literal, prefilter, required run; long body parts; unroll limit");
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	if (hs_populate_platform(&plat) == HS_SUCCESS)
		XXH64_update(st, &plat, sizeof(plat));
	for (size_t i = 0; i < db->nrules; i++) {
		const struct rule *r = db->rules[i];
		hash_str(st, r->name);
		hash_str(st, r->hdr);
		hash_str(st, r->re);
		hash_str(st, r->eval);
		hash_str(st, r->unset);
		int32_t v[8] = { r->type, (int32_t)r->hdr_flags, (int32_t)r->re_flags,
			(int32_t)(r->tflags & TF_MULTIPLE), r->neg, r->exists, r->enabled, 0 };
		XXH64_update(st, v, sizeof(v));
	}
	uint64_t h = XXH64_digest(st);
	XXH64_freeState(st);
	return h;
}

static void
cache_path(char *out, size_t outsz, const char *dir, uint64_t key)
{
	snprintf(out, outsz, "%s/rules-%016llx.hsdb", dir, (unsigned long long)key);
}

struct cache_reader {
	const uint8_t *p;
	size_t len, pos;
};

static bool
take(struct cache_reader *r, void *out, size_t n)
{
	if (n > r->len - r->pos)
		return false;
	memcpy(out, r->p + r->pos, n);
	r->pos += n;
	return true;
}

static bool
read_u64(struct cache_reader *r, uint64_t *v)
{
	return take(r, v, sizeof(*v));
}

/* The file is mapped, not read: the databases are deserialised straight
 * from the page cache, which keeps a warm start to one copy of each. */
bool
rules_cache_read(const char *dir, uint64_t key, size_t nrules, int8_t **decided_r,
    hs_database_t ***dbs_r, uint64_t **layouts_r, size_t *ndbs_r)
{
	char path[4096];
	cache_path(path, sizeof(path), dir, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && st.st_size > 0)
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	struct cache_reader r = { map, (size_t)st.st_size, 0 };
	char magic[8];
	uint64_t k, n, ng = 0;
	int8_t *decided = NULL;
	hs_database_t **dbs = NULL;
	uint64_t *layouts = NULL;
	size_t got = 0;
	if (!take(&r, magic, 8) || memcmp(magic, CACHE_MAGIC, 8) != 0 || !read_u64(&r, &k) ||
	    k != key || !read_u64(&r, &n) || n != nrules)
		goto fail;
	decided = xmalloc(nrules ? nrules : 1);
	if (!take(&r, decided, nrules) || !read_u64(&r, &ng) || ng > nrules + 16)
		goto fail;
	dbs = xcalloc(ng ? ng : 1, sizeof(*dbs));
	layouts = xcalloc(ng ? ng : 1, sizeof(*layouts));
	for (got = 0; got < ng; got++) {
		uint64_t sz;
		if (!read_u64(&r, &layouts[got]) || !read_u64(&r, &sz) || sz > CACHE_MAX_DB ||
		    sz > r.len - r.pos)
			goto fail;
		if (sz == 0)
			continue;
		if (hs_deserialize_database((const char *)r.p + r.pos, sz, &dbs[got]) != HS_SUCCESS)
			goto fail;
		r.pos += sz;
	}
	munmap(map, r.len);
	*decided_r = decided;
	*dbs_r = dbs;
	*layouts_r = layouts;
	*ndbs_r = ng;
	return true;
fail:
	log_warn("rules: cache %s unusable; compiling", path);
	for (size_t i = 0; dbs != NULL && i < got; i++)
		if (dbs[i] != NULL)
			hs_free_database(dbs[i]);
	free(dbs);
	free(layouts);
	free(decided);
	munmap(map, r.len);
	return false;
}

static int8_t
decision(const struct rule *r)
{
	int8_t d;
	switch (r->engine) {
	case RULES_ENGINE_HYPERSCAN: d = RE_TARGET_HS; break;
	case RULES_ENGINE_PCRE2: d = RE_TARGET_PCRE; break;
	case RULES_ENGINE_UNSUPPORTED:
		d = (r->reason && strncmp(r->reason, "regex:", 6) == 0) ? RE_TARGET_FAIL : -1;
		break;
	default: d = -1; break;
	}
	if (d >= 0 && r->nogate)
		d |= 0x10;
	if (d >= 0 && r->prefilter_ok != 0)
		d |= r->prefilter_ok == 1 ? 0x20 : 0x40;
	return d;
}

/* Older databases (other rules, another Hyperscan) are some 20-40 MB each:
 * only the current one is kept. */
static void
remove_stale(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "rules-", 6) != 0 || l < 11 ||
		    strcmp(e->d_name + l - 5, ".hsdb") != 0 || strcmp(e->d_name, keep) == 0)
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

void
rules_cache_write(const struct rules_db *db, const char *dir, uint64_t key)
{
	char path[4096], tmp[4160];
	cache_path(path, sizeof(path), dir, key);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (f == NULL) {
		log_warn("rules: cannot write cache %s: %s", tmp, strerror(errno));
		return;
	}
	bool ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8;
	uint64_t v = key;
	ok = ok && fwrite(&v, sizeof(v), 1, f) == 1;
	v = db->nrules;
	ok = ok && fwrite(&v, sizeof(v), 1, f) == 1;
	for (size_t i = 0; ok && i < db->nrules; i++) {
		int8_t d = decision(db->rules[i]);
		ok = fwrite(&d, 1, 1, f) == 1;
	}
	v = db->ngroups;
	ok = ok && fwrite(&v, sizeof(v), 1, f) == 1;
	for (size_t g = 0; ok && g < db->ngroups; g++) {
		char *bytes = NULL;
		size_t len = 0;
		if (db->groups[g].db != NULL &&
		    hs_serialize_database(db->groups[g].db, &bytes, &len) != HS_SUCCESS) {
			ok = false;
			break;
		}
		v = db->groups[g].layout;
		ok = fwrite(&v, sizeof(v), 1, f) == 1;
		v = len;
		ok = ok && fwrite(&v, sizeof(v), 1, f) == 1 &&
		    (len == 0 || fwrite(bytes, 1, len, f) == len);
		free(bytes);
	}
	if (fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0) {
		log_warn("rules: cannot write cache %s", path);
		unlink(tmp);
		return;
	}
	const char *slash = strrchr(path, '/');
	remove_stale(dir, slash ? slash + 1 : path);
}
