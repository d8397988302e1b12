/*
 * url.c - URL and e-mail address parsing, normalisation and discovery.
 *
 * Normal form (what dedupe and rules see): scheme "://" [userinfo "@"] host
 * [":" port] path, where the host is lower-case ASCII (punycode for IDN,
 * dotted decimal for any IPv4 spelling, "[canonical]" for IPv6), the port is
 * dropped when it is the scheme's default, the fragment is dropped, the path
 * is at least "/" and bytes a browser would escape are %-escaped.
 *
 * Discovery in text is conservative, like SpamAssassin's and rspamd's: a
 * scheme URL is taken as written; "www." names and bare domains only when the
 * suffix is a real public suffix and the name is not glued to other word
 * characters. Bare domains must also end in a country code or a common
 * generic TLD that is not a file extension ("setup.py", "notes.md",
 * "archive.zip", "File.directory"). Trailing punctuation that ends a sentence
 * or an unbalanced parenthesis is not part of the URL.
 */
#include "fcore/ascii.h"
#include "fcore/url.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <string.h>

#include "fcore/arena.h"
#include "extract-private.h"

#define HOST_MAX 253
#define LABEL_MAX 63
#define LOCAL_MAX 64





/* ---- scheme ---- */

static const char *const schemes[] = { "http", "https", "ftp" };

static const char *
known_scheme(struct span s)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (span_caseeq_cstr(s, schemes[i]))
			return schemes[i];
	return NULL;
}

