/*
 * rules_live.c - which rules' results anything reads.
 *
 * A rule is live when it is scored (enabled and not named __*) or is an
 * input of a live meta rule. The stock rules define __ sub-rules whose only
 * readers are metas filterd cannot run (an unsupported eval: among their
 * inputs); matching them would cost time and change nothing, and a few of
 * them are the slowest PCRE2 patterns of all (__FILL_THIS_FORM_SHORT2 was
 * a third of a scan). rules_run() skips the backtracking work, the eval:
 * functions and the meta expressions of rules that are not live, and
 * rules_compile.c leaves them out of the Hyperscan databases: 505 of the
 * 1,185 stock patterns Hyperscan accepts are read by nothing, and a
 * database's cost grows with what it holds.
 */
#include <string.h>

#include "fcore/arena.h"
#include "rules-private.h"

static bool
scored(const struct rule *r)
{
	return r->enabled && strncmp(r->name, "__", 2) != 0;
}

void
rules_mark_live(struct rules_db *db)
{
	db->live = arena_alloc(db->arena, db->nrules ? db->nrules : 1);
	for (size_t i = 0; i < db->nrules; i++)
		db->live[i] = scored(db->rules[i]);
	/* meta_order lists inputs before the metas reading them: walk it
	 * backwards so a live meta has marked its inputs before they are seen. */
	for (size_t k = db->nmeta; k-- > 0;) {
		unsigned i = db->meta_order[k];
		const struct rule *r = db->rules[i];
		if (!db->live[i] || r->engine != RULES_ENGINE_META || r->meta == NULL)
			continue;
		for (size_t in = 0; in < meta_ninputs(r->meta); in++) {
			int b = meta_bound(r->meta, in);
			if (b >= 0 && (size_t)b < db->nrules)
				db->live[b] = 1;
		}
	}
}
