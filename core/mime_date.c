/*
 * mime_date.c - Date header values to time_t.
 *
 * RFC 5322 ("Mon, 2 Jan 2006 15:04:05 -0700") plus what mailers really
 * send: no weekday, two-digit years, named zones (GMT, EST, ...), missing
 * zone (taken as UTC), seconds missing, asctime ("Mon Jan  2 15:04:05 2006"),
 * "02-Jan-2006", ISO 8601 ("2006-01-02T15:04:05Z") and trailing comments.
 * The fields are picked by shape rather than position, which is what makes
 * the broken orders parse.
 */
#include <string.h>
#include <strings.h>

#include "mime-private.h"

struct dt {
	int day, mon, year, h, m, s;
	long tz; /* seconds east of UTC */
	bool odd; /* parsed, but not as RFC 5322 writes it */
};

static int
month_of(const char *p, size_t n)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
		"aug", "sep", "oct", "nov", "dec" };
	if (n < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(p, mon[i], 3) == 0)
			return i;
	return -1;
}

static bool
zone_name(const char *p, size_t n, long *tz)
{
	static const struct {
		const char *n;
		int h;
	} z[] = { { "gmt", 0 }, { "ut", 0 }, { "utc", 0 }, { "z", 0 }, { "est", -5 },
		{ "edt", -4 }, { "cst", -6 }, { "cdt", -5 }, { "mst", -7 }, { "mdt", -6 },
		{ "pst", -8 }, { "pdt", -7 }, { "cet", 1 }, { "cest", 2 }, { "bst", 1 },
		{ "jst", 9 }, { "msk", 3 }, { "eet", 2 }, { "eest", 3 }, { "met", 1 } };
	for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++)
		if (strlen(z[i].n) == n && strncasecmp(p, z[i].n, n) == 0) {
			*tz = z[i].h * 3600L;
			return true;
		}
	return false;
}

/* Reads up to max digits; returns count read. */
static size_t
digits(const char *p, size_t n, size_t max, int *v)
{
	size_t i = 0;
	*v = 0;
	while (i < n && i < max && p[i] >= '0' && p[i] <= '9')
		*v = *v * 10 + (p[i++] - '0');
	return i;
}

static bool
offset(const char *p, size_t n, long *tz)
{
	int hh, mm = 0;
	if (n < 3 || (p[0] != '+' && p[0] != '-'))
		return false;
	size_t k = digits(p + 1, n - 1, 2, &hh);
	if (k != 2)
		return false;
	size_t at = 3;
	if (at < n && p[at] == ':')
		at++;
	if (digits(p + at, n - at, 2, &mm) != 2)
		mm = 0;
	if (hh > 14 || mm > 59)
		return false;
	*tz = (hh * 3600L + mm * 60L) * (p[0] == '-' ? -1 : 1);
	return true;
}

/* "15:04[:05]" possibly followed by a glued zone; '.' separators accepted. */
static bool
hms(const char *p, size_t n, struct dt *d)
{
	int v[3] = { 0, 0, 0 };
	size_t i = 0;
	for (int f = 0; f < 3; f++) {
		size_t k = digits(p + i, n - i, 2, &v[f]);
		if (k == 0)
			return f >= 2;
		i += k;
		d->h = v[0];
		d->m = v[1];
		d->s = v[2];
		if (i < n && (p[i] == ':' || p[i] == '.') && f < 2) {
			i++;
			continue;
		}
		break;
	}
	if (i < n && !offset(p + i, n - i, &d->tz))
		zone_name(p + i, n - i, &d->tz);
	return true;
}

static void
number(struct dt *d, const char *p, size_t n)
{
	int v;
	if (digits(p, n, 9, &v) != n)
		return;
	if (n >= 4 || (d->day >= 0 && d->year < 0) || v > 31) {
		if (d->year >= 0)
			return;
		d->year = n <= 2 ? (v < 50 ? 2000 + v : 1900 + v) : (n == 3 ? 1900 + v : v);
		/* "0102": year - 1900 printed with %04d by Y2K-broken mailers */
		if (n == 4 && v >= 100 && v < 200) {
			d->year = 1900 + v;
			d->odd = true;
		}
	} else if (d->day < 0) {
		d->day = v;
	}
}

