/*  test_node.c: a node and its sockets within one process, discovery off:
    same-node pub/sub, request/reply with timeouts, timers, stopping, bad
    topics, and plain ZeroMQ peers on either side.
*/
#include <colugo.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

#define DEADLINE_MS 5000

//  Allocation failures on demand, on this thread only (not under the
//  address sanitizer, which owns the allocator): calloc number
//  s_fail_calloc from now on returns NULL.
#if defined(__SANITIZE_ADDRESS__)
#define S_FAULTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_FAULTS 0
#endif
#endif
#ifndef S_FAULTS
#define S_FAULTS 1
extern void *__libc_calloc (size_t count, size_t size);
static __thread int s_fail_calloc;

void *
calloc (size_t count, size_t size)
{
    if (s_fail_calloc && --s_fail_calloc == 0)
        return NULL;
    return __libc_calloc (count, size);
}
#endif

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_client_t *client;
    colugo_server_t *server;
    colugo_subscriber_t *subscribers [3];
    int received [3];
    int replies;
    int timeouts;
    int ticks;
    int64_t timer;
    bool deadline_hit;
    uint64_t held_request;
    char last [64];
} fixture_t;

static void
on_deadline (colugo_node_t *node, void *arg)
{
    *(bool *) arg = true;
    colugo_node_stop (node);
}

//  A node without discovery, stopped by a deadline if the test hangs;
//  *deadline_hit then says so.
static colugo_node_t *
s_test_node (const char *name, uint32_t deadline_ms, bool *deadline_hit)
{
    colugo_node_t *node = colugo_node_new (name);
    cr_assert_not_null (node);
    colugo_node_set_discovery (node, false);
    cr_assert_gt (colugo_node_add_delayed (node, deadline_ms, on_deadline, deadline_hit), 0);
    return node;
}

static void
s_setup (fixture_t *self)
{
    memset (self, 0, sizeof *self);
    self->node = s_test_node ("test", DEADLINE_MS, &self->deadline_hit);
}

static int
s_index (fixture_t *self, colugo_subscriber_t *subscriber)
{
    for (int i = 0; i < 3; i++)
        if (self->subscribers [i] == subscriber)
            return i;
    return -1;
}

static void
on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
            void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    cr_assert_str_eq (topic, "same.node");
    int index = s_index (self, subscriber);
    cr_assert_geq (index, 0);
    self->received [index]++;
    snprintf (self->last, sizeof self->last, "%.*s", (int) size, (const char *) data);
    if (self->received [0] >= 5 && self->received [1] >= 5 && self->received [2] >= 5)
        colugo_node_stop (self->node);
}

static void
on_publish_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_eq (colugo_publisher_send (self->publisher, "hello", 5), 0);
    //  A subscriber added while the node runs, long after the publisher.
    if (++self->ticks == 10)
        self->subscribers [2] =
            colugo_node_add_subscriber (self->node, "same.node", on_message, self);
}

Test (node, same_node_subscribers_all_receive)
{
    fixture_t self;
    s_setup (&self);
    self.subscribers [0] = colugo_node_add_subscriber (self.node, "same.node", on_message, &self);
    self.publisher = colugo_node_add_publisher (self.node, "same.node");
    self.subscribers [1] = colugo_node_add_subscriber (self.node, "same.node", on_message, &self);
    cr_assert (self.publisher && self.subscribers [0] && self.subscribers [1]);
    colugo_node_add_repeater (self.node, 20, on_publish_tick, &self);
    cr_assert_eq (colugo_node_start (self.node), 0);
    cr_assert_not (self.deadline_hit, "received %d %d %d", self.received [0], self.received [1],
                   self.received [2]);
    cr_assert_str_eq (self.last, "hello");
    colugo_peer_t peers [4];
    cr_assert_eq (colugo_socket_peers (colugo_subscriber_socket (self.subscribers [0]), peers, 4),
                  1);
    cr_assert_str_eq (peers [0].node_uuid, colugo_node_uuid (self.node));
    cr_assert_eq (colugo_socket_stats (colugo_subscriber_socket (self.subscribers [2])).received,
                  (uint64_t) self.received [2]);
    colugo_node_destroy (&self.node);
    cr_assert_null (self.node);
}

static void
on_message_destroy (colugo_subscriber_t *subscriber, const char *topic, const void *data,
                    size_t size, void *arg)
{
    (void) topic;
    (void) data;
    (void) size;
    fixture_t *self = (fixture_t *) arg;
    int index = s_index (self, subscriber);
    self->received [index]++;
    //  Closing a socket from its own handler, with more messages queued.
    colugo_subscriber_destroy (&self->subscribers [index]);
    cr_assert_null (self->subscribers [index]);
}

static void
on_burst (colugo_node_t *node, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    for (int i = 0; i < 100; i++)
        colugo_publisher_send (self->publisher, "x", 1);
    if (++self->ticks == 20)
        colugo_node_stop (node);
}

Test (node, socket_destroyed_from_its_own_handler)
{
    fixture_t self;
    s_setup (&self);
    self.publisher = colugo_node_add_publisher (self.node, "same.node");
    self.subscribers [0] =
        colugo_node_add_subscriber (self.node, "same.node", on_message_destroy, &self);
    colugo_node_add_repeater (self.node, 10, on_burst, &self);
    cr_assert_eq (colugo_node_start (self.node), 0);
    cr_assert_eq (self.received [0], 1, "the handler ran %d times", self.received [0]);
    colugo_node_destroy (&self.node);
}

//  --- Requests and replies

static void
on_echo (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) arg;
    char reply [64];
    int length = snprintf (reply, sizeof reply, "echo:%.*s", (int) size, (const char *) data);
    cr_assert_eq (colugo_server_reply (server, request, reply, (size_t) length), 0);
    cr_assert_eq (colugo_server_reply (server, request, reply, (size_t) length), COLUGO_EALREADY);
}

static void
on_reply_count (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    cr_assert_eq (strncmp (data, "echo:", 5), 0);
    self->replies++;
    snprintf (self->last, sizeof self->last, "%.*s", (int) size, (const char *) data);
    if (self->replies + self->timeouts == 50)
        colugo_node_stop (self->node);
}

static void
on_timeout_count (colugo_client_t *client, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    self->timeouts++;
    if (self->replies + self->timeouts == 50)
        colugo_node_stop (self->node);
}

