/*  proto.c: protobuf-c messages on Colugo's byte sockets.

    Each typed socket carries this layer's state (s_state_t, see layer.h)
    with its descriptors and the application's callback; the core handler unpacks, checks and
    hands the message over, then frees it. protobuf-c checks the wire format
    but not that strings are UTF-8, so every string field, nested ones
    included, is checked before the application sees the message. It
    unpacks through a counting allocator that fails past the node's max
    decoded size: a few bytes on the wire can cost a hundred unpacked.
*/
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include "colugo/proto.h"
#include "layer.h"

//  Nested messages deeper than this are refused (protobuf-c itself does not
//  limit recursion of self-referencing message types while unpacking).
#define S_MAX_DEPTH 64
#define S_STACK_BUFFER 4096
#define S_WHY_SIZE 200  //  the reason of a drop

typedef struct {
    colugo__layer_t layer;                               //  first: see layer.h
    const ProtobufCMessageDescriptor *descriptor;        //  messages, or requests
    const ProtobufCMessageDescriptor *reply_descriptor;  //  servers and clients
    void *handler;                                       //  the application's
    void *arg;
} s_state_t;

//  This layer's tag on the sockets it attaches its state to.
static const char s_owner [] = "colugo_proto";

static s_state_t *
s_state_new (const ProtobufCMessageDescriptor *descriptor,
             const ProtobufCMessageDescriptor *reply_descriptor, void *handler, void *arg)
{
    s_state_t *state = calloc (1, sizeof *state);
    if (state)
        *state = (s_state_t){.descriptor = descriptor,
                             .reply_descriptor = reply_descriptor,
                             .handler = handler,
                             .arg = arg};
    return state;
}

//  Refuses to add a socket (a bad descriptor or handler): NULL, with
//  COLUGO_EINVAL in colugo_last_error ().
static void *
s_refuse (void)
{
    colugo_set_last_error (COLUGO_EINVAL);
    return NULL;
}

//  The state this layer attached to a socket, or NULL.
static s_state_t *
s_state_of (colugo_socket_t *socket)
{
    return (s_state_t *) colugo__layer_of (socket, s_owner);
}

int
colugo_proto_type_name (const ProtobufCMessageDescriptor *descriptor,
                        const ProtobufCMessageDescriptor *reply, char *buffer, size_t size)
{
    if (!descriptor || descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC
        || (reply && reply->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC))
        return COLUGO_EINVAL;
    int length = reply ? snprintf (buffer, size, "%s/%s", descriptor->name, reply->name)
                       : snprintf (buffer, size, "%s", descriptor->name);
    if (length < 0 || (size_t) length >= size || colugo_type_check (buffer))
        return COLUGO_EINVAL;
    return 0;
}

//  --------------------------------------------------------------------------
//  Checking what protobuf-c unpacked

static bool s_valid_message (const ProtobufCMessage *message, int depth);

static bool
s_valid_field (const ProtobufCFieldDescriptor *field, const void *member, int depth)
{
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        const char *text = *(char *const *) member;
        return !text || colugo_utf8_valid (text, strlen (text));
    }
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *nested = *(ProtobufCMessage *const *) member;
        return !nested || s_valid_message (nested, depth + 1);
    }
    return true;
}

//  Checks every string is UTF-8 and no field is numbered 0, down through
//  nested messages.
static bool
s_valid_message (const ProtobufCMessage *message, int depth)
{
    if (depth > S_MAX_DEPTH)
        return false;
    //  protobuf-c 1.4 keeps a field numbered 0 (invalid in protobuf) as an
    //  unknown field when its tag is padded, then packs bytes it cannot read
    //  back: refuse it (found by fuzz/fuzz_proto.c).
    for (unsigned i = 0; i < message->n_unknown_fields; i++)
        if (message->unknown_fields [i].tag == 0)
            return false;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    const char *base = (const char *) message;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [i];
        if (field->type != PROTOBUF_C_TYPE_STRING && field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) (base + field->quantifier_offset);
            const char *const *items = *(const char *const *const *) (base + field->offset);
            for (size_t k = 0; k < count; k++)
                if (!s_valid_field (field, &items [k], depth))
                    return false;
        }
        else {
            if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                && *(const uint32_t *) (base + field->quantifier_offset) != field->id)
                continue;  //  another member of the oneof is set
            if (!s_valid_field (field, base + field->offset, depth))
                return false;
        }
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Unpacking within a budget

//  What an unpack has taken from the heap, of how much it may. Every
//  allocation counts and frees do not give back: protobuf-c allocates each
//  part of a message once and frees only its scratch (and what merging
//  repeats of a field replaces), so the sum bounds the peak and also the
//  copying that merges would do.
typedef struct {
    size_t used;  //  colugo__heap_cost () of each allocation, <= max
    size_t max;
    bool exceeded;
} s_budget_t;

