/* libFuzzer target: HTTP request head parser and chunked decoder. */
#include <stddef.h>
#include <stdint.h>

#include "fcore/arena.h"
#include "http_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(1u << 24);
	size_t end = http_head_end(data, size);
	struct http_request req;
	if (end > 0 && http_parse_head(a, span_make(data, end), &req) == HTTP_OK) {
		(void)http_request_header(&req, "Content-Length");
		(void)http_url_decode(a, req.query, true);
	}
	struct http_chunked c;
	struct buf out;
	buf_init(&out, a);
	http_chunked_init(&c, 1u << 20);
	size_t used = 0, off = end;
	while (off < size) {
		enum http_status st = http_chunked_feed(&c, span_make(data + off, size - off), &out, &used);
		if (st != HTTP_NEED_MORE || used == 0)
			break;
		off += used;
	}
	arena_free(&a);
	return 0;
}