Test (node, many_requests_in_flight)
{
    fixture_t self;
    s_setup (&self);
    self.server = colugo_node_add_server (self.node, "rpc.same", on_echo, &self);
    self.client = colugo_node_add_client (self.node, "rpc.same");
    cr_assert (self.server && self.client);
    //  Sent before the loop runs: they wait for the connection.
    for (int i = 0; i < 50; i++)
        cr_assert_gt (
            colugo_client_send (self.client, "q", 1, on_reply_count, on_timeout_count, 2000, &self),
            0);
    cr_assert_eq (colugo_client_pending (self.client), 50);
    cr_assert_eq (colugo_node_start (self.node), 0);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.replies, 50);
    cr_assert_eq (self.timeouts, 0);
    cr_assert_eq (colugo_client_pending (self.client), 0);
    cr_assert_eq (colugo_server_reply (self.server, 9999, "x", 1), COLUGO_ENOTFOUND);
    colugo_node_destroy (&self.node);
}

static void
on_hold (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) server;
    (void) data;
    (void) size;
    ((fixture_t *) arg)->held_request = request;  //  answered later, or never
}

static void
on_reply_then_stop (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    self->replies++;
    snprintf (self->last, sizeof self->last, "%.*s", (int) size, (const char *) data);
    colugo_node_stop (self->node);
}

static void
on_timeout_then_retry (colugo_client_t *client, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    self->timeouts++;
    //  The client is usable at once after a timeout; now answer later.
    self->server = colugo_node_add_server (self->node, "rpc.late", on_hold, self);
    cr_assert_not_null (self->server);
    cr_assert_gt (colugo_client_send (client, "again", 5, on_reply_then_stop, on_timeout_then_retry,
                                      2000, self),
                  0);
}

static void
on_answer_late (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    if (self->held_request) {
        cr_assert_eq (colugo_server_reply (self->server, self->held_request, "later", 5), 0);
        self->held_request = 0;
    }
}

Test (node, timeout_then_recovery_with_deferred_reply)
{
    fixture_t self;
    s_setup (&self);
    self.client = colugo_node_add_client (self.node, "rpc.late");
    int64_t started = zclock_mono ();
    cr_assert_gt (colugo_client_send (self.client, "first", 5, on_reply_then_stop,
                                      on_timeout_then_retry, 200, &self),
                  0);
    colugo_node_add_repeater (self.node, 50, on_answer_late, &self);
    cr_assert_eq (colugo_node_start (self.node), 0);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.timeouts, 1);
    cr_assert_eq (self.replies, 1);
    cr_assert_str_eq (self.last, "later");
    cr_assert_geq (zclock_mono () - started, 200);
    cr_assert_eq (colugo_socket_stats (colugo_client_socket (self.client)).timeouts, 1);
    colugo_node_destroy (&self.node);
}

static void
on_cancelled_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    (void) data;
    (void) size;
    ((fixture_t *) arg)->replies++;
}

static void
on_cancelled_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    ((fixture_t *) arg)->timeouts++;
}

static void
on_stop (colugo_node_t *node, void *arg)
{
    (void) arg;
    colugo_node_stop (node);
}

Test (node, cancelled_request_runs_no_callback)
{
    fixture_t self;
    s_setup (&self);
    self.client = colugo_node_add_client (self.node, "rpc.cancel");
    int64_t id = colugo_client_send (self.client, "x", 1, on_cancelled_reply, on_cancelled_timeout,
                                     50, &self);
    cr_assert_gt (id, 0);
    cr_assert_eq (colugo_client_cancel (self.client, id), 0);
    cr_assert_eq (colugo_client_cancel (self.client, id), COLUGO_ENOTFOUND);
    colugo_node_add_delayed (self.node, 200, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.replies + self.timeouts, 0);
    colugo_node_destroy (&self.node);
}

static void on_stop (colugo_node_t *node, void *arg);

static void
on_timeout_destroy_client (colugo_client_t *client, void *arg)
{
    (void) client;
    fixture_t *self = (fixture_t *) arg;
    //  The others in flight must never call back, not even in this pass.
    if (self->timeouts++ == 0)
        colugo_client_destroy (&self->client);
    cr_assert_null (self->client);
}

