/*  testnode: one node program for the end-to-end tests, driven by its
    arguments, reporting what happens on stdout, one event a line:

        testnode pub TOPIC [-i interval_ms] [-n count] [-N name] [-m publishers]
        testnode pubrep TOPIC [-i interval_ms]   (a publisher and a server)
        testnode sub TOPIC [-n count] [-N name] [-t exit_after_ms] [-m subscribers]
        testnode rep TOPIC [-d reply_delay_ms] [-g tag] [-N name]
        testnode req TOPIC [-n count] [-i interval_ms] [-T timeout_ms] [-t exit_after_ms]
        testnode samenode TOPIC    (a publisher and two subscribers in one node)
        testnode latesub TOPIC [-n count]   (a second subscriber added later)
    pub also takes -b burst (messages per tick) and -P prefix (payloads
    "<prefix>:<n>") and -z size (payloads padded with NULs to size bytes,
    which MSG lines do not print) and -Q n (the first tick that publishes
    is the first with n subscribers connected); sub takes -s ms (sleep that long in each message
    callback: a slow application);
    and, with any of them: -H ms (the heartbeat interval; its timeout 4 times
    that), -y TYPE (pub and sub: a typed socket; prints
    "MISMATCH <endpoint> <their type>" for peers of another type), -R ms (stop the node after ms, print RESTART, start
    it again), -W ms (stop the node after ms, print STOPPING <ms> and
    then STOPPED <ms>, keep its sockets open 3 s more), -G ms (a repeater
    every ms: prints "STATS seen N invalid N failures N restarts N stalls
    N notices N notices_invalid N notices_unconfirmed N resolved N" (colugo_node_stats) and "MAXGAP <largest gap between its calls, ms>"
    whenever the node stops), -A ms (add a publisher of TOPIC.late after ms, print
    "ADDED <ms>"), -X ms (destroy that publisher ms after adding it: "WITHDRAWN
    <ms>"), -S ms (make the node at that wall-clock time: two nodes started
    in one millisecond).

    Signals, as applications meet them (tests/test_signals.c; with -k):
        -C ms   install a SIGCHLD handler that reaps children (as any program
                that runs commands does), and ms after the start fork a child
                that exits 250 ms later: "FORKED <pid>", then "REAPED <pid>"
        -w      install a SIGWINCH handler, as a terminal program does
                ("RESIZED")
        -h      install SIGINT and SIGTERM handlers before the node is made:
                they print "APP SIGINT" / "APP SIGTERM"; after SIGTERM the
                application stops its node itself
        -a      after the node stops, start it again ("AGAIN"); after that
                stop, make a new node and start it ("NEW")

    Lines: "READY <uuid>", "MSG <ms> <payload>", "UP <endpoint> <node uuid>",
    "DOWN <endpoint> <node uuid>" (either followed by " unverified" when the
    peer did not prove it is the service advertised), "REPLY <payload>", "TIMEOUT <n>",
    "SENT <n>", "DONE", "ERROR <text>", "PORT <port>" (after READY, for a
    publisher or server: its open port; pubrep prints the publisher's, then
    the server's), "PEERS <n>" (sub, just before DONE: peers connected),
    "SUBSCRIBERS <n>" (pub, when the connections its publisher accepted
    changed in number, looked at as it publishes),
    "RETURNED <rc> <ms>" (colugo_node_start returned rc after ms), "STATS
    <services seen> <services invalid>" (after each return of
    colugo_node_start); <ms> in MSG is wall-clock milliseconds.
    Every program also stops after -t ms (default 60 s), so no test waits on
    a node forever.
*/
#define _GNU_SOURCE
#include <colugo.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_publisher_t *more_publishers [3];  //  -m: same topic, same node
    colugo_client_t *client;
    const char *mode;
    const char *topic;
    const char *tag;
    long count;  //  messages or requests; 0: forever
    long interval_ms;
    long delay_ms;
    long timeout_ms;
    long sent;
    size_t subscribers;  //  pub: connections its publisher accepted, as last printed
    long received;
    long exit_code;
    long burst;          //  -b: messages per tick
    long wait_for;       //  -Q: subscribers connected before the first tick
    const char *prefix;  //  -P: payload prefix
    long sleep_ms;       //  -s: time spent in each message callback
    char *padded;        //  -z: the payload, padded to pad_size
    size_t pad_size;
    long long last_tick;  //  -k: when the ticker last ran (monotonic ms)
    long long gap_last;   //  -G: when the repeater last ran (monotonic ms)
    long long gap_max;
    colugo_publisher_t *late;  //  -A
    long withdraw_late_ms;     //  -X
} test_node_t;

