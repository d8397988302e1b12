/*
 * log - one logging path for the whole program.
 *
 * Lines go to stderr (the supervisor's stderr is the journal or the
 * terminal) as "<time> <ident>[pid] <level>: <message>". Libraries do not
 * log input errors (they set anomaly flags); configuration and programming
 * errors may be logged where found. log_fatal exits the process.
 */
#ifndef FCORE_LOG_H
#define FCORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *ident, enum log_level level);
void log_set_ident(const char *ident);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error"; -1 if unknown. */
int log_level_parse(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/* Escapes control and non-ASCII bytes of mail data for a log line. */
const char *log_escape(char *out, size_t outsz, const void *p, size_t len);

#endif
