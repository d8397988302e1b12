/*
 * check_gtube.c - the GTUBE test patterns (protocols.md 1.7): a text part of
 * 68 bytes .. 8 KiB holding one short-circuits the scan with a forced action.
 */
#include <string.h>

#include "checks.h"

#define GTUBE_TAIL "JS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
#define GTUBE_MIN_PART 68
#define GTUBE_MAX_PART 8192

static bool
part_has_pattern(struct span text, char *lead_r)
{
	if (text.len < GTUBE_MIN_PART || text.len > GTUBE_MAX_PART)
		return false;
	struct span tail = SPAN_LIT(GTUBE_TAIL);
	ptrdiff_t at = span_find(text, tail);
	if (at < 1)
		return false;
	*lead_r = (char)text.p[at - 1];
	return true;
}

bool
checks_gtube_run(const struct msg *m, struct scan_result *r, const struct action_thresholds *t,
    bool all_patterns)
{
	if (m->mime == NULL)
		return false;
	for (size_t i = 0; i < m->mime->nparts; i++) {
		const struct mime_part *p = &m->mime->parts[i];
		char lead;
		if (!(p->flags & MIME_PART_TEXT))
			continue;
		struct span text = p->text.len ? p->text : p->utf8;
		if (!part_has_pattern(text, &lead))
			continue;
		enum action a;
		if (lead == 'X')
			a = ACTION_REJECT;
		else if (lead == 'Y' && all_patterns)
			a = ACTION_ADD_HEADER;
		else if (lead == 'Z' && all_patterns)
			a = ACTION_REWRITE_SUBJECT;
		else if (lead == 'A' && all_patterns)
			a = ACTION_NO_ACTION;
		else
			continue;
		double thr = a == ACTION_NO_ACTION ? 0.0 : t->score[a];
		if (a != ACTION_NO_ACTION)
			result_insert(r, "GTUBE", 1.0, NULL);
		result_force_action(r, a, thr == thr ? thr : 0.0, "Gtube pattern");
		r->skipped = true;
		return true;
	}
	return false;
}
