/*  json.c: JSON documents (jansson) on Colugo's byte sockets.

    Each JSON socket carries this layer's state (s_state_t, see layer.h) with its flags and
    the application's callback; the core handler decodes, checks and hands
    the document over, then releases it. Every payload goes through
    colugo_json_decode_bounded (), which a fuzz target calls too: a scan of
    the text bounds what jansson will allocate for it, and a document over
    the node's max decoded size is refused before jansson sees it. Before
    encoding, a document is checked for what the other side's decoder would
    refuse, so a sender gets COLUGO_EINVAL instead of its peers dropping
    silently.
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
#define S_WHY_SIZE 256  //  the reason of a drop
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
//  What decoding a text will cost
//
//  jansson takes no allocator per call (json_set_alloc_funcs () is the
//  process's, and may be the application's), so the text is scanned first
//  and what jansson 2.14 allocates for it is bounded from above, block by
//  block as the heap counts (colugo__heap_cost ()), at the peak of the
//  decode: each value, array and object as its load.c, value.c and
//  hashtable.c build it, each at the largest it gets while growing, and the
//  lexer's buffer for the longest token. test_json.c measures jansson's
//  real cost with a counting allocator and checks that this stays above it,
//  and fuzz_json checks it on every input. Up to the first error jansson
//  builds what the scan counted, and it lexes tokens (strings allocate
//  there) only as far as the scan reads, so a text it refuses costs less.

//  jansson 2.14's structures, in pointers (as in jansson_private.h and
//  hashtable.h): an array has a size, a count and a table; an object a
//  hashtable of a size, buckets, an order and two lists; a pair two lists,
//  a hash, a value and the key's length before the key; a bucket two
//  pointers; a string its text and length.
#define S_WORD sizeof (void *)
#define S_ARRAY_STRUCT (sizeof (json_t) + 3 * S_WORD)
#define S_OBJECT_STRUCT (sizeof (json_t) + 7 * S_WORD)
#define S_PAIR_HEADER (7 * S_WORD)
#define S_BUCKET (2 * S_WORD)
#define S_STRING_STRUCT (sizeof (json_t) + 2 * S_WORD)
#define S_NUMBER_STRUCT (sizeof (json_t) + sizeof (json_int_t))
#define S_FIRST_TABLE 8    //  entries of an array, buckets of an object
#define S_FIRST_BUFFER 16  //  the lexer's token buffer

//  An open array or object during the scan.
typedef struct {
    size_t count;  //  elements, or members
    bool object;
} s_open_t;

typedef struct {
    size_t cost;     //  so far, for what was closed and what allocates at once
    size_t longest;  //  the longest token
    s_open_t open [S_MAX_DEPTH];
    size_t depth;     //  open containers
    bool expect_key;  //  the next string in an object is a key
} s_scan_t;

static void
s_add (s_scan_t *scan, size_t cost)
{
    scan->cost = cost > SIZE_MAX - scan->cost ? SIZE_MAX : scan->cost + cost;
}

//  A table that starts with S_FIRST_TABLE entries of entry bytes and
//  doubles while it holds fewer than count: the last two live at once as it
//  grows (the new one is allocated before the old one is freed).
static size_t
s_table_cost (size_t count, size_t entry)
{
    size_t entries = S_FIRST_TABLE;
    while (entries < count && entries <= SIZE_MAX / 2 / entry)
        entries *= 2;
    size_t cost = colugo__heap_cost (entries * entry);
    if (entries > S_FIRST_TABLE)
        cost += colugo__heap_cost (entries / 2 * entry);
    return cost;
}

//  A value starts: an element of the open array, if that is where it is.
static void
s_scan_value (s_scan_t *scan)
{
    if (scan->depth && !scan->open [scan->depth - 1].object)
        scan->open [scan->depth - 1].count++;
}

static void
s_scan_close (s_scan_t *scan)
{
    s_open_t *open = &scan->open [--scan->depth];
    if (open->object)
        s_add (scan, colugo__heap_cost (S_OBJECT_STRUCT) + s_table_cost (open->count, S_BUCKET));
    else
        s_add (scan, colugo__heap_cost (S_ARRAY_STRUCT) + s_table_cost (open->count, S_WORD));
    scan->expect_key = false;
}

//  A string of at most raw bytes between its quotes: jansson lexes it into
//  a block of raw + 3 bytes (its buffer holds the quotes), which a value
//  keeps; a key is copied into its pair, and its block stays until its
//  value is parsed.
static void
s_scan_string (s_scan_t *scan, size_t raw)
{
    size_t text = colugo__heap_cost (raw + 3);
    if (scan->expect_key) {
        scan->open [scan->depth - 1].count++;
        s_add (scan, text);
        s_add (scan, colugo__heap_cost (S_PAIR_HEADER + raw + 1));
        scan->expect_key = false;
    }
    else {
        s_scan_value (scan);
        s_add (scan, text);
        s_add (scan, colugo__heap_cost (S_STRING_STRUCT));
    }
}

static bool
s_number_byte (char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static bool
s_letter (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

//  Where the token that starts at text [at] ends: a string (to past its
//  closing quote, or the end), or a run of number bytes or letters.
static size_t
s_token_end (const char *text, size_t size, size_t at)
{
    size_t end = at + 1;
    if (text [at] == '"') {
        while (end < size && text [end] != '"')
            end += text [end] == '\\' ? 2 : 1;
        return end < size ? end + 1 : size;
    }
    bool (*in_token) (char) = s_letter (text [at]) ? s_letter : s_number_byte;
    while (end < size && in_token (text [end]))
        end++;
    return end;
}

//  Returns a bound on what jansson allocates to decode the text, or a
//  value over max as soon as that is certain.
static size_t
s_decoded_cost (const char *text, size_t size, size_t max)
{
    //  On the heap: 32 KiB. Not cleared: an entry is set when it is opened.
    s_scan_t *scan = (s_scan_t *) malloc (sizeof *scan);
    if (!scan)
        return SIZE_MAX;
    scan->cost = scan->longest = scan->depth = 0;
    scan->expect_key = false;
    size_t at = 0;
    while (at < size && scan->cost <= max) {
        char c = text [at];
        size_t end = at + 1;
        if (c == '[' || c == '{') {
            if (scan->depth == S_MAX_DEPTH)
                break;  //  jansson stops there: "maximum parsing depth reached"
            s_scan_value (scan);
            scan->open [scan->depth++] = (s_open_t){.count = 0, .object = c == '{'};
            scan->expect_key = c == '{';
        }
        else if ((c == ']' || c == '}') && scan->depth)
            s_scan_close (scan);
        else if (c == ',')
            scan->expect_key = scan->depth && scan->open [scan->depth - 1].object;
        else if (c == ':')
            scan->expect_key = false;
        else if (c == '"' || s_letter (c) || s_number_byte (c)) {
            end = s_token_end (text, size, at);
            if (end - at > scan->longest)
                scan->longest = end - at;
            if (c == '"')
                s_scan_string (scan, end - at - 1);  //  a byte over: the closing quote
            else {
                s_scan_value (scan);
                if (!s_letter (c))  //  true, false and null are not allocated
                    s_add (scan, colugo__heap_cost (S_NUMBER_STRUCT));
            }
        }
        at = end;
    }
    while (scan->depth)
        s_scan_close (scan);
    //  The lexer's buffer holds a token, the byte after it (read ahead, then
    //  given back: found by fuzz_json) and a NUL, and doubles as it grows.
    size_t buffer = S_FIRST_BUFFER;
    while (buffer < scan->longest + 2 && buffer <= SIZE_MAX / 2)
        buffer *= 2;
    s_add (scan, colugo__heap_cost (buffer));
    if (buffer > S_FIRST_BUFFER)
        s_add (scan, colugo__heap_cost (buffer / 2));
    size_t cost = scan->cost;
    free (scan);
    return cost;
}

//  --------------------------------------------------------------------------
//  Decoding and encoding

int
colugo_json_decode (const void *data, size_t size, int flags, json_t **document_p, char *why,
                    size_t why_size)
{
    return colugo_json_decode_bounded (data, size, flags, COLUGO_DEFAULT_MAX_DECODED_SIZE,
                                       document_p, why, why_size);
}

int
colugo_json_decode_bounded (const void *data, size_t size, int flags, size_t max_decoded,
                            json_t **document_p, char *why, size_t why_size)
{
    if (!document_p)
        return COLUGO_EINVAL;
    *document_p = NULL;
    if ((!data && size) || (flags & ~COLUGO_JSON_OBJECT)) {
        if (why && why_size)
            snprintf (why, why_size, "invalid arguments to colugo_json_decode");
        return COLUGO_EINVAL;
    }
    if (max_decoded && s_decoded_cost ((const char *) data, size, max_decoded) > max_decoded) {
        if (why && why_size)
            snprintf (why, why_size, "decoded document would exceed %zu bytes (%zu bytes of JSON)",
                      max_decoded, size);
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

//  Decodes a payload within the node's budget, or returns NULL with the
//  reason in why.
static json_t *
s_decode (const s_state_t *state, const void *data, size_t size, char *why, size_t why_size)
{
    json_t *document;
    colugo_json_decode_bounded (data, size, state->flags, colugo__layer_max_decoded (&state->layer),
                                &document, why, why_size);
    return document;
}

//  The same, counting what does not decode as dropped on the socket.
static json_t *
s_decode_or_drop (colugo_socket_t *socket, const s_state_t *state, const void *data, size_t size)
{
    char why [S_WHY_SIZE];
    json_t *document = s_decode (state, data, size, why, sizeof why);
    if (!document)
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
    json_t *document = s_decode_or_drop (colugo_subscriber_socket (subscriber), state, data, size);
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
    char why [S_WHY_SIZE];
    json_t *document = s_decode (state, data, size, why, sizeof why);
    if (!document) {
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
    json_t *reply = s_decode_or_drop (colugo_client_socket (client), state, data, size);
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
