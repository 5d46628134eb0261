/*  json.c: JSON documents (jansson) on Colugo's byte sockets.

    Each JSON socket carries this layer's state (s_state_t, see layer.h) with its flags and
    the application's callback; the core handler decodes, checks and hands
    the document over, then releases it. Every payload goes through
    colugo_json_decode (), which a fuzz target calls too. Before encoding,
    a document is checked for what the other side's decoder would refuse,
    so a sender gets COLUGO_EINVAL instead of its peers dropping silently.
*/
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include "colugo/json.h"
#include "layer.h"

//  jansson's decoder refuses documents nested deeper than this
//  (JSON_PARSER_MAX_DEPTH in its load.c; not in its header: a unit test
//  checks both sides of the limit). Its encoder has no such limit.
#define S_MAX_DEPTH 2048
#define S_STACK_BUFFER 4096
#define S_TYPE "json"

//  How documents are encoded: compact, any value at the top level (without
//  JSON_ENCODE_ANY jansson only encodes arrays and objects), and reals with
//  17 significant digits (jansson's default), which round-trip a double.
#define S_ENCODE_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

typedef struct {
    colugo__layer_t layer;  //  first: see layer.h
    int flags;              //  COLUGO_JSON_*
    void *handler;          //  the application's: subscribers and servers
    void *arg;
} s_state_t;

//  This layer's tag on the sockets it attaches its state to.
static const char s_owner [] = "colugo_json";

static s_state_t *
s_state_new (int flags, void *handler, void *arg)
{
    s_state_t *state = calloc (1, sizeof *state);
    if (state)
        *state = (s_state_t){.flags = flags, .handler = handler, .arg = arg};
    return state;
}

//  The state this layer attached to a socket, or NULL for any other socket.
static s_state_t *
s_state_of (colugo_socket_t *socket)
{
    return (s_state_t *) colugo__layer_of (socket, s_owner);
}

int
colugo_json_type_name (const char *schema, char *buffer, size_t size)
{
    if (!buffer || (schema && !*schema))
        return COLUGO_EINVAL;
    int length =
        schema ? snprintf (buffer, size, S_TYPE ":%s", schema) : snprintf (buffer, size, S_TYPE);
    if (length < 0 || (size_t) length >= size || colugo_type_check (buffer))
        return COLUGO_EINVAL;
    return 0;
}

//  Checks the arguments every add_* call shares, and writes the type.
static bool
s_arguments_ok (const char *schema, int flags, char *type, size_t size)
{
    return (flags & ~COLUGO_JSON_OBJECT) == 0 && colugo_json_type_name (schema, type, size) == 0;
}

