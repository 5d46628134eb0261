/*  pub_proto: publishes a colugo.examples.Message (message, id, value) every
    second on proto.pub.topic, like the original Colugo protobuf example.
*/
#include <colugo/proto.h>
#include <stdio.h>
#include "message.pb-c.h"

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    int count;
} pub_proto_t;

static void
on_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    pub_proto_t *self = (pub_proto_t *) arg;
    Colugo__Examples__Message message = COLUGO__EXAMPLES__MESSAGE__INIT;
    message.message = "Hello World";
    message.id = self->count++;
    message.value = message.id * 0.5;
    int rc = colugo_proto_publish (self->publisher, &message.base);
    printf ("Sent: message '%s', id %d, value %g%s%s\n", message.message, message.id, message.value,
            rc ? ": " : "", rc ? colugo_strerror (rc) : "");
    fflush (stdout);
}

int
main (void)
{
    pub_proto_t self = {0};
    self.node = colugo_node_new ("PubProtoExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.publisher = colugo_proto_add_publisher (self.node, "proto.pub.topic",
                                                 &colugo__examples__message__descriptor);
    if (!self.publisher) {
        fprintf (stderr, "pub_proto: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_repeater (self.node, 1000, on_tick, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "pub_proto: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
