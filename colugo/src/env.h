/*  env.h: what a socket needs of its node, as one small environment.

    The node owns it and outlives its sockets; a socket reads the loop, the
    timer heap, the reaper, the node's identity and options from it, and
    goes back to the node through it only to close itself. So the kinds of
    socket never include the node's internals, and the node is entered once
    on the way from a socket to its removal.
*/
#ifndef COLUGO__ENV_H_INCLUDED
#define COLUGO__ENV_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>
#include "colugo/socket.h"
#include "poller.h"
#include "reaper.h"
#include "timers.h"

typedef struct colugo__env colugo__env_t;

struct colugo__env {
    zloop_t *loop;
    colugo__timers_t *timers;
    colugo__reaper_t *reaper;  //  frees what the loop may still dispatch to
    colugo__poller_t *poller;  //  watches the ZeroMQ sockets
    const char *node_uuid;
    const char *node_name;
    int heartbeat_ivl;        //  ms
    int heartbeat_timeout;    //  ms
    size_t max_message_size;  //  0: no limit
    int queue_limit;          //  ZMQ_SNDHWM and ZMQ_RCVHWM
    uint16_t port_first;      //  listeners' ports, 0 if the kernel chooses
    uint16_t port_last;
    bool stopping;            //  colugo_node_stop () was called
    uint64_t last_socket_id;  //  ids of the node's sockets, never reused
    //  Withdraws and closes a socket and frees it (now, or from the loop).
    void (*close_socket) (void *node, colugo_socket_t *socket);
    void *node;
    //  The node's trunk (trunk.h), once a publisher or subscriber needs
    //  it; NULL before, or if it cannot be made.
    struct colugo__trunk *trunk;
};

//  What a zloop handler must return: -1 once the node is stopping.
static inline int
colugo__env_handler_rc (const colugo__env_t *env)
{
    return env->stopping ? -1 : 0;
}

#endif
