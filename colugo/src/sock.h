/*  sock.h: the part every Colugo socket shares, and what the node and the
    four kinds of socket need of each other.

    A socket owns its ZeroMQ socket and a monitor on it (a subscriber from
    its first dial of its own: one that only rides the trunk never makes
    them); connecting sockets also keep their peers (endpoint -> node),
    refcounted because discovery and colugo_socket_connect () may both name
    one endpoint. The monitor's handshake and disconnect events are the
    truth about which peers are connected.
*/
#ifndef COLUGO__SOCK_H_INCLUDED
#define COLUGO__SOCK_H_INCLUDED

#include <czmq.h>
#include <time.h>
#include "colugo/server.h"
#include "colugo/socket.h"
#include "colugo/subscriber.h"
#include "env.h"
#include "logging.h"
#include "timers.h"

//  What each kind of socket is: one table (socket.c) instead of switches
//  spread over the node, the sockets and discovery.
typedef struct {
    colugo_kind_t kind;
    const char *name;    //  "publisher", for logs
    int zmq_type;        //  the ZeroMQ socket it is made of
    bool binds;          //  binds and is advertised (or connects to those that are)
    bool open_port;      //  binders: also listen without the check (original nodes)
    bool internal;       //  the node's own (the node link): its peers are logged at debug
    bool drains;         //  connecters: a withdrawn peer ends the connection itself
    int service_type;    //  advertised socket_type it offers (binders) or wants (connecters)
    colugo_kind_t peer;  //  the kind at the other end
} colugo__kind_t;

//  The node trunk's two sockets (trunk.h), never in the application's
//  hands: a node's in, a SUB bound on a verified port only, where other
//  nodes' outs, XPUBs that dial, send their notices (nodelink.h) and their
//  publishers' messages. The out is the PLAIN server of the handshakes it
//  dials, so that it checks who listens and hears who subscribed.
#define COLUGO__TRUNK_IN ((colugo_kind_t) 16)
#define COLUGO__TRUNK_OUT ((colugo_kind_t) 17)

//  The table's entry for a kind.
const colugo__kind_t *colugo__kind (colugo_kind_t kind);

//  A peer of a connecting socket: an endpoint it dials, and who must be
//  there. Refcounted: discovery and colugo_socket_connect () may both name
//  one endpoint.
typedef struct {
    char *endpoint;         //  what is dialled: "tcp://<IPv4>:<port>"
    const char *identity;   //  what the listener must prove it is, "" if unchecked
    const char *node_uuid;  //  "" for manual endpoints
    const char *node_name;  //  (the three: the claim dialled now)
    unsigned refs;
    bool connected;   //  handshake succeeded, not yet lost
    uint64_t dial;    //  number of the current dial, unique in the socket
    void *kind_data;  //  the kind's own state for this peer
    //  socket.c's own:
    colugo_socket_t *socket;
    zlistx_t *claims;   //  services naming this endpoint; the first is dialled
    int state;          //  queued, dialling, up, or waiting to dial again
    void *queued;       //  handle in the socket's dial queue
    uint64_t redial;    //  timer that dials again, or ends a dial libzmq is silent about
    uint64_t drain;     //  withdrawn, connected: timer that hangs up at the latest
    unsigned failures;  //  dials in a row that ended before a handshake
} colugo__peer_t;