//  What the signal handlers saw, for the loop to report (a handler may only
//  call async-signal-safe functions).
static volatile sig_atomic_t s_reaped_pid;   //  -C: the child reaped
static volatile sig_atomic_t s_resized;      //  -w: SIGWINCH came
static volatile sig_atomic_t s_app_sigterm;  //  -h: stop the node
static pid_t s_child_pid;

static void
s_on_sigchld (int signal)
{
    (void) signal;
    int saved = errno;
    pid_t pid;
    while ((pid = waitpid (-1, NULL, WNOHANG)) > 0)
        s_reaped_pid = pid;
    errno = saved;
}

static void
s_on_sigwinch (int signal)
{
    (void) signal;
    s_resized = 1;
}

static void
s_on_app_signal (int signal)
{
    int saved = errno;
    const char *text = signal == SIGINT ? "APP SIGINT\n" : "APP SIGTERM\n";
    if (write (STDOUT_FILENO, text, strlen (text)) < 0) {
    }
    if (signal == SIGTERM)
        s_app_sigterm = 1;
    errno = saved;
}

static void
s_install (int signal, void (*handler) (int), int flags)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = flags;
    sigemptyset (&action.sa_mask);
    sigaction (signal, &action, NULL);
}

static long long
s_now_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void s_line (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static void
s_line (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vprintf (format, args);
    va_end (args);
    putchar ('\n');
    fflush (stdout);
}

static void
on_peer (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected, void *arg)
{
    (void) socket;
    (void) arg;
    s_line ("%s %s %s%s", connected ? "UP" : "DOWN", peer->endpoint,
            *peer->node_uuid ? peer->node_uuid : "-", peer->verified ? "" : " unverified");
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) socket;
    (void) arg;
    s_line ("MISMATCH %s %s", peer->endpoint, peer_type);
}

//  sub -m: the subscribers after the first hear in silence.
static void
on_silent (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
           void *arg)
{
    (void) subscriber;
    (void) topic;
    (void) data;
    (void) size;
    (void) arg;
}

static void
on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
            void *arg)
{
    (void) subscriber;
    (void) topic;
    test_node_t *self = (test_node_t *) arg;
    s_line ("MSG %lld %.*s", s_now_ms (), (int) size, (const char *) data);
    if (self->sleep_ms > 0)
        usleep ((useconds_t) self->sleep_ms * 1000);
    if (self->count && ++self->received >= self->count) {
        s_line ("PEERS %zu", colugo_socket_peer_count (colugo_subscriber_socket (subscriber)));
        s_line ("DONE");
        colugo_node_stop (self->node);
    }
}

static void
on_late_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                 void *arg)
{
    (void) subscriber;
    (void) topic;
    test_node_t *self = (test_node_t *) arg;
    s_line ("LATE %.*s", (int) size, (const char *) data);
    if (self->count && ++self->received >= self->count) {
        s_line ("DONE");
        colugo_node_stop (self->node);
    }
}

//  latesub: once the first subscriber hears the publisher, a second one is
//  added: it must connect to the publisher that was seen long before.
static void
on_first_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
                  void *arg)
{
    (void) topic;
    (void) data;
    (void) size;
    test_node_t *self = (test_node_t *) arg;
    if (self->sent++ == 0) {
        s_line ("FIRST");
        colugo_socket_set_peer_handler (colugo_subscriber_socket (subscriber), NULL, NULL);
        colugo_subscriber_t *late =
            colugo_node_add_subscriber (self->node, self->topic, on_late_message, self);
        if (!late)
            s_line ("ERROR late subscriber");
        else
            colugo_socket_set_peer_handler (colugo_subscriber_socket (late), on_peer, self);
    }
}

