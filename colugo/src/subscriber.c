/*  subscriber.c: a SUB socket that subscribes to everything its publishers
    send, and hands each message to the application.
*/
#include <stdlib.h>
#include "colugo/error.h"
#include "colugo/subscriber.h"
#include "sock.h"

//  Messages read per wake-up: enough to amortise the poll (measured: at
//  256 the poll cost 10-20% of the throughput of 16-byte messages), few
//  enough to let timers and other sockets in (about a millisecond).
#define S_BATCH 2048

struct colugo_subscriber_t {
    colugo_socket_t base;  //  first: the socket is the subscriber
    colugo_message_fn *handler;
    void *arg;
};

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    colugo_subscriber_t *self = (colugo_subscriber_t *) arg;
    zmq_msg_t message;
    zmq_msg_init (&message);
    for (int i = 0; i < S_BATCH; i++) {
        //  zmq_msg_recv reuses the message: no init and close per message.
        if (zmq_msg_recv (&message, self->base.handle, ZMQ_DONTWAIT) < 0)
            break;
        if (zmq_msg_more (&message)) {
            //  A foreign publisher sent several frames: the first one is
            //  the payload (our wire format); the rest is dropped, counted.
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            while (zmq_msg_recv (&extra, self->base.handle, ZMQ_DONTWAIT) >= 0
                   && zmq_msg_more (&extra))
                ;
            zmq_msg_close (&extra);
            colugo__socket_drop (&self->base, "extra frames after the payload");
        }
        if (!colugo__socket_size_ok (&self->base, zmq_msg_size (&message)))
            continue;
        self->base.stats.received++;
        self->handler (self, self->base.topic, zmq_msg_data (&message), zmq_msg_size (&message),
                       self->arg);
        if (self->base.dead || colugo__env_handler_rc (self->base.env))
            break;  //  closed or stopped from the handler
    }
    zmq_msg_close (&message);
    return 0;
}

colugo_socket_t *
colugo__subscriber_new (colugo__env_t *env, const char *topic, const char *type,
                        colugo_message_fn *handler, void *arg, int *error)
{
    colugo_subscriber_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error = COLUGO_ENOMEM;
        return NULL;
    }
    self->base.owner = self;
    self->base.on_readable = s_on_readable;
    self->handler = handler;
    self->arg = arg;
    *error = colugo__socket_init (&self->base, env, COLUGO_SUBSCRIBER, topic, type);
    if (*error) {
        colugo__socket_free (&self->base);
        return NULL;
    }
    return &self->base;
}

colugo_socket_t *
colugo_subscriber_socket (colugo_subscriber_t *self)
{
    return &self->base;
}

void
colugo_subscriber_destroy (colugo_subscriber_t **self_p)
{
    if (*self_p)
        colugo__socket_close (&(*self_p)->base);
    *self_p = NULL;
}