/* Length of a "scheme:" prefix (without the colon), or 0. */
static size_t
scheme_len(struct span s)
{
	if (s.len == 0 || !ascii_is_alpha(s.p[0]))
		return 0;
	for (size_t i = 1; i < s.len && i < 32; i++) {
		uint8_t c = s.p[i];
		if (c == ':')
			return i;
		if (!ascii_is_alnum(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return 0;
}

bool
url_has_scheme(struct span ref)
{
	return scheme_len(span_trim(ref)) > 0;
}

/* ---- host ---- */

/* inet_aton()'s forms: 1-4 parts, each decimal, 0x-hex or 0-octal; the last
 * part fills the remaining bytes. Returns false if host is not one. */
static bool
parse_ipv4(const uint8_t *p, size_t n, uint32_t *ip_r)
{
	uint32_t parts[4];
	size_t np = 0, i = 0;
	if (n == 0)
		return false;
	while (i < n) {
		if (np == 4)
			return false;
		unsigned base = 10;
		if (p[i] == '0' && i + 1 < n && (p[i + 1] | 0x20) == 'x') {
			base = 16;
			i += 2;
		} else if (p[i] == '0' && i + 1 < n && p[i + 1] != '.') {
			base = 8;
			i++;
		}
		uint64_t v = 0;
		size_t digits = 0;
		for (; i < n && p[i] != '.'; i++, digits++) {
			int d = ascii_hexval(p[i]);
			if (d < 0 || (unsigned)d >= base)
				return false;
			v = v * base + (unsigned)d;
			if (v > 0xFFFFFFFFu)
				return false;
		}
		if (digits == 0 && base == 10)
			return false; /* empty part: "1..2" */
		parts[np++] = (uint32_t)v;
		if (i < n) {
			i++; /* '.' */
			if (i == n)
				return false;
		}
	}
	uint32_t ip = 0;
	for (size_t k = 0; k + 1 < np; k++) {
		if (parts[k] > 255)
			return false;
		ip |= parts[k] << (24 - 8 * k);
	}
	uint32_t last = parts[np - 1];
	if (np < 4 && last > (0xFFFFFFFFu >> (8 * (np - 1))))
		return false;
	if (np == 4 && last > 255)
		return false;
	*ip_r = ip | last;
	return true;
}

static char *
percent_decode_host(struct arena *a, struct span h, size_t *len_r)
{
	char *o = arena_alloc(a, h.len + 1);
	size_t k = 0;
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < h.len; i++) {
		int hi, lo;
		if (h.p[i] == '%' && i + 2 < h.len && (hi = ascii_hexval(h.p[i + 1])) >= 0 &&
		    (lo = ascii_hexval(h.p[i + 2])) >= 0) {
			o[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			o[k++] = (char)h.p[i];
	}
	o[k] = '\0';
	*len_r = k;
	return o;
}

static bool
host_chars_ok(const char *h, size_t n)
{
	size_t label = 0;
	if (n == 0 || n > HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)h[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!ascii_is_alnum(c) && c != '-' && c != '_')
			return false;
		if (++label > LABEL_MAX)
			return false;
	}
	return label > 0;
}

static int
host_ipv6(struct arena *a, const char *h, size_t n, struct mime_url *u)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof(tmp))
		return -1;
	memcpy(tmp, h + 1, n - 2);
	tmp[n - 2] = '\0';
	if (inet_pton(AF_INET6, tmp, bin) != 1)
		return -1;
	char canon[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, bin, canon, sizeof(canon));
	u->host = arena_printf(a, "[%s]", canon);
	u->tld = u->host;
	u->flags |= URL_NUMERIC_IP;
	return u->host ? 0 : -1;
}

static bool
has_idn_label(const char *h, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if ((i == 0 || h[i - 1] == '.') && strncmp(h + i, "xn--", 4) == 0)
			return true;
	return false;
}

static int
host_idn(struct arena *a, char **h, size_t *n, uint32_t *flags)
{
	char *out = NULL;
	if (idn2_to_ascii_8z(*h, &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK &&
	    idn2_to_ascii_8z(*h, &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL) != IDN2_OK) {
		idn2_free(out);
		return -1;
	}
	*n = strlen(out);
	*h = arena_strndup(a, out, *n);
	idn2_free(out);
	if (*h == NULL)
		return -1; /* arena budget exhausted */
	/* UTS #46 maps fullwidth letters and ideographic dots to plain ASCII:
	 * a non-ASCII spelling of an ASCII name is disguise, not IDN. */
	*flags |= has_idn_label(*h, *n) ? URL_IDN : URL_OBSCURED;
	return 0;
}


/* Normalises the authority's host into u->host and u->tld. */
static int
host_normalise(struct arena *a, struct span raw, struct mime_url *u)
{
	size_t n;
	char *h;
	if (span_find_byte(raw, '%') >= 0) {
		h = percent_decode_host(a, raw, &n);
		u->flags |= URL_OBSCURED;
	} else
		h = arena_strndup(a, raw.p, n = raw.len);
	if (h == NULL || n == 0 || memchr(h, '\0', n) != NULL)
		return -1;
	if (h[0] == '[')
		return host_ipv6(a, h, n, u);
	bool ascii = true;
	for (size_t i = 0; i < n; i++) {
		if ((uint8_t)h[i] >= 0x80)
			ascii = false;
		h[i] = (char)ascii_lower((uint8_t)h[i]);
	}
	if (!ascii && host_idn(a, &h, &n, &u->flags) != 0)
		return -1;
	while (n > 0 && h[n - 1] == '.')
		h[--n] = '\0';
	uint32_t ip;
	const char *last = memrchr(h, '.', n);
	last = last ? last + 1 : h;
	if (n > 0 && ascii_is_digit((uint8_t)*last)) {
		if (!parse_ipv4((const uint8_t *)h, n, &ip))
			return -1;
		char dotted[16];
		snprintf(dotted, sizeof(dotted), "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
		if (strcmp(dotted, h) != 0)
			u->flags |= URL_OBSCURED;
		u->flags |= URL_NUMERIC_IP;
		u->host = u->tld = arena_strdup(a, dotted);
		return u->host ? 0 : -1;
	}
	if (!host_chars_ok(h, n))
		return -1;
	if (has_idn_label(h, n))
		u->flags |= URL_IDN;
	u->host = h;
	struct span reg = url_tld_registered(span_make(h, n), NULL);
	u->tld = reg.len ? h + (reg.p - (const uint8_t *)h) : h;
	return 0;
}

/* ---- whole URL ---- */

/* Bytes kept as they are in a path; the rest is %-escaped. */
static bool
path_byte_ok(uint8_t c)
{
	return c > 0x20 && c < 0x7F && c != '"' && c != '<' && c != '>' && c != '`' &&
	    c != '{' && c != '}' && c != '|' && c != '^';
}

static bool
append_escaped(struct buf *b, struct span s, bool path)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (path && c == '\\')
			c = '/';
		if (path_byte_ok(c)) {
			buf_append_byte(b, c);
		} else {
			uint8_t e[3] = { '%', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15] };
			buf_append(b, e, 3);
		}
	}
	return !b->failed;
}

/* Copy of raw without tabs and newlines (browsers drop them inside URLs),
 * trimmed of blanks and controls at both ends. */
