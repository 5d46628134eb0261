/*  signals.c: the process's SIGINT/SIGTERM handling while nodes run. */
#define _GNU_SOURCE  //  pipe2
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "signals.h"

#define S_NODES_MAX 64  //  running nodes the handler can wake; more still stop (EINTR)

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t s_generation;    //  stop requests so far
static atomic_int s_wake_fds [S_NODES_MAX];  //  write ends, 0 when free
static unsigned s_users;                     //  nodes holding the handlers
static struct sigaction s_previous_int, s_previous_term;
static bool s_own_int, s_own_term;  //  we installed it (the application had none)

void
colugo__signals_init (void)
{
    //  Puts back what czmq replaced, if it had, and stops it from installing
    //  its handlers in zsys_init.
    zsys_handler_set (NULL);
}

static void
s_handler (int signal)
{
    (void) signal;
    int saved = errno;
    atomic_fetch_add (&s_generation, 1);
    for (int i = 0; i < S_NODES_MAX; i++) {
        int fd = atomic_load (&s_wake_fds [i]);
        if (fd > 0 && write (fd, "", 1) < 0) {
            //  full: the loop has a byte to read already
        }
    }
    errno = saved;
}

//  Installs our handler for a signal if its disposition is the default.
static bool
s_take (int signal, struct sigaction *previous)
{
    if (sigaction (signal, NULL, previous) || previous->sa_handler != SIG_DFL)
        return false;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_handler;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction (signal, &action, NULL) == 0;
}

int
colugo__signals_open (colugo__signals_t *self)
{
    self->handling = false;
    if (pipe2 (self->pipe, O_NONBLOCK | O_CLOEXEC))
        return -1;
    self->generation = atomic_load (&s_generation);
    for (int i = 0; i < S_NODES_MAX; i++) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong (&s_wake_fds [i], &free_slot, self->pipe [1]))
            break;
    }
    return 0;
}

void
colugo__signals_handle (colugo__signals_t *self, bool want)
{
    if (want == self->handling)
        return;
    pthread_mutex_lock (&s_lock);
    if (want && s_users++ == 0) {
        s_own_int = s_take (SIGINT, &s_previous_int);
        s_own_term = s_take (SIGTERM, &s_previous_term);
    }
    else if (!want && --s_users == 0) {
        if (s_own_int)
            sigaction (SIGINT, &s_previous_int, NULL);
        if (s_own_term)
            sigaction (SIGTERM, &s_previous_term, NULL);
        s_own_int = s_own_term = false;
    }
    pthread_mutex_unlock (&s_lock);
    self->handling = want;
}

bool
colugo__signals_stop_requested (colugo__signals_t *self)
{
    char bytes [64];
    while (read (self->pipe [0], bytes, sizeof bytes) > 0)
        ;
    return self->handling && atomic_load (&s_generation) != self->generation;
}

void
colugo__signals_consume (colugo__signals_t *self)
{
    self->generation = atomic_load (&s_generation);
}

void
colugo__signals_close (colugo__signals_t *self)
{
    if (self->pipe [1] <= 0)
        return;
    colugo__signals_handle (self, false);
    for (int i = 0; i < S_NODES_MAX; i++) {
        int mine = self->pipe [1];
        if (atomic_compare_exchange_strong (&s_wake_fds [i], &mine, 0))
            break;
    }
    close (self->pipe [0]);
    close (self->pipe [1]);
    self->pipe [0] = self->pipe [1] = -1;
}
