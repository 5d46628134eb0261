/*  timers.h: the node's timers, a binary heap driven by one zloop timer.

    zloop keeps its timers in an unsorted list scanned on every pass, and in
    czmq 4.2.1 a cancelled zloop timer can still fire. So every deadline in
    Colugo (repeaters, delayed callbacks, request timeouts, Avahi's timeouts)
    lives here instead: O(log n) to add or cancel, ids never reused, and a
    cancelled timer never runs.
*/
#ifndef COLUGO__TIMERS_H_INCLUDED
#define COLUGO__TIMERS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>

typedef struct colugo__timers colugo__timers_t;
typedef void (colugo__timer_fn) (void *arg);

//  Creates the timers of a loop. after_fn, if set, runs after every batch
//  of expired timers (the node uses it to learn that a callback asked to
//  stop): it returns what the zloop handler returns (0, or -1 to stop).
colugo__timers_t *colugo__timers_new (zloop_t *loop, int (*after_fn) (void *), void *after_arg);
void colugo__timers_destroy (colugo__timers_t **self_p);

//  Runs fn (arg) at monotonic time when_ms (zclock_mono), and then every
//  interval_ms if interval_ms > 0. Returns an id > 0, or 0 when out of memory.
uint64_t colugo__timers_add (colugo__timers_t *self, int64_t when_ms, int64_t interval_ms,
                             colugo__timer_fn *fn, void *arg);

//  Cancels a timer, also from inside its own call. Returns true if it was
//  pending (or running and repeating), false if unknown or already done.
bool colugo__timers_cancel (colugo__timers_t *self, uint64_t id);

//  Re-arms the zloop timer: zloop_start () recomputes every zloop timer
//  from the time it starts, so call this right before it.
void colugo__timers_restart (colugo__timers_t *self);

//  Returns how many timers are pending.
size_t colugo__timers_size (colugo__timers_t *self);

#endif