static struct span
url_clean(struct arena *a, struct span raw)
{
	while (raw.len > 0 && raw.p[0] <= 0x20)
		raw = span_sub(raw, 1, raw.len - 1);
	while (raw.len > 0 && raw.p[raw.len - 1] <= 0x20)
		raw.len--;
	if (memchr(raw.p, '\n', raw.len) == NULL && memchr(raw.p, '\r', raw.len) == NULL &&
	    memchr(raw.p, '\t', raw.len) == NULL)
		return raw;
	uint8_t *o = arena_alloc(a, raw.len ? raw.len : 1);
	size_t k = 0;
	if (o == NULL)
		return span_make(NULL, 0);
	for (size_t i = 0; i < raw.len; i++)
		if (raw.p[i] != '\n' && raw.p[i] != '\r' && raw.p[i] != '\t')
			o[k++] = raw.p[i];
	return span_make(o, k);
}

static unsigned
default_port(const char *scheme)
{
	if (strcmp(scheme, "http") == 0)
		return 80;
	if (strcmp(scheme, "https") == 0)
		return 443;
	return 21;
}

/* Splits "user@host:port" into its pieces; returns -1 on a bad port. */
static int
split_authority(struct span auth, struct span *user_r, struct span *host_r, long *port_r)
{
	*user_r = span_make(NULL, 0);
	*port_r = -1;
	const uint8_t *at = memrchr(auth.p, '@', auth.len);
	if (at != NULL) {
		*user_r = span_make(auth.p, (size_t)(at - auth.p));
		auth = span_make(at + 1, auth.len - (size_t)(at - auth.p) - 1);
	}
	const uint8_t *colon = memrchr(auth.p, ':', auth.len);
	const uint8_t *rb = memrchr(auth.p, ']', auth.len);
	if (colon != NULL && (rb == NULL || colon > rb)) {
		struct span ps = span_make(colon + 1, auth.len - (size_t)(colon - auth.p) - 1);
		long port = 0;
		for (size_t i = 0; i < ps.len; i++) {
			if (!ascii_is_digit(ps.p[i]) || port > 65535)
				return -1;
			port = port * 10 + (ps.p[i] - '0');
		}
		if (port > 65535)
			return -1;
		if (ps.len > 0)
			*port_r = port;
		auth.len = (size_t)(colon - auth.p);
	}
	*host_r = auth;
	return 0;
}

int
url_parse(struct arena *a, struct span raw, uint32_t flags, struct mime_url *u)
{
	memset(u, 0, sizeof(*u));
	u->flags = flags;
	struct span s = url_clean(a, raw);
	if (s.len == 0 || s.len > URL_MAX_LEN)
		return -1;
	size_t sl = scheme_len(s);
	if (sl > 0) {
		u->scheme = known_scheme(span_make(s.p, sl));
		if (u->scheme == NULL)
			return -1;
		s = span_sub(s, sl + 1, s.len - sl - 1);
	} else {
		u->scheme = "http";
		if (!(s.len >= 2 && s.p[0] == '/' && s.p[1] == '/'))
			u->flags |= URL_SCHEMELESS;
	}
	/* "http:/x", "http:\\x" and "http:////x" all reach host x in browsers. */
	while (s.len > 0 && (s.p[0] == '/' || s.p[0] == '\\'))
		s = span_sub(s, 1, s.len - 1);
	size_t ae = 0;
	while (ae < s.len && s.p[ae] != '/' && s.p[ae] != '\\' && s.p[ae] != '?' && s.p[ae] != '#')
		ae++;
	struct span user, host;
	long port;
	if (split_authority(span_make(s.p, ae), &user, &host, &port) != 0)
		return -1;
	if (user.p != NULL)
		u->flags |= URL_HAS_USER;
	if (host_normalise(a, host, u) != 0)
		return -1;
	struct span path = span_sub(s, ae, s.len - ae);
	ptrdiff_t hash = span_find_byte(path, '#');
	if (hash >= 0)
		path.len = (size_t)hash;

	struct buf b;
	buf_init(&b, a);
	buf_printf(&b, "%s://", u->scheme);
	if (user.p != NULL) {
		append_escaped(&b, user, false);
		buf_append_byte(&b, '@');
	}
	buf_append_cstr(&b, u->host);
	if (port >= 0 && (unsigned)port != default_port(u->scheme))
		buf_printf(&b, ":%ld", port);
	size_t path_off = b.len;
	if (path.len == 0 || path.p[0] == '?')
		buf_append_byte(&b, '/');
	append_escaped(&b, path, true);
	const char *url = b.failed ? NULL : buf_cstr(&b);
	if (url == NULL)
		return -1;
	u->url = url;
	u->path = url + path_off;
	return 0;
}

