/*  layer.h: what the typed layers (proto.c, json.c) share, compiled into
    each of their libraries: their state on a socket, found again only by
    the layer that attached it, a client's calls in flight, each of whose
    callbacks runs exactly once, and how decoding is bounded.
*/
#ifndef COLUGO__LAYER_H_INCLUDED
#define COLUGO__LAYER_H_INCLUDED

#include <czmq.h>
#include "colugo.h"

//  The start of a layer's socket state; the layer's own struct begins with
//  it and is allocated with malloc.
typedef struct {
    zlistx_t *calls;      //  clients: colugo__call_t in flight, else NULL
    colugo_node_t *node;  //  the socket's, which outlives it
} colugo__layer_t;

//  The most a decode of one message of the layer's socket may allocate
//  (colugo_node_max_decoded_size (); 0: no limit).
size_t colugo__layer_max_decoded (const colugo__layer_t *layer);

//  What malloc (size) takes from the heap: glibc's block for it, header and
//  rounding included (a page more for blocks it may map on their own), so
//  that a decode budget bounds memory rather than requested bytes. SIZE_MAX
//  when that does not fit a size_t.
size_t colugo__heap_cost (size_t size);

//  Attaches state to the socket for owner (the layer's tag: the address of
//  something of its own); with_calls for a client. Returns false, having
//  freed state, when out of memory (or state is NULL).
bool colugo__layer_attach (colugo_socket_t *socket, const void *owner, colugo__layer_t *state,
                           bool with_calls);

//  Returns the state owner attached to the socket, or NULL (none, or
//  another layer's).
colugo__layer_t *colugo__layer_of (colugo_socket_t *socket, const void *owner);

//  Adds a typed socket with the layer's state attached (the state is the
//  argument of handler, where there is one, and records the node). On
//  failure returns NULL, with
//  the state freed and colugo_last_error () set; state may be NULL (out of
//  memory already).
colugo_publisher_t *colugo__layer_add_publisher (colugo_node_t *node, const char *topic,
                                                 const char *type, const void *owner,
                                                 colugo__layer_t *state);
colugo_subscriber_t *colugo__layer_add_subscriber (colugo_node_t *node, const char *topic,
                                                   const char *type, const void *owner,
                                                   colugo__layer_t *state,
                                                   colugo_message_fn *handler);
colugo_server_t *colugo__layer_add_server (colugo_node_t *node, const char *topic, const char *type,
                                           const void *owner, colugo__layer_t *state,
                                           colugo_request_fn *handler);
colugo_client_t *colugo__layer_add_client (colugo_node_t *node, const char *topic, const char *type,
                                           const void *owner, colugo__layer_t *state);

typedef struct {
    colugo__layer_t *layer;
    void *handle;             //  in layer->calls
    int64_t id;               //  the client's request id
    void (*on_reply) (void);  //  the application's, of the layer's type
    colugo_timeout_fn *on_failure;
    void *arg;
} colugo__call_t;

//  Sends a request for a call on a client with the layer's state: reply_fn
//  (the layer's, which decodes) gets the call as its argument and must end
//  it with colugo__call_end (); a timeout ends it and runs on_failure.
//  Returns the request id, or a negative error (then no callback runs).
int64_t colugo__call (colugo__layer_t *layer, colugo_client_t *client, const void *data,
                      size_t size, colugo_reply_fn *reply_fn, void (*on_reply) (void),
                      colugo_timeout_fn *on_failure, uint32_t timeout_ms, void *arg);

//  Where a layer's encoder hands its bytes: a publisher, a server's reply,
//  or a call (colugo__call_send). target is the socket (or the call),
//  request the server's request id.
typedef int (colugo__send_fn) (void *target, uint64_t request, const void *data, size_t size);
colugo__send_fn colugo__send_publish;  //  target: a colugo_publisher_t
colugo__send_fn colugo__send_reply;    //  target: a colugo_server_t

//  A call whose request is being encoded: the layers' encoders hand their
//  bytes to colugo__call_send (target, 0, data, size) with this as target,
//  which starts the call (colugo__call) and leaves its id, or the error.
typedef struct {
    colugo__layer_t *layer;
    colugo_client_t *client;
    colugo_reply_fn *reply_fn;
    void (*on_reply) (void);
    colugo_timeout_fn *on_failure;
    uint32_t timeout_ms;
    void *arg;
    int64_t id;  //  out: the request id, or a negative error
} colugo__call_request_t;

colugo__send_fn colugo__call_send;

//  Ends a call before its callbacks run (they may destroy the client):
//  returns a copy and frees the call.
colugo__call_t colugo__call_end (colugo__call_t *call);

//  Forgets a call in flight. 0, COLUGO_ENOTFOUND, or COLUGO_EINVAL for a
//  socket that is not a client of the layer.
int colugo__call_cancel (colugo__layer_t *layer, colugo_client_t *client, int64_t request);

#endif
