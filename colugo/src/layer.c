/*  layer.c: see layer.h. */
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
