/*  test_json.c: the JSON layer in one process, discovery off: round trips
    of every JSON type, publish and subscribe, calls, schemas as message
    types, and bad input refused, dropped, counted and survived.
*/
#include <colugo/json.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bomb.h"
#include "json_counter.h"

#define DEADLINE_MS 5000

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_subscriber_t *subscriber;
    colugo_subscriber_t *other;  //  a second subscriber
    colugo_server_t *server;
    colugo_client_t *client;
    colugo_client_t *raw_client;
    json_t *sent;  //  what the publisher sends
    json_t *kept;  //  a document the handler kept a reference to
    int received;
    int other_received;
    int non_objects;  //  documents that reached an object-only handler
    int requests;
    int replies;
    int failures;
    int mismatches;
    json_int_t last_n;
    bool in_order;
    char peer_type [64];
    char raw [256];  //  the last payload an untyped subscriber saw
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

//  A node without discovery, stopped by a deadline if the test hangs.
static void
s_setup (fixture_t *self)
{
    memset (self, 0, sizeof *self);
    self->in_order = true;
    self->node = colugo_node_new ("json");
    cr_assert_not_null (self->node);
    colugo_node_set_discovery (self->node, false);
    cr_assert_gt (colugo_node_add_delayed (self->node, DEADLINE_MS, on_deadline, self), 0);
}

static void
on_publish_sent (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_eq (colugo_json_publish (self->publisher, self->sent), 0);
}

//  --- Round trips

static const char *s_text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\x92 \xe6\x97\xa5";

static void
on_every_type (colugo_subscriber_t *subscriber, const char *topic, const json_t *document,
               void *arg)
{
    (void) subscriber;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_str_eq (topic, "json.types");
    cr_assert (json_equal (document, self->sent), "the document differs");
    //  The same, field by field, so a failure says which.
    cr_assert_str_eq (json_string_value (json_object_get (document, "text")), s_text);
    cr_assert_eq (json_integer_value (json_object_get (document, "big")), INT64_MAX);
    cr_assert_eq (json_integer_value (json_object_get (document, "small")), INT64_MIN);
    cr_assert_eq (json_integer_value (json_object_get (document, "near")), INT64_MAX - 1);
    cr_assert (json_is_real (json_object_get (document, "pi")));
    cr_assert_eq (json_real_value (json_object_get (document, "pi")), 3.141592653589793);
    cr_assert_eq (json_real_value (json_object_get (document, "tiny")), 5e-324);
    cr_assert_eq (json_real_value (json_object_get (document, "huge")), 1.7976931348623157e308);
    cr_assert (json_is_true (json_object_get (document, "yes")));
    cr_assert (json_is_false (json_object_get (document, "no")));
    cr_assert (json_is_null (json_object_get (document, "nothing")));
    json_t *array = json_object_get (document, "array");
    cr_assert (json_is_array (array));
    cr_assert_eq (json_array_size (array), 5);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (json_object_get (document, "nested"), "a"), "b")),
                      "deep");
    self->received++;
    colugo_node_stop (self->node);
}

Test (json, every_type_round_trips)
{
    fixture_t self;
    s_setup (&self);
    self.sent =
        json_pack ("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:b, s:b, s:n, s:[i, s, f, [], {}],"
                   " s:{s:{s:s}}}",
                   "text", s_text, "big", (json_int_t) INT64_MAX, "small", (json_int_t) INT64_MIN,
                   "near", (json_int_t) (INT64_MAX - 1), "pi", 3.141592653589793, "tiny", 5e-324,
                   "huge", 1.7976931348623157e308, "yes", 1, "no", 0, "nothing", "array", -1, "x",
                   0.1, "nested", "a", "b", "deep");
    cr_assert_not_null (self.sent);
    self.publisher = colugo_json_add_publisher (self.node, "json.types", "test.All");
    self.subscriber = colugo_json_add_subscriber (self.node, "json.types", "test.All",
                                                  COLUGO_JSON_OBJECT, on_every_type, &self);
    cr_assert (self.publisher && self.subscriber);
    colugo_node_add_repeater (self.node, 20, on_publish_sent, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.received, 1);
    json_decref (self.sent);
    colugo_node_destroy (&self.node);
}

static void
on_large (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    cr_assert (json_equal (document, self->sent));
    self->received++;
    colugo_node_stop (self->node);
}

Test (json, a_document_larger_than_the_stack_buffer_round_trips)
{
    fixture_t self;
    s_setup (&self);
    size_t size = 100000;
    char *text = malloc (size);
    for (size_t i = 0; i < size; i++)
        text [i] = (char) ('a' + i % 26);
    self.sent = json_pack ("{s:s%, s:[i, i, i]}", "text", text, size, "tail", 1, 2, 3);
    free (text);
    cr_assert_not_null (self.sent);
    self.publisher = colugo_json_add_publisher (self.node, "json.large", NULL);
    self.subscriber = colugo_json_add_subscriber (self.node, "json.large", NULL, COLUGO_JSON_ANY,
                                                  on_large, &self);
    colugo_node_add_repeater (self.node, 20, on_publish_sent, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.received, 1);
    json_decref (self.sent);
    colugo_node_destroy (&self.node);
}

//  --- Publish and subscribe

static void
on_numbered (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    json_int_t n = json_integer_value (json_object_get (document, "n"));
    if (self->received > 0 && n != self->last_n + 1)
        self->in_order = false;
    self->last_n = n;
    if (++self->received == 20)
        colugo_node_stop (self->node);
}

static void
on_raw (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
        void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    snprintf (self->raw, sizeof self->raw, "%.*s", (int) size, (const char *) data);
    self->other_received++;
}

static void
on_publish_numbered (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    json_t *document = json_pack ("{s:I, s:[i, f, s], s:n}", "n", (json_int_t) self->requests++,
                                  "list", 1, 2.5, "x", "none");
    cr_assert_eq (colugo_json_publish (self->publisher, document), 0);
    cr_assert_eq (document->refcount, 1, "publishing took or dropped a reference");
    json_decref (document);
}

