/*  trunk.h: one connection between two nodes for every topic between them.

    A node's trunk is two sockets of internal kinds (sock.h): an XPUB bound
    on a verified port only (the trunk's out) and a SUB that dials the
    trunks of other nodes (its in). Each publisher has a key of its own (64
    random bits) and advertises its node's trunk and that key in TXT trunk
    (dnssd_records.h). A Colugo subscriber then rides the trunk instead of
    dialling the publisher's own port: the node's in dials the publisher's
    node once, and subscribes "<topic>\0<key>" for each publisher one of
    its subscribers wants. Every message of that publisher then comes over
    the one connection between the two nodes, as [<topic>\0<key>][payload],
    and after its last one, when it closes, [<topic>\0<key>] alone: the
    subscriber's peer ends there, once everything it sent before (that
    libzmq did not drop at a full queue) has reached the application.

    Why: a mesh of 20 nodes with 10 topics each, every node subscribing to
    every other's, was 3800 connections, each with its own TCP and ZMTP
    handshakes, heartbeats and sends (the same mesh of raw libzmq sockets
    forms in 2.3-6.6 s with a socket per topic, and in 0.3 s with one per
    node pair, on this project's 2-core machines); by node pairs it is 380.

    A publisher knows who subscribed. The in dials with its node uuid as
    PLAIN password; the ZAP handler makes it the connection's User-Id
    (zap.c), and libzmq attaches that to every subscription the XPUB reads
    (ZMQ_XPUB_VERBOSER: every one, and every cancellation of a subscription
    the connection made). The in also subscribes "\2<node uuid>", which no
    message of a publisher starts with (the in drops those): when a
    connection ends, libzmq cancels each of its subscriptions, without a
    User-Id, and the cancellation of that one says whose they were. So
    colugo_socket_peer_count () of a publisher counts the nodes subscribed
    to it, not connections that may be of another topic, once its loop has
    read their subscriptions. A count is what peers say of themselves, as
    PLAIN lets them (below): a stranger can make itself counted, or count
    as a node it is not; sending never depends on it (libzmq sends only
    where a subscription is).

    Every trunk that the in dials hears every subscription the in makes (a
    SUB subscribes on all its connections): so a message is taken for a
    ride only if it came over that ride's own connection (ZMQ_SRCFD and
    getpeername ()), to that ride's trunk identity.

    Original Colugo nodes, plain ZeroMQ peers and publishers of this node
    itself still use the publisher's own ports; a publisher sends on both.
    The trunk trusts what PLAIN trusts (zap.h): that a peer names the node
    it is; keys (the security issue) will authenticate it.
*/
#ifndef COLUGO__TRUNK_H_INCLUDED
#define COLUGO__TRUNK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sock.h"

typedef struct colugo__trunk colugo__trunk_t;
typedef struct colugo__trunk_pub colugo__trunk_pub_t;

//  Binds the trunk; NULL when it cannot (no ZAP handler of ours, no port:
//  logged), and then publishers and subscribers use their own ports.
colugo__trunk_t *colugo__trunk_new (colugo__env_t *env);
void colugo__trunk_destroy (colugo__trunk_t **self_p);
uint16_t colugo__trunk_port (colugo__trunk_t *self);
uint64_t colugo__trunk_id (colugo__trunk_t *self);

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
//  come from the trunk's connection to the publisher's node, and its end.
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
