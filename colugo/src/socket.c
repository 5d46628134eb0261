/*  socket.c: the part every Colugo socket shares: the ZeroMQ socket and its
    options, the monitor that tells which peers are really connected, and
    the peers of connecting sockets, which it dials itself.

    Who is at the other end. A binding socket listens twice (zap.h): an open
    port for original Colugo nodes and plain ZeroMQ peers, and a verified
    port where the ZMTP handshake only succeeds for a peer that names this
    very service. Connecting sockets dial the verified port with the
    identity the service advertised (the trunk's out is the PLAIN server of
    the handshakes it dials instead, and checks that the in it dialled
    names itself so: trunk.h), and never let libzmq reconnect by
    itself: a port reused by another service after a crash would otherwise
    be dialled blindly. The socket dials again itself, with a back-off, each
    time through the same check, while the service is still advertised; at
    most S_DIALS_MAX dials are in progress at once (newest first), so
    services that accept and stay silent cannot take every descriptor, and
    a real one that appears later is dialled soon.

    The end of a stream. A connection that ends leaves in its libzmq pipe
    what the peer sent last and the socket has not read yet; a hang-up
    (zmq_disconnect) drops that pipe unread. So a subscriber reads
    what libzmq holds into a queue of its own before it hangs up
    (before_hang_up), and libzmq must not hang up by itself first: with
    ZMQ_RECONNECT_IVL -1 it does, at once, when a connection is lost
    (zeromq/libzmq PR #2756: the session asks the socket to end the
    endpoint). The interval is therefore an hour instead, which no
    connection waits out: each lost one is hung up here when its
    disconnect event is read. And a withdrawn publisher is not hung up on
    while its connection is up (the node link says it is withdrawn before
    its last messages are out): it closes the connection itself once they
    are, within its linger, or the subscriber hangs up after S_DRAIN_MS.

    Liveness without libzmq 4.3.4's heartbeat fault (zeromq/libzmq#3937,
    #4364, #4767, PR #4830). An engine whose receive pipe is full stops
    reading; if the peer then resets the connection, the engine marks an
    I/O error, and a PING it still has to process (or its own heartbeat
    timer) writes, and asserts (!_io_error); a session that reconnects after
    such a stall gets a stale "restart input" (_input_stopped). So:
    - PINGs flow only between publishers and subscribers, and both have
      unbounded libzmq receive pipes, so their engines never stop reading:
      a publisher receives only subscriptions, and a subscriber drains its
      pipe into a bounded queue of its own (subscriber.c), where what a
      slow application cannot take is dropped and counted. The subscriber
      PINGs: its heartbeat timeout notices a publisher that froze or
      vanished, and the TTL its PINGs carry has the publisher drop a
      subscriber that did. A publisher PINGs the peers of its open port
      (original Colugo nodes, plain ZeroMQ) at the same interval, and those
      of its verified port, Colugo subscribers, once per timeout: enough
      for one that froze before its first PING (libzmq starts the TTL at
      the first), a quarter of the traffic and timers otherwise (a mesh of
      20 nodes has 3800 connections; each PING or PONG received costs
      libzmq's I/O thread a linear walk of its timers).
    - Clients and servers, whose pipes do fill (a slow server, a flood),
      send no PINGs and ask for none; a client judges a server by its
      replies and timeouts (client.c).
    - No connecting session ever reconnects (above).
    - TCP keepalive closes connections to hosts that vanished, for every
      kind.
    A peer that is not Colugo may still send PINGs of its own to a socket
    whose pipe is full; only the upstream fix removes that.
    The monitor's handshake and disconnect events are the truth about which
    peers are connected.
*/
#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colugo/error.h"
#include "sock.h"
#include "zap.h"

typedef colugo__peer_t s_peer_t;

#define S_LINGER_MS 500               //  flush queued messages on close
#define S_DRAIN_MS (2 * S_LINGER_MS)  //  a withdrawn peer's flush, at most
#define S_RECONNECT_IVL_MS 3600000    //  libzmq's own reconnects: never in practice (see the top)
#define S_CONNECT_TIMEOUT_MS 2000     //  give up a TCP connect to a host cut off
#define S_HANDSHAKE_MS 3000           //  drop a peer that accepts and stays silent
//  A dial libzmq says nothing of for this long ended unseen (its connecter
//  emits no event when it cannot make a socket, EMFILE say): dial again.
//  Three times what its connect and handshake timeouts allow, for a loaded
//  machine whose events come late.
#define S_DIAL_DEADLINE_MS (3 * (S_CONNECT_TIMEOUT_MS + S_HANDSHAKE_MS))
#define S_REDIAL_MS 100        //  first dial again after a loss
#define S_REDIAL_MAX_MS 8000   //  back-off for peers that keep failing
#define S_DIALS_MAX 64         //  dials in progress per socket
#define S_MIN_FRAME 65536      //  frames libzmq reads whole, at the least
#define S_KEEPALIVE_IDLE_S 2   //  TCP keepalive: first probe after 2 s idle,
#define S_KEEPALIVE_INTVL_S 1  //  then every second,
#define S_KEEPALIVE_CNT 3      //  3 unanswered: the host is gone
#define S_TRUNK_QUEUES 16      //  a trunk's queue to a node: this many topics' worth

typedef enum { S_QUEUED, S_DIALLING, S_UP, S_WAITING } s_state_t;

typedef struct {
    char *identity;
    char *node_uuid;
    char *node_name;
    unsigned refs;
} s_claim_t;

static void
s_claim_destructor (void **item)
{
    s_claim_t *claim = (s_claim_t *) *item;
    if (!claim)
        return;
    free (claim->identity);
    free (claim->node_uuid);
    free (claim->node_name);
    free (claim);
    *item = NULL;
}

static void
s_peer_destructor (void **item)
{
    s_peer_t *peer = (s_peer_t *) *item;
    if (!peer)
        return;
    zlistx_destroy (&peer->claims);
    free (peer->endpoint);
    free (peer);
    *item = NULL;
}

void
colugo__socket_identity (const char *node_uuid, uint64_t socket_id, char *buffer, size_t size)
{
    snprintf (buffer, size, "%s:%llu", node_uuid, (unsigned long long) socket_id);
}

static void
s_set (void *handle, int option, int value)
{
    if (zmq_setsockopt (handle, option, &value, sizeof value))
        colugo__warn ("cannot set socket option %d: %s", option, zmq_strerror (zmq_errno ()));
}

