/*  socket.c: the part every Colugo socket shares: the ZeroMQ socket and its
    options, the monitor that tells which peers are really connected, and
    the peer table of connecting sockets.

    Liveness: mDNS keeps a dead peer's records for minutes, so it cannot say
    whether a peer lives. ZeroMQ heartbeats (ZMTP PING/PONG) close a
    connection whose peer stopped answering; the monitor reports that as
    DISCONNECTED, and the peer stops counting as connected. A clean close or
    a killed process is reported at once by TCP.
*/
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colugo/error.h"
#include "sock.h"

typedef colugo__peer_t s_peer_t;

#define S_LINGER_MS 500            //  flush queued messages on close
#define S_RECONNECT_MAX_MS 1000    //  back off retries to a vanished peer
#define S_CONNECT_TIMEOUT_MS 2000  //  give up a TCP connect to a host cut off

static void
s_peer_destructor (void **item)
{
    s_peer_t *peer = (s_peer_t *) *item;
    if (!peer)
        return;
    free (peer->endpoint);
    free (peer->node_uuid);
    free (peer->node_name);
    free (peer);
    *item = NULL;
}

static void
s_set (void *handle, int option, int value)
{
    if (zmq_setsockopt (handle, option, &value, sizeof value))
        colugo__warn ("cannot set socket option %d: %s", option, zmq_strerror (zmq_errno ()));
}

static const colugo__kind_t s_kinds [] = {
    {COLUGO_PUBLISHER, "publisher", ZMQ_PUB, true, ZMQ_PUB, COLUGO_SUBSCRIBER},
    {COLUGO_SUBSCRIBER, "subscriber", ZMQ_SUB, false, ZMQ_PUB, COLUGO_PUBLISHER},
    {COLUGO_CLIENT, "client", ZMQ_ROUTER, false, ZMQ_REP, COLUGO_SERVER},
    {COLUGO_SERVER, "server", ZMQ_ROUTER, true, ZMQ_REP, COLUGO_CLIENT},
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
    self->zsock = zsock_new (self->kind->zmq_type);
    if (!self->topic || (type && !self->message_type) || !self->mismatched || !self->peers
        || !self->accepted_fds || !self->zsock)
        return COLUGO_ENOMEM;
    zhashx_set_destructor (self->peers, s_peer_destructor);
    self->handle = zsock_resolve (self->zsock);

    s_set (self->handle, ZMQ_HEARTBEAT_IVL, env->heartbeat_ivl);
    s_set (self->handle, ZMQ_HEARTBEAT_TIMEOUT, env->heartbeat_timeout);
    s_set (self->handle, ZMQ_HEARTBEAT_TTL, env->heartbeat_timeout);
    s_set (self->handle, ZMQ_LINGER, S_LINGER_MS);
    s_set (self->handle, ZMQ_SNDHWM, env->queue_limit);
    s_set (self->handle, ZMQ_RCVHWM, env->queue_limit);
    s_set (self->handle, ZMQ_RECONNECT_IVL_MAX, S_RECONNECT_MAX_MS);
    s_set (self->handle, ZMQ_CONNECT_TIMEOUT, S_CONNECT_TIMEOUT_MS);
    if (kind == COLUGO_SUBSCRIBER)
        zmq_setsockopt (self->handle, ZMQ_SUBSCRIBE, "", 0);
    //  The client picks each request's server by routing id (client.c):
    //  told at once when it is gone, and with ZMQ_IMMEDIATE left at 0, as
    //  only a pipe made at connect time takes ZMQ_CONNECT_ROUTING_ID.
    if (kind == COLUGO_CLIENT)
        s_set (self->handle, ZMQ_ROUTER_MANDATORY, 1);
    if (kind == COLUGO_SERVER)
        s_set (self->handle, ZMQ_ROUTER_MANDATORY, 1);  //  say when a client is gone

    //  The monitor must exist before the first connect or bind.
    char monitor_endpoint [64];
    //  Never reused (an address could be, before libzmq lets go of the
    //  old name), and atomic: nodes may run on several threads.
    static atomic_uint monitor_count;
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://colugo-monitor-%u",
              atomic_fetch_add (&monitor_count, 1));
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_ACCEPTED;
    if (zmq_socket_monitor (self->handle, monitor_endpoint, events)) {
        colugo__error ("cannot monitor a socket: %s", zmq_strerror (zmq_errno ()));
        return COLUGO_EZMQ;
    }
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor || zsock_connect (self->monitor, "%s", monitor_endpoint)) {
        colugo__error ("cannot connect a socket monitor");
        return COLUGO_EZMQ;
    }
    if (s_is_binder (self)) {
        //  Every interface: peers reach us at whatever address of this host
        //  DNS-SD gives them for the interface they saw us on.
        int port = zsock_bind (self->zsock, "tcp://*:*");
        if (port < 0) {
            colugo__error ("cannot bind a socket for topic '%s': %s", topic,
                           zmq_strerror (zmq_errno ()));
            return COLUGO_EZMQ;
        }
        self->port = (uint16_t) port;
    }
    return 0;
}

