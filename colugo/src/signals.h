/*  signals.h: SIGINT and SIGTERM stop the running nodes; nothing else does.

    czmq's zsys_init installs SIGINT/SIGTERM handlers over the
    application's, and zloop_start returns on any signal that interrupts a
    poll (SIGCHLD, SIGWINCH...), as if stopped; after one SIGINT its flag
    stays set and every later loop returns at once. So Colugo turns czmq's
    handling off, and handles the two signals itself only while a node that
    wants it runs, only where the application has not installed a handler of
    its own, and puts the previous disposition back when the last such node
    stops. Each stop request is a generation: a node stops for the signals
    that came while it ran, never for older ones.
*/
#ifndef COLUGO__SIGNALS_H_INCLUDED
#define COLUGO__SIGNALS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

//  Before the first czmq call of the process: czmq must not take SIGINT and
//  SIGTERM. Idempotent.
void colugo__signals_init (void);

typedef struct {
    int pipe [2];         //  the handler writes a byte to wake the loop
    uint64_t generation;  //  stop requests seen when the node started
    bool handling;        //  holds the process's handlers
} colugo__signals_t;

//  A node starts: handle SIGINT and SIGTERM (if want and the application
//  has no handler of its own) and get a descriptor to poll that becomes
//  readable when one arrives. 0 or -1 (errno set).
int colugo__signals_start (colugo__signals_t *self, bool want);
//  Whether SIGINT or SIGTERM came since start; drains the descriptor.
bool colugo__signals_stop_requested (colugo__signals_t *self);
//  The node stops: the last one puts the previous handlers back.
void colugo__signals_stop (colugo__signals_t *self);

#endif
