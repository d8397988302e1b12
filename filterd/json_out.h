/*
 * json_out - a compact JSON writer into a struct buf, for the replies on
 * the scan path: building a jansson tree per reply (an object and a hash
 * table per symbol) and dumping it was 5-8 % of a scan.
 *
 * Output is byte for byte what jansson's json_dumps(JSON_COMPACT |
 * JSON_REAL_PRECISION(9)) gives for the same values, which the replies
 * had before: strings escaped as jansson does (", \, \b \f \n \r \t, other
 * bytes below 0x20 as \u00XX, UTF-8 as is), reals as "%.9g" with ".0"
 * added to whole numbers and the exponent without '+' or leading zeros.
 * A string that is not valid UTF-8 is left out with its key, as
 * json_string() refused it; callers write each key once.
 */
#ifndef FILTERD_JSON_OUT_H
#define FILTERD_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "fcore/buf.h"

#define JSON_OUT_MAX_DEPTH 16

struct json_out {
	struct buf *b;
	unsigned depth;
	bool need_comma[JSON_OUT_MAX_DEPTH];
};

void jo_init(struct json_out *j, struct buf *b);
void jo_obj_begin(struct json_out *j);
void jo_obj_end(struct json_out *j);
void jo_arr_begin(struct json_out *j);
void jo_arr_end(struct json_out *j);
/* Object members: the key, then exactly one value or container. */
void jo_key(struct json_out *j, const char *key);
/* Values (array elements, or after jo_key). */
void jo_str(struct json_out *j, const char *s);
void jo_real(struct json_out *j, double v);
void jo_int(struct json_out *j, long long v);
void jo_bool(struct json_out *j, bool v);
/* Members whose value is a string: nothing at all when s is not UTF-8. */
void jo_member_str(struct json_out *j, const char *key, const char *s);
bool jo_utf8_valid(const char *s);

#endif
