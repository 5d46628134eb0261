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
//  *self_p to NULL. Called from one of the node's own callbacks, it logs an
//  error and does nothing (*self_p stays): stop the node instead.
COLUGO_EXPORT void colugo_node_destroy (colugo_node_t **self_p);

//  Runs the node's event loop until colugo_node_stop () is called from a
//  callback, or the process gets SIGINT or SIGTERM (unless signal handling
//  is off: colugo_node_set_signal_handling). Other signals (SIGCHLD,
//  SIGWINCH...) do not stop it; a node stopped by a signal can be started
//  again. Connects to Avahi first:
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

//  Whether SIGINT and SIGTERM stop the node (default true). While a node
//  that handles them exists, Colugo handles the two signals, but only where
//  the application has no handler of its own and does not ignore them
//  (then the application's handler runs, and it calls colugo_node_stop ()
//  itself), and puts the previous disposition back when the last such node
//  is destroyed. A signal that came before colugo_node_start () stops it at
//  once. Off: the signals are the application's alone. Colugo never lets
//  czmq install its handlers (zsys_handler_set (NULL)).
COLUGO_EXPORT void colugo_node_set_signal_handling (colugo_node_t *self, bool enabled);

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

//  Makes publishers and servers created after the call listen on ports from
//  first to last (the lowest free ones), for a firewall that lets only
//  those through; 0, 0: ports the kernel chooses (the default). The
//  environment variable COLUGO_PORTS=first-last sets it for every node of
//  the process. A publisher listens on two ports, a server on two, the
//  node itself on one.
COLUGO_EXPORT int colugo_node_set_ports (colugo_node_t *self, uint16_t first, uint16_t last);

//  Sets how many messages a socket created after the call queues per peer,
//  each way (ZeroMQ's high-water marks; default 1000): past it a publisher
//  drops messages for that subscriber, and a client keeps requests waiting.
COLUGO_EXPORT int colugo_node_set_queue_limit (colugo_node_t *self, int messages);

//  Sets the largest message the node's sockets accept (default 64 MiB; 0: no
//  limit). A larger message that arrives is dropped, counted and logged.
COLUGO_EXPORT void colugo_node_set_max_message_size (colugo_node_t *self, size_t bytes);

//  The default of colugo_node_set_max_decoded_size (): 256 MiB.
#define COLUGO_DEFAULT_MAX_DECODED_SIZE ((size_t) 256 * 1024 * 1024)

//  Sets the most memory the typed layers (colugo/proto.h, colugo/json.h) may
//  allocate to decode one message of the node's sockets, counted as the heap
//  does (each block with its header): a message that would need more is
//  dropped, counted and logged ("decoded message would exceed N bytes")
//  before it can take the memory. 0: no limit. Applies to messages decoded
//  after the call. Without it, what the maximum message size lets through
//  decodes to 1.35 GiB (64 MiB of JSON zeros) or 2.3 GiB (64 MiB of empty
//  protobuf submessages). The default, COLUGO_DEFAULT_MAX_DECODED_SIZE
//  (256 MiB, 4 times the default maximum message size), takes protobuf
//  messages of strings, bytes or packed numbers and JSON of long strings up
//  to that maximum; small values cost more decoded than on the wire, so
//  JSON takes up to about
//  10 MiB of small numbers (46 bytes each in jansson for 2 of text) or
//  14 MiB of records of short fields (16 times their text). A fixed amount
//  rather than a multiple of each message's size: documents decode one at a
//  time, so the amount is the most a peer can make the node hold, and a
//  ratio low enough to matter would refuse ordinary documents of small
//  values. Raise it with the maximum message size for larger documents.
COLUGO_EXPORT void colugo_node_set_max_decoded_size (colugo_node_t *self, size_t bytes);

//  Returns the node's max decoded size (0: no limit).
COLUGO_EXPORT size_t colugo_node_max_decoded_size (colugo_node_t *self);

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
    uint64_t services_seen;      //  valid services of our type found (resolved, or told of)
    uint64_t services_resolved;  //  answers from the daemon's resolvers (the rest: notices)
    uint64_t services_invalid;   //  services of our type ignored: bad TXT (logged)
    uint64_t resolve_failures;   //  services that could not be resolved, or were too many (logged)
    uint64_t daemon_restarts;    //  times the avahi-daemon came back
    uint64_t daemon_stalls;    //  times a call to the avahi-daemon went unanswered for 2 s (logged)
    uint64_t notices;          //  services other nodes told this one of directly, up or down
    uint64_t notices_invalid;  //  such notices dropped: malformed, not the sender's (logged)
    uint64_t
        notices_unconfirmed;  //  told of, but no DNS-SD record followed in 5 s: let go (logged)
} colugo_node_stats_t;

COLUGO_EXPORT colugo_node_stats_t colugo_node_stats (colugo_node_t *self);

COLUGO_END_DECLS

#endif
