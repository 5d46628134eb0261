/*  colugo/json.h: JSON documents on Colugo sockets (library colugo_json;
    the core does not link jansson).

    Why jansson (Debian's libjansson-dev), rather than json-c or cJSON (also
    in Debian): out of the box, or with one flag, it
    - validates UTF-8 on input (json_loadb refuses "\"\xff\"") and refuses
      invalid UTF-8 strings on output (json_string () returns NULL for them,
      json_dumpb () fails on one made with json_stringn_nocheck (); not on
      a key set with a _nocheck call, which it encodes into broken JSON:
      this layer checks keys itself);
    - decodes a buffer of a given length (json_loadb): a payload needs no
      NUL terminator, and bytes past it are never read;
    - rejects duplicate object keys when asked (JSON_REJECT_DUPLICATES);
    - reports where the input went wrong (line, column, byte position);
    - limits nesting depth while decoding (2048 levels), so hostile input
      cannot exhaust the stack;
    - counts references (json_incref, json_decref): a handler keeps a
      document by taking a reference, without copying it.
    json-c 0.16 checks UTF-8 only with JSON_TOKENER_VALIDATE_UTF8 and has no
    way to refuse duplicate keys.

    A JSON socket advertises the message type "json", or "json:<schema>"
    for a schema name of the application's (1 to 123 printable ASCII
    characters, no spaces): it only connects to peers of the same type (or
    untyped ones), and reports the others to
    colugo_socket_set_mismatch_handler () and the log. The schema is a name
    that both sides agree on; the layer does not validate documents against
    it. With the flag COLUGO_JSON_OBJECT, a socket's documents must be JSON
    objects; without it, any JSON value (an array, a string, 3...) goes.

    On the wire a document is its compact encoding (no spaces, no newline),
    UTF-8. A payload that does not decode (not JSON, not UTF-8, duplicate
    keys, trailing bytes, nested deeper than 2048, "\u0000" in a string, or
    not an object where one is required) is dropped, counted in the
    socket's stats and logged at a bounded rate; the node's maximum message
    size (colugo_node_set_max_message_size ()) bounds what is decoded, and
    its max decoded size (colugo_node_set_max_decoded_size (), default
    256 MiB) what decoding one document may allocate. jansson cannot be
    given an allocator per call (json_set_alloc_funcs () is the process's,
    left to the application), so the text is scanned first and what jansson
    would allocate for it estimated from above (jansson takes 46 bytes for
    a number in an array, 140 for an object member with a short key, three
    times the length of a long string while it reads it): a document over
    the budget is refused before jansson runs.
    Documents handed to callbacks belong to the layer: they are released
    (json_decref) when the callback returns. To keep one, take a reference
    (json_incref ((json_t *) document)) or json_deep_copy () it.

        colugo_publisher_t *pub = colugo_json_add_publisher (node, "greetings", "example.Hello");
        json_t *hello = json_pack ("{s:s, s:I}", "message", "Hello World", "id", (json_int_t) 1);
        colugo_json_publish (pub, hello);    //  "json:example.Hello", {"message":...,"id":1}
        json_decref (hello);

        //  on_hello: a colugo_json_message_fn
        colugo_json_add_subscriber (node, "greetings", "example.Hello", COLUGO_JSON_OBJECT,
                                    on_hello, &self);
*/
#ifndef COLUGO_JSON_H_INCLUDED
#define COLUGO_JSON_H_INCLUDED

#include <jansson.h>
#include "colugo.h"

COLUGO_BEGIN_DECLS

//  Flags of a JSON socket, and of colugo_json_decode ().
#define COLUGO_JSON_ANY 0     //  any JSON value
#define COLUGO_JSON_OBJECT 1  //  the top level must be an object

//  A document arrived, decoded; released after the call.
typedef void (colugo_json_message_fn) (colugo_subscriber_t *subscriber, const char *topic,
                                       const json_t *document, void *arg);

//  A request arrived, decoded; released after the call. Answer it with
//  colugo_json_reply (), now or later.
typedef void (colugo_json_request_fn) (colugo_server_t *server, uint64_t request,
                                       const json_t *document, void *arg);

//  The reply to a call, decoded; released after the call.
typedef void (colugo_json_reply_fn) (colugo_client_t *client, const json_t *reply, void *arg);

//  Adds a publisher of JSON documents, typed "json" (schema NULL) or
//  "json:<schema>". NULL on failure (colugo_last_error (): COLUGO_EINVAL
//  for a bad schema, COLUGO_ETOPIC...); owned by the node, like
//  colugo_node_add_publisher.
COLUGO_EXPORT colugo_publisher_t *colugo_json_add_publisher (colugo_node_t *node, const char *topic,
                                                             const char *schema);

