/*  client.c: requests with per-request timeouts, several in flight.

    One DEALER socket connects to every server of the topic. ZMQ_IMMEDIATE
    keeps requests off servers whose connection is not up, and libzmq's
    load balancing spreads them round-robin over the ones that are. Each
    request travels as [request id][empty][payload]: REP and ROUTER servers
    echo the frames before the empty one, so the reply names its request and
    any number can be in flight. A request that finds no server up waits in
    a queue, in order, until one connects or its timeout runs out.
*/
#include <stdlib.h>
#include <string.h>
#include "colugo/client.h"
#include "colugo/error.h"
#include "sock.h"
#include "u64map.h"

#define S_BATCH 256
#define S_FLUSH_RETRY_MS 2  //  a handshake reported before its pipe is attached

typedef struct {
    uint64_t id;
    colugo_client_t *client;
    colugo_reply_fn *on_reply;
    colugo_timeout_fn *on_timeout;
    void *arg;
    uint64_t timer;  //  its timeout in the node's timer heap
    void *data;      //  a copy, while it waits in the queue
    size_t size;
    void *queued;  //  handle in the queue, NULL once sent
} s_request_t;

struct colugo_client_t {
    colugo_socket_t base;       //  first: the socket is the client
    colugo__u64map_t requests;  //  id -> s_request_t, in flight or queued
    zlistx_t *queue;            //  s_request_t waiting for a server, oldest first
    uint64_t last_id;
    uint64_t flush_retry;  //  timer that tries the queue again
};

static void
s_request_free (s_request_t *request)
{
    colugo_client_t *client = request->client;
    if (request->timer)
        colugo__timers_cancel (client->base.env->timers, request->timer);
    if (request->queued)
        zlistx_delete (client->queue, request->queued);
    free (request->data);
    free (request);
}

//  Returns 0 if sent, 1 if no server can take it now, -1 on error.
static int
s_transmit (colugo_client_t *self, uint64_t id, const void *data, size_t size)
{
    if (zmq_send (self->base.handle, &id, sizeof id, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        return zmq_errno () == EAGAIN ? 1 : -1;
    //  The first frame is in: the rest of the message cannot be refused.
    zmq_send (self->base.handle, "", 0, ZMQ_SNDMORE);
    zmq_send (self->base.handle, data, size, 0);
    self->base.stats.sent++;
    return 0;
}

static void s_flush (colugo_client_t *self);

static void
s_on_flush_retry (void *arg)
{
    colugo_client_t *self = (colugo_client_t *) arg;
    self->flush_retry = 0;
    s_flush (self);
}

static void
s_flush (colugo_client_t *self)
{
    s_request_t *request;
    while ((request = (s_request_t *) zlistx_first (self->queue))) {
        int rc = s_transmit (self, request->id, request->data, request->size);
        if (rc == 1) {
            if (self->base.connected && !self->flush_retry)
                self->flush_retry =
                    colugo__timers_add (self->base.env->timers, zclock_mono () + S_FLUSH_RETRY_MS,
                                        0, s_on_flush_retry, self);
            return;
        }
        zlistx_delete (self->queue, request->queued);
        request->queued = NULL;
        free (request->data);
        request->data = NULL;
        if (rc < 0)
            colugo__warn ("topic '%s': cannot send a request: %s; it will time out",
                          self->base.topic, zmq_strerror (zmq_errno ()));
    }
}

static void
s_on_peer_change (colugo_socket_t *socket, colugo__peer_t *peer)
{
    if (peer->connected)
        s_flush ((colugo_client_t *) socket->owner);
}

static void
s_on_timeout (void *arg)
{
    s_request_t *request = (s_request_t *) arg;
    colugo_client_t *self = request->client;
    request->timer = 0;
    colugo__u64map_take (&self->requests, request->id);
    self->base.stats.timeouts++;
    colugo__debug ("topic '%s': request %llu timed out", self->base.topic,
                   (unsigned long long) request->id);
    colugo_timeout_fn *on_timeout = request->on_timeout;
    void *user_arg = request->arg;
    s_request_free (request);
    if (on_timeout)
        on_timeout (self, user_arg);
}

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    colugo_client_t *self = (colugo_client_t *) arg;
    for (int i = 0; i < S_BATCH && !self->base.dead; i++) {
        zmq_msg_t frames [3];
        int count = 0;
        bool more = true;
        while (more) {
            zmq_msg_t scratch;  //  frames past the third: dropped
            zmq_msg_t *frame = count < 3 ? &frames [count] : &scratch;
            zmq_msg_init (frame);
            if (zmq_msg_recv (frame, self->base.handle, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (frame);
                break;
            }
            more = zmq_msg_more (frame);
            if (count >= 3)
                zmq_msg_close (frame);
            count++;
        }
        if (count == 0)
            break;
        int kept = count < 3 ? count : 3;
        uint64_t id = 0;
        if (count != 3 || zmq_msg_size (&frames [0]) != sizeof id || zmq_msg_size (&frames [1]))
            colugo__socket_drop (&self->base, "a reply that is not [request id][empty][payload]");
        else {
            memcpy (&id, zmq_msg_data (&frames [0]), sizeof id);
            s_request_t *request = colugo__u64map_get (&self->requests, id);
            if (request && !colugo__socket_size_ok (&self->base, zmq_msg_size (&frames [2])))
                request = NULL;  //  dropped and counted: it will time out
            else if (request)
                colugo__u64map_take (&self->requests, id);
            else {
                //  Its request timed out or was cancelled: expected, counted.
                self->base.stats.dropped++;
                colugo__debug ("topic '%s': late reply to request %llu dropped", self->base.topic,
                               (unsigned long long) id);
            }
            if (request) {
                self->base.stats.received++;
                colugo_reply_fn *on_reply = request->on_reply;
                void *user_arg = request->arg;
                s_request_free (request);
                if (on_reply)
                    on_reply (self, zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]),
                              user_arg);
            }
        }
        for (int f = 0; f < kept; f++)
            zmq_msg_close (&frames [f]);
        if (colugo__env_handler_rc (self->base.env))
            break;
    }
    return 0;
}

