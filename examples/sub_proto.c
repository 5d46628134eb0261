/*  sub_proto: prints every colugo.examples.Message published on
    proto.pub.topic. A publisher of another type on that topic is reported,
    not connected to.
*/
#include <colugo/proto.h>
#include <stdio.h>
#include "message.pb-c.h"

typedef struct {
    colugo_node_t *node;
    colugo_subscriber_t *subscriber;
    unsigned received;
} sub_proto_t;

static void
on_message (colugo_subscriber_t *subscriber, const char *topic, const ProtobufCMessage *base,
            void *arg)
{
    (void) subscriber;
    sub_proto_t *self = (sub_proto_t *) arg;
    const Colugo__Examples__Message *message = (const Colugo__Examples__Message *) base;
    self->received++;
    printf ("Received on %s: message '%s', id %d, value %g\n", topic, message->message, message->id,
            message->value);
    fflush (stdout);
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) arg;
    printf ("Mismatch: %s (node %s) publishes %s, not %s\n", peer->endpoint, peer->node_name,
            peer_type, colugo_socket_type (socket));
    fflush (stdout);
}

int
main (void)
{
    sub_proto_t self = {0};
    self.node = colugo_node_new ("SubProtoExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.subscriber = colugo_proto_add_subscriber (
        self.node, "proto.pub.topic", &colugo__examples__message__descriptor, on_message, &self);
    if (!self.subscriber) {
        fprintf (stderr, "sub_proto: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber), on_mismatch,
                                        &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "sub_proto: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
