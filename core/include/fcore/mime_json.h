/*
 * mime_json - the parse tree of a message as JSON (`filterd mime FILE`).
 *
 * Keys come out in a fixed order so that the dump can be diffed (golden
 * tests). Every string is valid UTF-8: bytes that are not are replaced with
 * U+FFFD. The caller owns the result (json_decref).
 */
#ifndef FCORE_MIME_JSON_H
#define FCORE_MIME_JSON_H

#include <jansson.h>

#include "fcore/mime.h"

json_t *mime_to_json(const struct mime_message *m);

#endif
