/*  test_proto.c: the protobuf-c layer in one process, discovery off: round
    trips of every field type, RPC, type mismatches, and bad input dropped,
    counted and survived.
*/
#include <colugo/proto.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calculator.pb-c.h"
#include "message.pb-c.h"
#include "bomb.h"
#include "telemetry_sample.h"

#define DEADLINE_MS 5000

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_publisher_t *raw_publisher;
    colugo_subscriber_t *subscriber;
    colugo_server_t *server;
    colugo_client_t *client;
    int received;
    int replies;
    int failures;
    int mismatches;
    const char *check;
    double result;
    char error [64];
    bool deadline_hit;
} fixture_t;

static void
on_deadline (colugo_node_t *node, void *arg)
{
    ((fixture_t *) arg)->deadline_hit = true;
    colugo_node_stop (node);
}

static void
on_stop (colugo_node_t *node, void *arg)
{
    (void) arg;
    colugo_node_stop (node);
}

static void
s_setup (fixture_t *self)
{
    memset (self, 0, sizeof *self);
    self->node = colugo_node_new ("proto");
    cr_assert_not_null (self->node);
    colugo_node_set_discovery (self->node, false);
    colugo_node_add_delayed (self->node, DEADLINE_MS, on_deadline, self);
}

//  --- Publish and subscribe

static void
on_telemetry (colugo_subscriber_t *subscriber, const char *topic, const ProtobufCMessage *message,
              void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_eq (message->descriptor, &colugo__examples__telemetry__descriptor);
    self->check = telemetry_sample_check ((const Colugo__Examples__Telemetry *) message);
    self->received++;
    colugo_node_stop (self->node);
}

static void
on_publish_telemetry (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    cr_assert_eq (colugo_proto_publish (self->publisher, &sample.base), 0);
}

Test (proto, every_field_type_round_trips)
{
    fixture_t self;
    s_setup (&self);
    self.publisher = colugo_proto_add_publisher (self.node, "telemetry",
                                                 &colugo__examples__telemetry__descriptor);
    self.subscriber = colugo_proto_add_subscriber (
        self.node, "telemetry", &colugo__examples__telemetry__descriptor, on_telemetry, &self);
    cr_assert (self.publisher && self.subscriber);
    cr_assert_str_eq (colugo_socket_type (colugo_publisher_socket (self.publisher)),
                      "colugo.examples.Telemetry");
    colugo_node_add_repeater (self.node, 20, on_publish_telemetry, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.received, 1);
    cr_assert_null (self.check, "field '%s' differs", self.check);
    //  A message of another type is refused before anything is sent.
    Colugo__Examples__Message other = COLUGO__EXAMPLES__MESSAGE__INIT;
    cr_assert_eq (colugo_proto_publish (self.publisher, &other.base), COLUGO_EINVAL);
    colugo_node_destroy (&self.node);
}

static void
on_message_count (colugo_subscriber_t *subscriber, const char *topic,
                  const ProtobufCMessage *message, void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) message;
    ((fixture_t *) arg)->received++;
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) socket;
    (void) peer;
    cr_assert_str_eq (peer_type, "colugo.examples.Telemetry");
    ((fixture_t *) arg)->mismatches++;
}

Test (proto, another_message_type_is_reported_not_connected)
{
    fixture_t self;
    s_setup (&self);
    self.subscriber = colugo_proto_add_subscriber (
        self.node, "mixed", &colugo__examples__message__descriptor, on_message_count, &self);
    colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber), on_mismatch,
                                        &self);
    self.publisher =
        colugo_proto_add_publisher (self.node, "mixed", &colugo__examples__telemetry__descriptor);
    colugo_node_add_repeater (self.node, 20, on_publish_telemetry, &self);
    colugo_node_add_delayed (self.node, 300, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.mismatches, 1);
    cr_assert_eq (self.received, 0);
    cr_assert_eq (colugo_socket_peer_count (colugo_subscriber_socket (self.subscriber)), 0);
    colugo_node_destroy (&self.node);
}