//  Refuses to add a socket: returns NULL and leaves COLUGO_ETOPIC (a bad
//  topic) or COLUGO_EINVAL in colugo_last_error ().
static void *
s_refuse (colugo_node_t *node, const char *topic)
{
    (void) node;
    colugo_set_last_error (colugo_topic_check (topic) ? COLUGO_ETOPIC : COLUGO_EINVAL);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Decoding and encoding

int
colugo_json_decode (const void *data, size_t size, int flags, json_t **document_p, char *why,
                    size_t why_size)
{
    if (!document_p)
        return COLUGO_EINVAL;
    *document_p = NULL;
    if ((!data && size) || (flags & ~COLUGO_JSON_OBJECT)) {
        if (why && why_size)
            snprintf (why, why_size, "invalid arguments to colugo_json_decode");
        return COLUGO_EINVAL;
    }
    //  json_loadb reads exactly size bytes and refuses a NULL buffer, even
    //  an empty one. The end-of-input check stays on: trailing bytes after
    //  the document are an error, and so is "\u0000" (no JSON_ALLOW_NUL):
    //  C code reading strings with json_string_value () would miss the rest.
    json_error_t error;
    json_t *document = json_loadb (data ? (const char *) data : "", size,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!document) {
        if (why && why_size)
            snprintf (why, why_size, "invalid JSON at byte %d (line %d, column %d): %s",
                      error.position, error.line, error.column, error.text);
        return COLUGO_EINVAL;
    }
    if ((flags & COLUGO_JSON_OBJECT) && !json_is_object (document)) {
        if (why && why_size)
            snprintf (why, why_size, "a JSON %s where an object is required",
                      json_is_array (document)     ? "array"
                      : json_is_string (document)  ? "string"
                      : json_is_number (document)  ? "number"
                      : json_is_boolean (document) ? "boolean"
                                                   : "null");
        json_decref (document);
        return COLUGO_EINVAL;
    }
    *document_p = document;
    return 0;
}

//  Decodes a payload, or counts it as dropped on the socket and returns NULL.
static json_t *
s_decode (colugo_socket_t *socket, int flags, const void *data, size_t size)
{
    json_t *document;
    char why [256];
    if (colugo_json_decode (data, size, flags, &document, why, sizeof why))
        colugo_socket_drop (socket, why);
    return document;
}

//  A string or key the other side's decoder takes: UTF-8 without NUL
//  (jansson checks strings when encoding, but writes a broken document for
//  a key that is not UTF-8, and encodes NUL as "\u0000", which we refuse).
static bool
s_sendable_text (const char *text, size_t length)
{
    return !memchr (text, 0, length) && colugo_utf8_valid (text, length);
}

//  Keys may hold a NUL since jansson 2.14 (json_object_setn ()).
static size_t
s_key_length (const char *key)
{
#if JANSSON_VERSION_HEX >= 0x020E00
    return json_object_iter_key_len (json_object_key_to_iter (key));
#else
    return strlen (key);
#endif
}

//  True if the other side will decode the document. jansson's decoder
//  counts every value, scalars too, from 1 at the top level; the walk stops
//  at its limit, which also stops it on a cycle.
static bool
s_sendable (const json_t *document, int depth)
{
    if (depth > S_MAX_DEPTH)
        return false;
    if (json_is_string (document))
        return s_sendable_text (json_string_value (document), json_string_length (document));
    if (json_is_array (document)) {
        for (size_t index = 0; index < json_array_size (document); index++)
            if (!s_sendable (json_array_get (document, index), depth + 1))
                return false;
    }
    else if (json_is_object (document)) {
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *) document, key, value)
        {
            if (!s_sendable_text (key, s_key_length (key)) || !s_sendable (value, depth + 1))
                return false;
        }
    }
    return true;
}

//  Encodes a document and hands it to send (publisher, request or reply).

static int
s_encode_and_send (const json_t *document, const s_state_t *state, colugo__send_fn *send,
                   void *target, uint64_t request)
{
    if (!document || !state || ((state->flags & COLUGO_JSON_OBJECT) && !json_is_object (document))
        || !s_sendable (document, 1))
        return COLUGO_EINVAL;
    char stack [S_STACK_BUFFER];
    size_t size = json_dumpb (document, stack, sizeof stack, S_ENCODE_FLAGS);
    if (size == 0)
        return COLUGO_EINVAL;  //  a string that is not UTF-8, or a cycle
    char *buffer = stack;
    if (size > sizeof stack) {
        //  json_dumpb returned the size it needs: encode again in full.
        buffer = (char *) malloc (size);
        if (!buffer)
            return COLUGO_ENOMEM;
        if (json_dumpb (document, buffer, size, S_ENCODE_FLAGS) != size) {
            free (buffer);
            return COLUGO_EINVAL;
        }
    }
    int rc = send (target, request, buffer, size);
    if (buffer != stack)
        free (buffer);
    return rc;
}

//  --------------------------------------------------------------------------
//  Publish and subscribe

colugo_publisher_t *
colugo_json_add_publisher (colugo_node_t *node, const char *topic, const char *schema)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!s_arguments_ok (schema, COLUGO_JSON_ANY, type, sizeof type))
        return s_refuse (node, topic);
    s_state_t *state = s_state_new (COLUGO_JSON_ANY, NULL, NULL);
    return colugo__layer_add_publisher (node, topic, type, s_owner, state ? &state->layer : NULL);
}

