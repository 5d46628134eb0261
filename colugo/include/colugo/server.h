/*  colugo/server.h: a reply server answers the requests on a topic.

    It binds an ephemeral TCP port and advertises it. Its handler
    (colugo_request_fn in colugo/node.h) gets each request with an id and the
    bytes (valid only during the call), and answers it with
    colugo_server_reply (), right away or later from another callback.
    Answers plain ZeroMQ REQ clients as well as Colugo clients.
    Created by colugo_node_add_server (); owned by the node.
*/
#ifndef COLUGO_SERVER_H_INCLUDED
#define COLUGO_SERVER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "colugo/node.h"

COLUGO_BEGIN_DECLS

//  Answers a request with size bytes (copied), exactly once. Returns 0;
//  COLUGO_ETOOBIG over the node's maximum message size (the request still
//  waits for an answer);
//  COLUGO_EALREADY if that request was already answered; COLUGO_ENOTFOUND if
//  there never was such a request. If the client has gone meanwhile, the reply
//  is dropped, counted and logged at debug level, and 0 is returned.
COLUGO_EXPORT int colugo_server_reply (colugo_server_t *self, uint64_t request, const void *data,
                                       size_t size);

//  Gives up a request without answering it (its client will time out), and
//  counts and logs it as dropped with the reason: for a request the
//  application cannot use. Returns 0, COLUGO_EALREADY or COLUGO_ENOTFOUND.
COLUGO_EXPORT int colugo_server_drop (colugo_server_t *self, uint64_t request, const char *why);

//  Returns how many requests wait for an answer.
COLUGO_EXPORT size_t colugo_server_pending (colugo_server_t *self);

//  Returns the server's common socket part.
COLUGO_EXPORT colugo_socket_t *colugo_server_socket (colugo_server_t *self);

//  Withdraws the service at once; unanswered requests are dropped; the socket is closed and freed
//  once control returns to the event loop (or in colugo_node_destroy ()).
//  Safe on NULL; sets *self_p to NULL.
COLUGO_EXPORT void colugo_server_destroy (colugo_server_t **self_p);

COLUGO_END_DECLS

#endif
