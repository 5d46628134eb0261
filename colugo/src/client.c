/*  client.c: requests with per-request timeouts, several in flight, each
    sent to a server the client picks.

    The client is a ROUTER: each dial of a server gets a routing id of its
    own (ZMQ_CONNECT_ROUTING_ID, set just before the connect), so the client
    chooses the server of every request, round-robin over the servers whose
    handshake succeeded, and knows which server each reply came from. A
    reply counts only if it comes from the server its request went to and
    names a request id that is drawn at random (63 bits from getrandom), so
    no other server, and no server guessing, can answer a request in flight.

    Plain REP servers accept only REQ and DEALER peers, never a ROUTER: an
    endpoint given by hand (colugo_socket_connect, no node behind it) is
    dialled on a DEALER of its own instead, which talks to REP and ROUTER
    servers alike; it is watched by a monitor of its own, whose events go to
    the socket's peer table like those of the socket's own monitor.

    On the wire a request is [request id][empty][payload] as every server
    sees it: REP and ROUTER servers echo the frames before the empty one.

    A server whose requests time out S_FAILURES times in a row while it is
    connected is skipped for a back-off (S_BACKOFF_MIN_MS, doubling up to
    S_BACKOFF_MAX_MS), then gets one request as a probe; a reply from it
    makes it a server like the others again. Only when every connected
    server is being skipped do requests go to skipped ones.

    A request that finds no server takes its place in a queue, in order,
    until one connects or its timeout runs out.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "colugo/client.h"
#include "colugo/error.h"
#include "sock.h"
#include "u64map.h"

#define S_RETRY_MS 2          //  every server refused (queue full): try again
#define S_FAILURES 3          //  timeouts in a row before a server is skipped
#define S_BACKOFF_MIN_MS 500  //  the first skip
#define S_BACKOFF_MAX_MS 8000
#define S_ROUTING_PREFIX 'c'  //  routing ids may not start with a zero byte
#define S_ROUTING_SIZE 9      //  the prefix and the dial number
#define S_RANDOM_IDS 32       //  request ids drawn per getrandom call

//  A server the client can send to: one dial of a peer.
typedef struct {
    colugo_client_t *client;
    uint64_t dial;
    uint8_t routing_id [S_ROUTING_SIZE];  //  its name in our ROUTER
    void *dealer;                         //  a hand-given endpoint's own socket, or NULL
    void *monitor;                        //  ... and the PAIR that reads its monitor
    bool up;                              //  handshake succeeded, not lost since
    bool dead;                            //  removed; freed by the reaper
    unsigned failures;                    //  timeouts in a row
    uint32_t backoff_ms;                  //  current skip, 0 if not skipped
    int64_t skip_until;                   //  monotonic ms
    int64_t since;                        //  timeouts of requests sent before this do not count
    uint64_t probe;                       //  the request that probes it after a skip, 0 if none
} s_server_t;

typedef struct {
    uint64_t id;  //  on the wire, and returned to the caller
    colugo_client_t *client;
    colugo_reply_fn *on_reply;
    colugo_timeout_fn *on_timeout;
    void *arg;
    uint64_t timer;  //  its timeout in the node's timer heap
    void *data;      //  a copy, while it waits in the queue
    size_t size;
    void *queued;     //  handle in the queue, NULL once sent
    uint64_t dial;    //  the server it went to, 0 while queued
    int64_t sent_at;  //  monotonic ms
} s_request_t;

struct colugo_client_t {
    colugo_socket_t base;       //  first: the socket is the client
    colugo__u64map_t requests;  //  id -> s_request_t, in flight or queued
    zlistx_t *queue;            //  s_request_t waiting for a server, oldest first
    colugo__u64map_t servers;   //  dial -> s_server_t, connected or dialled by hand
    s_server_t **ring;          //  the connected ones, in round-robin order
    size_t ring_size;
    size_t ring_capacity;
    size_t next;     //  where round-robin goes on
    uint64_t retry;  //  timer that tries the queue again
    uint64_t random [S_RANDOM_IDS];
    size_t random_left;
    colugo__ratelimit_t skip_log;
    bool closed;  //  its requests and servers are gone: the socket goes next
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

//  --------------------------------------------------------------------------
//  Servers

static bool
s_by_hand (const colugo__peer_t *peer)
{
    return *peer->node_uuid == 0;
}

static void
s_routing_id (uint64_t dial, uint8_t *routing_id)
{
    routing_id [0] = S_ROUTING_PREFIX;
    for (int i = 0; i < 8; i++)
        routing_id [1 + i] = (uint8_t) (dial >> (56 - 8 * i));
}

//  The dial a routing id names, 0 if it names none of ours.
static uint64_t
s_dial_of (const uint8_t *routing_id, size_t size)
{
    if (size != S_ROUTING_SIZE || routing_id [0] != S_ROUTING_PREFIX)
        return 0;
    uint64_t dial = 0;
    for (int i = 0; i < 8; i++)
        dial = dial << 8 | routing_id [1 + i];
    return dial;
}

static s_server_t *
s_server_new (colugo_client_t *self, uint64_t dial)
{
    s_server_t *server = calloc (1, sizeof *server);
    if (!server)
        return NULL;
    server->client = self;
    server->dial = dial;
    s_routing_id (dial, server->routing_id);
    if (colugo__u64map_put (&self->servers, dial, server)) {
        free (server);
        return NULL;
    }
    return server;
}

static void
s_server_free (void *arg)
{
    s_server_t *server = (s_server_t *) arg;
    if (server->monitor)
        zsys_close (server->monitor, __FILE__, __LINE__);
    if (server->dealer)
        zsys_close (server->dealer, __FILE__, __LINE__);
    free (server);
}

static void
s_ring_remove (colugo_client_t *self, s_server_t *server)
{
    for (size_t i = 0; i < self->ring_size; i++)
        if (self->ring [i] == server) {
            memmove (&self->ring [i], &self->ring [i + 1],
                     (self->ring_size - i - 1) * sizeof self->ring [0]);
            self->ring_size--;
            if (self->next > i)
                self->next--;
            return;
        }
}

static int
s_ring_add (colugo_client_t *self, s_server_t *server)
{
    if (self->ring_size == self->ring_capacity) {
        size_t capacity = self->ring_capacity ? self->ring_capacity * 2 : 8;
        s_server_t **ring = realloc (self->ring, capacity * sizeof *ring);
        if (!ring)
            return -1;
        self->ring = ring;
        self->ring_capacity = capacity;
    }
    self->ring [self->ring_size++] = server;
    return 0;
}

//  Forgets a server; its memory goes later, as zloop may still dispatch
//  to its sockets in this pass.
static void
s_server_remove (colugo_client_t *self, s_server_t *server)
{
    s_ring_remove (self, server);
    colugo__u64map_take (&self->servers, server->dial);
    server->dead = true;
    if (server->dealer)
        colugo__poller_remove (self->base.env->poller, server->dealer);
    if (server->monitor)
        colugo__poller_remove (self->base.env->poller, server->monitor);
    if (colugo__reaper_defer (self->base.env->reaper, s_server_free, server))
        colugo__error ("out of memory: a server's state is leaked");
}

static bool
s_eligible (const s_server_t *server, int64_t now)
{
    return server->up && now >= server->skip_until && !server->probe;
}

//  A request to the server timed out: after S_FAILURES in a row (counting
//  only requests sent since it was last skipped), skip it for a while.
static void
s_server_failed (colugo_client_t *self, s_server_t *server, const s_request_t *request)
{
    if (request->id == server->probe)
        server->probe = 0;
    else if (request->sent_at <= server->since)
        return;  //  sent before the last skip: already accounted for
    if (++server->failures < S_FAILURES)
        return;
    server->backoff_ms = server->backoff_ms ? server->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (server->backoff_ms > S_BACKOFF_MAX_MS)
        server->backoff_ms = S_BACKOFF_MAX_MS;
    server->since = zclock_mono ();
    server->skip_until = server->since + server->backoff_ms;
    unsigned suppressed;
    if (colugo__ratelimit (&self->skip_log, &suppressed))
        colugo__warn ("topic '%s': a server timed out %u times in a row: skipping it for %u ms "
                      "(%u such lines not logged)",
                      self->base.topic, server->failures, server->backoff_ms, suppressed);
}

static void
s_server_answered (s_server_t *server, uint64_t id)
{
    if (server->backoff_ms)
        colugo__debug ("topic '%s': a skipped server answered again", server->client->base.topic);
    server->failures = 0;
    server->backoff_ms = 0;
    server->skip_until = 0;
    if (server->probe == id)
        server->probe = 0;
}

//  --------------------------------------------------------------------------
//  Sending

//  Returns 0 if the server took the request, or -1 with zmq_errno ()
//  (EAGAIN: its queue is full; EHOSTUNREACH: its connection is gone).
static int
s_send_to (colugo_client_t *self, s_server_t *server, uint64_t id, const void *data, size_t size)
{
    void *handle = server->dealer ? server->dealer : self->base.handle;
    if (!server->dealer
        && zmq_send (handle, server->routing_id, S_ROUTING_SIZE, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        return -1;
    if (zmq_send (handle, &id, sizeof id, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        return -1;  //  only a DEALER's first frame can be refused
    //  The first frame is in: the rest of the message cannot be refused.
    zmq_send (handle, "", 0, ZMQ_SNDMORE);
    zmq_send (handle, data, size, 0);
    colugo__poller_touch (self->base.env->poller, handle);
    return 0;
}

//  Sends a request to the next server in round-robin that is not skipped,
//  or, if all are, to the next that takes it. Returns 0 if sent, 1 if no
//  server can take it now, -1 on error.
static int
s_transmit (colugo_client_t *self, s_request_t *request, const void *data, size_t size)
{
    int64_t now = zclock_mono ();
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < self->ring_size; k++) {
            size_t at = (self->next + k) % self->ring_size;
            s_server_t *server = self->ring [at];
            if (pass == 0 ? !s_eligible (server, now) : !server->up)
                continue;
            if (s_send_to (self, server, request->id, data, size)) {
                if (zmq_errno () == EAGAIN || zmq_errno () == EHOSTUNREACH)
                    continue;  //  full, or gone (its peer will say so): the next one
                return -1;
            }
            self->next = (at + 1) % self->ring_size;
            request->dial = server->dial;
            request->sent_at = now;
            if (server->backoff_ms && !server->probe)
                server->probe = request->id;
            self->base.stats.sent++;
            return 0;
        }
    return 1;
}

static void s_flush (colugo_client_t *self);

static void
s_on_retry (void *arg)
{
    colugo_client_t *self = (colugo_client_t *) arg;
    self->retry = 0;
    s_flush (self);
}

static void
s_flush (colugo_client_t *self)
{
    s_request_t *request;
    while ((request = (s_request_t *) zlistx_first (self->queue))) {
        int rc = s_transmit (self, request, request->data, request->size);
        if (rc == 1) {
            if (self->ring_size && !self->retry)
                self->retry = colugo__timers_add (self->base.env->timers,
                                                  zclock_mono () + S_RETRY_MS, 0, s_on_retry, self);
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

//  --------------------------------------------------------------------------
//  Peers: from the socket's peer table

static void
s_before_dial (colugo_socket_t *socket, colugo__peer_t *peer)
{
    if (s_by_hand (peer))
        return;  //  on a DEALER of its own (s_dial)
    uint8_t routing_id [S_ROUTING_SIZE];
    s_routing_id (peer->dial, routing_id);
    if (zmq_setsockopt (socket->handle, ZMQ_CONNECT_ROUTING_ID, routing_id, sizeof routing_id))
        colugo__warn ("topic '%s': cannot name a connection: %s", socket->topic,
                      zmq_strerror (zmq_errno ()));
}

static int s_on_dealer (void *arg);
static int s_on_dealer_event (void *arg);

//  Gives a hand-given server's DEALER the options the socket has: liveness,
//  queues, retries, sizes (whatever socket.c set, now or later).
static void
s_copy_options (void *from, void *to)
{
    const int options [] = {ZMQ_HEARTBEAT_IVL,
                            ZMQ_HEARTBEAT_TIMEOUT,
                            ZMQ_HEARTBEAT_TTL,
                            ZMQ_SNDHWM,
                            ZMQ_RCVHWM,
                            ZMQ_RECONNECT_IVL,
                            ZMQ_RECONNECT_IVL_MAX,
                            ZMQ_CONNECT_TIMEOUT,
                            ZMQ_HANDSHAKE_IVL,
                            ZMQ_TCP_KEEPALIVE,
                            ZMQ_TCP_KEEPALIVE_IDLE,
                            ZMQ_TCP_KEEPALIVE_INTVL,
                            ZMQ_TCP_KEEPALIVE_CNT};
    for (size_t i = 0; i < sizeof options / sizeof options [0]; i++) {
        int value;
        size_t size = sizeof value;
        if (zmq_getsockopt (from, options [i], &value, &size) == 0)
            zmq_setsockopt (to, options [i], &value, size);
    }
    int64_t max_size;
    size_t size = sizeof max_size;
    if (zmq_getsockopt (from, ZMQ_MAXMSGSIZE, &max_size, &size) == 0)
        zmq_setsockopt (to, ZMQ_MAXMSGSIZE, &max_size, size);
}

//  A hand-given endpoint: dialled on a DEALER of its own, with the
//  socket's options, watched by its own monitor.
static int
s_dial_by_hand (colugo_client_t *self, colugo__peer_t *peer)
{
    colugo__env_t *env = self->base.env;
    s_server_t *server = s_server_new (self, peer->dial);
    if (!server)
        return COLUGO_ENOMEM;
    //  zsys_socket, not zsock_new, which asserts when no descriptor is left:
    //  then the dial fails, and is tried again.
    server->dealer = zsys_socket (ZMQ_DEALER, __FILE__, __LINE__);
    int rc = COLUGO_EZMQ;
    if (server->dealer) {
        s_copy_options (self->base.handle, server->dealer);
        zsock_set_immediate (server->dealer, 1);  //  nothing queues for a server that is down
        zsock_set_linger (server->dealer, 0);     //  its requests die with it
        server->monitor = colugo__monitor_new (
            server->dealer, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED
                                | ZMQ_EVENT_CLOSED);
        if (server->monitor
            && colugo__poller_add (env->poller, server->monitor, s_on_dealer_event, server) == 0
            && colugo__poller_add (env->poller, server->dealer, s_on_dealer, server) == 0
            && zmq_connect (server->dealer, peer->endpoint) == 0)
            rc = 1;
    }
    if (rc != 1) {
        colugo__warn ("topic '%s': cannot dial %s: %s", self->base.topic, peer->endpoint,
                      zmq_strerror (zmq_errno ()));
        s_server_remove (self, server);
        return rc;
    }
    return 1;
}

static int
s_dial (colugo_socket_t *socket, colugo__peer_t *peer, bool connect)
{
    colugo_client_t *self = (colugo_client_t *) socket->owner;
    if (!s_by_hand (peer))
        return 0;  //  the socket's own ROUTER
    if (self->closed)
        return connect ? COLUGO_ESTATE : 1;
    if (connect)
        return s_dial_by_hand (self, peer);
    s_server_t *server = (s_server_t *) colugo__u64map_get (&self->servers, peer->dial);
    if (server)
        s_server_remove (self, server);
    return 1;
}

static void
s_on_peer_change (colugo_socket_t *socket, colugo__peer_t *peer)
{
    colugo_client_t *self = (colugo_client_t *) socket->owner;
    if (self->closed)
        return;
    s_server_t *server = (s_server_t *) colugo__u64map_get (&self->servers, peer->dial);
    if (peer->connected) {
        if (!server)
            server = s_server_new (self, peer->dial);
        if (!server || (!server->up && s_ring_add (self, server))) {
            colugo__error ("topic '%s': out of memory: a server is not used", socket->topic);
            return;
        }
        server->up = true;
        s_flush (self);
    }
    else if (server) {
        server->up = false;
        s_ring_remove (self, server);
        if (!server->dealer)
            s_server_remove (self, server);  //  a new dial will come with a new name
    }
}

//  --------------------------------------------------------------------------
//  Replies and timeouts

static void
s_on_timeout (void *arg)
{
    s_request_t *request = (s_request_t *) arg;
    colugo_client_t *self = request->client;
    request->timer = 0;
    colugo__u64map_take (&self->requests, request->id);
    self->base.stats.timeouts++;
    colugo__debug ("topic '%s': request %llx timed out", self->base.topic,
                   (unsigned long long) request->id);
    s_server_t *server = (s_server_t *) colugo__u64map_get (&self->servers, request->dial);
    if (server && request->dial)
        s_server_failed (self, server, request);
    colugo_timeout_fn *on_timeout = request->on_timeout;
    void *user_arg = request->arg;
    s_request_free (request);
    if (on_timeout)
        on_timeout (self, user_arg);
}

//  A reply [request id][empty][payload] from the server of dial (0: not
//  one of ours).
static void
s_reply (colugo_client_t *self, uint64_t dial, zmq_msg_t *frames, int count)
{
    uint64_t id = 0;
    if (count != 3 || zmq_msg_size (&frames [0]) != sizeof id || zmq_msg_size (&frames [1])) {
        colugo__socket_drop (&self->base, "a reply that is not [request id][empty][payload]");
        return;
    }
    memcpy (&id, zmq_msg_data (&frames [0]), sizeof id);
    s_request_t *request = colugo__u64map_get (&self->requests, id);
    if (!request) {
        //  Late (its request timed out or was cancelled), or made up.
        colugo__socket_drop (&self->base, "a reply to no request in flight");
        return;
    }
    if (!dial || request->dial != dial) {
        colugo__socket_drop (&self->base, "a reply from a server its request did not go to");
        return;
    }
    s_server_t *server = (s_server_t *) colugo__u64map_get (&self->servers, dial);
    if (server)
        s_server_answered (server, id);
    if (!colugo__socket_size_ok (&self->base, zmq_msg_size (&frames [2])))
        return;  //  dropped and counted: it will time out
    colugo__u64map_take (&self->requests, id);
    self->base.stats.received++;
    colugo_reply_fn *on_reply = request->on_reply;
    void *user_arg = request->arg;
    s_request_free (request);
    if (on_reply)
        on_reply (self, zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]), user_arg);
}

//  Reads replies, up to a batch bounded in count and time. With a routing
//  id (the ROUTER), the first frame names the server; a hand-given
//  server's DEALER is that server.
static void
s_read (colugo_client_t *self, void *handle, s_server_t *server)
{
    colugo__batch_t batch = colugo__batch_start ();
    int skip = server ? 0 : 1;
    while (!self->base.dead && (!server || !server->dead) && colugo__batch_more (&batch)) {
        zmq_msg_t frames [4];
        int count = colugo__recv_frames (handle, frames, 4);
        if (count == 0)
            break;
        int kept = count < 4 ? count : 4;
        uint64_t dial = server ? server->dial : 0;
        if (!server && count > 0)
            dial = s_dial_of (zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
        s_reply (self, dial, frames + skip, count - skip);
        for (int f = 0; f < kept; f++)
            zmq_msg_close (&frames [f]);
        if (colugo__env_handler_rc (self->base.env))
            break;
    }
}

static int
s_on_readable (void *arg)
{
    colugo_client_t *self = (colugo_client_t *) arg;
    s_read (self, self->base.handle, NULL);
    return 0;
}

static int
s_on_dealer (void *arg)
{
    s_server_t *server = (s_server_t *) arg;
    if (!server->dead && !server->client->base.dead)
        s_read (server->client, server->dealer, server);
    return colugo__env_handler_rc (server->client->base.env);
}

//  An event of a hand-given server's monitor: [event, value][endpoint].
static int
s_on_dealer_event (void *arg)
{
    s_server_t *server = (s_server_t *) arg;
    colugo_client_t *self = server->client;
    zmsg_t *message = zmsg_recv (server->monitor);
    zframe_t *head = message ? zmsg_first (message) : NULL;
    zframe_t *where = message ? zmsg_next (message) : NULL;
    uint16_t event = 0;
    uint32_t value = 0;
    char *endpoint = NULL;
    if (head && where && zframe_size (head) >= 6) {
        memcpy (&event, zframe_data (head), sizeof event);
        memcpy (&value, zframe_data (head) + 2, sizeof value);
        endpoint = zframe_strdup (where);
    }
    zmsg_destroy (&message);
    if (endpoint && !server->dead && !self->base.dead)
        colugo__socket_event (&self->base, event, value, endpoint);
    free (endpoint);
    return colugo__env_handler_rc (self->base.env);
}

//  --------------------------------------------------------------------------
//  Life cycle

static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo_client_t *self = (colugo_client_t *) socket->owner;
    self->closed = true;
    s_request_t *request;
    size_t cursor = 0;
    while ((request = colugo__u64map_next (&self->requests, &cursor)))
        s_request_free (request);
    colugo__u64map_free (&self->requests);
    s_server_t *server;
    while ((cursor = 0, server = colugo__u64map_next (&self->servers, &cursor)))
        s_server_remove (self, server);
    colugo__u64map_free (&self->servers);
    free (self->ring);
    self->ring = NULL;
    self->ring_size = 0;
    if (self->retry)
        colugo__timers_cancel (socket->env->timers, self->retry);
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
    self->base.before_dial = s_before_dial;
    self->base.dial = s_dial;
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

//  A fresh request id: 63 random bits (so it stays a positive int64_t for
//  the caller), never 0, never one in flight. 0 if the kernel gives none.
static uint64_t
s_new_id (colugo_client_t *self)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        if (self->random_left == 0) {
            if (getrandom (self->random, sizeof self->random, 0) != (ssize_t) sizeof self->random)
                return 0;
            self->random_left = S_RANDOM_IDS;
        }
        uint64_t id = self->random [--self->random_left] & INT64_MAX;
        self->random [self->random_left] = 0;
        if (id && !colugo__u64map_get (&self->requests, id))
            return id;
    }
    return 0;
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
    *request = (s_request_t){.id = s_new_id (self),
                             .client = self,
                             .on_reply = on_reply,
                             .on_timeout = on_timeout,
                             .arg = arg};
    if (!request->id) {
        colugo__error ("topic '%s': no random request id: %s", self->base.topic, strerror (errno));
        free (request);
        return COLUGO_ESTATE;
    }
    if (colugo__u64map_put (&self->requests, request->id, request)) {
        free (request);
        return COLUGO_ENOMEM;
    }
    //  The timeout first: once a request is out, nothing may fail.
    uint32_t timeout = timeout_ms ? timeout_ms : COLUGO_DEFAULT_TIMEOUT_MS;
    request->timer = colugo__timers_add (self->base.env->timers, zclock_mono () + timeout, 0,
                                         s_on_timeout, request);
    if (!request->timer) {
        colugo__u64map_take (&self->requests, request->id);
        s_request_free (request);
        return COLUGO_ENOMEM;
    }
    //  Keep the order of requests: nothing overtakes one that waits.
    int rc = zlistx_size (self->queue) ? 1 : s_transmit (self, request, data, size);
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
    return (int64_t) request->id;
}

int
colugo_client_cancel (colugo_client_t *self, int64_t request_id)
{
    s_request_t *request =
        request_id > 0 ? colugo__u64map_take (&self->requests, (uint64_t) request_id) : NULL;
    if (!request)
        return COLUGO_ENOTFOUND;
    s_server_t *server = (s_server_t *) colugo__u64map_get (&self->servers, request->dial);
    if (server && request->dial && server->probe == request->id)
        server->probe = 0;  //  the next request probes it
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