Test (json, subscribers_get_documents_in_order_compactly_encoded)
{
    fixture_t self;
    s_setup (&self);
    self.publisher = colugo_json_add_publisher (self.node, "json.pub", "test.Numbered");
    self.subscriber = colugo_json_add_subscriber (self.node, "json.pub", "test.Numbered",
                                                  COLUGO_JSON_OBJECT, on_numbered, &self);
    //  An untyped subscriber matches any publisher, and sees the bytes.
    self.other = colugo_node_add_subscriber (self.node, "json.pub", on_raw, &self);
    cr_assert (self.publisher && self.subscriber && self.other);
    cr_assert_str_eq (colugo_socket_type (colugo_publisher_socket (self.publisher)),
                      "json:test.Numbered");
    colugo_node_add_repeater (self.node, 10, on_publish_numbered, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.received, 20);
    cr_assert (self.in_order);
    cr_assert_gt (self.other_received, 0);
    int n = -1;
    cr_assert_eq (sscanf (self.raw, "{\"n\":%d,", &n), 1, "%s", self.raw);
    char expected [128];
    snprintf (expected, sizeof expected, "{\"n\":%d,\"list\":[1,2.5,\"x\"],\"none\":null}", n);
    cr_assert_str_eq (self.raw, expected);
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_subscriber_socket (self.subscriber));
    cr_assert_eq (stats.received, 20);
    cr_assert_eq (stats.dropped, 0);
    colugo_node_destroy (&self.node);
}

static void
on_kept (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    self->kept = json_incref ((json_t *) document);
    colugo_node_stop (self->node);
}

Test (json, a_handler_keeps_a_document_by_taking_a_reference)
{
    fixture_t self;
    s_setup (&self);
    self.sent = json_pack ("{s:s}", "keep", "me");
    self.publisher = colugo_json_add_publisher (self.node, "json.keep", NULL);
    self.subscriber =
        colugo_json_add_subscriber (self.node, "json.keep", NULL, COLUGO_JSON_ANY, on_kept, &self);
    colugo_node_add_repeater (self.node, 20, on_publish_sent, &self);
    colugo_node_start (self.node);
    cr_assert_not_null (self.kept);
    //  The layer has released its own reference: ours is the only one.
    cr_assert_eq (self.kept->refcount, 1);
    cr_assert (json_equal (self.kept, self.sent));
    json_decref (self.kept);
    json_decref (self.sent);
    colugo_node_destroy (&self.node);
}

//  An object-only subscriber and one that takes anything, on one topic.
static void
on_object_only (colugo_subscriber_t *subscriber, const char *topic, const json_t *document,
                void *arg)
{
    (void) subscriber;
    (void) topic;
    fixture_t *self = (fixture_t *) arg;
    if (!json_is_object (document))
        self->non_objects++;
    if (++self->received == 5)
        colugo_node_stop (self->node);
}

static void
on_anything (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    (void) topic;
    if (!json_is_object (document))
        ((fixture_t *) arg)->other_received++;
}

static void
on_publish_mixed (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    json_t *array = json_pack ("[i, i]", 1, 2);
    json_t *string = json_string ("text");
    json_t *object = json_pack ("{s:i}", "n", self->requests++);
    cr_assert_eq (colugo_json_publish (self->publisher, array), 0);
    cr_assert_eq (colugo_json_publish (self->publisher, string), 0);
    cr_assert_eq (colugo_json_publish (self->publisher, object), 0);
    json_decref (array);
    json_decref (string);
    json_decref (object);
}

Test (json, an_object_only_subscriber_drops_other_documents)
{
    fixture_t self;
    s_setup (&self);
    self.publisher = colugo_json_add_publisher (self.node, "json.mixed", NULL);
    self.subscriber = colugo_json_add_subscriber (self.node, "json.mixed", NULL, COLUGO_JSON_OBJECT,
                                                  on_object_only, &self);
    self.other = colugo_json_add_subscriber (self.node, "json.mixed", NULL, COLUGO_JSON_ANY,
                                             on_anything, &self);
    colugo_node_add_repeater (self.node, 10, on_publish_mixed, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.received, 5);
    cr_assert_eq (self.non_objects, 0, "%d non-objects were delivered", self.non_objects);
    //  Each tick sends an array, a string, then an object, and the node
    //  stopped on an object: two drops per object, less at most the first
    //  tick's array and string if the connection came up halfway through it.
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_subscriber_socket (self.subscriber));
    cr_assert (stats.dropped >= 8 && stats.dropped <= 10, "%llu dropped",
               (unsigned long long) stats.dropped);
    cr_assert_eq (stats.received, stats.dropped + 5);
    //  The same arrays and strings, to a subscriber that takes any value.
    cr_assert_geq (self.other_received, 6, "the other subscriber got %d", self.other_received);
    cr_assert_eq (colugo_socket_stats (colugo_subscriber_socket (self.other)).dropped, 0);
    colugo_node_destroy (&self.node);
}

//  --- Schemas are message types

static void
on_count (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) topic;
    (void) document;
    fixture_t *self = (fixture_t *) arg;
    if (subscriber == self->subscriber)
        self->received++;
    else
        self->other_received++;
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) peer;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_eq (socket, colugo_subscriber_socket (self->subscriber));
    snprintf (self->peer_type, sizeof self->peer_type, "%s", peer_type);
    self->mismatches++;
}

