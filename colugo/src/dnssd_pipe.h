/*  dnssd_pipe.h: the messages between a node's loop (discovery.c) and its
    DNS-SD thread (dnssd_thread.c).

    They travel over a socketpair of type SOCK_SEQPACKET: one message is one
    datagram, sent whole or not at all, so neither side ever sees half a
    message. A message is a kind byte, then fields in a fixed order: numbers
    as 8 bytes (host order: both ends are one process) and strings ending in
    a NUL. Strings are bounded by what the sender checked, and the whole
    message by COLUGO__DNSSD_FRAME_MAX.
*/
#ifndef COLUGO__DNSSD_PIPE_H_INCLUDED
#define COLUGO__DNSSD_PIPE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLUGO__DNSSD_FRAME_MAX 4096

typedef enum {
    //  Loop to thread
    COLUGO__DNSSD_PUBLISH =
        1,                   //  id, socket_type, port, verified_port, socket_id, topic, type, name
    COLUGO__DNSSD_WITHDRAW,  //  id
    COLUGO__DNSSD_QUIT,      //  (nothing)
    COLUGO__DNSSD_PUBLISH_NODE,  //  id, port, socket_id: the node record
    COLUGO__DNSSD_NOTICED,       //  name, on: told of directly, do not resolve (while on)
    COLUGO__DNSSD_BEGIN,         //  (nothing): the first look may start (hold_ms)
    //  Thread to loop
    COLUGO__DNSSD_UP,     //  name, topic, socket_type, node_uuid, node_name, host, endpoint,
                          //  type, identity, verified_endpoint
    COLUGO__DNSSD_DOWN,   //  name
    COLUGO__DNSSD_LOG,    //  level, text
    COLUGO__DNSSD_STATE,  //  state (colugo__dnssd_state_t)
    COLUGO__DNSSD_STATS,  //  services_invalid, resolve_failures, daemon_restarts, services_resolved
    COLUGO__DNSSD_SEEN,   //  name: a service's name is browsed (resolved or not)
    COLUGO__DNSSD_UNSEEN,     //  name: no longer
    COLUGO__DNSSD_NODE_UP,    //  name, node_uuid, node_name, endpoint, identity
    COLUGO__DNSSD_NODE_DOWN,  //  name
    COLUGO__DNSSD_PRESENT,    //  (nothing): a daemon is there (said once)
} colugo__dnssd_kind_t;

//  What the thread knows of the daemon, for the loop's first answer.
typedef enum {
    COLUGO__DNSSD_RUNNING = 1,  //  the client runs: publishing and browsing
    COLUGO__DNSSD_NO_DAEMON,    //  no D-Bus or no avahi-daemon (now)
} colugo__dnssd_state_t;

typedef struct {
    uint8_t data [COLUGO__DNSSD_FRAME_MAX];
    size_t size;
    bool overflow;  //  a field did not fit: do not send
} colugo__frame_t;

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
    bool bad;  //  a field was missing or not ended
} colugo__frame_reader_t;

void colugo__frame_init (colugo__frame_t *self, colugo__dnssd_kind_t kind);
void colugo__frame_put_number (colugo__frame_t *self, uint64_t value);
void colugo__frame_put_string (colugo__frame_t *self, const char *value);

//  Starts reading a received message; returns its kind (0 if empty).
int colugo__frame_read (colugo__frame_reader_t *self, const void *data, size_t size);
uint64_t colugo__frame_get_number (colugo__frame_reader_t *self);
//  Returns the string in place (valid while the message is), "" when bad.
const char *colugo__frame_get_string (colugo__frame_reader_t *self);

#endif
