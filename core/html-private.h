/*
 * html-private.h - shared by html.c and html_entities.c only.
 */
#ifndef FCORE_HTML_PRIVATE_H
#define FCORE_HTML_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

struct html_entity {
	const char *name;  /* without '&' and ';' */
	uint32_t cp;
	uint32_t cp2;      /* a few references expand to two code points; else 0 */
	uint8_t legacy;    /* also recognised without the trailing ';' */
};

extern const struct html_entity html_entities[];
extern const size_t html_nentities;

#endif