Test (json, another_schema_is_reported_not_connected)
{
    fixture_t self;
    s_setup (&self);
    self.subscriber =
        colugo_json_add_subscriber (self.node, "json.typed", "a", COLUGO_JSON_ANY, on_count, &self);
    colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber), on_mismatch,
                                        &self);
    //  The control: a subscriber of the publisher's schema gets its documents.
    self.other =
        colugo_json_add_subscriber (self.node, "json.typed", "b", COLUGO_JSON_ANY, on_count, &self);
    self.publisher = colugo_json_add_publisher (self.node, "json.typed", "b");
    cr_assert (self.subscriber && self.other && self.publisher);
    cr_assert_str_eq (colugo_socket_type (colugo_subscriber_socket (self.subscriber)), "json:a");
    self.sent = json_pack ("{s:i}", "n", 1);
    colugo_node_add_repeater (self.node, 10, on_publish_sent, &self);
    colugo_node_add_delayed (self.node, 400, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.mismatches, 1, "reported %d times", self.mismatches);
    cr_assert_str_eq (self.peer_type, "json:b");
    cr_assert_eq (self.received, 0);
    cr_assert_gt (self.other_received, 5);
    colugo_socket_t *socket = colugo_subscriber_socket (self.subscriber);
    cr_assert_eq (colugo_socket_stats (socket).mismatches, 1);
    cr_assert_eq (colugo_socket_peer_count (socket), 0);
    json_decref (self.sent);
    colugo_node_destroy (&self.node);
}

static void
on_never (colugo_server_t *server, uint64_t request, const json_t *document, void *arg)
{
    (void) server;
    (void) request;
    (void) document;
    ((fixture_t *) arg)->requests++;
}

Test (json, bad_schemas_flags_and_handlers_are_refused)
{
    colugo_log_set_level (COLUGO_LOG_OFF);  //  the bad topics
    colugo_node_t *node = colugo_node_new ("json");
    colugo_node_set_discovery (node, false);
    char longest [124], too_long [125];
    memset (longest, 's', sizeof longest - 1);
    longest [sizeof longest - 1] = 0;  //  "json:" + 123: the longest type, 128
    memset (too_long, 's', sizeof too_long - 1);
    too_long [sizeof too_long - 1] = 0;
    const char *bad [] = {"", "has space", "caf\xc3\xa9", "tab\t", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        //  Alternate errors, so each check sees a fresh one.
        cr_assert_null (colugo_json_add_publisher (node, "", NULL));
        cr_assert_eq (colugo_last_error (), COLUGO_ETOPIC);
        cr_assert_null (colugo_json_add_publisher (node, "json.bad", bad [i]), "'%s'", bad [i]);
        cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
        cr_assert_null (colugo_json_add_client (node, "", NULL, 0));
        cr_assert_null (colugo_json_add_subscriber (node, "json.bad", bad [i], 0, on_count, NULL));
        cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
        cr_assert_null (colugo_json_add_client (node, "", NULL, 0));
        cr_assert_null (colugo_json_add_server (node, "json.bad", bad [i], 0, on_never, NULL));
        cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
        cr_assert_null (colugo_json_add_client (node, "", NULL, 0));
        cr_assert_null (colugo_json_add_client (node, "json.bad", bad [i], 0));
        cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
    }
    cr_assert_null (colugo_json_add_subscriber (node, "json.bad", NULL, 2, on_count, NULL));
    cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
    cr_assert_null (colugo_json_add_client (node, "", NULL, 0));
    cr_assert_null (colugo_json_add_subscriber (node, "json.bad", NULL, 0, NULL, NULL));
    cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
    cr_assert_null (colugo_json_add_server (node, "json.bad", NULL, 0, NULL, NULL));
    cr_assert_null (colugo_json_add_client (node, "json.bad", NULL, -1));

    colugo_publisher_t *publisher = colugo_json_add_publisher (node, "json.ok", longest);
    cr_assert_not_null (publisher);
    cr_assert_eq (strlen (colugo_socket_type (colugo_publisher_socket (publisher))),
                  COLUGO_TYPE_MAX);
    colugo_client_t *client = colugo_json_add_client (node, "json.ok", NULL, COLUGO_JSON_OBJECT);
    cr_assert_str_eq (colugo_socket_type (colugo_client_socket (client)), "json");
    char type [7];
    cr_assert_eq (colugo_json_type_name ("a", type, sizeof type), 0);
    cr_assert_str_eq (type, "json:a");
    cr_assert_eq (colugo_json_type_name ("ab", type, sizeof type), COLUGO_EINVAL);

    //  Sockets of the core or of another layer are not JSON sockets.
    json_t *document = json_object ();
    colugo_publisher_t *plain = colugo_node_add_publisher (node, "json.plain");
    colugo_publisher_t *other = colugo_node_add_typed_publisher (node, "json.plain", "json:x");
    colugo_client_t *plain_client = colugo_node_add_client (node, "json.plain");
    cr_assert_eq (colugo_json_publish (plain, document), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_publish (other, document), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_publish (NULL, document), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_publish (publisher, NULL), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_publish (publisher, document), 0);
    cr_assert_lt (colugo_json_call (plain_client, document, NULL, NULL, 0, NULL), 0);
    cr_assert_eq (colugo_json_cancel (plain_client, 1), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_call (client, NULL, NULL, NULL, 0, NULL), COLUGO_EINVAL);
    cr_assert_eq (colugo_client_pending (client), 0);
    json_decref (document);
    colugo_node_destroy (&node);
}

//  --- What cannot be sent is refused before anything is sent

//  A document nested depth values deep (the top level is 1).
static json_t *
s_nested (int depth)
{
    json_t *top = json_array ();
    json_t *inner = top;
    for (int i = 2; i < depth; i++) {
        json_t *next = json_array ();
        json_array_append_new (inner, next);
        inner = next;
    }
    json_array_append_new (inner, json_integer (1));
    return top;
}

