/*  test_socket.c: what every socket shares, under load and against strange
    peers, in one process with discovery off: peers are counted only once
    they speak ZeroMQ, a huge frame does not reach memory, and silent
    listeners cannot take every descriptor. Peers that must not share our ZeroMQ context (a 600 MB
    sender, a thousand silent listeners) run in a child forked before the
    test touches ZeroMQ.
*/
#include <arpa/inet.h>
#include <colugo.h>
#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEADLINE_MS 10000

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_subscriber_t *subscriber;
    int received;
    long long first_ms;
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
on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
            void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) data;
    (void) size;
    fixture_t *self = (fixture_t *) arg;
    if (self->received++ == 0)
        self->first_ms = zclock_mono ();
}

static colugo_node_t *
s_node (const char *name, fixture_t *self)
{
    colugo_node_t *node = colugo_node_new (name);
    cr_assert_not_null (node);
    colugo_node_set_discovery (node, false);
    if (self)
        cr_assert_gt (colugo_node_add_delayed (node, DEADLINE_MS, on_deadline, self), 0);
    return node;
}

//  Runs the node's loop for ms.
static void
s_run (colugo_node_t *node, uint32_t ms)
{
    colugo_node_add_delayed (node, ms, on_stop, NULL);
    colugo_node_start (node);
}

//  A TCP connection to a loopback port that never says anything.
static int
s_silent_connection (uint16_t port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons (port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    return fd;
}

static long
s_status_kib (const char *field)
{
    FILE *file = fopen ("/proc/self/status", "r");
    char line [256];
    long value = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, strlen (field)) == 0)
            value = atol (line + strlen (field));
    if (file)
        fclose (file);
    return value;
}

static int
s_open_fds (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    int count = 0;
    while (dir && readdir (dir))
        count++;
    if (dir)
        closedir (dir);
    return count - 3;  //  ".", ".." and the directory's own
}

//  --------------------------------------------------------------------------

static void
on_publish (colugo_node_t *node, void *arg)
{
    (void) node;
    fixture_t *self = (fixture_t *) arg;
    colugo_publisher_send (self->publisher, "hello", 5);
}

Test (socket, binders_count_only_peers_that_speak_zeromq)
{
    fixture_t self = {0};
    self.node = s_node ("binder", &self);
    self.publisher = colugo_node_add_publisher (self.node, "count");
    cr_assert_not_null (self.publisher);
    colugo_socket_t *socket = colugo_publisher_socket (self.publisher);
    uint16_t port = colugo_socket_port (socket);
    int fds [50];
    for (int i = 0; i < 50; i++)
        fds [i] = s_silent_connection (port);
    s_run (self.node, 500);
    cr_assert_eq (colugo_socket_peer_count (socket), 0,
                  "%zu peers counted for 50 silent TCP connections",
                  colugo_socket_peer_count (socket));
    //  A subscriber that speaks ZeroMQ is one.
    colugo_node_t *other = s_node ("subscribing", NULL);
    colugo_subscriber_t *subscriber =
        colugo_node_add_subscriber (other, "count", on_message, &self);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u", port);
    cr_assert_eq (colugo_socket_connect (colugo_subscriber_socket (subscriber), endpoint), 0);
    s_run (self.node, 500);
    cr_assert_eq (colugo_socket_peer_count (socket), 1);
    colugo_node_destroy (&other);  //  the subscriber goes
    s_run (self.node, 500);
    cr_assert_eq (colugo_socket_peer_count (socket), 0);
    for (int i = 0; i < 50; i++)
        close (fds [i]);
    colugo_node_destroy (&self.node);
}

//  --------------------------------------------------------------------------

static void
s_free_nothing (void *data, void *hint)
{
    (void) data;
    (void) hint;
}

