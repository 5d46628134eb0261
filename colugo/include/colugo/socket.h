/*  colugo/socket.h: what every Colugo socket has in common.

    Publishers, subscribers, request clients and reply servers are sockets:
    each has a topic, a kind, and a set of peers it is connected to right now.
    Get the socket of one with colugo_publisher_socket () and friends.

    Connecting sockets (subscribers, clients) know their peers by node and
    endpoint: a peer counts as connected once the ZeroMQ handshake with it has
    succeeded, and stops counting as soon as the connection is lost, whether
    it closed, the peer was killed (within the heartbeat timeout, about 3 s by
    default), or its service was withdrawn. Binding sockets count: a server
    the connections it accepted; a publisher the Colugo nodes subscribed to
    it (over the one connection between the two nodes, however many of the
    node's subscribers take its topic) and the connections it accepted
    (original Colugo nodes, plain ZeroMQ peers, subscribers in its own
    node). A publisher lets go of a subscriber that froze within twice the
    heartbeat timeout.
*/
#ifndef COLUGO_SOCKET_H_INCLUDED
#define COLUGO_SOCKET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "colugo/export.h"

COLUGO_BEGIN_DECLS

typedef struct colugo_socket_t colugo_socket_t;

typedef enum {
    COLUGO_PUBLISHER = 1,
    COLUGO_SUBSCRIBER = 2,
    COLUGO_CLIENT = 3,
    COLUGO_SERVER = 4,
} colugo_kind_t;

//  A peer of a connecting socket. The strings belong to the socket: in a
//  peer callback they are valid during the call; from colugo_socket_peers ()
//  until the socket's peers change (at the earliest when control returns to
//  the event loop). Copy what you keep.
typedef struct {
    const char *node_uuid;  //  the remote node's uuid ("" if unknown)
    const char *node_name;  //  the remote node's name ("" if unknown)
    const char *endpoint;   //  e.g. "tcp://10.0.0.2:41235"
    bool connected;         //  true while the connection is up
    //  The listener proved, in the handshake, that it is the service the
    //  record advertised (a Colugo peer). False for original Colugo nodes
    //  and hand-given endpoints: their node and topic are only what their
    //  record or the application claims, and a stranger's record can claim
    //  another's endpoint.
    bool verified;
} colugo_peer_t;

//  A typed connecting socket met a peer of its topic and kind whose message
//  type (peer_type) differs from its own: it does not connect to it.
typedef void (colugo_mismatch_fn) (colugo_socket_t *socket, const colugo_peer_t *peer,
                                   const char *peer_type, void *arg);

//  Called when a peer connects (connected true) or disconnects (false).
typedef void (colugo_peer_fn) (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected,
                               void *arg);

//  Returns the topic; the string belongs to the socket.
COLUGO_EXPORT const char *colugo_socket_topic (colugo_socket_t *self);

//  Returns the kind of socket.
COLUGO_EXPORT colugo_kind_t colugo_socket_kind (colugo_socket_t *self);

//  Returns the socket's message type (advertised in DNS-SD, matched against
//  peers'), or NULL for an untyped socket, which carries bytes and matches
//  every peer of its topic and kind.
COLUGO_EXPORT const char *colugo_socket_type (colugo_socket_t *self);

//  Sets the callback for peers not connected to because their message type
//  differs (typed connecting sockets). Each is reported once, here and in the
//  log, and counted in the socket's stats.
COLUGO_EXPORT void colugo_socket_set_mismatch_handler (colugo_socket_t *self,
                                                       colugo_mismatch_fn *handler, void *arg);

//  Counts a message the application (or a layer such as colugo/proto.h) could
//  not use, such as one that does not decode, and logs why at a bounded rate.
COLUGO_EXPORT void colugo_socket_drop (colugo_socket_t *self, const char *why);

//  Attaches data to the socket on behalf of owner (for layers built on
//  Colugo, such as colugo/proto.h: owner is the address of something of the
//  layer's own, so no one else's attachment is mistaken for its own).
//  free_fn (data), if set, runs when the socket is freed (after
//  colugo_*_destroy, or with the node). Replaces an earlier attachment
//  without freeing it.
COLUGO_EXPORT void colugo_socket_set_attachment (colugo_socket_t *self, const void *owner,
                                                 void *data, void (*free_fn) (void *));

//  Returns the data owner attached to the socket, or NULL (nothing, or
//  another owner's).
COLUGO_EXPORT void *colugo_socket_attachment (colugo_socket_t *self, const void *owner);

//  Returns the TCP port a publisher or server is bound to, 0 for others.
COLUGO_EXPORT uint16_t colugo_socket_port (colugo_socket_t *self);

//  Returns the port of a publisher's or server's verified listener, where
//  the ZMTP handshake succeeds only for a peer that names this very socket
//  (advertised in TXT verified_port; Colugo peers dial it), or 0 if it has
//  none (another ZAP handler runs in this process). colugo_socket_port ()
//  is the open one, for original Colugo nodes and plain ZeroMQ peers.
COLUGO_EXPORT uint16_t colugo_socket_verified_port (colugo_socket_t *self);

//  Sets the callback for peer connect and disconnect events (NULL: none).
COLUGO_EXPORT void colugo_socket_set_peer_handler (colugo_socket_t *self, colugo_peer_fn *handler,
                                                   void *arg);

//  Returns how many peers are connected right now.
COLUGO_EXPORT size_t colugo_socket_peer_count (colugo_socket_t *self);

//  Copies up to max connected peers into peers (connecting sockets only);
//  returns how many were copied. See colugo_peer_t for how long the strings
//  stay valid.
COLUGO_EXPORT size_t colugo_socket_peers (colugo_socket_t *self, colugo_peer_t *peers, size_t max);

//  Connects to an endpoint by hand ("tcp://<IPv4 address>:<port>"; no host
//  names), besides what discovery finds: for plain ZeroMQ peers that do not
//  advertise. Connecting sockets only. Returns 0, or COLUGO_EINVAL.
COLUGO_EXPORT int colugo_socket_connect (colugo_socket_t *self, const char *endpoint);

//  Undoes colugo_socket_connect (). Returns 0 or COLUGO_ENOTFOUND.
COLUGO_EXPORT int colugo_socket_disconnect (colugo_socket_t *self, const char *endpoint);

//  Counters kept by every socket. A subscriber counts in dropped what its
//  queue could not hold (the application was slower than its publishers:
//  the oldest go). A publisher cannot count what libzmq drops when its
//  queue to one subscriber is full (a subscriber on a slower network):
//  libzmq 4.3 says nothing of it; such a subscriber sees the gap.
typedef struct {
    uint64_t sent;        //  messages sent (requests, replies, publications)
    uint64_t received;    //  messages delivered to the application
    uint64_t dropped;     //  malformed, unexpected or queue-full messages dropped (logged)
    uint64_t timeouts;    //  requests that timed out (clients)
    uint64_t mismatches;  //  peers of another message type, not connected to
    uint64_t refused;     //  dials whose listener was not the service advertised (logged)
} colugo_socket_stats_t;

//  Returns the counters of a socket.
COLUGO_EXPORT colugo_socket_stats_t colugo_socket_stats (colugo_socket_t *self);

COLUGO_END_DECLS

#endif
