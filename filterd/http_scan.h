/*
 * http_scan - the rspamd scan protocol over HTTP (protocols.md 1): request
 * headers (and query-string pairs) into the task's envelope and flags, the
 * scan, and the JSON reply. Used by the scanner port and the controller.
 */
#ifndef FILTERD_HTTP_SCAN_H
#define FILTERD_HTTP_SCAN_H

#include <stdbool.h>

#include "http_conn.h"
#include "scan.h"
#include "shm.h"

enum http_scan_kind { HTTP_SCAN_V2, HTTP_SCAN_V1, HTTP_SCAN_SKIP };

struct http_scan_ctx {
	struct scan_engine *engine;
	struct shm_stats *shm;
};

/* Scans body per the request and replies; the connection is answered later
 * when asynchronous checks run. */
void http_scan_handle(struct http_conn *c, const struct http_request *req, struct span body,
    struct http_scan_ctx *ctx, enum http_scan_kind kind);

/* The scanner port's handler (protocols.md 1.2 paths). */
void http_scan_worker_handler(struct http_conn *c, const struct http_request *req, struct span body,
    void *arg);

/* Strips one leading '/', true if the rest equals name (ASCII case-insensitive). */
bool http_path_is(struct span path, const char *name);

/* A header from the request or its query string (later pairs of the query count too). */
struct http_param_iter {
	const struct http_request *req;
	const char *name;
	size_t hi;
	size_t qi;
};
bool http_param_next(struct http_param_iter *it, struct arena *a, struct span *value_r);
bool http_param_get(const struct http_request *req, struct arena *a, const char *name, struct span *value_r);

/* Fills the task from the request (protocols.md 1.3); false with a reason on a fatal header. */
bool http_scan_fill_task(struct scan_task *t, const struct http_request *req, int *code_r,
    const char **reason_r);

#endif
