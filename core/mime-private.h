/*
 * mime-private.h - shared by core/mime_*.c and charset.c only.
 *
 * The parser keeps one struct mime_ctx per mime_parse() call: the arena, the
 * limits, and the growing arrays (parts, anomalies) that end up in
 * struct mime_message. Helpers that only transform bytes take an arena and
 * spans and know nothing of the context.
 */
#ifndef FCORE_MIME_PRIVATE_H
#define FCORE_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fcore/arena.h"
#include "fcore/buf.h"
#include "fcore/mime.h"

struct mime_ctx {
	struct arena *a;
	const struct mime_limits *lim;
	struct mime_message *m;
	size_t parts_cap;
	size_t anom_cap;
	uint64_t anom_seen[(MIME_ANOMALY_COUNT + 63) / 64]; /* per message, for once-only kinds */
};

/* mime_parse.c */
void mime_anomaly_add(struct mime_ctx *c, enum mime_anomaly kind, const char *detail, int part);
void mime_anomaly_once(struct mime_ctx *c, enum mime_anomaly kind, const char *detail, int part);

/* mime_fields.c: From/To/..., Received, Subject, Message-ID, Date and the
 * message-level anomalies, from parts[0]'s headers. */
void mime_message_fields(struct mime_ctx *c);

/* mime_hdr.c: one header block. Returns the bytes consumed, the blank line
 * included. *broken_r is set when a line that is not a header ended the block
 * early. Headers past max_header_lines are consumed but not stored. */
size_t mime_hdr_block(struct mime_ctx *c, struct span raw, struct mime_headers *h, int part);
/* Unfolded raw value (CR/LF removed, NUL -> space, trimmed), arena copy. */
char *mime_hdr_unfold(struct arena *a, struct span raw, size_t *len_r);
/* Line scanning that understands CRLF, LF and bare CR. Returns the length of
 * the line content starting at pos and sets *next_r to the start of the next
 * line (== s.len at the end). */
size_t mime_line(struct span s, size_t pos, size_t *next_r);

/* mime_rfc2047.c: decodes encoded words in an unfolded value and makes the
 * result valid UTF-8 (raw 8-bit text is converted). Adds MIME_HDR_* flags. */
char *mime_rfc2047_decode(struct arena *a, const char *s, size_t len, size_t *len_r, uint32_t *flags);

/* mime_rfc2231.c: Content-Type / Content-Disposition values. */
struct mime_ctval {
	struct span token;   /* "text/plain" or "attachment", trimmed */
	struct mime_param *params;
	size_t nparams;
	bool broken;         /* syntax was repaired */
};
void mime_ctval_parse(struct arena *a, const char *v, size_t len, struct mime_ctval *out);
const char *mime_param_get(const struct mime_param *p, size_t n, const char *name);

/* mime_addr.c: address list from an unfolded (not yet 2047-decoded) value. */
void mime_addr_parse(struct arena *a, const char *v, size_t len, struct mime_addr_list *out);

/* mime_received.c */
void mime_received_parse(struct arena *a, const char *v, size_t len, struct mime_received *r);

/* mime_date.c: RFC 5322 date and common broken forms. */
bool mime_date_parse(const char *s, size_t len, time_t *t_r);
/* Same; *odd_r is set when the date needed a repair beyond RFC 5322's
 * obsolete syntax (e.g. the Y2K year "0102"). */
bool mime_date_parse_ex(const char *s, size_t len, time_t *t_r, bool *odd_r);

/* mime_decode.c: transfer decoders. *bad_r is set on malformed input; output
 * is always produced from what could be decoded. */
struct span mime_decode_base64(struct arena *a, struct span in, bool *bad_r);
struct span mime_decode_qp(struct arena *a, struct span in, bool *bad_r);
/* uuencode: body with a "begin mode name" line; *name_r gets the name or NULL. */
struct span mime_decode_uu(struct arena *a, struct span in, const char **name_r, bool *bad_r);
enum mime_cte mime_cte_parse(const char *v, size_t len);
const char *mime_cte_name(enum mime_cte cte);

/* charset.c: bytes in charset cs (NULL = unknown) to valid UTF-8.
 * *used_r names the charset actually used; flags gets MIME_PART_CHARSET_*.
 * Returns false only when the arena is exhausted. */
bool charset_to_utf8(struct arena *a, struct span in, const char *cs, struct span *out,
    const char **used_r, uint32_t *flags);
/* Conversion of a short header string in a named charset; NULL when the
 * charset is unknown to iconv. Invalid sequences become U+FFFD (*bad_r). */
char *charset_convert(struct arena *a, struct span in, const char *cs, size_t *len_r, bool *bad_r);
bool charset_is_utf8(struct span s);
/* Text without a usable label: valid UTF-8 is kept, else uchardet's guess
 * (windows-1252 when there is too little 8-bit text to guess from). */
bool charset_guess_utf8(struct arena *a, struct span in, struct span *out, const char **used_r,
    uint32_t *flags);
bool charset_is_ascii(struct span s);
/* Copies s replacing invalid UTF-8 with U+FFFD; counts replacements. */
struct span charset_utf8_repair(struct arena *a, struct span s, size_t *nbad_r);

/* mime_attach.c */
void mime_attach_check(struct mime_ctx *c, struct mime_part *p);
const char *mime_magic_type(const uint8_t *p, size_t len);

/* small shared helpers (mime_hdr.c) */
char *mime_lower_dup(struct arena *a, const void *p, size_t len);
static inline bool
mime_is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

#endif