static const colugo__kind_t s_kinds [] = {
    {COLUGO_PUBLISHER, "publisher", ZMQ_PUB, true, true, false, false, ZMQ_PUB, COLUGO_SUBSCRIBER},
    {COLUGO_SUBSCRIBER, "subscriber", ZMQ_SUB, false, false, false, true, ZMQ_PUB,
     COLUGO_PUBLISHER},
    {COLUGO_CLIENT, "client", ZMQ_ROUTER, false, false, false, false, ZMQ_REP, COLUGO_SERVER},
    {COLUGO_SERVER, "server", ZMQ_ROUTER, true, true, false, false, ZMQ_REP, COLUGO_CLIENT},
    {COLUGO__TRUNK_IN, "trunk in", ZMQ_SUB, true, false, true, false, 0, COLUGO__TRUNK_OUT},
    {COLUGO__TRUNK_OUT, "trunk out", ZMQ_XPUB, false, false, true, false, 0, COLUGO__TRUNK_IN},
};

const colugo__kind_t *
colugo__kind (colugo_kind_t kind)
{
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds [0]; i++)
        if (s_kinds [i].kind == kind)
            return &s_kinds [i];
    return NULL;
}

static bool
s_is_binder (const colugo_socket_t *self)
{
    return self->kind->binds;
}

//  Binds to a port the kernel chooses, or to the lowest free one of the
//  node's range; returns it, or -1. Not czmq's "tcp://*:*", which tries
//  every port from 49152 up: a host with hundreds of listeners (a mesh of
//  20 nodes has 420) paid a socket (), a failed bind () and a close () for
//  each port taken below the free one, at every bind.
static int
s_bind_any (colugo_socket_t *self)
{
    const colugo__env_t *env = self->env;
    if (env->port_first) {
        for (unsigned port = env->port_first; port <= env->port_last; port++) {
            char endpoint [32];
            snprintf (endpoint, sizeof endpoint, "tcp://*:%u", port);
            if (zmq_bind (self->handle, endpoint) == 0)
                return (int) port;
        }
        return -1;
    }
    if (zmq_bind (self->handle, "tcp://*:0"))
        return -1;
    char endpoint [256];
    size_t size = sizeof endpoint;
    if (zmq_getsockopt (self->handle, ZMQ_LAST_ENDPOINT, endpoint, &size))
        return -1;
    const char *colon = strrchr (endpoint, ':');
    int port = colon ? atoi (colon + 1) : 0;
    return port > 0 && port <= 65535 ? port : -1;
}

//  The trunk's in is the PLAIN client of the handshakes it accepts (the
//  outs that dial it are the servers: trunk.h): it names itself, and its
//  node's uuid as password, which the dialling out's ZAP handler checks
//  and makes the User-Id of what the in subscribes.
static int
s_bind_trunk_in (colugo_socket_t *self, const char *identity)
{
    const char *uuid = self->env->node_uuid;
    zmq_setsockopt (self->handle, ZMQ_PLAIN_USERNAME, identity, strlen (identity));
    zmq_setsockopt (self->handle, ZMQ_PLAIN_PASSWORD, uuid, strlen (uuid));
    int port = s_bind_any (self);
    zmq_setsockopt (self->handle, ZMQ_PLAIN_USERNAME, NULL, 0);
    if (port < 0) {
        colugo__error ("cannot bind the node trunk: %s", zmq_strerror (zmq_errno ()));
        return COLUGO_EZMQ;
    }
    self->verified_port = (uint16_t) port;
    return 0;
}

//  Binds on every interface (peers reach us at whatever address of this
//  host DNS-SD gives them for the interface they saw us on): the open port,
//  then the verified one, a PLAIN server with the socket's identity as ZAP
//  domain. libzmq copies the options into each listener when it binds, so
//  the open listener keeps the NULL mechanism.
static int
s_bind (colugo_socket_t *self)
{
    int port;
    if (self->kind->open_port) {
        port = s_bind_any (self);
        if (port < 0) {
            colugo__error ("cannot bind a socket for topic '%s': %s", self->topic,
                           zmq_strerror (zmq_errno ()));
            return COLUGO_EZMQ;
        }
        self->port = (uint16_t) port;
    }
    char identity [COLUGO__IDENTITY_MAX];
    colugo__socket_identity (self->env->node_uuid, self->id, identity, sizeof identity);
    if (self->kind->kind == COLUGO__TRUNK_IN)
        return s_bind_trunk_in (self, identity);
    self->zap = colugo__zap_acquire ();
    if (!self->zap)
        return self->kind->open_port ? 0 : COLUGO_EZMQ;
    //  Colugo subscribers dial here and PING on their own (see the top): a
    //  publisher holds each to the TTL its PINGs carry, and PINGs only once
    //  per timeout itself, for a subscriber that froze before its first.
    int heartbeat_ivl = 0;
    size_t size = sizeof heartbeat_ivl;
    zmq_getsockopt (self->handle, ZMQ_HEARTBEAT_IVL, &heartbeat_ivl, &size);
    s_set (self->handle, ZMQ_HEARTBEAT_IVL, heartbeat_ivl ? self->env->heartbeat_timeout : 0);
    s_set (self->handle, ZMQ_PLAIN_SERVER, 1);
    zmq_setsockopt (self->handle, ZMQ_ZAP_DOMAIN, identity, strlen (identity));
    port = s_bind_any (self);
    s_set (self->handle, ZMQ_PLAIN_SERVER, 0);
    zmq_setsockopt (self->handle, ZMQ_ZAP_DOMAIN, "", 0);
    s_set (self->handle, ZMQ_HEARTBEAT_IVL, heartbeat_ivl);
    if (port < 0) {
        colugo__error ("cannot bind a socket for topic '%s': %s", self->topic,
                       zmq_strerror (zmq_errno ()));
        return COLUGO_EZMQ;
    }
    self->verified_port = (uint16_t) port;
    return 0;
}

static int s_open (colugo_socket_t *self);
static int s_make (colugo_socket_t *self);
static void s_unmake (colugo_socket_t *self);
static int s_register (colugo_socket_t *self);

