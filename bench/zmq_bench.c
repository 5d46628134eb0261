/*  zmq_bench: the baseline, raw libzmq: PUB/SUB and REQ/REP over TCP
    loopback, with libzmq's defaults (high-water marks of 1000).
*/
#include <zmq.h>
#include "bench.h"

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
    void *context = zmq_ctx_new ();
    char *payload = calloc (1, size < 16 ? 16 : size);
    int rc = 0;
    if (strcmp (role, "send") == 0) {
        void *pub = zmq_socket (context, ZMQ_PUB);
        int queue = bench_queue ();
        zmq_setsockopt (pub, ZMQ_SNDHWM, &queue, sizeof queue);
        zmq_bind (pub, endpoint);
        //  The subscriber connects and subscribes: give it time (slow joiner).
        struct timespec pause = {0, 500 * 1000000};
        nanosleep (&pause, NULL);
        for (uint64_t i = 0; i < count; i++) {
            bench_stamp (payload, i);
            zmq_send (pub, payload, size, 0);
        }
        nanosleep (&pause, NULL);
        zmq_close (pub);
    }
    else if (strcmp (role, "recv") == 0) {
        void *sub = zmq_socket (context, ZMQ_SUB);
        int queue = bench_queue ();
        zmq_setsockopt (sub, ZMQ_RCVHWM, &queue, sizeof queue);
        zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
        zmq_connect (sub, endpoint);
        int timeout = 100;
        zmq_setsockopt (sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        bench_receiver_t receiver = {.count = count};
        zmq_msg_t message;
        zmq_msg_init (&message);
        int64_t last = bench_now_ns ();
        while (receiver.received < count && bench_now_ns () - last < BENCH_IDLE_NS) {
            if (zmq_msg_recv (&message, sub, 0) >= 0) {
                bench_received (&receiver, zmq_msg_data (&message), zmq_msg_size (&message));
                last = bench_now_ns ();
            }
            else if (receiver.received)
                break;  //  100 ms of silence after the stream began: it ended
        }
        zmq_msg_close (&message);
        bench_report_throughput ("zmq", size, &receiver);
        zmq_close (sub);
    }
    else if (strcmp (role, "server") == 0) {
        void *rep = zmq_socket (context, ZMQ_REP);
        zmq_bind (rep, endpoint);
        zmq_msg_t message;
        zmq_msg_init (&message);
        while (zmq_msg_recv (&message, rep, 0) >= 0)
            zmq_msg_send (&message, rep, 0);
        zmq_close (rep);
    }
    else if (strcmp (role, "client") == 0) {
        void *req = zmq_socket (context, ZMQ_REQ);
        int timeout = 2000;
        zmq_setsockopt (req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        zmq_connect (req, endpoint);
        int64_t *samples = calloc (count, sizeof *samples);
        size_t done = 0, failed = 0;
        zmq_msg_t reply;
        zmq_msg_init (&reply);
        for (uint64_t i = 0; i < count; i++) {
            bench_stamp (payload, i);
            int64_t start = bench_now_ns ();
            zmq_send (req, payload, size, 0);
            if (zmq_msg_recv (&reply, req, 0) < 0) {
                failed++;
                break;  //  a REQ socket without its reply cannot go on
            }
            samples [done++] = bench_now_ns () - start;
        }
        zmq_msg_close (&reply);
        bench_report_latency ("zmq", size, samples, done, failed);
        free (samples);
        zmq_close (req);
    }
    else
        rc = bench_usage (argv [0]);
    free (payload);
    zmq_ctx_term (context);
    return rc;
}
