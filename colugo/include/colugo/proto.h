/*  colugo/proto.h: protobuf-c messages on Colugo sockets (library
    colugo_proto; the core does not link protobuf-c).

    A typed socket carries messages of one descriptor, and advertises its
    full name ("colugo.examples.Telemetry") as its message type: it only
    connects to peers of the same type (or untyped ones), and reports the
    others to colugo_socket_set_mismatch_handler () and the log. A server
    and its clients are typed "<request full name>/<reply full name>".

    A payload that does not decode as the expected message is dropped,
    counted in the socket's stats and logged at a bounded rate; the node's
    maximum message size (colugo_node_set_max_message_size ()) bounds what is
    decoded, and its max decoded size (colugo_node_set_max_decoded_size (),
    default 256 MiB) what unpacking one message may allocate: protobuf-c
    unpacks through an allocator that counts, and fails past it (a message
    of empty submessages costs about 35 times its size unpacked, more for
    larger types). Messages handed to callbacks belong to the layer: they are
    freed when the callback returns (copy what you keep).

        colugo_publisher_t *pub = colugo_proto_add_publisher (node, "telemetry",
                                                              &colugo__examples__telemetry__descriptor);
        colugo_proto_publish (pub, &telemetry.base);
*/
#ifndef COLUGO_PROTO_H_INCLUDED
#define COLUGO_PROTO_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include "colugo.h"

COLUGO_BEGIN_DECLS

//  A message arrived, unpacked; freed after the call.
typedef void (colugo_proto_message_fn) (colugo_subscriber_t *subscriber, const char *topic,
                                        const ProtobufCMessage *message, void *arg);

//  A request arrived, unpacked; freed after the call. Answer it with
//  colugo_proto_reply (), now or later.
typedef void (colugo_proto_request_fn) (colugo_server_t *server, uint64_t request,
                                        const ProtobufCMessage *message, void *arg);

//  The reply to a call, unpacked; freed after the call.
typedef void (colugo_proto_reply_fn) (colugo_client_t *client, const ProtobufCMessage *reply,
                                      void *arg);

//  Adds a publisher of messages of one descriptor. NULL on failure
//  (colugo_last_error ()); owned by the node, like colugo_node_add_publisher.
COLUGO_EXPORT colugo_publisher_t *
colugo_proto_add_publisher (colugo_node_t *node, const char *topic,
                            const ProtobufCMessageDescriptor *descriptor);

//  Packs and publishes a message. Returns 0, COLUGO_EINVAL if the message is
//  not of the publisher's descriptor (or the publisher is not a proto one),
//  COLUGO_ETOOBIG, COLUGO_ENOMEM or COLUGO_EZMQ.
COLUGO_EXPORT int colugo_proto_publish (colugo_publisher_t *publisher,
                                        const ProtobufCMessage *message);

//  Adds a subscriber that gets messages of one descriptor, unpacked.
COLUGO_EXPORT colugo_subscriber_t *
colugo_proto_add_subscriber (colugo_node_t *node, const char *topic,
                             const ProtobufCMessageDescriptor *descriptor,
                             colugo_proto_message_fn *handler, void *arg);

//  Adds a server for requests of one descriptor, answered with replies of
//  another.
COLUGO_EXPORT colugo_server_t *
colugo_proto_add_server (colugo_node_t *node, const char *topic,
                         const ProtobufCMessageDescriptor *request_descriptor,
                         const ProtobufCMessageDescriptor *reply_descriptor,
                         colugo_proto_request_fn *handler, void *arg);

//  Answers a request, exactly once (see colugo_server_reply ()). Returns 0,
//  COLUGO_EINVAL for a reply of the wrong descriptor, or what
//  colugo_server_reply () returns.
COLUGO_EXPORT int colugo_proto_reply (colugo_server_t *server, uint64_t request,
                                      const ProtobufCMessage *reply);

//  Adds a client that calls servers of these two descriptors.
COLUGO_EXPORT colugo_client_t *
colugo_proto_add_client (colugo_node_t *node, const char *topic,
                         const ProtobufCMessageDescriptor *request_descriptor,
                         const ProtobufCMessageDescriptor *reply_descriptor);

//  Calls a server: exactly one of on_reply and on_failure runs, once.
//  on_failure runs when no reply came within timeout_ms (0: the default), or
//  when the reply did not decode (dropped, counted, logged). Returns a
//  request id (> 0) or a negative error (then no callback runs).
COLUGO_EXPORT int64_t colugo_proto_call (colugo_client_t *client, const ProtobufCMessage *request,
                                         colugo_proto_reply_fn *on_reply,
                                         colugo_timeout_fn *on_failure, uint32_t timeout_ms,
                                         void *arg);

//  Forgets a call in flight: neither callback will run for it. Use this, not
//  colugo_client_cancel (), for calls made with colugo_proto_call (). Returns
//  0, COLUGO_ENOTFOUND (answered, failed or cancelled already) or
//  COLUGO_EINVAL.
COLUGO_EXPORT int colugo_proto_cancel (colugo_client_t *client, int64_t request);

//  Decodes size bytes as a message of descriptor, as typed sockets do:
//  the wire format, and every string (nested ones too) must be UTF-8;
//  unpacking may allocate at most COLUGO_DEFAULT_MAX_DECODED_SIZE bytes.
//  Returns 0 and *message_p (free it with protobuf_c_message_free_unpacked
//  (message, NULL)), or COLUGO_EINVAL, with *message_p NULL and, if why is
//  not NULL, the reason written into it.
COLUGO_EXPORT int colugo_proto_decode (const ProtobufCMessageDescriptor *descriptor,
                                       const void *data, size_t size, ProtobufCMessage **message_p,
                                       char *why, size_t why_size);

//  The same, allocating at most max_decoded bytes (counted as the heap does,
//  see colugo_node_set_max_decoded_size (); 0: no limit). A message that
//  needs more is refused with the reason "decoded message would exceed
//  <max_decoded> bytes ...".
COLUGO_EXPORT int colugo_proto_decode_bounded (const ProtobufCMessageDescriptor *descriptor,
                                               const void *data, size_t size, size_t max_decoded,
                                               ProtobufCMessage **message_p, char *why,
                                               size_t why_size);

//  The message type a socket of these descriptors advertises, written into
//  buffer: "<full name>", or "<request>/<reply>" when reply is not NULL.
//  Returns 0 or COLUGO_EINVAL if it does not fit COLUGO_TYPE_MAX.
COLUGO_EXPORT int colugo_proto_type_name (const ProtobufCMessageDescriptor *descriptor,
                                          const ProtobufCMessageDescriptor *reply, char *buffer,
                                          size_t size);

COLUGO_END_DECLS

#endif
