/*  discovery.h: the seam between the node and Avahi (DNS-SD).

    Publish and withdraw this node's services, and hear of other nodes'
    services appearing (resolved and checked) and disappearing. The node is
    written against these few calls only. Every call returns at once and
    every callback runs on the node's loop: the calls to the avahi-daemon
    are made on a thread of their own (dnssd_thread.c), so a stalled daemon
    cannot stall the node.

    A service is advertised as DNS-SD type _colugo._tcp, instance name
    "_<topic>._<node uuid>" (shortened when longer than a DNS label), TXT keys
    topic, socket_type (1 PUB, 4 REP), node_uuid, node_name, colugo (protocol
    version), type (the message type) for typed sockets, socket_id and
    verified_port when given (dnssd_records.h). It is published
    as raw records, unique and without
    probing: the instance name carries a uuid drawn afresh at every start,
    so it cannot be in use (RFC 6762 section 8.1), and a new service is seen
    in about 0.1 s instead of after about 0.9 s of probing.
*/
#ifndef COLUGO__DISCOVERY_H_INCLUDED
#define COLUGO__DISCOVERY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "env.h"
#include "timers.h"

typedef struct colugo__discovery colugo__discovery_t;

//  A service found on the network; strings belong to discovery.
typedef struct {
    const char *name;  //  DNS-SD instance name
    const char *topic;
    int socket_type;  //  ZMQ_PUB or ZMQ_REP
    const char *node_uuid;
    const char *node_name;          //  "" if not advertised
    const char *host;               //  host name from the SRV record
    const char *endpoint;           //  "tcp://<IPv4 address>:<port>"
    const char *type;               //  message type, "" if untyped
    const char *identity;           //  "<node_uuid>:<socket_id>", "" if no socket_id was advertised
    const char *verified_endpoint;  //  "tcp://<address>:<verified_port>", "" if none
    //  A publisher on its node's trunk (trunk.h): "" and 0 if not.
    const char *trunk_endpoint;  //  "tcp://<address>:<trunk port>"
    const char *trunk_identity;  //  "<node_uuid>:<trunk socket id>"
    uint64_t trunk_key;          //  the publisher's key on it
} colugo__service_t;

typedef enum {
    COLUGO__SERVICE_UP,    //  resolved, TXT checked: connect to it
    COLUGO__SERVICE_DOWN,  //  withdrawn, or gone after a daemon restart
    //  Let go of at once, not withdrawn: our node stopped, or the service
    //  names another endpoint now (a withdrawn one's peers may drain).
    COLUGO__SERVICE_FORGOTTEN,
} colugo__service_event_t;

typedef void (colugo__discovery_fn) (void *arg, colugo__service_event_t event,
                                     const colugo__service_t *service);

typedef struct {
    zloop_t *loop;
    colugo__timers_t *timers;
    colugo__env_t *env;  //  for the node link's sockets (NULL: no node link)
    const char *node_uuid;
    const char *node_name;
    bool wait_for_daemon;  //  no daemon: wait instead of failing
    colugo__discovery_fn *on_service;
    void *arg;
} colugo__discovery_config_t;

typedef struct {
    uint64_t services_seen;
    uint64_t services_resolved;  //  through the daemon (the others were told of directly)
    uint64_t services_invalid;
    uint64_t resolve_failures;
    uint64_t daemon_restarts;
    uint64_t daemon_stalls;        //  times a call to the daemon went unanswered for 2 s
    uint64_t notices;              //  services other nodes told of directly (up or down)
    uint64_t notices_invalid;      //  notices dropped: malformed, not the sender's, over bounds
    uint64_t notices_unconfirmed;  //  told of, but their record did not appear in time
} colugo__discovery_stats_t;

//  Starts discovery (its thread connects to Avahi and browses). Returns 0,
//  COLUGO_ENODAEMON when no daemon runs and config->wait_for_daemon is
//  false (the one case where it waits, at most S_FIRST_ANSWER_MS, for the
//  thread to know), or another error.
int colugo__discovery_new (const colugo__discovery_config_t *config, colugo__discovery_t **self_p);
//  Withdraws everything and lets the thread go; returns within about
//  500 ms even when the daemon is stalled. Calls no callback. Safe on NULL.
void colugo__discovery_destroy (colugo__discovery_t **self_p);

//  Advertises a bound socket; returns a handle (> 0) at once, or 0 when
//  out of memory or when its TXT record would not fit (logged as an error).
//  Publication happens as soon as (and whenever again) the daemon runs.
//  type is the message type (TXT key "type"), NULL for untyped sockets;
//  verified_port 0 and socket_id 0 are left out of TXT, and the trunk when
//  trunk_port is 0.
typedef struct {
    uint16_t port;  //  the node's trunk, 0 if none
    uint64_t id;    //  its socket id
    uint64_t key;   //  the publisher's key on it
} colugo__trunk_txt_t;
uint64_t colugo__discovery_publish (colugo__discovery_t *self, const char *topic, int socket_type,
                                    const char *type, uint16_t port, uint16_t verified_port,
                                    uint64_t socket_id, colugo__trunk_txt_t trunk);
void colugo__discovery_withdraw (colugo__discovery_t *self, uint64_t handle);

//  Calls fn for every service that is up now (over a copy of the list: fn
//  may call into discovery again).
void colugo__discovery_foreach (colugo__discovery_t *self, colugo__discovery_fn *fn, void *arg);

colugo__discovery_stats_t colugo__discovery_stats (colugo__discovery_t *self);

#endif
