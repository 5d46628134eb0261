/*  avahi_poll.c: Avahi's watches and timeouts on a czmq zloop.

    Pitfalls this file exists for (measured, see the field notes):
    - Avahi speaks poll() bits, zmq_pollitem_t its own: translate both ways.
    - libdbus keeps a read and a write watch on one fd, and
      zloop_poller_end () removes every poller on that fd, so after any
      change to a watch we re-register all surviving watches of its fd.
    - zloop cannot change a poller's events (end + add), and a poller with
      no events wakes on errors and spins: watches without events are not
      registered at all.
    - Timeouts live in the node's timer heap (czmq 4.2.1 zloop timers can
      fire after being cancelled).
    - Avahi's D-Bus glue calls watch_free (NULL).
*/
#include <poll.h>
#include <stdlib.h>
#include <sys/time.h>
#include "avahi_poll.h"
#include "logging.h"

struct AvahiWatch {
    colugo__avahi_poll_t *poll;
    int fd;
    AvahiWatchEvent events;   //  what Avahi wants
    AvahiWatchEvent revents;  //  what happened, during the callback
    AvahiWatchCallback callback;
    void *userdata;
    bool dead;  //  freed by Avahi; memory goes via the reaper
};

struct AvahiTimeout {
    colugo__avahi_poll_t *poll;
    uint64_t timer;  //  id in the timer heap, 0 when disabled
    AvahiTimeoutCallback callback;
    void *userdata;
};

struct colugo__avahi_poll {
    AvahiPoll api;  //  what Avahi calls; userdata points here
    zloop_t *loop;
    colugo__timers_t *timers;
    colugo__reaper_t *reaper;
    zlistx_t *watches;  //  live watches
    size_t timeouts;    //  live timeouts, to check for leaks
};

static short
s_to_zmq (AvahiWatchEvent events)
{
    return (short) (((events & AVAHI_WATCH_IN) ? ZMQ_POLLIN : 0)
                    | ((events & AVAHI_WATCH_OUT) ? ZMQ_POLLOUT : 0));
}

static AvahiWatchEvent
s_from_zmq (short revents)
{
    return (
        AvahiWatchEvent) (((revents & ZMQ_POLLIN) ? AVAHI_WATCH_IN : 0)
                          | ((revents & ZMQ_POLLOUT) ? AVAHI_WATCH_OUT : 0)
                          | ((revents & ZMQ_POLLERR) ? (AVAHI_WATCH_ERR | AVAHI_WATCH_HUP) : 0));
}

static int
s_on_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    AvahiWatch *watch = (AvahiWatch *) arg;
    //  A watch freed or moved in this pass may still be dispatched once.
    if (watch->dead || watch->fd != item->fd)
        return 0;
    AvahiWatchEvent revents = s_from_zmq (item->revents);
    revents &= watch->events | AVAHI_WATCH_ERR | AVAHI_WATCH_HUP;
    if (!revents)
        return 0;
    watch->revents = revents;
    watch->callback (watch, watch->fd, revents, watch->userdata);
    watch->revents = 0;
    return 0;
}

//  Re-registers every live watch on fd, after any change to one of them.
static void
s_sync_fd (colugo__avahi_poll_t *self, int fd)
{
    zmq_pollitem_t item = {NULL, fd, 0, 0};
    zloop_poller_end (self->loop, &item);
    AvahiWatch *watch = (AvahiWatch *) zlistx_first (self->watches);
    while (watch) {
        if (watch->fd == fd && s_to_zmq (watch->events)) {
            item.events = s_to_zmq (watch->events);
            if (zloop_poller (self->loop, &item, s_on_fd, watch) == 0)
                zloop_poller_set_tolerant (self->loop, &item);
            else
                colugo__error ("avahi poll: cannot watch fd %d", fd);
        }
        watch = (AvahiWatch *) zlistx_next (self->watches);
    }
}

static AvahiWatch *
s_watch_new (const AvahiPoll *api, int fd, AvahiWatchEvent events, AvahiWatchCallback callback,
             void *userdata)
{
    colugo__avahi_poll_t *self = (colugo__avahi_poll_t *) api->userdata;
    AvahiWatch *watch = calloc (1, sizeof *watch);
    if (!watch)
        return NULL;
    *watch = (AvahiWatch){
        .poll = self, .fd = fd, .events = events, .callback = callback, .userdata = userdata};
    if (!zlistx_add_end (self->watches, watch)) {
        free (watch);
        return NULL;
    }
    s_sync_fd (self, fd);
    return watch;
}

