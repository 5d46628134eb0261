/*  match.h: which sockets connect to which.

    Every subscriber with every publisher of its topic, every client with
    every server, of the same message type: in this node directly (over
    loopback), and on the network as discovery reports services. The one
    place on the way from a discovery event, or a new socket, to a connect.
*/
#ifndef COLUGO__MATCH_H_INCLUDED
#define COLUGO__MATCH_H_INCLUDED

#include "discovery.h"
#include "sock.h"
#include "u64map.h"

typedef void (colugo__socket_each_fn) (colugo_socket_t *socket, void *arg);

//  The ids of a node's sockets of each topic (topic -> zlistx_t of ids):
//  a service, or a new socket, meets only its topic's sockets, not every
//  socket of the node (a mesh node of 200 sockets looked at each for each
//  of 190 services). NULL on no memory.
zhashx_t *colugo__topics_new (void);
//  A socket joins (add) or leaves its topic's list; false on no memory.
bool colugo__topics_update (zhashx_t *topics, colugo_socket_t *socket, bool add);

//  Calls fn for every socket of the map, over a copy of their ids: what fn
//  reaches (the application's peer callbacks) may add or close sockets.
void colugo__match_each (colugo__u64map_t *sockets, colugo__socket_each_fn *fn, void *arg);

//  A service of another node came up or went down: the connecting sockets
//  of the map it serves connect to it or let it go.
void colugo__match_service (colugo__u64map_t *sockets, zhashx_t *topics,
                            colugo__service_event_t event, const colugo__service_t *service);

//  A connecting socket, new, meets a service known already.
void colugo__match_known (colugo_socket_t *socket, const colugo__service_t *service);

//  A socket joins (link true) or a binding socket leaves (false) the
//  sockets of its node: those it serves, or that serve it, are linked.
void colugo__match_local (colugo__u64map_t *sockets, zhashx_t *topics, colugo_socket_t *socket,
                          bool link);

#endif