//  Bad payloads, sent by an untyped publisher (which matches every peer).
static const char *s_bad [4];
static size_t s_bad_size [4];
static int s_bad_next;

static void
on_publish_bad (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    int i = s_bad_next++ % 4;
    colugo_publisher_send (self->raw_publisher, s_bad [i], s_bad_size [i]);
    if (s_bad_next == 40)
        colugo_node_stop (self->node);
}

Test (proto, undecodable_messages_are_dropped_and_counted)
{
    //  A valid Message with an invalid UTF-8 string, a truncated one, a
    //  wire type that does not fit field 2, and random bytes.
    Colugo__Examples__Message message = COLUGO__EXAMPLES__MESSAGE__INIT;
    message.message = "\xff\xfe not UTF-8";
    message.id = 7;
    static uint8_t bad_utf8 [64], truncated [64];
    s_bad_size [0] = protobuf_c_message_pack (&message.base, bad_utf8);
    s_bad [0] = (const char *) bad_utf8;
    message.message = "fine";
    size_t size = protobuf_c_message_pack (&message.base, truncated);
    s_bad [1] = (const char *) truncated;
    s_bad_size [1] = size - 3;
    s_bad [2] = "\x12\x05hello";  //  field 2 (int32) as a length-delimited field
    s_bad_size [2] = 7;
    s_bad [3] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
    s_bad_size [3] = 11;

    fixture_t self;
    s_setup (&self);
    self.subscriber = colugo_proto_add_subscriber (
        self.node, "bad", &colugo__examples__message__descriptor, on_message_count, &self);
    self.raw_publisher = colugo_node_add_publisher (self.node, "bad");
    colugo_node_add_repeater (self.node, 5, on_publish_bad, &self);
    colugo_node_start (self.node);
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_subscriber_socket (self.subscriber));
    cr_assert_eq (self.received, 0, "%d bad messages were delivered", self.received);
    cr_assert_geq (stats.dropped, 30, "only %llu dropped", (unsigned long long) stats.dropped);
    colugo_node_destroy (&self.node);
}

Test (proto, decode_gives_reasons)
{
    ProtobufCMessage *message;
    char why [160];
    cr_assert_eq (colugo_proto_decode (&colugo__examples__message__descriptor, "\x08", 1, &message,
                                       why, sizeof why),
                  COLUGO_EINVAL);
    cr_assert_null (message);
    cr_assert (strstr (why, "do not decode as colugo.examples.Message"), "%s", why);
    //  A nested string (a map key) that is not UTF-8.
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    sample.counters [0]->key = "\xc0\x80";
    uint8_t buffer [1024];
    size_t size = protobuf_c_message_pack (&sample.base, buffer);
    sample.counters [0]->key = "errors";
    cr_assert_eq (colugo_proto_decode (&colugo__examples__telemetry__descriptor, buffer, size,
                                       &message, why, sizeof why),
                  COLUGO_EINVAL);
    cr_assert (strstr (why, "not UTF-8"), "%s", why);
    size = protobuf_c_message_pack (&sample.base, buffer);
    cr_assert_eq (colugo_proto_decode (&colugo__examples__telemetry__descriptor, buffer, size,
                                       &message, why, sizeof why),
                  0);
    cr_assert_null (telemetry_sample_check ((Colugo__Examples__Telemetry *) message));
    protobuf_c_message_free_unpacked (message, NULL);
}

Test (proto, a_field_numbered_zero_is_refused)
{
    //  Found by fuzz_proto: a padded tag (0x82 0x00) for field 0, length 0.
    //  protobuf-c keeps it as an unknown field and packs bytes it cannot
    //  read back; the layer refuses it.
    ProtobufCMessage *message;
    char why [160];
    cr_assert_eq (colugo_proto_decode (&colugo__examples__message__descriptor, "\x82\x00\x00", 3,
                                       &message, why, sizeof why),
                  COLUGO_EINVAL);
    cr_assert_null (message);
    cr_assert (strstr (why, "numbered 0"), "%s", why);
}