void
colugo__socket_fini (colugo_socket_t *self)
{
    if (self->monitor && self->handle)
        zmq_socket_monitor (self->handle, NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->zsock);
    zhashx_destroy (&self->peers);
    zlistx_destroy (&self->accepted_fds);
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

static void
s_fill_peer (const s_peer_t *peer, colugo_peer_t *out)
{
    *out = (colugo_peer_t){.node_uuid = peer->node_uuid,
                           .node_name = peer->node_name,
                           .endpoint = peer->endpoint,
                           .connected = peer->connected};
}

static void
s_peer_changed (colugo_socket_t *self, s_peer_t *peer)
{
    colugo__info ("%s '%s': peer %s (node '%s') %s", self->kind->name, self->topic, peer->endpoint,
                  peer->node_name, peer->connected ? "connected" : "disconnected");
    if (self->on_peer_change)
        self->on_peer_change (self, peer);
    if (self->on_peer) {
        colugo_peer_t public_peer;
        s_fill_peer (peer, &public_peer);
        self->on_peer (self, &public_peer, peer->connected, self->peer_arg);
    }
}

//  The endpoint now belongs to another node (its port was reused). If we
//  are connected, it is to the new node: say so, as a disconnect from the
//  old one and a connect to the new one.
static void
s_peer_rename (colugo_socket_t *self, s_peer_t *peer, const char *node_uuid, const char *node_name)
{
    char *uuid = strdup (node_uuid), *name = strdup (node_name);
    if (!uuid || !name) {
        free (uuid);
        free (name);
        return;
    }
    bool connected = peer->connected;
    if (connected) {
        peer->connected = false;
        self->connected--;
        s_peer_changed (self, peer);
    }
    free (peer->node_uuid);
    free (peer->node_name);
    peer->node_uuid = uuid;
    peer->node_name = name;
    if (connected) {
        peer->connected = true;
        self->connected++;
        s_peer_changed (self, peer);
    }
}

static void
s_on_event (colugo_socket_t *self, uint16_t event, uint32_t value, const char *endpoint)
{
    if (s_is_binder (self)) {
        uintptr_t fd = (uintptr_t) value + 1;  //  never NULL in the list
        if (event == ZMQ_EVENT_ACCEPTED) {
            zlistx_add_end (self->accepted_fds, (void *) fd);
            self->accepted++;
        }
        else if (event == ZMQ_EVENT_DISCONNECTED) {
            void *handle = zlistx_find (self->accepted_fds, (void *) fd);
            if (handle) {
                zlistx_delete (self->accepted_fds, handle);
                self->accepted--;
                if (self->on_accepted_closed)
                    self->on_accepted_closed (self, (int) value);
            }
        }
        return;
    }
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    if (!peer)
        return;  //  an endpoint we have let go meanwhile
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !peer->connected) {
        peer->connected = true;
        self->connected++;
        s_peer_changed (self, peer);
    }
    else if (event == ZMQ_EVENT_DISCONNECTED && peer->connected) {
        peer->connected = false;
        self->connected--;
        s_peer_changed (self, peer);
    }
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
    void *monitor = zsock_resolve (self->monitor);
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

static void
s_on_monitor_retry (void *arg)
{
    colugo_socket_t *self = (colugo_socket_t *) arg;
    self->monitor_retry = 0;
    if (!s_drain_monitor (self) && !self->dead)
        self->monitor_retry =
            colugo__timers_add (self->env->timers, 0, 0, s_on_monitor_retry, self);
}

//  The monitor socket is polled through its ZMQ_FD, like a plain fd: it is
//  only ever read, so draining it to EAGAIN is enough for the fd to signal
//  again, and zmq_poll need not ask it for ZMQ_EVENTS on every wake-up of
//  the loop (which, on a request path, costs as much as the request).
static int
s_on_monitor (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    colugo_socket_t *self = (colugo_socket_t *) arg;
    if (!s_drain_monitor (self) && !self->dead && !self->monitor_retry)
        self->monitor_retry =
            colugo__timers_add (self->env->timers, 0, 0, s_on_monitor_retry, self);
    return colugo__env_handler_rc (self->env);
}

static int
s_on_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    colugo_socket_t *self = (colugo_socket_t *) arg;
    if (self->dead)
        return 0;  //  closed earlier in this pass of the loop
    int rc = self->on_readable (loop, reader, self->owner);
    return rc ? rc : colugo__env_handler_rc (self->env);
}