/* ---- relative references ---- */

struct span
url_resolve(struct arena *a, struct span base, struct span ref)
{
	ref = span_trim(ref);
	base = span_trim(base);
	if (url_has_scheme(ref) || base.len == 0 || !url_has_scheme(base))
		return ref;
	size_t sl = scheme_len(base);
	size_t auth_end = sl + 1;
	if (auth_end + 1 < base.len && base.p[auth_end] == '/' && base.p[auth_end + 1] == '/') {
		auth_end += 2;
		while (auth_end < base.len && base.p[auth_end] != '/' && base.p[auth_end] != '?' &&
		    base.p[auth_end] != '#')
			auth_end++;
	}
	size_t keep;
	if (ref.len >= 2 && ref.p[0] == '/' && ref.p[1] == '/') {
		keep = sl + 1;
	} else if (ref.len >= 1 && ref.p[0] == '/') {
		keep = auth_end;
	} else {
		size_t q = auth_end;
		while (q < base.len && base.p[q] != '?' && base.p[q] != '#')
			q++;
		if (ref.len >= 1 && (ref.p[0] == '?' || ref.p[0] == '#')) {
			keep = ref.p[0] == '#' ? base.len : q;
			if (ref.p[0] == '#') {
				const uint8_t *h = memchr(base.p, '#', base.len);
				keep = h ? (size_t)(h - base.p) : base.len;
			}
		} else {
			const uint8_t *sl2 = q > auth_end ? memrchr(base.p + auth_end, '/', q - auth_end) : NULL;
			keep = sl2 ? (size_t)(sl2 - base.p) + 1 : auth_end;
		}
	}
	/* Dot segments stay: hosts, which is what filters read, are unaffected. */
	bool slash = keep == auth_end && (ref.len == 0 || (ref.p[0] != '/' && ref.p[0] != '?' && ref.p[0] != '#'));
	uint8_t *o = arena_alloc(a, keep + ref.len + 1);
	if (o == NULL)
		return span_make(NULL, 0);
	memcpy(o, base.p, keep);
	size_t k = keep;
	if (slash)
		o[k++] = '/';
	if (ref.len > 0)
		memcpy(o + k, ref.p, ref.len);
	return span_make(o, k + ref.len);
}

/* ---- discovery in text ---- */

static bool
domain_char(uint8_t c)
{
	return ascii_is_alnum(c) || c == '-' || c == '.';
}

static bool
local_char(uint8_t c)
{
	return ascii_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '=';
}

/* Bytes that end a URL in running text. */
static bool
url_stop(uint8_t c)
{
	return c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"' || c == '`';
}

/* Drops sentence punctuation and unbalanced closing brackets at the end.
 * Brackets are counted once, so a run of ')' costs no rescans. */
static size_t
trim_tail(const uint8_t *p, size_t st, size_t en)
{
	static const char closers[] = ")]}", openers[] = "([{";
	size_t no[3] = { 0, 0, 0 }, nc[3] = { 0, 0, 0 };
	for (size_t i = st; i < en; i++) {
		for (int k = 0; k < 3; k++) {
			no[k] += p[i] == (uint8_t)openers[k];
			nc[k] += p[i] == (uint8_t)closers[k];
		}
	}
	while (en > st) {
		uint8_t c = p[en - 1];
		if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
		    c == '*') {
			en--;
			continue;
		}
		int k = c == ')' ? 0 : c == ']' ? 1 : c == '}' ? 2 : -1;
		if (k < 0 || nc[k] <= no[k])
			break;
		nc[k]--;
		en--;
	}
	return en;
}

/* Common file extensions that are also country or generic TLDs. */
static const char *const ext_tlds[] = {
	"zip", "mov", "py", "sh", "md", "rs", "pl", "pm", "ps", "so", "cc", "cs", "js", "ts",
	"sql", "bat", "cgi", "asp", "php", "doc", "exe", "txt", "ini", "cfg", "log", "jpg",
	"png", "gif", "pdf", "htm", "html", "xml", "json", "csv", "dat", "tmp", "bak",
};

