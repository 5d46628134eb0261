/*  proc.c: real processes with bounded waits (posix_spawn: no fork after a
    ZeroMQ context exists in the test process).
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
    pid_t pid;
    int out;  //  read end of its stdout
    char buffer [65536];
    size_t filled;
    char line [4096];
    bool exited;
    int status;
};

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
    proc_t *self = calloc (1, sizeof *self);
    //  As a terminal starts a program: the harness runs us in the
    //  background of a shell, which ignores SIGINT and SIGQUIT for its
    //  background jobs, and an ignored signal stays ignored across exec.
    posix_spawnattr_t attributes;
    posix_spawnattr_init (&attributes);
    sigset_t defaults;
    sigemptyset (&defaults);
    sigaddset (&defaults, SIGINT);
    sigaddset (&defaults, SIGQUIT);
    posix_spawnattr_setsigdefault (&attributes, &defaults);
    posix_spawnattr_setflags (&attributes, POSIX_SPAWN_SETSIGDEF);
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
    return true;
}

//  Reads the next line within the deadline; false on timeout or EOF.
static bool
s_next_line (proc_t *self, long long deadline)
{
    while (!s_take_line (self)) {
        long long left = deadline - proc_now_ms ();
        if (left <= 0 || self->filled == sizeof self->buffer)
            return false;
        struct pollfd item = {self->out, POLLIN, 0};
        int rc = poll (&item, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        ssize_t got =
            read (self->out, self->buffer + self->filled, sizeof self->buffer - self->filled);
        if (got <= 0)
            return false;
        self->filled += (size_t) got;
    }
    return true;
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
        usleep (5000);
    }
    if (WIFEXITED (self->status))
        return WEXITSTATUS (self->status);
    return 128 + WTERMSIG (self->status);
}

void
proc_destroy (proc_t **self_p)
{
    proc_t *self = *self_p;
    if (!self)
        return;
    if (!self->exited) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, &self->status, 0);
    }
    close (self->out);
    free (self);
    *self_p = NULL;
}

pid_t
proc_pid (proc_t *self)
{
    return self->pid;
}
