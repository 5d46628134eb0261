/*  cyclone_bench: Eclipse Cyclone DDS through its C API (dds.h), one
    participant per process, reliable QoS everywhere, Cyclone's defaults
    otherwise (as zmq_bench uses libzmq's). Samples are bench::Message
    (bench_dds.idl): a sequence of octets. The roles are colugo_bench's:

        cyclone_bench recv|send SIZE COUNT      throughput, topic bench_tp_$BENCH_PORT
        cyclone_bench server|client SIZE COUNT  round trips: requests on bench_ping_$BENCH_PORT,
                                                replies on bench_pong_$BENCH_PORT
        cyclone_bench watch TOPIC               a reader printing, with CLOCK_REALTIME
                                                ns: "UP <ns>" when a writer matches,
                                                "MSG <ns>" (the first sample after
                                                each UP), "DOWN <ns>" when no writer
                                                is matched any more
        cyclone_bench announce TOPIC            a writer sending every 5 ms
        cyclone_bench mesh I N M                participant I of N with M topics:
                                                writes mesh_I_t every 100 ms, reads
                                                every other participant's; prints
                                                "MESH <ns>" once every reader has had
                                                a sample; stops writing on SIGUSR1
        cyclone_bench idle                      a lone participant with a writer and a
                                                reader: its cost at rest

    DDS topic names may not hold '.': TOPIC's dots become '_'. Discovery is
    DDS's own (SPDP over multicast, then SEDP); a participant whose process
    is killed is noticed when its lease runs out (Cyclone's default lease:
    10 s, counted from the last message heard); a participant deleted on
    SIGTERM/SIGINT says goodbye once its reliable writer's last samples are
    acknowledged (a heartbeat round, about 0.1-0.2 s here).

    The configuration is set here, over any CYCLONEDDS_URI of the caller:
    the loopback interface only, with multicast. It needs multicast on lo,
    so it runs only in a network namespace made for the benchmark, where
        ip link set lo multicast on
        ip route add 224.0.0.0/4 dev lo
*/
#include <dds/dds.h>
#include <signal.h>
#include "bench.h"
#include "bench_dds.h"

#define LOOPBACK_CONFIG                                                                            \
    "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface name=\"lo\"/>"          \
    "</Interfaces><AllowMulticast>true</AllowMulticast></General></Domain></CycloneDDS>"
#define TAKE_BATCH 256  //  samples taken (on loan) at a time

static volatile sig_atomic_t s_interrupted;
static volatile sig_atomic_t s_quiet;  //  mesh: SIGUSR1, stop writing (bench/run's idle phase)

static void
s_on_signal (int signal)
{
    if (signal == SIGUSR1)
        s_quiet = 1;
    else
        s_interrupted = 1;
}

//  A failing call of Cyclone's is the end of a benchmark program.
static dds_entity_t
s_check (dds_entity_t result, const char *what)
{
    if (result < 0) {
        fprintf (stderr, "cyclone_bench: %s: %s\n", what, dds_strretcode (result));
        exit (1);
    }
    return result;
}

//  Reliable; keep-all (with at most QUEUE samples in a reader, 0: no limit),
//  or the default keep-last 1. A writer whose history is full (Cyclone's
//  writer cache holds about 500 KiB) blocks up to 10 s, instead of the
//  default 100 ms, so that a slow reader slows it down instead of failing it.
static dds_qos_t *
s_qos (bool keep_all, int queue)
{
    dds_qos_t *qos = dds_create_qos ();
    dds_qset_reliability (qos, DDS_RELIABILITY_RELIABLE, DDS_SECS (10));
    if (keep_all) {
        dds_qset_history (qos, DDS_HISTORY_KEEP_ALL, 0);
        if (queue > 0)
            dds_qset_resource_limits (qos, queue, DDS_LENGTH_UNLIMITED, queue);
    }
    return qos;
}

