/*
 * dns_name - DNS block list queries without the network: the query name of
 * an address or a domain in a zone (RFC 5782 §2, protocols.md 6.3) and the
 * mapping of an answer to the symbols of a zone (protocols.md 6.4).
 *
 * Everything here is pure: the RBL check (rbl.c) sends what these build and
 * hands back what the resolver answered.
 */
#ifndef FILTERD_DNS_NAME_H
#define FILTERD_DNS_NAME_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "fcore/cfg.h"

/* 253 bytes of name, as RFC 1035 allows, plus the terminator. */
#define DNS_NAME_MAX 254

/* Parses a textual IPv4 or IPv6 address; v4 (or v4-mapped v6) gives
 * *v4_r = true and the address as v4-mapped in *a_r. */
bool dns_name_parse_ip(const char *text, struct in6_addr *a_r, bool *v4_r);

/*
 * Query name of an address: IPv4 octets reversed ("4.3.2.1.zone"), IPv6 as
 * 32 reversed nibbles. Writes a NUL-terminated name to out and returns its
 * length, or 0 if it would not fit DNS_NAME_MAX or outsz.
 */
size_t dns_name_ip(char *out, size_t outsz, const struct in6_addr *a, bool v4, const char *zone);

/*
 * Query name of a domain: "domain.zone". The domain comes from mail (URLs,
 * addresses, HELO), so it is checked: letters, digits, '-' and '_' in labels
 * of 1..63 bytes; one trailing dot is dropped. Returns the length, or 0 when
 * the domain is unusable or the name too long.
 */
size_t dns_name_domain(char *out, size_t outsz, struct span domain, const char *zone);

/*
 * Whether an answer (host byte order) is a listing: inside 127.0.0.0/8 and
 * not 127.255.255.0/24, which Spamhaus and others use to say "query refused".
 */
bool dns_answer_is_listing(uint32_t addr);
bool dns_answer_is_refusal(uint32_t addr);

/*
 * The code symbols of zone z that answer addr (host byte order) maps to:
 * returncodes compare the dotted address with the configured value, exactly
 * or, when the value holds '%', as an anchored Lua-style pattern;
 * returnbits fire when addr & bits == bits. Up to max symbols go to syms_r;
 * returns how many matched (may be more than max).
 */
size_t dns_answer_map(const struct cfg_rbl_zone *z, uint32_t addr, const char **syms_r, size_t max);

/* Anchored Lua-style pattern match of text (classes %d %a %w %x %s %p and
 * %<punct>, '.', sets [..], quantifiers * + - ?). Exposed for tests. */
bool dns_pattern_match(const char *pattern, const char *text);

#endif
