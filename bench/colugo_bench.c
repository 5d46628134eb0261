/*  colugo_bench: Colugo's side of the benchmarks (see bench.h), with real
    discovery: the programs find each other through the avahi-daemon of the
    benchmark's namespace, on topic bench.<role family>.$BENCH_PORT.

        colugo_bench recv|send SIZE COUNT       throughput (publisher/subscriber)
        colugo_bench server|client SIZE COUNT   round trips (server/client)
        colugo_bench watch TOPIC                a subscriber printing, with
                                                CLOCK_REALTIME ns: "UP <ns>",
                                                "MSG <ns>" (the first after each
                                                UP), "DOWN <ns>"
        colugo_bench announce TOPIC             a publisher sending every 5 ms
        colugo_bench mesh I N M                 node I of N with M topics: publishes
                                                mesh.I.t every 100 ms and subscribes
                                                to every other node's; prints
                                                "MESH <ns>" once every subscription
                                                has had a message; stops publishing
                                                on SIGUSR1 (idle)
        colugo_bench idle                       a lone node with a publisher and
                                                a subscriber (of bench.idle_pub and
                                                bench.idle_sub): its cost at rest
*/
#include <colugo.h>
#include <signal.h>
#include <unistd.h>
#include "bench.h"

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_client_t *client;
    size_t size;
    uint64_t count;
    char *payload;
    bench_receiver_t receiver;
    int64_t last_ns;   //  last message received
    int64_t *samples;  //  client: round trip times
    size_t done, failed;
    int64_t sent_ns;
    bool seen_message;  //  watch: a message since the last UP
    //  mesh
    colugo_publisher_t **publishers;
    int topics;
    int missing;  //  subscriptions without a message yet
    bool *heard;
    int64_t idle_timer;
} bench_node_t;

static void
on_stop (colugo_node_t *node, void *arg)
{
    (void) arg;
    colugo_node_stop (node);
}

//  --- Throughput

static void
on_blast (colugo_node_t *node, void *arg)
{
    bench_node_t *self = (bench_node_t *) arg;
    for (uint64_t i = 0; i < self->count; i++) {
        bench_stamp (self->payload, i);
        colugo_publisher_send (self->publisher, self->payload, self->size);
    }
    colugo_node_add_delayed (node, 500, on_stop, self);  //  let the queue drain
}

static void
on_wait_subscriber (colugo_node_t *node, void *arg)
{
    bench_node_t *self = (bench_node_t *) arg;
    if (self->idle_timer && colugo_socket_peer_count (colugo_publisher_socket (self->publisher))) {
        colugo_node_cancel_timer (node, self->idle_timer);
        self->idle_timer = 0;
        //  The subscription travels after the connection: a moment for it.
        colugo_node_add_delayed (node, 200, on_blast, self);
    }
}

static void
on_bench_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                  void *arg)
{
    (void) subscriber;
    (void) topic;
    bench_node_t *self = (bench_node_t *) arg;
    bench_received (&self->receiver, data, size);
    self->last_ns = self->receiver.last_ns;
    if (self->receiver.received >= self->count)
        colugo_node_stop (self->node);
}

static void
on_check_idle (colugo_node_t *node, void *arg)
{
    bench_node_t *self = (bench_node_t *) arg;
    int64_t silence = bench_now_ns () - self->last_ns;
    //  As zmq_bench: 100 ms of silence once the stream began ends it.
    if ((self->receiver.received && silence > 100000000LL) || silence > 20 * BENCH_IDLE_NS)
        colugo_node_stop (node);
}

//  --- Round trips

static void send_request (bench_node_t *self);

static void
on_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    (void) data;
    (void) size;
    bench_node_t *self = (bench_node_t *) arg;
    self->samples [self->done++] = bench_now_ns () - self->sent_ns;
    if (self->done + self->failed >= self->count)
        colugo_node_stop (self->node);
    else
        send_request (self);
}

static void
on_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    bench_node_t *self = (bench_node_t *) arg;
    if (++self->failed + self->done >= self->count)
        colugo_node_stop (self->node);
    else
        send_request (self);
}

