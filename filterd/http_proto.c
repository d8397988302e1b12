#include "http_proto.h"

#include <string.h>
#include <strings.h>

#include "fcore/ascii.h"
#include "fcore/arena.h"

size_t
http_head_end(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Next line without its terminator; advances *pos past it. */
static bool
next_line(struct span head, size_t *pos, struct span *line_r)
{
	if (*pos >= head.len)
		return false;
	const uint8_t *start = head.p + *pos;
	const uint8_t *nl = memchr(start, '\n', head.len - *pos);
	size_t len = nl ? (size_t)(nl - start) : head.len - *pos;
	*pos += len + (nl ? 1 : 0);
	if (len > 0 && start[len - 1] == '\r')
		len--;
	*line_r = span_make(start, len);
	return true;
}

static bool
is_token_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static enum http_status
parse_request_line(struct span line, struct http_request *req)
{
	ptrdiff_t sp1 = span_find_byte(line, ' ');
	if (sp1 <= 0)
		return HTTP_ERR_SYNTAX;
	req->method = span_make(line.p, (size_t)sp1);
	for (size_t i = 0; i < req->method.len; i++)
		if (!is_token_char(req->method.p[i]))
			return HTTP_ERR_SYNTAX;
	struct span rest = span_sub(line, (size_t)sp1 + 1, line.len);
	ptrdiff_t sp2 = span_find_byte(rest, ' ');
	if (sp2 <= 0)
		return HTTP_ERR_SYNTAX;
	req->target = span_make(rest.p, (size_t)sp2);
	struct span version = span_sub(rest, (size_t)sp2 + 1, rest.len);
	if (version.len != 8 || memcmp(version.p, "HTTP/1.", 7) != 0)
		return version.len >= 5 && memcmp(version.p, "HTTP/", 5) == 0 ? HTTP_ERR_VERSION
		                                                              : HTTP_ERR_SYNTAX;
	if (version.p[7] != '0' && version.p[7] != '1')
		return HTTP_ERR_VERSION;
	req->version_minor = version.p[7] - '0';
	for (size_t i = 0; i < req->target.len; i++)
		if (req->target.p[i] <= 0x20 || req->target.p[i] == 0x7f)
			return HTTP_ERR_SYNTAX;
	ptrdiff_t q = span_find_byte(req->target, '?');
	if (q >= 0) {
		req->path = span_make(req->target.p, (size_t)q);
		req->query = span_sub(req->target, (size_t)q + 1, req->target.len);
	} else {
		req->path = req->target;
		req->query = span_make(NULL, 0);
	}
	return HTTP_OK;
}

static enum http_status
parse_content_length(struct span v, struct http_request *req)
{
	uint64_t n = 0;
	if (v.len == 0 || v.len > 19)
		return HTTP_ERR_LENGTH;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return HTTP_ERR_LENGTH;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (req->has_length && req->content_length != n)
		return HTTP_ERR_LENGTH;
	req->has_length = true;
	req->content_length = n;
	return HTTP_OK;
}

static enum http_status
add_header(struct arena *a, struct http_request *req, struct span line, size_t *cap)
{
	ptrdiff_t colon = span_find_byte(line, ':');
	if (colon <= 0)
		return HTTP_ERR_SYNTAX;
	struct span name = span_make(line.p, (size_t)colon);
	for (size_t i = 0; i < name.len; i++)
		if (!is_token_char(name.p[i]))
			return HTTP_ERR_SYNTAX;
	if (req->nheaders >= HTTP_MAX_HEADERS)
		return HTTP_ERR_TOO_MANY;
	if (req->nheaders == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct http_header *n = arena_realloc(a, req->headers, *cap * sizeof(*n), ncap * sizeof(*n));
		if (n == NULL)
			return HTTP_ERR_TOO_MANY;
		req->headers = n;
		*cap = ncap;
	}
	struct http_header *h = &req->headers[req->nheaders++];
	h->name = name;
	h->value = span_trim(span_sub(line, (size_t)colon + 1, line.len));
	if (span_caseeq_cstr(name, "Content-Length"))
		return parse_content_length(h->value, req);
	if (span_caseeq_cstr(name, "Transfer-Encoding")) {
		if (span_caseeq_cstr(h->value, "chunked"))
			req->chunked = true;
		else if (!span_caseeq_cstr(h->value, "identity"))
			return HTTP_ERR_ENCODING;
	}
	return HTTP_OK;
}

enum http_status
http_parse_head(struct arena *a, struct span head, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	size_t pos = 0, cap = 0;
	struct span line;
	/* RFC 9112 2.2: ignore at least one empty line before the request line. */
	do {
		if (!next_line(head, &pos, &line))
			return HTTP_ERR_SYNTAX;
	} while (line.len == 0);
	enum http_status st = parse_request_line(line, req);
	if (st != HTTP_OK)
		return st;
	while (next_line(head, &pos, &line) && line.len > 0) {
		if (line.p[0] == ' ' || line.p[0] == '\t')
			return HTTP_ERR_SYNTAX; /* obsolete folding: refused as RFC 9112 allows */
		st = add_header(a, req, line, &cap);
		if (st != HTTP_OK)
			return st;
	}
	if (req->chunked)
		req->has_length = false; /* RFC 9112 6.3: chunked wins over Content-Length */
	return HTTP_OK;
}

const struct http_header *
http_request_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (span_caseeq_cstr(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LINE, CH_DONE };

void
http_chunked_init(struct http_chunked *c, uint64_t limit)
{
	memset(c, 0, sizeof(*c));
	c->limit = limit;
}


static enum http_status
chunk_size_byte(struct http_chunked *c, uint8_t ch)
{
	int v = ascii_hexval(ch);
	if (v >= 0) {
		if (++c->size_digits > 15)
			return HTTP_ERR_LENGTH;
		c->remaining = c->remaining * 16 + (uint64_t)v;
		return HTTP_NEED_MORE;
	}
	if (c->size_digits == 0)
		return HTTP_ERR_SYNTAX;
	if (ch == ';' || ch == ' ' || ch == '\t')
		c->state = CH_EXT;
	else if (ch == '\r')
		c->state = CH_SIZE_LF;
	else if (ch == '\n')
		c->state = c->remaining ? CH_DATA : CH_TRAILER;
	else
		return HTTP_ERR_SYNTAX;
	if (c->remaining > c->limit || c->total > c->limit - c->remaining)
		return HTTP_ERR_LENGTH;
	return HTTP_NEED_MORE;
}

enum http_status
http_chunked_feed(struct http_chunked *c, struct span in, struct buf *out, size_t *used_r)
{
	size_t i = 0;
	enum http_status st = HTTP_NEED_MORE;
	while (i < in.len && c->state != CH_DONE && st == HTTP_NEED_MORE) {
		uint8_t ch = in.p[i];
		switch (c->state) {
		case CH_SIZE:
			st = chunk_size_byte(c, ch);
			i++;
			break;
		case CH_EXT:
			if (ch == '\n')
				c->state = c->remaining ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				st = HTTP_ERR_SYNTAX;
			c->state = c->remaining ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_DATA: {
			size_t n = in.len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (!buf_append(out, in.p + i, n))
				st = HTTP_ERR_LENGTH;
			i += n;
			c->remaining -= n;
			c->total += n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch == '\r') {
				c->state = CH_DATA_LF;
			} else if (ch == '\n') {
				c->state = CH_SIZE;
				c->size_digits = 0;
			} else {
				st = HTTP_ERR_SYNTAX;
			}
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				st = HTTP_ERR_SYNTAX;
			c->state = CH_SIZE;
			c->size_digits = 0;
			i++;
			break;
		case CH_TRAILER:
			/* An empty line ends the message; anything else is a trailer field. */
			if (ch == '\n')
				c->state = CH_DONE;
			else if (ch != '\r')
				c->state = CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				c->state = CH_TRAILER;
			i++;
			break;
		}
	}
	*used_r = i;
	if (st != HTTP_NEED_MORE)
		return st;
	return c->state == CH_DONE ? HTTP_OK : HTTP_NEED_MORE;
}

char *
http_url_decode(struct arena *a, struct span src, bool plus_is_space)
{
	char *out = arena_alloc(a, src.len + 1);
	size_t o = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < src.len; i++) {
		uint8_t ch = src.p[i];
		if (ch == '%' && i + 2 < src.len && ascii_hexval(src.p[i + 1]) >= 0 && ascii_hexval(src.p[i + 2]) >= 0) {
			ch = (uint8_t)(ascii_hexval(src.p[i + 1]) * 16 + ascii_hexval(src.p[i + 2]));
			i += 2;
		} else if (ch == '+' && plus_is_space) {
			ch = ' ';
		}
		out[o++] = ch == '\0' ? ' ' : (char)ch;
	}
	out[o] = '\0';
	return out;
}