/* "02-Jan-2006" or "2006-01-02[T15:04:05Z]" */
static bool
dashed(struct dt *d, const char *p, size_t n)
{
	int a, b, c;
	size_t i = digits(p, n, 4, &a);
	if (i == 0 || i >= n || p[i] != '-')
		return false;
	i++;
	if (i == 4 + 1) {
		size_t k = digits(p + i, n - i, 2, &b);
		if (k == 0 || i + k >= n || p[i + k] != '-')
			return false;
		i += k + 1;
		k = digits(p + i, n - i, 2, &c);
		if (k == 0)
			return false;
		d->year = a, d->mon = b - 1, d->day = c;
		i += k;
		if (i < n && (p[i] == 'T' || p[i] == 't'))
			hms(p + i + 1, n - i - 1, d);
		return true;
	}
	int m = month_of(p + i, n - i);
	if (m < 0)
		return false;
	d->day = a;
	d->mon = m;
	while (i < n && p[i] != '-')
		i++;
	if (i < n)
		number(d, p + i + 1, n - i - 1);
	return true;
}

/* "2002/09/14" or US "09/14/2002" */
static void
slashed(struct dt *d, const char *p, size_t n)
{
	int v[3];
	size_t len[3], i = 0;
	for (int f = 0; f < 3; f++) {
		len[f] = digits(p + i, n - i, 4, &v[f]);
		if (len[f] == 0)
			return;
		i += len[f];
		if (f < 2 && (i >= n || p[i++] != '/'))
			return;
	}
	if (len[0] == 4) {
		d->year = v[0], d->mon = v[1] - 1, d->day = v[2];
	} else {
		d->mon = v[0] - 1, d->day = v[1];
		d->year = len[2] == 4 ? v[2] : (v[2] < 50 ? 2000 + v[2] : 1900 + v[2]);
	}
	d->odd = true;
}

static void
token(struct dt *d, const char *p, size_t n)
{
	if (p[0] == '+' || (p[0] == '-' && n > 1 && p[1] >= '0' && p[1] <= '9')) {
		offset(p, n, &d->tz);
	} else if (p[0] >= '0' && p[0] <= '9') {
		const char *colon = memchr(p, ':', n), *dash = memchr(p, '-', n);
		if (dash != NULL && (colon == NULL || dash < colon))
			dashed(d, p, n);
		else if (colon != NULL && d->h < 0)
			hms(p, n, d);
		else if (memchr(p, '/', n) != NULL)
			slashed(d, p, n);
		else if (memchr(p, '.', n) != NULL && d->day >= 0 && d->h < 0)
			hms(p, n, d);
		else
			number(d, p, n);
	} else if (d->mon < 0 && month_of(p, n) >= 0 && n <= 9) {
		d->mon = month_of(p, n);
	} else {
		zone_name(p, n, &d->tz);
	}
}

bool
mime_date_parse(const char *s, size_t len, time_t *t_r)
{
	bool odd;
	return mime_date_parse_ex(s, len, t_r, &odd);
}

bool
mime_date_parse_ex(const char *s, size_t len, time_t *t_r, bool *odd_r)
{
	struct dt d = { -1, -1, -1, -1, 0, 0, 0, false };
	size_t i = 0;

	while (i < len) {
		while (i < len && (mime_is_wsp((uint8_t)s[i]) || s[i] == ',' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i < len && s[i] == '(')
			break; /* trailing comment */
		size_t b = i;
		while (i < len && !mime_is_wsp((uint8_t)s[i]) && s[i] != ',' && s[i] != '(')
			i++;
		if (i > b)
			token(&d, s + b, i - b);
	}
	if (d.day < 1 || d.day > 31 || d.mon < 0 || d.mon > 11 || d.year < 1970 || d.year > 9999)
		return false;
	if (d.h < 0)
		d.h = 0;
	if (d.h > 23 || d.m > 59 || d.s > 60)
		return false;
	struct tm tm = { .tm_year = d.year - 1900, .tm_mon = d.mon, .tm_mday = d.day,
		.tm_hour = d.h, .tm_min = d.m, .tm_sec = d.s };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*t_r = t - d.tz;
	*odd_r = d.odd;
	return true;
}
