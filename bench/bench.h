/*  bench.h: what every benchmark program shares: clocks, a percentile, the
    payload's sequence number, and the one JSON line each measurement
    prints. Every program has the same roles, so bench/run can drive them
    all alike:

        PROG recv SIZE COUNT         receive (subscriber side) until COUNT
                                     messages or 2 s without any; prints
                                     {"bench":"throughput",...}
        PROG send SIZE COUNT         publish COUNT messages as fast as it can
        PROG server SIZE             answer requests until killed
        PROG client SIZE COUNT       COUNT round trips; prints {"bench":"latency",...}

    The endpoint is tcp://127.0.0.1:$BENCH_PORT (default 5799). Queues hold
    $BENCH_QUEUE messages each way (default 1000: libzmq's high-water mark),
    for every implementation that has such a limit.
*/
#ifndef COLUGO_BENCH_H_INCLUDED
#define COLUGO_BENCH_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_IDLE_NS 2000000000LL  //  the receiver gives up after 2 s of silence

static inline int64_t
bench_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

//  The wall clock, for figures that cross processes (discovery, mesh).
static inline int64_t
bench_wall_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

//  The topic of one role family ("tp", "rtt"...) of this run:
//  bench<sep><family><sep>$BENCH_PORT, so that concurrent runs never mix.
static inline const char *
bench_topic (const char *family, char separator, char *buffer, size_t size)
{
    const char *port = getenv ("BENCH_PORT");
    snprintf (buffer, size, "bench%c%s%c%s", separator, family, separator, port ? port : "5799");
    return buffer;
}

static inline const char *
bench_endpoint (char *buffer, size_t size)
{
    const char *port = getenv ("BENCH_PORT");
    snprintf (buffer, size, "tcp://127.0.0.1:%s", port ? port : "5799");
    return buffer;
}

static inline int
bench_queue (void)
{
    const char *queue = getenv ("BENCH_QUEUE");
    return queue ? atoi (queue) : 1000;
}

//  The sequence number travels in the first 8 bytes (messages are >= 16 B).
static inline void
bench_stamp (void *payload, uint64_t sequence)
{
    memcpy (payload, &sequence, sizeof sequence);
}

static inline uint64_t
bench_sequence (const void *payload)
{
    uint64_t sequence;
    memcpy (&sequence, payload, sizeof sequence);
    return sequence;
}

//  Counts what a receiver got: messages, and gaps in the sequence.
typedef struct {
    uint64_t count;  //  messages wanted
    uint64_t received;
    uint64_t expected;  //  next sequence number
    uint64_t lost;      //  skipped sequence numbers
    uint64_t gaps;      //  places where the sequence skipped
    int64_t first_ns, last_ns;
} bench_receiver_t;

static inline void
bench_received (bench_receiver_t *self, const void *payload, size_t size)
{
    int64_t now = bench_now_ns ();
    if (self->received++ == 0)
        self->first_ns = now;
    self->last_ns = now;
    if (size >= 8) {
        uint64_t sequence = bench_sequence (payload);
        if (sequence > self->expected) {
            self->lost += sequence - self->expected;
            self->gaps++;
        }
        self->expected = sequence + 1;
    }
}

static inline void
bench_report_throughput (const char *impl, size_t size, bench_receiver_t *self)
{
    //  What never came at the end is lost too (the tail: told apart from
    //  the gaps, as a stream cut short is another fault than one with holes).
    uint64_t tail = self->count > self->expected ? self->count - self->expected : 0;
    uint64_t lost = self->lost + tail;
    double seconds = (self->last_ns - self->first_ns) / 1e9;
    double rate = seconds > 0 ? (self->received - 1) / seconds : 0;
    printf ("{\"bench\":\"throughput\",\"impl\":\"%s\",\"size\":%zu,\"sent\":%llu,"
            "\"received\":%llu,\"lost\":%llu,\"gaps\":%llu,\"tail\":%llu,\"seconds\":%.6f,"
            "\"msg_per_s\":%.0f,\"mb_per_s\":%.2f}\n",
            impl, size, (unsigned long long) self->count, (unsigned long long) self->received,
            (unsigned long long) lost, (unsigned long long) self->gaps, (unsigned long long) tail,
            seconds, rate, rate * size / 1e6);
    fflush (stdout);
}

static int
bench_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  Sorts samples (ns) and prints median, p99 and max in microseconds.
static inline void
bench_report_latency (const char *impl, size_t size, int64_t *samples, size_t count, size_t failed)
{
    qsort (samples, count, sizeof *samples, bench_compare_i64);
    double median = count ? samples [count / 2] / 1e3 : 0;
    double p99 =
        count
            ? samples [(size_t) (count * 0.99) < count ? (size_t) (count * 0.99) : count - 1] / 1e3
            : 0;
    double max = count ? samples [count - 1] / 1e3 : 0;
    printf ("{\"bench\":\"latency\",\"impl\":\"%s\",\"size\":%zu,\"round_trips\":%zu,"
            "\"failed\":%zu,\"median_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
            impl, size, count, failed, median, p99, max);
    fflush (stdout);
}

static inline int
bench_usage (const char *prog)
{
    fprintf (stderr, "usage: %s recv|send|server|client SIZE [COUNT]\n", prog);
    return 2;
}

#endif
