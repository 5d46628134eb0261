/*  logging.h: internal logging macros and a rate limiter for the log lines
    that outside input can trigger (malformed messages, strangers' records).
*/
#ifndef COLUGO__LOGGING_H_INCLUDED
#define COLUGO__LOGGING_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "colugo/log.h"

void colugo__log (colugo_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
bool colugo__log_enabled (colugo_log_level_t level);

//  Whether value is 1 to max printable ASCII characters, no spaces (topic.c):
//  message types, node uuids.
bool colugo__printable_ascii (const char *value, size_t max);

#define colugo__error(...) colugo__log (COLUGO_LOG_ERROR, __VA_ARGS__)
#define colugo__warn(...) colugo__log (COLUGO_LOG_WARN, __VA_ARGS__)
#define colugo__info(...) colugo__log (COLUGO_LOG_INFO, __VA_ARGS__)
#define colugo__debug(...)                                                                         \
    do {                                                                                           \
        if (colugo__log_enabled (COLUGO_LOG_DEBUG))                                                \
            colugo__log (COLUGO_LOG_DEBUG, __VA_ARGS__);                                           \
    } while (0)

//  Allows COLUGO__RATELIMIT_BURST lines per COLUGO__RATELIMIT_WINDOW_MS and
//  counts the rest, so a flood of bad input cannot flood the log.
#define COLUGO__RATELIMIT_BURST 5
#define COLUGO__RATELIMIT_WINDOW_MS 10000

typedef struct {
    int64_t window_start;  //  monotonic ms when the current window opened
    unsigned printed;      //  lines printed in this window
    unsigned suppressed;   //  lines held back since the last printed one
} colugo__ratelimit_t;

//  Returns true if a line may be printed now; *suppressed_out gets how many
//  were held back since the last one that was printed.
bool colugo__ratelimit (colugo__ratelimit_t *self, unsigned *suppressed_out);

#endif
