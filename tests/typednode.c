/*  typednode: a node program for the typed end-to-end tests.

        typednode telemetry-pub TOPIC      publishes the every-field sample (20 ms)
        typednode telemetry-sub TOPIC N    checks N samples: "OK <n>" or "BAD <field>",
                                           then "DONE"; "MISMATCH <type>" for peers
                                           of another type; "DROPPED <n>" at the end
        typednode json-pub TOPIC           publishes a document of every JSON type
        typednode json-sub TOPIC N         checks N of them, reporting as above

    Stops by itself after 30 s.
*/
#include <colugo/json.h>
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

//  Every JSON type: non-ASCII text, integers at the ends of 64 bits, reals,
//  true, false, null, arrays, nested objects.
static json_t *
s_json_sample (void)
{
    return json_pack ("{s:s, s:I, s:I, s:f, s:f, s:b, s:b, s:n, s:[i, s, [], {}], s:{s:{s:[f]}}}",
                      "text", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x92", "max",
                      (json_int_t) INT64_MAX, "min", (json_int_t) INT64_MIN, "real", 2.5e-308,
                      "negative", -1.25, "yes", 1, "no", 0, "nothing", "list", 1, "two", "nested",
                      "deeper", "values", 3.75);
}

static void
on_json_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    typed_node_t *self = (typed_node_t *) arg;
    json_t *sample = s_json_sample ();
    colugo_json_publish (self->publisher, sample);
    json_decref (sample);
}

static void s_checked (typed_node_t *self, const char *bad);

static void
on_json (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    (void) topic;
    json_t *sample = s_json_sample ();
    s_checked ((typed_node_t *) arg, json_equal (sample, (json_t *) document) ? NULL : "document");
    json_decref (sample);
}

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
    s_checked (self, telemetry_sample_check ((const Colugo__Examples__Telemetry *) message));
}

static void
s_checked (typed_node_t *self, const char *bad)
{
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
    else if (strcmp (argv [1], "json-pub") == 0) {
        self.publisher = colugo_json_add_publisher (self.node, argv [2], "test.AllTypes");
        colugo_node_add_repeater (self.node, 20, on_json_tick, &self);
    }
    else if (strcmp (argv [1], "json-sub") == 0) {
        self.subscriber = colugo_json_add_subscriber (self.node, argv [2], "test.AllTypes",
                                                      COLUGO_JSON_OBJECT, on_json, &self);
        if (self.subscriber)
            colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber),
                                                on_mismatch, &self);
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
