/*
 * rules_load.c - rules_load(): files to a shared, read-only database.
 *
 * Order: the configured paths (by default filterd's own rules, then the
 * stock SpamAssassin rules when installed), then the admin's local files,
 * so local score lines win. Then ReplaceTags and default scores, engine
 * decisions, groups, and the databases from the cache or the compiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/clock.h"
#include "fcore/log.h"
#include "fcore/symbol.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

#ifndef FILTERD_RULES_DIR
#define FILTERD_RULES_DIR "rules/default"
#endif
#define SA_RULES_DIR "/usr/share/spamassassin"

static bool
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
read_sources(struct cf *cf, const struct fconf *cfg)
{
	if (cfg->rules.paths.n > 0) {
		for (size_t i = 0; i < cfg->rules.paths.n; i++)
			if (cf_read_path(cf, cfg->rules.paths.v[i]) != 0)
				return -1;
	} else {
		if (cf_read_path(cf, FILTERD_RULES_DIR) != 0)
			return -1;
		if (is_dir(SA_RULES_DIR) && cf_read_path(cf, SA_RULES_DIR) != 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->rules.local.n; i++)
		if (cf_read_path(cf, cfg->rules.local.v[i]) != 0)
			return -1;
	return 0;
}

static void
register_symbols(const struct rules_db *db, struct symtab *symtab)
{
	size_t dl = strlen(FILTERD_RULES_DIR);
	for (size_t i = 0; i < db->nrules; i++) {
		const struct rule *r = db->rules[i];
		if (!r->enabled || strncmp(r->name, "__", 2) == 0)
			continue;
		bool ours = strncmp(r->file, FILTERD_RULES_DIR, dl) == 0;
		symtab_add(symtab, r->name, r->score, ours ? "filterd" : "spamassassin",
		    r->describe ? r->describe : "");
	}
}

/*
 * A pattern Hyperscan rejected only in its group's compile, and PCRE2 too,
 * is unsupported from now on; a start from the cache knows that before the
 * metas are checked. Check them again, and which rules are read, so the
 * first start and every later one run the same rules with the same
 * databases (else the cache written now would not match them).
 */
static void
settle_failures(struct rules_db *db)
{
	rules_meta_repropagate(db);
	rules_mark_live(db);
	unsigned stale = db->cache_stale;
	hs_database_t **pre = xcalloc(db->ngroups ? db->ngroups : 1, sizeof(*pre));
	uint64_t *layouts = xcalloc(db->ngroups ? db->ngroups : 1, sizeof(*layouts));
	for (size_t g = 0; g < db->ngroups; g++) {
		pre[g] = db->groups[g].db;
		layouts[g] = db->groups[g].layout;
	}
	rules_hs_compile_all(db, pre, layouts);
	free(pre);
	free(layouts);
	db->cache_stale = stale;
}

static void
build(struct rules_db *db, const struct fconf *cfg)
{
	uint64_t key = rules_content_key(db);
	const char *dir = cfg->rules.cache_dir ? cfg->rules.cache_dir : cfg->state_dir;
	bool use_cache = cfg->rules.cache && dir != NULL && is_dir(dir);
	int8_t *decided = NULL;
	hs_database_t **dbs = NULL;
	uint64_t *layouts = NULL;
	size_t ndbs = 0;
	bool hit = use_cache &&
	    rules_cache_read(dir, key, db->nrules, &decided, &dbs, &layouts, &ndbs);
	rules_classify_all(db, decided);
	rules_build_groups(db);
	rules_mark_live(db);
	if (hit && ndbs != db->ngroups) {
		for (size_t g = 0; g < ndbs; g++)
			if (dbs[g] != NULL)
				hs_free_database(dbs[g]);
		hit = false;
		log_warn("rules: cache layout differs; compiling");
	}
	if (!hit && rules_hs_screen_all(db) > 0) {
		/* rules that failed take the metas over them along */
		rules_meta_repropagate(db);
		rules_mark_live(db);
	}
	unsigned failed = db->stats.failed;
	rules_hs_compile_all(db, hit ? dbs : NULL, hit ? layouts : NULL);
	/* rules that failed in both engines take the metas over them along */
	if (db->stats.failed != failed)
		settle_failures(db);
	if (db->cache_stale > 0) {
		log_warn("rules: %u cached databases were stale; recompiled", db->cache_stale);
		hit = false;
	}
	db->stats.from_cache = hit;
	if (use_cache && !hit)
		rules_cache_write(db, dir, key);
	free(decided);
	free(dbs);
	free(layouts);
}