static void
s_watch_update (AvahiWatch *watch, AvahiWatchEvent events)
{
    if (watch->events == events)
        return;
    watch->events = events;
    s_sync_fd (watch->poll, watch->fd);
}

static AvahiWatchEvent
s_watch_get_events (AvahiWatch *watch)
{
    return watch->revents;
}

static void
s_watch_free (AvahiWatch *watch)
{
    if (!watch)
        return;
    colugo__avahi_poll_t *self = watch->poll;
    void *handle = zlistx_find (self->watches, watch);
    if (handle)
        zlistx_delete (self->watches, handle);
    watch->dead = true;
    s_sync_fd (self, watch->fd);
    if (colugo__reaper_defer (self->reaper, free, watch))
        colugo__error ("avahi poll: out of memory, leaking a watch");
}

static void
s_on_timeout (void *arg)
{
    AvahiTimeout *timeout = (AvahiTimeout *) arg;
    timeout->timer = 0;
    timeout->callback (timeout, timeout->userdata);
}

//  Avahi's deadlines are wall-clock (gettimeofday); ours are monotonic.
static void
s_timeout_arm (AvahiTimeout *timeout, const struct timeval *tv)
{
    colugo__avahi_poll_t *self = timeout->poll;
    if (timeout->timer)
        colugo__timers_cancel (self->timers, timeout->timer);
    timeout->timer = 0;
    if (!tv)
        return;
    struct timeval now;
    gettimeofday (&now, NULL);
    int64_t delay_us = (int64_t) (tv->tv_sec - now.tv_sec) * 1000000 + (tv->tv_usec - now.tv_usec);
    int64_t delay_ms = delay_us > 0 ? (delay_us + 999) / 1000 : 0;
    timeout->timer =
        colugo__timers_add (self->timers, zclock_mono () + delay_ms, 0, s_on_timeout, timeout);
    if (!timeout->timer)
        colugo__error ("avahi poll: out of memory, a timeout is lost");
}

static AvahiTimeout *
s_timeout_new (const AvahiPoll *api, const struct timeval *tv, AvahiTimeoutCallback callback,
               void *userdata)
{
    colugo__avahi_poll_t *self = (colugo__avahi_poll_t *) api->userdata;
    AvahiTimeout *timeout = calloc (1, sizeof *timeout);
    if (!timeout)
        return NULL;
    *timeout = (AvahiTimeout){.poll = self, .callback = callback, .userdata = userdata};
    s_timeout_arm (timeout, tv);
    self->timeouts++;
    return timeout;
}

static void
s_timeout_update (AvahiTimeout *timeout, const struct timeval *tv)
{
    s_timeout_arm (timeout, tv);
}

static void
s_timeout_free (AvahiTimeout *timeout)
{
    if (!timeout)
        return;
    s_timeout_arm (timeout, NULL);
    timeout->poll->timeouts--;
    free (timeout);
}

colugo__avahi_poll_t *
colugo__avahi_poll_new (zloop_t *loop, colugo__timers_t *timers, colugo__reaper_t *reaper)
{
    colugo__avahi_poll_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->watches = zlistx_new ();
    if (!self->watches) {
        free (self);
        return NULL;
    }
    self->loop = loop;
    self->timers = timers;
    self->reaper = reaper;
    self->api = (AvahiPoll){
        .userdata = self,
        .watch_new = s_watch_new,
        .watch_update = s_watch_update,
        .watch_get_events = s_watch_get_events,
        .watch_free = s_watch_free,
        .timeout_new = s_timeout_new,
        .timeout_update = s_timeout_update,
        .timeout_free = s_timeout_free,
    };
    return self;
}

void
colugo__avahi_poll_destroy (colugo__avahi_poll_t **self_p)
{
    colugo__avahi_poll_t *self = *self_p;
    if (!self)
        return;
    if (zlistx_size (self->watches) || self->timeouts)
        colugo__warn ("avahi poll: %zu watches and %zu timeouts still open at destroy",
                      zlistx_size (self->watches), self->timeouts);
    zlistx_destroy (&self->watches);
    free (self);
    *self_p = NULL;
}

const AvahiPoll *
colugo__avahi_poll_api (colugo__avahi_poll_t *self)
{
    return &self->api;
}
