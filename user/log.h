/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* log.c: logfmt lines on stderr, by level. */
#ifndef REDSCOPE_LOG_H
#define REDSCOPE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern enum log_level log_level;
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define p_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define p_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define p_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define p_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
int log_level_parse(const char *s, enum log_level *out);

#endif /* REDSCOPE_LOG_H */
