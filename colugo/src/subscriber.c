/*  subscriber.c: a SUB socket that subscribes to everything its publishers
    send, and hands each message to the application.

    The queue is ours, not libzmq's. libzmq's receive pipe is unbounded
    (socket.c: a pipe that fills stops its engine reading, and libzmq 4.3.4
    then aborts on a heartbeat), so the subscriber drains it into a queue of
    its own, bounded by the node's queue limit, whenever the loop runs: when
    the application is slower than its publishers, the oldest messages are
    dropped and counted here, instead of vanishing at the publisher. The
    application's callbacks run for a bounded time per wake-up, so timers
    and other sockets get their turn even when each callback is slow.
*/
#include <stdlib.h>
#include "colugo/error.h"
#include "colugo/subscriber.h"
#include "sock.h"
#include "trunk.h"

//  Messages read from libzmq per drain: enough to amortise the poll, and a
//  bound on the drain itself against a flood.
#define S_DRAIN_MAX 8192
//  Messages the ring holds at first (it grows to the queue limit).
#define S_RING_START 16

struct colugo_subscriber_t {
    colugo_socket_t base;  //  first: the socket is the subscriber
    colugo_message_fn *handler;
    void *arg;
    zmq_msg_t *queue;      //  ring of messages read, not yet delivered
    size_t capacity;       //  grows, doubling, up to limit
    size_t limit;          //  the node's queue limit
    size_t head;           //  oldest
    size_t count;          //  in the ring
    uint64_t resume;       //  timer that delivers what a batch left
    uint64_t queue_drops;  //  since the last log line
    uint64_t taken;        //  messages put in the ring, ever
    uint64_t done;         //  ... and out of it since: delivered or dropped
    size_t own;            //  peers dialled on its own socket, not ridden to (trunk.h)
};

//  Marks a peer dialled on the subscriber's own socket.
static char s_own;

//  Doubles the ring (the messages move, in order): a quiet subscriber keeps
//  a small one, and only a backlog takes the whole queue limit.
static bool
s_grow (colugo_subscriber_t *self)
{
    size_t capacity = self->capacity * 2 < self->limit ? self->capacity * 2 : self->limit;
    zmq_msg_t *queue = malloc (capacity * sizeof *queue);
    if (!queue)
        return false;
    for (size_t i = 0; i < capacity; i++)
        zmq_msg_init (&queue [i]);
    for (size_t i = 0; i < self->count; i++)
        zmq_msg_move (&queue [i], &self->queue [(self->head + i) % self->capacity]);
    for (size_t i = 0; i < self->capacity; i++)
        zmq_msg_close (&self->queue [i]);
    free (self->queue);
    self->queue = queue;
    self->capacity = capacity;
    self->head = 0;
    return true;
}

//  Moves a message into the ring; when the ring is full at the queue
//  limit, the oldest message goes (counted as dropped).
static void
s_push (colugo_subscriber_t *self, zmq_msg_t *message)
{
    if (self->count == self->capacity && self->capacity < self->limit)
        s_grow (self);
    if (self->count == self->capacity) {
        //  Full at the limit: the oldest goes for the newest.
        zmq_msg_close (&self->queue [self->head]);
        zmq_msg_init (&self->queue [self->head]);
        self->head = (self->head + 1) % self->capacity;
        self->count--;
        self->queue_drops++;
        self->done++;
    }
    zmq_msg_move (&self->queue [(self->head + self->count) % self->capacity], message);
    self->count++;
    self->taken++;
}

static void s_count_drops (colugo_subscriber_t *self);

//  Reads what libzmq holds into the ring; when the ring is full at the
//  queue limit, the oldest message goes (counted as dropped). Returns how
//  many it read.
static int
s_drain (colugo_subscriber_t *self)
{
    if (self->own == 0)
        return 0;  //  nothing to read there (a look costs libzmq a poll ())
    zmq_msg_t message;
    zmq_msg_init (&message);
    int taken = 0;
    for (; taken < S_DRAIN_MAX; taken++) {
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
        s_push (self, &message);
    }
    zmq_msg_close (&message);
    s_count_drops (self);
    return taken;
}

static void
s_count_drops (colugo_subscriber_t *self)
{
    if (self->queue_drops) {
        self->base.stats.dropped += self->queue_drops - 1;
        colugo__socket_drop (&self->base, "the queue was full: the application is slower than "
                                          "its publishers (oldest messages dropped)");
        self->queue_drops = 0;
    }
}

static void s_on_resume (void *arg);

