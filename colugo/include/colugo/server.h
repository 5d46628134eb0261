/*  colugo/server.h: a reply server answers the requests on a topic.

    It binds an ephemeral TCP port and advertises it. Its handler
    (colugo_request_fn in colugo/node.h) gets each request with an id and the
    bytes (valid only during the call), and answers it with
    colugo_server_reply (), right away or later from another callback.
    Answers plain ZeroMQ REQ clients as well as Colugo clients.

    Unanswered requests are bounded: at most colugo_server_set_max_pending ()
    wait at once (more are dropped before the handler sees them), each for at
    most colugo_server_set_expiry () (then dropped), and only while their
    client's connection is open. Each drop is counted (colugo_server_drops ()
    and the socket's stats) and logged at a bounded rate; the client of a
    dropped request gets no reply and times out.
    Created by colugo_node_add_server (); owned by the node.
*/
#ifndef COLUGO_SERVER_H_INCLUDED
#define COLUGO_SERVER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "colugo/node.h"

COLUGO_BEGIN_DECLS

#define COLUGO_SERVER_DEFAULT_MAX_PENDING 10000
#define COLUGO_SERVER_DEFAULT_EXPIRY_MS 60000

//  Answers a request with size bytes (copied), exactly once. Returns 0;
//  COLUGO_ETOOBIG over the node's maximum message size (the request still
//  waits for an answer);
//  COLUGO_EALREADY if that request was already answered (or dropped);
//  COLUGO_EEXPIRED if it waited longer than the expiry and was dropped (told
//  for the last 65536 requests; older ones give COLUGO_EALREADY);
//  COLUGO_ENOTFOUND if there never was such a request. If the client has gone
//  meanwhile, the reply is dropped (and the request counted as abandoned) and
//  0 is returned.
COLUGO_EXPORT int colugo_server_reply (colugo_server_t *self, uint64_t request, const void *data,
                                       size_t size);

//  Gives up a request without answering it (its client will time out), and
//  counts and logs it as dropped with the reason: for a request the
//  application cannot use. Returns what colugo_server_reply () would.
COLUGO_EXPORT int colugo_server_drop (colugo_server_t *self, uint64_t request, const char *why);

//  Returns how many requests wait for an answer.
COLUGO_EXPORT size_t colugo_server_pending (colugo_server_t *self);

//  Sets how many requests may wait for an answer at once (default
//  COLUGO_SERVER_DEFAULT_MAX_PENDING): past it, new requests are dropped
//  before the handler sees them. Lowering it drops none that wait. Returns
//  0, or COLUGO_EINVAL for 0.
COLUGO_EXPORT int colugo_server_set_max_pending (colugo_server_t *self, size_t requests);

//  Sets how long a request may wait for an answer, in ms (default
//  COLUGO_SERVER_DEFAULT_EXPIRY_MS), also for those waiting now; past it the
//  request is dropped, and answering it gives COLUGO_EEXPIRED. Returns 0, or
//  COLUGO_EINVAL for 0.
COLUGO_EXPORT int colugo_server_set_expiry (colugo_server_t *self, uint32_t expiry_ms);

//  Requests a server dropped without an answer, by cause (each is also in
//  the socket's stats.dropped).
typedef struct {
    uint64_t refused;    //  arrived while max_pending requests waited
    uint64_t expired;    //  waited longer than the expiry
    uint64_t abandoned;  //  their client's connection closed first
} colugo_server_drops_t;

//  Returns the server's drop counters.
COLUGO_EXPORT colugo_server_drops_t colugo_server_drops (colugo_server_t *self);

//  Returns the server's common socket part.
COLUGO_EXPORT colugo_socket_t *colugo_server_socket (colugo_server_t *self);

//  Withdraws the service at once; unanswered requests are dropped; the socket is closed and freed
//  once control returns to the event loop (or in colugo_node_destroy ()).
//  Safe on NULL; sets *self_p to NULL.
COLUGO_EXPORT void colugo_server_destroy (colugo_server_t **self_p);

COLUGO_END_DECLS

#endif