int
colugo__socket_init (colugo_socket_t *self, colugo__env_t *env, colugo_kind_t kind,
                     const char *topic, const char *type)
{
    self->env = env;
    self->kind = colugo__kind (kind);
    self->topic = strdup (topic);
    self->message_type = type ? strdup (type) : NULL;
    self->mismatched = zhashx_new ();
    self->peers = zhashx_new ();
    self->accepted_fds = zlistx_new ();
    self->dial_queue = zlistx_new ();
    self->id = ++env->last_socket_id;
    if (!self->topic || (type && !self->message_type) || !self->mismatched || !self->peers
        || !self->accepted_fds || !self->dial_queue)
        return COLUGO_ENOMEM;
    zhashx_set_destructor (self->peers, s_peer_destructor);
    //  The trunk's out answers its own handshakes' ZAP requests (zap.h).
    if (kind == COLUGO__TRUNK_OUT && !(self->zap = colugo__zap_acquire ()))
        return COLUGO_EZMQ;
    //  A subscriber's own libzmq socket waits for its first dial of its
    //  own: one whose publishers all ride the trunk (trunk.h) never needs
    //  it (a mesh node of 190 subscribers made 570 libzmq sockets for none).
    return kind == COLUGO_SUBSCRIBER ? 0 : s_open (self);
}

//  Makes the libzmq socket, its options and its monitor (and binds a
//  binding socket); registers them with the poller if the socket started.
static int
s_open (colugo_socket_t *self)
{
    int rc = s_make (self);
    if (rc == 0 && s_is_binder (self))
        rc = s_bind (self);
    if (rc == 0 && self->started)
        rc = s_register (self);
    if (rc && !s_is_binder (self))
        s_unmake (self);  //  tried again at the next dial
    return rc;
}

//  The libzmq socket and its monitor's, or what was made of them, go.
static void
s_unmake (colugo_socket_t *self)
{
    if (self->monitor && self->handle)
        zmq_socket_monitor (self->handle, NULL, 0);
    if (self->monitor)
        zsys_close (self->monitor, __FILE__, __LINE__);
    if (self->handle)
        zsys_close (self->handle, __FILE__, __LINE__);
    self->monitor = self->handle = NULL;
}

//  Made with zsys_socket, not zsock_new, which asserts when libzmq cannot
//  make a socket (no descriptor left): a subscriber's is made from the
//  loop, at its first dial of its own, and must fail there as a dial does.
static int
s_make (colugo_socket_t *self)
{
    colugo__env_t *env = self->env;
    colugo_kind_t kind = self->kind->kind;
    self->handle = zsys_socket (self->kind->zmq_type, __FILE__, __LINE__);
    if (!self->handle) {
        colugo__error ("cannot make a socket for topic '%s': %s", self->topic,
                       zmq_strerror (zmq_errno ()));
        return COLUGO_EZMQ;
    }

    //  PINGs only between a publisher and its subscribers, whose receive
    //  pipes are unbounded (see the top).
    bool pubsub = kind == COLUGO_PUBLISHER || kind == COLUGO_SUBSCRIBER || kind == COLUGO__TRUNK_OUT
                  || kind == COLUGO__TRUNK_IN;
    //  (The trunk's out sends, as a publisher's verified port: once per
    //  timeout. Its in receives, and PINGs as a subscriber does.)
    s_set (self->handle, ZMQ_HEARTBEAT_IVL,
           !pubsub                     ? 0
           : kind == COLUGO__TRUNK_OUT ? env->heartbeat_timeout
                                       : env->heartbeat_ivl);
    s_set (self->handle, ZMQ_HEARTBEAT_TIMEOUT, env->heartbeat_timeout);
    s_set (self->handle, ZMQ_HEARTBEAT_TTL, pubsub ? env->heartbeat_timeout : 0);
    s_set (self->handle, ZMQ_LINGER, S_LINGER_MS);
    s_set (self->handle, ZMQ_SNDHWM, env->queue_limit);
    s_set (self->handle, ZMQ_RCVHWM, pubsub ? 0 : env->queue_limit);
    s_set (self->handle, ZMQ_RECONNECT_IVL, S_RECONNECT_IVL_MS);  //  we dial again ourselves
    s_set (self->handle, ZMQ_CONNECT_TIMEOUT, S_CONNECT_TIMEOUT_MS);
    s_set (self->handle, ZMQ_HANDSHAKE_IVL, S_HANDSHAKE_MS);
    s_set (self->handle, ZMQ_TCP_KEEPALIVE, 1);
    s_set (self->handle, ZMQ_TCP_KEEPALIVE_IDLE, S_KEEPALIVE_IDLE_S);
    s_set (self->handle, ZMQ_TCP_KEEPALIVE_INTVL, S_KEEPALIVE_INTVL_S);
    s_set (self->handle, ZMQ_TCP_KEEPALIVE_CNT, S_KEEPALIVE_CNT);
    //  A frame far over the maximum closes the connection before it is read
    //  whole (checking after receipt would not bound memory); one somewhat
    //  over it arrives, and is dropped, counted and logged. The bound holds
    //  for the handshake's commands too: never below S_MIN_FRAME.
    int64_t max_frame = -1;
    if (env->max_message_size && env->max_message_size < INT64_MAX / 2)
        max_frame = (int64_t) env->max_message_size * 2;
    if (max_frame >= 0 && max_frame < S_MIN_FRAME)
        max_frame = S_MIN_FRAME;
    if (zmq_setsockopt (self->handle, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame))
        colugo__warn ("cannot set the maximum message size: %s", zmq_strerror (zmq_errno ()));
    if (kind == COLUGO_SUBSCRIBER)
        zmq_setsockopt (self->handle, ZMQ_SUBSCRIBE, "", 0);  //  (not the trunk's in: trunk.c)
    //  The trunk knows which node subscribed to what (trunk.h). One
    //  connection carries all of a node's topics to another: its queue is
    //  deeper than one topic's.
    if (kind == COLUGO__TRUNK_OUT) {
        s_set (self->handle, ZMQ_XPUB_VERBOSER, 1);
        s_set (self->handle, ZMQ_SNDHWM,
               env->queue_limit > 0 && env->queue_limit < INT_MAX / S_TRUNK_QUEUES
                   ? env->queue_limit * S_TRUNK_QUEUES
                   : 0);
    }
    //  The client picks each request's server by routing id (client.c):
    //  told at once when it is gone, and with ZMQ_IMMEDIATE left at 0, as
    //  only a pipe made at connect time takes ZMQ_CONNECT_ROUTING_ID.
    if (kind == COLUGO_CLIENT)
        s_set (self->handle, ZMQ_ROUTER_MANDATORY, 1);
    if (kind == COLUGO_SERVER)
        s_set (self->handle, ZMQ_ROUTER_MANDATORY, 1);  //  say when a client is gone

    //  The monitor must exist before the first connect or bind.
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                 | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_ACCEPTED
                 | ZMQ_EVENT_ACCEPT_FAILED;
    self->monitor = colugo__monitor_new (self->handle, events);
    return self->monitor ? 0 : COLUGO_EZMQ;
}