//  Encodes a document (compact) and publishes it; the caller keeps its
//  reference. Returns 0; COLUGO_EINVAL if document is NULL, if the
//  publisher is not a JSON one, or if the document would not decode on the
//  other side (a string or key that is not UTF-8 or holds a NUL, nesting
//  deeper than 2048, a cycle); COLUGO_ETOOBIG, COLUGO_ENOMEM or COLUGO_EZMQ.
COLUGO_EXPORT int colugo_json_publish (colugo_publisher_t *publisher, const json_t *document);

//  Adds a subscriber that gets JSON documents of the publishers typed like
//  it, decoded; flags: COLUGO_JSON_ANY or COLUGO_JSON_OBJECT.
COLUGO_EXPORT colugo_subscriber_t *
colugo_json_add_subscriber (colugo_node_t *node, const char *topic, const char *schema, int flags,
                            colugo_json_message_fn *handler, void *arg);

//  Adds a server for JSON requests, answered with JSON replies. With
//  COLUGO_JSON_OBJECT both must be objects: other requests are dropped,
//  other replies refused.
COLUGO_EXPORT colugo_server_t *colugo_json_add_server (colugo_node_t *node, const char *topic,
                                                       const char *schema, int flags,
                                                       colugo_json_request_fn *handler, void *arg);

//  Answers a request, exactly once (see colugo_server_reply ()); the caller
//  keeps its reference to reply. Returns 0, COLUGO_EINVAL for a reply that
//  cannot be sent (see colugo_json_publish (); a non-object from a
//  COLUGO_JSON_OBJECT server), or what colugo_server_reply () returns.
COLUGO_EXPORT int colugo_json_reply (colugo_server_t *server, uint64_t request,
                                     const json_t *reply);

//  Adds a client that calls JSON servers typed like it. With
//  COLUGO_JSON_OBJECT, requests and replies must be objects.
COLUGO_EXPORT colugo_client_t *colugo_json_add_client (colugo_node_t *node, const char *topic,
                                                       const char *schema, int flags);

//  Calls a server: exactly one of on_reply and on_failure runs, once (either
//  may be NULL). on_failure runs when no reply came within timeout_ms (0:
//  the default), or when the reply did not decode (dropped, counted,
//  logged). The caller keeps its reference to request. Returns a request id
//  (> 0) or a negative error (then no callback runs): COLUGO_EINVAL for a
//  request that cannot be sent (see colugo_json_publish ()), or what
//  colugo_client_send () returns.
COLUGO_EXPORT int64_t colugo_json_call (colugo_client_t *client, const json_t *request,
                                        colugo_json_reply_fn *on_reply,
                                        colugo_timeout_fn *on_failure, uint32_t timeout_ms,
                                        void *arg);

//  Forgets a call in flight: neither callback will run for it. Use this, not
//  colugo_client_cancel (), for calls made with colugo_json_call (). Returns
//  0, COLUGO_ENOTFOUND (answered, failed or cancelled already) or
//  COLUGO_EINVAL.
COLUGO_EXPORT int colugo_json_cancel (colugo_client_t *client, int64_t request);

//  Decodes size bytes (no NUL terminator needed) as JSON sockets do:
//  exactly one JSON value, UTF-8, no duplicate keys, no "\u0000", nested at
//  most 2048 deep, an object if flags has COLUGO_JSON_OBJECT, and within
//  the default max decoded size (see colugo_json_decode_bounded ()). Returns 0
//  and *document_p (release it with json_decref), or COLUGO_EINVAL, with
//  *document_p NULL and, if why is not NULL, the reason written into it
//  (jansson's, with the line, column and byte where the input went wrong).
COLUGO_EXPORT int colugo_json_decode (const void *data, size_t size, int flags, json_t **document_p,
                                      char *why, size_t why_size);

//  The same, refusing a document that jansson might need more than
//  max_decoded bytes to decode (counted as the heap does, see
//  colugo_node_set_max_decoded_size (); 0: no limit) with the reason
//  "decoded document would exceed <max_decoded> bytes ...", before it is
//  decoded. colugo_json_decode () allows COLUGO_DEFAULT_MAX_DECODED_SIZE.
COLUGO_EXPORT int colugo_json_decode_bounded (const void *data, size_t size, int flags,
                                              size_t max_decoded, json_t **document_p, char *why,
                                              size_t why_size);

//  The message type a JSON socket of this schema advertises, written into
//  buffer: "json", or "json:<schema>". Returns 0 or COLUGO_EINVAL if the
//  schema is empty, or the type is not a valid one (colugo_type_check ())
//  or does not fit size.
COLUGO_EXPORT int colugo_json_type_name (const char *schema, char *buffer, size_t size);

COLUGO_END_DECLS

#endif