static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo_client_t *self = (colugo_client_t *) socket->owner;
    s_request_t *request;
    size_t cursor = 0;
    while ((request = colugo__u64map_next (&self->requests, &cursor)))
        s_request_free (request);
    colugo__u64map_free (&self->requests);
    if (self->flush_retry)
        colugo__timers_cancel (socket->env->timers, self->flush_retry);
    zlistx_destroy (&self->queue);
}

colugo_socket_t *
colugo__client_new (colugo__env_t *env, const char *topic, const char *type, int *error)
{
    colugo_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error = COLUGO_ENOMEM;
        return NULL;
    }
    self->base.owner = self;
    self->base.on_readable = s_on_readable;
    self->base.on_peer_change = s_on_peer_change;
    self->base.destroy_kind = s_destroy_kind;
    self->queue = zlistx_new ();
    *error = self->queue ? colugo__socket_init (&self->base, env, COLUGO_CLIENT, topic, type)
                         : COLUGO_ENOMEM;
    if (*error) {
        colugo__socket_free (&self->base);
        return NULL;
    }
    return &self->base;
}

int64_t
colugo_client_send (colugo_client_t *self, const void *data, size_t size, colugo_reply_fn *on_reply,
                    colugo_timeout_fn *on_timeout, uint32_t timeout_ms, void *arg)
{
    if (!self || (!data && size))
        return COLUGO_EINVAL;
    if (self->base.dead)
        return COLUGO_ESTATE;
    size_t max = self->base.env->max_message_size;
    if (max && size > max)
        return COLUGO_ETOOBIG;
    s_request_t *request = calloc (1, sizeof *request);
    if (!request)
        return COLUGO_ENOMEM;
    *request = (s_request_t){.id = ++self->last_id,
                             .client = self,
                             .on_reply = on_reply,
                             .on_timeout = on_timeout,
                             .arg = arg};
    if (colugo__u64map_put (&self->requests, request->id, request)) {
        free (request);
        return COLUGO_ENOMEM;
    }
    //  Keep the order of requests: nothing overtakes one that waits.
    int rc = zlistx_size (self->queue) ? 1 : s_transmit (self, request->id, data, size);
    if (rc == 1) {
        request->data = malloc (size ? size : 1);
        if (request->data) {
            memcpy (request->data, data, size);
            request->size = size;
            request->queued = zlistx_add_end (self->queue, request);
        }
        if (!request->queued) {
            colugo__u64map_take (&self->requests, request->id);
            s_request_free (request);
            return COLUGO_ENOMEM;
        }
    }
    else if (rc < 0) {
        colugo__warn ("topic '%s': cannot send a request: %s", self->base.topic,
                      zmq_strerror (zmq_errno ()));
        colugo__u64map_take (&self->requests, request->id);
        s_request_free (request);
        return COLUGO_EZMQ;
    }
    uint32_t timeout = timeout_ms ? timeout_ms : COLUGO_DEFAULT_TIMEOUT_MS;
    request->timer = colugo__timers_add (self->base.env->timers, zclock_mono () + timeout, 0,
                                         s_on_timeout, request);
    if (!request->timer) {
        colugo__u64map_take (&self->requests, request->id);
        s_request_free (request);
        return COLUGO_ENOMEM;
    }
    return (int64_t) request->id;
}

int
colugo_client_cancel (colugo_client_t *self, int64_t request_id)
{
    s_request_t *request =
        request_id > 0 ? colugo__u64map_take (&self->requests, (uint64_t) request_id) : NULL;
    if (!request)
        return COLUGO_ENOTFOUND;
    s_request_free (request);
    return 0;
}

size_t
colugo_client_pending (colugo_client_t *self)
{
    return self->requests.size;
}

colugo_socket_t *
colugo_client_socket (colugo_client_t *self)
{
    return &self->base;
}

void
colugo_client_destroy (colugo_client_t **self_p)
{
    if (*self_p)
        colugo__socket_close (&(*self_p)->base);
    *self_p = NULL;
}
