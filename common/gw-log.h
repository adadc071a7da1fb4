/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gw-log.h: logging to the journal (structured fields) or to stderr with <N> prefixes. */
#pragma once

#include <errno.h>
#include <syslog.h>

#include "gw-macro.h"

/* Call once in main. ident is the program name ("sigd"). The sink is the
 * journal when $JOURNAL_STREAM names our stderr, else stderr with "<N>" prefixes.
 * $GW_LOG_LEVEL (debug|info|notice|warning|err) or set_max_level() sets the threshold. */
void log_open(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);

/* Returns -abs(error) so callers can 'return log_error_errno(r, ...)'.
 * %m in format expands to strerror(error). Extra journal fields come as
 * "KEY=value" strings terminated by NULL, before the message format: use the
 * log_struct() form for those. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);
/* fields: NULL-terminated list of "KEY=value" (e.g. "GW_LINE=1"); may be NULL. */
int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")

/* log_struct(LOG_NOTICE, ((const char *[]){"MESSAGE_ID=...", "GW_PROXY=x", NULL}), "fmt", ...) */
#define log_struct(level, fields, ...) \
        log_struct_internal((level), 0, __FILE__, __LINE__, __func__, (fields), __VA_ARGS__)
