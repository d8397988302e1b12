/*
 * url - finding, normalising and classifying URLs and e-mail addresses.
 *
 * url_parse() turns one raw URL (from text or an HTML attribute) into the
 * normalised struct mime_url of mime.h: lower-case scheme and host, IDN to
 * punycode (libidn2), %-escapes in the host decoded, hex/octal/dword IPv4
 * hosts decoded to dotted decimal (URL_NUMERIC_IP, URL_OBSCURED), userinfo
 * flagged (URL_HAS_USER), default port and fragment dropped, unsafe path
 * bytes %-escaped, and tld set to the registered domain (public suffix plus
 * one label) or the IP.
 *
 * url_find_next() scans plain text for URLs with a scheme (http, https, ftp),
 * "www." names and bare domains under a real public suffix, and for e-mail
 * addresses; it is deliberately conservative about bare domains (see url.c).
 *
 * The public suffix list (url_tld.c) is loaded once per process, lazily, from
 * URL_TLD_DEFAULT_PATH; without it a small built-in list is used.
 */
#ifndef FCORE_URL_H
#define FCORE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "fcore/mime.h"

struct arena;

#define URL_TLD_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"
#define URL_MAX_LEN 16384 /* longer "URLs" are data, not links */

/* ---- public suffix list (url_tld.c) ---- */

/* Loads a list in the publicsuffix.org format, replacing any loaded one.
 * Optional: not thread-safe, call before scanning starts. 0 or -1. */
int url_tld_load(const char *path);

/*
 * Registered domain of host (lower-case ASCII/punycode, no trailing dot): its
 * public suffix plus the label before it, as a span into host. Empty when
 * host has no label before its suffix. *known_r tells whether the suffix came
 * from an explicit rule rather than the implicit "*" rule (may be NULL).
 */
struct span url_tld_registered(struct span host, bool *known_r);

/* The public suffix of host (explicit or implicit rule), as a span into host. */
struct span url_tld_suffix(struct span host, bool *known_r);

/* ---- URLs and addresses (url.c) ---- */

/* flags: URL_FROM_* and the like to start with. 0, or -1 if raw is not a
 * usable http/https/ftp URL (bad host, other scheme, ...). */
int url_parse(struct arena *a, struct span raw, uint32_t flags, struct mime_url *u_r);

/* ref resolved against base (both raw attribute values) per RFC 3986, enough
 * for HTML links: absolute refs are returned as they are; "//host", "/path",
 * "?q" and relative paths are joined to base. Result in the arena. */
struct span url_resolve(struct arena *a, struct span base, struct span ref);

/* Whether ref carries its own scheme ("http:", "mailto:", ...). */
bool url_has_scheme(struct span ref);

enum url_match_kind {
	URL_MATCH_URL,
	URL_MATCH_EMAIL,
};

struct url_match {
	enum url_match_kind kind;
	struct span raw;  /* slice of the text */
	uint32_t flags;   /* URL_SCHEMELESS for www. and bare domains */
};

/* Finds the next URL or address in text at or after *pos, sets *pos past it.
 * Returns false when there is none. */
bool url_find_next(struct span text, size_t *pos, struct url_match *m_r);

/* Parses local@domain (a raw match, or a mailto: target without "mailto:";
 * %-escapes decoded, "?query" dropped). 0, or -1 if not an address. */
int url_parse_email(struct arena *a, struct span raw, struct mime_email *e_r);

#endif