Test (node, destroyed_client_calls_no_callbacks)
{
    fixture_t self;
    s_setup (&self);
    self.client = colugo_node_add_client (self.node, "rpc.destroyed");
    for (int i = 0; i < 3; i++)
        cr_assert_gt (colugo_client_send (self.client, "x", 1, on_cancelled_reply,
                                          on_timeout_destroy_client, 100, &self),
                      0);
    colugo_node_add_delayed (self.node, 400, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_eq (self.timeouts, 1);
    cr_assert_eq (self.replies, 0);
    colugo_node_destroy (&self.node);
}

Test (node, manual_endpoints_must_be_numeric)
{
    colugo_node_t *node = colugo_node_new ("test");
    colugo_node_set_discovery (node, false);
    colugo_socket_t *socket = colugo_client_socket (colugo_node_add_client (node, "rpc.ep"));
    const char *bad [] = {"tcp://localhost:5555",
                          "tcp://1.2.3.4",
                          "tcp://1.2.3.4:0",
                          "tcp://1.2.3.4:70000",
                          "ipc:///tmp/x",
                          "tcp://1.2.3:5",
                          ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (colugo_socket_connect (socket, bad [i]), COLUGO_EINVAL, "%s", bad [i]);
    cr_assert_eq (colugo_socket_connect (socket, "tcp://127.0.0.1:5555"), 0);
    cr_assert_eq (colugo_socket_disconnect (socket, "tcp://127.0.0.1:5555"), 0);
    cr_assert_eq (colugo_socket_disconnect (socket, "tcp://127.0.0.1:5555"), COLUGO_ENOTFOUND);
    colugo_node_destroy (&node);
}

//  --- Timers

static void
on_tick_cancel_self (colugo_node_t *node, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    if (++self->ticks == 3)
        cr_assert_eq (colugo_node_cancel_timer (node, self->timer), 0);
}

static void
on_never (colugo_node_t *node, void *arg)
{
    (void) node;
    ((fixture_t *) arg)->timeouts++;
}

Test (node, repeaters_and_delayed_callbacks)
{
    fixture_t self;
    s_setup (&self);
    self.timer = colugo_node_add_repeater (self.node, 10, on_tick_cancel_self, &self);
    int64_t never = colugo_node_add_delayed (self.node, 100, on_never, &self);
    cr_assert_eq (colugo_node_cancel_timer (self.node, never), 0);
    cr_assert_eq (colugo_node_cancel_timer (self.node, never), COLUGO_ENOTFOUND);
    cr_assert_lt (colugo_node_add_repeater (self.node, 0, on_never, &self), 0);
    int64_t started = zclock_mono ();
    colugo_node_add_delayed (self.node, 300, on_stop, NULL);
    colugo_node_start (self.node);
    int64_t elapsed = zclock_mono () - started;
    cr_assert_eq (self.ticks, 3);
    cr_assert_eq (self.timeouts, 0);
    cr_assert_geq (elapsed, 300);
    cr_assert_lt (elapsed, 3000);
    cr_assert_eq (colugo_node_cancel_timer (self.node, self.timer), COLUGO_ENOTFOUND);
    colugo_node_destroy (&self.node);
}

//  --- Bad input from the application

//  Listeners take the lowest free ports of the node's range, and none
//  outside it; without a range the kernel chooses.
Test (node, listeners_stay_in_the_port_range)
{
    setenv ("COLUGO_PORTS", "45100-45103", 1);
    colugo_node_t *node = colugo_node_new ("test");
    unsetenv ("COLUGO_PORTS");
    cr_assert_not_null (node);
    colugo_node_set_discovery (node, false);
    int made = 0;
    for (int i = 0; i < 3; i++) {
        colugo_publisher_t *publisher = colugo_node_add_publisher (node, "test.ports");
        if (!publisher)
            break;
        made++;
        colugo_socket_t *socket = colugo_publisher_socket (publisher);
        uint16_t port = colugo_socket_port (socket),
                 verified = colugo_socket_verified_port (socket);
        cr_assert (port >= 45100 && port <= 45103, "port %u", port);
        cr_assert (verified > port && verified <= 45103, "verified port %u", verified);
    }
    cr_assert_leq (made, 2, "4 ports hold 2 publishers");
    cr_assert_eq (colugo_node_add_publisher (node, "test.ports"), NULL);
    colugo_node_destroy (&node);
    node = colugo_node_new ("test");
    cr_assert_eq (colugo_node_set_ports (node, 45100, 0), COLUGO_EINVAL);
    cr_assert_eq (colugo_node_set_ports (node, 45101, 45100), COLUGO_EINVAL);
    cr_assert_eq (colugo_node_set_ports (node, 0, 0), 0);
    colugo_node_destroy (&node);
}

Test (node, invalid_topics_are_refused)
{
    colugo_node_t *node = colugo_node_new ("test");
    colugo_node_set_discovery (node, false);
    char long_topic [COLUGO_TOPIC_MAX + 2];
    memset (long_topic, 'a', sizeof long_topic - 1);
    long_topic [sizeof long_topic - 1] = 0;
    const char *bad [] = {"", "tab\there", "new\nline", "\xff\xfe", "\xc0\xaf", long_topic};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_assert_null (colugo_node_add_publisher (node, bad [i]));
        cr_assert_eq (colugo_last_error (), COLUGO_ETOPIC);
        cr_assert_null (colugo_node_add_server (node, bad [i], on_hold, NULL));
        cr_assert_null (colugo_node_add_client (node, bad [i]));
    }
    cr_assert_null (colugo_node_add_publisher (node, NULL));
    colugo_node_destroy (&node);
    cr_assert_null (colugo_node_new (""));
    cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
}

//  --- Plain ZeroMQ peers

typedef struct {
    atomic_int port;
    atomic_int done;
    char got [64];
} plain_t;

static void *
s_plain_rep (void *arg)
{
    plain_t *plain = (plain_t *) arg;
    zsock_t *rep = zsock_new (ZMQ_REP);
    int port = zsock_bind (rep, "tcp://127.0.0.1:*");
    zsock_set_rcvtimeo (rep, 4000);
    atomic_store (&plain->port, port);
    char *request = zstr_recv (rep);
    if (request) {
        snprintf (plain->got, sizeof plain->got, "%s", request);
        zstr_sendf (rep, "plain:%s", request);
        zstr_free (&request);
    }
    zclock_sleep (200);  //  let the reply leave before closing
    zsock_destroy (&rep);
    atomic_store (&plain->done, 1);
    return NULL;
}

Test (node, client_calls_a_plain_rep_server)
{
    plain_t plain = {0};
    pthread_t thread;
    pthread_create (&thread, NULL, s_plain_rep, &plain);
    while (atomic_load (&plain.port) == 0)
        zclock_sleep (1);
    fixture_t self;
    s_setup (&self);
    self.client = colugo_node_add_client (self.node, "rpc.plain");
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", atomic_load (&plain.port));
    cr_assert_eq (colugo_socket_connect (colugo_client_socket (self.client), endpoint), 0);
    colugo_client_send (self.client, "hi", 2, on_reply_then_stop, on_cancelled_timeout, 3000,
                        &self);
    colugo_node_start (self.node);
    pthread_join (thread, NULL);
    cr_assert_str_eq (plain.got, "hi");
    cr_assert_str_eq (self.last, "plain:hi");
    colugo_node_destroy (&self.node);
}

static void *
s_plain_req (void *arg)
{
    plain_t *plain = (plain_t *) arg;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", atomic_load (&plain->port));
    zsock_t *req = zsock_new_req (endpoint);
    zsock_set_rcvtimeo (req, 4000);
    zstr_send (req, "from-plain");
    char *reply = zstr_recv (req);
    if (reply) {
        snprintf (plain->got, sizeof plain->got, "%s", reply);
        zstr_free (&reply);
    }
    zsock_destroy (&req);
    atomic_store (&plain->done, 1);
    return NULL;
}

static void
on_plain_done (colugo_node_t *node, void *arg)
{
    if (atomic_load (&((plain_t *) arg)->done))
        colugo_node_stop (node);
}

Test (node, server_answers_a_plain_req_client)
{
    fixture_t self;
    s_setup (&self);
    self.server = colugo_node_add_server (self.node, "rpc.plain", on_echo, &self);
    plain_t plain = {0};
    atomic_store (&plain.port, colugo_socket_port (colugo_server_socket (self.server)));
    pthread_t thread;
    pthread_create (&thread, NULL, s_plain_req, &plain);
    colugo_node_add_repeater (self.node, 10, on_plain_done, &plain);
    colugo_node_start (self.node);
    pthread_join (thread, NULL);
    cr_assert_str_eq (plain.got, "echo:from-plain");
    colugo_node_destroy (&self.node);
}

static void *
s_plain_sub (void *arg)
{
    plain_t *plain = (plain_t *) arg;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", atomic_load (&plain->port));
    zsock_t *sub = zsock_new_sub (endpoint, "");
    zsock_set_rcvtimeo (sub, 4000);
    zmsg_t *message = zmsg_recv (sub);
    if (message) {
        //  One frame, the payload: the wire format plain programs read.
        snprintf (plain->got, sizeof plain->got, "%zu:%s", zmsg_size (message),
                  (char *) zframe_data (zmsg_first (message)));
        zmsg_destroy (&message);
    }
    zsock_destroy (&sub);
    atomic_store (&plain->done, 1);
    return NULL;
}

static void
on_publish_plain (colugo_node_t *node, void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    colugo_publisher_send (self->publisher, "payload", 8);  //  with its NUL
    (void) node;
}

Test (node, plain_sub_reads_the_payload_frame)
{
    fixture_t self;
    s_setup (&self);
    self.publisher = colugo_node_add_publisher (self.node, "plain.pub");
    plain_t plain = {0};
    atomic_store (&plain.port, colugo_socket_port (colugo_publisher_socket (self.publisher)));
    pthread_t thread;
    pthread_create (&thread, NULL, s_plain_sub, &plain);
    colugo_node_add_repeater (self.node, 20, on_publish_plain, &self);
    colugo_node_add_repeater (self.node, 10, on_plain_done, &plain);
    colugo_node_start (self.node);
    pthread_join (thread, NULL);
    cr_assert_str_eq (plain.got, "1:payload");
    colugo_node_destroy (&self.node);
}

//  --- Message types and sizes

typedef struct {
    colugo_node_t *node;
    int received [4];
    int mismatches [4];
    char peer_type [64];
    colugo_subscriber_t *subscribers [4];
    colugo_publisher_t *publisher;
} typed_t;

static void
on_typed_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                  void *arg)
{
    (void) topic;
    (void) data;
    (void) size;
    typed_t *self = (typed_t *) arg;
    for (int i = 0; i < 4; i++)
        if (self->subscribers [i] == subscriber)
            self->received [i]++;
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    typed_t *self = (typed_t *) arg;
    cr_assert_str_eq (peer->node_uuid, colugo_node_uuid (self->node));
    snprintf (self->peer_type, sizeof self->peer_type, "%s", peer_type);
    for (int i = 0; i < 4; i++)
        if (self->subscribers [i] && colugo_subscriber_socket (self->subscribers [i]) == socket)
            self->mismatches [i]++;
}

