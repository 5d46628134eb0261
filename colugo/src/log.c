/*  log.c: the one place where Colugo writes its log. Quiet by default
    (errors and warnings); COLUGO_LOG or colugo_log_set_level () for more.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include "logging.h"

static int s_level = -2;  //  -2: not read from the environment yet
static colugo_log_fn *s_handler;
static void *s_handler_arg;

int
colugo_log_level_parse (const char *name)
{
    if (!name)
        return -2;
    static const char *names [] = {"off", "error", "warn", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp (name, names [i]) == 0)
            return i - 1;
    if (strcasecmp (name, "warning") == 0)
        return COLUGO_LOG_WARN;
    return -2;
}

colugo_log_level_t
colugo_log_level (void)
{
    if (s_level == -2) {
        int level = colugo_log_level_parse (getenv ("COLUGO_LOG"));
        s_level = level == -2 ? COLUGO_LOG_WARN : level;
    }
    return (colugo_log_level_t) s_level;
}

void
colugo_log_set_level (colugo_log_level_t level)
{
    s_level = level;
}

void
colugo_log_set_handler (colugo_log_fn *handler, void *arg)
{
    s_handler = handler;
    s_handler_arg = arg;
}

bool
colugo__log_enabled (colugo_log_level_t level)
{
    return (int) level <= (int) colugo_log_level ();
}

void
colugo__log (colugo_log_level_t level, const char *fmt, ...)
{
    if (!colugo__log_enabled (level))
        return;
    char line [1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    if (s_handler) {
        s_handler (level, line, s_handler_arg);
        return;
    }
    static const char *tags [] = {"E", "W", "I", "D"};
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    localtime_r (&now.tv_sec, &tm);
    fprintf (stderr, "%s %02d:%02d:%02d.%03ld colugo[%d]: %s\n", tags [level], tm.tm_hour,
             tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000, (int) getpid (), line);
}

bool
colugo__ratelimit (colugo__ratelimit_t *self, unsigned *suppressed_out)
{
    int64_t now = zclock_mono ();
    if (self->window_start == 0 || now - self->window_start >= COLUGO__RATELIMIT_WINDOW_MS) {
        self->window_start = now;
        self->printed = 0;
    }
    if (self->printed < COLUGO__RATELIMIT_BURST) {
        self->printed++;
        *suppressed_out = self->suppressed;
        self->suppressed = 0;
        return true;
    }
    self->suppressed++;
    return false;
}