static void
finish_stats(struct rules_db *db)
{
	db->stats.databases = 0;
	db->stats.db_bytes = 0;
	db->stats.hs_compiled = 0;
	db->stats.pcre_fallback = 0;
	db->stats.unread = 0;
	for (size_t i = 0; i < db->nrules; i++) {
		if (db->live != NULL && !db->live[i] && db->rules[i]->type != RT_META &&
		    (db->rules[i]->engine == RULES_ENGINE_HYPERSCAN ||
		    db->rules[i]->engine == RULES_ENGINE_PCRE2)) {
			db->stats.unread++;
			continue;
		}
		if (db->rules[i]->engine == RULES_ENGINE_HYPERSCAN)
			db->stats.hs_compiled++;
		else if (db->rules[i]->engine == RULES_ENGINE_PCRE2)
			db->stats.pcre_fallback++;
	}
	for (size_t g = 0; g < db->ngroups; g++) {
		size_t sz = 0;
		if (db->groups[g].db == NULL)
			continue;
		db->stats.databases++;
		if (hs_database_size(db->groups[g].db, &sz) == HS_SUCCESS)
			db->stats.db_bytes += sz;
		if (db->groups[g].nent > db->max_ent)
			db->max_ent = db->groups[g].nent;
	}
}

struct rules_db *
rules_load(const struct fconf *cfg, struct symtab *symtab, char *err, size_t errlen)
{
	double t0 = clock_mono();
	struct rules_db *db = xcalloc(1, sizeof(*db));
	db->arena = arena_new(0);
	db->pcre_match_limit = cfg->limits.pcre_match_limit;
	db->pcre_depth_limit = cfg->limits.pcre_depth_limit;
	struct cf cf;
	cf_init(&cf, db->arena, err, errlen);
	if (read_sources(&cf, cfg) != 0) {
		cf_deinit(&cf);
		rules_free(&db);
		return NULL;
	}
	cf_finish(&cf);
	rules_compile(db, &cf);
	db->stats.skipped_blocks = cf.skipped_blocks;
	db->body_part_scan_size = (size_t)cf.body_part_scan_size;
	db->rawbody_part_scan_size = (size_t)cf.rawbody_part_scan_size;
	db->nfiles = cf.nfiles;
	db->files = arena_array(db->arena, cf.nfiles ? cf.nfiles : 1, sizeof(char *));
	memcpy(db->files, cf.files, cf.nfiles * sizeof(char *));
	db->stats.files = (unsigned)cf.nfiles;
	cf_deinit(&cf);
	build(db, cfg);
	rules_meta_index(db);
	finish_stats(db);
	if (symtab != NULL)
		register_symbols(db, symtab);
	db->stats.compile_seconds = clock_mono() - t0;
	return db;
}

void
rules_free(struct rules_db **dbp)
{
	struct rules_db *db = *dbp;
	if (db == NULL)
		return;
	for (size_t g = 0; g < db->ngroups; g++)
		if (db->groups[g].db != NULL)
			hs_free_database(db->groups[g].db);
	for (size_t i = 0; i < db->nrules; i++)
		if (db->rules[i]->pcre != NULL)
			pcre2_code_free(db->rules[i]->pcre);
	if (db->eval_local_re != NULL)
		pcre2_code_free(db->eval_local_re);
	if (db->eval_fetchmail_re != NULL)
		pcre2_code_free(db->eval_fetchmail_re);
	if (db->eval_rcvd_date_re != NULL)
		pcre2_code_free(db->eval_rcvd_date_re);
	free(db->groups);
	arena_free(&db->arena);
	free(db);
	*dbp = NULL;
}

void
rules_get_stats(const struct rules_db *db, struct rules_stats *out)
{
	*out = db->stats;
}

size_t
rules_count(const struct rules_db *db)
{
	return db->nrules;
}

bool
rules_get_info(const struct rules_db *db, size_t i, struct rules_info *out)
{
	if (i >= db->nrules)
		return false;
	const struct rule *r = db->rules[i];
	out->name = r->name;
	out->type = rule_type_name(r->type);
	out->engine = r->engine;
	out->reason = r->reason;
	out->file = r->file;
	out->line = r->line;
	out->score = r->score;
	return true;
}

const char *
rules_engine_name(enum rules_engine e)
{
	switch (e) {
	case RULES_ENGINE_HYPERSCAN: return "hyperscan";
	case RULES_ENGINE_PCRE2: return "pcre2";
	case RULES_ENGINE_META: return "meta";
	case RULES_ENGINE_EXISTS: return "exists";
	case RULES_ENGINE_UNSUPPORTED: return "unsupported";
	case RULES_ENGINE_DISABLED: return "disabled";
	case RULES_ENGINE_EVAL: return "eval";
	}
	return "?";
}

size_t
rules_nfiles(const struct rules_db *db)
{
	return db->nfiles;
}

const char *
rules_file(const struct rules_db *db, size_t i)
{
	return i < db->nfiles ? db->files[i] : NULL;
}