static void *
s_budget_alloc (void *data, size_t size)
{
    s_budget_t *budget = (s_budget_t *) data;
    size_t cost = colugo__heap_cost (size);
    if (cost > budget->max - budget->used) {
        budget->exceeded = true;
        return NULL;  //  protobuf-c frees what it has and returns NULL
    }
    budget->used += cost;
    return malloc (size);
}

//  The blocks are malloc's: a message is freed with the default allocator.
static void
s_budget_free (void *data, void *pointer)
{
    (void) data;
    free (pointer);
}

int
colugo_proto_decode (const ProtobufCMessageDescriptor *descriptor, const void *data, size_t size,
                     ProtobufCMessage **message_p, char *why, size_t why_size)
{
    return colugo_proto_decode_bounded (descriptor, data, size, COLUGO_DEFAULT_MAX_DECODED_SIZE,
                                        message_p, why, why_size);
}

int
colugo_proto_decode_bounded (const ProtobufCMessageDescriptor *descriptor, const void *data,
                             size_t size, size_t max_decoded, ProtobufCMessage **message_p,
                             char *why, size_t why_size)
{
    *message_p = NULL;
    if (!descriptor || descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || (!data && size))
        return COLUGO_EINVAL;
    s_budget_t budget = {.max = max_decoded};
    ProtobufCAllocator allocator = {s_budget_alloc, s_budget_free, &budget};
    ProtobufCMessage *message = protobuf_c_message_unpack (
        descriptor, max_decoded ? &allocator : NULL, size, (const uint8_t *) data);
    if (!message) {
        if (why && budget.exceeded)
            snprintf (why, why_size, "decoded message would exceed %zu bytes (a %zu-byte %s)",
                      max_decoded, size, descriptor->name);
        else if (why)
            snprintf (why, why_size, "%zu bytes that do not decode as %s", size, descriptor->name);
        return COLUGO_EINVAL;
    }
    if (!s_valid_message (message, 0)) {
        if (why)
            snprintf (
                why, why_size,
                "a %s with a string that is not UTF-8, a field numbered 0, or nesting too deep",
                descriptor->name);
        protobuf_c_message_free_unpacked (message, NULL);
        return COLUGO_EINVAL;
    }
    *message_p = message;
    return 0;
}

//  Unpacks a payload within the node's budget, or returns NULL with the
//  reason in why.
static ProtobufCMessage *
s_unpack (const s_state_t *state, const ProtobufCMessageDescriptor *descriptor, const void *data,
          size_t size, char *why, size_t why_size)
{
    ProtobufCMessage *message;
    colugo_proto_decode_bounded (descriptor, data, size, colugo__layer_max_decoded (&state->layer),
                                 &message, why, why_size);
    return message;
}

//  The same, counting what does not unpack as dropped on the socket.
static ProtobufCMessage *
s_unpack_or_drop (colugo_socket_t *socket, const s_state_t *state,
                  const ProtobufCMessageDescriptor *descriptor, const void *data, size_t size)
{
    char why [S_WHY_SIZE];
    ProtobufCMessage *message = s_unpack (state, descriptor, data, size, why, sizeof why);
    if (!message)
        colugo_socket_drop (socket, why);
    return message;
}

//  Packs a message and hands it to send (publisher, request or reply).

static int
s_pack_and_send (const ProtobufCMessage *message, const ProtobufCMessageDescriptor *expected,
                 colugo__send_fn *send, void *target, uint64_t request)
{
    if (!message || !expected || message->descriptor != expected)
        return COLUGO_EINVAL;
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t stack [S_STACK_BUFFER];
    uint8_t *buffer = size <= sizeof stack ? stack : malloc (size);
    if (!buffer)
        return COLUGO_ENOMEM;
    protobuf_c_message_pack (message, buffer);
    int rc = send (target, request, buffer, size);
    if (buffer != stack)
        free (buffer);
    return rc;
}

//  --------------------------------------------------------------------------
//  Publish and subscribe

colugo_publisher_t *
colugo_proto_add_publisher (colugo_node_t *node, const char *topic,
                            const ProtobufCMessageDescriptor *descriptor)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (colugo_proto_type_name (descriptor, NULL, type, sizeof type))
        return s_refuse ();
    s_state_t *state = s_state_new (descriptor, NULL, NULL, NULL);
    return colugo__layer_add_publisher (node, topic, type, s_owner, state ? &state->layer : NULL);
}

int
colugo_proto_publish (colugo_publisher_t *publisher, const ProtobufCMessage *message)
{
    if (!publisher)
        return COLUGO_EINVAL;
    s_state_t *state = s_state_of (colugo_publisher_socket (publisher));
    return s_pack_and_send (message, state ? state->descriptor : NULL, colugo__send_publish,
                            publisher, 0);
}

