/*  avahi_poll.h: an AvahiPoll that runs Avahi's D-Bus traffic and timeouts
    on the node's zloop: no Avahi thread, no locks.
*/
#ifndef COLUGO__AVAHI_POLL_H_INCLUDED
#define COLUGO__AVAHI_POLL_H_INCLUDED

#include <avahi-common/watch.h>
#include <czmq.h>
#include "reaper.h"
#include "timers.h"

typedef struct colugo__avahi_poll colugo__avahi_poll_t;

colugo__avahi_poll_t *colugo__avahi_poll_new (zloop_t *loop, colugo__timers_t *timers,
                                              colugo__reaper_t *reaper);
//  Frees the adapter; every watch and timeout must have been freed already
//  (free the AvahiClient first).
void colugo__avahi_poll_destroy (colugo__avahi_poll_t **self_p);
//  The AvahiPoll to give avahi_client_new ().
const AvahiPoll *colugo__avahi_poll_api (colugo__avahi_poll_t *self);

#endif