//  The child: a plain ZeroMQ publisher that sends 600 MB frames (of zero
//  pages: they cost it no memory) until killed. Prints its port on the pipe.
static void
s_huge_sender (int report)
{
    void *context = zmq_ctx_new ();
    void *publisher = zmq_socket (context, ZMQ_PUB);
    zmq_bind (publisher, "tcp://127.0.0.1:*");
    char endpoint [64];
    size_t size = sizeof endpoint;
    zmq_getsockopt (publisher, ZMQ_LAST_ENDPOINT, endpoint, &size);
    uint16_t port = (uint16_t) atoi (strrchr (endpoint, ':') + 1);
    size_t frame = 600u << 20;
    void *zeros = mmap (NULL, frame, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (write (report, &port, sizeof port) != sizeof port)
        _exit (1);
    for (int i = 0; i < 100; i++) {
        zmq_msg_t message;
        zmq_msg_init_data (&message, zeros, frame, s_free_nothing, NULL);
        zmq_msg_send (&message, publisher, 0);
        usleep (200 * 1000);
    }
    _exit (0);
}

Test (socket, a_600_MB_frame_does_not_reach_memory)
{
    int report [2];
    cr_assert_eq (pipe (report), 0);
    pid_t child = fork ();
    cr_assert_geq (child, 0);
    if (child == 0)
        s_huge_sender (report [1]);
    uint16_t port = 0;
    cr_assert_eq (read (report [0], &port, sizeof port), (ssize_t) sizeof port);
    fixture_t self = {0};
    self.node = s_node ("small", &self);
    colugo_node_set_max_message_size (self.node, 1024);
    self.subscriber = colugo_node_add_subscriber (self.node, "huge", on_message, &self);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u", port);
    cr_assert_eq (colugo_socket_connect (colugo_subscriber_socket (self.subscriber), endpoint), 0);
    s_run (self.node, 3000);
    long peak_kib = s_status_kib ("VmHWM:");
    cr_log_info ("a 1 KiB maximum against 600 MB frames: peak resident %ld KiB", peak_kib);
    kill (child, SIGKILL);
    waitpid (child, NULL, 0);
    cr_assert_eq (self.received, 0);
    cr_assert_lt (peak_kib, 100 * 1024, "peak resident %ld KiB", peak_kib);
    colugo_node_destroy (&self.node);
}

//  --------------------------------------------------------------------------

//  --------------------------------------------------------------------------

#define S_TAIL_COUNT 400
#define S_TAIL_SIZE 65536

//  The child: a plain ZeroMQ publisher that waits for a subscription, sends
//  three messages, and once the subscriber is busy with the second ("go"
//  on its pipe) the rest at once; then it closes, flushing them, exits,
//  and says so on the pipe.
static void
s_tail_sender (int go, int report)
{
    void *context = zmq_ctx_new ();
    void *publisher = zmq_socket (context, ZMQ_XPUB);
    int infinite = -1;
    zmq_setsockopt (publisher, ZMQ_LINGER, &infinite, sizeof infinite);
    zmq_setsockopt (publisher, ZMQ_SNDHWM, &(int){0}, sizeof (int));
    if (zmq_bind (publisher, "tcp://127.0.0.1:*"))
        _exit (1);
    char endpoint [64];
    size_t size = sizeof endpoint;
    zmq_getsockopt (publisher, ZMQ_LAST_ENDPOINT, endpoint, &size);
    uint16_t port = (uint16_t) atoi (strrchr (endpoint, ':') + 1);
    if (write (report, &port, sizeof port) != sizeof port)
        _exit (1);
    char subscription [8];
    if (zmq_recv (publisher, subscription, sizeof subscription, 0) < 1)
        _exit (1);
    static char payload [S_TAIL_SIZE];
    for (int i = 0; i < S_TAIL_COUNT; i++) {
        char byte;
        if (i == 3 && read (go, &byte, 1) != 1)
            _exit (1);
        memcpy (payload, &i, sizeof i);
        zmq_send (publisher, payload, sizeof payload, 0);
    }
    zmq_close (publisher);
    zmq_ctx_term (context);  //  all of it sent
    if (write (report, "x", 1) != 1)
        _exit (1);
    _exit (0);
}

typedef struct {
    colugo_node_t *node;
    int go, closed;  //  pipes to and from the child
    int received;
    int last;
    int peers_down;
} tail_t;

static void
on_tail_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                 void *arg)
{
    (void) subscriber;
    (void) topic;
    tail_t *self = (tail_t *) arg;
    if (size >= sizeof self->last)
        memcpy (&self->last, data, sizeof self->last);
    if (self->received == 0)
        usleep (100 * 1000);  //  the next two come meanwhile: read together
    if (self->received == 1) {
        //  Busy with the second (the third waits in the queue) while the
        //  rest comes and the connection ends: it is all in libzmq's pipe.
        cr_assert_eq (write (self->go, "x", 1), 1);
        struct pollfd closed = {.fd = self->closed, .events = POLLIN};
        cr_assert_eq (poll (&closed, 1, 5000), 1);
        usleep (50 * 1000);  //  the disconnect, noticed by libzmq
    }
    if (++self->received == S_TAIL_COUNT && self->peers_down)
        colugo_node_stop (self->node);
}

