/*
 * mime - the parsed form of one message (design.md "parse" and "extract").
 *
 * mime_parse() reads the raw bytes once and builds, in the task arena:
 * headers (raw and decoded), the part tree (flattened in pre-order), decoded
 * part bodies, UTF-8 text, URLs, e-mail addresses, attachments and the
 * anomalies found on the way. It never fails on hostile input: what is broken
 * is recorded as an anomaly and parsing carries on as far as it is sane.
 *
 * Lifetimes: every pointer in these structures lives in the arena passed to
 * mime_parse(); spans named raw point into the caller's message buffer, which
 * must outlive the arena's use. (One exception: the parts of a base64- or
 * QP-encoded message/rfc822 live in their parent's decoded buffer, an arena
 * copy.)
 */
#ifndef FCORE_MIME_H
#define FCORE_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fcore/buf.h"

struct arena;

struct mime_limits {
	unsigned max_depth;        /* MIME nesting (multipart + message/rfc822) */
	unsigned max_parts;
	unsigned max_header_lines; /* per header block */
	size_t max_header_size;    /* one unfolded header */
	size_t max_boundary;
	unsigned max_urls;
	bool defer_extract;        /* mime_parse() leaves mime_extract() to the caller
	                            * (to time the two steps apart) */
};
void mime_limits_default(struct mime_limits *l);

/* Anomalies: each becomes a symbol of the same rspamd-like name. */
enum mime_anomaly {
#define MIME_ANOMALY(id, sym, desc) id,
#include "fcore/mime_anomalies.def"
#undef MIME_ANOMALY
	MIME_ANOMALY_COUNT
};
const char *mime_anomaly_symbol(enum mime_anomaly a);
const char *mime_anomaly_description(enum mime_anomaly a);

enum mime_cte {
	MIME_CTE_NONE, /* absent: 7bit implied */
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_UUENCODE,
	MIME_CTE_UNKNOWN,
};

/* Header flags */
#define MIME_HDR_ENCODED 0x01     /* had RFC 2047 encoded words */
#define MIME_HDR_BAD_ENCODING 0x02 /* an encoded word could not be decoded; kept raw */
#define MIME_HDR_8BIT 0x04        /* raw 8-bit bytes in the value */
#define MIME_HDR_TRUNCATED 0x08   /* longer than max_header_size */

struct mime_header {
	struct span name;  /* as written, no colon */
	struct span raw;   /* raw value after the colon, still folded */
	const char *value; /* unfolded, encoded words decoded, UTF-8, NUL-terminated, leading WSP trimmed */
	size_t value_len;
	uint32_t flags;
};

struct mime_headers {
	struct mime_header *v;
	size_t n;
};

struct mime_param {
	const char *name;  /* lower-case */
	const char *value; /* RFC 2231 / 2047 decoded, UTF-8 */
};

struct mime_addr {
	const char *name;   /* display name, decoded; NULL if none */
	const char *addr;   /* local@domain as written (quotes removed); "" for <> */
	const char *local;
	const char *domain; /* lower-case; NULL if none */
	bool in_group;
	bool invalid;
};

struct mime_addr_list {
	struct mime_addr *v;
	size_t n;
};

struct mime_received {
	const char *from_name; /* "from X" */
	const char *helo;      /* HELO name when given in parentheses or as from X */
	const char *rdns;      /* reverse name in "(rdns [ip])" */
	const char *ip;        /* textual IPv4/IPv6, NULL if none */
	const char *by;
	const char *with;      /* protocol: SMTP, ESMTPS, ... */
	time_t ts;             /* date after ';', 0 if none/unparsable */
};

/* Part flags */
#define MIME_PART_MULTIPART 0x0001
#define MIME_PART_MESSAGE 0x0002    /* message/rfc822: child holds the inner message */
#define MIME_PART_TEXT 0x0004       /* text/plain or text/html body with text extracted */
#define MIME_PART_HTML 0x0008
#define MIME_PART_ATTACHMENT 0x0010 /* has a filename or disposition attachment */
#define MIME_PART_BAD_CTE 0x0020
#define MIME_PART_EXT_MISMATCH 0x0040 /* filename extension disagrees with detected type */
#define MIME_PART_INVISIBLE_TEXT 0x0080 /* HTML had hidden text */
#define MIME_PART_CHARSET_DETECTED 0x0100 /* charset guessed (missing or wrong declaration) */
#define MIME_PART_CHARSET_INVALID 0x0200  /* invalid sequences replaced */
#define MIME_PART_TRUNCATED 0x0400