static void
send_request (bench_node_t *self)
{
    bench_stamp (self->payload, self->done + self->failed);
    self->sent_ns = bench_now_ns ();
    colugo_client_send (self->client, self->payload, self->size, on_reply, on_timeout, 2000, self);
}

static void
on_wait_server (colugo_node_t *node, void *arg)
{
    bench_node_t *self = (bench_node_t *) arg;
    if (self->idle_timer && colugo_socket_peer_count (colugo_client_socket (self->client))) {
        colugo_node_cancel_timer (node, self->idle_timer);
        self->idle_timer = 0;
        send_request (self);
    }
}

static void
on_echo (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) arg;
    colugo_server_reply (server, request, data, size);
}

//  --- Discovery

static void
on_watch_peer (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected, void *arg)
{
    (void) socket;
    (void) peer;
    bench_node_t *self = (bench_node_t *) arg;
    printf ("%s %lld\n", connected ? "UP" : "DOWN", (long long) bench_wall_ns ());
    fflush (stdout);
    self->seen_message = false;
}

static void
on_watch_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                  void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) data;
    (void) size;
    bench_node_t *self = (bench_node_t *) arg;
    if (!self->seen_message) {
        printf ("MSG %lld\n", (long long) bench_wall_ns ());
        fflush (stdout);
        self->seen_message = true;
    }
}

static void
on_announce (colugo_node_t *node, void *arg)
{
    (void) node;
    bench_node_t *self = (bench_node_t *) arg;
    colugo_publisher_send (self->publisher, "x", 1);
}

//  --- Mesh

typedef struct {
    bench_node_t *owner;
    int index;  //  in owner->heard
} mesh_subscription_t;

//  SIGUSR1: bench/run saw every mesh complete (or gave up): stop publishing,
//  the idle phase begins.
static volatile sig_atomic_t s_quiet;

static void
s_on_quiet (int signal)
{
    (void) signal;
    s_quiet = 1;
}

static void
on_mesh_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                 void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) data;
    (void) size;
    mesh_subscription_t *subscription = (mesh_subscription_t *) arg;
    bench_node_t *self = subscription->owner;
    if (self->heard [subscription->index])
        return;
    self->heard [subscription->index] = true;
    if (--self->missing == 0) {
        printf ("MESH %lld\n", (long long) bench_wall_ns ());
        fflush (stdout);
    }
}

static void
on_mesh_tick (colugo_node_t *node, void *arg)
{
    bench_node_t *self = (bench_node_t *) arg;
    if (s_quiet) {
        colugo_node_cancel_timer (node, self->idle_timer);  //  idle now
        self->idle_timer = 0;
        return;
    }
    for (int t = 0; t < self->topics; t++)
        colugo_publisher_send (self->publishers [t], "m", 1);
}