Test (json, documents_the_other_side_would_refuse_are_not_sent)
{
    colugo_node_t *node = colugo_node_new ("json");
    colugo_node_set_discovery (node, false);
    colugo_publisher_t *publisher = colugo_json_add_publisher (node, "json.refuse", NULL);
    //  Strings that are not UTF-8: jansson will not make one...
    cr_assert_null (json_string ("\xff"));
    //  ...unless told not to check, and then it will not encode it.
    json_t *bad_string = json_stringn_nocheck ("\xff", 1);
    cr_assert_eq (colugo_json_publish (publisher, bad_string), COLUGO_EINVAL);
    //  A key that is not UTF-8, which jansson would encode into broken JSON.
    json_t *bad_key = json_object ();
    cr_assert_eq (json_object_set_new (bad_key, "\xc0\xaf", json_true ()), -1);
    json_object_set_new_nocheck (bad_key, "\xc0\xaf", json_true ());
    cr_assert_eq (colugo_json_publish (publisher, bad_key), COLUGO_EINVAL);
    //  NUL in a string or a key: encoded as \u0000, which decoding refuses.
    json_t *nul_string = json_stringn ("a\0b", 3);
    cr_assert_eq (colugo_json_publish (publisher, nul_string), COLUGO_EINVAL);
    json_t *nul_key = json_object ();
    json_object_setn_new (nul_key, "a\0b", 3, json_true ());
    cr_assert_eq (colugo_json_publish (publisher, nul_key), COLUGO_EINVAL);
    //  Nesting: up to the decoder's limit, not past it.
    json_t *deepest = s_nested (2048);
    json_t *too_deep = s_nested (2049);
    cr_assert_eq (colugo_json_publish (publisher, deepest), 0);
    cr_assert_eq (colugo_json_publish (publisher, too_deep), COLUGO_EINVAL);
    //  A cycle (jansson refuses the direct one, not this).
    json_t *b = json_array (), *c = json_array ();
    json_array_append (b, c);
    json_array_append (c, b);
    cr_assert_eq (colugo_json_publish (publisher, b), COLUGO_EINVAL);
    json_array_clear (c);
    //  Over the node's maximum message size.
    colugo_node_set_max_message_size (node, 16);
    json_t *small = json_pack ("{s:i}", "a", 1);
    json_t *large = json_pack ("{s:s}", "a", "0123456789abcdef");
    cr_assert_eq (colugo_json_publish (publisher, small), 0);
    cr_assert_eq (colugo_json_publish (publisher, large), COLUGO_ETOOBIG);
    json_t *documents [] = {bad_string, bad_key, nul_string, nul_key, deepest,
                            too_deep,   b,       c,          small,   large};
    for (size_t i = 0; i < sizeof documents / sizeof documents [0]; i++)
        json_decref (documents [i]);
    colugo_node_destroy (&node);
}

//  --- Decoding

static void
s_assert_refused (const char *data, size_t size, int flags, const char *expect)
{
    json_t *document = (json_t *) 1;
    char why [256] = "";
    cr_assert_eq (colugo_json_decode (data, size, flags, &document, why, sizeof why), COLUGO_EINVAL,
                  "accepted %zu bytes '%.*s'", size, (int) size, data);
    cr_assert_null (document);
    cr_assert_gt (strlen (why), 0);
    if (expect)
        cr_assert (strstr (why, expect), "'%s' does not say '%s'", why, expect);
}

//  A string literal, without its NUL.
#define S_REFUSED(literal, flags, expect)                                                          \
    s_assert_refused (literal, sizeof literal - 1, flags, expect)

Test (json, decode_refuses_bad_input_with_a_reason)
{
    S_REFUSED ("{\"a\": [1, 2", 0, "byte 11");  //  truncated
    S_REFUSED ("\"\xff\"", 0, "0xff");          //  invalid UTF-8
    S_REFUSED ("\"\xc0\xaf\"", 0, "0xc0");      //  overlong '/'
    S_REFUSED ("\"\xed\xa0\x80\"", 0, "0xed");  //  a surrogate
    S_REFUSED ("{\"\xf8\x88\x80\x80\x80\":1}", 0, "byte");
    S_REFUSED ("\"\\ud800\"", 0, "\\uD800");                     //  lone surrogate escape
    S_REFUSED ("{\"a\":1,\"a\":2}", 0, "duplicate object key");  //  duplicate keys
    S_REFUSED ("{\"x\":{\"k\":1,\"k\":1}}", 0, "duplicate object key");
    S_REFUSED ("{\"a\":1} x", 0, "end of file expected");  //  trailing garbage
    S_REFUSED ("{}{}", 0, "end of file expected");
    S_REFUSED ("{}\0", 0, "end of file expected");  //  a NUL after the document
    S_REFUSED ("\"a\\u0000b\"", 0, "\\u0000");
    S_REFUSED ("\"a\0b\"", 0, "control character");
    S_REFUSED ("", 0, "end of file");
    s_assert_refused (NULL, 0, 0, "end of file");
    S_REFUSED (" \n ", 0, NULL);
    S_REFUSED ("NaN", 0, NULL);
    S_REFUSED ("9223372036854775808", 0, "too big integer");
    S_REFUSED ("1e400", 0, "overflow");
    S_REFUSED ("{'a':1}", 0, NULL);
    S_REFUSED ("[1,]", 0, NULL);
    S_REFUSED ("// comment\n{}", 0, NULL);
    //  Not an object where one is required.
    S_REFUSED ("[1]", COLUGO_JSON_OBJECT, "array where an object is required");
    S_REFUSED ("3", COLUGO_JSON_OBJECT, "number");
    S_REFUSED ("null", COLUGO_JSON_OBJECT, "null");
    //  Bad arguments.
    s_assert_refused (NULL, 5, 0, NULL);
    s_assert_refused ("{}", 2, 4, NULL);
    json_t *document;
    cr_assert_eq (colugo_json_decode ("{}", 2, 0, NULL, NULL, 0), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_decode ("[", 1, 0, &document, NULL, 0), COLUGO_EINVAL);
    char tiny [8];
    cr_assert_eq (colugo_json_decode ("[", 1, 0, &document, tiny, sizeof tiny), COLUGO_EINVAL);
    cr_assert_eq (strlen (tiny), sizeof tiny - 1);
}

Test (json, decode_refuses_random_bytes)
{
    uint64_t state = 0x9E3779B97F4A7C15ull;
    int refused = 0;
    for (int i = 0; i < 5000; i++) {
        unsigned char data [64];
        size_t size = 8 + i % 57;
        for (size_t k = 0; k < size; k++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data [k] = (unsigned char) state;
        }
        json_t *document = NULL;
        char why [256] = "";
        int rc = colugo_json_decode (data, size, 0, &document, why, sizeof why);
        if (rc == 0) {
            cr_assert_not_null (document);
            json_decref (document);
        }
        else {
            cr_assert_eq (rc, COLUGO_EINVAL);
            cr_assert_null (document);
            cr_assert_gt (strlen (why), 0);
            refused++;
        }
    }
    cr_assert_eq (refused, 5000);
}