void *
colugo__monitor_new (void *handle, int events)
{
    //  Never reused (an address could be, before libzmq lets go of the
    //  old name), and atomic: nodes may run on several threads.
    static atomic_uint monitor_count;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://colugo-monitor-%u",
              atomic_fetch_add (&monitor_count, 1));
    if (zmq_socket_monitor (handle, endpoint, events)) {
        colugo__error ("cannot monitor a socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    //  libzmq sends monitor events blocking, from the I/O thread that every
    //  socket of the process shares: the monitor's pipe must never be full,
    //  or a busy callback here stalls every connection there. Events are
    //  few and small; the loop drains them.
    void *monitor = zsys_socket (ZMQ_PAIR, __FILE__, __LINE__);
    if (monitor)
        s_set (monitor, ZMQ_RCVHWM, 0);
    if (!monitor || zmq_connect (monitor, endpoint)) {
        colugo__error ("cannot connect a socket monitor: %s", zmq_strerror (zmq_errno ()));
        if (monitor)
            zsys_close (monitor, __FILE__, __LINE__);
        zmq_socket_monitor (handle, NULL, 0);
        return NULL;
    }
    return monitor;
}

void
colugo__socket_fini (colugo_socket_t *self)
{
    s_unmake (self);
    if (self->zap)
        colugo__zap_release ();
    self->zap = false;
    zhashx_destroy (&self->peers);
    zlistx_destroy (&self->accepted_fds);
    zlistx_destroy (&self->dial_queue);
    zhashx_destroy (&self->mismatched);
    free (self->topic);
    free (self->message_type);
    self->topic = NULL;
    self->message_type = NULL;
}

void
colugo__socket_close (colugo_socket_t *self)
{
    self->env->close_socket (self->env->node, self);
}

void
colugo__socket_free (void *socket)
{
    colugo_socket_t *self = (colugo_socket_t *) socket;
    if (self->destroy_kind)
        self->destroy_kind (self);
    if (self->cleanup_fn)
        self->cleanup_fn (self->cleanup_data);
    colugo__socket_fini (self);
    free (self->owner);  //  the base is the owner's first member
}

typedef struct {
    colugo_socket_t base;  //  first: the socket is its own owner
    void *context;
} s_internal_t;

colugo_socket_t *
colugo__socket_internal_new (colugo__env_t *env, colugo_kind_t kind, const char *topic,
                             int (*on_readable) (void *), void *context)
{
    s_internal_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->context = context;
    self->base.owner = self;
    self->base.on_readable = on_readable;
    if (colugo__socket_init (&self->base, env, kind, topic, NULL)
        || colugo__socket_start (&self->base)) {
        colugo__socket_free (&self->base);
        return NULL;
    }
    return &self->base;
}

void *
colugo__socket_context (void *owner)
{
    return ((s_internal_t *) owner)->context;
}

void
colugo__socket_internal_destroy (colugo_socket_t **socket_p)
{
    colugo_socket_t *self = *socket_p;
    if (!self)
        return;
    colugo__socket_stop (self);
    self->dead = true;
    if (colugo__reaper_defer (self->env->reaper, colugo__socket_free, self))
        colugo__socket_free (self);
    *socket_p = NULL;
}

static void
s_fill_peer (const s_peer_t *peer, colugo_peer_t *out)
{
    *out = (colugo_peer_t){.node_uuid = peer->node_uuid,
                           .node_name = peer->node_name,
                           .endpoint = peer->endpoint,
                           .connected = peer->connected,
                           .verified = *peer->identity != 0};
}

static void
s_peer_changed (colugo_socket_t *self, s_peer_t *peer)
{
    colugo__log (self->kind->internal ? COLUGO_LOG_DEBUG : COLUGO_LOG_INFO,
                 "%s '%s': peer %s (node '%s') %s", self->kind->name, self->topic, peer->endpoint,
                 peer->node_name, peer->connected ? "connected" : "disconnected");
    if (self->on_peer_change)
        self->on_peer_change (self, peer);
    if (self->on_peer) {
        colugo_peer_t public_peer;
        s_fill_peer (peer, &public_peer);
        self->on_peer (self, &public_peer, peer->connected, self->peer_arg);
    }
}

static void
s_set_connected (colugo_socket_t *self, s_peer_t *peer, bool connected)
{
    if (peer->connected == connected)
        return;
    peer->connected = connected;
    if (connected)
        self->connected++;
    else
        self->connected--;
    s_peer_changed (self, peer);
}

//  The claim dialled now names who the peer is.
static void
s_take_claim (s_peer_t *peer)
{
    s_claim_t *claim = (s_claim_t *) zlistx_first (peer->claims);
    peer->identity = claim->identity;
    peer->node_uuid = claim->node_uuid;
    peer->node_name = claim->node_name;
}

static void s_dial (colugo_socket_t *self, s_peer_t *peer);

//  Whether the peer's connection may be up: connected, or dialling (its
//  handshake may have succeeded before its event is read).
static bool
s_maybe_up (const s_peer_t *peer)
{
    return peer->connected || peer->state == S_DIALLING;
}

//  Lets go of a peer's endpoint in libzmq (on the kind's own socket if it
//  dialled it there): libzmq does not dial it again by itself.
static void
s_hang_up (colugo_socket_t *self, s_peer_t *peer)
{
    if (s_maybe_up (peer) && self->before_hang_up)
        self->before_hang_up (self);  //  what the peer sent last stays (see the top)
    if ((!self->dial || !self->dial (self, peer, false)) && self->handle) {
        zmq_disconnect (self->handle, peer->endpoint);
        colugo__socket_touch (self);  //  libzmq read the socket's commands
    }
}

//  Dials the peers that wait for a slot, newest first.
static void
s_dial_next (colugo_socket_t *self)
{
    s_peer_t *peer;
    while (self->dialling < S_DIALS_MAX
           && (peer = (s_peer_t *) zlistx_detach (self->dial_queue, NULL))) {
        peer->queued = NULL;
        s_dial (self, peer);
    }
}

//  Ends what the peer is doing now: a dial in progress, a wait in the
//  queue or for the next dial, a drain. The connection, if any, stays.
static void
s_peer_idle (colugo_socket_t *self, s_peer_t *peer)
{
    if (peer->state == S_DIALLING)
        self->dialling--;
    if (peer->queued)
        zlistx_delete (self->dial_queue, peer->queued);
    peer->queued = NULL;
    if (peer->redial)
        colugo__timers_cancel (self->env->timers, peer->redial);
    peer->redial = 0;
    if (peer->drain)
        colugo__timers_cancel (self->env->timers, peer->drain);
    peer->drain = 0;
    peer->state = S_WAITING;
}

static void
s_on_redial (void *arg)
{
    s_peer_t *peer = (s_peer_t *) arg;
    colugo_socket_t *self = peer->socket;
    peer->redial = 0;
    s_dial (self, peer);
}

//  The connection is gone or never came: libzmq will not dial again (no
//  reconnects), so let go of the endpoint there and dial it afresh later,
//  at once after a loss, backing off while dials fail.
static void
s_schedule_dial (colugo_socket_t *self, s_peer_t *peer, bool failed)
{
    s_peer_idle (self, peer);
    s_hang_up (self, peer);
    if (failed && peer->failures < 16)
        peer->failures++;
    int64_t delay = S_REDIAL_MS;
    if (failed) {
        delay = (int64_t) S_REDIAL_MS << (peer->failures < 8 ? peer->failures : 8);
        if (delay > S_REDIAL_MAX_MS)
            delay = S_REDIAL_MAX_MS;
    }
    peer->redial =
        colugo__timers_add (self->env->timers, zclock_mono () + delay, 0, s_on_redial, peer);
    s_dial_next (self);
    //  Last: the application's callback may let go of the peer.
    s_set_connected (self, peer, false);
}

static void s_end_drain (colugo_socket_t *self, s_peer_t *peer);

static void
s_on_dial_deadline (void *arg)
{
    s_peer_t *peer = (s_peer_t *) arg;
    colugo_socket_t *self = peer->socket;
    peer->redial = 0;
    unsigned suppressed;
    if (colugo__ratelimit (&self->peer_log, &suppressed))
        colugo__warn ("%s '%s': no answer from libzmq about the dial of %s in %d ms: dialling "
                      "again (%u more not logged)",
                      self->kind->name, self->topic, peer->endpoint, S_DIAL_DEADLINE_MS,
                      suppressed);
    if (peer->drain)
        s_end_drain (self, peer);  //  withdrawn meanwhile: no dial again
    else
        s_schedule_dial (self, peer, true);
}

//  The user name travels in the handshake: the listener checks it. (Set on
//  the socket for its next connect: libzmq copies it into the connection.)
//  The trunk's out is the server of its handshakes instead: the in it
//  dials names itself, and the out's ZAP handler checks that name against
//  the domain, the identity dialled (trunk.h).
static void
s_set_user (colugo_socket_t *self, s_peer_t *peer)
{
    if (!self->handle)
        return;
    if (self->kind->kind == COLUGO__TRUNK_OUT) {
        s_set (self->handle, ZMQ_PLAIN_SERVER, 1);
        zmq_setsockopt (self->handle, ZMQ_ZAP_DOMAIN, peer->identity, strlen (peer->identity));
    }
    else if (*peer->identity) {
        zmq_setsockopt (self->handle, ZMQ_PLAIN_USERNAME, peer->identity, strlen (peer->identity));
        zmq_setsockopt (self->handle, ZMQ_PLAIN_PASSWORD, "", 0);
    }
    else
        zmq_setsockopt (self->handle, ZMQ_PLAIN_USERNAME, NULL, 0);  //  the NULL mechanism
}

static void
s_dial (colugo_socket_t *self, s_peer_t *peer)
{
    s_peer_idle (self, peer);
    if (self->dialling >= S_DIALS_MAX) {
        peer->queued = zlistx_add_start (self->dial_queue, peer);
        peer->state = S_QUEUED;
        return;
    }
    s_take_claim (peer);
    s_set_user (self, peer);
    peer->dial = ++self->last_dial;
    if (self->before_dial)
        self->before_dial (self, peer);
    int dialled = self->dial ? self->dial (self, peer, true) : 0;
    if (!dialled && !self->handle && (dialled = s_open (self)) == 0)
        s_set_user (self, peer);  //  opened now, at its first dial of its own
    int rc = dialled < 0 || (!dialled && zmq_connect (self->handle, peer->endpoint)) ? -1 : 0;
    if (self->handle)
        zmq_setsockopt (self->handle, ZMQ_PLAIN_USERNAME, NULL, 0);
    //  libzmq read the socket's commands, and a pipe it attached now only
    //  signals once a look at the socket's events found it empty.
    colugo__socket_touch (self);
    if (rc) {
        if (dialled >= 0)  //  (a kind's dial, or the socket's making, said why)
            colugo__warn ("cannot connect to '%s': %s", peer->endpoint,
                          zmq_strerror (zmq_errno ()));
        s_schedule_dial (self, peer, true);
        return;
    }
    colugo__debug ("topic '%s': dialling %s (node '%s')", self->topic, peer->endpoint,
                   peer->node_name);
    peer->state = S_DIALLING;
    self->dialling++;
    //  (Any event of the dial ends the wait: s_peer_idle cancels it.)
    peer->redial = colugo__timers_add (self->env->timers, zclock_mono () + S_DIAL_DEADLINE_MS, 0,
                                       s_on_dial_deadline, peer);
}

//  Lets go of a claim that has no references left: hangs up if it is the
//  one dialled, then gives the endpoint's next claim its turn, or forgets
//  the endpoint.
static void
s_drop_claim (colugo_socket_t *self, s_peer_t *peer, s_claim_t *claim)
{
    bool dialled = claim == zlistx_first (peer->claims);
    if (dialled) {
        s_peer_idle (self, peer);
        s_hang_up (self, peer);
        //  The monitor may not report a disconnect we asked for: say it
        //  here, while the claim's names still stand.
        s_set_connected (self, peer, false);
    }
    zlistx_delete (peer->claims, zlistx_find (peer->claims, claim));
    if (zlistx_size (peer->claims) == 0) {
        zhashx_delete (self->peers, peer->endpoint);
        s_dial_next (self);
    }
    else if (dialled)
        s_dial (self, peer);  //  the next claim's turn
}

//  A drained peer's connection ended (the publisher flushed what it had
//  and closed), or the drain's time ran out: its withdrawn claim goes.
static void
s_end_drain (colugo_socket_t *self, s_peer_t *peer)
{
    s_drop_claim (self, peer, (s_claim_t *) zlistx_first (peer->claims));
}

static void
s_on_drain_timeout (void *arg)
{
    s_peer_t *peer = (s_peer_t *) arg;
    peer->drain = 0;
    colugo__debug ("%s '%s': withdrawn peer %s did not close within %d ms: hanging up",
                   peer->socket->kind->name, peer->socket->topic, peer->endpoint, S_DRAIN_MS);
    s_end_drain (peer->socket, peer);
}

//  The listener refused the identity we asked for: the claim is false (a
//  port reused, a record that names another service's endpoint). Give the
//  next claim of this endpoint its turn.
static void
s_refused (colugo_socket_t *self, s_peer_t *peer)
{
    self->stats.refused++;
    unsigned suppressed;
    //  The node link dials every node record in the caches, and records of
    //  nodes gone linger there for minutes, their ports reused since: what
    //  the application did not ask for is only a debug line (and counted).
    colugo_log_level_t level = self->kind->internal ? COLUGO_LOG_DEBUG : COLUGO_LOG_WARN;
    if (colugo__ratelimit (&self->peer_log, &suppressed))
        colugo__log (level,
                     "%s '%s': %s is not the service advertised by node '%s' (%s): not "
                     "connected (%u more not logged)",
                     self->kind->name, self->topic, peer->endpoint, peer->node_name, peer->identity,
                     suppressed);
    if (zlistx_size (peer->claims) > 1) {
        s_claim_t *claim = (s_claim_t *) zlistx_detach (peer->claims, NULL);
        zlistx_add_end (peer->claims, claim);
    }
}

static void
s_on_binder_event (colugo_socket_t *self, uint16_t event, uint32_t value)
{
    uintptr_t fd = (uintptr_t) value + 1;  //  never NULL in the list
    if (event == ZMQ_EVENT_ACCEPTED) {
        zlistx_add_end (self->accepted_fds, (void *) fd);
        self->accepted++;
    }
    else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        self->handshakes++;
    else if (event
             & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
        self->handshakes_failed++;
    else if (event == ZMQ_EVENT_ACCEPT_FAILED) {
        unsigned suppressed;
        if (colugo__ratelimit (&self->peer_log, &suppressed))
            colugo__warn ("%s '%s': cannot accept a connection: %s (%u more not logged)",
                          self->kind->name, self->topic, strerror ((int) value), suppressed);
    }
    else if (event == ZMQ_EVENT_DISCONNECTED) {
        void *handle = zlistx_find (self->accepted_fds, (void *) fd);
        if (handle) {
            zlistx_delete (self->accepted_fds, handle);
            self->accepted--;
            self->accepted_closed++;
            if (self->on_accepted_closed)
                self->on_accepted_closed (self, (int) value);
        }
    }
}

static void
s_on_event (colugo_socket_t *self, uint16_t event, uint32_t value, const char *endpoint)
{
    if (s_is_binder (self)) {
        s_on_binder_event (self, event, value);
        return;
    }
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    colugo__debug ("%s '%s': event 0x%x (%u) on %s", self->kind->name, self->topic, event, value,
                   endpoint);
    if (!peer || peer->state == S_QUEUED || peer->state == S_WAITING)
        return;  //  an endpoint we have let go meanwhile, or a dial that ended
    if (peer->drain) {
        if (event & (ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED))
            s_end_drain (self, peer);  //  flushed and closed by the publisher
        return;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && peer->state == S_DIALLING) {
        s_peer_idle (self, peer);
        peer->state = S_UP;
        peer->failures = 0;
        s_dial_next (self);
        s_set_connected (self, peer, true);  //  last: the callback may let go of the peer
    }
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        s_refused (self, peer);
        s_schedule_dial (self, peer, true);
    }
    else if (event == ZMQ_EVENT_DISCONNECTED && peer->state == S_UP)
        s_schedule_dial (self, peer, false);
    else if (event
             & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED))
        s_schedule_dial (self, peer, true);  //  refused, silent, or not ZeroMQ
}

