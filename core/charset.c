/*
 * charset.c - any declared (or guessed) charset to UTF-8.
 *
 * iconv does the conversion, uchardet the guessing when the declaration is
 * missing, unknown to iconv, or plainly wrong (8-bit bytes under us-ascii,
 * invalid UTF-8 under utf-8). Invalid input sequences become U+FFFD and are
 * counted, never dropped silently.
 *
 * iconv descriptors and the uchardet handle are cached per thread: opening
 * them costs far more than a typical conversion, and neither may be shared
 * between threads. They live for the life of the thread (workers are
 * long-lived), so no arena destructor is involved.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

#include "mime-private.h"

#define ICONV_CACHE 8
#define DETECT_MAX (64 * 1024) /* uchardet's verdict is stable long before this */

struct iconv_slot {
	char name[40];
	iconv_t cd;
};

static _Thread_local struct iconv_slot icache[ICONV_CACHE];
static _Thread_local unsigned icache_next;
static _Thread_local uchardet_t detector;

static const uint8_t utf8_repl[3] = { 0xef, 0xbf, 0xbd };

/* Length of the valid UTF-8 sequence at p, 0 if invalid. */
static size_t
utf8_seq(const uint8_t *p, size_t rest)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return rest >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (rest < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (rest < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

bool
charset_is_ascii(struct span s)
{
	size_t i = 0;
	/* eight bytes at a time: this runs over every header and text body */
	for (; i + 8 <= s.len; i += 8) {
		uint64_t w;
		memcpy(&w, s.p + i, 8);
		if (w & 0x8080808080808080ULL)
			return false;
	}
	for (; i < s.len; i++)
		if (s.p[i] >= 0x80)
			return false;
	return true;
}

bool
charset_is_utf8(struct span s)
{
	size_t i = 0;
	while (i < s.len) {
		if (s.p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq(s.p + i, s.len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

struct span
charset_utf8_repair(struct arena *a, struct span s, size_t *nbad_r)
{
	uint8_t *out = arena_alloc(a, s.len * 3 + 1);
	size_t o = 0, i = 0;

	*nbad_r = 0;
	if (out == NULL)
		return span_make(NULL, 0);
	while (i < s.len) {
		size_t n = utf8_seq(s.p + i, s.len - i);
		if (n == 0) {
			memcpy(out + o, utf8_repl, 3);
			o += 3;
			i++;
			(*nbad_r)++;
			continue;
		}
		memcpy(out + o, s.p + i, n);
		o += n;
		i += n;
	}
	out[o] = 0;
	return span_make(out, o);
}

/* Declared names that iconv does not know, or knows as a poorer subset. */
static const char *
charset_alias(const char *cs)
{
	static const struct {
		const char *from, *to;
	} tab[] = {
		{ "utf8", "UTF-8" },
		{ "iso-8859-1", "WINDOWS-1252" }, /* what senders mean: C1 range is cp1252 */
		{ "iso8859-1", "WINDOWS-1252" },
		{ "latin1", "WINDOWS-1252" },
		{ "us-ascii", "WINDOWS-1252" },
		{ "ascii", "WINDOWS-1252" },
		{ "gb2312", "GB18030" },
		{ "gbk", "GB18030" },
		{ "x-gbk", "GB18030" },
		{ "ks_c_5601-1987", "CP949" },
		{ "euc-kr", "CP949" },
		{ "big5", "BIG5-HKSCS" },
		{ "shift_jis", "CP932" },
		{ "x-sjis", "CP932" },
		{ "sjis", "CP932" },
		{ "windows-874", "CP874" },
		{ "x-mac-roman", "MACINTOSH" },
		{ "iso-2022-jp", "ISO-2022-JP-3" },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(cs, tab[i].from) == 0)
			return tab[i].to;
	return cs;
}

/* Cached descriptor converting from cs to UTF-8, or (iconv_t)-1. */
static iconv_t
iconv_get(const char *cs)
{
	const char *name = charset_alias(cs);
	size_t nlen = strlen(name);

	if (nlen == 0 || nlen >= sizeof(icache[0].name))
		return (iconv_t)-1;
	for (unsigned i = 0; i < ICONV_CACHE; i++) {
		if (icache[i].cd != NULL && strcasecmp(icache[i].name, name) == 0) {
			iconv(icache[i].cd, NULL, NULL, NULL, NULL);
			return icache[i].cd;
		}
	}
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return cd;
	struct iconv_slot *s = &icache[icache_next++ % ICONV_CACHE];
	if (s->cd != NULL)
		iconv_close(s->cd);
	memcpy(s->name, name, nlen + 1);
	s->cd = cd;
	return cd;
}

static bool
grow(struct arena *a, char **ob, size_t *cap)
{
	char *nb = arena_realloc(a, *ob, *cap, *cap * 2);
	if (nb == NULL)
		return false;
	*ob = nb;
	*cap *= 2;
	return true;
}

/* Output room kept free for a U+FFFD and the terminator after each call. */
#define ICONV_SLACK 8

static bool
run_iconv(struct arena *a, iconv_t cd, struct span in, struct span *out, size_t *nbad_r)
{
	size_t cap = in.len * 4 + 32;
	char *ob = arena_alloc(a, cap);
	char *ip = (char *)(uintptr_t)in.p;
	size_t il = in.len, olen = 0;

	*nbad_r = 0;
	if (ob == NULL)
		return false;
	for (;;) {
		if (cap - olen < 2 * ICONV_SLACK && !grow(a, &ob, &cap))
			return false;
		char *op = ob + olen;
		size_t ol = cap - olen - ICONV_SLACK;
		size_t r = il > 0 ? iconv(cd, &ip, &il, &op, &ol) : iconv(cd, NULL, NULL, &op, &ol);
		olen = (size_t)(op - ob);
		if (r != (size_t)-1) {
			if (il == 0 && ip != NULL) {
				ip = NULL; /* one more round flushes shift states (ISO-2022) */
				continue;
			}
			break;
		}
		if (errno == E2BIG) {
			if (!grow(a, &ob, &cap))
				return false;
			continue;
		}
		if (il == 0)
			break;
		/* EILSEQ, or EINVAL (truncated at the end): replace one byte */
		memcpy(ob + olen, utf8_repl, 3);
		olen += 3;
		(*nbad_r)++;
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	ob[olen] = 0;
	*out = span_make(ob, olen);
	return true;
}

char *
charset_convert(struct arena *a, struct span in, const char *cs, size_t *len_r, bool *bad_r)
{
	struct span out;
	size_t nbad;

	*bad_r = false;
	if (strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0) {
		out = charset_utf8_repair(a, in, &nbad);
	} else {
		iconv_t cd = iconv_get(cs);
		if (cd == (iconv_t)-1)
			return NULL;
		if (!run_iconv(a, cd, in, &out, &nbad))
			return NULL;
	}
	if (out.p == NULL)
		return NULL;
	*bad_r = nbad > 0;
	*len_r = out.len;
	return (char *)(uintptr_t)out.p;
}

/* uchardet's guess, or NULL. */
static const char *
charset_detect(struct arena *a, struct span in)
{
	if (detector == NULL && (detector = uchardet_new()) == NULL)
		return NULL;
	uchardet_reset(detector);
	if (uchardet_handle_data(detector, (const char *)in.p,
	        in.len > DETECT_MAX ? DETECT_MAX : in.len) != 0)
		return NULL;
	uchardet_data_end(detector);
	const char *cs = uchardet_get_charset(detector);
	if (cs == NULL || *cs == '\0')
		return NULL;
	return mime_lower_dup(a, cs, strlen(cs));
}

static bool
is_utf8_name(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0;
}

static bool
is_ascii_name(const char *cs)
{
	return strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
	    strcasecmp(cs, "ansi_x3.4-1968") == 0;
}

static size_t
count_high(struct span s)
{
	size_t n = 0;
	for (size_t i = 0; i < s.len && n < 4; i++)
		n += s.p[i] >= 0x80;
	return n;
}

/* Undeclared or wrongly declared 8-bit text: guess, then convert. */
bool
charset_guess_utf8(struct arena *a, struct span in, struct span *out, const char **used_r, uint32_t *flags)
{
	size_t nbad;
	const char *cs;

	*flags |= MIME_PART_CHARSET_DETECTED;
	if (charset_is_utf8(in)) {
		*out = in;
		*used_r = "utf-8";
		return true;
	}
	/* uchardet guesses wildly on a handful of 8-bit bytes; Western
	 * text is the better bet there */
	cs = count_high(in) >= 4 ? charset_detect(a, in) : NULL;
	if (cs == NULL || is_utf8_name(cs) || is_ascii_name(cs))
		cs = "windows-1252";
	iconv_t cd = iconv_get(cs);
	if (cd == (iconv_t)-1) {
		cs = "windows-1252";
		cd = iconv_get(cs);
	}
	if (cd == (iconv_t)-1 || !run_iconv(a, cd, in, out, &nbad))
		return false;
	if (nbad > 0)
		*flags |= MIME_PART_CHARSET_INVALID;
	*used_r = cs;
	return true;
}

bool
charset_to_utf8(struct arena *a, struct span in, const char *cs, struct span *out,
    const char **used_r, uint32_t *flags)
{
	size_t nbad;

	if (charset_is_ascii(in)) {
		/* Pure ASCII reads the same in every charset we accept except
		 * the 7-bit stateful/UTF-16 ones, which iconv handles below. */
		if (cs == NULL || is_ascii_name(cs) || is_utf8_name(cs) ||
		    strncasecmp(cs, "iso-8859", 8) == 0 || strncasecmp(cs, "windows-", 8) == 0) {
			*out = in;
			*used_r = cs ? cs : "us-ascii";
			return true;
		}
	}
	if (cs == NULL || is_ascii_name(cs))
		return charset_guess_utf8(a, in, out, used_r, flags);
	if (is_utf8_name(cs)) {
		if (charset_is_utf8(in)) {
			*out = in;
			*used_r = "utf-8";
			return true;
		}
		*out = charset_utf8_repair(a, in, &nbad);
		if (out->p == NULL)
			return false;
		*flags |= MIME_PART_CHARSET_INVALID;
		*used_r = "utf-8";
		return true;
	}
	/* 8-bit bytes under a 7-bit charset: the label is wrong */
	if (!charset_is_ascii(in) && (strncasecmp(cs, "iso-2022", 8) == 0 || strcasecmp(cs, "utf-7") == 0))
		return charset_guess_utf8(a, in, out, used_r, flags);
	iconv_t cd = iconv_get(cs);
	if (cd == (iconv_t)-1)
		return charset_guess_utf8(a, in, out, used_r, flags);
	if (!run_iconv(a, cd, in, out, &nbad))
		return false;
	*used_r = cs;
	if (nbad > 0) {
		/* a guess that converts cleanly beats a label that does not */
		struct span g;
		const char *gused;
		uint32_t gfl = 0;
		if (charset_guess_utf8(a, in, &g, &gused, &gfl) && !(gfl & MIME_PART_CHARSET_INVALID) &&
		    strcasecmp(gused, "windows-1252") != 0) {
			*out = g;
			*used_r = gused;
			*flags |= MIME_PART_CHARSET_DETECTED;
			return true;
		}
		*flags |= MIME_PART_CHARSET_INVALID;
	}
	return true;
}