static void
on_tail_peer (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected, void *arg)
{
    (void) socket;
    (void) peer;
    tail_t *self = (tail_t *) arg;
    if (!connected && ++self->peers_down && self->received == S_TAIL_COUNT)
        colugo_node_stop (self->node);
}

//  A peer that sends and closes: what it sent arrives, though the
//  connection is gone before the application has read it (libzmq drops a
//  connection's unread messages when its endpoint is let go, and lets it
//  go by itself if it may not reconnect).
Test (socket, what_a_closing_peer_sent_arrives)
{
    int go [2], report [2];
    cr_assert_eq (pipe (go), 0);
    cr_assert_eq (pipe (report), 0);
    pid_t child = fork ();
    cr_assert_geq (child, 0);
    if (child == 0)
        s_tail_sender (go [0], report [1]);
    uint16_t port = 0;
    cr_assert_eq (read (report [0], &port, sizeof port), (ssize_t) sizeof port);
    tail_t self = {.go = go [1], .closed = report [0], .last = -1};
    self.node = s_node ("tail", NULL);
    colugo_node_add_delayed (self.node, DEADLINE_MS, on_stop, NULL);
    colugo_subscriber_t *subscriber =
        colugo_node_add_subscriber (self.node, "tail", on_tail_message, &self);
    colugo_socket_set_peer_handler (colugo_subscriber_socket (subscriber), on_tail_peer, &self);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u", port);
    cr_assert_eq (colugo_socket_connect (colugo_subscriber_socket (subscriber), endpoint), 0);
    colugo_node_start (self.node);
    int status = -1;
    waitpid (child, &status, 0);
    cr_assert_eq (status, 0);
    colugo_socket_stats_t stats = colugo_socket_stats (colugo_subscriber_socket (subscriber));
    cr_log_info ("a closing peer: %d of %d messages (%llu dropped), the last %d, peer down %d "
                 "times",
                 self.received, S_TAIL_COUNT, (unsigned long long) stats.dropped, self.last,
                 self.peers_down);
    cr_assert_eq (self.peers_down, 1, "the end of the connection was seen");
    cr_assert_eq (self.received, S_TAIL_COUNT);
    cr_assert_eq (self.last, S_TAIL_COUNT - 1);
    colugo_node_destroy (&self.node);
    close (go [1]);
    close (report [0]);
}

//  A dial libzmq is silent about: its connecter cannot make a socket (no
//  descriptor left) and emits no event, so nothing would ever say the dial
//  failed. The socket dials again by itself once the dial's deadline (15 s)
//  has passed.
typedef struct {
    fixture_t base;        //  first: on_message counts into it
    const char *endpoint;  //  the ups counted: this peer's
    int ups;
} silent_t;

static void
on_silent_peer (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected, void *arg)
{
    (void) socket;
    silent_t *self = (silent_t *) arg;
    if (connected && strcmp (peer->endpoint, self->endpoint) == 0 && ++self->ups == 1)
        colugo_node_stop (self->base.node);
}

//  Where a socket of the test is bound, as a string of ours.
static void
s_bound_endpoint (zsock_t *socket, char *endpoint, size_t size)
{
    char *last = zsock_last_endpoint (socket);  //  ours to free
    cr_assert_not_null (last);
    snprintf (endpoint, size, "%s", last);
    free (last);
}