static void
on_typed_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    colugo_publisher_send (((typed_t *) arg)->publisher, "0123456789abcdef", 16);
}

Test (node, typed_sockets_match_only_their_type)
{
    typed_t self = {0};
    self.node = colugo_node_new ("typed");
    colugo_node_set_discovery (self.node, false);
    //  0: same type, 1: another type (a mismatch, reported once), 2: untyped.
    self.subscribers [0] =
        colugo_node_add_typed_subscriber (self.node, "typed", "a.B", on_typed_message, &self);
    self.subscribers [1] =
        colugo_node_add_typed_subscriber (self.node, "typed", "a.C", on_typed_message, &self);
    colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscribers [1]),
                                        on_mismatch, &self);
    self.subscribers [2] = colugo_node_add_subscriber (self.node, "typed", on_typed_message, &self);
    self.publisher = colugo_node_add_typed_publisher (self.node, "typed", "a.B");
    cr_assert_str_eq (colugo_socket_type (colugo_publisher_socket (self.publisher)), "a.B");
    cr_assert_null (colugo_socket_type (colugo_subscriber_socket (self.subscribers [2])));
    cr_assert_null (colugo_node_add_typed_publisher (self.node, "typed", "has space"));
    cr_assert_eq (colugo_last_error (), COLUGO_EINVAL);
    colugo_node_add_repeater (self.node, 10, on_typed_tick, &self);
    colugo_node_add_delayed (self.node, 400, on_stop, NULL);
    colugo_node_start (self.node);
    cr_assert_gt (self.received [0], 5);
    cr_assert_eq (self.received [1], 0);
    cr_assert_gt (self.received [2], 5);
    cr_assert_eq (self.mismatches [1], 1, "reported %d times", self.mismatches [1]);
    cr_assert_str_eq (self.peer_type, "a.B");
    cr_assert_eq (colugo_socket_stats (colugo_subscriber_socket (self.subscribers [1])).mismatches,
                  1);
    colugo_node_destroy (&self.node);
}

Test (node, messages_over_the_maximum_are_dropped_and_counted)
{
    typed_t self = {0};
    self.node = colugo_node_new ("maxsize");
    colugo_node_set_discovery (self.node, false);
    colugo_node_set_max_message_size (self.node, 10);
    self.subscribers [0] = colugo_node_add_subscriber (self.node, "big", on_typed_message, &self);
    //  The sender has the default maximum; this node refuses to send 16 bytes.
    colugo_node_t *sender = colugo_node_new ("sender");
    colugo_node_set_discovery (sender, false);
    self.publisher = colugo_node_add_publisher (sender, "big");
    colugo_publisher_t *own = colugo_node_add_publisher (self.node, "big.own");
    cr_assert_eq (colugo_publisher_send (own, "0123456789abcdef", 16), COLUGO_ETOOBIG);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u",
              colugo_socket_port (colugo_publisher_socket (self.publisher)));
    cr_assert_eq (colugo_socket_connect (colugo_subscriber_socket (self.subscribers [0]), endpoint),
                  0);
    colugo_node_add_repeater (self.node, 10, on_typed_tick, &self);  //  16 bytes each
    colugo_node_add_delayed (self.node, 300, on_stop, NULL);
    colugo_node_start (self.node);
    colugo_socket_stats_t stats =
        colugo_socket_stats (colugo_subscriber_socket (self.subscribers [0]));
    cr_assert_eq (self.received [0], 0);
    cr_assert_gt (stats.dropped, 5);
    cr_assert_eq (stats.received, 0);
    colugo_node_destroy (&self.node);
    colugo_node_destroy (&sender);
}

//  --- Requests: who may answer, servers that never do, bounded tables

typedef struct {
    colugo_node_t *node;
    colugo_client_t *client;
    colugo_server_t *server;
    int sent;
    int to_send;
    int replies;
    int timeouts;
    int forged;  //  replies whose payload says they were forged
    uint32_t timeout_ms;
    int64_t first_send;
    int64_t send_for_ms;  //  keep sending this long (0: to_send requests)
    size_t wait_peers;    //  send only once the client has this many
    uint64_t held [64];
    size_t held_count;
    int64_t late_from;  //  count replies after this long (ms from the first send)
    int late_replies;
    int late_from_b;  //  ... of them, from the server that answers "b"
    bool deadline_hit;
} calls_t;