Test (proto, sockets_of_other_layers_are_refused)
{
    //  A publisher of the right type, carrying someone else's attachment.
    colugo_node_t *node = colugo_node_new ("proto");
    colugo_node_set_discovery (node, false);
    colugo_publisher_t *publisher =
        colugo_node_add_typed_publisher (node, "foreign", "colugo.examples.Message");
    static int other_owner;
    int data [8] = {0};
    colugo_socket_set_attachment (colugo_publisher_socket (publisher), &other_owner, data, NULL);
    Colugo__Examples__Message message = COLUGO__EXAMPLES__MESSAGE__INIT;
    cr_assert_eq (colugo_proto_publish (publisher, &message.base), COLUGO_EINVAL);
    cr_assert_eq (colugo_socket_attachment (colugo_publisher_socket (publisher), &other_owner),
                  data);
    colugo_client_t *client = colugo_node_add_client (node, "foreign.rpc");
    cr_assert_eq (colugo_proto_call (client, &message.base, NULL, NULL, 100, NULL), COLUGO_EINVAL);
    cr_assert_eq (colugo_proto_cancel (client, 1), COLUGO_EINVAL);
    colugo_node_destroy (&node);
}

//  --- Requests and replies

static void
on_calc (colugo_server_t *server, uint64_t request, const ProtobufCMessage *message, void *arg)
{
    (void) arg;
    const Colugo__Examples__CalcRequest *in = (const Colugo__Examples__CalcRequest *) message;
    Colugo__Examples__CalcReply out = COLUGO__EXAMPLES__CALC_REPLY__INIT;
    if (in->op == COLUGO__EXAMPLES__CALC_REQUEST__OP__DIV && in->b == 0)
        out.error = "division by zero";
    else
        out.result = in->a * in->b;
    cr_assert_eq (colugo_proto_reply (server, request, &out.base), 0);
    //  Exactly once, and only replies of the reply type.
    cr_assert_eq (colugo_proto_reply (server, request, &out.base), COLUGO_EALREADY);
    cr_assert_eq (colugo_proto_reply (server, request, message), COLUGO_EINVAL);
}

static void
on_calc_reply (colugo_client_t *client, const ProtobufCMessage *message, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    const Colugo__Examples__CalcReply *reply = (const Colugo__Examples__CalcReply *) message;
    self->result = reply->result;
    snprintf (self->error, sizeof self->error, "%s", reply->error);
    if (++self->replies + self->failures == 2)
        colugo_node_stop (self->node);
}

static void
on_calc_failure (colugo_client_t *client, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    if (self->replies + ++self->failures == 2)
        colugo_node_stop (self->node);
}

static int64_t
s_call (fixture_t *self, Colugo__Examples__CalcRequest__Op op, double a, double b,
        uint32_t timeout_ms)
{
    Colugo__Examples__CalcRequest request = COLUGO__EXAMPLES__CALC_REQUEST__INIT;
    request.op = op;
    request.a = a;
    request.b = b;
    return colugo_proto_call (self->client, &request.base, on_calc_reply, on_calc_failure,
                              timeout_ms, self);
}

Test (proto, calls_get_replies)
{
    fixture_t self;
    s_setup (&self);
    self.server =
        colugo_proto_add_server (self.node, "calc", &colugo__examples__calc_request__descriptor,
                                 &colugo__examples__calc_reply__descriptor, on_calc, &self);
    self.client =
        colugo_proto_add_client (self.node, "calc", &colugo__examples__calc_request__descriptor,
                                 &colugo__examples__calc_reply__descriptor);
    cr_assert_str_eq (colugo_socket_type (colugo_client_socket (self.client)),
                      "colugo.examples.CalcRequest/colugo.examples.CalcReply");
    cr_assert_gt (s_call (&self, COLUGO__EXAMPLES__CALC_REQUEST__OP__MUL, 6, 7, 2000), 0);
    int64_t cancelled = s_call (&self, COLUGO__EXAMPLES__CALC_REQUEST__OP__MUL, 1, 1, 2000);
    cr_assert_eq (colugo_proto_cancel (self.client, cancelled), 0);
    cr_assert_eq (colugo_proto_cancel (self.client, cancelled), COLUGO_ENOTFOUND);
    cr_assert_gt (s_call (&self, COLUGO__EXAMPLES__CALC_REQUEST__OP__DIV, 1, 0, 2000), 0);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.replies, 2);
    cr_assert_eq (self.failures, 0);
    cr_assert_str_eq (self.error, "division by zero");
    colugo_node_destroy (&self.node);
}

