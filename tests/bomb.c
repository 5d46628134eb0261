/*  bomb.c: see bomb.h. */
#include "bomb.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    colugo_socket_t *subscriber;
    const void *probe;
    size_t probe_size;
    void *bomb;  //  until sent
    size_t bomb_size;
    bool *delivered;
    int64_t sent_at;     //  ms, 0 until the bomb is sent
    int64_t elapsed_ms;  //  from the send until dropped or delivered
    bool done;           //  dropped or delivered
} s_bomb_t;

void
bomb_peak_reset (void)
{
    FILE *file = fopen ("/proc/self/clear_refs", "w");
    if (file) {
        fputs ("5", file);
        fclose (file);
    }
}

size_t
bomb_peak_mib (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    if (!file)
        return 0;
    char line [256];
    size_t kib = 0;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmHWM: %zu kB", &kib) == 1)
            break;
    fclose (file);
    return kib / 1024;
}

void
bomb_assert_refused (const char *what, bomb_decode_fn *decode, void *bomb, size_t size,
                     const char *expect)
{
    char why [256] = "";
    bomb_peak_reset ();
    int64_t started = zclock_mono ();
    int rc = decode (bomb, size, why, sizeof why);
    int64_t elapsed = zclock_mono () - started;
    size_t peak = bomb_peak_mib ();
    free (bomb);
    cr_log_info ("%s (%zu bytes): %s in %lld ms, peak %zu MiB", what, size,
                 rc ? "refused" : "decoded", (long long) elapsed, peak);
    cr_assert_neq (rc, 0, "%s decoded (peak %zu MiB)", what, peak);
    cr_assert (strstr (why, expect), "%s", why);
    cr_assert_lt (peak, BOMB_PEAK_BOUND_MIB, "peak %zu MiB", peak);
}

static void
s_on_tick (colugo_node_t *node, void *arg)
{
    s_bomb_t *self = (s_bomb_t *) arg;
    colugo_socket_stats_t stats = colugo_socket_stats (self->subscriber);
    if (self->bomb) {
        if (stats.received == 0) {
            colugo_publisher_send (self->publisher, self->probe, self->probe_size);
            return;
        }
        //  Connected: every probe sent so far arrives before the bomb.
        bomb_peak_reset ();
        self->sent_at = zclock_mono ();
        colugo_publisher_send (self->publisher, self->bomb, self->bomb_size);
        free (self->bomb);
        self->bomb = NULL;
    }
    else if (stats.dropped || *self->delivered) {
        self->elapsed_ms = zclock_mono () - self->sent_at;
        self->done = true;
        colugo_node_stop (node);
    }
}

static void
s_on_deadline (colugo_node_t *node, void *arg)
{
    (void) arg;
    colugo_node_stop (node);
}

void
bomb_assert_dropped (const char *what, colugo_node_t *node, colugo_publisher_t *publisher,
                     colugo_subscriber_t *subscriber, const void *probe, size_t probe_size,
                     void *bomb, size_t bomb_size, bool *delivered)
{
    s_bomb_t self = {.node = node,
                     .publisher = publisher,
                     .subscriber = colugo_subscriber_socket (subscriber),
                     .probe = probe,
                     .probe_size = probe_size,
                     .bomb = bomb,
                     .bomb_size = bomb_size,
                     .delivered = delivered};
    int64_t tick = colugo_node_add_repeater (node, 1, s_on_tick, &self);
    int64_t deadline = colugo_node_add_delayed (node, 20000, s_on_deadline, NULL);
    colugo_node_start (node);
    colugo_node_cancel_timer (node, tick);
    colugo_node_cancel_timer (node, deadline);
    free (self.bomb);  //  if it was never sent
    size_t peak = bomb_peak_mib ();
    cr_log_info ("%s through a socket: %s in %lld ms, peak %zu MiB", what,
                 *delivered ? "delivered" : "dropped", (long long) self.elapsed_ms, peak);
    cr_assert (self.done, "neither dropped nor delivered in 20 s");
    cr_assert_not (*delivered, "%s decoded (peak %zu MiB)", what, peak);
    cr_assert_eq (colugo_socket_stats (self.subscriber).dropped, 1);
    cr_assert_lt (peak, BOMB_PEAK_BOUND_MIB, "peak %zu MiB", peak);
}
