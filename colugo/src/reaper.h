/*  reaper.h: frees objects that zloop may still dispatch to.

    zloop dispatches from arrays it rebuilds only at the top of a pass, and
    timer handlers run before readers in the same pass: an object freed from
    a timer callback can still be handed to its reader afterwards. So objects
    registered with zloop are unregistered and marked dead at once, and freed
    here, from a poller handler, where zloop stops the pass right after.
*/
#ifndef COLUGO__REAPER_H_INCLUDED
#define COLUGO__REAPER_H_INCLUDED

#include <czmq.h>

typedef struct colugo__reaper colugo__reaper_t;
typedef void (colugo__free_fn) (void *object);

colugo__reaper_t *colugo__reaper_new (zloop_t *loop);
//  Runs every pending free, then frees the reaper. Safe on NULL.
void colugo__reaper_destroy (colugo__reaper_t **self_p);
//  Calls free_fn (object) later, from the loop. Returns 0, or -1 if out of
//  memory (the caller should then leak rather than free early).
int colugo__reaper_defer (colugo__reaper_t *self, colugo__free_fn *free_fn, void *object);

#endif