static void
s_calls_setup (calls_t *self, uint32_t deadline_ms)
{
    memset (self, 0, sizeof *self);
    self->node = s_test_node ("calls", deadline_ms, &self->deadline_hit);
}

//  Whether the test still has requests to send.
static bool
s_sending (calls_t *self)
{
    return self->send_for_ms
               ? self->first_send == 0 || zclock_mono () - self->first_send < self->send_for_ms
               : self->sent < self->to_send;
}

//  Stops the node once every request was sent and has had its outcome.
static void
s_stop_when_done (calls_t *self)
{
    if (!s_sending (self) && self->replies + self->timeouts == self->sent)
        colugo_node_stop (self->node);
}

static void
on_call_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    calls_t *self = (calls_t *) arg;
    self->replies++;
    if (size >= 6 && memcmp (data, "forged", 6) == 0)
        self->forged++;
    if (self->late_from && zclock_mono () - self->first_send >= self->late_from) {
        self->late_replies++;
        self->late_from_b += size == 1 && *(const char *) data == 'b';
    }
    s_stop_when_done (self);
}

static void
on_call_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    ((calls_t *) arg)->timeouts++;
    s_stop_when_done ((calls_t *) arg);
}

//  One request a tick, once the client sees wait_peers servers.
static void
on_call_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    calls_t *self = (calls_t *) arg;
    if (colugo_socket_peer_count (colugo_client_socket (self->client)) < self->wait_peers)
        return;
    if (!self->first_send)
        self->first_send = zclock_mono ();
    if (!s_sending (self)) {
        s_stop_when_done (self);  //  the last outcome may have come before the end
        return;
    }
    cr_assert_gt (colugo_client_send (self->client, "q", 1, on_call_reply, on_call_timeout,
                                      self->timeout_ms, self),
                  0);
    self->sent++;
}

static void
on_hold_many (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) server;
    (void) data;
    (void) size;
    calls_t *self = (calls_t *) arg;
    if (self->held_count < 64)
        self->held [self->held_count++] = request;
}

static void
on_answer_held (colugo_node_t *node, void *arg)
{
    (void) node;
    calls_t *self = (calls_t *) arg;
    for (size_t i = 0; i < self->held_count; i++)
        colugo_server_reply (self->server, self->held [i], "echo:late", 9);
    self->held_count = 0;
}

static void
on_silent (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) server;
    (void) request;
    (void) data;
    (void) size;
    (void) arg;  //  never answered
}

typedef struct {
    atomic_int ports [2];
    atomic_int stop;
    atomic_int forged;  //  replies the thread forged
    atomic_int seen;    //  requests the thread received
} rogue_t;

static void
s_forge (zsock_t *socket, zframe_t *routing_id, uint64_t id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &(zframe_t *){zframe_dup (routing_id)});
    zmsg_addmem (reply, &id, sizeof id);
    zmsg_addmem (reply, "", 0);
    zmsg_addstr (reply, "forged");
    zmsg_send (&reply, socket);
}

//  Two ROUTER servers that never answer their own requests: what the
//  first receives, the second answers, as soon as it knows the client.
static void *
s_crosstalk (void *arg)
{
    rogue_t *rogue = (rogue_t *) arg;
    zsock_t *first = zsock_new (ZMQ_ROUTER), *second = zsock_new (ZMQ_ROUTER);
    atomic_store (&rogue->ports [0], zsock_bind (first, "tcp://127.0.0.1:*"));
    atomic_store (&rogue->ports [1], zsock_bind (second, "tcp://127.0.0.1:*"));
    zpoller_t *poller = zpoller_new (first, second, NULL);
    zframe_t *client_at_second = NULL;
    uint64_t ids [256];
    size_t count = 0;
    while (!atomic_load (&rogue->stop)) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 10);
        zmsg_t *request = which ? zmsg_recv (which) : NULL;
        if (request && zmsg_size (request) == 4) {
            atomic_fetch_add (&rogue->seen, 1);
            zframe_t *routing_id = zmsg_first (request);
            zframe_t *id = zmsg_next (request);
            if (which == second && !client_at_second)
                client_at_second = zframe_dup (routing_id);
            if (which == first && zframe_size (id) == 8 && count < 256)
                memcpy (&ids [count++], zframe_data (id), 8);
        }
        zmsg_destroy (&request);
        for (size_t i = 0; client_at_second && i < count; i++) {
            s_forge (second, client_at_second, ids [i]);
            atomic_fetch_add (&rogue->forged, 1);
        }
        if (client_at_second)
            count = 0;
    }
    zframe_destroy (&client_at_second);
    zpoller_destroy (&poller);
    zsock_destroy (&first);
    zsock_destroy (&second);
    return NULL;
}

static void
s_connect_port (colugo_client_t *client, int port)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    cr_assert_eq (colugo_socket_connect (colugo_client_socket (client), endpoint), 0);
}

Test (requests, a_reply_counts_only_from_the_server_asked)
{
    rogue_t rogue = {0};
    pthread_t thread;
    pthread_create (&thread, NULL, s_crosstalk, &rogue);
    while (!atomic_load (&rogue.ports [0]) || !atomic_load (&rogue.ports [1]))
        zclock_sleep (1);
    calls_t self;
    s_calls_setup (&self, 5000);
    self.client = colugo_node_add_client (self.node, "rpc.crosstalk");
    s_connect_port (self.client, atomic_load (&rogue.ports [0]));
    s_connect_port (self.client, atomic_load (&rogue.ports [1]));
    self.to_send = 20;
    self.timeout_ms = 300;
    self.wait_peers = 2;
    colugo_node_add_repeater (self.node, 10, on_call_tick, &self);
    colugo_node_start (self.node);
    atomic_store (&rogue.stop, 1);
    pthread_join (thread, NULL);
    cr_assert_not (self.deadline_hit, "sent %d, %d replies, %d timeouts", self.sent, self.replies,
                   self.timeouts);
    cr_assert_gt (atomic_load (&rogue.forged), 0, "nothing was forged: the test tested nothing");
    cr_assert_eq (self.forged, 0, "%d of %d forged replies accepted", self.forged,
                  atomic_load (&rogue.forged));
    cr_assert_eq (self.timeouts, 20);
    cr_assert_geq (colugo_socket_stats (colugo_client_socket (self.client)).dropped, 1);
    colugo_node_destroy (&self.node);
}

