/*  server.c: a ROUTER socket that answers requests, now or later.

    A request arrives as [routing id][envelope...][empty][payload], whether
    it comes from a plain REQ socket or a Colugo client (whose envelope holds
    its request id). The envelope is kept under a fresh request id until the
    application answers, and sent back in front of the reply.
*/
#include <stdlib.h>
#include <string.h>
#include "colugo/error.h"
#include "colugo/server.h"
#include "sock.h"
#include "u64map.h"

#define S_BATCH 256
#define S_MAX_FRAMES 16  //  routing id, envelope, delimiter and payload

struct colugo_server_t {
    colugo_socket_t base;  //  first: the socket is the server
    colugo_request_fn *handler;
    void *arg;
    colugo__u64map_t pending;  //  request id -> s_envelope_t, unanswered
    uint64_t last_id;
};

//  The frames before the payload (routing id, the client's envelope, the
//  empty delimiter), kept in one allocation until the reply goes out.
typedef struct {
    size_t count;
    size_t sizes [S_MAX_FRAMES];
    uint8_t data [];
} s_envelope_t;

static s_envelope_t *
s_envelope_new (zmq_msg_t *frames, size_t count)
{
    size_t total = 0;
    for (size_t f = 0; f < count; f++)
        total += zmq_msg_size (&frames [f]);
    s_envelope_t *envelope = malloc (sizeof *envelope + total);
    if (!envelope)
        return NULL;
    envelope->count = count;
    uint8_t *at = envelope->data;
    for (size_t f = 0; f < count; f++) {
        envelope->sizes [f] = zmq_msg_size (&frames [f]);
        memcpy (at, zmq_msg_data (&frames [f]), envelope->sizes [f]);
        at += envelope->sizes [f];
    }
    return envelope;
}

//  Sends the envelope's frames, all with more to follow. -1 if refused
//  (EHOSTUNREACH: the client is gone).
static int
s_envelope_send (void *handle, const s_envelope_t *envelope)
{
    const uint8_t *at = envelope->data;
    for (size_t f = 0; f < envelope->count; f++) {
        if (zmq_send (handle, at, envelope->sizes [f], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return -1;  //  only the first frame can be refused
        at += envelope->sizes [f];
    }
    return 0;
}

//  Handles one request already received into frames: [envelope][empty]
//  [payload], the envelope starting with the routing id.
static void
s_request (colugo_server_t *self, zmq_msg_t *frames, size_t count, bool complete)
{
    size_t delimiter = 0;
    for (size_t f = 1; f < count && !delimiter; f++)
        if (zmq_msg_size (&frames [f]) == 0)
            delimiter = f;
    if (!complete || delimiter == 0 || delimiter + 2 != count) {
        colugo__socket_drop (&self->base, "a request that is not [envelope][empty][payload]");
        return;
    }
    zmq_msg_t *payload = &frames [delimiter + 1];
    if (!colugo__socket_size_ok (&self->base, zmq_msg_size (payload)))
        return;
    s_envelope_t *envelope = s_envelope_new (frames, delimiter + 1);
    uint64_t id = ++self->last_id;
    if (!envelope || colugo__u64map_put (&self->pending, id, envelope)) {
        free (envelope);
        colugo__socket_drop (&self->base, "out of memory");
        return;
    }
    self->base.stats.received++;
    self->handler (self, id, zmq_msg_data (payload), zmq_msg_size (payload), self->arg);
}

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    colugo_server_t *self = (colugo_server_t *) arg;
    for (int i = 0; i < S_BATCH && !self->base.dead; i++) {
        //  Straight into zmq_msg_t, no czmq frames: this is every request.
        zmq_msg_t frames [S_MAX_FRAMES];
        size_t count = 0;
        bool more = true;
        while (more) {
            zmq_msg_t scratch;  //  frames past S_MAX_FRAMES: the request is dropped
            zmq_msg_t *frame = count < S_MAX_FRAMES ? &frames [count] : &scratch;
            zmq_msg_init (frame);
            if (zmq_msg_recv (frame, self->base.handle, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (frame);
                break;
            }
            more = zmq_msg_more (frame);
            if (count >= S_MAX_FRAMES)
                zmq_msg_close (frame);
            count++;
        }
        if (count == 0)
            break;  //  nothing more to read
        size_t kept = count < S_MAX_FRAMES ? count : S_MAX_FRAMES;
        s_request (self, frames, kept, count <= S_MAX_FRAMES);
        for (size_t f = 0; f < kept; f++)
            zmq_msg_close (&frames [f]);
        if (colugo__env_handler_rc (self->base.env))
            break;
    }
    return 0;
}

static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo_server_t *self = (colugo_server_t *) socket->owner;
    s_envelope_t *envelope;
    size_t cursor = 0;
    while ((envelope = colugo__u64map_next (&self->pending, &cursor)))
        free (envelope);
    colugo__u64map_free (&self->pending);
}

colugo_socket_t *
colugo__server_new (colugo__env_t *env, const char *topic, const char *type,
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
    *error = colugo__socket_init (&self->base, env, COLUGO_SERVER, topic, type);
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
    size_t max = self->base.env->max_message_size;
    if (max && size > max)
        return COLUGO_ETOOBIG;  //  the request stays: answer it with less
    s_envelope_t *envelope = colugo__u64map_take (&self->pending, request);
    if (!envelope)
        return request == 0 || request > self->last_id ? COLUGO_ENOTFOUND : COLUGO_EALREADY;
    int rc = s_envelope_send (self->base.handle, envelope);
    free (envelope);
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
    s_envelope_t *envelope = colugo__u64map_take (&self->pending, request);
    if (!envelope)
        return request == 0 || request > self->last_id ? COLUGO_ENOTFOUND : COLUGO_EALREADY;
    free (envelope);
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
        colugo__socket_close (&(*self_p)->base);
    *self_p = NULL;
}