void
colugo__socket_event (colugo_socket_t *self, uint16_t event, uint32_t value, const char *endpoint)
{
    s_on_event (self, event, value, endpoint);
}

//  Reads the monitor's events until there are none left. Returns false if
//  it stopped early (a bound, or the socket closed from a callback).
static bool
s_drain_monitor (colugo_socket_t *self)
{
    void *monitor = self->monitor;
    if (!monitor)
        return true;  //  not opened (yet): no events
    for (int i = 0; i < 1000; i++) {
        if (self->dead)
            return false;
        zmq_msg_t first, second;
        zmq_msg_init (&first);
        if (zmq_msg_recv (&first, monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&first);
            return true;  //  EAGAIN: drained, the fd will signal again
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&first) >= 6) {
            memcpy (&event, zmq_msg_data (&first), 2);
            memcpy (&value, (uint8_t *) zmq_msg_data (&first) + 2, 4);
        }
        zmq_msg_close (&first);
        zmq_msg_init (&second);
        char endpoint [256] = "";
        if (zmq_msg_recv (&second, monitor, ZMQ_DONTWAIT) >= 0) {
            size_t size = zmq_msg_size (&second);
            if (size >= sizeof endpoint)
                size = sizeof endpoint - 1;
            memcpy (endpoint, zmq_msg_data (&second), size);
            endpoint [size] = 0;
        }
        zmq_msg_close (&second);
        s_on_event (self, event, value, endpoint);
    }
    return false;
}

