/*  server.c: a ROUTER socket that answers requests, now or later.

    A request arrives as [routing id][envelope...][empty][payload], whether
    it comes from a plain REQ socket or a Colugo client (whose envelope holds
    its request id). The envelope is kept under a fresh request id until the
    application answers, and sent back in front of the reply.

    What waits for an answer is bounded: at most max_pending requests (more
    are dropped unseen), each for at most expiry_ms (then dropped), and only
    while the connection it came on is open (each request keeps the
    connection's fd, ZMQ_SRCFD; when the socket says that connection closed,
    its requests go). What became of the last S_OUTCOMES ids is remembered,
    so that a late answer to an expired request is told so.
*/
#include <stdlib.h>
#include <string.h>
#include "colugo/error.h"
#include "colugo/server.h"
#include "sock.h"
#include "u64map.h"

#define S_MAX_FRAMES 16  //  routing id, envelope, delimiter and payload
//  What a request's envelope may hold (routing ids and the client's frames
//  before the delimiter, kept until the answer): routing ids are at most
//  255 bytes, a Colugo client's is 8. Larger ones are dropped, so the table
//  of unanswered requests stays within max_pending times this.
#define S_ENVELOPE_MAX 4096
#define S_OUTCOMES (1 << 16)  //  ids whose fate is remembered (2 bits each)

//  What became of a request that no longer waits (see s_outcome).
enum { S_ANSWERED = 0, S_EXPIRED = 1, S_ABANDONED = 2 };

//  An unanswered request: the frames before the payload (routing id, the
//  client's envelope, the empty delimiter), kept in one allocation until
//  the reply goes out, in a list by age.
typedef struct s_envelope {
    uint64_t id;
    int fd;                    //  of the connection it came on (ZMQ_SRCFD)
    int64_t arrived;           //  monotonic ms
    struct s_envelope *newer;  //  the list by age
    struct s_envelope *older;
    size_t count;
    size_t sizes [S_MAX_FRAMES];
    uint8_t data [];
} s_envelope_t;

struct colugo_server_t {
    colugo_socket_t base;  //  first: the socket is the server
    colugo_request_fn *handler;
    void *arg;
    colugo__u64map_t pending;  //  request id -> s_envelope_t, unanswered
    s_envelope_t *oldest;      //  the same, by age
    s_envelope_t *newest;
    uint64_t last_id;
    size_t max_pending;
    uint32_t expiry_ms;
    uint64_t expiry_timer;  //  for the oldest, 0 if none waits
    uint8_t *outcomes;      //  S_OUTCOMES x 2 bits, by id
    colugo_server_drops_t drops;
};

