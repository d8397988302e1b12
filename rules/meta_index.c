/*
 * meta_index.c - which meta rules a hit can change, and what every meta is
 * when nothing hits.
 *
 * A message hits a few dozen of the ~2,700 stock rules, and most of the
 * 400 live metas read only rules that did not hit: their value is the one
 * they have when nothing hits at all, computed once here. rules_run.c
 * evaluates only the metas downstream of a rule whose value differs from
 * that baseline, in meta_order (inputs first), and follows a meta's change
 * to the metas reading it. The result is the same as evaluating them all.
 */
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

static bool
meta_runs(const struct rules_db *db, unsigned i)
{
	return db->rules[i]->engine == RULES_ENGINE_META && (db->live == NULL || db->live[i]);
}

/* meta_dep_start/meta_dep: for rule j, the positions in meta_order of the
 * running metas that read it (an input read twice counts once). */
static void
index_readers(struct rules_db *db)
{
	unsigned *count = xcalloc(db->nrules + 1, sizeof(*count));
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < db->nmeta; k++) {
			unsigned i = db->meta_order[k];
			if (!meta_runs(db, i))
				continue;
			const struct meta_prog *p = db->rules[i]->meta;
			for (size_t in = 0; in < meta_ninputs(p); in++) {
				int j = meta_bound(p, in);
				bool again = false;
				for (size_t e = 0; e < in && !again; e++)
					again = meta_bound(p, e) == j;
				if (j < 0 || again)
					continue;
				if (pass == 0)
					total++;
				else
					db->meta_dep[db->meta_dep_start[j] + count[j]] = (unsigned)k;
				count[j]++;
			}
		}
		if (pass == 0) {
			db->meta_dep_start = arena_array(db->arena, db->nrules + 1, sizeof(unsigned));
			db->meta_dep = arena_array(db->arena, total ? total : 1, sizeof(unsigned));
			unsigned at = 0;
			for (size_t j = 0; j <= db->nrules; j++) {
				db->meta_dep_start[j] = at;
				at += j < db->nrules ? count[j] : 0;
			}
			memset(count, 0, (db->nrules + 1) * sizeof(*count));
		}
	}
	free(count);
}

static void
compute_baseline(struct rules_db *db)
{
	unsigned *hits = xcalloc(db->nrules ? db->nrules : 1, sizeof(*hits));
	db->meta_base = arena_array(db->arena, db->nmeta ? db->nmeta : 1, 1);
	for (size_t k = 0; k < db->nmeta; k++) {
		unsigned i = db->meta_order[k];
		db->meta_base[k] = 0;
		if (!meta_runs(db, i))
			continue;
		hits[i] = meta_eval(db->rules[i]->meta, hits) != 0.0;
		db->meta_base[k] = (uint8_t)hits[i];
	}
	free(hits);
}

void
rules_meta_index(struct rules_db *db)
{
	index_readers(db);
	compute_baseline(db);
}