static dds_entity_t
s_endpoint (dds_entity_t participant, const char *name, bool writer, bool keep_all, int queue)
{
    char topic_name [256];
    snprintf (topic_name, sizeof topic_name, "%s", name);
    for (char *dot = strchr (topic_name, '.'); dot; dot = strchr (dot, '.'))
        *dot = '_';
    dds_entity_t topic = s_check (
        dds_create_topic (participant, &bench_Message_desc, topic_name, NULL, NULL), "topic");
    dds_qos_t *qos = s_qos (keep_all, queue);
    dds_entity_t endpoint = writer ? dds_create_writer (participant, topic, qos, NULL)
                                   : dds_create_reader (participant, topic, qos, NULL);
    dds_delete_qos (qos);
    return s_check (endpoint, writer ? "writer" : "reader");
}

//  Waits up to 20 s until a writer has matched a reader, or a reader a
//  writer; false if it never did.
static bool
s_wait_matched (dds_entity_t endpoint, bool writer)
{
    for (int i = 0; i < 4000 && !s_interrupted; i++) {
        dds_publication_matched_status_t readers = {0};
        dds_subscription_matched_status_t writers = {0};
        if (writer)
            dds_get_publication_matched_status (endpoint, &readers);
        else
            dds_get_subscription_matched_status (endpoint, &writers);
        if (readers.current_count > 0 || writers.current_count > 0)
            return true;
        dds_sleepfor (DDS_MSECS (5));
    }
    return false;
}

static void
s_print_event (const char *what)
{
    printf ("%s %lld\n", what, (long long) bench_wall_ns ());
    fflush (stdout);
}

//  A waitset that wakes when the reader holds samples; *condition_p is its
//  read condition.
static dds_entity_t
s_waitset (dds_entity_t participant, dds_entity_t reader, dds_attach_t arg,
           dds_entity_t *condition_p)
{
    dds_entity_t waitset = s_check (dds_create_waitset (participant), "waitset");
    *condition_p = s_check (dds_create_readcondition (reader, DDS_ANY_STATE), "read condition");
    s_check (dds_waitset_attach (waitset, *condition_p, arg), "attach");
    return waitset;
}

//  Takes what the condition's reader holds (up to TAKE_BATCH samples, on
//  loan) and calls fn for each sample with data; returns how many it took.
typedef void (s_sample_fn) (const bench_Message *sample, void *arg);

static dds_return_t
s_take_each (dds_entity_t condition, s_sample_fn *fn, void *arg)
{
    void *samples [TAKE_BATCH] = {NULL};  //  NULL: on loan from the reader
    dds_sample_info_t infos [TAKE_BATCH];
    dds_return_t taken = dds_take (condition, samples, infos, TAKE_BATCH, TAKE_BATCH);
    for (dds_return_t i = 0; i < taken; i++)
        //  (an invalid sample: the instance has no writers any more)
        if (infos [i].valid_data)
            fn ((const bench_Message *) samples [i], arg);
    if (taken > 0)
        dds_return_loan (condition, samples, taken);
    return taken;
}

//  --- Throughput

static int
s_send (dds_entity_t participant, size_t size, uint64_t count)
{
    //  Samples packed into datagrams until one is full (or flushed), as
    //  ddsperf's publisher does, and as libzmq packs messages into TCP.
    //  (0.10 has the switch for all writers of the process only.)
    dds_write_set_batch (true);
    char name [64];
    dds_entity_t writer =
        s_endpoint (participant, bench_topic ("tp", '_', name, sizeof name), true, true, 0);
    if (!s_wait_matched (writer, true)) {
        fprintf (stderr, "cyclone_bench: no reader of %s\n", name);
        return 1;
    }
    //  The writer knows the reader; the reader may not know the writer yet,
    //  and drops what it sends until then: the same pause as zmq_bench.
    dds_sleepfor (DDS_MSECS (500));
    uint8_t *payload = calloc (1, size < 16 ? 16 : size);
    bench_Message message = {
        .payload = {._maximum = (uint32_t) size, ._length = (uint32_t) size, ._buffer = payload}};
    uint64_t failed = 0;
    for (uint64_t i = 0; i < count && !s_interrupted; i++) {
        bench_stamp (payload, i);
        if (dds_write (writer, &message) < 0)
            failed++;
    }
    if (failed)
        fprintf (stderr, "cyclone_bench: %llu of %llu writes failed\n", (unsigned long long) failed,
                 (unsigned long long) count);
    dds_write_flush (writer);
    dds_wait_for_acks (writer, DDS_SECS (30));
    free (payload);
    return failed ? 1 : 0;
}

