/*  typednode: a node program for the typed end-to-end tests.

        typednode telemetry-pub TOPIC      publishes the every-field sample (20 ms)
        typednode telemetry-sub TOPIC N    checks N samples: "OK <n>" or "BAD <field>",
                                           then "DONE"; "MISMATCH <type>" for peers
                                           of another type; "DROPPED <n>" at the end

    Stops by itself after 30 s.
*/
#include <colugo/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "telemetry_sample.h"

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_subscriber_t *subscriber;
    long wanted;
    long checked;
} typed_node_t;

static void
on_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    typed_node_t *self = (typed_node_t *) arg;
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    colugo_proto_publish (self->publisher, &sample.base);
}

static void
on_telemetry (colugo_subscriber_t *subscriber, const char *topic, const ProtobufCMessage *message,
              void *arg)
{
    (void) subscriber;
    (void) topic;
    typed_node_t *self = (typed_node_t *) arg;
    const char *bad = telemetry_sample_check ((const Colugo__Examples__Telemetry *) message);
    if (bad)
        printf ("BAD %s\n", bad);
    else
        printf ("OK %ld\n", ++self->checked);
    if (self->checked >= self->wanted) {
        printf ("DONE\n");
        colugo_node_stop (self->node);
    }
    fflush (stdout);
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) socket;
    (void) peer;
    (void) arg;
    printf ("MISMATCH %s\n", peer_type);
    fflush (stdout);
}

static void
on_deadline (colugo_node_t *node, void *arg)
{
    (void) arg;
    colugo_node_stop (node);
}

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: typednode telemetry-pub|telemetry-sub TOPIC [N]\n");
        return 2;
    }
    typed_node_t self = {.wanted = argc > 3 ? atol (argv [3]) : 1};
    self.node = colugo_node_new ("TypedNode");
    colugo_node_set_wait_for_daemon (self.node, true);
    const ProtobufCMessageDescriptor *descriptor = &colugo__examples__telemetry__descriptor;
    if (strcmp (argv [1], "telemetry-pub") == 0) {
        self.publisher = colugo_proto_add_publisher (self.node, argv [2], descriptor);
        colugo_node_add_repeater (self.node, 20, on_tick, &self);
    }
    else if (strcmp (argv [1], "telemetry-sub") == 0) {
        self.subscriber =
            colugo_proto_add_subscriber (self.node, argv [2], descriptor, on_telemetry, &self);
        if (self.subscriber)
            colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber),
                                                on_mismatch, &self);
    }
    if (!self.publisher && !self.subscriber) {
        printf ("ERROR %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_delayed (self.node, 30000, on_deadline, &self);
    printf ("READY\n");
    fflush (stdout);
    int rc = colugo_node_start (self.node);
    if (self.subscriber)
        printf ("DROPPED %llu\n", (unsigned long long) colugo_socket_stats (
                                      colugo_subscriber_socket (self.subscriber))
                                      .dropped);
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
