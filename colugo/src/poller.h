/*  poller.h: the node's ZeroMQ sockets, watched through one epoll set.

    zloop hands every reader to zmq_poll (), which asks each ZeroMQ socket
    for its events on every wake-up, and each such question is a poll ()
    system call of its own on the socket's mailbox: a node with hundreds of
    sockets (a mesh node has 400 with their monitors) spent most of its time
    there, whatever woke it. Here the loop polls one epoll descriptor, and
    a wake-up looks only at the sockets whose ZMQ_FD signalled, or that were
    left with input.

    ZMQ_FD only tells that the socket's state may have changed, and
    zmq_send, zmq_recv and ZMQ_EVENTS use its signal up. So:
    - a socket is served when its ZMQ_EVENTS says it has input; after its
      handler (which reads a bounded batch), one that still has input waits
      in the ready list and is served again on the next pass, after the
      others;
    - whoever reads from or sends on a watched socket outside its handler
      calls colugo__poller_touch (), which puts it on the ready list if it
      has input by then;
    - the ready list wakes the loop through an eventfd in the same set.
    Entries removed while the loop dispatches are freed once it is done.
*/
#ifndef COLUGO__POLLER_H_INCLUDED
#define COLUGO__POLLER_H_INCLUDED

#include <czmq.h>

typedef struct colugo__poller colugo__poller_t;

//  Reads what the socket has; returns 0, or -1 to end the loop (as zloop's
//  handlers do).
typedef int (colugo__poller_fn) (void *arg);

colugo__poller_t *colugo__poller_new (zloop_t *loop);
void colugo__poller_destroy (colugo__poller_t **self_p);

//  Watches a libzmq socket (zsock_resolve () of a zsock). Returns 0, or -1.
int colugo__poller_add (colugo__poller_t *self, void *socket, colugo__poller_fn *handler,
                        void *arg);
//  Stops watching it: its handler is not called again. Before it closes.
void colugo__poller_remove (colugo__poller_t *self, void *socket);
//  After a send or a read outside the socket's handler: serve it soon if it
//  has input. Safe on sockets that are not watched.
void colugo__poller_touch (colugo__poller_t *self, void *socket);

#endif
