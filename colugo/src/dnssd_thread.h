/*  dnssd_thread.h: a node's DNS-SD thread, where every avahi-client call
    is made (each one is a D-Bus round trip that can block for 25 s when
    the daemon stalls). It talks to the node's loop only through the two
    pipes it is started with, in the messages of dnssd_pipe.h, and runs no
    application code: no callbacks, no logging (log lines go to the loop).
*/
#ifndef COLUGO__DNSSD_THREAD_H_INCLUDED
#define COLUGO__DNSSD_THREAD_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct colugo__dnssd colugo__dnssd_t;

typedef struct {
    const char *node_uuid;
    const char *node_name;
    bool wait_for_daemon;  //  no daemon: keep trying (else just report it)
    bool debug;            //  send debug log lines too
    //  When > 0, the first look at the daemon waits for COLUGO__DNSSD_BEGIN
    //  this long at most: the nodes on this host, found by their marks, are
    //  linked first (discovery.c says why).
    int hold_ms;
} colugo__dnssd_config_t;

//  Starts the thread. *commands and *events get the loop's ends of the
//  pipes (non-blocking, close-on-exec): write commands to the first, read
//  events from the second. Returns NULL when out of memory or threads.
colugo__dnssd_t *colugo__dnssd_start (const colugo__dnssd_config_t *config, int *commands,
                                      int *events);

//  How long the thread has been busy outside its poll (inside a call to the
//  daemon, as a rule), in ms; 0 while it waits for work.
int64_t colugo__dnssd_busy_ms (colugo__dnssd_t *self);

//  Lets go of the thread, after the loop closed its ends of the pipes (the
//  thread then withdraws everything and ends): waits up to timeout_ms for
//  it, then leaves it to end by itself (it may be stuck in a call to a
//  stalled daemon; it uses no ZeroMQ socket and frees its own memory).
//  Returns true if the thread had ended. Safe on NULL; sets *self_p NULL.
bool colugo__dnssd_stop (colugo__dnssd_t **self_p, int timeout_ms);

#endif