static void
s_assert_decodes (const char *data, size_t size, int flags)
{
    json_t *document = NULL;
    char why [256] = "";
    cr_assert_eq (colugo_json_decode (data, size, flags, &document, why, sizeof why), 0,
                  "refused '%.*s': %s", (int) size, data, why);
    cr_assert_not_null (document);
    json_decref (document);
}

Test (json, decode_takes_any_value_a_length_and_the_deepest_nesting)
{
    s_assert_decodes ("3", 1, 0);
    s_assert_decodes ("\"x\"", 3, 0);
    s_assert_decodes ("null", 4, 0);
    s_assert_decodes ("[]", 2, 0);
    s_assert_decodes (" {\"a\" : [ ] }\n", 14, COLUGO_JSON_OBJECT);
    s_assert_decodes ("\"h\xc3\xa9llo \xf0\x9f\x90\x92\"", 13, 0);
    s_assert_decodes ("-9223372036854775808", 20, 0);
    //  Only size bytes are read: what follows is not looked at...
    s_assert_decodes ("{\"a\":1}garbage", 7, 0);
    //  ...and needs no NUL terminator (valgrind sees jansson read no further).
    char *exact = malloc (7);
    memcpy (exact, "[1,2,3]", 7);
    s_assert_decodes (exact, 7, 0);
    free (exact);
    //  2048 values deep at most (jansson's limit, counted from 1).
    for (int depth = 2047; depth <= 2049; depth++) {
        json_t *nested = s_nested (depth);
        char *text = json_dumps (nested, JSON_COMPACT);
        json_decref (nested);
        if (depth <= 2048)
            s_assert_decodes (text, strlen (text), 0);
        else
            s_assert_refused (text, strlen (text), 0, "maximum parsing depth");
        free (text);
    }
}

//  --- Requests and replies

static void
on_calc (colugo_server_t *server, uint64_t request, const json_t *document, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    self->requests++;
    const char *op;
    double a, b;
    cr_assert_eq (json_unpack ((json_t *) document, "{s:s, s:F, s:F}", "op", &op, "a", &a, "b", &b),
                  0);
    json_t *reply = strcmp (op, "div") == 0 && b == 0
                        ? json_pack ("{s:s}", "error", "division by zero")
                        : json_pack ("{s:f}", "result", strcmp (op, "mul") == 0 ? a * b : a + b);
    //  Only objects from this server; then exactly once.
    json_t *array = json_array ();
    cr_assert_eq (colugo_json_reply (server, request, array), COLUGO_EINVAL);
    cr_assert_eq (colugo_json_reply (server, request, NULL), COLUGO_EINVAL);
    json_decref (array);
    cr_assert_eq (colugo_json_reply (server, request, reply), 0);
    cr_assert_eq (colugo_json_reply (server, request, reply), COLUGO_EALREADY);
    json_decref (reply);
}

static void
on_calc_reply (colugo_client_t *client, const json_t *reply, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    json_t *result = json_object_get (reply, "result");
    if (result)
        self->result = json_number_value (result);
    const char *error = json_string_value (json_object_get (reply, "error"));
    if (error)
        snprintf (self->error, sizeof self->error, "%s", error);
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
s_call (fixture_t *self, colugo_client_t *client, const char *op, double a, double b,
        uint32_t timeout_ms)
{
    json_t *request = json_pack ("{s:s, s:f, s:f}", "op", op, "a", a, "b", b);
    int64_t id =
        colugo_json_call (client, request, on_calc_reply, on_calc_failure, timeout_ms, self);
    json_decref (request);
    return id;
}

Test (json, calls_get_replies)
{
    fixture_t self;
    s_setup (&self);
    self.server = colugo_json_add_server (self.node, "json.calc", "test.Calc", COLUGO_JSON_OBJECT,
                                          on_calc, &self);
    self.client = colugo_json_add_client (self.node, "json.calc", "test.Calc", COLUGO_JSON_OBJECT);
    cr_assert (self.server && self.client);
    cr_assert_str_eq (colugo_socket_type (colugo_client_socket (self.client)), "json:test.Calc");
    cr_assert_str_eq (colugo_socket_type (colugo_server_socket (self.server)), "json:test.Calc");
    cr_assert_gt (s_call (&self, self.client, "mul", 6, 7, 2000), 0);
    int64_t cancelled = s_call (&self, self.client, "mul", 1, 1, 2000);
    cr_assert_gt (cancelled, 0);
    cr_assert_eq (colugo_json_cancel (self.client, cancelled), 0);
    cr_assert_eq (colugo_json_cancel (self.client, cancelled), COLUGO_ENOTFOUND);
    cr_assert_gt (s_call (&self, self.client, "div", 1, 0, 2000), 0);
    //  An object-only client sends only objects; no callback for a refusal.
    json_t *array = json_pack ("[i]", 1);
    cr_assert_eq (colugo_json_call (self.client, array, on_calc_reply, on_calc_failure, 0, &self),
                  COLUGO_EINVAL);
    json_decref (array);
    cr_assert_eq (colugo_client_pending (self.client), 2);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.replies, 2);
    cr_assert_eq (self.failures, 0);
    //  A cancelled call may have left already: the server may answer it.
    cr_assert (self.requests == 2 || self.requests == 3, "%d requests", self.requests);
    cr_assert_eq (self.result, 42);
    cr_assert_str_eq (self.error, "division by zero");
    cr_assert_eq (colugo_client_pending (self.client), 0);
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

Test (json, an_undecodable_request_is_dropped_by_the_server)
{
    fixture_t self;
    s_setup (&self);
    self.server = colugo_json_add_server (self.node, "json.calc.raw", "test.Calc", COLUGO_JSON_ANY,
                                          on_calc, &self);
    //  A client of the same type, through the core: it sends anything.
    self.raw_client = colugo_node_add_typed_client (self.node, "json.calc.raw", "json:test.Calc");
    cr_assert (self.server && self.raw_client);
    cr_assert_gt (colugo_client_send (self.raw_client, "{\"op\": \"add\", \"a\": ", 19,
                                      on_raw_reply, on_raw_timeout, 300, &self),
                  0);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.failures, 1);
    cr_assert_eq (self.replies, 0);
    cr_assert_eq (self.requests, 0, "the handler got an undecodable request");
    cr_assert_eq (colugo_socket_stats (colugo_server_socket (self.server)).dropped, 1);
    cr_assert_eq (colugo_server_pending (self.server), 0);
    colugo_node_destroy (&self.node);
}