//  A ROUTER server that answers every request it gets with replies to the
//  ids next to its own, hoping to hit requests in flight elsewhere.
static void *
s_guesser (void *arg)
{
    rogue_t *rogue = (rogue_t *) arg;
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    atomic_store (&rogue->ports [0], zsock_bind (server, "tcp://127.0.0.1:*"));
    zpoller_t *poller = zpoller_new (server, NULL);
    while (!atomic_load (&rogue->stop)) {
        zmsg_t *request = zpoller_wait (poller, 10) ? zmsg_recv (server) : NULL;
        if (request && zmsg_size (request) == 4) {
            atomic_fetch_add (&rogue->seen, 1);
            zframe_t *routing_id = zmsg_first (request);
            zframe_t *frame = zmsg_next (request);
            uint64_t id = 0;
            if (zframe_size (frame) == 8)
                memcpy (&id, zframe_data (frame), 8);
            for (uint64_t delta = 1; delta <= 16; delta++) {
                s_forge (server, routing_id, id + delta);
                s_forge (server, routing_id, id - delta);
                atomic_fetch_add (&rogue->forged, 2);
            }
        }
        zmsg_destroy (&request);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&server);
    return NULL;
}

#if S_FAULTS
static void
on_count_request (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                  void *arg)
{
    (void) server;
    (void) request;
    (void) data;
    (void) size;
    ((calls_t *) arg)->sent++;  //  here: requests the server received
}

//  Once the client is connected: one request, then one whose timeout
//  cannot be armed (its second calloc fails: the request's, the timer's).
static void
on_send_without_timer (colugo_node_t *node, void *arg)
{
    calls_t *self = (calls_t *) arg;
    if (colugo_socket_peer_count (colugo_client_socket (self->client)) < 1 || self->to_send)
        return;
    self->to_send = 1;
    cr_assert_gt (colugo_client_send (self->client, "q", 1, NULL, NULL, 2000, self), 0);
    s_fail_calloc = 2;
    int64_t rc =
        colugo_client_send (self->client, "q", 1, on_call_reply, on_call_timeout, 2000, self);
    s_fail_calloc = 0;
    cr_assert_eq (rc, COLUGO_ENOMEM);
    cr_assert_eq (colugo_client_pending (self->client), 1);
    colugo_node_add_delayed (node, 300, on_stop, NULL);
}
#endif

Test (requests, a_request_whose_timeout_cannot_be_armed_is_not_sent)
{
#if S_FAULTS
    calls_t self;
    s_calls_setup (&self, 5000);
    self.server = colugo_node_add_server (self.node, "rpc.arm", on_count_request, &self);
    self.client = colugo_node_add_client (self.node, "rpc.arm");
    colugo_node_add_repeater (self.node, 10, on_send_without_timer, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.to_send, 1);
    cr_assert_eq (self.sent, 1, "the server got %d requests: a failed send went out", self.sent);
    colugo_node_destroy (&self.node);
#else
    cr_skip_test ("allocation faults need the plain allocator");
#endif
}

Test (requests, request_ids_cannot_be_guessed)
{
    rogue_t rogue = {0};
    pthread_t thread;
    pthread_create (&thread, NULL, s_guesser, &rogue);
    while (!atomic_load (&rogue.ports [0]))
        zclock_sleep (1);
    calls_t self;
    s_calls_setup (&self, 5000);
    //  An honest server, slow enough for the guesses to come first.
    self.server = colugo_node_add_server (self.node, "rpc.guess", on_hold_many, &self);
    self.client = colugo_node_add_client (self.node, "rpc.guess");
    s_connect_port (self.client, atomic_load (&rogue.ports [0]));
    self.to_send = 20;
    self.timeout_ms = 1000;
    self.wait_peers = 2;
    colugo_node_add_repeater (self.node, 10, on_call_tick, &self);
    colugo_node_add_repeater (self.node, 200, on_answer_held, &self);
    colugo_node_start (self.node);
    atomic_store (&rogue.stop, 1);
    pthread_join (thread, NULL);
    cr_assert_not (self.deadline_hit);
    cr_assert_gt (atomic_load (&rogue.seen), 0);
    cr_assert_eq (self.forged, 0, "%d guessed replies accepted", self.forged);
    cr_assert_gt (self.replies, 0, "the honest server answered nothing");
    colugo_node_destroy (&self.node);
}