//  Connects the socket to endpoint while no descriptor is left above
//  the lowest free one, then runs the node until that peer is up (or 25 s).
static void
s_connect_without_descriptors (silent_t *self, colugo_socket_t *socket)
{
    colugo_socket_set_peer_handler (socket, on_silent_peer, self);
    struct rlimit saved, tight;
    cr_assert_eq (getrlimit (RLIMIT_NOFILE, &saved), 0);
    int lowest = dup (0);
    cr_assert_geq (lowest, 0);
    close (lowest);
    tight = saved;
    tight.rlim_cur = (rlim_t) lowest;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &tight), 0);
    int rc = colugo_socket_connect (socket, self->endpoint);
    usleep (300 * 1000);
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &saved), 0);
    cr_assert_eq (rc, 0);
    colugo_node_add_delayed (self->base.node, 25000, on_stop, NULL);
    long long started = zclock_mono ();
    colugo_node_start (self->base.node);
    cr_log_info ("connected %lld ms later", zclock_mono () - started);
    cr_assert_eq (self->ups, 1, "the dial was never made again");
}

//  The subscriber's own socket is made first (it dials another publisher),
//  then libzmq's I/O thread cannot make the dial's TCP socket, and says
//  nothing of it.
Test (socket, a_dial_libzmq_is_silent_about_is_dialled_again, .timeout = 60)
{
    zsock_t *publisher = zsock_new_pub ("tcp://127.0.0.1:*");
    zsock_t *other = zsock_new_pub ("tcp://127.0.0.1:*");
    cr_assert (publisher && other);
    char endpoint [64], first [64];
    s_bound_endpoint (publisher, endpoint, sizeof endpoint);
    s_bound_endpoint (other, first, sizeof first);
    colugo_node_t *node = s_node ("silent", NULL);
    silent_t self = {.base.node = node, .endpoint = endpoint};
    colugo_subscriber_t *subscriber =
        colugo_node_add_subscriber (node, "silent", on_message, &self.base);
    cr_assert_eq (colugo_socket_connect (colugo_subscriber_socket (subscriber), first), 0);
    usleep (100 * 1000);  //  its connection made
    s_connect_without_descriptors (&self, colugo_subscriber_socket (subscriber));
    colugo_node_destroy (&node);
    zsock_destroy (&other);
    zsock_destroy (&publisher);
}

//  A client dials a hand-given endpoint on a DEALER of its own, made at the
//  dial: when no descriptor is left for it, the dial fails (no assert, as
//  czmq's zsock_new would) and a later one makes it.
Test (socket, a_client_whose_dealer_cannot_be_made_dials_again, .timeout = 60)
{
    zsock_t *server = zsock_new_rep ("tcp://127.0.0.1:*");
    cr_assert_not_null (server);
    char endpoint [64];
    s_bound_endpoint (server, endpoint, sizeof endpoint);
    colugo_node_t *node = s_node ("dealer", NULL);
    silent_t self = {.base.node = node, .endpoint = endpoint};
    colugo_client_t *client = colugo_node_add_client (node, "dealer");
    cr_assert_not_null (client);
    s_connect_without_descriptors (&self, colugo_client_socket (client));
    colugo_node_destroy (&node);
    zsock_destroy (&server);
}

//  A subscriber makes its libzmq socket at its first dial of its own
//  (socket.c): when no descriptor is left for it, the dial fails as any
//  other (no assert, as czmq's zsock_new would), and a later one makes it.
Test (socket, a_socket_that_cannot_be_made_is_made_at_a_later_dial, .timeout = 60)
{
    zsock_t *publisher = zsock_new_pub ("tcp://127.0.0.1:*");
    cr_assert_not_null (publisher);
    char endpoint [64];
    s_bound_endpoint (publisher, endpoint, sizeof endpoint);
    colugo_node_t *node = s_node ("unmade", NULL);
    silent_t self = {.base.node = node, .endpoint = endpoint};
    colugo_subscriber_t *subscriber =
        colugo_node_add_subscriber (node, "unmade", on_message, &self.base);
    s_connect_without_descriptors (&self, colugo_subscriber_socket (subscriber));
    colugo_node_destroy (&node);
    zsock_destroy (&publisher);
}