static void s_on_monitor_retry (void *arg);

//  Reads the socket's monitor now (its events change peers, and run their
//  callbacks), or again from the loop if a bound stopped it.
static void
s_read_events (colugo_socket_t *self)
{
    if (!s_drain_monitor (self) && !self->dead && !self->monitor_retry)
        self->monitor_retry =
            colugo__timers_add (self->env->timers, 0, 0, s_on_monitor_retry, self);
}

static void
s_on_monitor_retry (void *arg)
{
    colugo_socket_t *self = (colugo_socket_t *) arg;
    self->monitor_retry = 0;
    if (!s_drain_monitor (self) && !self->dead)
        self->monitor_retry =
            colugo__timers_add (self->env->timers, 0, 0, s_on_monitor_retry, self);
}

//  The monitor socket is only ever read: draining it to EAGAIN is enough for
//  its ZMQ_FD to signal again (poller.h).
static int
s_on_monitor (void *arg)
{
    colugo_socket_t *self = (colugo_socket_t *) arg;
    s_read_events (self);
    return colugo__env_handler_rc (self->env);
}

static int
s_on_readable (void *arg)
{
    colugo_socket_t *self = (colugo_socket_t *) arg;
    if (self->dead)
        return 0;  //  closed earlier in this pass of the loop
    int rc = self->on_readable (self->owner);
    return rc ? rc : colugo__env_handler_rc (self->env);
}

