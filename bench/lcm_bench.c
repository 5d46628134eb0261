/*  lcm_bench: LCM (Lightweight Communications and Marshalling), UDP
    multicast: publish/subscribe only (LCM has no request/reply), with LCM's
    defaults, as zmq_bench uses libzmq's: the kernel's UDP receive buffer,
    and a subscription queue of 30 messages (LCM drops what arrives while
    it is full). Messages over about 64 kB are sent as fragments of at most
    64 kB; a message one of whose fragments is lost is dropped whole.

    The provider is udpm://239.255.76.67:7667?ttl=0: with TTL 0 nothing
    leaves the host. It needs multicast on the loopback interface, so it
    runs only in a network namespace made for the benchmark, where
        ip link set lo multicast on
        ip route add 224.0.0.0/4 dev lo
    BENCH_PORT is not used: the multicast group and port are fixed.
*/
#include <lcm/lcm.h>
#include "bench.h"

#define PROVIDER "udpm://239.255.76.67:7667?ttl=0"
#define CHANNEL "BENCH"

static void
s_handler (const lcm_recv_buf_t *buffer, const char *channel, void *receiver)
{
    (void) channel;
    bench_received ((bench_receiver_t *) receiver, buffer->data, buffer->data_size);
}

int
main (int argc, char *argv [])
{
    if (argc < 3)
        return bench_usage (argv [0]);
    const char *role = argv [1];
    size_t size = (size_t) atol (argv [2]);
    uint64_t count = argc > 3 ? (uint64_t) atoll (argv [3]) : 0;
    if (strcmp (role, "server") == 0 || strcmp (role, "client") == 0) {
        fprintf (stderr,
                 "%s: LCM is publish/subscribe only: it has no request/reply, "
                 "so no '%s' role\n",
                 argv [0], role);
        return 2;
    }
    if (strcmp (role, "send") != 0 && strcmp (role, "recv") != 0)
        return bench_usage (argv [0]);

    lcm_t *lcm = lcm_create (PROVIDER);
    if (!lcm) {
        fprintf (stderr, "%s: lcm_create (\"%s\") failed (no multicast route on lo?)\n", argv [0],
                 PROVIDER);
        return 1;
    }
    char *payload = calloc (1, size < 16 ? 16 : size);
    int rc = 0;
    if (strcmp (role, "send") == 0) {
        //  The receiver has joined the group already, but it may still be
        //  starting: give it the same time as zmq_bench's subscriber.
        struct timespec pause = {0, 500 * 1000000};
        nanosleep (&pause, NULL);
        uint64_t failed = 0;
        for (uint64_t i = 0; i < count; i++) {
            bench_stamp (payload, i);
            if (lcm_publish (lcm, CHANNEL, payload, (unsigned int) size) != 0)
                failed++;
        }
        if (failed) {
            fprintf (stderr, "%s: lcm_publish failed for %llu of %llu messages of %zu bytes\n",
                     argv [0], (unsigned long long) failed, (unsigned long long) count, size);
            rc = 1;
        }
        nanosleep (&pause, NULL);
    }
    else {
        bench_receiver_t receiver = {.count = count};
        if (!lcm_subscribe (lcm, CHANNEL, s_handler, &receiver)) {
            fprintf (stderr, "%s: lcm_subscribe failed\n", argv [0]);
            rc = 1;
        }
        int64_t last = bench_now_ns ();
        while (rc == 0 && receiver.received < count && bench_now_ns () - last < BENCH_IDLE_NS) {
            int handled = lcm_handle_timeout (lcm, 100);
            if (handled > 0)
                last = bench_now_ns ();
            else if (handled < 0) {
                fprintf (stderr, "%s: lcm_handle_timeout failed\n", argv [0]);
                break;
            }
            else if (receiver.received)
                break;  //  100 ms of silence after the stream began: it ended
        }
        if (rc == 0) {
            if (receiver.received == 0)
                fprintf (stderr, "%s: received no message of %zu bytes in %.1f s\n", argv [0], size,
                         BENCH_IDLE_NS / 1e9);
            bench_report_throughput ("lcm", size, &receiver);
        }
    }
    free (payload);
    lcm_destroy (lcm);
    return rc;
}