static void
on_answer_garbage (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                   void *arg)
{
    (void) data;
    (void) size;
    (void) arg;
    colugo_server_reply (server, request, "\xff\xff\xff", 3);
}

Test (proto, a_reply_that_does_not_decode_fails_the_call)
{
    fixture_t self;
    s_setup (&self);
    //  A server of the right type that answers garbage.
    self.server = colugo_node_add_typed_server (
        self.node, "calc.bad", "colugo.examples.CalcRequest/colugo.examples.CalcReply",
        on_answer_garbage, &self);
    self.client =
        colugo_proto_add_client (self.node, "calc.bad", &colugo__examples__calc_request__descriptor,
                                 &colugo__examples__calc_reply__descriptor);
    int64_t started = zclock_mono ();
    s_call (&self, COLUGO__EXAMPLES__CALC_REQUEST__OP__ADD, 1, 2, 3000);
    s_call (&self, COLUGO__EXAMPLES__CALC_REQUEST__OP__ADD, 1, 2, 3000);
    colugo_node_start (self.node);
    cr_assert_eq (self.failures, 2);
    cr_assert_eq (self.replies, 0);
    cr_assert_lt (zclock_mono () - started, 2000, "failed by timeout, not at once");
    cr_assert_eq (colugo_socket_stats (colugo_client_socket (self.client)).dropped, 2);
    colugo_node_destroy (&self.node);
}

static void
on_raw_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    (void) data;
    (void) size;
    ((fixture_t *) arg)->replies++;
}

static void
on_raw_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    self->failures++;
    colugo_node_stop (self->node);
}

Test (proto, an_undecodable_request_is_dropped_by_the_server)
{
    fixture_t self;
    s_setup (&self);
    self.server =
        colugo_proto_add_server (self.node, "calc.raw", &colugo__examples__calc_request__descriptor,
                                 &colugo__examples__calc_reply__descriptor, on_calc, &self);
    colugo_client_t *raw = colugo_node_add_client (self.node, "calc.raw");  //  untyped
    colugo_client_send (raw, "\xff\xff", 2, on_raw_reply, on_raw_timeout, 300, &self);
    colugo_node_start (self.node);
    cr_assert_eq (self.failures, 1);
    cr_assert_eq (self.replies, 0);
    colugo_socket_t *socket = colugo_server_socket (self.server);
    cr_assert_eq (colugo_socket_stats (socket).dropped, 1);
    cr_assert_eq (colugo_server_pending (self.server), 0);
    colugo_node_destroy (&self.node);
}

//  --- Decoded size: what a peer can make a node allocate

//  22369621 empty Telemetry.path entries (field 16, length 0: 3 bytes each),
//  just under the node's default maximum message size of 64 MiB: each costs
//  protobuf-c about 100 bytes unpacked.
static uint8_t *
s_path_bomb (size_t *size)
{
    size_t count = (64 * 1024 * 1024 - 1) / 3;
    uint8_t *bomb = malloc (count * 3);
    cr_assert_not_null (bomb);
    for (size_t i = 0; i < count; i++)
        memcpy (bomb + 3 * i, "\x82\x01\x00", 3);
    *size = count * 3;
    return bomb;
}

static int
s_decode_telemetry (const void *data, size_t size, char *why, size_t why_size)
{
    ProtobufCMessage *message;
    int rc = colugo_proto_decode (&colugo__examples__telemetry__descriptor, data, size, &message,
                                  why, why_size);
    protobuf_c_message_free_unpacked (message, NULL);
    return rc;
}