Test (json, a_request_that_is_not_an_object_fails_the_call_by_timeout)
{
    fixture_t self;
    s_setup (&self);
    self.server = colugo_json_add_server (self.node, "json.calc.obj", NULL, COLUGO_JSON_OBJECT,
                                          on_calc, &self);
    //  Of the same type, but this client takes any value.
    self.client = colugo_json_add_client (self.node, "json.calc.obj", NULL, COLUGO_JSON_ANY);
    json_t *array = json_pack ("[s, i, i]", "add", 1, 2);
    cr_assert_gt (colugo_json_call (self.client, array, on_calc_reply, on_raw_timeout, 300, &self),
                  0);
    json_decref (array);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.failures, 1);
    cr_assert_eq (self.replies, 0);
    cr_assert_eq (self.requests, 0);
    cr_assert_eq (colugo_socket_stats (colugo_server_socket (self.server)).dropped, 1);
    cr_assert_eq (colugo_socket_stats (colugo_client_socket (self.client)).timeouts, 1);
    colugo_node_destroy (&self.node);
}

//  Servers of the right type, through the core, that answer what a JSON
//  client must refuse.
static void
on_answer_garbage (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                   void *arg)
{
    (void) data;
    (void) size;
    (void) arg;
    colugo_server_reply (server, request, "\xff\xfe{\"result\":", 12);
}

static void
on_answer_array (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                 void *arg)
{
    (void) data;
    (void) size;
    (void) arg;
    colugo_server_reply (server, request, "[42]", 4);
}

Test (json, a_reply_that_does_not_decode_fails_the_call)
{
    fixture_t self;
    s_setup (&self);
    self.server =
        colugo_node_add_typed_server (self.node, "json.calc.bad", "json", on_answer_garbage, &self);
    self.client = colugo_json_add_client (self.node, "json.calc.bad", NULL, COLUGO_JSON_ANY);
    colugo_node_add_typed_server (self.node, "json.calc.array", "json", on_answer_array, &self);
    colugo_client_t *object_client =
        colugo_json_add_client (self.node, "json.calc.array", NULL, COLUGO_JSON_OBJECT);
    cr_assert (self.server && self.client && object_client);
    int64_t started = zclock_mono ();
    cr_assert_gt (s_call (&self, self.client, "add", 1, 2, 3000), 0);
    cr_assert_gt (s_call (&self, object_client, "add", 1, 2, 3000), 0);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.failures, 2);
    cr_assert_eq (self.replies, 0);
    cr_assert_lt (zclock_mono () - started, 2000, "failed by timeout, not at once");
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_client_socket (self.client));
    cr_assert_eq (stats.dropped, 1);
    cr_assert_eq (stats.timeouts, 0);
    cr_assert_eq (colugo_socket_stats (colugo_client_socket (object_client)).dropped, 1);
    colugo_node_destroy (&self.node);
}

static void
on_failure_destroy_client (colugo_client_t *client, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    //  The other calls in flight must never call back.
    if (self->failures++ == 0)
        colugo_client_destroy (&self->client);
}

Test (json, a_client_destroyed_in_a_callback_calls_no_more_callbacks)
{
    fixture_t self;
    s_setup (&self);
    self.client = colugo_json_add_client (self.node, "json.nobody", NULL, COLUGO_JSON_ANY);
    json_t *request = json_pack ("{s:i}", "n", 1);
    for (int i = 0; i < 3; i++)
        cr_assert_gt (
            colugo_json_call (self.client, request, NULL, on_failure_destroy_client, 100, &self),
            0);
    json_decref (request);
    colugo_node_add_delayed (self.node, 400, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.failures, 1);
    cr_assert_null (self.client);
    colugo_node_destroy (&self.node);
}

//  --- Decoded size: what a peer can make a node allocate

//  "[0,0,...,0]" just under the node's default maximum message size of
//  64 MiB: 2 bytes a value on the wire, about 40 in jansson's memory.
static char *
s_zeros_bomb (size_t *size)
{
    size_t count = (64 * 1024 * 1024 - 2) / 2;
    char *bomb = malloc (2 * count + 1);
    cr_assert_not_null (bomb);
    for (size_t i = 0; i < count; i++)
        memcpy (bomb + 2 * i, ",0", 2);
    bomb [0] = '[';
    bomb [2 * count] = ']';
    *size = 2 * count + 1;
    return bomb;
}

static int
s_decode_any (const void *data, size_t size, char *why, size_t why_size)
{
    json_t *document;
    int rc = colugo_json_decode (data, size, COLUGO_JSON_ANY, &document, why, why_size);
    json_decref (document);
    return rc;
}

Test (json, a_document_that_would_decode_too_large_is_refused)
{
    size_t size;
    char *bomb = s_zeros_bomb (&size);
    bomb_assert_refused ("an array of zeros", s_decode_any, bomb, size,
                         "decoded document would exceed 268435456 bytes");
}

static void
on_bomb_document (colugo_subscriber_t *subscriber, const char *topic, const json_t *document,
                  void *arg)
{
    (void) subscriber;
    (void) topic;
    if (json_array_size (document) > 0)
        *(bool *) arg = true;
}

