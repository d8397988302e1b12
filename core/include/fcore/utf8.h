/*
 * utf8 - strict UTF-8 validation: overlong forms, surrogates and code
 * points past U+10FFFF are refused (what JSON writers and the config
 * reader both need).
 */
#ifndef FCORE_UTF8_H
#define FCORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "fcore/buf.h"

/* True when s is valid UTF-8; else false and, when bad_r is not NULL, the
 * offset of the first invalid sequence. */
bool utf8_valid(struct span s, size_t *bad_r);

#endif