//  Delivers from the ring for at most COLUGO__BATCH_MS, draining libzmq first
//  and whenever the ring runs empty; what is left is delivered from a timer
//  due a millisecond later, once the loop has let the timers that are due,
//  and other sockets, in. So libzmq's pipe holds at most what arrives
//  during one batch.
static void
s_deliver (colugo_subscriber_t *self)
{
    int64_t deadline = colugo__coarse_ms () + COLUGO__BATCH_MS;
    s_drain (self);
    zmq_msg_t message;
    zmq_msg_init (&message);
    while (self->count && !self->base.dead && !colugo__env_handler_rc (self->base.env)) {
        //  Out of the ring first: the handler may let go of a peer, which
        //  reads libzmq into the ring (s_before_hang_up).
        zmq_msg_move (&message, &self->queue [self->head]);
        self->head = (self->head + 1) % self->capacity;
        self->count--;
        self->done++;
        self->base.stats.received++;
        self->handler (self, self->base.topic, zmq_msg_data (&message), zmq_msg_size (&message),
                       self->arg);
        zmq_msg_close (&message);
        if (self->base.dead)
            return;  //  closed from the handler: the ring goes with it
        zmq_msg_init (&message);
        if (self->count == 0)
            s_drain (self);
        if (colugo__coarse_ms () >= deadline)
            break;
    }
    zmq_msg_close (&message);  //  empty
    if (self->count && !self->base.dead && !self->resume)
        self->resume =
            colugo__timers_add (self->base.env->timers, zclock_mono () + 1, 0, s_on_resume, self);
}

static void
s_on_resume (void *arg)
{
    colugo_subscriber_t *self = (colugo_subscriber_t *) arg;
    self->resume = 0;
    s_deliver (self);
    //  Read outside the reader: libzmq may hold more (the poller looks
    //  again after the reader itself), if it has peers of its own.
    if (!self->base.dead && self->own)
        colugo__socket_touch (&self->base);
}

static int
s_on_readable (void *arg)
{
    s_deliver ((colugo_subscriber_t *) arg);
    return 0;
}

//  A publisher's connection is about to be hung up: what libzmq still holds
//  of it would be dropped, so it moves into the ring first (where a full
//  ring counts what it cannot keep), to be delivered from a timer.
static void
s_before_hang_up (colugo_socket_t *socket)
{
    colugo_subscriber_t *self = (colugo_subscriber_t *) socket->owner;
    if (!self->queue)
        return;
    //  Bounded: other publishers may keep sending meanwhile.
    size_t rounds = self->limit / S_DRAIN_MAX + 2;
    for (size_t i = 0; i < rounds && s_drain (self) == S_DRAIN_MAX; i++)
        ;
    if (self->count && !self->resume)
        self->resume = colugo__timers_add (socket->env->timers, 0, 0, s_on_resume, self);
}

void
colugo__subscriber_take (colugo_socket_t *socket, zmq_msg_t *message)
{
    colugo_subscriber_t *self = (colugo_subscriber_t *) socket->owner;
    if (!self->queue)
        return;
    s_push (self, message);
    s_count_drops (self);
    if (!self->resume)
        self->resume = colugo__timers_add (socket->env->timers, 0, 0, s_on_resume, self);
}

uint64_t
colugo__subscriber_mark (colugo_socket_t *socket)
{
    return ((colugo_subscriber_t *) socket->owner)->taken;
}

bool
colugo__subscriber_done (colugo_socket_t *socket, uint64_t mark)
{
    return ((colugo_subscriber_t *) socket->owner)->done >= mark;
}

//  Publishers with a trunk are ridden to (trunk.h), others dialled here.
static int
s_dial (colugo_socket_t *socket, colugo__peer_t *peer, bool connect)
{
    colugo_subscriber_t *self = (colugo_subscriber_t *) socket->owner;
    if (!connect && peer->kind_data == &s_own) {
        peer->kind_data = NULL;
        self->own--;
        return 0;
    }
    int rc = socket->env->trunk && peer->kind_data != &s_own
                 ? colugo__trunk_ride (socket->env->trunk, socket, peer, connect)
                 : 0;
    if (rc == 0 && connect && peer->kind_data != &s_own) {
        peer->kind_data = &s_own;
        self->own++;
    }
    return rc;
}

static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo_subscriber_t *self = (colugo_subscriber_t *) socket->owner;
    //  Its rides go (its peers are freed with it, never hung up).
    for (colugo__peer_t *peer = socket->peers ? (colugo__peer_t *) zhashx_first (socket->peers)
                                              : NULL;
         peer; peer = (colugo__peer_t *) zhashx_next (socket->peers))
        s_dial (socket, peer, false);
    if (self->resume)
        colugo__timers_cancel (socket->env->timers, self->resume);
    self->resume = 0;
    for (size_t i = 0; self->queue && i < self->capacity; i++)
        zmq_msg_close (&self->queue [i]);
    free (self->queue);
    self->queue = NULL;
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
    self->base.before_hang_up = s_before_hang_up;
    self->base.destroy_kind = s_destroy_kind;
    self->base.dial = s_dial;
    self->handler = handler;
    self->arg = arg;
    self->limit = env->queue_limit > 0 ? (size_t) env->queue_limit : 1;
    self->capacity = self->limit < S_RING_START ? self->limit : S_RING_START;
    self->queue = calloc (self->capacity, sizeof *self->queue);
    for (size_t i = 0; self->queue && i < self->capacity; i++)
        zmq_msg_init (&self->queue [i]);
    *error = self->queue ? colugo__socket_init (&self->base, env, COLUGO_SUBSCRIBER, topic, type)
                         : COLUGO_ENOMEM;
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