static void
s_on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
              void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    ProtobufCMessage *message = s_unpack_or_drop (colugo_subscriber_socket (subscriber), state,
                                                  state->descriptor, data, size);
    if (!message)
        return;
    ((colugo_proto_message_fn *) state->handler) (subscriber, topic, message, state->arg);
    protobuf_c_message_free_unpacked (message, NULL);
}

colugo_subscriber_t *
colugo_proto_add_subscriber (colugo_node_t *node, const char *topic,
                             const ProtobufCMessageDescriptor *descriptor,
                             colugo_proto_message_fn *handler, void *arg)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!handler || colugo_proto_type_name (descriptor, NULL, type, sizeof type))
        return s_refuse ();
    s_state_t *state = s_state_new (descriptor, NULL, (void *) handler, arg);
    return colugo__layer_add_subscriber (node, topic, type, s_owner, state ? &state->layer : NULL,
                                         s_on_message);
}

//  --------------------------------------------------------------------------
//  Requests and replies

static void
s_on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    char why [S_WHY_SIZE];
    ProtobufCMessage *message = s_unpack (state, state->descriptor, data, size, why, sizeof why);
    if (!message) {
        colugo_server_drop (server, request, why);
        return;
    }
    ((colugo_proto_request_fn *) state->handler) (server, request, message, state->arg);
    protobuf_c_message_free_unpacked (message, NULL);
}

colugo_server_t *
colugo_proto_add_server (colugo_node_t *node, const char *topic,
                         const ProtobufCMessageDescriptor *request_descriptor,
                         const ProtobufCMessageDescriptor *reply_descriptor,
                         colugo_proto_request_fn *handler, void *arg)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!handler || !reply_descriptor
        || colugo_proto_type_name (request_descriptor, reply_descriptor, type, sizeof type))
        return s_refuse ();
    s_state_t *state = s_state_new (request_descriptor, reply_descriptor, (void *) handler, arg);
    return colugo__layer_add_server (node, topic, type, s_owner, state ? &state->layer : NULL,
                                     s_on_request);
}

int
colugo_proto_reply (colugo_server_t *server, uint64_t request, const ProtobufCMessage *reply)
{
    if (!server)
        return COLUGO_EINVAL;
    s_state_t *state = s_state_of (colugo_server_socket (server));
    return s_pack_and_send (reply, state ? state->reply_descriptor : NULL, colugo__send_reply,
                            server, request);
}

colugo_client_t *
colugo_proto_add_client (colugo_node_t *node, const char *topic,
                         const ProtobufCMessageDescriptor *request_descriptor,
                         const ProtobufCMessageDescriptor *reply_descriptor)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!reply_descriptor
        || colugo_proto_type_name (request_descriptor, reply_descriptor, type, sizeof type))
        return s_refuse ();
    s_state_t *state = s_state_new (request_descriptor, reply_descriptor, NULL, NULL);
    return colugo__layer_add_client (node, topic, type, s_owner, state ? &state->layer : NULL);
}

static void
s_on_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    colugo__call_t call = colugo__call_end ((colugo__call_t *) arg);
    s_state_t *state = (s_state_t *) call.layer;
    ProtobufCMessage *reply = s_unpack_or_drop (colugo_client_socket (client), state,
                                                state->reply_descriptor, data, size);
    if (!reply) {
        if (call.on_failure)
            call.on_failure (client, call.arg);
        return;
    }
    if (call.on_reply)
        ((colugo_proto_reply_fn *) call.on_reply) (client, reply, call.arg);
    protobuf_c_message_free_unpacked (reply, NULL);
}

int64_t
colugo_proto_call (colugo_client_t *client, const ProtobufCMessage *request,
                   colugo_proto_reply_fn *on_reply, colugo_timeout_fn *on_failure,
                   uint32_t timeout_ms, void *arg)
{
    s_state_t *state = client ? s_state_of (colugo_client_socket (client)) : NULL;
    if (!state || !state->layer.calls)
        return COLUGO_EINVAL;
    colugo__call_request_t send = {.layer = &state->layer,
                                   .client = client,
                                   .reply_fn = s_on_reply,
                                   .on_reply = (void (*) (void)) on_reply,
                                   .on_failure = on_failure,
                                   .timeout_ms = timeout_ms,
                                   .arg = arg};
    int rc = s_pack_and_send (request, state->descriptor, colugo__call_send, &send, 0);
    return rc ? rc : send.id;
}

int
colugo_proto_cancel (colugo_client_t *client, int64_t request)
{
    s_state_t *state = client ? s_state_of (colugo_client_socket (client)) : NULL;
    return colugo__call_cancel (state ? &state->layer : NULL, client, request);
}
