/*
 * msg - one message and its SMTP envelope, the input of every check.
 *
 * A msg lives in a task arena. The raw bytes are borrowed, never modified:
 * decoded and normalised forms are separate arena buffers (see mime.h).
 */
#ifndef FCORE_MSG_H
#define FCORE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "fcore/buf.h"
#include "fcore/mime.h"

struct arena;

struct envelope {
	const char *ip;            /* client IP as text; NULL = no IP */
	struct in6_addr ip_addr;   /* parsed; IPv4 as v4-mapped */
	bool ip_valid;
	bool ip_is_v4;
	const char *helo;
	const char *hostname;      /* rDNS of the client; NULL when "unknown" */
	const char *mail_from;     /* without <>; "" for the null sender; NULL if not given */
	const char **rcpt;         /* without <> */
	size_t nrcpt;
	const char *user;          /* SASL-authenticated user */
	const char *deliver_to;    /* owner for per-user statistics */
	const char *queue_id;
	const char *user_agent;
	const char *mta_name;
	const char *filename;
	bool local_client;         /* User-Agent: rspamc or a Password header (greylisting, §6.2) */
	bool tls;
};

struct msg {
	struct arena *arena;
	struct span raw;
	struct envelope env;
	struct mime_message *mime; /* NULL for Raw: yes input */
};

/* Sets env.ip and the parsed address; false (and no IP) if unparsable. */
bool envelope_set_ip(struct envelope *env, struct arena *a, const char *ip);
void envelope_add_rcpt(struct envelope *env, struct arena *a, const char *rcpt);
/* Strips spaces and one pair of <>; returns an arena copy. */
const char *envelope_clean_addr(struct arena *a, const char *s, size_t len);

#endif
