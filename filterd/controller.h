/*
 * controller - port 11334 (protocols.md 2): ping, auth, stat, actions,
 * scanning (rspamc scans here by default), learning, and later the console.
 * Authentication follows rspamd 3.4's decision procedure (2.2) and runs on
 * the request head, before any body is read.
 */
#ifndef FILTERD_CONTROLLER_H
#define FILTERD_CONTROLLER_H

#include "http_conn.h"
#include "http_scan.h"

struct controller_ctx {
	struct http_scan_ctx scan;
	const struct fconf *cfg;
};

int controller_on_head(struct http_conn *c, const struct http_request *req, void *arg);
void controller_handler(struct http_conn *c, const struct http_request *req, struct span body, void *arg);

/* Exposed for tests: does ip match one of the "addr" or "addr/len" entries? */
bool controller_ip_in_list(const char *ip, const struct cfg_strlist *list);

#endif