static void
s_on_received (const bench_Message *message, void *arg)
{
    bench_received ((bench_receiver_t *) arg, message->payload._buffer, message->payload._length);
}

//  Samples over Cyclone's maximum message size (14720 B by default) travel
//  as fragments of 1344 B, reassembled by the reader: from 64 KiB on.
static void
s_recv (dds_entity_t participant, size_t size, uint64_t count)
{
    char name [64];
    dds_entity_t reader = s_endpoint (participant, bench_topic ("tp", '_', name, sizeof name),
                                      false, true, bench_queue ());
    dds_entity_t condition;
    dds_entity_t waitset = s_waitset (participant, reader, 0, &condition);
    bench_receiver_t receiver = {.count = count};
    int64_t last = bench_now_ns ();
    while (receiver.received < count && bench_now_ns () - last < BENCH_IDLE_NS && !s_interrupted) {
        dds_waitset_wait (waitset, NULL, 0, DDS_MSECS (100));
        if (s_take_each (condition, s_on_received, &receiver) > 0)
            last = bench_now_ns ();
        else if (receiver.received && bench_now_ns () - last > 100000000LL)
            break;  //  100 ms of silence after the stream began: it ended
    }
    if (receiver.received == 0)
        fprintf (stderr, "cyclone_bench: received no sample of %zu bytes\n", size);
    bench_report_throughput ("cyclone", size, &receiver);
}

//  --- Round trips: the answer comes from the server's own thread, woken by
//  a waitset, as the other servers' answers come from theirs (a listener
//  would answer from Cyclone's receive thread, one wake-up fewer).

static void
s_on_request (const bench_Message *request, void *arg)
{
    dds_write (*(const dds_entity_t *) arg, request);
}

static void
s_server (dds_entity_t participant)
{
    char name [64];
    dds_entity_t requests =
        s_endpoint (participant, bench_topic ("ping", '_', name, sizeof name), false, true, 0);
    dds_entity_t replies =
        s_endpoint (participant, bench_topic ("pong", '_', name, sizeof name), true, true, 0);
    dds_entity_t condition;
    dds_entity_t waitset = s_waitset (participant, requests, 0, &condition);
    while (!s_interrupted) {
        dds_waitset_wait (waitset, NULL, 0, DDS_MSECS (100));
        s_take_each (condition, s_on_request, &replies);
    }
}

//  The reply to the request in flight, if this is it.
typedef struct {
    uint64_t sequence;
    bool answered;
} s_awaited_t;

static void
s_on_reply (const bench_Message *reply, void *arg)
{
    s_awaited_t *awaited = (s_awaited_t *) arg;
    //  A reply that comes after its request timed out is not this one.
    if (reply->payload._length >= 8 && bench_sequence (reply->payload._buffer) == awaited->sequence)
        awaited->answered = true;
}

