/*  colugo/client.h: a request client calls the reply servers of a topic.

    It connects to every server of its topic and sends each request to one
    it picks, round-robin over the ones that are connected right now.
    Several requests may be in flight at once. For each request exactly one
    of on_reply and on_timeout runs, once. A reply counts only if it comes
    from the server the request went to, with the request's id, which is
    random (63 bits) so that no one can guess it; other replies are dropped,
    counted in the socket's stats and logged at a bounded rate. A request sent
    while no server is connected waits for one, in order, until its timeout.
    A server that dies or is withdrawn gets no new requests; the requests it
    held time out. A server whose requests time out 3 times in a row gets none
    for a while (0.5 s, doubling with each failure up to 8 s), then one to
    try it again; a reply ends that. While every server is so skipped,
    requests go to them anyway.

    On the wire a request is [request id][empty][payload] as a server sees
    it, which any REP or ROUTER server echoes back: plain ZeroMQ REP servers
    can be called (see colugo_socket_connect ()).
    Created by colugo_node_add_client (); owned by the node.
*/
#ifndef COLUGO_CLIENT_H_INCLUDED
#define COLUGO_CLIENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "colugo/node.h"

COLUGO_BEGIN_DECLS

//  The reply to a request: the bytes are valid only during the call.
typedef void (colugo_reply_fn) (colugo_client_t *client, const void *data, size_t size, void *arg);

//  The request got no reply within its timeout.
typedef void (colugo_timeout_fn) (colugo_client_t *client, void *arg);

#define COLUGO_DEFAULT_TIMEOUT_MS 2000

//  Sends a request (size bytes, copied). timeout_ms 0 means
//  COLUGO_DEFAULT_TIMEOUT_MS. Returns a request id (> 0, random), or a
//  negative error (COLUGO_ETOOBIG over the node's maximum message size), in
//  which case nothing was sent and neither callback will be called. Either
//  callback may be NULL (the outcome is then only counted).
COLUGO_EXPORT int64_t colugo_client_send (colugo_client_t *self, const void *data, size_t size,
                                          colugo_reply_fn *on_reply, colugo_timeout_fn *on_timeout,
                                          uint32_t timeout_ms, void *arg);

//  Forgets a request in flight: neither callback will run for it. Returns 0,
//  or COLUGO_ENOTFOUND if it has already been answered or timed out.
COLUGO_EXPORT int colugo_client_cancel (colugo_client_t *self, int64_t request);

//  Returns how many requests are in flight or waiting for a server.
COLUGO_EXPORT size_t colugo_client_pending (colugo_client_t *self);

//  Returns the client's common socket part.
COLUGO_EXPORT colugo_socket_t *colugo_client_socket (colugo_client_t *self);

//  Destroys the client before the node goes: requests in flight are dropped
//  at once, without callbacks; the socket is closed and freed once control
//  returns to the event loop (or in colugo_node_destroy ()). Safe on NULL; sets *self_p to NULL.
COLUGO_EXPORT void colugo_client_destroy (colugo_client_t **self_p);

COLUGO_END_DECLS

#endif
