/*  nodelink.h: nodes that know of each other tell each other of their
    services directly, over ZeroMQ, instead of waiting for the multicast
    announcement (which Avahi sends 0-250 ms after a service is published).

    Every node has an inbox, a SUB bound on a verified port (the dialler
    checks in the handshake that it names itself "<node uuid>:<inbox socket
    id>", the identity dialled), advertised as the node's record
    (_colugo-node._tcp),
    and an outbox, an XPUB that dials the inboxes of the nodes it knows:
    those whose node record it resolved, and those that wrote to its own
    inbox. The two are the node trunk's in and out (trunk.h): the
    connection that tells a node of a publisher carries its messages too. Whenever an inbox subscribes, the outbox sends it every service
    of the node (and at least a greeting, so that a node with no services is
    known too), addressed to it alone: each inbox subscribes to what is told
    to every node and to what is told to its own uuid, so the XPUB learns
    who subscribed and the other inboxes are not told again what they know
    (a mesh of 20 nodes heard each list 6 times over). Services added or
    withdrawn later go out to every node as they change. The outbox's
    welcome, the first message of each connection it dials (trunk.h),
    carries the same notice of every service (up to 64 and 16 KiB) as they
    are at the dial: the inbox's node hears them as the connection comes
    up, a subscription's round trip before the list it is sent then (which
    repeats them; a node that started second heard a publisher's first
    message 2 ms sooner, median of 40). A connection hears no withdrawal
    before its inbox subscribed, so with the list goes what the node
    withdrew in the last 20 s and does not offer again, addressed to it
    alone: its welcome may still have named them.

    A notice is only a claim, held to the rules of the record it
    anticipates (discovery.c holds it provisional until the record is seen):
    its TXT is the very record's TXT, checked by the same function; its
    services must carry the sender's node uuid; and its address is not
    taken from the message but is the address the TCP connection came from,
    so a notice can only point at the host that sent it.

    Messages (multipart):
        "colugo-node 1 U" | sender uuid | sender name | inbox socket id | inbox port
            then, for each service: instance name | port | TXT (wire format)
        "colugo-node 1 @<receiver uuid> U" | the same: every service, to one node
        "colugo-node 1 D" | (the same four) | then instance names withdrawn
        "colugo-node 1 @<receiver uuid> D" | the same: withdrawn lately, to one node
    An inbox subscribes to "colugo-node 1 U", "colugo-node 1 D" and
    "colugo-node 1 @<its uuid> "; an outbox answers that last subscription,
    and one to everything (""), with every service. (The trunk's welcome,
    "colugo-node 1 W <uuid>", is the trunk's own; the notice it may carry
    is the link's, "colugo-node 1 U", given to the link by the trunk, and
    taken only if it is that and names the node the welcome names.) A link that
    starts (again) gives up what the trunk's in held before it: a welcome
    read then is a welcome of a dial before the start.
*/
#ifndef COLUGO__NODELINK_H_INCLUDED
#define COLUGO__NODELINK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "discovery.h"
#include "env.h"

typedef struct colugo__nodelink colugo__nodelink_t;

//  A service another node told us of (up), or withdrew (down: only name,
//  node_uuid and node_name are set). Strings belong to the link.
typedef void (colugo__notice_fn) (void *arg, colugo__service_event_t event,
                                  const colugo__service_t *service);

typedef struct {
    uint64_t notices;          //  services told of, up or down
    uint64_t notices_invalid;  //  dropped: malformed, not the sender's, over a bound
    uint64_t nodes;            //  nodes linked to, now
} colugo__nodelink_stats_t;

//  Called once every node on this host found by its mark (hostnodes.h) at
//  the start has written to us (its links are up both ways), if any was.
typedef void (colugo__linked_fn) (void *arg);

//  Speaks over the node's trunk, marks the node and dials the nodes on
//  this host; NULL without a trunk (logged). The trunk outlives it.
colugo__nodelink_t *colugo__nodelink_new (colugo__env_t *env, struct colugo__trunk *trunk,
                                          colugo__notice_fn *fn, colugo__linked_fn *linked,
                                          void *arg);

//  The nodes on this host that the start found and that have not written
//  to us yet.
size_t colugo__nodelink_host_nodes_pending (colugo__nodelink_t *self);
void colugo__nodelink_destroy (colugo__nodelink_t **self_p);

//  What the node record advertises: the inbox's verified port and id.
uint16_t colugo__nodelink_port (colugo__nodelink_t *self);
uint64_t colugo__nodelink_socket_id (colugo__nodelink_t *self);

//  One of our services, told to every node linked now and later (handle:
//  discovery's publication), or withdrawn. txt is the record's TXT.
void colugo__nodelink_offer (colugo__nodelink_t *self, uint64_t handle, const char *name,
                             uint16_t port, const uint8_t *txt, size_t txt_size);
void colugo__nodelink_withdraw (colugo__nodelink_t *self, uint64_t handle);
//  Every one of our services withdrawn (the node stops): told before the
//  links to other nodes are let go.
void colugo__nodelink_withdraw_all (colugo__nodelink_t *self);

//  A node whose record was resolved: dial its inbox (refcounted by
//  endpoint, as socket peers are), or let it go.
void colugo__nodelink_link (colugo__nodelink_t *self, const char *endpoint, const char *identity,
                            const char *node_uuid, const char *node_name);
void colugo__nodelink_unlink (colugo__nodelink_t *self, const char *endpoint, const char *identity,
                              const char *node_uuid);

colugo__nodelink_stats_t colugo__nodelink_stats (colugo__nodelink_t *self);

#endif