static void
on_publish (colugo_node_t *node, void *arg)
{
    test_node_t *self = (test_node_t *) arg;
    size_t subscribers = colugo_socket_peer_count (colugo_publisher_socket (self->publisher));
    if (self->sent == 0 && subscribers < (size_t) self->wait_for)
        return;
    for (long burst = 0; burst < (self->burst > 0 ? self->burst : 1); burst++) {
        char message [128];
        int size = self->prefix
                       ? snprintf (message, sizeof message, "%s:%ld", self->prefix, self->sent++)
                       : snprintf (message, sizeof message, "%ld", self->sent++);
        if (self->padded) {
            memset (self->padded, 0, sizeof message);  //  the rest stays zero
            memcpy (self->padded, message, (size_t) size);
            colugo_publisher_send (self->publisher, self->padded, self->pad_size);
        }
        else
            colugo_publisher_send (self->publisher, message, (size_t) size);
        for (int i = 0; i < 3; i++)
            if (self->more_publishers [i])
                colugo_publisher_send (self->more_publishers [i], message, (size_t) size);
        if (self->late)
            colugo_publisher_send (self->late, message, (size_t) size);
    }
    if (subscribers != self->subscribers && strcmp (self->mode, "pub") == 0) {
        self->subscribers = subscribers;
        s_line ("SUBSCRIBERS %zu", subscribers);
    }
    if (strcmp (self->mode, "pub") == 0 && self->count && self->sent >= self->count) {
        s_line ("DONE");
        colugo_node_stop (node);
    }
}

static void on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size,
                        void *arg);

typedef struct deferred_t deferred_t;
struct deferred_t {
    deferred_t *next;  //  in s_deferred
    colugo_server_t *server;
    uint64_t request;
    char reply [128];
    size_t size;
};

//  Replies not sent yet (-d): freed at exit if the node stopped first (a
//  test that ends the server with SIGTERM), so no leak is reported.
static deferred_t *s_deferred;

static void
on_deferred (colugo_node_t *node, void *arg)
{
    (void) node;
    deferred_t *deferred = (deferred_t *) arg;
    colugo_server_reply (deferred->server, deferred->request, deferred->reply, deferred->size);
    for (deferred_t **link = &s_deferred; *link; link = &(*link)->next)
        if (*link == deferred) {
            *link = deferred->next;
            break;
        }
    free (deferred);
}

static void
on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    test_node_t *self = (test_node_t *) arg;
    char reply [128];
    int length =
        snprintf (reply, sizeof reply, "%s:%.*s", self->tag, (int) size, (const char *) data);
    s_line ("REQUEST %.*s", (int) size, (const char *) data);
    if (self->delay_ms <= 0) {
        colugo_server_reply (server, request, reply, (size_t) length);
        return;
    }
    deferred_t *deferred = calloc (1, sizeof *deferred);
    deferred->server = server;
    deferred->request = request;
    memcpy (deferred->reply, reply, (size_t) length);
    deferred->size = (size_t) length;
    deferred->next = s_deferred;
    s_deferred = deferred;
    colugo_node_add_delayed (self->node, (uint32_t) self->delay_ms, on_deferred, deferred);
}

static void send_request (colugo_node_t *node, void *arg);

static void
s_request_done (test_node_t *self)
{
    if (self->count && self->received >= self->count) {
        s_line ("DONE");
        colugo_node_stop (self->node);
    }
    else
        colugo_node_add_delayed (self->node, (uint32_t) self->interval_ms, send_request, self);
}

static void
on_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    test_node_t *self = (test_node_t *) arg;
    self->received++;
    s_line ("REPLY %.*s", (int) size, (const char *) data);
    s_request_done (self);
}

static void
on_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    test_node_t *self = (test_node_t *) arg;
    self->received++;
    s_line ("TIMEOUT %ld", self->sent - 1);
    s_request_done (self);
}

static void
send_request (colugo_node_t *node, void *arg)
{
    (void) node;
    test_node_t *self = (test_node_t *) arg;
    char request [64];
    int size = snprintf (request, sizeof request, "%ld", self->sent++);
    if (colugo_client_send (self->client, request, (size_t) size, on_reply, on_timeout,
                            (uint32_t) self->timeout_ms, self)
        < 0)
        s_line ("ERROR send");
    else
        s_line ("SENT %ld", self->sent - 1);
}

static void
on_stop (colugo_node_t *node, void *arg)
{
    (void) arg;
    s_line ("STOPPING %lld", s_now_ms ());
    colugo_node_stop (node);
}

static long long
s_mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  -k; also reports what the signal handlers saw (-C, -w, -h).
static void
on_tick (colugo_node_t *node, void *arg)
{
    test_node_t *self = (test_node_t *) arg;
    if (s_reaped_pid && s_reaped_pid == s_child_pid) {
        s_line ("REAPED %d", (int) s_reaped_pid);
        s_reaped_pid = 0;
    }
    if (s_resized) {
        s_resized = 0;
        s_line ("RESIZED");
    }
    long long now = s_mono_ms ();
    s_line ("TICK %lld", now - self->last_tick);
    self->last_tick = now;
    if (s_app_sigterm) {
        s_app_sigterm = 0;
        colugo_node_stop (node);
    }
}