#define S_SILENT 1100

//  The child: S_SILENT listeners that never accept (the kernel completes
//  the connections, nobody speaks). Prints the first port; they follow.
static void
s_silent_listeners (int report)
{
    struct rlimit limit = {S_SILENT + 64, S_SILENT + 64};
    setrlimit (RLIMIT_NOFILE, &limit);
    uint16_t first = 0;
    for (uint16_t port = 20000; port < 40000 && first == 0; port += 2000) {
        int i = 0;
        int fds [S_SILENT];
        for (; i < S_SILENT; i++) {
            fds [i] = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in address = {.sin_family = AF_INET,
                                          .sin_port = htons ((uint16_t) (port + i))};
            address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
            if (bind (fds [i], (struct sockaddr *) &address, sizeof address) || listen (fds [i], 4))
                break;
        }
        if (i == S_SILENT)
            first = port;
        else
            for (int j = 0; j <= i && j < S_SILENT; j++)
                close (fds [j]);
    }
    if (write (report, &first, sizeof first) != sizeof first)
        _exit (1);
    pause ();
    _exit (0);
}

Test (socket, silent_listeners_cannot_take_every_descriptor)
{
    int report [2];
    cr_assert_eq (pipe (report), 0);
    pid_t child = fork ();
    cr_assert_geq (child, 0);
    if (child == 0)
        s_silent_listeners (report [1]);
    uint16_t first = 0;
    cr_assert_eq (read (report [0], &first, sizeof first), (ssize_t) sizeof first);
    cr_assert_neq (first, 0);
    //  The common default limit, which this machine raises.
    struct rlimit limit = {1024, 1024};
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    fixture_t self = {0};
    self.node = s_node ("flooded", &self);
    self.subscriber = colugo_node_add_subscriber (self.node, "silent", on_message, &self);
    colugo_socket_t *socket = colugo_subscriber_socket (self.subscriber);
    char endpoint [64];
    for (int i = 0; i < S_SILENT; i++) {
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", first + i);
        cr_assert_eq (colugo_socket_connect (socket, endpoint), 0);
    }
    s_run (self.node, 500);
    int busy = s_open_fds ();
    //  A real publisher appears after the flood.
    colugo_node_t *other = s_node ("real", NULL);
    self.publisher = colugo_node_add_publisher (other, "silent");
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u",
              colugo_socket_port (colugo_publisher_socket (self.publisher)));
    cr_assert_eq (colugo_socket_connect (socket, endpoint), 0);
    colugo_node_add_repeater (self.node, 10, on_publish, &self);
    long long started = zclock_mono ();
    for (int i = 0; i < 100 && self.received == 0 && !self.deadline_hit; i++)
        s_run (self.node, 100);
    kill (child, SIGKILL);
    waitpid (child, NULL, 0);
    cr_log_info ("%d silent listeners: %d descriptors open while dialling them; the real "
                 "publisher's first message after %lld ms",
                 S_SILENT, busy, self.received ? self.first_ms - started : -1);
    cr_assert_gt (self.received, 0, "the real publisher was never heard");
    cr_assert_lt (self.first_ms - started, 8000);
    cr_assert_lt (busy, 400, "%d descriptors open", busy);
    colugo_node_destroy (&other);
    colugo_node_destroy (&self.node);
}

//  --------------------------------------------------------------------------

static void
on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    (void) server;
    (void) request;
    (void) data;
    (void) size;
    ((fixture_t *) arg)->received++;  //  never answered: it stays pending
}

static void
s_send_request (zsock_t *dealer, size_t envelope_size)
{
    zmsg_t *request = zmsg_new ();
    char *envelope = calloc (1, envelope_size);
    zmsg_addmem (request, envelope, envelope_size);
    zmsg_addmem (request, NULL, 0);
    zmsg_addstr (request, "payload");
    zmsg_send (&request, dealer);
    free (envelope);
}

