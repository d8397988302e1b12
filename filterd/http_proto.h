/*
 * http_proto - HTTP/1.x request codec, pure (no sockets), so it can be
 * fuzzed and unit-tested.
 *
 * The connection layer collects bytes until http_head_end() finds the end of
 * the request head, parses it with http_parse_head(), then collects the body
 * by Content-Length or through the chunked decoder.
 *
 * Lifetimes: spans in struct http_request point into the head bytes handed to
 * http_parse_head(); the caller keeps those bytes alive (they live in the
 * connection arena).
 */
#ifndef FILTERD_HTTP_PROTO_H
#define FILTERD_HTTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"

struct arena;

#define HTTP_MAX_HEADERS 256

struct http_header {
	struct span name;
	struct span value; /* leading and trailing whitespace trimmed */
};

struct http_request {
	struct span method;
	struct span target; /* as sent */
	struct span path;   /* target without query string */
	struct span query;  /* after '?', without it */
	int version_minor;  /* HTTP/1.x */
	struct http_header *headers;
	size_t nheaders;
	bool has_length;
	uint64_t content_length;
	bool chunked;
	bool keep_alive_hint; /* irrelevant: we always close, kept for logging */
};

enum http_status {
	HTTP_OK = 0,
	HTTP_ERR_SYNTAX = -1,     /* 400 */
	HTTP_ERR_VERSION = -2,    /* 505 */
	HTTP_ERR_TOO_MANY = -3,   /* 431: too many header lines */
	HTTP_ERR_LENGTH = -4,     /* 400: bad Content-Length */
	HTTP_ERR_ENCODING = -5,   /* 501: unsupported Transfer-Encoding */
	HTTP_NEED_MORE = 1,
};

/*
 * Length of the head including its blank line if it is complete within
 * data, 0 if more bytes are needed. Accepts CRLF or bare LF line ends.
 */
size_t http_head_end(const uint8_t *data, size_t len);

/* Parses a complete head. Returns HTTP_OK or an HTTP_ERR_* value. */
enum http_status http_parse_head(struct arena *a, struct span head, struct http_request *req);

/* First header of that name (ASCII case-insensitive), NULL if absent. */
const struct http_header *http_request_header(const struct http_request *req, const char *name);

/* Chunked transfer decoding, incremental. */
struct http_chunked {
	int state;
	uint64_t remaining;
	uint64_t total;
	uint64_t limit;   /* body larger than this -> error */
	unsigned size_digits;
};
void http_chunked_init(struct http_chunked *c, uint64_t limit);
/*
 * Consumes input from in, appends decoded bytes to out. *used_r = bytes of
 * in consumed. Returns HTTP_OK when the final chunk and trailer are read,
 * HTTP_NEED_MORE, or HTTP_ERR_SYNTAX / HTTP_ERR_LENGTH (over limit).
 */
enum http_status http_chunked_feed(struct http_chunked *c, struct span in, struct buf *out,
    size_t *used_r);

/* Percent-decodes src into an arena string ('+' as space for queries). */
char *http_url_decode(struct arena *a, struct span src, bool plus_is_space);

#endif
