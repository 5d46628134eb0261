/*  colugo/publisher.h: a publisher sends messages on a topic.

    It binds an ephemeral TCP port on every interface and advertises it with
    DNS-SD; every subscriber of its topic, on any node, connects to it. A
    message is one ZeroMQ frame, so plain ZeroMQ SUB sockets read it too.
    Created by colugo_node_add_publisher (); owned by the node.
*/
#ifndef COLUGO_PUBLISHER_H_INCLUDED
#define COLUGO_PUBLISHER_H_INCLUDED

#include <stddef.h>
#include "colugo/node.h"

COLUGO_BEGIN_DECLS

//  Sends size bytes (copied) to every connected subscriber. Returns 0,
//  COLUGO_ETOOBIG (over the node's maximum message size) or COLUGO_EZMQ. Like ZeroMQ PUB, a subscriber that is not connected yet, or
//  whose queue is full, misses the message.
COLUGO_EXPORT int colugo_publisher_send (colugo_publisher_t *self, const void *data, size_t size);

//  Returns the publisher's common socket part.
COLUGO_EXPORT colugo_socket_t *colugo_publisher_socket (colugo_publisher_t *self);

//  Withdraws the service at once; the socket is closed and freed
//  once control returns to the event loop (or in colugo_node_destroy ()).
//  What it sent before still reaches its subscribers (libzmq flushes it for
//  up to 500 ms; they keep the connection until it closes).
//  Safe on NULL; sets *self_p to NULL.
COLUGO_EXPORT void colugo_publisher_destroy (colugo_publisher_t **self_p);

COLUGO_END_DECLS

#endif