/*
 * Generic TLDs a bare domain may end in. Hundreds of newer gTLDs are also
 * English words (".directory", ".world", ".how") and turn "File.directory"
 * in source code or "Hello.world" into false URLs; the ones below are those
 * seen in mail, legitimate or spam. Country codes are always accepted.
 */
static const char *const bare_gtlds[] = {
	"com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "name", "pro", "mobi",
	"asia", "xyz", "top", "online", "site", "club", "shop", "store", "app", "dev", "icu",
	"vip", "work", "click", "link", "fun", "space", "website", "tech", "email", "cloud",
	"loan", "win", "bid", "stream", "review", "party", "trade", "science", "cyou", "buzz",
	"rest", "bar", "monster", "sbs", "cfd", "lol", "digital", "agency", "host",
};

static bool
tld_is_common(struct span tld)
{
	if (tld.len == 2)
		return true;
	for (size_t i = 0; i < sizeof(bare_gtlds) / sizeof(bare_gtlds[0]); i++)
		if (span_caseeq_cstr(tld, bare_gtlds[i]))
			return true;
	return false;
}

static bool
tld_is_file_ext(struct span tld)
{
	for (size_t i = 0; i < sizeof(ext_tlds) / sizeof(ext_tlds[0]); i++)
		if (span_caseeq_cstr(tld, ext_tlds[i]))
			return true;
	return false;
}

/*
 * Whether d (ASCII, no trailing dot) is a hostname under a real public
 * suffix, with at least one label before it. strict adds the bare-domain
 * precautions (no file extensions, no "Sentence.Start" capitalisation).
 */
static bool
domain_plausible(struct span d, bool strict)
{
	uint8_t low[HOST_MAX + 1];
	size_t labels = 0, lab = 0, tld_start = 0;
	bool has_lower = false, has_upper_tld = false;
	if (d.len == 0 || d.len > HOST_MAX)
		return false;
	for (size_t i = 0; i <= d.len; i++) {
		if (i == d.len || d.p[i] == '.') {
			if (lab == 0 || lab > LABEL_MAX || d.p[i - 1] == '-' || d.p[i - lab] == '-')
				return false;
			labels++;
			lab = 0;
			tld_start = i + 1;
			if (i < d.len)
				low[i] = '.';
			continue;
		}
		lab++;
		low[i] = ascii_lower(d.p[i]);
		has_lower |= d.p[i] != low[i] ? false : ascii_is_alpha(d.p[i]);
	}
	/* tld_start now points one past the end; find the last label again. */
	const uint8_t *dot = memrchr(d.p, '.', d.len);
	if (labels < 2 || dot == NULL)
		return false;
	tld_start = (size_t)(dot - d.p) + 1;
	struct span tld = span_sub(d, tld_start, d.len - tld_start);
	bool puny = span_has_prefix_ci(tld, "xn--");
	for (size_t i = 0; i < tld.len; i++) {
		if (!ascii_is_alpha(tld.p[i]) && !(puny && (ascii_is_digit(tld.p[i]) || tld.p[i] == '-')))
			return false;
		has_upper_tld |= tld.p[i] >= 'A' && tld.p[i] <= 'Z';
	}
	if (strict && (tld_is_file_ext(tld) || (has_upper_tld && has_lower) || (!puny && !tld_is_common(tld))))
		return false;
	bool known;
	struct span reg = url_tld_registered(span_make(low, d.len), &known);
	return known && reg.len > 0;
}

/* Extends en over ":port" and a path after a domain found without scheme. */
static size_t
domain_tail(struct span t, size_t en)
{
	if (en + 1 < t.len && t.p[en] == ':' && ascii_is_digit(t.p[en + 1])) {
		en++;
		while (en < t.len && ascii_is_digit(t.p[en]))
			en++;
	}
	if (en < t.len && (t.p[en] == '/' || t.p[en] == '?' || t.p[en] == '#'))
		while (en < t.len && !url_stop(t.p[en]) && t.p[en] < 0x80)
			en++;
	return en;
}

/*
 * End of the host of a scheme URL starting at i. The host may be UTF-8
 * (IDN), but once it is an ASCII name with a dot, a non-ASCII byte ends it:
 * "http://example.comæ..." in CJK text has no space after the URL.
 */
