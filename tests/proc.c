/*  proc.c: real processes with bounded waits (posix_spawn: no fork after a
    ZeroMQ context exists in the test process).

    A child's output is only read by the test that expects a line of it, so
    sanitizer reports (which a child prints on its way out, or mid-run for
    undefined behaviour) are copied to our stderr whenever a line of them
    passes by: there ctest's FAIL_REGULAR_EXPRESSION finds them. That is why
    proc_destroy ends a child with SIGTERM and reads it to the end: killed
    with SIGKILL, a process never runs its leak check.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "proc.h"

extern char **environ;

struct proc {
    proc_t *next;  //  in s_live
    pid_t pid;
    int out;  //  read end of its stdout
    char buffer [65536];
    size_t filled;
    char line [4096];
    bool exited;
    bool eof;        //  the pipe is closed: every writer is gone
    bool reporting;  //  inside a sanitizer report: its lines go to stderr
    int status;
};

//  Every process not destroyed yet: a failed assertion leaves a test
//  before its proc_destroy calls, and the process exit then ends them.
static proc_t *s_live;

//  How long proc_destroy waits for a child to exit after SIGTERM.
#define PROC_TERM_MS 5000
//  How long it then reads what is left of its output.
#define PROC_DRAIN_MS 2000

long long
proc_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

long long
proc_wall_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

proc_t *
proc_start (char *const argv [])
{
    int pipe_fds [2];
    if (pipe2 (pipe_fds, O_CLOEXEC))
        return NULL;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, pipe_fds [1], 1);
    posix_spawn_file_actions_adddup2 (&actions, pipe_fds [1], 2);  //  log lines too
    //  As a terminal starts a program: no signal ignored or blocked. The
    //  harness runs us in the background of a shell, which ignores SIGINT
    //  and SIGQUIT for its background jobs, and an ignored signal stays
    //  ignored across exec (a node leaves an ignored SIGINT alone); the
    //  signal tests want no disposition or mask of ours either.
    posix_spawnattr_t attributes;
    posix_spawnattr_init (&attributes);
    sigset_t signals;
    sigfillset (&signals);
    posix_spawnattr_setsigdefault (&attributes, &signals);
    sigemptyset (&signals);
    posix_spawnattr_setsigmask (&attributes, &signals);
    posix_spawnattr_setflags (&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    proc_t *self = calloc (1, sizeof *self);
    int rc = posix_spawn (&self->pid, argv [0], &actions, &attributes, argv, environ);
    posix_spawnattr_destroy (&attributes);
    posix_spawn_file_actions_destroy (&actions);
    close (pipe_fds [1]);
    if (rc) {
        close (pipe_fds [0]);
        free (self);
        return NULL;
    }
    self->out = pipe_fds [0];
    self->next = s_live;
    s_live = self;
    return self;
}

proc_t *
proc_testnode (const char *first, ...)
{
    char *argv [32];
    int argc = 0;
    const char *path = getenv ("TESTNODE");
    argv [argc++] = (char *) (path ? path : "./testnode");
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 31; arg = va_arg (args, const char *))
        argv [argc++] = (char *) arg;
    va_end (args);
    argv [argc] = NULL;
    return proc_start (argv);
}

//  Copies the line to stderr if it belongs to a sanitizer report, and to
//  $PROC_TRACE/<pid>.log when that directory is set (for a failure that only
//  shows inside the suite: run it with COLUGO_LOG=debug too).
static void
s_watch_line (proc_t *self)
{
    const char *line = self->line;
    const char *trace = getenv ("PROC_TRACE");
    if (trace) {
        char path [4096];
        snprintf (path, sizeof path, "%s/%d.log", trace, (int) self->pid);
        FILE *file = fopen (path, "a");
        if (file) {
            fprintf (file, "%lld %s\n", proc_now_ms (), line);
            fclose (file);
        }
    }
    if (strstr (line, "ERROR: LeakSanitizer") || strstr (line, "ERROR: AddressSanitizer"))
        self->reporting = true;
    if (self->reporting || strstr (line, "runtime error:"))
        fprintf (stderr, "[child %d] %s\n", (int) self->pid, line);
    if (strncmp (line, "SUMMARY: ", 9) == 0)
        self->reporting = false;
}

//  Takes one complete line from the buffer into self->line, if there is one.
static bool
s_take_line (proc_t *self)
{
    char *newline = memchr (self->buffer, '\n', self->filled);
    if (!newline)
        return false;
    size_t length = (size_t) (newline - self->buffer);
    size_t copy = length < sizeof self->line - 1 ? length : sizeof self->line - 1;
    memcpy (self->line, self->buffer, copy);
    self->line [copy] = 0;
    memmove (self->buffer, newline + 1, self->filled - length - 1);
    self->filled -= length + 1;
    s_watch_line (self);
    return true;
}

//  Waits up to timeout_ms for output and appends it to the buffer. Returns
//  1 if it read some, 0 on timeout, -1 at EOF (or an error).
static int
s_read_some (proc_t *self, int timeout_ms)
{
    if (self->eof)
        return -1;
    struct pollfd item = {self->out, POLLIN, 0};
    int rc = poll (&item, 1, timeout_ms);
    if (rc < 0 && errno == EINTR)
        return 0;
    if (rc == 0)
        return 0;
    ssize_t got =
        rc < 0 ? -1
               : read (self->out, self->buffer + self->filled, sizeof self->buffer - self->filled);
    if (got <= 0) {
        self->eof = true;
        return -1;
    }
    self->filled += (size_t) got;
    return 1;
}

//  Reads the next line within the deadline; false on timeout or EOF.
static bool
s_next_line (proc_t *self, long long deadline)
{
    while (!s_take_line (self)) {
        long long left = deadline - proc_now_ms ();
        if (left <= 0 || self->filled == sizeof self->buffer)
            return false;
        if (s_read_some (self, (int) left) < 0)
            return false;
    }
    return true;
}

//  Reads what the child writes for up to timeout_ms, keeping it for later
//  proc_expect calls while there is room, dropping the oldest lines (still
//  watched for sanitizer reports) when there is not: a child blocked on a
//  full pipe could neither exit nor report.
static void
s_pump (proc_t *self, int timeout_ms)
{
    if (self->filled == sizeof self->buffer && !s_take_line (self))
        self->filled = 0;  //  one line longer than the buffer: dropped
    if (s_read_some (self, timeout_ms) < 0)
        usleep ((useconds_t) timeout_ms * 1000);
}

const char *
proc_expect (proc_t *self, const char *prefix, int timeout_ms)
{
    long long deadline = proc_now_ms () + timeout_ms;
    while (s_next_line (self, deadline))
        if (strncmp (self->line, prefix, strlen (prefix)) == 0)
            return self->line;
    return NULL;
}

const char *
proc_expect_text (proc_t *self, const char *text, int timeout_ms)
{
    long long deadline = proc_now_ms () + timeout_ms;
    while (s_next_line (self, deadline))
        if (strstr (self->line, text))
            return self->line;
    return NULL;
}

int
proc_count (proc_t *self, const char *prefix, int timeout_ms)
{
    long long deadline = proc_now_ms () + timeout_ms;
    int count = 0;
    while (s_next_line (self, deadline))
        if (strncmp (self->line, prefix, strlen (prefix)) == 0)
            count++;
    return count;
}

void
proc_kill (proc_t *self, int signal)
{
    if (self && !self->exited)
        kill (self->pid, signal);
}

int
proc_wait (proc_t *self, int timeout_ms)
{
    long long deadline = proc_now_ms () + timeout_ms;
    while (!self->exited) {
        pid_t rc = waitpid (self->pid, &self->status, WNOHANG);
        if (rc == self->pid) {
            self->exited = true;
            break;
        }
        if (proc_now_ms () >= deadline) {
            kill (self->pid, SIGKILL);
            waitpid (self->pid, &self->status, 0);
            self->exited = true;
            return -1;
        }
        s_pump (self, 5);
    }
    if (WIFEXITED (self->status))
        return WEXITSTATUS (self->status);
    return 128 + WTERMSIG (self->status);
}

int
proc_stop (proc_t *self)
{
    if (!self->exited) {
        kill (self->pid, SIGTERM);
        kill (self->pid, SIGCONT);  //  a stopped process acts on it once continued
    }
    int rc = proc_wait (self, PROC_TERM_MS);
    if (rc < 0)
        fprintf (stderr, "proc: child %d did not exit within %d ms of SIGTERM: SIGKILLed\n",
                 (int) self->pid, PROC_TERM_MS);
    //  Its last lines (a leak report) come before EOF.
    long long deadline = proc_now_ms () + PROC_DRAIN_MS;
    while (!self->eof && proc_now_ms () < deadline)
        s_pump (self, 50);
    while (s_take_line (self))
        ;
    return rc;
}

void
proc_destroy (proc_t **self_p)
{
    proc_t *self = *self_p;
    if (!self)
        return;
    proc_stop (self);
    for (proc_t **link = &s_live; *link; link = &(*link)->next)
        if (*link == self) {
            *link = self->next;
            break;
        }
    close (self->out);
    free (self);
    *self_p = NULL;
}

//  At exit (a test that failed an assertion), its processes are stopped as
//  proc_destroy does, instead of running on and meeting later tests.
static void __attribute__ ((destructor)) s_destroy_live (void)
{
    while (s_live) {
        proc_t *self = s_live;
        proc_destroy (&self);
    }
}

pid_t
proc_pid (proc_t *self)
{
    return self->pid;
}