//  -C: a child that exits 250 ms later, while the loop waits in its poll
//  (a child that exited at once would signal while the callback still
//  runs); the SIGCHLD handler reaps it.
static void
on_fork (colugo_node_t *node, void *arg)
{
    (void) node;
    (void) arg;
    pid_t pid = fork ();
    if (pid == 0) {
        usleep (250 * 1000);
        _exit (0);
    }
    s_child_pid = pid;
    if (pid < 0)
        s_line ("ERROR fork");
    else
        s_line ("FORKED %d", (int) pid);
}

//  -G: the loop's pulse. A loop blocked (on a daemon, say) shows as a gap.
static void
on_gap_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    test_node_t *self = (test_node_t *) arg;
    long long now = s_mono_ms ();
    if (self->gap_last && now - self->gap_last > self->gap_max)
        self->gap_max = now - self->gap_last;
    self->gap_last = now;
}

//  -X: the publisher added by -A goes again.
static void
on_withdraw_late (colugo_node_t *node, void *arg)
{
    (void) node;
    test_node_t *self = (test_node_t *) arg;
    colugo_publisher_destroy (&self->late);
    s_line ("WITHDRAWN %lld", s_now_ms ());
}

//  -A: a publisher added while the node runs.
static void
on_add_late (colugo_node_t *node, void *arg)
{
    test_node_t *self = (test_node_t *) arg;
    char topic [256];
    snprintf (topic, sizeof topic, "%s.late", self->topic);
    long long before = s_mono_ms ();
    self->late = colugo_node_add_publisher (node, topic);
    if (!self->late)
        s_line ("ERROR late publisher");
    else
        s_line ("ADDED %lld in %lld ms", s_now_ms (), s_mono_ms () - before);
    if (self->late && self->withdraw_late_ms)
        colugo_node_add_delayed (node, (uint32_t) self->withdraw_late_ms, on_withdraw_late, self);
}

static void
on_deadline (colugo_node_t *node, void *arg)
{
    test_node_t *self = (test_node_t *) arg;
    s_line ("DEADLINE");
    self->exit_code = 3;
    colugo_node_stop (node);
}

//  Runs the node until it stops; says when and how it returned.
static int
s_run (test_node_t *self)
{
    long long started = s_now_ms ();
    int rc = colugo_node_start (self->node);
    s_line ("RETURNED %d %lld", rc, s_now_ms () - started);
    colugo_node_stats_t stats = colugo_node_stats (self->node);
    s_line ("STATS seen %llu invalid %llu failures %llu restarts %llu stalls %llu notices %llu "
            "notices_invalid %llu notices_unconfirmed %llu resolved %llu",
            (unsigned long long) stats.services_seen, (unsigned long long) stats.services_invalid,
            (unsigned long long) stats.resolve_failures, (unsigned long long) stats.daemon_restarts,
            (unsigned long long) stats.daemon_stalls, (unsigned long long) stats.notices,
            (unsigned long long) stats.notices_invalid,
            (unsigned long long) stats.notices_unconfirmed,
            (unsigned long long) stats.services_resolved);
    return rc;
}

//  -k: the repeater that shows the node runs.
static void
s_add_ticker (test_node_t *self, long tick_ms)
{
    if (tick_ms <= 0)
        return;
    self->last_tick = s_mono_ms ();
    colugo_node_add_repeater (self->node, (uint32_t) tick_ms, on_tick, self);
}

