/*  colugo/node.h: a node, the program's one event loop and its sockets.

    A node owns one czmq zloop, a connection to the local avahi-daemon, and
    every socket and timer added to it. Everything runs on the thread that
    calls colugo_node_start (): socket reads, timers, discovery and the
    application's callbacks. Nothing here is thread-safe.

        colugo_node_t *node = colugo_node_new ("PubExample");
        colugo_publisher_t *pub = colugo_node_add_publisher (node, "pub.topic");
        colugo_node_add_repeater (node, 1000, on_tick, &self);
        colugo_node_start (node);       //  until colugo_node_stop, SIGINT or SIGTERM
        colugo_node_destroy (&node);
*/
#ifndef COLUGO_NODE_H_INCLUDED
#define COLUGO_NODE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "colugo/export.h"
#include "colugo/socket.h"

COLUGO_BEGIN_DECLS

typedef struct colugo_node_t colugo_node_t;
typedef struct colugo_publisher_t colugo_publisher_t;
typedef struct colugo_subscriber_t colugo_subscriber_t;
typedef struct colugo_client_t colugo_client_t;
typedef struct colugo_server_t colugo_server_t;

//  A timer callback: repeaters and delayed callbacks.
typedef void (colugo_timer_fn) (colugo_node_t *node, void *arg);

//  Creates a node with a name (for people: it need not be unique; a fresh
//  random uuid identifies the node on the network). Returns NULL on failure
//  (colugo_last_error () says why). Nothing touches the network until
//  colugo_node_start ().
COLUGO_EXPORT colugo_node_t *colugo_node_new (const char *name);

//  Stops (if running), withdraws every service, closes every socket, cancels
//  every timer and frees the node and all it owns. Safe on NULL; sets
//  *self_p to NULL. Must not be called from one of the node's callbacks.
COLUGO_EXPORT void colugo_node_destroy (colugo_node_t **self_p);

//  Runs the node's event loop until colugo_node_stop () is called from a
//  callback, or the process gets SIGINT or SIGTERM. Connects to Avahi first:
//  if no avahi-daemon runs, returns COLUGO_ENODAEMON at once, unless
//  colugo_node_set_wait_for_daemon () asked to wait for one. On return every
//  service is withdrawn; the sockets stay open until colugo_node_destroy ().
//  Returns 0 when stopped, or a negative error.
COLUGO_EXPORT int colugo_node_start (colugo_node_t *self);

//  Asks the loop to stop after the current callback. Safe before start.
COLUGO_EXPORT void colugo_node_stop (colugo_node_t *self);

//  Returns the node's name / its uuid (36 characters, fresh at every start of
//  the process). Both belong to the node.
COLUGO_EXPORT const char *colugo_node_name (colugo_node_t *self);
COLUGO_EXPORT const char *colugo_node_uuid (colugo_node_t *self);

//  --- Options: call before colugo_node_start ()

//  Waits for an avahi-daemon that is not running yet (or restarts), instead
//  of failing in colugo_node_start (). Default false.
COLUGO_EXPORT void colugo_node_set_wait_for_daemon (colugo_node_t *self, bool wait);

//  Turns discovery off (default on): the node then neither advertises nor
//  browses, and only connects sockets within itself and to endpoints given
//  with colugo_socket_connect (). Useful without any avahi-daemon.
COLUGO_EXPORT void colugo_node_set_discovery (colugo_node_t *self, bool enabled);

//  Sets the ZeroMQ heartbeat interval and timeout for sockets created after
//  the call, in ms (defaults 500 and 2000: a dead peer is noticed in 2-2.5 s).
COLUGO_EXPORT int colugo_node_set_heartbeat (colugo_node_t *self, int interval_ms, int timeout_ms);

//  Sets how many messages a socket created after the call queues per peer,
//  each way (ZeroMQ's high-water marks; default 1000): past it a publisher
//  drops messages for that subscriber, and a client keeps requests waiting.
COLUGO_EXPORT int colugo_node_set_queue_limit (colugo_node_t *self, int messages);

