/*  server.c: a ROUTER socket that answers requests, now or later.

    A request arrives as [routing id][envelope...][empty][payload], whether
    it comes from a plain REQ socket or a Colugo client (whose envelope holds
    its request id). The envelope is kept under a fresh request id until the
    application answers, and sent back in front of the reply.
*/
#include <stdlib.h>
#include "colugo/error.h"
#include "colugo/server.h"
#include "sock.h"
#include "u64map.h"

#define S_BATCH 256

struct colugo_server_t {
    colugo_socket_t base;  //  first: the socket is the server
    colugo_request_fn *handler;
    void *arg;
    colugo__u64map_t pending;  //  request id -> zmsg_t envelope, unanswered
    uint64_t last_id;
};

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    colugo_server_t *self = (colugo_server_t *) arg;
    for (int i = 0; i < S_BATCH && !self->base.dead; i++) {
        if (!(zsock_events (reader) & ZMQ_POLLIN))
            break;
        zmsg_t *message = zmsg_recv (reader);
        if (!message)
            break;
        //  Split off the envelope: every frame up to the first empty one.
        zmsg_t *envelope = zmsg_new ();
        zframe_t *frame;
        bool delimited = false;
        while ((frame = zmsg_pop (message))) {
            bool empty = zframe_size (frame) == 0;
            zmsg_append (envelope, &frame);
            if (empty) {
                delimited = true;
                break;
            }
        }
        zframe_t *payload = zmsg_pop (message);
        if (!delimited || !payload || zmsg_size (message) > 0) {
            colugo__socket_drop (&self->base, "a request that is not [envelope][empty][payload]");
            zframe_destroy (&payload);
            zmsg_destroy (&envelope);
            zmsg_destroy (&message);
            continue;
        }
        zmsg_destroy (&message);
        if (!colugo__socket_size_ok (&self->base, zframe_size (payload))) {
            zframe_destroy (&payload);
            zmsg_destroy (&envelope);
            continue;
        }
        uint64_t id = ++self->last_id;
        if (colugo__u64map_put (&self->pending, id, envelope)) {
            colugo__socket_drop (&self->base, "out of memory");
            zframe_destroy (&payload);
            zmsg_destroy (&envelope);
            continue;
        }
        self->base.stats.received++;
        self->handler (self, id, zframe_data (payload), zframe_size (payload), self->arg);
        zframe_destroy (&payload);
        if (colugo__node_handler_rc (self->base.node))
            break;
    }
    return 0;
}

static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo_server_t *self = (colugo_server_t *) socket->owner;
    zmsg_t *envelope;
    size_t cursor = 0;
    while ((envelope = colugo__u64map_next (&self->pending, &cursor)))
        zmsg_destroy (&envelope);
    colugo__u64map_free (&self->pending);
}

colugo_socket_t *
colugo__server_new (colugo_node_t *node, const char *topic, const char *type,
                    colugo_request_fn *handler, void *arg, int *error)
{
    colugo_server_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error = COLUGO_ENOMEM;
        return NULL;
    }
    self->base.owner = self;
    self->base.on_readable = s_on_readable;
    self->base.destroy_kind = s_destroy_kind;
    self->handler = handler;
    self->arg = arg;
    *error = colugo__socket_init (&self->base, node, COLUGO_SERVER, topic, type);
    if (*error) {
        colugo__socket_free (&self->base);
        return NULL;
    }
    return &self->base;
}

int
colugo_server_reply (colugo_server_t *self, uint64_t request, const void *data, size_t size)
{
    if (!self || (!data && size))
        return COLUGO_EINVAL;
    size_t max = colugo__node_max_message_size (self->base.node);
    if (max && size > max)
        return COLUGO_ETOOBIG;  //  the request stays: answer it with less
    zmsg_t *envelope = colugo__u64map_take (&self->pending, request);
    if (!envelope)
        return request == 0 || request > self->last_id ? COLUGO_ENOTFOUND : COLUGO_EALREADY;
    int rc = 0;
    zframe_t *frame;
    while ((frame = zmsg_pop (envelope))) {
        if (rc == 0
            && zmq_send (self->base.handle, zframe_data (frame), zframe_size (frame),
                         ZMQ_SNDMORE | ZMQ_DONTWAIT)
                   < 0)
            rc = -1;
        zframe_destroy (&frame);
    }
    zmsg_destroy (&envelope);
    if (rc == 0 && zmq_send (self->base.handle, data, size, ZMQ_DONTWAIT) < 0)
        rc = -1;
    if (rc == 0)
        self->base.stats.sent++;
    else {
        //  EHOSTUNREACH: the client went away (or its queue is full).
        self->base.stats.dropped++;
        colugo__debug ("topic '%s': reply to request %llu dropped: %s", self->base.topic,
                       (unsigned long long) request, zmq_strerror (zmq_errno ()));
    }
    return 0;
}

int
colugo_server_drop (colugo_server_t *self, uint64_t request, const char *why)
{
    zmsg_t *envelope = colugo__u64map_take (&self->pending, request);
    if (!envelope)
        return request == 0 || request > self->last_id ? COLUGO_ENOTFOUND : COLUGO_EALREADY;
    zmsg_destroy (&envelope);
    colugo__socket_drop (&self->base, why ? why : "dropped by the application");
    return 0;
}

size_t
colugo_server_pending (colugo_server_t *self)
{
    return self->pending.size;
}

colugo_socket_t *
colugo_server_socket (colugo_server_t *self)
{
    return &self->base;
}

void
colugo_server_destroy (colugo_server_t **self_p)
{
    if (*self_p)
        colugo__node_remove_socket ((*self_p)->base.node, &(*self_p)->base);
    *self_p = NULL;
}