int
colugo__socket_start (colugo_socket_t *self, zloop_t *loop)
{
    size_t length = sizeof self->monitor_fd;
    if (zmq_getsockopt (zsock_resolve (self->monitor), ZMQ_FD, &self->monitor_fd, &length))
        return COLUGO_EZMQ;
    zmq_pollitem_t item = {NULL, self->monitor_fd, ZMQ_POLLIN, 0};
    if (zloop_poller (loop, &item, s_on_monitor, self))
        return COLUGO_EZMQ;
    zloop_poller_set_tolerant (loop, &item);
    if (self->on_readable) {
        if (zloop_reader (loop, self->zsock, s_on_readable, self)) {
            zloop_poller_end (loop, &item);
            return COLUGO_EZMQ;
        }
        zloop_reader_set_tolerant (loop, self->zsock);
    }
    //  ZMQ_FD only signals after the socket's commands were read to the
    //  end; what happened before (the monitor's start) may have used the
    //  signal up. A first drain from the loop puts the two in step.
    self->monitor_retry = colugo__timers_add (self->env->timers, 0, 0, s_on_monitor_retry, self);
    return 0;
}

void
colugo__socket_stop (colugo_socket_t *self, zloop_t *loop)
{
    zmq_pollitem_t item = {NULL, self->monitor_fd, 0, 0};
    zloop_poller_end (loop, &item);
    if (self->monitor_retry)
        colugo__timers_cancel (self->env->timers, self->monitor_retry);
    self->monitor_retry = 0;
    if (self->on_readable)
        zloop_reader_end (loop, self->zsock);
}

int
colugo__socket_add_peer (colugo_socket_t *self, const char *endpoint, const char *node_uuid,
                         const char *node_name)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    if (peer) {
        peer->refs++;
        if (*node_uuid && strcmp (peer->node_uuid, node_uuid))
            s_peer_rename (self, peer, node_uuid, node_name);
        return 0;
    }
    peer = calloc (1, sizeof *peer);
    if (!peer)
        return COLUGO_ENOMEM;
    *peer = (s_peer_t){.endpoint = strdup (endpoint),
                       .node_uuid = strdup (node_uuid),
                       .node_name = strdup (node_name),
                       .refs = 1};
    if (!peer->endpoint || !peer->node_uuid || !peer->node_name) {
        void *item = peer;
        s_peer_destructor (&item);
        return COLUGO_ENOMEM;
    }
    peer->dial = ++self->last_dial;
    if (self->before_dial)
        self->before_dial (self, peer);
    int dialled = self->dial ? self->dial (self, peer, true) : 0;
    if (dialled < 0 || (!dialled && zmq_connect (self->handle, endpoint))) {
        colugo__warn ("cannot connect to '%s': %s", endpoint, zmq_strerror (zmq_errno ()));
        void *item = peer;
        s_peer_destructor (&item);
        return COLUGO_EINVAL;
    }
    colugo__debug ("topic '%s': connecting to %s (node '%s')", self->topic, endpoint, node_name);
    zhashx_insert (self->peers, endpoint, peer);
    return 0;
}

int
colugo__socket_remove_peer (colugo_socket_t *self, const char *endpoint)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, endpoint);
    if (!peer)
        return COLUGO_ENOTFOUND;
    if (--peer->refs > 0)
        return 0;
    if (!self->dial || !self->dial (self, peer, false))
        zmq_disconnect (self->handle, endpoint);
    //  The monitor may not report a disconnect we asked for: say it here.
    if (peer->connected) {
        peer->connected = false;
        self->connected--;
        s_peer_changed (self, peer);
    }
    zhashx_delete (self->peers, endpoint);
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

void
colugo_socket_set_peer_handler (colugo_socket_t *self, colugo_peer_fn *handler, void *arg)
{
    self->on_peer = handler;
    self->peer_arg = arg;
}

size_t
colugo_socket_peer_count (colugo_socket_t *self)
{
    return s_is_binder (self) ? self->accepted : self->connected;
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
    return colugo__socket_add_peer (self, endpoint, "", "");
}

int
colugo_socket_disconnect (colugo_socket_t *self, const char *endpoint)
{
    if (!endpoint || s_is_binder (self))
        return COLUGO_EINVAL;
    return colugo__socket_remove_peer (self, endpoint);
}

colugo_socket_stats_t
colugo_socket_stats (colugo_socket_t *self)
{
    return self->stats;
}