static int
s_register (colugo_socket_t *self)
{
    colugo__poller_t *poller = self->env->poller;
    void *monitor = self->monitor;
    if (colugo__poller_add (poller, monitor, s_on_monitor, self))
        return COLUGO_EZMQ;
    if (self->on_readable && colugo__poller_add (poller, self->handle, s_on_readable, self)) {
        colugo__poller_remove (poller, monitor);
        return COLUGO_EZMQ;
    }
    //  What happened before (the monitor's start) may have used ZMQ_FD's
    //  signal up: the poller looks at each socket it is given on its next
    //  pass, which puts the two in step.
    return 0;
}

int
colugo__socket_start (colugo_socket_t *self)
{
    int rc = self->handle ? s_register (self) : 0;
    self->started = rc == 0;
    return rc;
}

void
colugo__socket_stop (colugo_socket_t *self)
{
    self->started = false;
    if (self->handle)  //  (one never opened registered nothing)
        colugo__poller_remove (self->env->poller, self->monitor);
    if (self->monitor_retry)
        colugo__timers_cancel (self->env->timers, self->monitor_retry);
    self->monitor_retry = 0;
    //  A peer's next dial is a timer that names it: none may outlive it.
    for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer;
         peer = (s_peer_t *) zhashx_next (self->peers))
        s_peer_idle (self, peer);
    if (self->on_readable && self->handle)
        colugo__poller_remove (self->env->poller, self->handle);
}

void
colugo__socket_touch (colugo_socket_t *self)
{
    if (self->handle)
        colugo__poller_touch (self->env->poller, self->handle);
}

//  A claim is a service's identity and the node it names: unchecked
//  endpoints of two nodes (a port reused by an original Colugo node) are
//  two claims too.
static s_claim_t *
s_find_claim (s_peer_t *peer, const char *identity, const char *node_uuid)
{
    s_claim_t *claim = (s_claim_t *) zlistx_first (peer->claims);
    while (claim && (strcmp (claim->identity, identity) || strcmp (claim->node_uuid, node_uuid)))
        claim = (s_claim_t *) zlistx_next (peer->claims);
    return claim;
}

int
colugo__socket_add_peer (colugo_socket_t *self, const char *endpoint, const char *identity,
                         const char *node_uuid, const char *node_name)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    s_claim_t *claim = peer ? s_find_claim (peer, identity, node_uuid) : NULL;
    if (claim) {
        //  A drained service advertised again (a daemon's restart): its
        //  connection is still up and still the one it names.
        if (claim->refs++ == 0 && peer->drain) {
            colugo__timers_cancel (self->env->timers, peer->drain);
            peer->drain = 0;
        }
        return 0;
    }
    if (peer && peer->drain) {
        //  Another service names the endpoint now: the drained one is over.
        s_end_drain (self, peer);
        peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    }
    claim = calloc (1, sizeof *claim);
    if (!claim)
        return COLUGO_ENOMEM;
    *claim = (s_claim_t){.identity = strdup (identity),
                         .node_uuid = strdup (node_uuid),
                         .node_name = strdup (node_name),
                         .refs = 1};
    if (!claim->identity || !claim->node_uuid || !claim->node_name) {
        void *item = claim;
        s_claim_destructor (&item);
        return COLUGO_ENOMEM;
    }
    if (peer) {
        //  Another service names this endpoint: it waits its turn.
        if (!zlistx_add_end (peer->claims, claim)) {
            void *item = claim;
            s_claim_destructor (&item);
            return COLUGO_ENOMEM;
        }
        colugo__debug ("topic '%s': %s is claimed by node '%s' too", self->topic, endpoint,
                       node_name);
        return 0;
    }
    peer = calloc (1, sizeof *peer);
    if (peer) {
        peer->endpoint = strdup (endpoint);
        peer->claims = zlistx_new ();
        peer->socket = self;
        peer->state = S_WAITING;
    }
    if (!peer || !peer->endpoint || !peer->claims || !zlistx_add_end (peer->claims, claim)) {
        void *item = claim;
        s_claim_destructor (&item);
        item = peer;
        s_peer_destructor (&item);
        return COLUGO_ENOMEM;
    }
    zlistx_set_destructor (peer->claims, s_claim_destructor);
    zhashx_insert (self->peers, endpoint, peer);
    s_dial (self, peer);
    return 0;
}

int
colugo__socket_remove_peer (colugo_socket_t *self, const char *endpoint, const char *identity,
                            const char *node_uuid, bool withdrawn)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    s_claim_t *claim = peer ? s_find_claim (peer, identity, node_uuid) : NULL;
    if (claim && claim->refs == 0 && peer->drain && !withdrawn) {
        s_end_drain (self, peer);  //  let go at once after all
        return 0;
    }
    if (!claim || claim->refs == 0)
        return COLUGO_ENOTFOUND;
    if (--claim->refs > 0)
        return 0;
    //  A withdrawal travels faster than the data before it (the node link
    //  tells at once, a publisher's socket flushes for up to its linger):
    //  hanging up now would lose the end of its stream. The publisher that
    //  closes ends the connection itself once the data is out.
    if (withdrawn && self->kind->drains && s_maybe_up (peer) && zlistx_size (peer->claims) == 1) {
        peer->drain = colugo__timers_add (self->env->timers, zclock_mono () + S_DRAIN_MS, 0,
                                          s_on_drain_timeout, peer);
        if (peer->drain) {
            colugo__debug ("%s '%s': peer %s withdrawn: draining its connection", self->kind->name,
                           self->topic, endpoint);
            return 0;
        }
    }
    s_drop_claim (self, peer, claim);
    return 0;
}

