/*
 * html - HTML to visible text, links and hidden-text evidence.
 *
 * html_parse() runs a tolerant, streaming tokenizer over HTML source (bytes,
 * normally UTF-8) without building a tree and without recursion: nesting is
 * tracked in a fixed-size stack, so hostile depth costs nothing. It renders
 * what a mail client would show: script, style, head metadata, title,
 * comments and CDATA are dropped; character references (all HTML5 named ones,
 * decimal and hex) are decoded; block elements become line ("\n") or
 * paragraph ("\n\n") breaks; other whitespace runs collapse to one space.
 *
 * Text inside elements a reader cannot see (display:none, visibility:hidden,
 * opacity:0, the hidden attribute, font-size 0 or 1px, or a literal text
 * colour equal to the literal background colour of the same or an enclosing
 * element) goes to doc->invisible instead of doc->text, and HTML_INVISIBLE is
 * set.
 *
 * Links: a/area href, img src, form action and base href are collected in
 * document order with their attribute value decoded; for a and area the
 * visible text between the start and end tag is kept for phishing checks.
 *
 * All output lives in the arena; spans never point into the source.
 */
#ifndef FCORE_HTML_H
#define FCORE_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"

struct arena;

enum html_link_kind {
	HTML_LINK_A,
	HTML_LINK_AREA,
	HTML_LINK_IMG,
	HTML_LINK_FORM,
};

struct html_link {
	enum html_link_kind kind;
	struct span href;   /* attribute value, references decoded, trimmed; not resolved against base */
	struct span text;   /* visible link text (a only), trimmed; empty if none */
	bool hidden;        /* the element sits inside invisible content */
};

/* Document flags */
#define HTML_INVISIBLE 0x01   /* some non-blank text was hidden */
#define HTML_TRUNCATED 0x02   /* a limit (links, nesting) was hit; rest approximated */
#define HTML_HAS_BASE 0x04

#define HTML_MAX_LINKS 20000  /* beyond the message URL cap (10,000 by default) */

struct html_doc {
	struct span text;       /* visible text, UTF-8 if the source was */
	struct span invisible;  /* hidden text, blanks collapsed, pieces separated by ' ' */
	struct span title;      /* <title> text, collapsed */
	struct span base;       /* first <base href>, empty if none */
	struct html_link *links;
	size_t nlinks;
	uint32_t flags;
};

/*
 * Renders src. Returns 0, or -1 when the arena budget ran out (doc then holds
 * what was rendered so far). Never fails on malformed HTML.
 */
int html_parse(struct arena *a, struct span src, struct html_doc *doc_r);

/* Convenience: only the visible text (html_parse()'s doc.text). */
struct span html_to_text(struct arena *a, struct span src);

/*
 * Decodes character references in s (as in an attribute value when
 * in_attribute: a legacy reference without ';' followed by an alphanumeric or
 * '=' stays literal). The result is in the arena.
 */
struct span html_decode_entities(struct arena *a, struct span s, bool in_attribute);

#endif