struct mime_part {
	unsigned index;  /* position in mime_message.parts */
	int parent;      /* index of the parent, -1 for the root */
	unsigned depth;
	unsigned nchildren;
	struct mime_headers headers;  /* this part's own header block */
	const char *type;     /* lower-case, e.g. "text"; "text" if absent */
	const char *subtype;  /* lower-case, e.g. "plain" */
	struct mime_param *params;
	size_t nparams;
	const char *charset;  /* declared, lower-case; NULL if none */
	const char *charset_used; /* what the text was converted from */
	enum mime_cte cte;
	const char *disposition; /* lower-case "inline"/"attachment"/NULL */
	const char *filename;    /* decoded, NULL if none */
	const char *detected_type; /* libmagic MIME type of the decoded bytes, NULL if not checked */
	struct span raw;         /* whole part as in the message, headers included */
	struct span raw_body;    /* encoded body */
	struct span decoded;     /* transfer-decoded body (arena) */
	struct span utf8;        /* text parts: decoded body converted to UTF-8 (for html: the HTML source) */
	struct span text;        /* text parts: visible text, UTF-8 (HTML rendered; = utf8 for plain) */
	uint32_t flags;
};

/* URL flags */
#define URL_FROM_TEXT 0x01
#define URL_FROM_HTML 0x02
#define URL_NUMERIC_IP 0x04   /* host is an IP (after decoding hex/octal/decimal forms) */
#define URL_PHISHED 0x08      /* visible link text names another domain */
#define URL_HAS_USER 0x10
#define URL_IDN 0x20
#define URL_OBSCURED 0x40     /* hex/octal IP, %-encoded host, ... */
#define URL_SCHEMELESS 0x80   /* found as www.x or bare domain */
#define URL_IMAGE 0x100       /* from <img src> */
#define URL_FORM 0x200        /* from <form action> */

struct mime_url {
	const char *url;      /* normalised, NUL-terminated */
	const char *scheme;   /* lower-case */
	const char *host;     /* lower-case, punycode, no trailing dot */
	const char *tld;      /* registered domain (public suffix + 1 label), or the IP */
	const char *path;     /* path+query as normalised, may be "" */
	const char *display_host; /* for URL_PHISHED: the domain shown in the link text */
	const char *raw;      /* as found (after url_clean), NULL when equal to url; for
	                       * SpamAssassin uri rules, which see both forms */
	uint32_t flags;
	unsigned part;        /* index of the part it came from */
};

struct mime_email {
	const char *addr; /* lower-case domain */
	const char *domain;
};

struct mime_anomaly_hit {
	enum mime_anomaly kind;
	const char *detail; /* short option text, e.g. the header name; may be NULL */
	int part;           /* part index, -1 for the message */
};

struct mime_message {
	struct span raw;          /* whole message after any mbox "From " line */
	struct mime_headers headers; /* top-level header block */
	struct span body;         /* raw bytes after the top-level header block */
	struct mime_part *parts;  /* pre-order; parts[0] is the top-level entity */
	size_t nparts;
	struct mime_addr_list from, to, cc, reply_to, sender;
	struct mime_received *received; /* top-most (newest) first */
	size_t nreceived;
	const char *subject;      /* decoded; NULL if absent */
	const char *message_id;   /* without <>; NULL if absent */
	time_t date;              /* 0 if absent or unparsable */
	bool has_date;
	struct mime_url *urls;
	size_t nurls;
	struct mime_email *emails;
	size_t nemails;
	struct span *words;       /* normalised words (NFKC where cheap, case-folded) of the
	                           * visible text of all text parts, in order; for Bayes */
	size_t nwords;
	struct mime_anomaly_hit *anomalies;
	size_t nanomalies;
	bool limit_hit;           /* some limit was reached; see anomalies */
};

/* Parses raw (not copied: must outlive the result). Never returns NULL unless
 * the arena budget is exhausted before the top level could be built. */
struct mime_message *mime_parse(struct arena *a, struct span raw, const struct mime_limits *limits);

/* The extract step (core/extract.c): visible text of HTML parts, URLs,
 * e-mail addresses and words. mime_parse() calls it last. */
void mime_extract(struct arena *a, struct mime_message *m, const struct mime_limits *limits);

/* First top-level header of that name (ASCII case-insensitive), or NULL. */
const struct mime_header *mime_header_get(const struct mime_headers *h, const char *name);
size_t mime_header_count(const struct mime_headers *h, const char *name);
bool mime_message_has_anomaly(const struct mime_message *m, enum mime_anomaly a);

#endif
