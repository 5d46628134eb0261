/*  test_timers.c: the timer heap on a real zloop: order, cancellation
    (also from inside a callback), repeating, and many timers at once.
*/
#include <criterion/criterion.h>
#include <string.h>
#include "timers.h"

typedef struct {
    colugo__timers_t *timers;
    zloop_t *loop;
    int order [64];
    int fired;
    uint64_t ids [64];
    bool stop;
} fixture_t;

typedef struct {
    fixture_t *fixture;
    int index;
} tag_t;

static int
s_after (void *arg)
{
    return ((fixture_t *) arg)->stop ? -1 : 0;
}

static void
s_setup (fixture_t *self)
{
    memset (self, 0, sizeof *self);
    self->loop = zloop_new ();
    self->timers = colugo__timers_new (self->loop, s_after, self);
}

static void
s_teardown (fixture_t *self)
{
    colugo__timers_destroy (&self->timers);
    zloop_destroy (&self->loop);
}

static void
on_fire (void *arg)
{
    tag_t *tag = (tag_t *) arg;
    fixture_t *self = tag->fixture;
    self->order [self->fired++] = tag->index;
    if (tag->index == 0)
        self->stop = true;
}

Test (timers, fire_in_deadline_order_and_cancelled_never_fire)
{
    fixture_t self;
    s_setup (&self);
    tag_t tags [10];
    int64_t now = zclock_mono ();
    //  Added out of order; index 0 is last and stops the loop.
    int delays [10] = {200, 50, 10, 30, 20, 40, 60, 70, 80, 90};
    for (int i = 0; i < 10; i++) {
        tags [i] = (tag_t){&self, i};
        self.ids [i] = colugo__timers_add (self.timers, now + delays [i], 0, on_fire, &tags [i]);
        cr_assert_gt (self.ids [i], 0);
    }
    cr_assert (colugo__timers_cancel (self.timers, self.ids [3]));
    cr_assert_not (colugo__timers_cancel (self.timers, self.ids [3]));
    colugo__timers_restart (self.timers);
    zloop_start (self.loop);
    int expected [] = {2, 4, 5, 1, 6, 7, 8, 9, 0};
    cr_assert_eq (self.fired, 9);
    for (int i = 0; i < 9; i++)
        cr_assert_eq (self.order [i], expected [i], "position %d", i);
    cr_assert_geq (zclock_mono () - now, 200);
    cr_assert_eq (colugo__timers_size (self.timers), 0);
    s_teardown (&self);
}

static void
on_repeat (void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    if (++self->fired == 5) {
        cr_assert (colugo__timers_cancel (self->timers, self->ids [0]));
        self->stop = true;
    }
}

Test (timers, repeating_timer_cancels_itself)
{
    fixture_t self;
    s_setup (&self);
    self.ids [0] = colugo__timers_add (self.timers, zclock_mono () + 5, 5, on_repeat, &self);
    colugo__timers_restart (self.timers);
    zloop_start (self.loop);
    cr_assert_eq (self.fired, 5);
    cr_assert_eq (colugo__timers_size (self.timers), 0);
    cr_assert_not (colugo__timers_cancel (self.timers, self.ids [0]));
    s_teardown (&self);
}

static void
on_count (void *arg)
{
    fixture_t *self = (fixture_t *) arg;
    if (++self->fired == 10000)
        self->stop = true;
}

Test (timers, ten_thousand_timers)
{
    fixture_t self;
    s_setup (&self);
    int64_t now = zclock_mono ();
    for (int i = 0; i < 20000; i++) {
        uint64_t id = colugo__timers_add (self.timers, now + (i * 7919) % 300, 0, on_count, &self);
        if (i % 2)
            cr_assert (colugo__timers_cancel (self.timers, id));
    }
    colugo__timers_restart (self.timers);
    zloop_start (self.loop);
    cr_assert_eq (self.fired, 10000);
    s_teardown (&self);
}
