/*  nng_bench: NNG (nanomsg-next-gen): pub0/sub0 and req0/rep0 over TCP
    loopback, with NNG's defaults, as zmq_bench uses libzmq's. In NNG 1.5.2
    those are:

      - pub0 send buffer (NNG_OPT_SENDBUF): 16 messages per subscriber, here
        raised to BENCH_QUEUE (at most 8192, NNG's limit) like the others. When
        a subscriber's queue is full the publisher drops its oldest message
        and never blocks, as a ZeroMQ PUB drops at its high-water mark.
      - sub0 receive buffer (NNG_OPT_RECVBUF): 128 messages (here BENCH_QUEUE,
        at most 8192); when it is full
        the oldest is dropped (NNG_OPT_SUB_PREFNEW, default true).
      - no maximum receive size (NNG_OPT_RECVMAXSZ 0), TCP_NODELAY on.

    Changed from the defaults:

      - receive timeouts: 100 ms on the subscriber (as zmq_bench), 2000 ms on
        the requester, which also gets a 2000 ms send timeout: a req0 send
        waits for a connected server, and nothing here may wait forever.
      - reconnect interval (NNG_OPT_RECONNMINT) 100 ms, libzmq's default
        (ZMQ_RECONNECT_IVL), instead of NNG's 1000 ms: the receiver starts
        first and dials a port nobody listens on yet; with 1 s between
        attempts it could still be unconnected when the sender, after its
        500 ms pause, starts publishing.

    Receiving uses nng_recvmsg (the message NNG received, no copy: like
    zmq_msg_recv). nng_recv with NNG_FLAG_ALLOC is not zero-copy in NNG: it
    allocates a buffer and copies the message body into it.
*/
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include "bench.h"

static int
s_check (int rv, const char *what)
{
    if (rv != 0)
        fprintf (stderr, "nng_bench: %s: %s\n", what, nng_strerror (rv));
    return rv;
}

//  The runner's queue size (BENCH_QUEUE), as far as NNG allows (8192).
static int
s_queue (void)
{
    int queue = bench_queue ();
    return queue > 8192 ? 8192 : queue;
}

int
main (int argc, char *argv [])
{
    if (argc < 3)
        return bench_usage (argv [0]);
    const char *role = argv [1];
    size_t size = (size_t) atol (argv [2]);
    uint64_t count = argc > 3 ? (uint64_t) atoll (argv [3]) : 0;
    char endpoint [64];
    bench_endpoint (endpoint, sizeof endpoint);
    char *payload = calloc (1, size < 16 ? 16 : size);
    nng_socket socket = NNG_SOCKET_INITIALIZER;
    int rc = 0;
    if (strcmp (role, "send") == 0) {
        if (s_check (nng_pub0_open (&socket), "nng_pub0_open")
            || s_check (nng_socket_set_int (socket, NNG_OPT_SENDBUF, s_queue ()), "send-buffer")
            || s_check (nng_listen (socket, endpoint, NULL, 0), endpoint))
            rc = 1;
        else {
            //  The subscriber connects and subscribes: give it time (slow joiner).
            struct timespec pause = {0, 500 * 1000000};
            nanosleep (&pause, NULL);
            for (uint64_t i = 0; i < count; i++) {
                bench_stamp (payload, i);
                nng_send (socket, payload, size, 0);
            }
            nanosleep (&pause, NULL);
        }
    }
    else if (strcmp (role, "recv") == 0) {
        if (s_check (nng_sub0_open (&socket), "nng_sub0_open")
            || s_check (nng_socket_set_int (socket, NNG_OPT_RECVBUF, s_queue ()), "recv-buffer")
            || s_check (nng_socket_set (socket, NNG_OPT_SUB_SUBSCRIBE, "", 0), "subscribe")
            || s_check (nng_socket_set_ms (socket, NNG_OPT_RECVTIMEO, 100), "recv-timeout")
            || s_check (nng_socket_set_ms (socket, NNG_OPT_RECONNMINT, 100), "reconnect-time-min")
            || s_check (nng_dial (socket, endpoint, NULL, NNG_FLAG_NONBLOCK), endpoint))
            rc = 1;
        else {
            bench_receiver_t receiver = {.count = count};
            int64_t last = bench_now_ns ();
            while (receiver.received < count && bench_now_ns () - last < BENCH_IDLE_NS) {
                nng_msg *message;
                if (nng_recvmsg (socket, &message, 0) == 0) {
                    bench_received (&receiver, nng_msg_body (message), nng_msg_len (message));
                    nng_msg_free (message);
                    last = bench_now_ns ();
                }
                else if (receiver.received)
                    break;  //  100 ms of silence after the stream began: it ended
            }
            bench_report_throughput ("nng", size, &receiver);
        }
    }
    else if (strcmp (role, "server") == 0) {
        if (s_check (nng_rep0_open (&socket), "nng_rep0_open")
            || s_check (nng_listen (socket, endpoint, NULL, 0), endpoint))
            rc = 1;
        else {
            //  Echo each request: the received message goes back as it is.
            nng_msg *message;
            while (nng_recvmsg (socket, &message, 0) == 0)
                if (nng_sendmsg (socket, message, 0) != 0)
                    nng_msg_free (message);
        }
    }
    else if (strcmp (role, "client") == 0) {
        if (s_check (nng_req0_open (&socket), "nng_req0_open")
            || s_check (nng_socket_set_ms (socket, NNG_OPT_RECVTIMEO, 2000), "recv-timeout")
            || s_check (nng_socket_set_ms (socket, NNG_OPT_SENDTIMEO, 2000), "send-timeout")
            || s_check (nng_socket_set_ms (socket, NNG_OPT_RECONNMINT, 100), "reconnect-time-min")
            || s_check (nng_dial (socket, endpoint, NULL, NNG_FLAG_NONBLOCK), endpoint))
            rc = 1;
        else {
            int64_t *samples = calloc (count ? count : 1, sizeof *samples);
            size_t done = 0, failed = 0;
            for (uint64_t i = 0; i < count; i++) {
                bench_stamp (payload, i);
                int64_t start = bench_now_ns ();
                nng_msg *reply;
                if (nng_send (socket, payload, size, 0) != 0
                    || nng_recvmsg (socket, &reply, 0) != 0) {
                    failed++;
                    break;  //  no reply in 2 s: the server is gone
                }
                samples [done++] = bench_now_ns () - start;
                nng_msg_free (reply);
            }
            bench_report_latency ("nng", size, samples, done, failed);
            free (samples);
        }
    }
    else
        rc = bench_usage (argv [0]);
    if (nng_socket_id (socket) > 0)
        nng_close (socket);
    free (payload);
    return rc;
}