Test (requests, a_server_that_never_answers_is_skipped)
{
    calls_t self;
    s_calls_setup (&self, 8000);
    colugo_server_t *good = colugo_node_add_server (self.node, "rpc.skip", on_echo, &self);
    colugo_server_t *silent = colugo_node_add_server (self.node, "rpc.skip", on_silent, &self);
    self.client = colugo_node_add_client (self.node, "rpc.skip");
    cr_assert (good && silent && self.client);
    self.send_for_ms = 3000;
    self.timeout_ms = 100;
    self.wait_peers = 2;
    colugo_node_add_repeater (self.node, 5, on_call_tick, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_eq (self.replies + self.timeouts, self.sent);
    cr_assert_gt (self.sent, 100);
    double share = 100.0 * self.timeouts / self.sent;
    cr_log_info ("a server that never answers: %d of %d requests timed out (%.1f%%)", self.timeouts,
                 self.sent, share);
    fprintf (stderr, "a server that never answers: %d of %d requests timed out (%.1f%%)\n",
             self.timeouts, self.sent, share);
    cr_assert_lt (share, 15.0, "%d of %d requests timed out", self.timeouts, self.sent);
    colugo_node_destroy (&self.node);
}

//  Silent for its first 700 ms, then it answers "b".
static void
on_silent_then_b (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                  void *arg)
{
    (void) data;
    (void) size;
    calls_t *self = (calls_t *) arg;
    if (zclock_mono () - self->first_send >= 700)
        colugo_server_reply (server, request, "b", 1);
}

Test (requests, a_skipped_server_that_answers_again_gets_its_share)
{
    calls_t self;
    s_calls_setup (&self, 8000);
    colugo_server_t *good = colugo_node_add_server (self.node, "rpc.back", on_echo, &self);
    colugo_server_t *later =
        colugo_node_add_server (self.node, "rpc.back", on_silent_then_b, &self);
    self.client = colugo_node_add_client (self.node, "rpc.back");
    cr_assert (good && later && self.client);
    self.send_for_ms = 3500;
    self.late_from = 2500;  //  skipped twice at most by then (0.5 s, then 1 s)
    self.timeout_ms = 100;
    self.wait_peers = 2;
    colugo_node_add_repeater (self.node, 5, on_call_tick, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    cr_assert_gt (self.late_replies, 50);
    cr_assert_gt (self.late_from_b * 100, self.late_replies * 30,
                  "%d of the last %d replies from the server back", self.late_from_b,
                  self.late_replies);
    colugo_node_destroy (&self.node);
}

typedef struct {
    atomic_int port;
    atomic_int count;      //  requests to send
    atomic_int close_now;  //  the test says: close the connection
    atomic_int closed;
} flooder_t;

//  A plain DEALER that sends count requests, then keeps its connection
//  until told to close it.
static void *
s_flooder (void *arg)
{
    flooder_t *flooder = (flooder_t *) arg;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", atomic_load (&flooder->port));
    zsock_t *dealer = zsock_new_dealer (endpoint);
    zsock_set_sndtimeo (dealer, 4000);
    for (int i = 0; i < atomic_load (&flooder->count); i++) {
        uint64_t id = (uint64_t) i + 1;
        zmq_send (zsock_resolve (dealer), &id, sizeof id, ZMQ_SNDMORE);
        zmq_send (zsock_resolve (dealer), "", 0, ZMQ_SNDMORE);
        if (zmq_send (zsock_resolve (dealer), "x", 1, 0) < 0)
            break;
    }
    for (int i = 0; i < 800 && !atomic_load (&flooder->close_now); i++)
        zclock_sleep (10);
    zsock_destroy (&dealer);
    atomic_store (&flooder->closed, 1);
    return NULL;
}

typedef struct {
    colugo_server_t *server;
    flooder_t *flooder;
    int expected;  //  requests received or dropped before we look
    bool deadline_hit;
} flood_t;

static void
on_flood_check (colugo_node_t *node, void *arg)
{
    flood_t *flood = (flood_t *) arg;
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_server_socket (flood->server));
    if (stats.received + stats.dropped >= (uint64_t) flood->expected)
        colugo_node_stop (node);
}

Test (requests, a_flood_against_a_server_that_never_answers_stays_bounded)
{
    flood_t flood = {.expected = 12000};
    colugo_node_t *node = s_test_node ("flood", 8000, &flood.deadline_hit);
    flood.server = colugo_node_add_server (node, "rpc.flood", on_silent, NULL);
    flooder_t flooder = {0};
    atomic_store (&flooder.port, colugo_socket_port (colugo_server_socket (flood.server)));
    atomic_store (&flooder.count, flood.expected);
    pthread_t thread;
    pthread_create (&thread, NULL, s_flooder, &flooder);
    colugo_node_add_repeater (node, 10, on_flood_check, &flood);
    colugo_node_start (node);
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_server_socket (flood.server));
    size_t pending = colugo_server_pending (flood.server);
    atomic_store (&flooder.close_now, 1);
    pthread_join (thread, NULL);
    cr_assert_not (flood.deadline_hit, "received %llu, dropped %llu",
                   (unsigned long long) stats.received, (unsigned long long) stats.dropped);
    fprintf (stderr, "flood of 12000 unanswered requests: %zu pending, %llu dropped\n", pending,
             (unsigned long long) stats.dropped);
    cr_assert_leq (pending, 10000, "%zu requests pending", pending);
    cr_assert_geq (stats.dropped, 2000);
    cr_assert_eq (colugo_server_drops (flood.server).refused, 2000);
    cr_assert_eq (stats.received + stats.dropped, 12000);
    colugo_node_destroy (&node);
}

static void
on_gone_check (colugo_node_t *node, void *arg)
{
    flood_t *flood = (flood_t *) arg;
    size_t pending = colugo_server_pending (flood->server);
    if (pending == (size_t) flood->expected)
        atomic_store (&flood->flooder->close_now, 1);
    if (atomic_load (&flood->flooder->closed) && pending == 0)
        colugo_node_stop (node);
}

Test (requests, requests_of_a_client_gone_are_forgotten)
{
    flooder_t flooder = {0};
    flood_t flood = {.expected = 5, .flooder = &flooder};
    colugo_node_t *node = s_test_node ("gone", 8000, &flood.deadline_hit);
    flood.server = colugo_node_add_server (node, "rpc.gone", on_silent, NULL);
    atomic_store (&flooder.port, colugo_socket_port (colugo_server_socket (flood.server)));
    atomic_store (&flooder.count, flood.expected);
    pthread_t thread;
    pthread_create (&thread, NULL, s_flooder, &flooder);
    colugo_node_add_repeater (node, 10, on_gone_check, &flood);
    colugo_node_start (node);
    atomic_store (&flooder.close_now, 1);
    pthread_join (thread, NULL);
    cr_assert_not (flood.deadline_hit, "%zu requests still pending after their client left",
                   colugo_server_pending (flood.server));
    cr_assert_eq (colugo_server_pending (flood.server), 0);
    cr_assert_eq (colugo_server_drops (flood.server).abandoned, 5);
    //  A late answer to a client gone is dropped, as the header says.
    cr_assert_eq (colugo_server_reply (flood.server, 1, "late", 4), 0);
    colugo_node_destroy (&node);
}

static void
on_reply_late (colugo_node_t *node, void *arg)
{
    calls_t *self = (calls_t *) arg;
    cr_assert_eq (self->held_count, 1);
    cr_assert_eq (colugo_server_pending (self->server), 0, "the request did not expire");
    cr_assert_eq (colugo_server_reply (self->server, self->held [0], "late", 4), COLUGO_EEXPIRED);
    cr_assert_eq (colugo_server_drop (self->server, self->held [0], NULL), COLUGO_EEXPIRED);
    colugo_node_stop (node);
}

Test (requests, unanswered_requests_expire)
{
    calls_t self;
    s_calls_setup (&self, 5000);
    self.server = colugo_node_add_server (self.node, "rpc.expire", on_hold_many, &self);
    self.client = colugo_node_add_client (self.node, "rpc.expire");
    cr_assert_eq (colugo_server_set_expiry (self.server, 0), COLUGO_EINVAL);
    cr_assert_eq (colugo_server_set_expiry (self.server, 100), 0);
    cr_assert_gt (colugo_client_send (self.client, "q", 1, NULL, NULL, 2000, &self), 0);
    colugo_node_add_delayed (self.node, 400, on_reply_late, &self);
    colugo_node_start (self.node);
    cr_assert_not (self.deadline_hit);
    colugo_server_drops_t drops = colugo_server_drops (self.server);
    cr_assert_eq (drops.expired, 1);
    cr_assert_eq (drops.refused + drops.abandoned, 0);
    cr_assert_eq (colugo_socket_stats (colugo_server_socket (self.server)).dropped, 1);
    cr_assert_str_eq (colugo_strerror (COLUGO_EEXPIRED),
                      "expired: waited too long and was dropped");
    colugo_node_destroy (&self.node);
}

