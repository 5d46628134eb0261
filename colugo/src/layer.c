/*  layer.c: see layer.h. */
#include <stdint.h>
#include <stdlib.h>
#include "layer.h"

static void
s_layer_free (void *data)
{
    colugo__layer_t *state = (colugo__layer_t *) data;
    if (state->calls) {
        colugo__call_t *call;
        while ((call = (colugo__call_t *) zlistx_detach (state->calls, NULL)))
            free (call);
        zlistx_destroy (&state->calls);
    }
    free (state);
}

bool
colugo__layer_attach (colugo_socket_t *socket, const void *owner, colugo__layer_t *state,
                      bool with_calls)
{
    if (!state)
        return false;
    state->calls = with_calls ? zlistx_new () : NULL;
    if (with_calls && !state->calls) {
        free (state);
        return false;
    }
    colugo_socket_set_attachment (socket, owner, state, s_layer_free);
    return true;
}

//  Gives a new socket the layer's state; false (the state freed, the error
//  set) when out of memory, and the caller destroys the socket.
static bool
s_adopt (colugo_socket_t *socket, const void *owner, colugo__layer_t *state, bool with_calls)
{
    if (colugo__layer_attach (socket, owner, state, with_calls))
        return true;
    colugo_set_last_error (COLUGO_ENOMEM);
    return false;
}

//  True if there is a state (else out of memory: the error set), which
//  then records the node.
static bool
s_have_state (colugo_node_t *node, colugo__layer_t *state)
{
    if (!state)
        colugo_set_last_error (COLUGO_ENOMEM);
    else
        state->node = node;
    return state != NULL;
}

colugo_publisher_t *
colugo__layer_add_publisher (colugo_node_t *node, const char *topic, const char *type,
                             const void *owner, colugo__layer_t *state)
{
    if (!s_have_state (node, state))
        return NULL;
    colugo_publisher_t *publisher = colugo_node_add_typed_publisher (node, topic, type);
    if (!publisher)
        free (state);
    else if (!s_adopt (colugo_publisher_socket (publisher), owner, state, false))
        colugo_publisher_destroy (&publisher);
    return publisher;
}

colugo_subscriber_t *
colugo__layer_add_subscriber (colugo_node_t *node, const char *topic, const char *type,
                              const void *owner, colugo__layer_t *state, colugo_message_fn *handler)
{
    if (!s_have_state (node, state))
        return NULL;
    colugo_subscriber_t *subscriber =
        colugo_node_add_typed_subscriber (node, topic, type, handler, state);
    if (!subscriber)
        free (state);
    else if (!s_adopt (colugo_subscriber_socket (subscriber), owner, state, false))
        colugo_subscriber_destroy (&subscriber);
    return subscriber;
}

colugo_server_t *
colugo__layer_add_server (colugo_node_t *node, const char *topic, const char *type,
                          const void *owner, colugo__layer_t *state, colugo_request_fn *handler)
{
    if (!s_have_state (node, state))
        return NULL;
    colugo_server_t *server = colugo_node_add_typed_server (node, topic, type, handler, state);
    if (!server)
        free (state);
    else if (!s_adopt (colugo_server_socket (server), owner, state, false))
        colugo_server_destroy (&server);
    return server;
}

colugo_client_t *
colugo__layer_add_client (colugo_node_t *node, const char *topic, const char *type,
                          const void *owner, colugo__layer_t *state)
{
    if (!s_have_state (node, state))
        return NULL;
    colugo_client_t *client = colugo_node_add_typed_client (node, topic, type);
    if (!client)
        free (state);
    else if (!s_adopt (colugo_client_socket (client), owner, state, true))
        colugo_client_destroy (&client);
    return client;
}

size_t
colugo__layer_max_decoded (const colugo__layer_t *layer)
{
    return colugo_node_max_decoded_size (layer->node);
}

//  glibc on 64-bit: blocks of at least 32 bytes, 16-byte aligned, with an
//  8-byte header; from 128 KiB (the default mmap threshold) a block may be
//  a mapping of its own, in whole pages.
#define S_HEAP_MIN_BLOCK 32
#define S_HEAP_ALIGN 16
#define S_HEAP_HEADER 8
#define S_HEAP_MMAP_THRESHOLD (128 * 1024)
#define S_HEAP_PAGE 4096

size_t
colugo__heap_cost (size_t size)
{
    if (size > SIZE_MAX / 2)
        return SIZE_MAX;
    size_t block = (size + S_HEAP_HEADER + S_HEAP_ALIGN - 1) & ~(size_t) (S_HEAP_ALIGN - 1);
    if (size >= S_HEAP_MMAP_THRESHOLD)
        block += S_HEAP_PAGE;
    return block < S_HEAP_MIN_BLOCK ? S_HEAP_MIN_BLOCK : block;
}

colugo__layer_t *
colugo__layer_of (colugo_socket_t *socket, const void *owner)
{
    return socket ? (colugo__layer_t *) colugo_socket_attachment (socket, owner) : NULL;
}

colugo__call_t
colugo__call_end (colugo__call_t *call)
{
    colugo__call_t copy = *call;
    zlistx_delete (call->layer->calls, call->handle);
    free (call);
    return copy;
}

static void
s_on_timeout (colugo_client_t *client, void *arg)
{
    colugo__call_t call = colugo__call_end ((colugo__call_t *) arg);
    if (call.on_failure)
        call.on_failure (client, call.arg);
}

int64_t
colugo__call (colugo__layer_t *layer, colugo_client_t *client, const void *data, size_t size,
              colugo_reply_fn *reply_fn, void (*on_reply) (void), colugo_timeout_fn *on_failure,
              uint32_t timeout_ms, void *arg)
{
    if (!layer || !layer->calls)
        return COLUGO_EINVAL;
    colugo__call_t *call = calloc (1, sizeof *call);
    if (!call)
        return COLUGO_ENOMEM;
    *call = (colugo__call_t){
        .layer = layer, .on_reply = on_reply, .on_failure = on_failure, .arg = arg};
    call->handle = zlistx_add_end (layer->calls, call);
    if (!call->handle) {
        free (call);
        return COLUGO_ENOMEM;
    }
    call->id = colugo_client_send (client, data, size, reply_fn, s_on_timeout, timeout_ms, call);
    int64_t id = call->id;
    if (id < 0)
        colugo__call_end (call);
    return id;
}

int
colugo__send_publish (void *target, uint64_t request, const void *data, size_t size)
{
    (void) request;
    return colugo_publisher_send ((colugo_publisher_t *) target, data, size);
}

int
colugo__send_reply (void *target, uint64_t request, const void *data, size_t size)
{
    return colugo_server_reply ((colugo_server_t *) target, request, data, size);
}

int
colugo__call_send (void *target, uint64_t unused, const void *data, size_t size)
{
    (void) unused;
    colugo__call_request_t *call = (colugo__call_request_t *) target;
    call->id = colugo__call (call->layer, call->client, data, size, call->reply_fn, call->on_reply,
                             call->on_failure, call->timeout_ms, call->arg);
    return call->id < 0 ? (int) call->id : 0;
}

int
colugo__call_cancel (colugo__layer_t *layer, colugo_client_t *client, int64_t request)
{
    if (!layer || !layer->calls)
        return COLUGO_EINVAL;
    colugo__call_t *call = (colugo__call_t *) zlistx_first (layer->calls);
    while (call && call->id != request)
        call = (colugo__call_t *) zlistx_next (layer->calls);
    if (!call)
        return COLUGO_ENOTFOUND;
    colugo_client_cancel (client, request);
    colugo__call_end (call);
    return 0;
}
