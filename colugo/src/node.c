/*  node.c: a node owns one zloop, its timers, its discovery, and its
    sockets, and matches them up: every subscriber with every publisher of
    its topic, every client with every server, in this node (directly, over
    loopback) and on the network (as discovery reports them).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "colugo/error.h"
#include "colugo/node.h"
#include "colugo/topic.h"
#include "discovery.h"
#include "match.h"
#include "poller.h"
#include "reaper.h"
#include "signals.h"
#include "sock.h"
#include "timers.h"
#include "trunk.h"
#include "u64map.h"

#define S_DEFAULT_HEARTBEAT_IVL_MS 500
#define S_DEFAULT_HEARTBEAT_TIMEOUT_MS 2000
#define S_DEFAULT_MAX_MESSAGE_SIZE (64 * 1024 * 1024)
#define S_DEFAULT_QUEUE_LIMIT 1000

typedef struct {
    colugo_node_t *node;
    colugo_timer_fn *fn;
    void *arg;
    uint64_t id;  //  the id in the timer heap
    bool repeating;
} s_user_timer_t;

struct colugo_node_t {
    char *name;
    char uuid [37];     //  random (version 4), fresh for each node
    colugo__env_t env;  //  what the sockets see of the node
    zloop_t *loop;
    colugo__timers_t *timers;
    colugo__reaper_t *reaper;        //  frees sockets closed while the loop runs
    colugo__poller_t *poller;        //  watches the sockets (poller.h)
    colugo__discovery_t *discovery;  //  while started, with discovery on
    colugo__u64map_t sockets;        //  id -> colugo_socket_t, live ones
    zhashx_t *topics;                //  their ids by topic (match.h)
    colugo__u64map_t user_timers;    //  heap id -> s_user_timer_t
    bool running;                    //  inside zloop_start ()
    bool discovery_enabled;
    bool trunk_failed;          //  colugo__trunk_new () failed once: not again
    colugo__signals_t signals;  //  SIGINT and SIGTERM stop it (by default)
    bool wait_for_daemon;
    size_t max_decoded_size;    //  for the typed layers; 0: no limit
    colugo_node_stats_t stats;  //  discovery's, kept across restarts
};

//  --------------------------------------------------------------------------
//  Matching sockets with peers

static bool
s_is_binder (const colugo_socket_t *socket)
{
    return socket->kind->binds;
}

//  Learns a service that is up, if it is a publisher on its node's trunk;
//  returns whether it is one.
static bool
s_learn_route (colugo_node_t *self, colugo__service_event_t event, const colugo__service_t *service)
{
    bool trunk = self->env.trunk && service->trunk_key && *service->identity
                 && *service->trunk_endpoint && *service->trunk_identity;
    if (trunk && event == COLUGO__SERVICE_UP
        && colugo__trunk_learn (self->env.trunk, service->identity, service->topic,
                                service->trunk_endpoint, service->trunk_identity,
                                service->node_uuid, service->node_name, service->trunk_key))
        colugo__error ("out of memory: topic '%s' is not received over the node trunk",
                       service->topic);
    return trunk;
}

static void
s_learn_known_route (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    colugo_node_t *self = (colugo_node_t *) arg;
    if (strcmp (service->node_uuid, self->uuid))
        s_learn_route (self, event, service);
}

static void
s_on_service (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    colugo_node_t *self = (colugo_node_t *) arg;
    if (strcmp (service->node_uuid, self->uuid) == 0)
        return;  //  ours: linked directly
    //  A publisher on its node's trunk: known before its subscribers dial
    //  it, forgotten once they let go (what rides keeps what it needs).
    bool trunk = s_learn_route (self, event, service);
    colugo__match_service (&self->sockets, self->topics, event, service);
    if (trunk && event != COLUGO__SERVICE_UP)
        colugo__trunk_forget (self->env.trunk, service->identity);
}

//  Tells a newly added connecting socket of every service already known.
static void
s_on_known_service (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    colugo_socket_t *socket = (colugo_socket_t *) arg;
    if (event == COLUGO__SERVICE_UP && strcmp (service->node_uuid, socket->env->node_uuid))
        colugo__match_known (socket, service);
}

static void
s_advertise (colugo_node_t *self, colugo_socket_t *socket)
{
    if (!self->discovery || !s_is_binder (socket) || socket->publication)
        return;
    colugo__trunk_txt_t trunk = {0};
    if (socket->kind->kind == COLUGO_PUBLISHER && self->env.trunk) {
        trunk.key = colugo__publisher_trunk_key (socket);
        trunk.port = trunk.key ? colugo__trunk_port (self->env.trunk) : 0;
        trunk.id = colugo__trunk_id (self->env.trunk);
    }
    socket->publication = colugo__discovery_publish (
        self->discovery, socket->topic, socket->kind->service_type, socket->message_type,
        socket->port, socket->verified_port, socket->id, trunk);
    if (!socket->publication)
        colugo__error ("out of memory: topic '%s' is not advertised", socket->topic);
}

static void
s_advertise_each (colugo_socket_t *socket, void *arg)
{
    s_advertise ((colugo_node_t *) arg, socket);
}

static int
s_add_socket (colugo_node_t *self, colugo_socket_t *socket)
{
    if (colugo__socket_start (socket))
        return COLUGO_EZMQ;
    if (colugo__u64map_put (&self->sockets, socket->id, socket)) {
        colugo__socket_stop (socket);
        return COLUGO_ENOMEM;
    }
    if (!colugo__topics_update (self->topics, socket, true)) {
        colugo__u64map_take (&self->sockets, socket->id);
        colugo__socket_stop (socket);
        return COLUGO_ENOMEM;
    }
    colugo__match_local (&self->sockets, self->topics, socket, true);
    if (s_is_binder (socket))
        s_advertise (self, socket);
    else if (self->discovery)
        colugo__discovery_foreach (self->discovery, s_on_known_service, socket);
    return 0;
}

static void
s_remove_socket (void *node, colugo_socket_t *socket)
{
    colugo_node_t *self = (colugo_node_t *) node;
    if (!colugo__u64map_take (&self->sockets, socket->id))
        return;  //  removed already
    colugo__topics_update (self->topics, socket, false);
    if (socket->publication && self->discovery)
        colugo__discovery_withdraw (self->discovery, socket->publication);
    socket->publication = 0;
    //  Requests and their timers go now: no callback may run for them.
    if (socket->destroy_kind)
        socket->destroy_kind (socket);
    socket->destroy_kind = NULL;
    if (s_is_binder (socket))
        colugo__match_local (&self->sockets, self->topics, socket, false);
    colugo__socket_stop (socket);
    socket->dead = true;
    //  Freed from the loop: zloop may still dispatch to it in this pass, and
    //  the callback that closed it may still be using it.
    if (colugo__reaper_defer (self->reaper, colugo__socket_free, socket))
        colugo__error ("out of memory: a closed socket is leaked");
}

void
colugo_node_set_max_message_size (colugo_node_t *self, size_t bytes)
{
    self->env.max_message_size = bytes;
}

void
colugo_node_set_max_decoded_size (colugo_node_t *self, size_t bytes)
{
    self->max_decoded_size = bytes;
}

size_t
colugo_node_max_decoded_size (colugo_node_t *self)
{
    return self->max_decoded_size;
}

int
colugo_node_set_ports (colugo_node_t *self, uint16_t first, uint16_t last)
{
    if (!self || (first == 0) != (last == 0) || first > last)
        return COLUGO_EINVAL;
    self->env.port_first = first;
    self->env.port_last = last;
    return 0;
}

//  COLUGO_PORTS=first-last, if it is set and makes sense.
static void
s_ports_from_environment (colugo_node_t *self)
{
    const char *text = getenv ("COLUGO_PORTS");
    unsigned first, last;
    char end;
    if (!text || !*text)
        return;
    if (sscanf (text, "%u-%u%c", &first, &last, &end) != 2 || first > 65535 || last > 65535
        || colugo_node_set_ports (self, (uint16_t) first, (uint16_t) last))
        colugo__warn ("COLUGO_PORTS='%s' is not a range of ports (first-last): ignored", text);
}

int
colugo_node_set_queue_limit (colugo_node_t *self, int messages)
{
    if (messages < 1)
        return COLUGO_EINVAL;
    self->env.queue_limit = messages;
    return 0;
}

//  --------------------------------------------------------------------------
//  Life cycle

static int
s_after_timers (void *arg)
{
    return colugo__env_handler_rc (&((colugo_node_t *) arg)->env);
}

//  SIGINT or SIGTERM came (signals.c woke the loop).
static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    colugo_node_t *self = (colugo_node_t *) arg;
    if (colugo__signals_stop_requested (&self->signals)) {
        colugo__info ("node '%s': stopping on a signal", self->name);
        self->env.stopping = true;
    }
    return colugo__env_handler_rc (&self->env);
}

//  A version 4 uuid from the kernel's random source: a reused uuid would
//  make two nodes share service names that are published without probing.
static int
s_make_uuid (char *out)
{
    uint8_t bytes [16];
    if (getrandom (bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
        return -1;
    bytes [6] = (uint8_t) ((bytes [6] & 0x0F) | 0x40);
    bytes [8] = (uint8_t) ((bytes [8] & 0x3F) | 0x80);
    snprintf (out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              bytes [0], bytes [1], bytes [2], bytes [3], bytes [4], bytes [5], bytes [6],
              bytes [7], bytes [8], bytes [9], bytes [10], bytes [11], bytes [12], bytes [13],
              bytes [14], bytes [15]);
    return 0;
}

colugo_node_t *
colugo_node_new (const char *name)
{
    if (!name || strlen (name) > 64 || colugo_topic_check (name)) {
        colugo__error ("a node name must be 1-64 bytes of printable UTF-8");
        colugo_set_last_error (COLUGO_EINVAL);
        return NULL;
    }
    colugo__signals_init ();  //  before czmq's zsys_init: SIGINT and SIGTERM are ours
    zsys_init ();
    colugo_node_t *self = calloc (1, sizeof *self);
    if (!self) {
        colugo_set_last_error (COLUGO_ENOMEM);
        return NULL;
    }
    self->name = strdup (name);
    self->loop = zloop_new ();
    self->timers = self->loop ? colugo__timers_new (self->loop, s_after_timers, self) : NULL;
    self->reaper = self->loop ? colugo__reaper_new (self->loop) : NULL;
    self->poller = self->loop ? colugo__poller_new (self->loop) : NULL;
    self->topics = colugo__topics_new ();
    self->discovery_enabled = true;
    if (self->loop)
        zloop_set_nonstop (self->loop, true);  //  czmq's interrupt flag is not ours
    self->max_decoded_size = COLUGO_DEFAULT_MAX_DECODED_SIZE;
    self->signals.pipe [0] = self->signals.pipe [1] = -1;
    bool signals_ok = colugo__signals_open (&self->signals) == 0;
    if (signals_ok)
        colugo__signals_handle (&self->signals, true);
    if (!signals_ok || !self->name || !self->loop || !self->timers || !self->reaper || !self->poller
        || !self->topics || s_make_uuid (self->uuid)) {
        colugo_node_destroy (&self);
        colugo_set_last_error (COLUGO_ENOMEM);
        return NULL;
    }
    self->env = (colugo__env_t){.loop = self->loop,
                                .timers = self->timers,
                                .reaper = self->reaper,
                                .poller = self->poller,
                                .node_uuid = self->uuid,
                                .node_name = self->name,
                                .heartbeat_ivl = S_DEFAULT_HEARTBEAT_IVL_MS,
                                .heartbeat_timeout = S_DEFAULT_HEARTBEAT_TIMEOUT_MS,
                                .max_message_size = S_DEFAULT_MAX_MESSAGE_SIZE,
                                .queue_limit = S_DEFAULT_QUEUE_LIMIT,
                                .close_socket = s_remove_socket,
                                .node = self};
    s_ports_from_environment (self);
    return self;
}

static void
s_forget_service (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    (void) event;
    s_on_service (arg, COLUGO__SERVICE_FORGOTTEN, service);
}

static void
s_unadvertise (colugo_socket_t *socket, void *arg)
{
    (void) arg;
    socket->publication = 0;
}

//  Withdraws every service and lets go of every peer discovery gave us: the
//  next start finds them afresh, each counted once.
//  What a discovery counted, added to the node's counters (they outlive it:
//  a node stopped and started again has had several).
static void
s_add_stats (colugo_node_stats_t *stats, colugo__discovery_stats_t add)
{
    stats->services_seen += add.services_seen;
    stats->services_resolved += add.services_resolved;
    stats->services_invalid += add.services_invalid;
    stats->resolve_failures += add.resolve_failures;
    stats->daemon_restarts += add.daemon_restarts;
    stats->daemon_stalls += add.daemon_stalls;
    stats->notices += add.notices;
    stats->notices_invalid += add.notices_invalid;
    stats->notices_unconfirmed += add.notices_unconfirmed;
}

static void
s_stop_discovery (colugo_node_t *self)
{
    if (!self->discovery)
        return;
    colugo__discovery_foreach (self->discovery, s_forget_service, self);
    s_add_stats (&self->stats, colugo__discovery_stats (self->discovery));
    colugo__match_each (&self->sockets, s_unadvertise, NULL);
    colugo__discovery_destroy (&self->discovery);
}

void
colugo_node_destroy (colugo_node_t **self_p)
{
    colugo_node_t *self = *self_p;
    if (!self)
        return;
    if (self->running) {
        //  From one of the node's own callbacks: the loop still runs on it.
        //  A check, not an assert: the default build has no asserts.
        colugo__error ("node '%s': colugo_node_destroy () called from one of its callbacks; "
                       "stop it (colugo_node_stop) and destroy it after colugo_node_start () "
                       "returns",
                       self->name);
        return;
    }
    s_stop_discovery (self);
    colugo_socket_t *socket;
    size_t cursor = 0;
    while ((cursor = 0, socket = colugo__u64map_next (&self->sockets, &cursor)))
        s_remove_socket (self, socket);
    colugo__u64map_free (&self->sockets);
    zhashx_destroy (&self->topics);
    colugo__trunk_destroy (&self->env.trunk);  //  after its publishers' ends
    cursor = 0;
    s_user_timer_t *timer;
    while ((timer = colugo__u64map_next (&self->user_timers, &cursor)))
        free (timer);
    colugo__u64map_free (&self->user_timers);
    colugo__reaper_destroy (&self->reaper);
    colugo__poller_destroy (&self->poller);
    colugo__timers_destroy (&self->timers);
    colugo__signals_close (&self->signals);
    zloop_destroy (&self->loop);
    free (self->name);
    free (self);
    *self_p = NULL;
}

static void s_need_trunk (colugo_node_t *self);

int
colugo_node_start (colugo_node_t *self)
{
    if (self->running)
        return COLUGO_ESTATE;
    if (self->discovery_enabled && !self->discovery) {
        self->trunk_failed = false;  //  (tried again at each start)
        s_need_trunk (self);         //  the node link speaks over it
        colugo__discovery_config_t config = {.loop = self->loop,
                                             .timers = self->timers,
                                             .env = &self->env,
                                             .node_uuid = self->uuid,
                                             .node_name = self->name,
                                             .wait_for_daemon = self->wait_for_daemon,
                                             .on_service = s_on_service,
                                             .arg = self};
        int rc = colugo__discovery_new (&config, &self->discovery);
        if (rc)
            return rc;
        colugo__match_each (&self->sockets, s_advertise_each, self);
    }
    zmq_pollitem_t wake = {NULL, self->signals.pipe [0], ZMQ_POLLIN, 0};
    if (zloop_poller (self->loop, &wake, s_on_signal, self))
        return COLUGO_ENOMEM;
    colugo__info ("node '%s' (%s) running", self->name, self->uuid);
    colugo__timers_restart (self->timers);
    self->running = true;
    //  zloop_start returns on any signal that interrupts its poll (SIGCHLD,
    //  SIGWINCH...): only a stop ends the node.
    while (!self->env.stopping && !colugo__signals_stop_requested (&self->signals))
        zloop_start (self->loop);
    self->running = false;
    self->env.stopping = false;
    zloop_poller_end (self->loop, &wake);
    colugo__signals_consume (&self->signals);
    colugo__info ("node '%s' stopping: withdrawing its services", self->name);
    s_stop_discovery (self);
    return 0;
}

void
colugo_node_stop (colugo_node_t *self)
{
    self->env.stopping = true;
}

const char *
colugo_node_name (colugo_node_t *self)
{
    return self->name;
}

const char *
colugo_node_uuid (colugo_node_t *self)
{
    return self->uuid;
}

void
colugo_node_set_wait_for_daemon (colugo_node_t *self, bool wait)
{
    self->wait_for_daemon = wait;
}

void
colugo_node_set_signal_handling (colugo_node_t *self, bool enabled)
{
    colugo__signals_handle (&self->signals, enabled);
}

void
colugo_node_set_discovery (colugo_node_t *self, bool enabled)
{
    self->discovery_enabled = enabled;
}

int
colugo_node_set_heartbeat (colugo_node_t *self, int interval_ms, int timeout_ms)
{
    if (interval_ms < 1 || timeout_ms < interval_ms)
        return COLUGO_EINVAL;
    self->env.heartbeat_ivl = interval_ms;
    self->env.heartbeat_timeout = timeout_ms;
    return 0;
}

colugo_node_stats_t
colugo_node_stats (colugo_node_t *self)
{
    colugo_node_stats_t stats = self->stats;
    if (self->discovery)
        s_add_stats (&stats, colugo__discovery_stats (self->discovery));
    return stats;
}

//  --------------------------------------------------------------------------
//  Adding sockets

static void *
s_add (colugo_node_t *self, const char *topic, colugo_socket_t *socket, int error)
{
    if (!socket) {
        colugo_set_last_error (error);
        return NULL;
    }
    int rc = s_add_socket (self, socket);
    if (rc) {
        colugo__socket_free (socket);
        colugo_set_last_error (rc);
        return NULL;
    }
    colugo__debug ("node '%s': added %s on topic '%s'", self->name, socket->kind->name, topic);
    return socket->owner;
}

//  Checks a topic and a type (NULL: untyped) before anything is bound, and
//  that a socket which needs a handler has one.
static bool
s_names_ok (const char *topic, const char *type, bool handler_ok)
{
    if (colugo_topic_check (topic)) {
        colugo__error ("invalid topic name: it must be 1-%d bytes of printable UTF-8",
                       COLUGO_TOPIC_MAX);
        colugo_set_last_error (COLUGO_ETOPIC);
        return false;
    }
    if (type && colugo_type_check (type)) {
        colugo__error ("invalid message type: it must be 1-%d printable ASCII characters",
                       COLUGO_TYPE_MAX);
        colugo_set_last_error (COLUGO_EINVAL);
        return false;
    }
    if (!handler_ok) {
        colugo_set_last_error (COLUGO_EINVAL);
        return false;
    }
    return true;
}

//  The node's trunk, made with its first publisher or subscriber (after the
//  options that its sockets take), or at the start, when discovery is on.
static void
s_need_trunk (colugo_node_t *self)
{
    if (self->env.trunk || self->trunk_failed || !self->discovery_enabled)
        return;
    self->env.trunk = colugo__trunk_new (&self->env);
    self->trunk_failed = !self->env.trunk;
    //  A node that had no trunk yet (only clients and servers) knows
    //  publishers already: their routes, for the subscribers to come.
    if (self->env.trunk && self->discovery)
        colugo__discovery_foreach (self->discovery, s_learn_known_route, self);
}

colugo_publisher_t *
colugo_node_add_typed_publisher (colugo_node_t *self, const char *topic, const char *type)
{
    if (!s_names_ok (topic, type, true))
        return NULL;
    s_need_trunk (self);
    int error = 0;
    return s_add (self, topic, colugo__publisher_new (&self->env, topic, type, &error), error);
}

colugo_subscriber_t *
colugo_node_add_typed_subscriber (colugo_node_t *self, const char *topic, const char *type,
                                  colugo_message_fn *handler, void *arg)
{
    if (!s_names_ok (topic, type, handler != NULL))
        return NULL;
    s_need_trunk (self);
    int error = 0;
    return s_add (self, topic,
                  colugo__subscriber_new (&self->env, topic, type, handler, arg, &error), error);
}

colugo_client_t *
colugo_node_add_typed_client (colugo_node_t *self, const char *topic, const char *type)
{
    if (!s_names_ok (topic, type, true))
        return NULL;
    int error = 0;
    return s_add (self, topic, colugo__client_new (&self->env, topic, type, &error), error);
}

colugo_server_t *
colugo_node_add_typed_server (colugo_node_t *self, const char *topic, const char *type,
                              colugo_request_fn *handler, void *arg)
{
    if (!s_names_ok (topic, type, handler != NULL))
        return NULL;
    int error = 0;
    return s_add (self, topic, colugo__server_new (&self->env, topic, type, handler, arg, &error),
                  error);
}

colugo_publisher_t *
colugo_node_add_publisher (colugo_node_t *self, const char *topic)
{
    return colugo_node_add_typed_publisher (self, topic, NULL);
}

colugo_subscriber_t *
colugo_node_add_subscriber (colugo_node_t *self, const char *topic, colugo_message_fn *handler,
                            void *arg)
{
    return colugo_node_add_typed_subscriber (self, topic, NULL, handler, arg);
}

colugo_client_t *
colugo_node_add_client (colugo_node_t *self, const char *topic)
{
    return colugo_node_add_typed_client (self, topic, NULL);
}

colugo_server_t *
colugo_node_add_server (colugo_node_t *self, const char *topic, colugo_request_fn *handler,
                        void *arg)
{
    return colugo_node_add_typed_server (self, topic, NULL, handler, arg);
}

//  --------------------------------------------------------------------------
//  Timers

static void
s_on_user_timer (void *arg)
{
    s_user_timer_t *timer = (s_user_timer_t *) arg;
    colugo_node_t *node = timer->node;
    if (!timer->repeating) {
        colugo__u64map_take (&node->user_timers, timer->id);
        timer->fn (node, timer->arg);
        free (timer);
    }
    else
        timer->fn (node, timer->arg);  //  may cancel, and free, itself
}

static int64_t
s_add_timer (colugo_node_t *self, uint32_t ms, bool repeating, colugo_timer_fn *handler, void *arg)
{
    if (!handler || (repeating && ms == 0))
        return COLUGO_EINVAL;
    s_user_timer_t *timer = calloc (1, sizeof *timer);
    if (!timer)
        return COLUGO_ENOMEM;
    *timer = (s_user_timer_t){.node = self, .fn = handler, .arg = arg, .repeating = repeating};
    timer->id = colugo__timers_add (self->timers, zclock_mono () + ms, repeating ? ms : 0,
                                    s_on_user_timer, timer);
    if (!timer->id || colugo__u64map_put (&self->user_timers, timer->id, timer)) {
        if (timer->id)
            colugo__timers_cancel (self->timers, timer->id);
        free (timer);
        return COLUGO_ENOMEM;
    }
    return (int64_t) timer->id;
}

int64_t
colugo_node_add_repeater (colugo_node_t *self, uint32_t interval_ms, colugo_timer_fn *handler,
                          void *arg)
{
    return s_add_timer (self, interval_ms, true, handler, arg);
}

int64_t
colugo_node_add_delayed (colugo_node_t *self, uint32_t delay_ms, colugo_timer_fn *handler,
                         void *arg)
{
    return s_add_timer (self, delay_ms, false, handler, arg);
}

int
colugo_node_cancel_timer (colugo_node_t *self, int64_t timer_id)
{
    if (timer_id <= 0)
        return COLUGO_ENOTFOUND;
    s_user_timer_t *timer = colugo__u64map_take (&self->user_timers, (uint64_t) timer_id);
    if (!timer)
        return COLUGO_ENOTFOUND;
    colugo__timers_cancel (self->timers, timer->id);
    free (timer);
    return 0;
}