bool
colugo__socket_accepts (colugo_socket_t *self, const char *peer_type, const char *key,
                        const char *endpoint, const char *node_uuid, const char *node_name)
{
    if (!self->message_type || !*peer_type || strcmp (self->message_type, peer_type) == 0)
        return true;
    if (zhashx_lookup (self->mismatched, key))
        return false;  //  reported already
    zhashx_insert (self->mismatched, key, (void *) 1);
    self->stats.mismatches++;
    colugo__warn ("topic '%s': not connecting to %s (node '%s'): it carries '%s', we expect '%s'",
                  self->topic, endpoint, node_name, peer_type, self->message_type);
    if (self->on_mismatch) {
        colugo_peer_t peer = {.node_uuid = node_uuid,
                              .node_name = node_name,
                              .endpoint = endpoint,
                              .connected = false};
        self->on_mismatch (self, &peer, peer_type, self->mismatch_arg);
    }
    return false;
}

bool
colugo__socket_forget_mismatch (colugo_socket_t *self, const char *key)
{
    if (!zhashx_lookup (self->mismatched, key))
        return false;
    zhashx_delete (self->mismatched, key);
    return true;
}

bool
colugo__socket_size_ok (colugo_socket_t *self, size_t size)
{
    size_t max = self->env->max_message_size;
    if (max == 0 || size <= max)
        return true;
    char why [96];
    snprintf (why, sizeof why, "%zu bytes, more than the maximum of %zu", size, max);
    colugo__socket_drop (self, why);
    return false;
}

void
colugo__socket_drop (colugo_socket_t *self, const char *why)
{
    self->stats.dropped++;
    unsigned suppressed;
    if (colugo__ratelimit (&self->drop_log, &suppressed))
        colugo__warn ("topic '%s': dropped a message: %s (%llu dropped in all, %u not logged)",
                      self->topic, why, (unsigned long long) self->stats.dropped, suppressed);
}

//  --------------------------------------------------------------------------
//  Public API

const char *
colugo_socket_topic (colugo_socket_t *self)
{
    return self->topic;
}

const char *
colugo_socket_type (colugo_socket_t *self)
{
    return self->message_type;
}

void
colugo_socket_set_mismatch_handler (colugo_socket_t *self, colugo_mismatch_fn *handler, void *arg)
{
    self->on_mismatch = handler;
    self->mismatch_arg = arg;
}

void
colugo_socket_drop (colugo_socket_t *self, const char *why)
{
    colugo__socket_drop (self, why ? why : "dropped by the application");
}

void
colugo_socket_set_attachment (colugo_socket_t *self, const void *owner, void *data,
                              void (*free_fn) (void *))
{
    self->attachment_owner = owner;
    self->cleanup_data = data;
    self->cleanup_fn = free_fn;
}

void *
colugo_socket_attachment (colugo_socket_t *self, const void *owner)
{
    return owner && owner == self->attachment_owner ? self->cleanup_data : NULL;
}

colugo_kind_t
colugo_socket_kind (colugo_socket_t *self)
{
    return self->kind->kind;
}

uint16_t
colugo_socket_port (colugo_socket_t *self)
{
    return self->port;
}

uint16_t
colugo_socket_verified_port (colugo_socket_t *self)
{
    return self->verified_port;
}

void
colugo_socket_set_peer_handler (colugo_socket_t *self, colugo_peer_fn *handler, void *arg)
{
    self->on_peer = handler;
    self->peer_arg = arg;
}

size_t
colugo_socket_peer_count (colugo_socket_t *self)
{
    if (!s_is_binder (self))
        return self->connected;
    //  Accepted connections that completed the handshake and have not closed
    //  (a connection that never speaks ZeroMQ is no peer). Each one closes
    //  after one handshake result at most: libzmq 4.3.4 gives handshake
    //  events no descriptor, so live ones are counted, not named. libzmq
    //  does not report a few protocol errors before a handshake completes
    //  (e.g. ZMTP 1.0 on the verified port): those are counted as closed
    //  handshaken ones, so the count can err low, never high, and never
    //  past the connections open now.
    uint64_t ended = self->accepted_closed > self->handshakes_failed
                         ? self->accepted_closed - self->handshakes_failed
                         : 0;
    uint64_t live = self->handshakes > ended ? self->handshakes - ended : 0;
    size_t more = self->more_peers ? self->more_peers (self) : 0;
    return (live < self->accepted ? (size_t) live : self->accepted) + more;
}

size_t
colugo_socket_peers (colugo_socket_t *self, colugo_peer_t *peers, size_t max)
{
    size_t count = 0;
    if (s_is_binder (self))
        return 0;
    s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers);
    while (peer && count < max) {
        if (peer->connected)
            s_fill_peer (peer, &peers [count++]);
        peer = (s_peer_t *) zhashx_next (self->peers);
    }
    return count;
}

//  Accepts "tcp://<IPv4 address>:<port>" only: libzmq's monitor names a
//  connection by its numeric address, so a host name would never be seen
//  as connected.
static bool
s_numeric_endpoint (const char *endpoint)
{
    const char *prefix = "tcp://";
    if (strncmp (endpoint, prefix, strlen (prefix)) != 0)
        return false;
    const char *host = endpoint + strlen (prefix);
    const char *colon = strrchr (host, ':');
    if (!colon || colon - host >= INET_ADDRSTRLEN)
        return false;
    char address [INET_ADDRSTRLEN];
    memcpy (address, host, (size_t) (colon - host));
    address [colon - host] = 0;
    struct in_addr parsed;
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    return inet_pton (AF_INET, address, &parsed) == 1 && end && *end == 0 && colon [1] != 0
           && port > 0 && port <= 65535;
}

int
colugo_socket_connect (colugo_socket_t *self, const char *endpoint)
{
    if (!endpoint || s_is_binder (self) || self->dead || !s_numeric_endpoint (endpoint))
        return COLUGO_EINVAL;
    return colugo__socket_add_peer (self, endpoint, "", "", "");
}

int
colugo_socket_disconnect (colugo_socket_t *self, const char *endpoint)
{
    if (!endpoint || s_is_binder (self))
        return COLUGO_EINVAL;
    return colugo__socket_remove_peer (self, endpoint, "", "", false);
}

colugo_socket_stats_t
colugo_socket_stats (colugo_socket_t *self)
{
    return self->stats;
}
