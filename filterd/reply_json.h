/*
 * reply_json - the rspamd-shaped JSON replies of a finished scan:
 * /checkv2 (protocols.md 1.5), the legacy v1 shape (1.6), and the milter
 * header block both share.
 */
#ifndef FILTERD_REPLY_JSON_H
#define FILTERD_REPLY_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "scan.h"

/* The replies as text (json_out.c), appended to out. */
void reply_v2_write(const struct scan_task *t, struct buf *out);
void reply_v1_write(const struct scan_task *t, struct buf *out);
/*
 * The headers a verdict adds, and the ones that could spoof them, removed
 * first: the "milter" block of /checkv2 and what the milter itself sends.
 * Values live in the task's arena.
 */
#define REPLY_HEADERS_MAX 10

struct reply_header {
	const char *name;
	const char *value;
};

struct reply_headers {
	const char *const *remove;
	size_t nremove;
	struct reply_header add[REPLY_HEADERS_MAX];
	size_t nadd;
};

/* false, and nothing listed, for a skipped scan. */
bool reply_headers(const struct scan_task *t, struct reply_headers *h);
/* "default: False [1.00 / 15.00];\r\n\tSYM(1.00)[opt];..." in the task arena. */
const char *reply_spamd_result(const struct scan_task *t, const char *fold);

#endif
