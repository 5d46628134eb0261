/*  trunk.h: one connection from a node to another, for everything it tells
    that node: the node link's notices (nodelink.h) and every message of
    every publisher that node's subscribers want.

    A node's trunk is two sockets of internal kinds (sock.h): an in, a SUB
    bound on a verified port only, advertised in the node's record (and in
    each publisher's TXT trunk, with the publisher's key: dnssd_records.h),
    and an out, an XPUB that dials the ins of the nodes it knows. Data goes
    the way of the dial: a node that starts and finds another (its mark,
    its record) dials it, and the connection that tells it of the new
    node's services carries their messages too. Each publisher has a key
    of its own (64 random bits); a Colugo subscriber rides the trunk
    instead of dialling the publisher's own port: its node's in subscribes
    "<topic>\0<key>" for each publisher one of its subscribers wants, and
    every message of that publisher comes over the publisher's node's
    connection as [<topic>\0<key>][payload], and after its last one, when
    it closes, [<topic>\0<key>] alone: the subscriber's peer ends there,
    once everything it sent before (that libzmq did not drop at a full
    queue) has reached the application.

    Why: a mesh of 20 nodes with 10 topics each, every node subscribing to
    every other's, was 3800 connections, each with its own TCP and ZMTP
    handshakes, heartbeats and sends (the same mesh of raw libzmq sockets
    forms in 2.3-6.6 s with a socket per topic, and in 0.3 s with one per
    node pair, on this project's 2-core machines); by node pairs it is 380,
    where a trunk beside the node link made it 760, and a new publisher's
    first message waited for two handshakes in a row (the link's, then the
    subscriber's dial of the trunk) where one does now.

    Who is at each end. The out is the PLAIN server of every handshake it
    dials (ZMTP's roles do not follow bind and connect): the in names
    itself ("<node uuid>:<in id>", the identity its record advertised) and
    gives its node's uuid as password; the out's ZAP handler accepts only
    when that name is the identity it dialled (the ZAP domain, set for each
    dial: zap.h), so a port reused after a crash is not taken for the node,
    and makes the uuid the User-Id, which libzmq attaches to every
    subscription the out reads (ZMQ_XPUB_VERBOSER: each one, and each
    cancellation). The in also subscribes "\2<node uuid>", whose
    cancellation (libzmq cancels a connection's subscriptions when it ends,
    without a User-Id) says whose subscriptions went. So
    colugo_socket_peer_count () of a publisher counts the nodes subscribed
    to it, not connections, once its loop has read their subscriptions.
    The in knows who dialled it by the out's welcome, the first message of
    every connection (ZMQ_XPUB_WELCOME_MSG, "colugo-node 1 W <uuid>"): it
    attributes the connection (its libzmq metadata, which every message
    over it carries; not its descriptor, which a new connection may take
    before the old one's close is read) to that node, at the address the
    connection came from. A message is taken for a ride only if it came
    over the connection of the ride's node from the address the ride's
    records gave for it; of two such connections (the node dialled again
    before the first one's close was read), the first carries its rides,
    and when it closes, they end and come back on the other.

    What PLAIN trusts is what this trusts: that a peer names the node it
    is. Any process that can connect to the in hears every subscription it
    makes (a SUB subscribes on all its connections), keys included; one on
    another host cannot speak for a node (the address), but one on the
    node's own host can claim to be it, and be taken for it while the node
    has no connection of its own up (first), or keep the node's rides down
    for as long as it holds one. A count is what peers say of themselves,
    and sending never depends on it (libzmq sends only where a
    subscription is). Keys (the security issue) will authenticate both.
    The in takes connections from any one, and its libzmq pipes are
    unbounded (heartbeats run on them: socket.c): what it reads is bounded
    (notices waiting for the loop, by count and bytes; the welcome each
    source keeps, by COLUGO__TRUNK_WELCOME_MAX), but nothing reads it
    while its node is stopped.

    A ride needs the publisher's node to dial the subscriber's in (it
    does once it hears of the subscriber's node: nodelink.c): a ride still
    not up when the subscriber's dial gives it up (its deadline, 15 s:
    socket.c), and at least S_RIDE_DEADLINE_MS old, is not tried again (a
    host that takes no connections): the subscriber dials the publisher's
    own port. Nodes
    of this trunk and of the one before it (whose in dialled, and whose out
    listened) do not understand each other's: mixed versions are not
    supported.

    Original Colugo nodes, plain ZeroMQ peers and publishers of this node
    itself still use the publisher's own ports; a publisher sends on both.
*/
#ifndef COLUGO__TRUNK_H_INCLUDED
#define COLUGO__TRUNK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sock.h"

typedef struct colugo__trunk colugo__trunk_t;
typedef struct colugo__trunk_pub colugo__trunk_pub_t;

//  Binds the trunk's in and makes its out; NULL when it cannot (no ZAP
//  handler of ours, no port: logged), and then publishers and subscribers
//  use their own ports, and no node link runs.
colugo__trunk_t *colugo__trunk_new (colugo__env_t *env);
void colugo__trunk_destroy (colugo__trunk_t **self_p);
//  The in's verified port and socket id (the node's record, a trunk TXT).
uint16_t colugo__trunk_port (colugo__trunk_t *self);
uint64_t colugo__trunk_id (colugo__trunk_t *self);