Test (json, a_decoded_document_bomb_is_dropped_and_counted)
{
    colugo_node_t *node = colugo_node_new ("json");
    colugo_node_set_discovery (node, false);
    bool delivered = false;
    colugo_subscriber_t *subscriber = colugo_json_add_subscriber (
        node, "bomb", NULL, COLUGO_JSON_ANY, on_bomb_document, &delivered);
    colugo_publisher_t *raw = colugo_node_add_publisher (node, "bomb");
    cr_assert (subscriber && raw);
    size_t size;
    char *bomb = s_zeros_bomb (&size);
    bomb_assert_dropped ("an array of zeros", node, raw, subscriber, "[]", 2, bomb, size,
                         &delivered);
    colugo_node_destroy (&node);
}

//  What jansson itself takes at most to decode the text, as sockets do, in
//  glibc's blocks (json_counter.h);
//  *valid says whether it did.
static size_t
s_jansson_peak (const char *text, size_t size, bool *valid)
{
    json_counter_start ();
    json_error_t error;
    json_t *document = json_loadb (text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    size_t peak = json_counter_peak ();
    *valid = document != NULL;
    json_decref (document);
    return peak;
}

//  The layer's estimate for the text, known to be above low and at most
//  high, to within 1/256 of low: the least budget it decodes within.
static size_t
s_estimate (const char *text, size_t size, size_t low, size_t high)
{
    for (int i = 0; i < 64 && high - low > low / 256 + 1; i++) {
        size_t middle = low + (high - low) / 2;
        json_t *document = NULL;
        char why [256] = "";
        colugo_json_decode_bounded (text, size, 0, middle, &document, why, sizeof why);
        json_decref (document);
        if (strstr (why, "decoded document would exceed"))
            low = middle;
        else
            high = middle;
    }
    return high;
}

//  Checks that the estimate for the text covers what jansson takes, and
//  that a budget of what jansson takes, doubled, lets a valid one through
//  (jansson may stop early in an invalid one; the scan reads it all).
static void
s_assert_estimate_covers (const char *what, const char *text, size_t size, size_t values)
{
    bool valid;
    size_t peak = s_jansson_peak (text, size, &valid);
    json_t *document = (json_t *) 1;
    char why [256] = "";
    if (peak > 0) {
        cr_assert_eq (
            colugo_json_decode_bounded (text, size, 0, peak - 1, &document, why, sizeof why),
            COLUGO_EINVAL, "%s: jansson took %zu bytes, the estimate is lower", what, peak);
        cr_assert (strstr (why, "decoded document would exceed"), "%s: %s", what, why);
    }
    if (!valid)
        return;
    why [0] = '\0';
    colugo_json_decode_bounded (text, size, 0, 2 * peak + 4096, &document, why, sizeof why);
    json_decref (document);
    cr_assert_not (strstr (why, "decoded document would exceed"),
                   "%s: estimated above twice the %zu bytes jansson took", what, peak);
    if (values) {
        size_t estimate = s_estimate (text, size, peak - 1, 2 * peak + 4096);
        cr_log_info ("%-34s %7.1f bytes a value in jansson, %7.1f estimated (%zu bytes of JSON)",
                     what, (double) peak / values, (double) estimate / values, size);
    }
}

//  count copies of item between open and close, separated by commas; item
//  may hold "%d" for the index.
static char *
s_repeat (const char *open, const char *item, size_t count, const char *close, size_t *size)
{
    size_t capacity = strlen (open) + count * (strlen (item) + 24) + strlen (close) + 1;
    char *text = malloc (capacity);
    cr_assert_not_null (text);
    size_t length = (size_t) snprintf (text, capacity, "%s", open);
    for (size_t i = 0; i < count; i++) {
        if (i)
            text [length++] = ',';
        length += (size_t) snprintf (text + length, capacity - length, item, (int) i);
    }
    length += (size_t) snprintf (text + length, capacity - length, "%s", close);
    *size = length;
    return text;
}

Test (json, the_estimate_covers_what_jansson_allocates)
{
    json_counter_install ();
    static const struct {
        const char *what, *open, *item, *close;
    } kinds [] = {
        {"an array of zeros", "[", "0", "]"},
        {"an array of integers", "[", "%d", "]"},
        {"an array of reals", "[", "0.5", "]"},
        {"an array of 15-digit numbers", "[", "123456789012345", "]"},  //  and one ahead
        {"an array of true", "[", "true", "]"},
        {"an array of null", "[", "null", "]"},
        {"an array of empty strings", "[", "\"\"", "]"},
        {"an array of 20-byte strings", "[", "\"abcdefghijklmnopqrst\"", "]"},
        {"an array of escaped strings", "[", "\"\\u00e9\\n\\ud83d\\udc12\"", "]"},
        {"an array of empty arrays", "[", "[]", "]"},
        {"an array of empty objects", "[", "{}", "]"},
        {"an array of pairs", "[", "[1,2]", "]"},
        {"an object of short keys", "{", "\"k%d\":0", "}"},
        {"an object of 40-byte keys", "{", "\"0123456789012345678901234567890123456789%d\":0", "}"},
        {"an array of records", "[",
         "{\"id\":%d,\"name\":\"sensor\",\"value\":1.5,\"ok\":true,\"tags\":[\"a\",\"b\"]}", "]"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds [0]; k++) {
        //  Around each size where jansson's tables grow, and many.
        static const size_t counts [] = {0, 1, 7, 8, 9, 16, 17, 100, 5000};
        for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++) {
            size_t size;
            char *text =
                s_repeat (kinds [k].open, kinds [k].item, counts [c], kinds [k].close, &size);
            s_assert_estimate_covers (kinds [k].what, text, size,
                                      counts [c] == 5000 ? counts [c] : 0);
            free (text);
        }
    }
    //  One long string, plain and escaped, deep nesting, and documents cut
    //  short (jansson allocates, then fails).
    size_t size = 1 << 20;
    char *text = malloc (size);
    cr_assert_not_null (text);
    memset (text, 'x', size);
    text [0] = text [size - 1] = '"';
    s_assert_estimate_covers ("a 1 MiB string", text, size, 1);
    for (size_t i = 1; i + 1 < size; i += 2)
        memcpy (text + i, "\\\\", 2);
    s_assert_estimate_covers ("a 1 MiB string of escapes", text, size, 1);
    s_assert_estimate_covers ("a string cut short", text, size - 1, 0);
    free (text);
    json_t *nested = s_nested (2048);
    text = json_dumps (nested, JSON_COMPACT);  //  from the counter
    s_assert_estimate_covers ("arrays 2048 deep", text, strlen (text), 2048);
    s_assert_estimate_covers ("arrays cut short", text, strlen (text) / 2 + 1, 0);
    json_counter_free (text);
    json_decref (nested);
    size = 5 * 1000 + 1 + 1000;
    text = malloc (size);
    cr_assert_not_null (text);
    for (size_t i = 0; i < 1000; i++)
        memcpy (text + 5 * i, "{\"a\":", 5);
    text [5000] = '0';
    memset (text + 5001, '}', 1000);
    s_assert_estimate_covers ("objects 1000 deep", text, size, 1000);
    s_assert_estimate_covers ("objects cut short", text, 4000, 0);
    free (text);
}

static uint64_t s_random_state = 0x2545F4914F6CDD1Dull;

static size_t
s_random (size_t below)
{
    s_random_state ^= s_random_state << 13;
    s_random_state ^= s_random_state >> 7;
    s_random_state ^= s_random_state << 17;
    return (size_t) (s_random_state % below);
}

//  A random value: containers (up to depth levels more) of up to 40
//  values, strings of up to 60 bytes, numbers, literals.
static json_t *
s_random_value (int depth)
{
    static const char letters [] = "ab\"\\/\n\x01xyz";  //  some escaped
    size_t kind = s_random (depth > 0 ? 8 : 6);
    if (kind == 0)
        return json_integer ((json_int_t) s_random (1000000) - 500000);
    if (kind == 1)
        return json_real ((double) s_random (1000) / 7);
    if (kind == 2)
        return s_random (2) ? json_true () : json_null ();
    if (kind < 6) {
        char text [64];
        size_t length = s_random (60);
        for (size_t i = 0; i < length; i++)
            text [i] = letters [s_random (sizeof letters - 1)];
        return json_stringn (text, length);
    }
    json_t *container = kind == 6 ? json_array () : json_object ();
    size_t count = s_random (41);
    for (size_t i = 0; i < count; i++) {
        json_t *value = s_random_value (depth - 1);
        if (kind == 6)
            json_array_append_new (container, value);
        else {
            char key [32];
            snprintf (key, sizeof key, "k%zu", s_random (1 << (s_random (4) * 6)));
            json_object_set_new (container, key, value);
        }
    }
    return container;
}

Test (json, the_estimate_covers_random_documents)
{
    json_counter_install ();
    for (int i = 0; i < 300; i++) {
        json_t *document = s_random_value (1 + (int) s_random (5));
        char *text = json_dumps (document, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref (document);
        cr_assert_not_null (text);
        size_t size = strlen (text);
        char what [64];
        snprintf (what, sizeof what, "random document %d", i);
        s_assert_estimate_covers (what, text, size, 0);
        //  Cut short, and with a byte changed.
        s_assert_estimate_covers (what, text, s_random (size + 1), 0);
        text [s_random (size)] = "[]{}\",:0a \\" [s_random (11)];
        s_assert_estimate_covers (what, text, size, 0);
        json_counter_free (text);
    }
}

static void
on_budget_failure (colugo_client_t *client, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    self->failures++;
    //  The request was dropped for its decoded size: the next one fits.
    colugo_node_set_max_decoded_size (self->node, COLUGO_DEFAULT_MAX_DECODED_SIZE);
    cr_assert_gt (s_call (self, client, "mul", 6, 7, 2000), 0);
}

Test (json, the_node_max_decoded_size_bounds_what_sockets_decode)
{
    fixture_t self;
    s_setup (&self);
    cr_assert_eq (colugo_node_max_decoded_size (self.node), COLUGO_DEFAULT_MAX_DECODED_SIZE);
    self.server =
        colugo_json_add_server (self.node, "json.budget", NULL, COLUGO_JSON_OBJECT, on_calc, &self);
    self.client = colugo_json_add_client (self.node, "json.budget", NULL, COLUGO_JSON_OBJECT);
    //  {"op":"mul","a":6.0,"b":7.0} takes jansson about 700 bytes.
    colugo_node_set_max_decoded_size (self.node, 512);
    json_t *request = json_pack ("{s:s, s:f, s:f}", "op", "mul", "a", 6.0, "b", 7.0);
    cr_assert_gt (
        colugo_json_call (self.client, request, on_calc_reply, on_budget_failure, 300, &self), 0);
    json_decref (request);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.failures, 1);
    cr_assert_eq (self.replies, 1);
    cr_assert_eq (self.requests, 1, "the handler saw %d requests", self.requests);
    cr_assert_eq (self.result, 42);
    cr_assert_eq (colugo_socket_stats (colugo_server_socket (self.server)).dropped, 1);
    colugo_node_destroy (&self.node);
}

Test (json, a_large_ordinary_document_decodes)
{
    //  11 MB of records of a few short fields (about 200 MB in jansson),
    //  within the default budget.
    const char *record =
        "{\"id\":%d,\"name\":\"sensor\",\"value\":1.5,\"ok\":true,\"tags\":[\"a\"]}";
    size_t count = 10 * 1024 * 1024 / 60, size;
    char *text = s_repeat ("[", record, count, "]", &size);
    json_t *document;
    char why [256] = "";
    int64_t started = zclock_mono ();
    int rc = colugo_json_decode (text, size, 0, &document, why, sizeof why);
    cr_log_info ("%zu bytes of records: %s in %lld ms", size, rc ? why : "decoded",
                 (long long) (zclock_mono () - started));
    cr_assert_eq (rc, 0, "%s", why);
    cr_assert_eq (json_array_size (document), count);
    json_decref (document);
    free (text);
}