int
colugo_json_publish (colugo_publisher_t *publisher, const json_t *document)
{
    if (!publisher)
        return COLUGO_EINVAL;
    s_state_t *state = s_state_of (colugo_publisher_socket (publisher));
    return s_encode_and_send (document, state, colugo__send_publish, publisher, 0);
}

static void
s_on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
              void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    json_t *document = s_decode (colugo_subscriber_socket (subscriber), state->flags, data, size);
    if (!document)
        return;
    ((colugo_json_message_fn *) state->handler) (subscriber, topic, document, state->arg);
    json_decref (document);
}

colugo_subscriber_t *
colugo_json_add_subscriber (colugo_node_t *node, const char *topic, const char *schema, int flags,
                            colugo_json_message_fn *handler, void *arg)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!handler || !s_arguments_ok (schema, flags, type, sizeof type))
        return s_refuse (node, topic);
    s_state_t *state = s_state_new (flags, (void *) handler, arg);
    return colugo__layer_add_subscriber (node, topic, type, s_owner, state ? &state->layer : NULL,
                                         s_on_message);
}

//  --------------------------------------------------------------------------
//  Requests and replies

static void
s_on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    json_t *document;
    char why [256];
    if (colugo_json_decode (data, size, state->flags, &document, why, sizeof why)) {
        colugo_server_drop (server, request, why);
        return;
    }
    ((colugo_json_request_fn *) state->handler) (server, request, document, state->arg);
    json_decref (document);
}

colugo_server_t *
colugo_json_add_server (colugo_node_t *node, const char *topic, const char *schema, int flags,
                        colugo_json_request_fn *handler, void *arg)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!handler || !s_arguments_ok (schema, flags, type, sizeof type))
        return s_refuse (node, topic);
    s_state_t *state = s_state_new (flags, (void *) handler, arg);
    return colugo__layer_add_server (node, topic, type, s_owner, state ? &state->layer : NULL,
                                     s_on_request);
}

int
colugo_json_reply (colugo_server_t *server, uint64_t request, const json_t *reply)
{
    if (!server)
        return COLUGO_EINVAL;
    s_state_t *state = s_state_of (colugo_server_socket (server));
    return s_encode_and_send (reply, state, colugo__send_reply, server, request);
}

colugo_client_t *
colugo_json_add_client (colugo_node_t *node, const char *topic, const char *schema, int flags)
{
    char type [COLUGO_TYPE_MAX + 1];
    if (!s_arguments_ok (schema, flags, type, sizeof type))
        return s_refuse (node, topic);
    s_state_t *state = s_state_new (flags, NULL, NULL);
    return colugo__layer_add_client (node, topic, type, s_owner, state ? &state->layer : NULL);
}

static void
s_on_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    colugo__call_t call = colugo__call_end ((colugo__call_t *) arg);
    s_state_t *state = (s_state_t *) call.layer;
    json_t *reply = s_decode (colugo_client_socket (client), state->flags, data, size);
    if (!reply) {
        if (call.on_failure)
            call.on_failure (client, call.arg);
        return;
    }
    if (call.on_reply)
        ((colugo_json_reply_fn *) call.on_reply) (client, reply, call.arg);
    json_decref (reply);
}

int64_t
colugo_json_call (colugo_client_t *client, const json_t *request, colugo_json_reply_fn *on_reply,
                  colugo_timeout_fn *on_failure, uint32_t timeout_ms, void *arg)
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
    int rc = s_encode_and_send (request, state, colugo__call_send, &send, 0);
    return rc ? rc : send.id;
}

int
colugo_json_cancel (colugo_client_t *client, int64_t request)
{
    s_state_t *state = client ? s_state_of (colugo_client_socket (client)) : NULL;
    return colugo__call_cancel (state ? &state->layer : NULL, client, request);
}