static s_envelope_t *
s_envelope_new (zmq_msg_t *frames, size_t count)
{
    size_t total = 0;
    for (size_t f = 0; f < count; f++)
        total += zmq_msg_size (&frames [f]);
    s_envelope_t *envelope = malloc (sizeof *envelope + total);
    if (!envelope)
        return NULL;
    //  The delimiter came off the wire: a ROUTER makes up the routing id
    //  frame, and that of a connection's first message has no fd.
    *envelope = (s_envelope_t){.fd = zmq_msg_get (&frames [count - 1], ZMQ_SRCFD),
                               .arrived = zclock_mono (),
                               .count = count};
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

static void
s_set_outcome (colugo_server_t *self, uint64_t id, int outcome)
{
    size_t slot = (size_t) (id % S_OUTCOMES);
    uint8_t *byte = &self->outcomes [slot / 4];
    int shift = (int) (slot % 4) * 2;
    *byte = (uint8_t) ((*byte & ~(3 << shift)) | outcome << shift);
}

//  What became of a request that is not pending: S_ANSWERED also stands
//  for dropped by the application, and for ids too old to remember.
static int
s_outcome (const colugo_server_t *self, uint64_t id)
{
    if (self->last_id - id >= S_OUTCOMES)
        return S_ANSWERED;
    size_t slot = (size_t) (id % S_OUTCOMES);
    return self->outcomes [slot / 4] >> (slot % 4) * 2 & 3;
}

//  Removes a request from the table.
static void
s_unlink (colugo_server_t *self, s_envelope_t *envelope)
{
    colugo__u64map_take (&self->pending, envelope->id);
    if (envelope->newer)
        envelope->newer->older = envelope->older;
    else
        self->newest = envelope->older;
    if (envelope->older)
        envelope->older->newer = envelope->newer;
    else
        self->oldest = envelope->newer;
}

//  Takes a request out of the table, or NULL if it does not wait.
static s_envelope_t *
s_take (colugo_server_t *self, uint64_t id)
{
    s_envelope_t *envelope = colugo__u64map_get (&self->pending, id);
    if (envelope)
        s_unlink (self, envelope);
    return envelope;
}

static void s_arm_expiry (colugo_server_t *self);

static void
s_on_expiry (void *arg)
{
    colugo_server_t *self = (colugo_server_t *) arg;
    self->expiry_timer = 0;
    int64_t now = zclock_mono ();
    while (self->oldest && self->oldest->arrived + self->expiry_ms <= now) {
        s_envelope_t *envelope = self->oldest;
        s_unlink (self, envelope);
        s_set_outcome (self, envelope->id, S_EXPIRED);
        free (envelope);
        self->drops.expired++;
        colugo__socket_drop (&self->base, "a request unanswered past its expiry");
    }
    s_arm_expiry (self);
}

//  Arms the expiry of the oldest request, if any and not armed yet.
static void
s_arm_expiry (colugo_server_t *self)
{
    if (self->oldest && !self->expiry_timer)
        self->expiry_timer = colugo__timers_add (
            self->base.env->timers, self->oldest->arrived + self->expiry_ms, 0, s_on_expiry, self);
}

//  The error for a request that does not wait for an answer, or 0 (with
//  the reply dropped) if its client is gone.
static int
s_not_pending (colugo_server_t *self, uint64_t request)
{
    if (request == 0 || request > self->last_id)
        return COLUGO_ENOTFOUND;
    switch (s_outcome (self, request)) {
        case S_EXPIRED: return COLUGO_EEXPIRED;
        case S_ABANDONED:
            colugo__debug ("topic '%s': no reply to request %llu: its client is gone",
                           self->base.topic, (unsigned long long) request);
            return 0;
        default: return COLUGO_EALREADY;
    }
}

//  The socket says a connection closed: its requests go. libzmq reports
//  a closed fd only after it was closed, so the kernel may already have
//  given the number to a new connection, whose first requests can arrive
//  before we read that report: those are dropped with the old ones (the
//  new client times out, nothing goes to the wrong client: replies find
//  their client by routing id, not by fd).
static void
s_on_accepted_closed (colugo_socket_t *socket, int fd)
{
    colugo_server_t *self = (colugo_server_t *) socket->owner;
    size_t count = 0;
    s_envelope_t *envelope = self->oldest;
    while (envelope) {
        s_envelope_t *newer = envelope->newer;
        if (envelope->fd == fd) {
            s_unlink (self, envelope);
            s_set_outcome (self, envelope->id, S_ABANDONED);
            free (envelope);
            count++;
        }
        envelope = newer;
    }
    self->drops.abandoned += count;
    self->base.stats.dropped += count;
    if (count)
        colugo__debug ("topic '%s': %zu unanswered requests dropped: their client is gone",
                       socket->topic, count);
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
    size_t envelope_size = 0;
    for (size_t f = 0; f < delimiter; f++)
        envelope_size += zmq_msg_size (&frames [f]);
    if (envelope_size > S_ENVELOPE_MAX) {
        colugo__socket_drop (&self->base, "a request whose envelope is larger than 4096 bytes");
        return;
    }
    if (self->pending.size >= self->max_pending) {
        self->drops.refused++;
        colugo__socket_drop (&self->base, "too many requests wait for an answer");
        return;
    }
    s_envelope_t *envelope = s_envelope_new (frames, delimiter + 1);
    uint64_t id = self->last_id + 1;
    if (!envelope || colugo__u64map_put (&self->pending, id, envelope)) {
        free (envelope);
        colugo__socket_drop (&self->base, "out of memory");
        return;
    }
    self->last_id = id;
    envelope->id = id;
    envelope->older = self->newest;
    if (self->newest)
        self->newest->newer = envelope;
    else
        self->oldest = envelope;
    self->newest = envelope;
    s_set_outcome (self, id, S_ANSWERED);
    s_arm_expiry (self);
    self->base.stats.received++;
    self->handler (self, id, zmq_msg_data (payload), zmq_msg_size (payload), self->arg);
}

static int
s_on_readable (void *arg)
{
    colugo_server_t *self = (colugo_server_t *) arg;
    colugo__batch_t batch = colugo__batch_start ();
    while (!self->base.dead && colugo__batch_more (&batch)) {
        //  Straight into zmq_msg_t, no czmq frames: this is every request;
        //  past S_MAX_FRAMES, the request is dropped.
        zmq_msg_t frames [S_MAX_FRAMES];
        size_t count = (size_t) colugo__recv_frames (self->base.handle, frames, S_MAX_FRAMES);
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
    self->oldest = self->newest = NULL;
    if (self->expiry_timer)
        colugo__timers_cancel (socket->env->timers, self->expiry_timer);
    self->expiry_timer = 0;
    free (self->outcomes);
    self->outcomes = NULL;
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
    self->base.on_accepted_closed = s_on_accepted_closed;
    self->base.destroy_kind = s_destroy_kind;
    self->handler = handler;
    self->arg = arg;
    self->max_pending = COLUGO_SERVER_DEFAULT_MAX_PENDING;
    self->expiry_ms = COLUGO_SERVER_DEFAULT_EXPIRY_MS;
    self->outcomes = calloc (S_OUTCOMES / 4, 1);
    *error = self->outcomes ? colugo__socket_init (&self->base, env, COLUGO_SERVER, topic, type)
                            : COLUGO_ENOMEM;
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
    s_envelope_t *envelope = s_take (self, request);
    if (!envelope)
        return s_not_pending (self, request);
    int rc = s_envelope_send (self->base.handle, envelope);
    free (envelope);
    if (rc == 0 && zmq_send (self->base.handle, data, size, ZMQ_DONTWAIT) < 0)
        rc = -1;
    colugo__socket_touch (&self->base);
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
    s_envelope_t *envelope = s_take (self, request);
    if (!envelope)
        return s_not_pending (self, request);
    free (envelope);
    colugo__socket_drop (&self->base, why ? why : "dropped by the application");
    return 0;
}

size_t
colugo_server_pending (colugo_server_t *self)
{
    return self->pending.size;
}

int
colugo_server_set_max_pending (colugo_server_t *self, size_t requests)
{
    if (!self || requests == 0)
        return COLUGO_EINVAL;
    self->max_pending = requests;
    return 0;
}

int
colugo_server_set_expiry (colugo_server_t *self, uint32_t expiry_ms)
{
    if (!self || expiry_ms == 0)
        return COLUGO_EINVAL;
    self->expiry_ms = expiry_ms;
    if (self->expiry_timer)
        colugo__timers_cancel (self->base.env->timers, self->expiry_timer);
    self->expiry_timer = 0;
    s_arm_expiry (self);
    return 0;
}

colugo_server_drops_t
colugo_server_drops (colugo_server_t *self)
{
    return self->drops;
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
