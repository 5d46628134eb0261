/*  signals.h: SIGINT and SIGTERM stop the running nodes; nothing else does.

    czmq's zsys_init installs SIGINT/SIGTERM handlers over the
    application's, and zloop_start returns on any signal that interrupts a
    poll (SIGCHLD, SIGWINCH...), as if stopped; after one SIGINT its flag
    stays set and every later loop returns at once. So Colugo turns czmq's
    handling off, and handles the two signals itself while a node that
    wants it exists, only where the application has not installed a
    handler of its own (nor ignores the signal), and puts the previous
    disposition back when the last such node goes. Each stop request is a
    generation: a node stops for the signals that came since it was made or
    last stopped, never for older ones.
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
    uint64_t generation;  //  stop requests already seen (or older than the node)
    bool handling;        //  holds the process's handlers
} colugo__signals_t;

//  A node is made: a descriptor to poll that becomes readable when SIGINT
//  or SIGTERM arrives. 0 or -1 (errno set).
int colugo__signals_open (colugo__signals_t *self);
//  Whether the node wants SIGINT and SIGTERM to stop it: the first that
//  does installs the handlers (where the application has none of its
//  own), the last that stops wanting them puts the previous ones back.
void colugo__signals_handle (colugo__signals_t *self, bool want);
//  Whether SIGINT or SIGTERM came that this node has not yet stopped for;
//  drains the descriptor.
bool colugo__signals_stop_requested (colugo__signals_t *self);
//  The node stopped: the signals so far are spent.
void colugo__signals_consume (colugo__signals_t *self);
//  The node goes.
void colugo__signals_close (colugo__signals_t *self);

#endif
