/*
 * fuzz-mime - libFuzzer target for mime_parse() and the JSON dump.
 *
 * The first input byte picks tight limits half of the time so the limit
 * paths (depth, parts, header lines and size, boundary length) are reached
 * with small inputs too. The arena has a budget so that an allocation
 * failure mid-parse is exercised as well.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fcore/arena.h"
#include "fcore/mime.h"
#include "fcore/mime_json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	struct arena *a;

	mime_limits_default(&lim);
	if (size > 0 && (data[0] & 1)) {
		lim.max_depth = 3;
		lim.max_parts = 8;
		lim.max_header_lines = 8;
		lim.max_header_size = 64;
		lim.max_boundary = 8;
	}
	a = arena_new(size > 0 && (data[0] & 2) ? 4096 : 64u << 20);
	struct mime_message *m = mime_parse(a, span_make(data, size), &lim);
	if (m != NULL) {
		json_t *j = mime_to_json(m);
		char *s = json_dumps(j, 0);
		free(s);
		json_decref(j);
	}
	arena_free(&a);
	return 0;
}