//  A request's envelope is kept until the answer: a peer must not make the
//  server keep megabytes of it per request.
Test (socket, a_server_keeps_no_large_envelopes)
{
    fixture_t self = {0};
    self.node = s_node ("envelopes", &self);
    colugo_server_t *server = colugo_node_add_server (self.node, "envelopes", on_request, &self);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u",
              colugo_socket_port (colugo_server_socket (server)));
    zsock_t *dealer = zsock_new_dealer (endpoint);
    cr_assert_not_null (dealer);
    for (int i = 0; i < 20; i++)
        s_send_request (dealer, 1 << 20);  //  a megabyte of envelope each
    s_send_request (dealer, 16);           //  an ordinary one
    s_run (self.node, 1000);
    cr_assert_eq (self.received, 1, "%d requests handled", self.received);
    cr_assert_eq (colugo_server_pending (server), 1);
    cr_assert_eq (colugo_socket_stats (colugo_server_socket (server)).dropped, 20);
    zsock_destroy (&dealer);
    colugo_node_destroy (&self.node);
}

//  --------------------------------------------------------------------------

typedef struct {
    fixture_t base;
    long next;  //  the number the next message must carry
    bool out_of_order;
    int burst;  //  messages sent in one go
} ordered_t;

static void
on_numbered (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
             void *arg)
{
    (void) subscriber;
    (void) topic;
    ordered_t *self = (ordered_t *) arg;
    char text [32];
    snprintf (text, sizeof text, "%.*s", (int) size, (const char *) data);
    if (atol (text) != self->next)
        self->out_of_order = true;
    self->next = atol (text) + 1;
    if (++self->base.received == self->burst)
        colugo_node_stop (self->base.node);
}

static void
on_burst (colugo_node_t *node, void *arg)
{
    (void) node;
    ordered_t *self = (ordered_t *) arg;
    for (int i = 0; i < self->burst; i++) {
        char text [32];
        int size = snprintf (text, sizeof text, "%d", i);
        colugo_publisher_send (self->base.publisher, text, (size_t) size);
    }
}

//  The subscriber's own queue starts small and grows to the queue limit:
//  a burst that fills it many times over arrives whole and in order.
Test (socket, a_burst_arrives_whole_and_in_order)
{
    ordered_t self = {.burst = 1000};
    self.base.node = s_node ("burst", &self.base);
    self.base.subscriber = colugo_node_add_subscriber (self.base.node, "burst", on_numbered, &self);
    self.base.publisher = colugo_node_add_publisher (self.base.node, "burst");
    colugo_node_add_delayed (self.base.node, 300, on_burst, &self);  //  once linked
    colugo_node_start (self.base.node);
    colugo_socket_stats_t stats =
        colugo_socket_stats (colugo_subscriber_socket (self.base.subscriber));
    cr_assert (!self.base.deadline_hit, "%d of %d arrived", self.base.received, self.burst);
    cr_assert_eq (self.base.received, self.burst);
    cr_assert (!self.out_of_order);
    cr_assert_eq (stats.dropped, 0);
    colugo_node_destroy (&self.base.node);
}

Test (socket, a_closed_socket_leaves_no_dial_behind)
{
    //  A peer that refuses connections is dialled again on a timer; a socket
    //  closed meanwhile must take that timer with it (the sanitizer build
    //  reported the timer's use of the freed peer).
    fixture_t self = {0};
    self.node = s_node ("redial", &self);
    self.subscriber = colugo_node_add_subscriber (self.node, "refused", on_message, &self);
    cr_assert_not_null (self.subscriber);
    //  Port 1 on loopback: nothing listens there, a dial fails at once.
    cr_assert_eq (
        colugo_socket_connect (colugo_subscriber_socket (self.subscriber), "tcp://127.0.0.1:1"), 0);
    s_run (self.node, 150);  //  refused, the next dial scheduled
    colugo_subscriber_destroy (&self.subscriber);
    s_run (self.node, 1000);  //  past every dial that was scheduled
    cr_assert_not (self.deadline_hit);
    colugo_node_destroy (&self.node);
}