//  Sets the largest message the node's sockets accept (default 64 MiB; 0: no
//  limit). A larger message that arrives is dropped, counted and logged.
COLUGO_EXPORT void colugo_node_set_max_message_size (colugo_node_t *self, size_t bytes);

//  --- Sockets: the node owns them and frees them in colugo_node_destroy ();
//  each returns NULL on failure (colugo_last_error (): COLUGO_ETOPIC for a bad
//  topic, checked before anything is bound). They may be added before or
//  while the node runs.

COLUGO_EXPORT colugo_publisher_t *colugo_node_add_publisher (colugo_node_t *self,
                                                             const char *topic);

//  See colugo/subscriber.h for the callback.
typedef void (colugo_message_fn) (colugo_subscriber_t *subscriber, const char *topic,
                                  const void *data, size_t size, void *arg);
COLUGO_EXPORT colugo_subscriber_t *colugo_node_add_subscriber (colugo_node_t *self,
                                                               const char *topic,
                                                               colugo_message_fn *handler,
                                                               void *arg);

COLUGO_EXPORT colugo_client_t *colugo_node_add_client (colugo_node_t *self, const char *topic);

//  See colugo/server.h for the callback.
typedef void (colugo_request_fn) (colugo_server_t *server, uint64_t request, const void *data,
                                  size_t size, void *arg);
COLUGO_EXPORT colugo_server_t *colugo_node_add_server (colugo_node_t *self, const char *topic,
                                                       colugo_request_fn *handler, void *arg);

//  Typed sockets: the same, with a message type (see colugo_type_check ())
//  that is advertised and must match the peer's, if the peer has one. The
//  payload is still bytes: colugo/proto.h and colugo/json.h encode them.
COLUGO_EXPORT colugo_publisher_t *
colugo_node_add_typed_publisher (colugo_node_t *self, const char *topic, const char *type);
COLUGO_EXPORT colugo_subscriber_t *
colugo_node_add_typed_subscriber (colugo_node_t *self, const char *topic, const char *type,
                                  colugo_message_fn *handler, void *arg);
COLUGO_EXPORT colugo_client_t *colugo_node_add_typed_client (colugo_node_t *self, const char *topic,
                                                             const char *type);
COLUGO_EXPORT colugo_server_t *colugo_node_add_typed_server (colugo_node_t *self, const char *topic,
                                                             const char *type,
                                                             colugo_request_fn *handler, void *arg);

//  --- Timers, on the node's loop, in milliseconds

//  Calls handler every interval_ms (>= 1) until cancelled. Returns a timer id
//  (> 0) or a negative error.
COLUGO_EXPORT int64_t colugo_node_add_repeater (colugo_node_t *self, uint32_t interval_ms,
                                                colugo_timer_fn *handler, void *arg);

//  Calls handler once, delay_ms from now, unless cancelled first. Returns a
//  timer id (> 0) or a negative error.
COLUGO_EXPORT int64_t colugo_node_add_delayed (colugo_node_t *self, uint32_t delay_ms,
                                               colugo_timer_fn *handler, void *arg);

//  Cancels a repeater or delayed callback (also from inside its own call).
//  Returns 0, or COLUGO_ENOTFOUND if it has already run or was cancelled.
COLUGO_EXPORT int colugo_node_cancel_timer (colugo_node_t *self, int64_t timer_id);

//  Counters of the node's discovery.
typedef struct {
    uint64_t services_seen;     //  valid services of our type resolved
    uint64_t services_invalid;  //  services of our type ignored: bad TXT (logged)
    uint64_t resolve_failures;  //  services that could not be resolved, or were too many (logged)
    uint64_t daemon_restarts;   //  times the avahi-daemon came back
    uint64_t daemon_stalls;     //  times a call to the avahi-daemon went unanswered for 2 s (logged)
} colugo_node_stats_t;

COLUGO_EXPORT colugo_node_stats_t colugo_node_stats (colugo_node_t *self);

COLUGO_END_DECLS

#endif
