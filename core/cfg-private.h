/*
 * cfg-private.h - shared by cfg.c, cfg_value.c and cfg_defaults.c only.
 *
 * The scalar converters work on spans because YAML scalars are not
 * NUL-terminated; the public cfg_parse_size()/cfg_parse_duration() wrap them.
 */
#ifndef FCORE_CFG_PRIVATE_H
#define FCORE_CFG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/buf.h"
#include "fcore/cfg.h"

#define CFG_KIB 1024ull
#define CFG_MIB (1024ull * 1024)
#define CFG_GIB (1024ull * 1024 * 1024)

/* Defaults without the derived values (database paths under state_dir). */
struct fconf *cfg_defaults_new(void);
/* Fills what is derived from other keys once the file is applied. */
void cfg_defaults_finalize(struct fconf *c);

/* Decimal digits only, no sign; false on overflow. */
bool cfg_value_uint(struct span s, uint64_t *out_r);
/* Optional '-' then decimal digits. */
bool cfg_value_int(struct span s, int64_t *out_r);
/* Decimal number (sign, fraction, exponent); no hex, inf or nan. */
bool cfg_value_double(struct span s, double *out_r);
/* true/false, yes/no, on/off, any case. */
bool cfg_value_bool(struct span s, bool *out_r);
/* Digits with an optional k/K, m/M or g/G suffix (powers of 1024). */
bool cfg_value_size(struct span s, uint64_t *out_r);
/* Number with an optional ms, s, m, h or d suffix; seconds; not negative. */
bool cfg_value_duration(struct span s, double *out_r);
/* IPv4 or IPv6 address, with an optional /prefix. */
bool cfg_value_is_cidr(struct span s);
/* A dotted IPv4 address. */
bool cfg_value_is_ipv4(struct span s);

/* Valid UTF-8; on false, *bad_r is the offset of the first bad byte. */

/* Human forms for range messages: 1024 -> "1k", 600 -> "10m". */
void cfg_value_size_str(uint64_t v, char *out, size_t outlen);
void cfg_value_duration_str(double v, char *out, size_t outlen);

#endif
