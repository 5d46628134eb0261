/*  colugo/log.h: the one place where Colugo logs.

    Quiet by default: only errors and warnings reach stderr. Raise the level
    with colugo_log_set_level () or the environment variable COLUGO_LOG
    (off, error, warn, info, debug), or send every line elsewhere with
    colugo_log_set_handler ().
*/
#ifndef COLUGO_LOG_H_INCLUDED
#define COLUGO_LOG_H_INCLUDED

#include "colugo/export.h"

COLUGO_BEGIN_DECLS

typedef enum {
    COLUGO_LOG_OFF = -1,
    COLUGO_LOG_ERROR = 0,
    COLUGO_LOG_WARN = 1,
    COLUGO_LOG_INFO = 2,
    COLUGO_LOG_DEBUG = 3,
} colugo_log_level_t;

//  Receives each log line that passes the level; line has no newline.
typedef void (colugo_log_fn) (colugo_log_level_t level, const char *line, void *arg);

//  Sets the level for the whole process. Overrides COLUGO_LOG.
COLUGO_EXPORT void colugo_log_set_level (colugo_log_level_t level);

//  Returns the level in force (COLUGO_LOG, or WARN when it is not set).
COLUGO_EXPORT colugo_log_level_t colugo_log_level (void);

//  Sends log lines to handler instead of stderr; NULL restores stderr.
COLUGO_EXPORT void colugo_log_set_handler (colugo_log_fn *handler, void *arg);

//  Parses "off", "error", "warn", "info" or "debug"; returns -2 if unknown.
COLUGO_EXPORT int colugo_log_level_parse (const char *name);

COLUGO_END_DECLS

#endif