static int
s_client (dds_entity_t participant, size_t size, uint64_t count)
{
    char name [64];
    dds_entity_t requests =
        s_endpoint (participant, bench_topic ("ping", '_', name, sizeof name), true, true, 0);
    dds_entity_t replies =
        s_endpoint (participant, bench_topic ("pong", '_', name, sizeof name), false, true, 0);
    if (!s_wait_matched (requests, true) || !s_wait_matched (replies, false)) {
        fprintf (stderr, "cyclone_bench: no server\n");
        return 1;
    }
    //  Our ends know the server's; a moment for the server's to know ours.
    dds_sleepfor (DDS_MSECS (200));
    dds_entity_t condition;
    dds_entity_t waitset = s_waitset (participant, replies, 0, &condition);
    uint8_t *payload = calloc (1, size < 16 ? 16 : size);
    bench_Message request = {
        .payload = {._maximum = (uint32_t) size, ._length = (uint32_t) size, ._buffer = payload}};
    int64_t *round_trips = calloc (count ? count : 1, sizeof *round_trips);
    size_t done = 0, failed = 0;
    for (uint64_t sequence = 0; sequence < count && !s_interrupted; sequence++) {
        bench_stamp (payload, sequence);
        int64_t start = bench_now_ns ();
        dds_time_t deadline = dds_time () + DDS_SECS (2);
        dds_write (requests, &request);
        s_awaited_t awaited = {.sequence = sequence};
        while (!awaited.answered && dds_time () < deadline && !s_interrupted) {
            dds_waitset_wait_until (waitset, NULL, 0, deadline);
            s_take_each (condition, s_on_reply, &awaited);
        }
        if (awaited.answered)
            round_trips [done++] = bench_now_ns () - start;
        else
            failed++;
    }
    bench_report_latency ("cyclone", size, round_trips, done, failed);
    free (round_trips);
    free (payload);
    return 0;
}

//  --- Discovery

static void
s_on_sample (const bench_Message *sample, void *arg)
{
    (void) sample;
    *(bool *) arg = true;
}

static void
s_watch (dds_entity_t participant, const char *topic)
{
    dds_entity_t reader = s_endpoint (participant, topic, false, false, 0);
    dds_entity_t condition;
    dds_entity_t waitset = s_waitset (participant, reader, 0, &condition);
    //  The reader's status condition too: it wakes when writers come or go.
    s_check (dds_set_status_mask (reader, DDS_SUBSCRIPTION_MATCHED_STATUS), "status mask");
    s_check (dds_waitset_attach (waitset, reader, 1), "attach");
    s_print_event ("READY");
    uint32_t writers = 0;
    bool seen_message = false;
    while (!s_interrupted) {
        dds_waitset_wait (waitset, NULL, 0, DDS_MSECS (100));
        dds_subscription_matched_status_t matched;
        dds_get_subscription_matched_status (reader, &matched);
        if (matched.current_count > 0 && writers == 0) {
            s_print_event ("UP");
            seen_message = false;
        }
        else if (matched.current_count == 0 && writers > 0) {
            s_print_event ("DOWN");
            seen_message = false;
        }
        writers = matched.current_count;
        bool sampled = false;
        s_take_each (condition, s_on_sample, &sampled);
        if (sampled && writers > 0 && !seen_message) {
            s_print_event ("MSG");
            seen_message = true;
        }
    }
}

static void
s_announce (dds_entity_t participant, const char *topic)
{
    dds_entity_t writer = s_endpoint (participant, topic, true, false, 0);
    uint8_t byte = 'x';
    bench_Message message = {.payload = {._maximum = 1, ._length = 1, ._buffer = &byte}};
    while (!s_interrupted) {
        dds_write (writer, &message);
        dds_sleepfor (DDS_MSECS (5));
    }
}

//  --- Mesh

