#include "fcore/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_ident[32] = "filterd";
static enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *ident, enum log_level level)
{
	log_set_ident(ident);
	log_level = level;
}

void
log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level < log_level)
		return;
	char line[4096];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	int off = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	off += snprintf(line + off, sizeof(line) - (size_t)off, ".%03d %s[%d] %s: ",
	    (int)(tv.tv_usec / 1000), log_ident, (int)getpid(), level_names[level]);
	if (off < (int)sizeof(line))
		vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	size_t len = strnlen(line, sizeof(line) - 2);
	line[len++] = '\n';
	/* One write() per line so lines from several processes do not interleave. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_escape(char *out, size_t outsz, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t o = 0;
	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		}
	}
	out[o] = '\0';
	return out;
}