Test (requests, the_pending_bound_can_be_set)
{
    flood_t flood = {.expected = 50};
    colugo_node_t *node = s_test_node ("bound", 8000, &flood.deadline_hit);
    flood.server = colugo_node_add_server (node, "rpc.bound", on_silent, NULL);
    cr_assert_eq (colugo_server_set_max_pending (flood.server, 0), COLUGO_EINVAL);
    cr_assert_eq (colugo_server_set_max_pending (flood.server, 20), 0);
    flooder_t flooder = {0};
    atomic_store (&flooder.port, colugo_socket_port (colugo_server_socket (flood.server)));
    atomic_store (&flooder.count, flood.expected);
    pthread_t thread;
    pthread_create (&thread, NULL, s_flooder, &flooder);
    colugo_node_add_repeater (node, 10, on_flood_check, &flood);
    colugo_node_start (node);
    atomic_store (&flooder.close_now, 1);
    pthread_join (thread, NULL);
    cr_assert_not (flood.deadline_hit);
    cr_assert_eq (colugo_server_pending (flood.server), 20);
    cr_assert_eq (colugo_server_drops (flood.server).refused, 30);
    cr_assert_eq (colugo_server_reply (flood.server, 21, "x", 1), COLUGO_ENOTFOUND);
    cr_assert_eq (colugo_server_reply (flood.server, 20, "x", 1), 0);
    cr_assert_eq (colugo_server_reply (flood.server, 20, "x", 1), COLUGO_EALREADY);
    colugo_node_destroy (&node);
}

//  --- Slow callbacks and the loop

typedef struct {
    colugo_node_t *node;
    colugo_server_t *server;
    colugo_client_t *client;
    int64_t last_tick;
    int64_t max_gap;
    int ticks;
    int handled;
} slow_t;

static void
on_gap_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    slow_t *self = (slow_t *) arg;
    int64_t now = zclock_mono ();
    if (now - self->last_tick > self->max_gap)
        self->max_gap = now - self->last_tick;
    self->last_tick = now;
    self->ticks++;
}

static void
on_slow_request (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                 void *arg)
{
    slow_t *self = (slow_t *) arg;
    zclock_sleep (10);
    self->handled++;
    colugo_server_reply (server, request, data, size);
}

//  After the run: the longest the timer waited, up to the end, is short.
static void
s_gap_check (slow_t *self, const char *what)
{
    on_gap_tick (self->node, self);
    fprintf (stderr, "%s: a 20 ms timer's longest gap %lld ms\n", what, (long long) self->max_gap);
    cr_assert_gt (self->handled, 10);
    cr_assert_lt (self->max_gap, 500, "%s: a 20 ms timer waited %lld ms", what,
                  (long long) self->max_gap);
}

Test (loop, a_slow_request_handler_lets_timers_run)
{
    slow_t self = {0};
    self.node = colugo_node_new ("slow");
    colugo_node_set_discovery (self.node, false);
    self.server = colugo_node_add_server (self.node, "rpc.slow", on_slow_request, &self);
    flooder_t flooder = {0};
    atomic_store (&flooder.port, colugo_socket_port (colugo_server_socket (self.server)));
    atomic_store (&flooder.count, 400);
    pthread_t thread;
    pthread_create (&thread, NULL, s_flooder, &flooder);
    colugo_node_add_repeater (self.node, 20, on_gap_tick, &self);
    colugo_node_add_delayed (self.node, 1000, on_stop, NULL);
    self.last_tick = zclock_mono ();  //  the gaps count from the start
    colugo_node_start (self.node);
    atomic_store (&flooder.close_now, 1);
    pthread_join (thread, NULL);
    s_gap_check (&self, "10 ms request handler, 400 requests");
    colugo_node_destroy (&self.node);
}

static void
on_slow_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    (void) data;
    (void) size;
    slow_t *self = (slow_t *) arg;
    zclock_sleep (10);
    self->handled++;
}

static void
on_quick_echo (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) arg;
    colugo_server_reply (server, request, data, size);
}

Test (loop, a_slow_reply_handler_lets_timers_run)
{
    slow_t self = {0};
    self.node = colugo_node_new ("slowreply");
    colugo_node_set_discovery (self.node, false);
    self.server = colugo_node_add_server (self.node, "rpc.slowreply", on_quick_echo, &self);
    self.client = colugo_node_add_client (self.node, "rpc.slowreply");
    for (int i = 0; i < 400; i++)
        cr_assert_gt (colugo_client_send (self.client, "x", 1, on_slow_reply, NULL, 4000, &self),
                      0);
    colugo_node_add_repeater (self.node, 20, on_gap_tick, &self);
    colugo_node_add_delayed (self.node, 1000, on_stop, NULL);
    self.last_tick = zclock_mono ();  //  the gaps count from the start
    colugo_node_start (self.node);
    s_gap_check (&self, "10 ms reply handler, 400 replies");
    colugo_node_destroy (&self.node);
}

static void
on_destroy_attempt (colugo_node_t *node, void *arg)
{
    colugo_node_t **node_p = (colugo_node_t **) arg;
    colugo_node_destroy (node_p);  //  refused: the loop still runs on it
    colugo_node_stop (node);
}

Test (node, destroy_from_its_own_callback_is_refused)
{
    colugo_node_t *node = colugo_node_new ("selfdestroy");
    colugo_node_set_discovery (node, false);
    colugo_publisher_t *publisher = colugo_node_add_publisher (node, "self.destroy");
    cr_assert_not_null (publisher);
    colugo_node_add_delayed (node, 10, on_destroy_attempt, &node);
    cr_assert_eq (colugo_node_start (node), 0);
    cr_assert_not_null (node, "the node was destroyed under its own loop");
    cr_assert_eq (colugo_publisher_send (publisher, "x", 1), 0);  //  still whole
    colugo_node_destroy (&node);
    cr_assert_null (node);
}
