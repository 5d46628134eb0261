/*  reaper.c: deferred frees, run from an eventfd poller on the loop. */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "logging.h"
#include "reaper.h"

typedef struct s_item {
    struct s_item *next;
    colugo__free_fn *free_fn;
    void *object;
} s_item_t;

struct colugo__reaper {
    zloop_t *loop;
    int fd;           //  eventfd, readable while items wait
    s_item_t *items;  //  waiting, newest first
    bool signalled;   //  the eventfd holds a count
};

static void
s_run (colugo__reaper_t *self)
{
    //  Take the list first: frees may defer more, for the next round.
    s_item_t *item = self->items;
    self->items = NULL;
    while (item) {
        s_item_t *next = item->next;
        item->free_fn (item->object);
        free (item);
        item = next;
    }
}

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    colugo__reaper_t *self = (colugo__reaper_t *) arg;
    uint64_t count;
    if (read (self->fd, &count, sizeof count) < 0) {
        //  Nothing to read is fine (EAGAIN); anything else we cannot fix.
    }
    self->signalled = false;
    s_run (self);
    return 0;
}

colugo__reaper_t *
colugo__reaper_new (zloop_t *loop)
{
    colugo__reaper_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    zmq_pollitem_t item = {NULL, self->fd, ZMQ_POLLIN, 0};
    if (self->fd < 0 || zloop_poller (loop, &item, s_on_ready, self)) {
        if (self->fd >= 0)
            close (self->fd);
        free (self);
        return NULL;
    }
    zloop_poller_set_tolerant (loop, &item);
    return self;
}

void
colugo__reaper_destroy (colugo__reaper_t **self_p)
{
    colugo__reaper_t *self = *self_p;
    if (!self)
        return;
    while (self->items)
        s_run (self);
    zmq_pollitem_t item = {NULL, self->fd, 0, 0};
    zloop_poller_end (self->loop, &item);
    close (self->fd);
    free (self);
    *self_p = NULL;
}

int
colugo__reaper_defer (colugo__reaper_t *self, colugo__free_fn *free_fn, void *object)
{
    s_item_t *item = malloc (sizeof *item);
    if (!item)
        return -1;
    *item = (s_item_t){self->items, free_fn, object};
    self->items = item;
    if (!self->signalled) {
        uint64_t one = 1;
        if (write (self->fd, &one, sizeof one) == sizeof one)
            self->signalled = true;
        else
            colugo__warn ("reaper: cannot signal its eventfd");
    }
    return 0;
}