static void
s_mesh (dds_entity_t participant, int index, int nodes, int topics)
{
    char name [64];
    dds_entity_t *writers = calloc ((size_t) topics, sizeof *writers);
    for (int t = 0; t < topics; t++) {
        snprintf (name, sizeof name, "mesh_%d_%d", index, t);
        writers [t] = s_endpoint (participant, name, true, false, 0);
    }
    int readers = (nodes - 1) * topics, missing = readers;
    dds_entity_t *conditions = calloc ((size_t) readers + 1, sizeof *conditions);
    dds_attach_t *triggered = calloc ((size_t) readers + 1, sizeof *triggered);
    dds_entity_t waitset = s_check (dds_create_waitset (participant), "waitset");
    //  A waitset with nothing attached does not block: once every reader is
    //  heard (and detached), this guard, never triggered, keeps it waiting.
    dds_entity_t guard = s_check (dds_create_guardcondition (participant), "guard");
    s_check (dds_waitset_attach (waitset, guard, -1), "attach");
    int k = 0;
    for (int other = 0; other < nodes; other++)
        for (int t = 0; t < topics && other != index; t++, k++) {
            snprintf (name, sizeof name, "mesh_%d_%d", other, t);
            dds_entity_t reader = s_endpoint (participant, name, false, false, 0);
            conditions [k] =
                s_check (dds_create_readcondition (reader, DDS_ANY_STATE), "read condition");
            s_check (dds_waitset_attach (waitset, conditions [k], k), "attach");
        }
    s_print_event ("READY");
    uint8_t byte = 'm';
    bench_Message message = {.payload = {._maximum = 1, ._length = 1, ._buffer = &byte}};
    dds_time_t tick = dds_time ();
    void *samples [1];
    dds_sample_info_t infos [1];
    while (!s_interrupted) {
        dds_time_t now = dds_time ();
        if (now >= tick && !s_quiet) {
            for (int t = 0; t < topics; t++)
                dds_write (writers [t], &message);
            tick = tick + DDS_MSECS (100) > now ? tick + DDS_MSECS (100) : now + DDS_MSECS (100);
        }
        dds_return_t woken = dds_waitset_wait_until (waitset, triggered, (size_t) readers + 1,
                                                     !s_quiet ? tick : now + DDS_SECS (1));
        for (dds_return_t i = 0; i < woken && i <= readers; i++) {
            if (triggered [i] < 0)
                continue;
            dds_entity_t condition = conditions [triggered [i]];
            samples [0] = NULL;
            dds_return_t taken = dds_take (condition, samples, infos, 1, 1);
            if (taken > 0)
                dds_return_loan (condition, samples, taken);
            if (taken > 0 && infos [0].valid_data) {
                //  Heard: no need to wake for this reader again (keep-last 1
                //  keeps what comes after at one sample).
                dds_waitset_detach (waitset, condition);
                if (--missing == 0)
                    s_print_event ("MESH");
            }
        }
    }
    free (triggered);
    free (conditions);
    free (writers);
}

static void
s_idle (dds_entity_t participant)
{
    char name [64];
    s_endpoint (participant, bench_topic ("idle_pub", '_', name, sizeof name), true, false, 0);
    s_endpoint (participant, bench_topic ("idle_sub", '_', name, sizeof name), false, false, 0);
    while (!s_interrupted)
        dds_sleepfor (DDS_MSECS (100));
}

int
main (int argc, char *argv [])
{
    if (argc < 2 || (argc < 3 && strcmp (argv [1], "idle") != 0))
        return bench_usage (argv [0]);
    const char *role = argv [1];
    size_t size = argc > 2 ? (size_t) atol (argv [2]) : 0;
    uint64_t count = argc > 3 ? (uint64_t) atoll (argv [3]) : 0;
    bool sized =
        strcmp (role, "send") == 0 || strcmp (role, "recv") == 0 || strcmp (role, "client") == 0;
    if ((sized && argc < 4) || (strcmp (role, "mesh") == 0 && argc != 5))
        return bench_usage (argv [0]);
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGUSR1, &action, NULL);
    setenv ("CYCLONEDDS_URI", LOOPBACK_CONFIG, 1);
    dds_entity_t participant =
        s_check (dds_create_participant (DDS_DOMAIN_DEFAULT, NULL, NULL), "participant");
    int rc = 0;
    if (strcmp (role, "send") == 0)
        rc = s_send (participant, size, count);
    else if (strcmp (role, "recv") == 0)
        s_recv (participant, size, count);
    else if (strcmp (role, "server") == 0)
        s_server (participant);
    else if (strcmp (role, "client") == 0)
        rc = s_client (participant, size, count);
    else if (strcmp (role, "watch") == 0)
        s_watch (participant, argv [2]);
    else if (strcmp (role, "announce") == 0)
        s_announce (participant, argv [2]);
    else if (strcmp (role, "mesh") == 0)
        s_mesh (participant, atoi (argv [2]), atoi (argv [3]), atoi (argv [4]));
    else if (strcmp (role, "idle") == 0)
        s_idle (participant);
    else
        rc = bench_usage (argv [0]);
    //  Deleting the participant deletes all it holds, and tells the others.
    dds_delete (participant);
    return rc;
}