static size_t
host_end(struct span t, size_t i)
{
	bool ascii = true, dot = false;
	size_t en = i;
	for (; en < t.len && !url_stop(t.p[en]) && t.p[en] != '/' && t.p[en] != '?' && t.p[en] != '#'; en++) {
		uint8_t c = t.p[en];
		if (c >= 0x80) {
			if (ascii && dot && t.p[en - 1] != '.')
				break;
			ascii = false;
		}
		dot |= c == '.';
	}
	return en;
}

/*
 * RFC 3986 appendix C: a URL in angle brackets may be wrapped over lines.
 * en is where the URL stopped; if only line breaks and URL bytes lead to the
 * closing '>', the URL runs to it (url_parse() drops the line breaks).
 */
static size_t
bracket_end(struct span t, size_t en)
{
	size_t k = en, limit = en + 2048 < t.len ? en + 2048 : t.len;
	bool wrapped = false;
	for (; k < limit; k++) {
		uint8_t c = t.p[k];
		if (c == '>')
			return wrapped ? k : en;
		if (c == '\r' || c == '\n' || c == '\t')
			wrapped = true;
		else if (url_stop(c) || c >= 0x80)
			return en;
	}
	return en;
}

/* t.p[i] == ':'. A "scheme://" URL whose scheme ends at i. */
static bool
match_scheme(struct span t, size_t floor, size_t i, size_t *st_r, size_t *en_r)
{
	if (i + 3 >= t.len || t.p[i + 1] != '/' || t.p[i + 2] != '/')
		return false;
	size_t st = i;
	while (st > floor && ascii_is_alpha(t.p[st - 1]) && i - st < 6)
		st--;
	if ((st > 0 && ascii_is_alnum(t.p[st - 1])) || known_scheme(span_make(t.p + st, i - st)) == NULL)
		return false;
	size_t en = host_end(t, i + 3);
	if (en == i + 3)
		return false;
	while (en < t.len && !url_stop(t.p[en]) && t.p[en] < 0x80)
		en++;
	if (st > 0 && t.p[st - 1] == '<')
		en = bracket_end(t, en);
	en = trim_tail(t.p, i + 3, en);
	if (en == i + 3)
		return false;
	*st_r = st;
	*en_r = en;
	return true;
}

/* t.p[i] == '@'. */
static bool
match_email(struct span t, size_t floor, size_t i, size_t *st_r, size_t *en_r)
{
	size_t st = i;
	while (st > floor && local_char(t.p[st - 1]) && i - st <= LOCAL_MAX)
		st--;
	while (st < i && t.p[st] == '.')
		st++;
	if (st == i || i - st > LOCAL_MAX || t.p[i - 1] == '.')
		return false;
	size_t en = i + 1;
	while (en < t.len && domain_char(t.p[en]))
		en++;
	while (en > i + 1 && (t.p[en - 1] == '.' || t.p[en - 1] == '-'))
		en--;
	if (en < t.len && (t.p[en] == '_' || t.p[en] == '@'))
		return false;
	if (!domain_plausible(span_make(t.p + i + 1, en - i - 1), false))
		return false;
	*st_r = st;
	*en_r = en;
	return true;
}

/* CJK text has no spaces: its characters and punctuation (and fullwidth
 * forms) may touch a domain name, Latin letters may not. */