int
main (int argc, char *argv [])
{
    if (argc < 2 || (argc < 3 && strcmp (argv [1], "idle") != 0))
        return bench_usage (argv [0]);
    const char *role = argv [1];
    bench_node_t self = {0};
    self.node = colugo_node_new ("bench");
    colugo_node_set_wait_for_daemon (self.node, true);
    colugo_node_set_queue_limit (self.node, bench_queue ());
    char topic [128];
    int rc = 0;
    if (strcmp (role, "send") == 0 || strcmp (role, "recv") == 0 || strcmp (role, "server") == 0
        || strcmp (role, "client") == 0) {
        if (argc < 4 && strcmp (role, "server") != 0)
            return bench_usage (argv [0]);
        self.size = (size_t) atol (argv [2]);
        self.count = argc > 3 ? (uint64_t) atoll (argv [3]) : 0;
        self.payload = calloc (1, self.size < 16 ? 16 : self.size);
        self.receiver.count = self.count;
    }
    if (strcmp (role, "send") == 0) {
        self.publisher =
            colugo_node_add_publisher (self.node, bench_topic ("tp", '.', topic, sizeof topic));
        self.idle_timer = colugo_node_add_repeater (self.node, 5, on_wait_subscriber, &self);
        colugo_node_start (self.node);
    }
    else if (strcmp (role, "recv") == 0) {
        colugo_node_add_subscriber (self.node, bench_topic ("tp", '.', topic, sizeof topic),
                                    on_bench_message, &self);
        self.last_ns = bench_now_ns ();
        colugo_node_add_repeater (self.node, 50, on_check_idle, &self);
        colugo_node_start (self.node);
        bench_report_throughput ("colugo", self.size, &self.receiver);
    }
    else if (strcmp (role, "server") == 0) {
        colugo_node_add_server (self.node, bench_topic ("rtt", '.', topic, sizeof topic), on_echo,
                                &self);
        colugo_node_start (self.node);
    }
    else if (strcmp (role, "client") == 0) {
        self.client =
            colugo_node_add_client (self.node, bench_topic ("rtt", '.', topic, sizeof topic));
        self.samples = calloc (self.count ? self.count : 1, sizeof *self.samples);
        self.idle_timer = colugo_node_add_repeater (self.node, 5, on_wait_server, &self);
        colugo_node_start (self.node);
        bench_report_latency ("colugo", self.size, self.samples, self.done, self.failed);
        free (self.samples);
    }
    else if (strcmp (role, "watch") == 0) {
        colugo_subscriber_t *subscriber =
            colugo_node_add_subscriber (self.node, argv [2], on_watch_message, &self);
        colugo_socket_set_peer_handler (colugo_subscriber_socket (subscriber), on_watch_peer,
                                        &self);
        printf ("READY %lld\n", (long long) bench_wall_ns ());
        fflush (stdout);
        colugo_node_start (self.node);
    }
    else if (strcmp (role, "announce") == 0) {
        self.publisher = colugo_node_add_publisher (self.node, argv [2]);
        colugo_node_add_repeater (self.node, 5, on_announce, &self);
        colugo_node_start (self.node);
    }
    else if (strcmp (role, "idle") == 0) {
        self.publisher = colugo_node_add_publisher (
            self.node, bench_topic ("idle_pub", '.', topic, sizeof topic));
        colugo_node_add_subscriber (self.node, bench_topic ("idle_sub", '.', topic, sizeof topic),
                                    on_watch_message, &self);
        colugo_node_start (self.node);
    }
    else if (strcmp (role, "mesh") == 0 && argc == 5) {
        int index = atoi (argv [2]), nodes = atoi (argv [3]);
        self.topics = atoi (argv [4]);
        self.publishers = calloc ((size_t) self.topics, sizeof *self.publishers);
        for (int t = 0; t < self.topics; t++) {
            snprintf (topic, sizeof topic, "mesh.%d.%d", index, t);
            self.publishers [t] = colugo_node_add_publisher (self.node, topic);
        }
        self.missing = (nodes - 1) * self.topics;
        self.heard = calloc ((size_t) self.missing + 1, sizeof *self.heard);
        mesh_subscription_t *subscriptions =
            calloc ((size_t) self.missing + 1, sizeof *subscriptions);
        int k = 0;
        for (int other = 0; other < nodes; other++)
            for (int t = 0; t < self.topics && other != index; t++, k++) {
                snprintf (topic, sizeof topic, "mesh.%d.%d", other, t);
                subscriptions [k] = (mesh_subscription_t){&self, k};
                colugo_node_add_subscriber (self.node, topic, on_mesh_message, &subscriptions [k]);
            }
        struct sigaction quiet = {.sa_handler = s_on_quiet};
        sigaction (SIGUSR1, &quiet, NULL);
        self.idle_timer = colugo_node_add_repeater (self.node, 100, on_mesh_tick, &self);
        printf ("READY %lld\n", (long long) bench_wall_ns ());
        fflush (stdout);
        colugo_node_start (self.node);
        free (subscriptions);
        free (self.heard);
        free (self.publishers);
    }
    else
        rc = bench_usage (argv [0]);
    colugo_node_destroy (&self.node);
    free (self.payload);
    return rc;
}