Test (proto, a_message_that_would_decode_too_large_is_refused)
{
    size_t size;
    uint8_t *bomb = s_path_bomb (&size);
    bomb_assert_refused ("a path bomb", s_decode_telemetry, bomb, size,
                         "decoded message would exceed 268435456 bytes");
}

static void
on_bomb_telemetry (colugo_subscriber_t *subscriber, const char *topic,
                   const ProtobufCMessage *message, void *arg)
{
    (void) subscriber;
    (void) topic;
    if (((const Colugo__Examples__Telemetry *) message)->n_path > 0)
        *(bool *) arg = true;
}

Test (proto, a_decoded_message_bomb_is_dropped_and_counted)
{
    colugo_node_t *node = colugo_node_new ("proto");
    colugo_node_set_discovery (node, false);
    bool delivered = false;
    colugo_subscriber_t *subscriber = colugo_proto_add_subscriber (
        node, "bomb", &colugo__examples__telemetry__descriptor, on_bomb_telemetry, &delivered);
    colugo_publisher_t *raw = colugo_node_add_publisher (node, "bomb");
    cr_assert (subscriber && raw);
    size_t size;
    uint8_t *bomb = s_path_bomb (&size);
    //  The probe: an empty Telemetry (zero bytes).
    bomb_assert_dropped ("a path bomb", node, raw, subscriber, "", 0, bomb, size, &delivered);
    colugo_node_destroy (&node);
}

Test (proto, a_large_ordinary_message_decodes)
{
    //  32 MiB of bytes, a million packed floats, 100000 strings and as many
    //  nested messages: about 42 MiB on the wire.
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    size_t count = 100000;
    sample.blob.len = 32 * 1024 * 1024;
    sample.blob.data = calloc (1, sample.blob.len);
    sample.n_samples = 1000000;
    sample.samples = calloc (sample.n_samples, sizeof (float));
    sample.n_tags = count;
    sample.tags = calloc (count, sizeof (char *));
    sample.n_path = count;
    sample.path = calloc (count, sizeof (Colugo__Examples__Telemetry__Position *));
    Colugo__Examples__Telemetry__Position position = COLUGO__EXAMPLES__TELEMETRY__POSITION__INIT;
    position.x = 1;
    position.y = 2;
    position.z = 3;
    for (size_t i = 0; i < count; i++) {
        sample.tags [i] = "a tag of some length";
        sample.path [i] = &position;
    }
    size_t size = protobuf_c_message_get_packed_size (&sample.base);
    uint8_t *packed = malloc (size);
    cr_assert (packed && sample.blob.data && sample.samples && sample.tags && sample.path);
    protobuf_c_message_pack (&sample.base, packed);
    ProtobufCMessage *message;
    char why [160] = "";
    cr_assert_eq (colugo_proto_decode (&colugo__examples__telemetry__descriptor, packed, size,
                                       &message, why, sizeof why),
                  0, "%zu bytes: %s", size, why);
    const Colugo__Examples__Telemetry *decoded = (const Colugo__Examples__Telemetry *) message;
    cr_assert_eq (decoded->n_path, count);
    cr_assert_eq (decoded->blob.len, sample.blob.len);
    protobuf_c_message_free_unpacked (message, NULL);
    free (packed);
    free (sample.blob.data);
    free (sample.samples);
    free (sample.tags);
    free (sample.path);
}

//  The least budget the sample decodes within, searched in steps of 16 bytes
//  (the heap's granule) up to 64 KiB.
static size_t
s_sample_need (const uint8_t *packed, size_t size)
{
    for (size_t budget = 16; budget <= 65536; budget += 16) {
        ProtobufCMessage *message;
        char why [200] = "";
        if (colugo_proto_decode_bounded (&colugo__examples__telemetry__descriptor, packed, size,
                                         budget, &message, why, sizeof why)
            == 0) {
            protobuf_c_message_free_unpacked (message, NULL);
            return budget;
        }
        cr_assert (strstr (why, "decoded message would exceed"), "%s", why);
    }
    cr_assert_fail ("the sample does not decode within 64 KiB");
    return 0;
}

