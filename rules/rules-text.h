/* rules-text.h - the texts each scope scans (rules_text.c). */
#ifndef RULES_TEXT_H
#define RULES_TEXT_H

#include <stdbool.h>

#include "fcore/buf.h"
#include "fcore/xalloc.h"

struct msg;
struct mime_part;

struct rules_lines {
	struct span *v;
	size_t n, cap;
};

/* false when the message has no such header (text left empty). */
bool rules_header_text(const struct msg *msg, const char *hdr, unsigned flags, struct buf *out);
bool rules_part_header_text(const struct mime_part *p, const char *hdr, unsigned flags,
    struct buf *out);
/* Fills text and lines (spans into text). */
void rules_body_lines(const struct msg *msg, size_t part_max, struct buf *text,
    struct rules_lines *lines);
/* Spans into the message's decoded parts. */
void rules_rawbody_chunks(const struct msg *msg, size_t part_max, struct rules_lines *lines);
/* uri: SpamAssassin's URI list (URLs normalised and as found, redirect
 * targets, mailto: addresses); lines are spans into text. */
void rules_uri_texts(const struct msg *msg, struct buf *text, struct rules_lines *lines);

#endif