struct colugo_socket_t {
    colugo__env_t *env;  //  the node's, which outlives the socket
    uint64_t id;         //  in its node, never reused
    const colugo__kind_t *kind;
    char *topic;
    char *message_type;          //  NULL for an untyped socket
    void *handle;                //  the libzmq socket (zsys_socket), NULL until made
    void *monitor;               //  PAIR receiving its monitor's events
    uint64_t monitor_retry;      //  timer that drains it again after a bound
    uint16_t port;               //  bound port (publishers, servers)
    uint64_t publication;        //  discovery handle, 0 if not advertised
    zhashx_t *peers;             //  endpoint -> colugo__peer_t (connecting sockets)
    uint16_t verified_port;      //  the listener that checks who dials it, 0 if none
    size_t accepted;             //  live accepted connections (binding sockets)
    zlistx_t *accepted_fds;      //  their fds, to match disconnects
    uint64_t handshakes;         //  of accepted connections: succeeded,
    uint64_t handshakes_failed;  //  failed,
    uint64_t accepted_closed;    //  and closed (binding sockets)
    zlistx_t *dial_queue;        //  peers waiting for a dial slot, newest first
    size_t dialling;             //  dials in progress (connecting sockets)
    bool zap;                    //  holds the process's ZAP handler
    size_t connected;            //  peers whose handshake succeeded, still up
    uint64_t last_dial;          //  numbers dials of peers
    colugo_peer_fn *on_peer;
    void *peer_arg;
    colugo_mismatch_fn *on_mismatch;
    void *mismatch_arg;
    zhashx_t *mismatched;          //  service names reported as mismatched
    const void *attachment_owner;  //  who attached cleanup_data
    void (*cleanup_fn) (void *);   //  the application's or a layer's
    void *cleanup_data;            //  the attachment (a layer's state)
    colugo_socket_stats_t stats;
    colugo__ratelimit_t drop_log;  //  for malformed input
    colugo__ratelimit_t peer_log;  //  for peers that are not who they claim
    bool dead;                     //  closed; memory waits for the reaper
    bool started;                  //  between colugo__socket_start and _stop
    //  Set by the kind of socket:
    int (*on_readable) (void *owner);  //  reads messages; non-zero ends the loop
    //  Before a connected peer is hung up: reads what libzmq holds into the
    //  kind's own queue, without calling the application (a hang-up drops
    //  what the peer's pipe still holds).
    void (*before_hang_up) (colugo_socket_t *self);
    //  Before each dial of a peer: per-connection options (libzmq copies
    //  the socket's options into each connection when it is made).
    void (*before_dial) (colugo_socket_t *self, colugo__peer_t *peer);
    //  After a peer's connected state changed (connecting sockets).
    void (*on_peer_change) (colugo_socket_t *self, colugo__peer_t *peer);
    //  After an accepted connection closed (binding sockets): its fd, as
    //  zmq_msg_get (ZMQ_SRCFD) gave it for its messages.
    void (*on_accepted_closed) (colugo_socket_t *self, int fd);
    //  Dials (connect true) or hangs up (false) a peer on a libzmq socket
    //  of the kind's own instead of this one: returns 1 if it did, 0 to
    //  leave it to this socket, or a negative error (then not dialled).
    int (*dial) (colugo_socket_t *self, colugo__peer_t *peer, bool connect);
    //  Peers counted besides the accepted connections (a publisher's nodes
    //  on the trunk), NULL if none.
    size_t (*more_peers) (colugo_socket_t *self);
    void (*destroy_kind) (colugo_socket_t *self);  //  frees the kind's own state
    void *owner;                                   //  the publisher, subscriber, client or server
};

//  Creates the ZeroMQ socket with the node's options and a monitor, and
//  binds it on an ephemeral TCP port if it is a publisher or server.
int colugo__socket_init (colugo_socket_t *self, colugo__env_t *env, colugo_kind_t kind,
                         const char *topic, const char *type);
//  Frees what init made (after the node unregistered the socket).
void colugo__socket_fini (colugo_socket_t *self);
//  Registers the socket's readers on the loop (its node's poller).
int colugo__socket_start (colugo_socket_t *self);
//  Unregisters them.
void colugo__socket_stop (colugo_socket_t *self);
//  After a send on the socket, or a read outside its reader: it is served
//  again if it has input (ZMQ_FD does not signal what those took in).
void colugo__socket_touch (colugo_socket_t *self);

//  Monitors a libzmq socket for events: returns the PAIR (made with
//  zsys_socket; the caller closes it) that receives them, or NULL (logged).
void *colugo__monitor_new (void *handle, int events);

//  The identity a binding socket's verified listener proves: "<node
//  uuid>:<socket id>", into buffer (at least COLUGO__IDENTITY_MAX bytes).
#define COLUGO__IDENTITY_MAX 128
void colugo__socket_identity (const char *node_uuid, uint64_t socket_id, char *buffer, size_t size);

//  A service claims an endpoint: identity is what its listener must prove
//  ("" for none: manual endpoints, original Colugo nodes), node_uuid and
//  node_name who it says it is. The first claim on an endpoint dials it;
//  the claims of other identities wait behind it (a stranger that names a
//  real peer's endpoint does not take it over: its handshake fails, and
//  the next claim is dialled). Claims of one identity are counted.
//  0 or a negative error.
int colugo__socket_add_peer (colugo_socket_t *self, const char *endpoint, const char *identity,
                             const char *node_uuid, const char *node_name);
//  Drops one reference of that claim; the endpoint goes with its last one.
//  With withdrawn (the service was withdrawn, not a hand-given endpoint
//  let go), a socket of a kind that drains keeps a connection that is up
//  until the peer closes it (what it sent before arrives) or for a second
//  at most; the peer counts as connected meanwhile, as it is. Without,
//  a claim drained already is let go at once.
int colugo__socket_remove_peer (colugo_socket_t *self, const char *endpoint, const char *identity,
                                const char *node_uuid, bool withdrawn);

