/*
 * checks - the built-in checks written in C: header sanity checks with
 * rspamd's names and weights, MIME anomalies as symbols, and the GTUBE test
 * patterns. Each check reads the msg and writes the result, nothing else.
 */
#ifndef FILTERD_CHECKS_H
#define FILTERD_CHECKS_H

#include <stdbool.h>
#include <time.h>

#include "fcore/msg.h"
#include "fcore/result.h"
#include "fcore/symbol.h"

void checks_register(struct symtab *t);

/* now: the scan's clock (connect time) for date checks. */
void checks_headers_run(const struct msg *m, struct scan_result *r, time_t now);
void checks_mime_anomalies_run(const struct msg *m, struct scan_result *r);

/*
 * GTUBE: true when a test pattern matched; the result then carries the
 * forced action and the scan must skip the other checks (rspamd semantics).
 */
bool checks_gtube_run(const struct msg *m, struct scan_result *r, const struct action_thresholds *t,
    bool all_patterns);

#endif