int
main (int argc, char *argv [])
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf (stderr, "usage: testnode pub|sub|rep|req|samenode TOPIC [options]\n");
        return 2;
    }
    test_node_t self = {
        .mode = argv [1], .topic = argv [2], .tag = "rep", .interval_ms = 100, .timeout_ms = 1000};
    const char *name = "TestNode";
    long exit_after_ms = 60000;
    long publishers = 1;
    const char *type = NULL;    //  -y: a message type for typed sockets
    long restart_ms = 0;        //  -R: stop the node after this, then start it again
    long withdraw_ms = 0;       //  -W: stop the node after this, keep the sockets 3 s
    long gap_ms = 0;            //  -G: a repeater that measures the loop's gaps
    long add_ms = 0;            //  -A: add a publisher after this
    long long start_at_ms = 0;  //  -S: make the node at this wall-clock time
    long heartbeat_ms = 0;      //  -H: the heartbeat interval (timeout 4 times it)
    long tick_ms = 0;           //  -k: print how late a repeater of this interval runs
    long fork_ms = 0;           //  -C
    bool again = false;         //  -a
    int option;
    optind = 3;
    while ((option = getopt (argc, argv, "i:n:N:t:d:g:T:m:R:W:y:b:P:s:G:A:X:S:k:C:z:Q:H:wha"))
           != -1) {
        switch (option) {
            case 'C':
                fork_ms = atol (optarg);
                s_install (SIGCHLD, s_on_sigchld, SA_RESTART | SA_NOCLDSTOP);
                break;
            case 'w': s_install (SIGWINCH, s_on_sigwinch, SA_RESTART); break;
            case 'h':
                s_install (SIGINT, s_on_app_signal, 0);
                s_install (SIGTERM, s_on_app_signal, 0);
                break;
            case 'a': again = true; break;
            case 'b': self.burst = atol (optarg); break;
            case 'Q': self.wait_for = atol (optarg); break;
            case 'H': heartbeat_ms = atol (optarg); break;
            case 'P': self.prefix = optarg; break;
            case 'z':
                self.pad_size = (size_t) atol (optarg);
                self.padded = self.pad_size >= 128 ? calloc (1, self.pad_size) : NULL;
                break;
            case 's': self.sleep_ms = atol (optarg); break;
            case 'i': self.interval_ms = atol (optarg); break;
            case 'n': self.count = atol (optarg); break;
            case 'N': name = optarg; break;
            case 't': exit_after_ms = atol (optarg); break;
            case 'd': self.delay_ms = atol (optarg); break;
            case 'g': self.tag = optarg; break;
            case 'T': self.timeout_ms = atol (optarg); break;
            case 'm': publishers = atol (optarg); break;
            case 'R': restart_ms = atol (optarg); break;
            case 'W': withdraw_ms = atol (optarg); break;
            case 'y': type = optarg; break;
            case 'G': gap_ms = atol (optarg); break;
            case 'k': tick_ms = atol (optarg); break;
            case 'A': add_ms = atol (optarg); break;
            case 'X': self.withdraw_late_ms = atol (optarg); break;
            case 'S': start_at_ms = atoll (optarg); break;
            default: return 2;
        }
    }
    if (start_at_ms) {
        struct timespec at = {.tv_sec = (time_t) (start_at_ms / 1000),
                              .tv_nsec = (long) (start_at_ms % 1000) * 1000000};
        while (clock_nanosleep (CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
            ;
    }
    self.node = colugo_node_new (name);
    if (self.node && heartbeat_ms > 0
        && colugo_node_set_heartbeat (self.node, (int) heartbeat_ms, (int) heartbeat_ms * 4))
        s_line ("ERROR heartbeat %ld", heartbeat_ms);
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, getenv ("TESTNODE_NO_WAIT") == NULL);
    colugo_socket_t *socket = NULL;
    colugo_server_t *server = NULL;  //  pubrep's
    if (strcmp (self.mode, "pub") == 0) {
        self.publisher = colugo_node_add_typed_publisher (self.node, self.topic, type);
        for (long i = 1; i < publishers && i <= 3 && self.publisher; i++)
            if (!(self.more_publishers [i - 1] = colugo_node_add_publisher (self.node, self.topic)))
                self.publisher = NULL;
        if (self.publisher) {
            socket = colugo_publisher_socket (self.publisher);
            colugo_node_add_repeater (self.node, (uint32_t) self.interval_ms, on_publish, &self);
        }
    }
    else if (strcmp (self.mode, "pubrep") == 0) {
        //  A publisher and a server on one topic in one node: their
        //  instance names collide, and peers must tell the kinds apart.
        self.publisher = colugo_node_add_publisher (self.node, self.topic);
        server = colugo_node_add_server (self.node, self.topic, on_request, &self);
        if (self.publisher && server) {
            socket = colugo_publisher_socket (self.publisher);
            colugo_node_add_repeater (self.node, (uint32_t) self.interval_ms, on_publish, &self);
        }
    }
    else if (strcmp (self.mode, "sub") == 0) {
        colugo_subscriber_t *subscriber =
            colugo_node_add_typed_subscriber (self.node, self.topic, type, on_message, &self);
        if (subscriber)
            socket = colugo_subscriber_socket (subscriber);
        for (long i = 1; subscriber && i < publishers; i++)  //  -m: more, silent
            if (!colugo_node_add_typed_subscriber (self.node, self.topic, type, on_silent, &self))
                socket = NULL;
    }
    else if (strcmp (self.mode, "latesub") == 0) {
        colugo_subscriber_t *subscriber =
            colugo_node_add_subscriber (self.node, self.topic, on_first_message, &self);
        if (subscriber)
            socket = colugo_subscriber_socket (subscriber);
    }
    else if (strcmp (self.mode, "rep") == 0) {
        colugo_server_t *only = colugo_node_add_server (self.node, self.topic, on_request, &self);
        if (only)
            socket = colugo_server_socket (only);
    }
    else if (strcmp (self.mode, "req") == 0) {
        self.client = colugo_node_add_client (self.node, self.topic);
        if (self.client) {
            socket = colugo_client_socket (self.client);
            send_request (self.node, &self);
        }
    }
    else if (strcmp (self.mode, "samenode") == 0) {
        //  Both subscribers must get every message: one added before the
        //  publisher, one after.
        colugo_subscriber_t *early =
            colugo_node_add_subscriber (self.node, self.topic, on_message, &self);
        self.publisher = colugo_node_add_publisher (self.node, self.topic);
        colugo_subscriber_t *late =
            colugo_node_add_subscriber (self.node, self.topic, on_message, &self);
        if (early && self.publisher && late) {
            socket = colugo_subscriber_socket (late);
            colugo_node_add_repeater (self.node, (uint32_t) self.interval_ms, on_publish, &self);
        }
    }
    if (!socket) {
        s_line ("ERROR %s", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_socket_set_peer_handler (socket, on_peer, &self);
    colugo_socket_set_mismatch_handler (socket, on_mismatch, &self);
    colugo_node_add_delayed (self.node, (uint32_t) exit_after_ms, on_deadline, &self);
    if (gap_ms) {
        self.gap_last = s_mono_ms ();  //  a start that blocks counts too
        colugo_node_add_repeater (self.node, (uint32_t) gap_ms, on_gap_tick, &self);
    }
    if (add_ms)
        colugo_node_add_delayed (self.node, (uint32_t) add_ms, on_add_late, &self);
    s_add_ticker (&self, tick_ms);
    if (fork_ms)
        colugo_node_add_delayed (self.node, (uint32_t) fork_ms, on_fork, &self);
    s_line ("READY %s", colugo_node_uuid (self.node));
    if (colugo_socket_port (socket))
        s_line ("PORT %u %u", colugo_socket_port (socket), colugo_socket_verified_port (socket));
    if (server)
        s_line ("PORT %u %u", colugo_socket_port (colugo_server_socket (server)),
                colugo_socket_verified_port (colugo_server_socket (server)));
    long stop_ms = restart_ms ? restart_ms : withdraw_ms;
    if (stop_ms)
        colugo_node_add_delayed (self.node, (uint32_t) stop_ms, on_stop, &self);
    int rc = s_run (&self);
    if (gap_ms)
        s_line ("MAXGAP %lld", self.gap_max);
    if (rc == 0 && restart_ms && self.exit_code == 0) {
        //  Stopped (services withdrawn, sockets kept): run again.
        s_line ("RESTART");
        rc = s_run (&self);
    }
    else if (rc == 0 && again && self.exit_code == 0) {
        //  Stopped (a signal, say): the same node runs again...
        s_line ("AGAIN");
        rc = s_run (&self);
        if (rc == 0 && self.exit_code == 0) {
            //  ...and then a new one.
            colugo_node_destroy (&self.node);
            s_line ("NEW");
            self.node = colugo_node_new (name);
            if (!self.node)
                return 1;
            colugo_node_set_wait_for_daemon (self.node, getenv ("TESTNODE_NO_WAIT") == NULL);
            colugo_node_add_delayed (self.node, (uint32_t) exit_after_ms, on_deadline, &self);
            s_add_ticker (&self, tick_ms);
            rc = s_run (&self);
        }
    }
    else if (rc == 0 && withdraw_ms) {
        //  Withdrawn, but the sockets stay open: peers must let go anyway.
        s_line ("STOPPED %lld", s_now_ms ());
        sleep (3);
    }
    if (rc)
        s_line ("ERROR %s", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    free (self.padded);
    while (s_deferred) {
        deferred_t *next = s_deferred->next;
        free (s_deferred);
        s_deferred = next;
    }
    return rc ? 1 : (int) self.exit_code;
}
