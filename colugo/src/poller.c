/*  poller.c: the node's ZeroMQ sockets on one epoll set (see poller.h).
*/
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "logging.h"
#include "poller.h"
#include "u64map.h"

#define S_EVENTS_MAX 256  //  epoll events taken per pass

typedef struct {
    void *socket;
    int fd;  //  its ZMQ_FD
    colugo__poller_fn *handler;
    void *arg;
    bool queued;   //  on the ready list
    bool removed;  //  waits in the graveyard
} s_entry_t;

//  A list of entries, grown as needed.
typedef struct {
    s_entry_t **items;
    size_t count, capacity;
} s_list_t;

struct colugo__poller {
    zloop_t *loop;
    int epoll_fd;
    int wake_fd;              //  eventfd, readable while the ready list is not empty
    char wake_marker;         //  its epoll data
    colugo__u64map_t by_key;  //  (uintptr_t) socket -> s_entry_t
    s_list_t ready;           //  to serve on the next pass
    s_list_t serving;         //  this pass's
    s_list_t graveyard;       //  removed, freed once unqueued and not served
};

static bool
s_list_push (s_list_t *list, s_entry_t *entry)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        s_entry_t **items = (s_entry_t **) realloc (list->items, capacity * sizeof *items);
        if (!items)
            return false;
        list->items = items;
        list->capacity = capacity;
    }
    list->items [list->count++] = entry;
    return true;
}

static uint32_t
s_events (void *socket)
{
    uint32_t events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size))
        return 0;
    return events;
}

//  Puts an entry with input on the ready list, waking the loop for it.
static void
s_queue (colugo__poller_t *self, s_entry_t *entry)
{
    if (entry->queued || entry->removed)
        return;
    if (!s_list_push (&self->ready, entry)) {
        colugo__warn ("out of memory: a socket with input waits for its next signal");
        return;
    }
    entry->queued = true;
    if (self->ready.count == 1) {
        uint64_t one = 1;
        if (write (self->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            colugo__warn ("cannot wake the loop: %s", strerror (errno));
    }
}

static void
s_sweep (colugo__poller_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->graveyard.count; i++) {
        s_entry_t *entry = self->graveyard.items [i];
        if (entry->queued)
            self->graveyard.items [kept++] = entry;
        else
            free (entry);
    }
    self->graveyard.count = kept;
}

static int
s_on_epoll (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    colugo__poller_t *self = (colugo__poller_t *) arg;
    //  This pass serves what was left ready, then what signalled.
    s_list_t swap = self->serving;
    self->serving = self->ready;
    self->ready = swap;
    self->ready.count = 0;
    struct epoll_event events [S_EVENTS_MAX];
    int count = epoll_wait (self->epoll_fd, events, S_EVENTS_MAX, 0);
    for (int i = 0; i < count; i++) {
        if (events [i].data.ptr == &self->wake_marker) {
            uint64_t value;
            if (read (self->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
                colugo__warn ("cannot read the loop's wake-up: %s", strerror (errno));
            continue;
        }
        s_entry_t *entry = (s_entry_t *) events [i].data.ptr;
        if (entry->queued || entry->removed)
            continue;
        if (s_list_push (&self->serving, entry))
            entry->queued = true;
    }
    int rc = 0;
    for (size_t i = 0; i < self->serving.count; i++) {
        s_entry_t *entry = self->serving.items [i];
        entry->queued = false;
        if (entry->removed || rc)
            continue;
        if (!(s_events (entry->socket) & ZMQ_POLLIN))
            continue;
        rc = entry->handler (entry->arg);
        if (!entry->removed && (s_events (entry->socket) & ZMQ_POLLIN))
            s_queue (self, entry);
    }
    //  Left unserved when a handler ended the loop: served on its next start.
    for (size_t i = 0; rc && i < self->serving.count; i++)
        if (!self->serving.items [i]->removed)
            s_queue (self, self->serving.items [i]);
    self->serving.count = 0;
    s_sweep (self);
    return rc;
}

colugo__poller_t *
colugo__poller_new (zloop_t *loop)
{
    colugo__poller_t *self = (colugo__poller_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &self->wake_marker};
    zmq_pollitem_t item = {NULL, self->epoll_fd, ZMQ_POLLIN, 0};
    if (self->epoll_fd < 0 || self->wake_fd < 0
        || epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->wake_fd, &wake)
        || zloop_poller (loop, &item, s_on_epoll, self)) {
        if (self->epoll_fd >= 0)
            close (self->epoll_fd);
        if (self->wake_fd >= 0)
            close (self->wake_fd);
        free (self);
        return NULL;
    }
    zloop_poller_set_tolerant (loop, &item);
    return self;
}

void
colugo__poller_destroy (colugo__poller_t **self_p)
{
    colugo__poller_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zmq_pollitem_t item = {NULL, self->epoll_fd, 0, 0};
    zloop_poller_end (self->loop, &item);
    s_entry_t *entry;
    for (size_t cursor = 0; (entry = (s_entry_t *) colugo__u64map_next (&self->by_key, &cursor));)
        free (entry);
    colugo__u64map_free (&self->by_key);
    for (size_t i = 0; i < self->graveyard.count; i++)
        free (self->graveyard.items [i]);
    free (self->graveyard.items);
    free (self->ready.items);
    free (self->serving.items);
    close (self->epoll_fd);
    close (self->wake_fd);
    free (self);
}

int
colugo__poller_add (colugo__poller_t *self, void *socket, colugo__poller_fn *handler, void *arg)
{
    uint64_t key = (uint64_t) (uintptr_t) socket;
    if (colugo__u64map_get (&self->by_key, key))
        return -1;
    s_entry_t *entry = (s_entry_t *) calloc (1, sizeof *entry);
    size_t size = sizeof entry->fd;
    if (!entry || zmq_getsockopt (socket, ZMQ_FD, &entry->fd, &size)) {
        free (entry);
        return -1;
    }
    entry->socket = socket;
    entry->handler = handler;
    entry->arg = arg;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = entry};
    if (colugo__u64map_put (&self->by_key, key, entry)) {
        free (entry);
        return -1;
    }
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, entry->fd, &event)) {
        colugo__u64map_take (&self->by_key, key);
        free (entry);
        return -1;
    }
    //  What happened before (a connect, a bind) may have used the signal up.
    s_queue (self, entry);
    return 0;
}

void
colugo__poller_remove (colugo__poller_t *self, void *socket)
{
    s_entry_t *entry =
        (s_entry_t *) colugo__u64map_take (&self->by_key, (uint64_t) (uintptr_t) socket);
    if (!entry)
        return;
    epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, entry->fd, NULL);
    entry->removed = true;
    //  Freed by the next sweep, once no list of the loop's holds it.
    if (!s_list_push (&self->graveyard, entry) && !entry->queued)
        free (entry);  //  out of memory, but nothing refers to it
}

void
colugo__poller_touch (colugo__poller_t *self, void *socket)
{
    s_entry_t *entry =
        (s_entry_t *) colugo__u64map_get (&self->by_key, (uint64_t) (uintptr_t) socket);
    if (entry && !entry->queued && (s_events (socket) & ZMQ_POLLIN))
        s_queue (self, entry);
}