//  The node link's part (nodelink.c): it sends its notices on the out and
//  dials ins with the out's peers, and is given what is its own: each
//  message of the in that starts "colugo-node " (but the welcome: the
//  notice it carries, if any), from the loop, after the read that took it
//  (moved: the link closes the frames), and each subscription the out
//  reads to its messages (data without the leading 1; size 0 is a
//  subscription to everything).
#define COLUGO__TRUNK_LINK_MAGIC "colugo-node "
#define COLUGO__TRUNK_FRAMES_MAX 200  //  frames of one message of the in
//  A notice comes with the address of its connection, and, if the
//  connection's welcome carried it, the uuid that welcome named (else NULL).
typedef void (colugo__trunk_notice_fn) (void *arg, const char *address, const char *welcome_uuid,
                                        zmq_msg_t *frames, int count);
typedef void (colugo__trunk_subscribed_fn) (void *arg, const char *data, size_t size);
void colugo__trunk_set_link (colugo__trunk_t *self, colugo__trunk_notice_fn *notice,
                             colugo__trunk_subscribed_fn *subscribed, void *arg);
//  A notice of the link that the out's welcome carries from now on: every
//  connection it dials then hears it first, before any subscription of its
//  in could have reached the out (the notices the link sends on
//  subscription follow, as before, and may repeat it). The welcome is
//  "colugo-node 1 W <node uuid>", then a NUL and the frames, each a 4-byte
//  big-endian length and its bytes; count 0: the uuid alone. Returns 0, or
//  -1 when the frames are over COLUGO__TRUNK_WELCOME_MAX bytes or
//  COLUGO__TRUNK_FRAMES_MAX frames (the welcome is the uuid alone then).
#define COLUGO__TRUNK_WELCOME_MAX (16 * 1024)
typedef struct {
    const void *data;
    size_t size;
} colugo__trunk_frame_t;
int colugo__trunk_set_welcome (colugo__trunk_t *self, const colugo__trunk_frame_t *frames,
                               int count);
//  Reads everything the in holds now, as the loop would (rides, welcomes),
//  but gives no link what is the link's, and drops the link's messages
//  read before and not given yet: for a link about to be set, what came
//  while none ran is stale (a welcome's services may have been withdrawn
//  since, unheard).
void colugo__trunk_drain (colugo__trunk_t *self);
colugo_socket_t *colugo__trunk_in (colugo__trunk_t *self);
colugo_socket_t *colugo__trunk_out (colugo__trunk_t *self);

//  Whether the trunk carries a publisher of topic: not one that starts as
//  the node link's messages do (COLUGO__TRUNK_LINK_MAGIC), which every
//  node linked to this one subscribes to.
bool colugo__trunk_carries (const char *topic);

//  A publisher's place on the trunk, with a key drawn afresh; NULL when out
//  of memory.
colugo__trunk_pub_t *colugo__trunk_pub_new (colugo__trunk_t *self, const char *topic);
uint64_t colugo__trunk_pub_key (const colugo__trunk_pub_t *pub);
//  Sends one message to the nodes subscribed to it, if any: 0, or -1
//  (logged) when libzmq refused it.
int colugo__trunk_pub_send (colugo__trunk_pub_t *pub, const void *data, size_t size);
//  How many nodes are subscribed to it now.
size_t colugo__trunk_pub_subscribers (const colugo__trunk_pub_t *pub);
//  Tells its subscribers it ended (after what it sent) and frees it.
void colugo__trunk_pub_end (colugo__trunk_pub_t **pub_p);

//  A remote publisher on its node's trunk (from its TXT), by the identity
//  its own listener proves (the subscriber's peer names it): learned when
//  its service comes up, forgotten when it goes.
int colugo__trunk_learn (colugo__trunk_t *self, const char *identity, const char *topic,
                         const char *trunk_endpoint, const char *trunk_identity,
                         const char *node_uuid, const char *node_name, uint64_t key);
void colugo__trunk_forget (colugo__trunk_t *self, const char *identity);

//  A subscriber's dial hook (sock.h): rides the trunk to the peer's
//  publisher if the trunk knows it (returns 1), or leaves the peer to the
//  subscriber's own socket (0). The peer's handshake and disconnect events
//  come from the connection of the publisher's node to the in, and its
//  end; the ride has the out dial that node's in meanwhile, so that the
//  node hears of this one and dials it (nodelink.c).
int colugo__trunk_ride (colugo__trunk_t *self, colugo_socket_t *subscriber, colugo__peer_t *peer,
                        bool connect);

//  Given by the subscriber (subscriber.c): a message of one of its peers,
//  moved out of message, to be delivered from the loop.
void colugo__subscriber_take (colugo_socket_t *subscriber, zmq_msg_t *message);
//  How many messages it has taken so far (a mark), and whether every one
//  up to a mark is out of its queue (delivered, or dropped and counted).
uint64_t colugo__subscriber_mark (colugo_socket_t *subscriber);
bool colugo__subscriber_done (colugo_socket_t *subscriber, uint64_t mark);

#endif
