/*
 * extract - the "extract" step of design.md over a parsed message.
 *
 * mime_extract() is called by mime_parse() once the part tree and each text
 * part's UTF-8 body (part->utf8) exist. For every text part it:
 *   - renders text/html to visible text into part->text (html.h) and sets
 *     MIME_PART_INVISIBLE_TEXT when hidden text was seen; text/plain keeps
 *     part->text (= part->utf8);
 *   - collects URLs from HTML links (a, area, img, form; base applied) and
 *     from the visible text into m->urls: normalised (url.h), exact
 *     duplicates merged, at most limits->max_urls (then MIME_A_LIMIT_URLS);
 *     an <a> whose visible text names another registered domain than its
 *     href gets URL_PHISHED and display_host;
 *   - collects e-mail addresses (text and mailto: links) into m->emails,
 *     domain lower-cased, deduplicated;
 *   - appends the normalised words of part->text to m->words (words.h).
 * Everything is allocated in a; nothing fails loudly: when the arena budget
 * runs out the lists are simply shorter and m->limit_hit is set.
 */
#ifndef FCORE_EXTRACT_H
#define FCORE_EXTRACT_H

#include "fcore/mime.h"

struct arena;

void mime_extract(struct arena *a, struct mime_message *m, const struct mime_limits *l);

#endif