//  Whether a connecting socket may connect to a peer of message type
//  peer_type ("" if untyped): types must be equal when both have one. A
//  mismatch is reported once per key (a service name), then remembered
//  until colugo__socket_forget_mismatch (key), which says whether the key
//  was a mismatch (and so never connected: nothing to disconnect).
bool colugo__socket_accepts (colugo_socket_t *self, const char *peer_type, const char *key,
                             const char *endpoint, const char *node_uuid, const char *node_name);
bool colugo__socket_forget_mismatch (colugo_socket_t *self, const char *key);

//  Feeds an event from the monitor of a socket the kind dialled a peer on
//  (see dial) to the peer table, as if the socket's own monitor said it.
void colugo__socket_event (colugo_socket_t *self, uint16_t event, uint32_t value,
                           const char *endpoint);

//  A batch of messages read on one wake-up of the loop: at most
//  COLUGO__BATCH_MAX, and none started once COLUGO__BATCH_MS have gone by,
//  so that however slow the callbacks, timers and other sockets get their
//  turn. The clock is the coarse one: cheap to read, to a kernel tick.
#define COLUGO__BATCH_MAX 256
#define COLUGO__BATCH_MS 5

typedef struct {
    int count;        //  messages begun
    int64_t started;  //  coarse monotonic ms
} colugo__batch_t;

static inline int64_t
colugo__coarse_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static inline colugo__batch_t
colugo__batch_start (void)
{
    return (colugo__batch_t){0, colugo__coarse_ms ()};
}

//  Whether to read one more message.
static inline bool
colugo__batch_more (colugo__batch_t *batch)
{
    return batch->count++ < COLUGO__BATCH_MAX
           && (batch->count == 1 || colugo__coarse_ms () - batch->started < COLUGO__BATCH_MS);
}

//  Reads one message, if one waits, into up to max frames (closing those
//  past max); returns how many frames it had, 0 if none waited. The caller
//  closes the frames kept.
static inline int
colugo__recv_frames (void *handle, zmq_msg_t *frames, int max)
{
    int count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = count < max ? &frames [count] : &scratch;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (frame);
            break;
        }
        more = zmq_msg_more (frame);
        if (count >= max)
            zmq_msg_close (frame);
        count++;
    }
    return count;
}

//  Counts and logs (rate limited) a dropped message.
void colugo__socket_drop (colugo_socket_t *self, const char *why);

//  Whether a message of size bytes is within the node's maximum; if not,
//  it is counted and logged as dropped.
bool colugo__socket_size_ok (colugo_socket_t *self, size_t size);

//  The four kinds (publisher.c, subscriber.c, client.c, server.c): each
//  makes its object around an initialised socket, or returns NULL and sets
//  *error.
colugo_socket_t *colugo__publisher_new (colugo__env_t *env, const char *topic, const char *type,
                                        int *error);
colugo_socket_t *colugo__subscriber_new (colugo__env_t *env, const char *topic, const char *type,
                                         colugo_message_fn *handler, void *arg, int *error);
colugo_socket_t *colugo__client_new (colugo__env_t *env, const char *topic, const char *type,
                                     int *error);
colugo_socket_t *colugo__server_new (colugo__env_t *env, const char *topic, const char *type,
                                     colugo_request_fn *handler, void *arg, int *error);
//  A publisher's key on its node's trunk (trunk.h), 0 if it has none.
uint64_t colugo__publisher_trunk_key (colugo_socket_t *publisher);
//  A socket of one of the node's internal kinds (the node link's, the
//  trunk's): context is what owns it, which its reader gets back through
//  colugo__socket_context (arg). Started on the loop; NULL if it cannot be
//  made (logged by socket.c).
colugo_socket_t *colugo__socket_internal_new (colugo__env_t *env, colugo_kind_t kind,
                                              const char *topic, int (*on_readable) (void *),
                                              void *context);
//  What colugo__socket_internal_new was given, from a reader's arg or a
//  socket's owner.
void *colugo__socket_context (void *owner);
//  Stops it and frees it from the loop (zloop may still dispatch to it in
//  this pass). Safe on NULL.
void colugo__socket_internal_destroy (colugo_socket_t **socket_p);
//  Frees a socket of any kind (its kind's state, then the common part).
void colugo__socket_free (void *socket);
//  Closes a socket through its node (withdrawn, closed, freed later).
void colugo__socket_close (colugo_socket_t *self);

#endif
