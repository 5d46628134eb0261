/*  timers.c: a min-heap of deadlines behind a single zloop timer that is
    re-armed for the earliest one. A stale zloop timer firing (czmq 4.2.1
    cannot truly cancel one) only makes us look at the heap early: harmless.
*/
#include <stdlib.h>
#include "timers.h"
#include "u64map.h"

typedef struct {
    uint64_t id;       //  never reused
    int64_t when;      //  monotonic ms
    int64_t interval;  //  > 0 for repeating timers
    size_t index;      //  position in the heap
    colugo__timer_fn *fn;
    void *arg;
} s_timer_t;

struct colugo__timers {
    zloop_t *loop;     //  the loop we arm our one zloop timer on
    s_timer_t **heap;  //  min-heap on (when, id)
    size_t size;
    size_t capacity;
    colugo__u64map_t by_id;  //  id -> timer, for cancel
    uint64_t last_id;
    int armed_id;            //  id of the armed zloop timer, -1 if none
    int64_t armed_when;      //  when it fires
    s_timer_t *running;      //  the timer whose callback runs now
    bool running_cancelled;  //  ... and it was cancelled from inside
    int (*after_fn) (void *);
    void *after_arg;
};

static bool
s_before (const s_timer_t *a, const s_timer_t *b)
{
    return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void
s_place (colugo__timers_t *self, s_timer_t *timer, size_t index)
{
    self->heap [index] = timer;
    timer->index = index;
}

static void
s_sift_up (colugo__timers_t *self, size_t index)
{
    s_timer_t *timer = self->heap [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!s_before (timer, self->heap [parent]))
            break;
        s_place (self, self->heap [parent], index);
        index = parent;
    }
    s_place (self, timer, index);
}

static void
s_sift_down (colugo__timers_t *self, size_t index)
{
    s_timer_t *timer = self->heap [index];
    while (true) {
        size_t child = index * 2 + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && s_before (self->heap [child + 1], self->heap [child]))
            child++;
        if (!s_before (self->heap [child], timer))
            break;
        s_place (self, self->heap [child], index);
        index = child;
    }
    s_place (self, timer, index);
}

static int
s_push (colugo__timers_t *self, s_timer_t *timer)
{
    if (self->size == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_timer_t **heap = realloc (self->heap, capacity * sizeof *heap);
        if (!heap)
            return -1;
        self->heap = heap;
        self->capacity = capacity;
    }
    s_place (self, timer, self->size++);
    s_sift_up (self, timer->index);
    return 0;
}

static void
s_remove (colugo__timers_t *self, s_timer_t *timer)
{
    size_t index = timer->index;
    s_timer_t *last = self->heap [--self->size];
    if (last != timer) {
        s_place (self, last, index);
        s_sift_up (self, index);
        s_sift_down (self, last->index);
    }
}

static int s_on_zloop_timer (zloop_t *loop, int timer_id, void *arg);

//  Makes the one zloop timer fire at the earliest deadline.
static void
s_rearm (colugo__timers_t *self)
{
    //  An armed zloop timer that fires early, or finds nothing due, only
    //  costs a look at the heap; ending and adding zloop timers costs more,
    //  and a client adds and cancels a deadline for every request. So the
    //  armed one stays unless a deadline comes before it.
    if (self->size == 0)
        return;
    int64_t when = self->heap [0]->when;
    if (self->armed_id != -1 && self->armed_when <= when)
        return;  //  it fires early enough; we re-arm then
    if (self->armed_id != -1)
        zloop_timer_end (self->loop, self->armed_id);
    int64_t delay = when - zclock_mono ();
    self->armed_id =
        zloop_timer (self->loop, delay > 0 ? (size_t) delay : 0, 1, s_on_zloop_timer, self);
    self->armed_when = when;
}

static int
s_on_zloop_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    colugo__timers_t *self = (colugo__timers_t *) arg;
    if (timer_id == self->armed_id)
        self->armed_id = -1;
    //  Run what is due now, but not what a callback schedules for "now"
    //  meanwhile, so a zero-delay repeater cannot starve the loop.
    int64_t now = zclock_mono ();
    size_t budget = self->size;
    while (self->size && budget-- && self->heap [0]->when <= now) {
        s_timer_t *timer = self->heap [0];
        s_remove (self, timer);
        self->running = timer;
        self->running_cancelled = false;
        timer->fn (timer->arg);
        self->running = NULL;
        if (timer->interval > 0 && !self->running_cancelled) {
            timer->when += timer->interval;
            if (timer->when <= now)  //  fell behind: skip, do not burst
                timer->when = now + timer->interval;
            if (s_push (self, timer) == 0)
                continue;
        }
        colugo__u64map_take (&self->by_id, timer->id);
        free (timer);
    }
    s_rearm (self);
    return self->after_fn ? self->after_fn (self->after_arg) : 0;
}

colugo__timers_t *
colugo__timers_new (zloop_t *loop, int (*after_fn) (void *), void *after_arg)
{
    colugo__timers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->armed_id = -1;
    self->after_fn = after_fn;
    self->after_arg = after_arg;
    return self;
}

void
colugo__timers_destroy (colugo__timers_t **self_p)
{
    colugo__timers_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        free (self->heap [i]);
    if (self->armed_id != -1)
        zloop_timer_end (self->loop, self->armed_id);
    free (self->heap);
    colugo__u64map_free (&self->by_id);
    free (self);
    *self_p = NULL;
}

uint64_t
colugo__timers_add (colugo__timers_t *self, int64_t when_ms, int64_t interval_ms,
                    colugo__timer_fn *fn, void *arg)
{
    s_timer_t *timer = calloc (1, sizeof *timer);
    if (!timer)
        return 0;
    *timer = (s_timer_t){
        .id = ++self->last_id, .when = when_ms, .interval = interval_ms, .fn = fn, .arg = arg};
    if (s_push (self, timer)) {
        free (timer);
        return 0;
    }
    if (colugo__u64map_put (&self->by_id, timer->id, timer)) {
        s_remove (self, timer);
        free (timer);
        return 0;
    }
    s_rearm (self);
    return timer->id;
}

bool
colugo__timers_cancel (colugo__timers_t *self, uint64_t id)
{
    s_timer_t *timer = colugo__u64map_get (&self->by_id, id);
    if (!timer)
        return false;
    if (timer == self->running) {
        //  Freed by s_on_zloop_timer once the callback returns
        if (self->running_cancelled || timer->interval <= 0)
            return false;
        self->running_cancelled = true;
        return true;
    }
    colugo__u64map_take (&self->by_id, id);
    s_remove (self, timer);
    free (timer);
    s_rearm (self);
    return true;
}

void
colugo__timers_restart (colugo__timers_t *self)
{
    if (self->armed_id != -1)
        zloop_timer_end (self->loop, self->armed_id);
    self->armed_id = -1;
    s_rearm (self);
}

size_t
colugo__timers_size (colugo__timers_t *self)
{
    return self->size;
}
