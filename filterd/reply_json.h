/*
 * reply_json - the rspamd-shaped JSON replies of a finished scan:
 * /checkv2 (protocols.md 1.5), the legacy v1 shape (1.6), and the milter
 * header block both share.
 */
#ifndef FILTERD_REPLY_JSON_H
#define FILTERD_REPLY_JSON_H

#include <jansson.h>

#include "scan.h"

/* The replies as text (json_out.c), appended to out. */
void reply_v2_write(const struct scan_task *t, struct buf *out);
void reply_v1_write(const struct scan_task *t, struct buf *out);
/* {"remove_headers":{...},"add_headers":{...}}, or NULL when nothing to do. */
json_t *reply_json_milter(const struct scan_task *t);
/* "default: False [1.00 / 15.00];\r\n\tSYM(1.00)[opt];..." in the task arena. */
const char *reply_spamd_result(const struct scan_task *t, const char *fold);

#endif