Test (proto, decode_bounded_refuses_what_needs_more)
{
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    uint8_t packed [1024];
    size_t size = protobuf_c_message_pack (&sample.base, packed);
    size_t need = s_sample_need (packed, size);
    cr_log_info ("the %zu-byte telemetry sample needs %zu bytes decoded", size, need);
    cr_assert_gt (need, size, "unpacked, a message takes more than its bytes");
    ProtobufCMessage *message;
    char why [200] = "";
    cr_assert_eq (colugo_proto_decode_bounded (&colugo__examples__telemetry__descriptor, packed,
                                               size, need - 1, &message, why, sizeof why),
                  COLUGO_EINVAL);
    cr_assert_null (message);
    char expect [64];
    snprintf (expect, sizeof expect, "decoded message would exceed %zu bytes", need - 1);
    cr_assert (strstr (why, expect), "%s", why);
    //  0: no limit. What fails for its bytes still says so.
    cr_assert_eq (colugo_proto_decode_bounded (&colugo__examples__telemetry__descriptor, packed,
                                               size, 0, &message, why, sizeof why),
                  0);
    cr_assert_null (telemetry_sample_check ((const Colugo__Examples__Telemetry *) message));
    protobuf_c_message_free_unpacked (message, NULL);
    cr_assert_eq (colugo_proto_decode_bounded (&colugo__examples__telemetry__descriptor, packed,
                                               size - 1, need, &message, why, sizeof why),
                  COLUGO_EINVAL);
    cr_assert (strstr (why, "do not decode as colugo.examples.Telemetry"), "%s", why);
}

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_subscriber_t *subscriber;
    size_t need;  //  what the sample needs decoded
    int received;
} budget_fixture_t;

static void
on_budget_telemetry (colugo_subscriber_t *subscriber, const char *topic,
                     const ProtobufCMessage *message, void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) message;
    budget_fixture_t *self = (budget_fixture_t *) arg;
    self->received++;
    colugo_node_stop (self->node);
}

static void
on_budget_tick (colugo_node_t *node, void *arg)
{
    budget_fixture_t *self = (budget_fixture_t *) arg;
    //  Once a sample was dropped for its size, the next ones fit.
    if (colugo_socket_stats (colugo_subscriber_socket (self->subscriber)).dropped > 0)
        colugo_node_set_max_decoded_size (node, self->need);
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    cr_assert_eq (colugo_proto_publish (self->publisher, &sample.base), 0);
}

Test (proto, the_node_max_decoded_size_bounds_what_sockets_decode)
{
    Colugo__Examples__Telemetry sample;
    telemetry_sample_fill (&sample);
    uint8_t packed [1024];
    budget_fixture_t self = {
        .need = s_sample_need (packed, protobuf_c_message_pack (&sample.base, packed))};
    self.node = colugo_node_new ("proto");
    colugo_node_set_discovery (self.node, false);
    cr_assert_eq (colugo_node_max_decoded_size (self.node), COLUGO_DEFAULT_MAX_DECODED_SIZE);
    cr_assert_eq (COLUGO_DEFAULT_MAX_DECODED_SIZE, 256 * 1024 * 1024);
    colugo_node_set_max_decoded_size (self.node, self.need - 16);
    cr_assert_eq (colugo_node_max_decoded_size (self.node), self.need - 16);
    self.publisher =
        colugo_proto_add_publisher (self.node, "budget", &colugo__examples__telemetry__descriptor);
    self.subscriber = colugo_proto_add_subscriber (
        self.node, "budget", &colugo__examples__telemetry__descriptor, on_budget_telemetry, &self);
    colugo_node_add_repeater (self.node, 5, on_budget_tick, &self);
    colugo_node_add_delayed (self.node, DEADLINE_MS, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.received, 1);
    cr_assert_geq (colugo_socket_stats (colugo_subscriber_socket (self.subscriber)).dropped, 1);
    colugo_node_destroy (&self.node);
}