static bool
cp_is_cjk(uint32_t cp)
{
	return (cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	    (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
	    (cp >= 0xFF00 && cp <= 0xFFEF);
}

static bool
cjk_at(struct span t, size_t i)
{
	uint32_t cp;
	utf8_get(t.p + i, t.len - i, &cp);
	return cp_is_cjk(cp);
}

/* Whether the character ending just before i is CJK. */
static bool
cjk_before(struct span t, size_t i)
{
	size_t k = i;
	while (k > 0 && i - k < 4 && (t.p[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0 || i - k >= 4)
		return false;
	uint32_t cp;
	size_t len = utf8_get(t.p + k - 1, t.len - (k - 1), &cp);
	return k - 1 + len == i && cp_is_cjk(cp);
}

/*
 * t.p[i] == '.'. A "www." name or a bare domain around i. *skip_r is where
 * scanning may resume when there is no match (the rest of the token would
 * give the same answer).
 */
static bool
match_domain(struct span t, size_t floor, size_t i, size_t *st_r, size_t *en_r, size_t *skip_r)
{
	*skip_r = i + 1;
	if (i + 1 >= t.len || !ascii_is_alnum(t.p[i + 1]))
		return false;
	size_t st = i;
	while (st > floor && domain_char(t.p[st - 1]))
		st--;
	size_t en = i;
	while (en < t.len && domain_char(t.p[en]))
		en++;
	*skip_r = en;
	if (st > 0) {
		uint8_t p = t.p[st - 1];
		if (domain_char(p) || p == '@' || p == '/' || p == '\\' || p == '_' || p == '%' ||
		    (p >= 0x80 && !cjk_before(t, st)) || p == '&' || p == '$' || p == '~')
			return false;
	}
	while (st < en && (t.p[st] == '.' || t.p[st] == '-'))
		st++;
	while (en > st && (t.p[en - 1] == '.' || t.p[en - 1] == '-'))
		en--;
	size_t after = en;
	while (after < t.len && (t.p[after] == '.' || t.p[after] == '-'))
		after++;
	if (after < t.len && (t.p[after] == '@' || t.p[after] == '_' || (t.p[after] >= 0x80 && !cjk_at(t, after))))
		return false;
	struct span d = span_make(t.p + st, en - st);
	bool www = span_has_prefix_ci(d, "www.");
	if (span_caseeq_cstr(d, "et.al"))
		return false; /* "et.al." in citations */
	if (!domain_plausible(d, !www))
		return false;
	en = trim_tail(t.p, st, domain_tail(t, en));
	*st_r = st;
	*en_r = en;
	return true;
}

bool
url_find_next(struct span t, size_t *pos, struct url_match *m)
{
	static const uint8_t trigger[256] = { [':'] = 1, ['@'] = 1, ['.'] = 1 };
	size_t floor = *pos;
	for (size_t i = *pos; i < t.len; i++) {
		uint8_t c = t.p[i];
		size_t st, en, skip;
		if (!trigger[c])
			continue;
		if (c == ':' && match_scheme(t, floor, i, &st, &en)) {
			*m = (struct url_match){ URL_MATCH_URL, span_make(t.p + st, en - st), 0 };
		} else if (c == '@' && match_email(t, floor, i, &st, &en)) {
			*m = (struct url_match){ URL_MATCH_EMAIL, span_make(t.p + st, en - st), 0 };
		} else if (c == '.') {
			if (!match_domain(t, floor, i, &st, &en, &skip)) {
				i = skip - 1;
				continue;
			}
			*m = (struct url_match){ URL_MATCH_URL, span_make(t.p + st, en - st), URL_SCHEMELESS };
		} else {
			continue;
		}
		*pos = en;
		return true;
	}
	*pos = t.len;
	return false;
}

/* ---- e-mail addresses ---- */

int
url_parse_email(struct arena *a, struct span raw, struct mime_email *e)
{
	struct span s = span_trim(raw);
	if (span_has_prefix_ci(s, "mailto:"))
		s = span_sub(s, 7, s.len - 7);
	ptrdiff_t q = span_find_byte(s, '?');
	if (q >= 0)
		s.len = (size_t)q;
	size_t n;
	char *d = percent_decode_host(a, span_trim(s), &n);
	if (d == NULL)
		return -1;
	struct span v = span_make(d, n);
	while (v.len > 0 && (v.p[0] == '<' || v.p[0] <= 0x20))
		v = span_sub(v, 1, v.len - 1);
	while (v.len > 0 && (v.p[v.len - 1] == '>' || v.p[v.len - 1] <= 0x20 || v.p[v.len - 1] == '.'))
		v.len--;
	const uint8_t *at = v.len ? memrchr(v.p, '@', v.len) : NULL;
	if (at == NULL)
		return -1;
	struct span local = span_make(v.p, (size_t)(at - v.p));
	struct span dom = span_make(at + 1, v.len - local.len - 1);
	if (local.len == 0 || local.len > LOCAL_MAX || dom.len == 0)
		return -1;
	for (size_t i = 0; i < local.len; i++)
		if (local.p[i] <= 0x20 || local.p[i] == '<' || local.p[i] == '>' || local.p[i] == '"' ||
		    local.p[i] == ',' || local.p[i] == ';' || local.p[i] == '@')
			return -1;
	struct mime_url tmp = { 0 };
	if (host_normalise(a, dom, &tmp) != 0 || (tmp.flags & URL_NUMERIC_IP) || strchr(tmp.host, '.') == NULL)
		return -1;
	char *addr = arena_printf(a, "%.*s@%s", (int)local.len, (const char *)local.p, tmp.host);
	if (addr == NULL)
		return -1;
	e->addr = addr;
	e->domain = addr + local.len + 1;
	return 0;
}
