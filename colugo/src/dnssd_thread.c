/*  dnssd_thread.c: DNS-SD through the system's avahi-daemon, on a thread of
    its own (one per started node).

    Why a thread: every avahi-client call is a synchronous D-Bus round trip
    with libdbus's 25 s default timeout; made from the node's loop, a
    stalled daemon froze the node (no reads, no heartbeats, peers dropped
    us). Why this shape: the thread runs an AvahiSimplePoll and speaks to
    the loop over two SOCK_SEQPACKET socketpairs (commands in, events out,
    dnssd_pipe.h), not over a zmq inproc PAIR, so that it owns no ZeroMQ
    socket: a thread stuck in a 25 s D-Bus call can then be left behind
    (detached) when its node stops, without holding up zmq_ctx_term or
    czmq's zsys_shutdown, and frees its own memory when the call returns.
    It runs no application code and does not log: log lines are sent to
    the loop, which logs them with the application's handler.

    One AvahiClient (AVAHI_CLIENT_NO_FAIL, so it survives a daemon
    restart), one service browser for _colugo._tcp (our own,
    dnssd_browser.h, which starts without the daemon's 10 ms delay; or
    avahi-client's where the daemon has no Server2), a resolver per name,
    and one entry group per publication. What a stranger advertises is
    checked (dnssd_records.c) before the loop hears of it; what fails the
    check is logged (rate limited) and counted, never passed on.

    A stranger may announce thousands of names that resolve to nothing (and
    dead hosts' names linger in caches for an hour); each such resolve
    holds a resolver for Avahi's 5 s timeout, and resolvers count against
    the daemon's per-client object limit (1024). So:
    - at most S_RESOLVERS_MAX first resolves run at once, each given up
      after S_RESOLVE_DEADLINE_MS; the rest wait in one queue, new names
      at its head and retries at its tail, and free slots are given to the
      head and the tail in turn: a new name is tried at once, and none
      waits longer than the queue takes to drain from one end; node
      records have S_NODE_RESOLVERS_MAX slots and a queue of their own, so
      a flood of service names does not hold back the few records that
      tell of a node's every service (its node link);
    - failures back off (1, 2, 4, 8, 16 s), then the name is parked and
      tried once a minute, and again at once when it is announced again;
    - the table of names is capped, and when it is full the oldest name
      that is not resolved (tried ones first) makes room: a new name always
      gets its chance;
    - a resolver that answered is kept (up to S_WATCHED_MAX of them), so a
      change of the records (a new address, TXT or port) is followed: the
      loop hears the service down at the old endpoint and up at the new
      one; a service judged invalid is judged again when its records
      change. Past that many, services are looked at again every
      S_RELOOK_MS instead.
    - a service of a node whose node record is browsed is not resolved at
      once: that node tells of its services over its link (nodelink.h), and
      a resolve costs the daemon, which every client on the host shares,
      what the notice gives (20 nodes of 10 topics each made 3800 resolves
      that kept avahi-daemon and dbus-daemon busy while the mesh formed). It
      is resolved when no notice came within S_NOTICE_WAIT_MS: a node that
      cannot link, or a name a stranger gave with the node's uuid;
    - commands from the loop are read before anything else, each turn of
      the poll (s_thread_main): a notice told of while the daemon's signals
      queue up must still keep its name from being resolved.
    Other facts this file relies on (see the field notes): a browser reports
    a service once per interface and protocol, so reports are de-duplicated
    by name; entry groups commit only while the client is RUNNING;
    re-committing one group within a second is held off, so every
    (re)publication gets a fresh group; nothing may be freed from its own
    callback.
*/
#define _GNU_SOURCE
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/timeval.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include "colugo/log.h"
#include "dnssd_browser.h"
#include "dnssd_pipe.h"
#include "dnssd_records.h"
#include "dnssd_thread.h"
#include "logging.h"

#define S_RETRY_MS 1000             //  retry a failed browse, publish or connect
#define S_CONNECT_AFTER_MS 50       //  at start, avahi-client waits this long for the first look
#define S_CONNECT_SETTLED_MS 20     //  and this long once the first look is answered
#define S_SERVICES_AFTER_MS 20      //  the service browser waits as long for the node records
#define S_SWEEP_MS 3000             //  after a daemon restart, forget what is not seen again
#define S_RESOLVERS_MAX 64          //  first resolves of services at once
#define S_NODE_RESOLVERS_MAX 16     //  and of node records, beside them
#define S_RESOLVE_DEADLINE_MS 1500  //  ours: Avahi's resolver waits 5 s
#define S_RESOLVE_ATTEMPTS 6
#define S_PARKED_RETRY_MS 60000
#define S_RELOOK_MS 30000
#define S_NOTICE_WAIT_MS 1000  //  a service of a node whose record is browsed waits for its notice
#define S_WATCHED_MAX 512
#define S_REMOTES_MAX 4096
#define S_ESCAPED 160  //  a network-supplied string in a log line

typedef struct s_publication s_publication_t;

//  Resolver slots of one kind of record, and the names that wait for one.
typedef struct {
    zlistx_t *queue;   //  s_remote_t waiting for a slot: new at the head, retries at the tail
    bool take_tail;    //  the next free slot goes to the queue's tail
    size_t resolving;  //  resolvers waiting for a first answer
    size_t max;        //  of them at once
} s_slots_t;

//  A browser of one type: our own (dnssd_browser.h), which starts without
//  the daemon's 10 ms delay, or avahi-client's where the daemon has no
//  Server2 interface (avahi before 0.8).
typedef struct {
    colugo__browser_t *fast;
    AvahiServiceBrowser *legacy;
} s_browser_t;
typedef struct s_remote s_remote_t;

//  A resolver: ours, on the browser's connection (dnssd_browser.h), or
//  avahi-client's where the daemon has no Server2. At most one is set.
typedef struct {
    colugo__resolver_t *fast;
    AvahiServiceResolver *legacy;
} s_resolver_t;

struct colugo__dnssd {
    atomic_int refs;          //  the thread's and the loop's
    atomic_llong busy_since;  //  monotonic ms when the thread left poll (), 0 in poll ()
    pthread_t thread;
    //  Everything below belongs to the thread.
    int commands;  //  our end: commands in
    int events;    //  our end: events out
    char *node_uuid;
    char *node_name;
    bool wait_for_daemon;
    bool debug;
    int hold_ms;        //  the first look waits for BEGIN this long at most
    bool present_told;  //  COLUGO__DNSSD_PRESENT sent
    AvahiSimplePoll *simple_poll;
    const AvahiPoll *api;
    AvahiWatch *command_watch;
    AvahiClient *client;
    s_browser_t browser;         //  _colugo._tcp
    s_browser_t node_browser;    //  _colugo-node._tcp
    s_browser_t failed_browser;  //  freed outside its own callback
    s_browser_t failed_node_browser;
    bool no_server2;          //  the daemon lacks Server2: avahi-client's browsers
    bool lost;                //  the daemon went away since we last ran
    bool was_running;         //  the client has been RUNNING once
    bool sweep_after_browse;  //  forget stale services once browsing settles
    bool quit;                //  the loop let go: end
    bool closing;             //  Avahi's objects are freed already
    AvahiTimeout *reconnect;
    AvahiTimeout *hold;           //  at start: the first look waits for the host's links
    AvahiTimeout *services_soon;  //  at start: services are browsed after node records
    AvahiTimeout *connect_soon;   //  at start: avahi-client connects after the first look
    bool settled;                 //  the first look is answered
    bool node_cache_told;         //  the node browser told what the cache holds
    bool cache_told;              //  the service browser did
    AvahiTimeout *browse_retry;
    AvahiTimeout *sweep;
    zlistx_t *publications;  //  s_publication_t
    zhashx_t *remotes;       //  key ("S" or "N", then the name) -> s_remote_t
    zhashx_t *noticed;       //  names the loop was told of directly: not resolved
    zhashx_t *by_uuid;       //  node uuid -> zlistx_t of the s_remote_t whose names end in it
    zlistx_t *by_age;        //  s_remote_t, oldest first
    //  First resolves, for services [0] and node records [1] apart: a
    //  stranger's flood of service names does not delay the records that
    //  tell of a node's every service.
    s_slots_t slots [2];
    size_t watching;                     //  resolvers kept after an answer
    colugo__host_addresses_t addresses;  //  what records' addresses are checked against
    uint64_t services_invalid, resolve_failures, daemon_restarts;
    uint64_t services_resolved;  //  first answers for services (not node records)
    bool stats_dirty;
    colugo__ratelimit_t invalid_log;
    colugo__ratelimit_t resolve_log;
};

struct s_publication {
    uint64_t id;
    bool node;  //  the node record (type _colugo-node._tcp)
    char *topic;
    int socket_type;
    char *type;  //  NULL if untyped
    uint16_t port;
    uint16_t verified_port;
    uint64_t socket_id;
    struct {
        uint16_t port;  //  the node trunk's, 0 if none
        uint64_t id, key;
    } trunk;
    char *name;              //  instance name in use (renamed on collision)
    AvahiEntryGroup *group;  //  NULL while not published
    AvahiTimeout *retry;     //  publishes again
    int64_t committed_at;    //  monotonic ms, for the debug log
    colugo__dnssd_t *owner;
};

typedef struct {
    int32_t interface;
    int32_t protocol;
} s_seen_t;

typedef enum { S_NEW, S_RESOLVED, S_INVALID } s_remote_state_t;

struct s_remote {
    char *name;      //  instance name
    char *key;       //  in remotes: "S" or "N" (node record), then the name
    bool node;       //  a node record
    s_seen_t *seen;  //  (interface, protocol) pairs reporting it
    size_t seen_count;
    s_resolver_t resolver;
    bool watching;           //  the resolver answered and is kept
    bool waiting;            //  for its node's notice (retry resolves it, if none came)
    AvahiTimeout *retry;     //  resolves again
    AvahiTimeout *deadline;  //  gives up the first resolve
    void *queued;            //  handle in the resolve queue
    void *aged;              //  handle in by_age
    void *named;             //  handle in its node uuid's list (by_uuid), if the name has one
    unsigned attempts;       //  failed first resolves
    unsigned relooks;        //  failures of a resolver that had answered, in a row
    s_remote_state_t state;
    bool stale;         //  reported before a daemon restart, not since
    uint8_t *reported;  //  the UP message sent, while S_RESOLVED
    size_t reported_size;
    colugo__dnssd_t *owner;
};

static void s_publish (colugo__dnssd_t *self, s_publication_t *pub);
static void s_browse (colugo__dnssd_t *self);
static int s_client_connect (colugo__dnssd_t *self);
static void s_resolve (colugo__dnssd_t *self, s_remote_t *remote);
static void s_resolve_next (colugo__dnssd_t *self);
static void s_on_resolve_retry (AvahiTimeout *timeout, void *arg);

//  --------------------------------------------------------------------------
//  Talking to the loop

static void
s_send (colugo__dnssd_t *self, const colugo__frame_t *frame)
{
    if (self->quit || frame->overflow)
        return;
    //  Blocking: when the loop is slow, we wait, it does not. A loop that
    //  let go closed its end: EPIPE ends the thread.
    while (send (self->events, frame->data, frame->size, MSG_NOSIGNAL) < 0) {
        if (errno == EINTR)
            continue;
        self->quit = true;
        avahi_simple_poll_quit (self->simple_poll);
        return;
    }
}

static void s_log (colugo__dnssd_t *self, colugo_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_log (colugo__dnssd_t *self, colugo_log_level_t level, const char *fmt, ...)
{
    if (level == COLUGO_LOG_DEBUG && !self->debug)
        return;
    char line [1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_LOG);
    colugo__frame_put_number (&frame, (uint64_t) level);
    colugo__frame_put_string (&frame, line);
    s_send (self, &frame);
}

static void
s_send_state (colugo__dnssd_t *self, colugo__dnssd_state_t state)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_STATE);
    colugo__frame_put_number (&frame, (uint64_t) state);
    s_send (self, &frame);
}

//  Tells the loop, once, that a daemon is there: it holds the notices of
//  other nodes until then (discovery.c).
static void
s_tell_present (colugo__dnssd_t *self)
{
    if (self->present_told)
        return;
    self->present_told = true;
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_PRESENT);
    s_send (self, &frame);
}

static void
s_send_stats (colugo__dnssd_t *self)
{
    if (!self->stats_dirty)
        return;
    self->stats_dirty = false;
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_STATS);
    colugo__frame_put_number (&frame, self->services_invalid);
    colugo__frame_put_number (&frame, self->resolve_failures);
    colugo__frame_put_number (&frame, self->daemon_restarts);
    colugo__frame_put_number (&frame, self->services_resolved);
    s_send (self, &frame);
}

static const char *
s_avahi_error (colugo__dnssd_t *self)
{
    return self->client ? avahi_strerror (avahi_client_errno (self->client)) : "no client";
}

//  Runs fn (arg) after ms; NULL when out of memory (logged).
static AvahiTimeout *
s_after (colugo__dnssd_t *self, int64_t ms, AvahiTimeoutCallback fn, void *arg)
{
    struct timeval when;
    avahi_elapse_time (&when, (unsigned) ms, 0);
    AvahiTimeout *timeout = self->api->timeout_new (self->api, &when, fn, arg);
    if (!timeout)
        s_log (self, COLUGO_LOG_ERROR, "out of memory: a discovery timer is lost");
    return timeout;
}

//  Moves a timer to ms from now.
static void
s_reschedule (colugo__dnssd_t *self, AvahiTimeout *timeout, int64_t ms)
{
    struct timeval when;
    avahi_elapse_time (&when, (unsigned) ms, 0);
    self->api->timeout_update (timeout, &when);
}

static void
s_cancel (colugo__dnssd_t *self, AvahiTimeout **timeout)
{
    if (*timeout && !self->closing)
        self->api->timeout_free (*timeout);
    *timeout = NULL;
}

//  --------------------------------------------------------------------------
//  Publishing

static void
s_on_publish_retry (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    s_publication_t *pub = (s_publication_t *) arg;
    s_cancel (pub->owner, &pub->retry);
    s_publish (pub->owner, pub);
}

static void
s_publication_unpublish (s_publication_t *pub)
{
    if (pub->group && !pub->owner->closing)
        avahi_entry_group_free (pub->group);
    pub->group = NULL;
}

static void
s_schedule_publish (s_publication_t *pub, int64_t delay_ms)
{
    if (!pub->retry)
        pub->retry = s_after (pub->owner, delay_ms, s_on_publish_retry, pub);
}

static bool
s_name_taken (colugo__dnssd_t *self, s_publication_t *except, const char *name)
{
    s_publication_t *other = (s_publication_t *) zlistx_first (self->publications);
    while (other) {
        if (other != except && other->name && strcmp (other->name, name) == 0)
            return true;
        other = (s_publication_t *) zlistx_next (self->publications);
    }
    return false;
}

//  Moves to the next alternative name ("name #2", ...) not used by us.
static void
s_rename (colugo__dnssd_t *self, s_publication_t *pub)
{
    do {
        char *next = avahi_alternative_service_name (pub->name);
        if (!next)
            return;
        free (pub->name);
        pub->name = strdup (next);
        avahi_free (next);
    } while (pub->name && s_name_taken (self, pub, pub->name));
}

static void
s_on_group (AvahiEntryGroup *group, AvahiEntryGroupState state, void *arg)
{
    s_publication_t *pub = (s_publication_t *) arg;
    colugo__dnssd_t *self = pub->owner;
    if (group != pub->group)
        return;
    switch (state) {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            s_log (self, COLUGO_LOG_DEBUG, "published '%s' (topic '%s', port %u) in %lld ms",
                   pub->name, pub->topic, pub->port,
                   (long long) (zclock_mono () - pub->committed_at));
            break;
        case AVAHI_ENTRY_GROUP_COLLISION:
            s_log (self, COLUGO_LOG_WARN, "service name '%s' collides on the network; renaming",
                   pub->name);
            s_rename (self, pub);
            //  A group must not be freed from its own callback: do it later.
            s_schedule_publish (pub, 0);
            break;
        case AVAHI_ENTRY_GROUP_FAILURE:
            s_log (self, COLUGO_LOG_ERROR, "publishing '%s' failed: %s; retrying", pub->name,
                   avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
            s_schedule_publish (pub, S_RETRY_MS);
            break;
        default: break;
    }
}

static int
s_add_records (colugo__dnssd_t *self, s_publication_t *pub, AvahiEntryGroup *group)
{
    char full_name [AVAHI_DOMAIN_NAME_MAX];
    const char *type = pub->node ? COLUGO__NODE_SERVICE_TYPE : COLUGO__SERVICE_TYPE;
    char type_local [64];
    snprintf (type_local, sizeof type_local, "%s.local", type);
    if (avahi_service_name_join (full_name, sizeof full_name, pub->name, type, "local") < 0)
        return AVAHI_ERR_INVALID_SERVICE_NAME;
    const char *host = avahi_client_get_host_name_fqdn (self->client);
    if (!host)
        return AVAHI_ERR_INVALID_HOST_NAME;

    uint8_t ptr [AVAHI_DOMAIN_NAME_MAX], srv [AVAHI_DOMAIN_NAME_MAX + 6],
        type_ptr [AVAHI_DOMAIN_NAME_MAX], txt [COLUGO__TXT_MAX];
    size_t ptr_size = colugo__wire_name (full_name, ptr, sizeof ptr);
    size_t type_ptr_size = colugo__wire_name (type_local, type_ptr, sizeof type_ptr);
    srv [0] = srv [1] = srv [2] = srv [3] = 0;  //  priority 0, weight 0
    srv [4] = (uint8_t) (pub->port >> 8);
    srv [5] = (uint8_t) (pub->port & 0xFF);
    size_t host_size = colugo__wire_name (host, srv + 6, sizeof srv - 6);
    if (!ptr_size || !type_ptr_size || !host_size)
        return AVAHI_ERR_INVALID_DOMAIN_NAME;
    colugo__txt_fields_t fields = {.topic = pub->topic,
                                   .socket_type = pub->socket_type,
                                   .node_uuid = self->node_uuid,
                                   .node_name = self->node_name,
                                   .type = pub->type,
                                   .verified_port = pub->verified_port,
                                   .socket_id = pub->socket_id,
                                   .trunk_port = pub->trunk.port,
                                   .trunk_id = pub->trunk.id,
                                   .trunk_key = pub->trunk.key};
    size_t txt_size = pub->node ? colugo__node_txt_build (self->node_uuid, self->node_name,
                                                          pub->socket_id, txt, sizeof txt)
                                : colugo__txt_build (&fields, txt, sizeof txt);
    if (!txt_size)  //  checked by the loop before: cannot happen
        return AVAHI_ERR_INVALID_RECORD;

    const AvahiPublishFlags unique = AVAHI_PUBLISH_UNIQUE | AVAHI_PUBLISH_NO_PROBE;
    int rc;
    if ((rc = avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                            type_local, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_PTR,
                                            4500, ptr, ptr_size))
            < 0
        || (rc = avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, unique,
                                               full_name, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_SRV,
                                               120, srv, 6 + host_size))
               < 0
        || (rc = avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, unique,
                                               full_name, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT,
                                               4500, txt, txt_size))
               < 0
        || (rc = avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                               "_services._dns-sd._udp.local", AVAHI_DNS_CLASS_IN,
                                               AVAHI_DNS_TYPE_PTR, 4500, type_ptr, type_ptr_size))
               < 0)
        return rc;
    return 0;
}

static void
s_publish (colugo__dnssd_t *self, s_publication_t *pub)
{
    s_publication_unpublish (pub);
    if (!self->client || avahi_client_get_state (self->client) != AVAHI_CLIENT_S_RUNNING)
        return;  //  published when the client runs again
    if (!pub->name) {
        s_log (self, COLUGO_LOG_ERROR, "publishing topic '%s': out of memory; retrying",
               pub->topic);
        s_schedule_publish (pub, S_RETRY_MS);
        return;
    }
    AvahiEntryGroup *group = avahi_entry_group_new (self->client, s_on_group, pub);
    if (!group) {
        s_log (self, COLUGO_LOG_ERROR, "publishing '%s': %s; retrying", pub->name,
               s_avahi_error (self));
        s_schedule_publish (pub, S_RETRY_MS);
        return;
    }
    pub->group = group;
    int rc = s_add_records (self, pub, group);
    if (rc == AVAHI_ERR_COLLISION) {
        s_log (self, COLUGO_LOG_WARN, "service name '%s' is taken on this host; renaming",
               pub->name);
        s_rename (self, pub);
        s_publication_unpublish (pub);
        s_schedule_publish (pub, 0);
        return;
    }
    if (rc == 0) {
        pub->committed_at = zclock_mono ();
        rc = avahi_entry_group_commit (group);
    }
    if (rc < 0) {
        s_log (self, COLUGO_LOG_ERROR, "publishing '%s' (topic '%s'): %s; retrying", pub->name,
               pub->topic, avahi_strerror (rc));
        s_publication_unpublish (pub);
        s_schedule_publish (pub, S_RETRY_MS);
    }
}

static void
s_publication_destroy (s_publication_t *pub)
{
    s_publication_unpublish (pub);
    s_cancel (pub->owner, &pub->retry);
    free (pub->topic);
    free (pub->type);
    free (pub->name);
    free (pub);
}

static void
s_on_publish_command (colugo__dnssd_t *self, colugo__frame_reader_t *reader)
{
    s_publication_t *pub = calloc (1, sizeof *pub);
    if (!pub) {
        s_log (self, COLUGO_LOG_ERROR, "out of memory: a service is not advertised");
        return;
    }
    pub->owner = self;
    pub->id = colugo__frame_get_number (reader);
    pub->socket_type = (int) colugo__frame_get_number (reader);
    pub->port = (uint16_t) colugo__frame_get_number (reader);
    pub->verified_port = (uint16_t) colugo__frame_get_number (reader);
    pub->socket_id = colugo__frame_get_number (reader);
    pub->trunk.port = (uint16_t) colugo__frame_get_number (reader);
    pub->trunk.id = colugo__frame_get_number (reader);
    pub->trunk.key = colugo__frame_get_number (reader);
    const char *topic = colugo__frame_get_string (reader);
    const char *type = colugo__frame_get_string (reader);
    const char *name = colugo__frame_get_string (reader);  //  chosen by the loop
    pub->topic = strdup (topic);
    pub->type = *type ? strdup (type) : NULL;
    pub->name = strdup (name);
    if (reader->bad || !pub->topic || !pub->name || (*type && !pub->type)
        || !zlistx_add_end (self->publications, pub)) {
        s_log (self, COLUGO_LOG_ERROR, "out of memory: topic '%s' is not advertised", topic);
        s_publication_destroy (pub);
        return;
    }
    if (s_name_taken (self, pub, pub->name))
        s_rename (self, pub);
    s_publish (self, pub);
}

static void
s_on_publish_node_command (colugo__dnssd_t *self, colugo__frame_reader_t *reader)
{
    s_publication_t *pub = calloc (1, sizeof *pub);
    if (!pub) {
        s_log (self, COLUGO_LOG_ERROR, "out of memory: the node record is not advertised");
        return;
    }
    pub->owner = self;
    pub->node = true;
    pub->id = colugo__frame_get_number (reader);
    pub->port = (uint16_t) colugo__frame_get_number (reader);
    pub->socket_id = colugo__frame_get_number (reader);
    char name [AVAHI_LABEL_MAX];
    colugo__discovery_instance_name (self->node_name, self->node_uuid, name, sizeof name);
    pub->topic = strdup ("(node)");
    pub->name = strdup (name);
    if (reader->bad || !pub->topic || !pub->name || !zlistx_add_end (self->publications, pub)) {
        s_log (self, COLUGO_LOG_ERROR, "out of memory: the node record is not advertised");
        s_publication_destroy (pub);
        return;
    }
    s_publish (self, pub);
}

static void
s_on_withdraw_command (colugo__dnssd_t *self, uint64_t id)
{
    s_publication_t *pub = (s_publication_t *) zlistx_first (self->publications);
    while (pub) {
        if (pub->id == id) {
            zlistx_delete (self->publications, zlistx_cursor (self->publications));
            s_log (self, COLUGO_LOG_DEBUG, "withdrawing '%s'", pub->name);
            s_publication_destroy (pub);
            return;
        }
        pub = (s_publication_t *) zlistx_next (self->publications);
    }
}

//  --------------------------------------------------------------------------
//  Browsing and resolving

static void s_connect_when_settled (colugo__dnssd_t *self);

static bool
s_has_resolver (const s_remote_t *remote)
{
    return remote->resolver.fast || remote->resolver.legacy;
}

//  Frees the remote's resolver (avahi-client's only while the client
//  lives: freeing the client frees it).
static void
s_resolver_drop (colugo__dnssd_t *self, s_remote_t *remote)
{
    colugo__resolver_free (&remote->resolver.fast);
    if (remote->resolver.legacy && !self->closing)
        avahi_service_resolver_free (remote->resolver.legacy);
    remote->resolver.legacy = NULL;
}

//  The resolver slots of the remote's kind.
static s_slots_t *
s_slots (colugo__dnssd_t *self, s_remote_t *remote)
{
    return &self->slots [remote->node ? 1 : 0];
}

static void
s_remote_stop_resolving (s_remote_t *remote)
{
    colugo__dnssd_t *self = remote->owner;
    if (s_has_resolver (remote)) {
        s_resolver_drop (self, remote);
        if (remote->watching)
            self->watching--;
        else
            s_slots (self, remote)->resolving--;
    }
    remote->watching = false;
    remote->waiting = false;
    s_cancel (self, &remote->deadline);
    s_cancel (self, &remote->retry);
    if (remote->queued)
        zlistx_delete (s_slots (self, remote)->queue, remote->queued);
    remote->queued = NULL;
}

static void
s_send_down (colugo__dnssd_t *self, s_remote_t *remote)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, remote->node ? COLUGO__DNSSD_NODE_DOWN : COLUGO__DNSSD_DOWN);
    colugo__frame_put_string (&frame, remote->name);
    s_send (self, &frame);
    free (remote->reported);
    remote->reported = NULL;
}

//  Tells the loop that a service's name is browsed, or no longer.
static void
s_send_seen (colugo__dnssd_t *self, s_remote_t *remote, bool seen)
{
    if (remote->node)
        return;
    colugo__frame_t frame;
    colugo__frame_init (&frame, seen ? COLUGO__DNSSD_SEEN : COLUGO__DNSSD_UNSEEN);
    colugo__frame_put_string (&frame, remote->name);
    s_send (self, &frame);
}

//  Forgets a remote service, telling the loop if it had been reported up.
static void
s_remote_forget (colugo__dnssd_t *self, s_remote_t *remote)
{
    s_remote_stop_resolving (remote);
    if (remote->state == S_RESOLVED) {
        char name [S_ESCAPED];
        s_log (self, COLUGO_LOG_INFO, "service '%s' is gone",
               colugo__escape (remote->name, name, sizeof name));
        s_send_down (self, remote);
    }
    s_send_seen (self, remote, false);
    zhashx_delete (self->remotes, remote->key);
    s_resolve_next (self);
}

//  The node uuid an instance name ends in ("..._<uuid>", as every Colugo
//  name: dnssd_records.h), or NULL.
static const char *
s_name_uuid (const char *name)
{
    const char *mark = NULL;
    for (const char *at = strstr (name, "._"); at; at = strstr (at + 1, "._"))
        mark = at;
    if (!mark || !mark [2] || strchr (mark + 2, '.') || strlen (mark + 2) > COLUGO__UUID_MAX)
        return NULL;
    return mark + 2;
}

static void
s_list_destructor (void **item)
{
    zlistx_destroy ((zlistx_t **) item);
}

//  Lists a new remote under the node uuid its name ends in.
static void
s_name_remote (colugo__dnssd_t *self, s_remote_t *remote)
{
    const char *uuid = s_name_uuid (remote->name);
    if (!uuid)
        return;
    zlistx_t *named = (zlistx_t *) zhashx_lookup (self->by_uuid, uuid);
    if (!named && (named = zlistx_new ()) && zhashx_insert (self->by_uuid, uuid, named))
        zlistx_destroy (&named);
    remote->named = named ? zlistx_add_end (named, remote) : NULL;
}

//  Whether a node record of the node a service names is browsed now: that
//  node tells its services over its link (nodelink.h).
static bool
s_node_browsed (colugo__dnssd_t *self, const char *name)
{
    const char *uuid = s_name_uuid (name);
    zlistx_t *named = uuid ? (zlistx_t *) zhashx_lookup (self->by_uuid, uuid) : NULL;
    for (s_remote_t *remote = named ? (s_remote_t *) zlistx_first (named) : NULL; remote;
         remote = (s_remote_t *) zlistx_next (named))
        if (remote->node && remote->seen_count > 0)
            return true;
    return false;
}

//  A service of a node whose record is browsed: the node tells of it over
//  its link, sooner or later, and a resolve would only cost the daemon
//  (and its every other client) what the notice gives. It is resolved if
//  no notice came in S_NOTICE_WAIT_MS (a node that cannot link, a name a
//  stranger gave with the node's uuid). Only a first look waits. Before
//  the node browser has told what the daemon's cache holds, every service
//  waits: its node's record may come next (s_release_waiting).
static bool
s_wait_for_notice (colugo__dnssd_t *self, s_remote_t *remote)
{
    if (remote->node || remote->state != S_NEW || remote->watching || remote->attempts
        || zhashx_lookup (self->noticed, remote->name)
        || (self->node_cache_told && !s_node_browsed (self, remote->name)))
        return false;
    s_remote_stop_resolving (remote);
    remote->retry = s_after (self, S_NOTICE_WAIT_MS, s_on_resolve_retry, remote);
    remote->waiting = remote->retry != NULL;
    return remote->waiting;
}

//  The node browser told what the cache holds: services that waited for a
//  node record that did not come are resolved now.
static void
s_release_waiting (colugo__dnssd_t *self)
{
    for (s_remote_t *remote = (s_remote_t *) zhashx_first (self->remotes); remote;
         remote = (s_remote_t *) zhashx_next (self->remotes))
        if (!remote->node && remote->waiting && !s_node_browsed (self, remote->name)) {
            s_cancel (self, &remote->retry);
            remote->waiting = false;
            s_resolve (self, remote);
        }
}

static void
s_remote_destructor (void **item)
{
    s_remote_t *remote = (s_remote_t *) *item;
    if (!remote)
        return;
    s_remote_stop_resolving (remote);
    if (remote->aged)
        zlistx_delete (remote->owner->by_age, remote->aged);
    if (remote->named) {
        const char *uuid = s_name_uuid (remote->name);
        zlistx_t *named = (zlistx_t *) zhashx_lookup (remote->owner->by_uuid, uuid);
        zlistx_delete (named, remote->named);
        if (zlistx_size (named) == 0)
            zhashx_delete (remote->owner->by_uuid, uuid);
    }
    free (remote->reported);
    free (remote->name);
    free (remote->key);
    free (remote->seen);
    free (remote);
    *item = NULL;
}

static void
s_on_resolve_retry (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    s_remote_t *remote = (s_remote_t *) arg;
    s_cancel (remote->owner, &remote->retry);
    remote->waiting = false;
    s_resolve (remote->owner, remote);
}

//  Counts a failed first resolve and schedules the next attempt: backing
//  off, then parked (tried once a minute) after the last one.
static void
s_resolve_failed (colugo__dnssd_t *self, s_remote_t *remote, const char *why)
{
    self->resolve_failures++;
    self->stats_dirty = true;
    unsigned suppressed = 0;
    bool log = colugo__ratelimit (&self->resolve_log, &suppressed);
    char name [S_ESCAPED];
    colugo__escape (remote->name, name, sizeof name);
    int64_t delay;
    if (remote->attempts < S_RESOLVE_ATTEMPTS)
        remote->attempts++;
    if (remote->attempts >= S_RESOLVE_ATTEMPTS) {
        delay = S_PARKED_RETRY_MS;
        if (log)
            s_log (self, COLUGO_LOG_WARN,
                   "cannot resolve service '%s' (%s): trying again in a minute, or when it is "
                   "announced again (%u more not shown)",
                   name, why, suppressed);
    }
    else {
        delay = (int64_t) S_RETRY_MS << (remote->attempts - 1);
        if (log)
            s_log (self, COLUGO_LOG_WARN,
                   "cannot resolve service '%s' (%s): retrying in %lld s (%u more not shown)", name,
                   why, (long long) delay / 1000, suppressed);
    }
    s_cancel (self, &remote->retry);
    remote->retry = s_after (self, delay, s_on_resolve_retry, remote);
}

//  Frees a resolver that answered, unless it may be kept to follow changes;
//  a service not followed is looked at again later.
static void
s_after_answer (colugo__dnssd_t *self, s_remote_t *remote)
{
    if (remote->watching)
        return;
    s_slots (self, remote)->resolving--;
    if (self->watching < S_WATCHED_MAX) {
        remote->watching = true;
        self->watching++;
        return;
    }
    s_resolver_drop (self, remote);
    s_cancel (self, &remote->retry);
    remote->retry = s_after (self, S_RELOOK_MS, s_on_resolve_retry, remote);
}

//  Counts and logs (once per change) a record judged not valid.
static void
s_invalid (colugo__dnssd_t *self, s_remote_t *remote, const char *host, const char *why)
{
    if (remote->state == S_INVALID)
        return;  //  judged so already: counted and logged once
    if (remote->state == S_RESOLVED)
        s_send_down (self, remote);
    remote->state = S_INVALID;
    self->services_invalid++;
    self->stats_dirty = true;
    unsigned suppressed;
    char name [S_ESCAPED], host_text [S_ESCAPED];
    if (colugo__ratelimit (&self->invalid_log, &suppressed))
        s_log (self, COLUGO_LOG_WARN, "ignoring %s '%s' on host '%s': %s (%u more not shown)",
               remote->node ? "node record" : "service",
               colugo__escape (remote->name, name, sizeof name),
               colugo__escape (host ? host : "?", host_text, sizeof host_text), why, suppressed);
}

//  Sends what was resolved, unless it was sent so already.
static void
s_report (colugo__dnssd_t *self, s_remote_t *remote, const colugo__frame_t *frame)
{
    if (remote->reported && remote->reported_size == frame->size
        && memcmp (remote->reported, frame->data, frame->size) == 0)
        return;  //  announced again, nothing changed
    //  The loop takes an UP for a name it knows as the old one going down.
    remote->state = S_RESOLVED;
    s_send (self, frame);
    free (remote->reported);
    remote->reported = malloc (frame->size);  //  kept whole only if there is memory
    remote->reported_size = remote->reported ? frame->size : 0;
    if (remote->reported)
        memcpy (remote->reported, frame->data, frame->size);
}

//  Where a record points: its address, or loopback for a record of this
//  host (avahi-daemon's own, at an address of this network namespace: not
//  a container's host, say, whose daemon it shares) that names a Colugo
//  socket, which listens on every address. The nodes on this host link
//  over loopback (they find each other by their marks too: hostnodes.h),
//  so their notices come from 127.0.0.1, and a record must name the same
//  endpoint as its notice.
static void
s_record_address (colugo__dnssd_t *self, const AvahiAddress *address, AvahiLookupResultFlags flags,
                  bool colugo, char *text, size_t size)
{
    if (colugo && (flags & AVAHI_LOOKUP_RESULT_LOCAL)
        && colugo__address_ours (&self->addresses, address))
        snprintf (text, size, "127.0.0.1");
    else
        avahi_address_snprint (text, size, address);
}

//  A node record: where the node's inbox listens (nodelink.h).
static void
s_judge_node (colugo__dnssd_t *self, s_remote_t *remote, AvahiIfIndex interface, const char *host,
              const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
              AvahiLookupResultFlags flags)
{
    char *uuid = NULL, *node_name = NULL;
    uint64_t socket_id = 0;
    const char *why = colugo__node_txt_parse (txt, &uuid, &node_name, &socket_id);
    if (!why)
        why = colugo__address_check (&self->addresses, interface, address,
                                     flags & AVAHI_LOOKUP_RESULT_LOCAL);
    if (!why && port == 0)
        why = "port 0";
    if (why) {
        free (uuid);
        free (node_name);
        s_invalid (self, remote, host, why);
        return;
    }
    char text [AVAHI_ADDRESS_STR_MAX], endpoint [AVAHI_ADDRESS_STR_MAX + 16],
        identity [COLUGO__UUID_MAX + 24];
    s_record_address (self, address, flags, true, text, sizeof text);
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", text, port);
    snprintf (identity, sizeof identity, "%s:%llu", uuid, (unsigned long long) socket_id);
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_NODE_UP);
    colugo__frame_put_string (&frame, remote->name);
    colugo__frame_put_string (&frame, uuid);
    colugo__frame_put_string (&frame, node_name);
    colugo__frame_put_string (&frame, endpoint);
    colugo__frame_put_string (&frame, identity);
    free (uuid);
    free (node_name);
    s_report (self, remote, &frame);
}

static void
s_judge (colugo__dnssd_t *self, s_remote_t *remote, AvahiIfIndex interface, const char *host,
         const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
         AvahiLookupResultFlags flags)
{
    if (remote->node) {
        s_judge_node (self, remote, interface, host, address, port, txt, flags);
        return;
    }
    colugo__txt_record_t record;
    const char *why = colugo__txt_parse (txt, &record);
    if (!why)
        why = colugo__address_check (&self->addresses, interface, address,
                                     flags & AVAHI_LOOKUP_RESULT_LOCAL);
    if (!why && port == 0)
        why = "port 0";
    char name [S_ESCAPED], host_text [S_ESCAPED];
    colugo__escape (remote->name, name, sizeof name);
    colugo__escape (host ? host : "?", host_text, sizeof host_text);
    if (why) {
        colugo__txt_record_free (&record);
        s_invalid (self, remote, host, why);
        return;
    }
    char text [AVAHI_ADDRESS_STR_MAX], endpoint [AVAHI_ADDRESS_STR_MAX + 16],
        verified [AVAHI_ADDRESS_STR_MAX + 16] = "", identity [COLUGO__UUID_MAX + 24] = "",
                                          trunk [AVAHI_ADDRESS_STR_MAX + 16] = "",
                                          trunk_identity [COLUGO__UUID_MAX + 24] = "";
    s_record_address (self, address, flags, record.verified_port && record.socket_id, text,
                      sizeof text);
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", text, port);
    if (record.verified_port)
        snprintf (verified, sizeof verified, "tcp://%s:%u", text, record.verified_port);
    if (record.socket_id)
        snprintf (identity, sizeof identity, "%s:%llu", record.node_uuid,
                  (unsigned long long) record.socket_id);
    if (record.trunk_port) {
        snprintf (trunk, sizeof trunk, "tcp://%s:%u", text, record.trunk_port);
        snprintf (trunk_identity, sizeof trunk_identity, "%s:%llu", record.node_uuid,
                  (unsigned long long) record.trunk_id);
    }
    colugo__frame_t frame_buffer, *frame = &frame_buffer;
    colugo__frame_init (frame, COLUGO__DNSSD_UP);
    colugo__frame_put_string (frame, remote->name);
    colugo__frame_put_string (frame, record.topic);
    colugo__frame_put_number (frame, (uint64_t) record.socket_type);
    colugo__frame_put_string (frame, record.node_uuid);
    colugo__frame_put_string (frame, record.node_name);
    colugo__frame_put_string (frame, host ? host : "");
    colugo__frame_put_string (frame, endpoint);
    colugo__frame_put_string (frame, record.type);
    colugo__frame_put_string (frame, identity);
    colugo__frame_put_string (frame, verified);
    colugo__frame_put_string (frame, trunk);
    colugo__frame_put_string (frame, trunk_identity);
    colugo__frame_put_number (frame, record.trunk_key);
    char topic [S_ESCAPED];
    colugo__escape (record.topic, topic, sizeof topic);
    bool publisher = record.socket_type == ZMQ_PUB;
    colugo__txt_record_free (&record);
    if (remote->reported && remote->reported_size == frame->size
        && memcmp (remote->reported, frame->data, frame->size) == 0)
        return;  //  announced again, nothing changed
    if (remote->state == S_RESOLVED)
        s_log (self, COLUGO_LOG_INFO, "service '%s' changed: now %s", name, endpoint);
    else
        s_log (self, COLUGO_LOG_INFO, "found service '%s': topic '%s', %s at %s", name, topic,
               publisher ? "publisher" : "server", endpoint);
    s_report (self, remote, frame);
}

//  What either resolver reports; why: the reason of a FAILURE.
static void
s_on_resolve (s_remote_t *remote, AvahiIfIndex interface, AvahiResolverEvent event,
              const char *host, const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
              AvahiLookupResultFlags flags, const char *why)
{
    colugo__dnssd_t *self = remote->owner;
    s_cancel (self, &remote->deadline);
    if (event != AVAHI_RESOLVER_FOUND) {
        bool answered = remote->watching;
        s_resolver_drop (self, remote);
        if (answered)
            self->watching--;
        else
            s_slots (self, remote)->resolving--;
        remote->watching = false;
        s_resolve_next (self);
        if (remote->state == S_NEW)
            s_resolve_failed (self, remote, why);
        else if (!remote->retry) {
            //  Its records went, or are being replaced (a moved address is
            //  seen after the old one expires): look again soon, then less
            //  often (1, 2, 4, 8, 16, 30 s) while it keeps failing.
            int64_t delay = (int64_t) S_RETRY_MS << (remote->relooks < 5 ? remote->relooks : 5);
            remote->relooks++;
            remote->retry = s_after (self, delay < S_RELOOK_MS ? delay : S_RELOOK_MS,
                                     s_on_resolve_retry, remote);
        }
        return;
    }
    if (!remote->node && !remote->watching) {
        self->services_resolved++;
        self->stats_dirty = true;
    }
    remote->attempts = 0;
    remote->relooks = 0;
    s_judge (self, remote, interface, host, address, port, txt, flags);
    s_after_answer (self, remote);
    s_resolve_next (self);
    s_connect_when_settled (self);
}

static void
s_on_fast_resolve (colugo__resolver_t *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
                   AvahiResolverEvent event, const char *name, const char *type, const char *domain,
                   const char *host, const AvahiAddress *address, uint16_t port,
                   AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg)
{
    (void) protocol;
    (void) name;
    (void) type;
    (void) domain;
    s_remote_t *remote = (s_remote_t *) arg;
    if (resolver == remote->resolver.fast)
        s_on_resolve (remote, interface, event, host, address, port, txt, flags,
                      avahi_strerror (colugo__resolver_errno (resolver)));
}

static void
s_on_legacy_resolve (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
                     AvahiResolverEvent event, const char *name, const char *type,
                     const char *domain, const char *host, const AvahiAddress *address,
                     uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg)
{
    (void) protocol;
    (void) name;
    (void) type;
    (void) domain;
    s_remote_t *remote = (s_remote_t *) arg;
    if (resolver && resolver == remote->resolver.legacy)
        s_on_resolve (remote, interface, event, host, address, port, txt, flags,
                      s_avahi_error (remote->owner));
}

//  A name that has not resolved in time frees its slot for others.
static void
s_on_resolve_deadline (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    s_remote_t *remote = (s_remote_t *) arg;
    colugo__dnssd_t *self = remote->owner;
    s_cancel (self, &remote->deadline);
    if (s_has_resolver (remote)) {
        s_resolver_drop (self, remote);
        s_slots (self, remote)->resolving--;
    }
    if (remote->state == S_NEW)
        s_resolve_failed (self, remote, "no answer in time");
    else if (!remote->retry)
        remote->retry = s_after (self, S_RELOOK_MS, s_on_resolve_retry, remote);
    s_resolve_next (self);
}

//  Resolves a service now, or queues it for a free resolver slot. At most
//  one resolver, retry or queue place per name at a time.
static void
s_resolve (colugo__dnssd_t *self, s_remote_t *remote)
{
    if ((!self->client && self->no_server2) || s_has_resolver (remote) || remote->retry
        || remote->queued || remote->seen_count == 0
        || (!remote->node && zhashx_lookup (self->noticed, remote->name)))
        return;
    //  On the connection of the browser that found it, where there is one;
    //  when ours failed and waits for its retry, the names are reported
    //  again by the new one, and resolved then.
    colugo__browser_t *browser = remote->node ? self->node_browser.fast : self->browser.fast;
    if (!self->no_server2 && !browser)
        return;
    s_slots_t *slots = s_slots (self, remote);
    if (slots->resolving >= slots->max) {
        remote->queued = remote->attempts == 0 && remote->state == S_NEW
                             ? zlistx_add_start (slots->queue, remote)
                             : zlistx_add_end (slots->queue, remote);
        if (!remote->queued)
            s_resolve_failed (self, remote, "out of memory");
        return;
    }
    const char *type = remote->node ? COLUGO__NODE_SERVICE_TYPE : COLUGO__SERVICE_TYPE;
    if (browser) {
        int error = 0;
        remote->resolver.fast = colugo__resolver_new (
            browser, remote->seen [0].interface, remote->seen [0].protocol, remote->name, type,
            "local", AVAHI_PROTO_INET, 0, s_on_fast_resolve, remote, &error);
        if (!remote->resolver.fast) {
            s_resolve_failed (self, remote, avahi_strerror (error));
            return;
        }
    }
    else {
        remote->resolver.legacy = avahi_service_resolver_new (
            self->client, remote->seen [0].interface, remote->seen [0].protocol, remote->name, type,
            "local", AVAHI_PROTO_INET, 0, s_on_legacy_resolve, remote);
        if (!remote->resolver.legacy) {
            s_resolve_failed (self, remote, s_avahi_error (self));
            return;
        }
    }
    slots->resolving++;
    remote->deadline = s_after (self, S_RESOLVE_DEADLINE_MS, s_on_resolve_deadline, remote);
}

//  Gives free resolver slots to the names that wait, of each kind: the
//  newest and the oldest in turn.
static void
s_resolve_next (colugo__dnssd_t *self)
{
    for (size_t kind = 0; kind < 2; kind++) {
        s_slots_t *slots = &self->slots [kind];
        while (slots->resolving < slots->max && zlistx_size (slots->queue)) {
            //  zlistx_first and zlistx_last move the cursor to the one taken.
            if (slots->take_tail)
                zlistx_last (slots->queue);
            else
                zlistx_first (slots->queue);
            s_remote_t *remote =
                (s_remote_t *) zlistx_detach (slots->queue, zlistx_cursor (slots->queue));
            slots->take_tail = !slots->take_tail;
            if (!remote)
                break;
            remote->queued = NULL;
            s_resolve (self, remote);
        }
    }
}

//  The table is full: the oldest name that is neither resolved nor being
//  resolved gives way, one that was tried before if there is one.
static bool
s_evict_one (colugo__dnssd_t *self)
{
    s_remote_t *untried = NULL;
    for (s_remote_t *remote = (s_remote_t *) zlistx_first (self->by_age); remote;
         remote = (s_remote_t *) zlistx_next (self->by_age)) {
        if (remote->state == S_RESOLVED || s_has_resolver (remote))
            continue;
        if (remote->attempts > 0 || remote->state == S_INVALID) {
            untried = remote;
            break;
        }
        if (!untried)
            untried = remote;
    }
    if (!untried)
        return false;
    s_send_seen (self, untried, false);
    zhashx_delete (self->remotes, untried->key);
    return true;
}

static void
s_on_sweep (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_cancel (self, &self->sweep);
    self->sweep_after_browse = false;
    zlistx_t *names = zhashx_keys (self->remotes);
    if (!names)
        return;
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names)) {
        s_remote_t *remote = (s_remote_t *) zhashx_lookup (self->remotes, name);
        if (remote && remote->stale)
            s_remote_forget (self, remote);
    }
    zlistx_destroy (&names);
}

static bool
s_browsing (const s_browser_t *browser)
{
    return browser->fast || browser->legacy;
}

//  Frees a browser (avahi-client's only while the client lives).
static void
s_browser_free (colugo__dnssd_t *self, s_browser_t *browser)
{
    colugo__browser_free (&browser->fast);
    if (browser->legacy && self->client && !self->closing)
        avahi_service_browser_free (browser->legacy);
    browser->legacy = NULL;
}

static void
s_free_failed_browsers (colugo__dnssd_t *self)
{
    s_browser_free (self, &self->failed_browser);
    s_browser_free (self, &self->failed_node_browser);
}

static void
s_on_browse_retry (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_cancel (self, &self->browse_retry);
    //  Outside its own callback now: the failed browsers can go.
    s_free_failed_browsers (self);
    s_browse (self);
}

//  A remote's key in self->remotes: "N" for a node record, "S" for a
//  service, then the instance name.
#define S_KEY_MAX (AVAHI_LABEL_MAX + 2)
static const char *
s_remote_key (char *key, bool node, const char *name)
{
    snprintf (key, S_KEY_MAX, "%c%s", node ? 'N' : 'S', name);
    return key;
}

static void
s_on_browse_new (colugo__dnssd_t *self, AvahiIfIndex interface, AvahiProtocol protocol,
                 const char *name, bool node)
{
    char escaped [S_ESCAPED], key [S_KEY_MAX];
    s_remote_key (key, node, name);
    s_remote_t *remote = (s_remote_t *) zhashx_lookup (self->remotes, key);
    if (!remote && zhashx_size (self->remotes) >= S_REMOTES_MAX && !s_evict_one (self)) {
        self->resolve_failures++;
        self->stats_dirty = true;
        unsigned suppressed;
        if (colugo__ratelimit (&self->resolve_log, &suppressed))
            s_log (self, COLUGO_LOG_WARN,
                   "%d services of type %s resolved already: ignoring '%s' (%u more not shown)",
                   S_REMOTES_MAX, COLUGO__SERVICE_TYPE,
                   colugo__escape (name, escaped, sizeof escaped), suppressed);
        return;
    }
    if (!remote) {
        remote = calloc (1, sizeof *remote);
        if (!remote || !(remote->name = strdup (name)) || !(remote->key = strdup (key))) {
            if (remote)
                free (remote->name);
            free (remote);
            s_log (self, COLUGO_LOG_ERROR, "out of memory: ignoring service '%s'",
                   colugo__escape (name, escaped, sizeof escaped));
            return;
        }
        remote->owner = self;
        remote->node = node;
        remote->aged = zlistx_add_end (self->by_age, remote);
        if (!remote->aged || zhashx_insert (self->remotes, key, remote)) {
            if (remote->aged)
                zlistx_delete (self->by_age, remote->aged);
            free (remote->name);
            free (remote->key);
            free (remote);
            return;
        }
        s_name_remote (self, remote);
    }
    for (size_t i = 0; i < remote->seen_count; i++)
        if (remote->seen [i].interface == interface && remote->seen [i].protocol == protocol)
            return;
    s_seen_t *seen = realloc (remote->seen, (remote->seen_count + 1) * sizeof *seen);
    if (!seen)
        return;
    remote->seen = seen;
    remote->seen [remote->seen_count++] = (s_seen_t){interface, protocol};
    if (remote->seen_count == 1)
        s_send_seen (self, remote, true);
    //  A node record first seen after its node's services (the daemon
    //  reports them in any order): their first resolves wait too.
    zlistx_t *named = node && remote->seen_count == 1 && remote->named
                          ? (zlistx_t *) zhashx_lookup (self->by_uuid, s_name_uuid (name))
                          : NULL;
    for (s_remote_t *other = named ? (s_remote_t *) zlistx_first (named) : NULL; other;
         other = (s_remote_t *) zlistx_next (named))
        if (other->seen_count > 0 && (s_has_resolver (other) || other->queued))
            s_wait_for_notice (self, other);
    if (named)
        s_resolve_next (self);  //  the slots they held
    remote->stale = false;
    //  Announced again: a parked, invalid or unfollowed name is looked at
    //  again at once (one that waits for its notice still waits: seen on
    //  another interface or protocol, IPv6 say, it is the same service).
    if (!s_has_resolver (remote) && !remote->waiting) {
        if (remote->attempts >= S_RESOLVE_ATTEMPTS)
            remote->attempts = 0;
        s_cancel (self, &remote->retry);
    }
    bool noticed = !node && zhashx_lookup (self->noticed, name);
    bool wait = remote->waiting
                || (!noticed && remote->seen_count == 1 && s_wait_for_notice (self, remote));
    s_log (self, COLUGO_LOG_DEBUG, "new %s '%s': %s", node ? "node record" : "service",
           colugo__escape (name, escaped, sizeof escaped),
           noticed ? "told of directly, not resolved"
           : wait  ? "waiting for its node's notice"
                   : "resolving");
    if (!wait)
        s_resolve (self, remote);
}

//  Whether an instance name is one of ours: every name we publish ends in
//  our uuid (a stranger's that does claims to be us, and is ignored too).
static bool
s_ours (colugo__dnssd_t *self, const char *name)
{
    size_t length = strlen (name), uuid_length = strlen (self->node_uuid);
    return length > uuid_length + 2 && name [length - uuid_length - 1] == '_'
           && name [length - uuid_length - 2] == '.'
           && strcmp (name + length - uuid_length, self->node_uuid) == 0;
}

static void
s_on_browse (colugo__dnssd_t *self, bool node, AvahiIfIndex interface, AvahiProtocol protocol,
             AvahiBrowserEvent event, const char *name, AvahiLookupResultFlags flags,
             const char *why)
{
    if (event == AVAHI_BROWSER_FAILURE) {
        s_log (self, COLUGO_LOG_ERROR, "browsing for %s failed: %s; retrying",
               node ? COLUGO__NODE_SERVICE_TYPE : COLUGO__SERVICE_TYPE, why);
        //  Not freed from its own callback: the retry frees it.
        if (node) {
            self->failed_node_browser = self->node_browser;
            self->node_browser = (s_browser_t){0};
        }
        else {
            self->failed_browser = self->browser;
            self->browser = (s_browser_t){0};
        }
        if (!self->browse_retry)
            self->browse_retry = s_after (self, S_RETRY_MS, s_on_browse_retry, self);
        return;
    }
    if (event == AVAHI_BROWSER_CACHE_EXHAUSTED || event == AVAHI_BROWSER_ALL_FOR_NOW) {
        bool first = node && !self->node_cache_told;
        *(node ? &self->node_cache_told : &self->cache_told) = true;
        if (first)
            s_release_waiting (self);
        s_connect_when_settled (self);
    }
    if (event == AVAHI_BROWSER_ALL_FOR_NOW) {
        if (self->sweep_after_browse && !self->sweep)
            self->sweep = s_after (self, S_SWEEP_MS, s_on_sweep, self);
        return;
    }
    if (event != AVAHI_BROWSER_NEW && event != AVAHI_BROWSER_REMOVE)
        return;
    //  Ours: the node connects its own sockets directly. Every name we
    //  publish ends in our uuid (a stranger's that does claims to be us);
    //  our browser's connection publishes nothing, so the daemon never says
    //  OUR_OWN to it: a local name among our publications is ours too.
    if ((flags & AVAHI_LOOKUP_RESULT_OUR_OWN) || s_ours (self, name)
        || ((flags & AVAHI_LOOKUP_RESULT_LOCAL) && s_name_taken (self, NULL, name)))
        return;
    if (event == AVAHI_BROWSER_NEW) {
        s_on_browse_new (self, interface, protocol, name, node);
        return;
    }
    char key [S_KEY_MAX];
    s_remote_t *remote =
        (s_remote_t *) zhashx_lookup (self->remotes, s_remote_key (key, node, name));
    if (!remote)
        return;
    for (size_t i = 0; i < remote->seen_count; i++)
        if (remote->seen [i].interface == interface && remote->seen [i].protocol == protocol) {
            remote->seen [i] = remote->seen [--remote->seen_count];
            break;
        }
    if (remote->seen_count == 0)
        s_remote_forget (self, remote);
}

static void
s_on_fast_browse (colugo__browser_t *browser, AvahiIfIndex interface, AvahiProtocol protocol,
                  AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
                  AvahiLookupResultFlags flags, void *arg)
{
    (void) type;
    (void) domain;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    bool node = browser == self->node_browser.fast;
    if (!browser || (!node && browser != self->browser.fast))
        return;
    s_on_browse (self, node, interface, protocol, event, name, flags,
                 avahi_strerror (colugo__browser_errno (browser)));
}

static void
s_on_legacy_browse (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
                    AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
                    AvahiLookupResultFlags flags, void *arg)
{
    (void) type;
    (void) domain;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    bool node = browser == self->node_browser.legacy;
    if (!browser || (!node && browser != self->browser.legacy))
        return;
    s_on_browse (self, node, interface, protocol, event, name, flags, s_avahi_error (self));
}

//  Browses for type into *browser, unless it browses already or its failed
//  browser waits to be freed.
//  running: avahi-client's connection runs (ours needs none; avahi-client's
//  browser does, and without one a failure is the client's to retry).
static void
s_browse_type (colugo__dnssd_t *self, s_browser_t *browser, const s_browser_t *failed,
               const char *type, bool running)
{
    if (s_browsing (browser) || s_browsing (failed))
        return;
    int error = AVAHI_ERR_NOT_SUPPORTED;
    if (!self->no_server2)
        browser->fast = colugo__browser_new (self->api, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, type,
                                             "local", 0, s_on_fast_browse, self, &error);
    if (!browser->fast && error == AVAHI_ERR_NOT_SUPPORTED) {
        if (!self->no_server2)
            s_log (self, COLUGO_LOG_INFO,
                   "avahi-daemon has no Server2 interface: browsing "
                   "through avahi-client (new services are heard of "
                   "about 10 ms later)");
        self->no_server2 = true;
        if (!running)
            return;
        browser->legacy =
            avahi_service_browser_new (self->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, type,
                                       "local", 0, s_on_legacy_browse, self);
        error = browser->legacy ? 0 : avahi_client_errno (self->client);
    }
    if (!s_browsing (browser) && running) {
        s_log (self, COLUGO_LOG_ERROR, "cannot browse for %s: %s; retrying", type,
               avahi_strerror (error));
        if (!self->browse_retry)
            self->browse_retry = s_after (self, S_RETRY_MS, s_on_browse_retry, self);
    }
}

//  Node records first: a node learns of the nodes running, and tells them
//  of its services directly, before the multicast announcement goes out.
static void
s_browse (colugo__dnssd_t *self)
{
    bool running = self->client && avahi_client_get_state (self->client) == AVAHI_CLIENT_S_RUNNING;
    if (!running && self->no_server2)
        return;
    s_browse_type (self, &self->node_browser, &self->failed_node_browser, COLUGO__NODE_SERVICE_TYPE,
                   running);
    s_browse_type (self, &self->browser, &self->failed_browser, COLUGO__SERVICE_TYPE, running);
}

//  --------------------------------------------------------------------------
//  The client and the daemon coming and going

//  The daemon went away: every browser, resolver and group is void. Keep
//  what was resolved (connections stay up, heartbeats judge them), marked
//  stale until the next browse sees it again.
static void
s_daemon_lost (colugo__dnssd_t *self)
{
    s_browser_free (self, &self->browser);
    s_browser_free (self, &self->node_browser);
    s_free_failed_browsers (self);
    s_publication_t *pub = (s_publication_t *) zlistx_first (self->publications);
    while (pub) {
        s_publication_unpublish (pub);
        pub = (s_publication_t *) zlistx_next (self->publications);
    }
    zlistx_t *names = zhashx_keys (self->remotes);
    for (char *name = names ? (char *) zlistx_first (names) : NULL; name;
         name = (char *) zlistx_next (names)) {
        s_remote_t *remote = (s_remote_t *) zhashx_lookup (self->remotes, name);
        s_remote_stop_resolving (remote);
        remote->seen_count = 0;
        //  What the loop holds up (resolved, or told of directly) stays
        //  until the sweep, if the new browse does not see it again.
        if (remote->state == S_RESOLVED
            || (!remote->node && zhashx_lookup (self->noticed, remote->name)))
            remote->stale = true;
        else {
            s_send_seen (self, remote, false);
            zhashx_delete (self->remotes, name);
        }
    }
    zlistx_destroy (&names);
    //  A sweep armed after an earlier restart would forget live services
    //  that this browse has not reported yet.
    s_cancel (self, &self->sweep);
    self->sweep_after_browse = false;
    self->lost = true;
}

static void
s_on_reconnect (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_cancel (self, &self->reconnect);
    if (self->client) {
        s_free_failed_browsers (self);
        avahi_client_free (self->client);
        self->client = NULL;
    }
    if (s_client_connect (self))
        self->reconnect = s_after (self, S_RETRY_MS, s_on_reconnect, self);
}

static void
s_on_client (AvahiClient *client, AvahiClientState state, void *arg)
{
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    self->client = client;  //  this may run inside avahi_client_new ()
    switch (state) {
        case AVAHI_CLIENT_S_RUNNING: {
            if (self->lost && self->was_running) {
                self->daemon_restarts++;
                self->stats_dirty = true;
                s_log (self, COLUGO_LOG_WARN,
                       "avahi-daemon is back: advertising and browsing again");
            }
            else if (self->lost)
                s_log (self, COLUGO_LOG_INFO, "avahi-daemon is running now");
            if (!self->was_running)
                s_send_state (self, COLUGO__DNSSD_RUNNING);
            s_tell_present (self);
            self->was_running = true;
            self->sweep_after_browse = self->lost;
            self->lost = false;
            s_browse (self);
            s_publication_t *pub = (s_publication_t *) zlistx_first (self->publications);
            while (pub) {
                if (!pub->group)
                    s_publish (self, pub);
                pub = (s_publication_t *) zlistx_next (self->publications);
            }
            break;
        }
        case AVAHI_CLIENT_S_REGISTERING:
        case AVAHI_CLIENT_S_COLLISION: {
            //  The host name is being (re)registered: records must go and
            //  come back once the client runs again.
            s_publication_t *pub = (s_publication_t *) zlistx_first (self->publications);
            while (pub) {
                s_publication_unpublish (pub);
                pub = (s_publication_t *) zlistx_next (self->publications);
            }
            break;
        }
        case AVAHI_CLIENT_CONNECTING:
            //  AVAHI_CLIENT_NO_FAIL takes a daemon whose first calls timed
            //  out (stalled by a flood of names) for one that is absent,
            //  and waits for it to appear on the bus, which a running daemon
            //  never does again. Our own browsers have their answers from
            //  it: keep them, and connect avahi-client again.
            if (!self->was_running && (self->node_browser.fast || self->browser.fast)) {
                s_log (self, COLUGO_LOG_WARN,
                       "avahi-client's first calls to avahi-daemon timed out; connecting again");
                if (!self->reconnect)
                    self->reconnect = s_after (self, S_RETRY_MS, s_on_reconnect, self);
                break;
            }
            if (!self->lost) {
                if (self->was_running)
                    s_log (self, COLUGO_LOG_WARN,
                           "avahi-daemon went away; waiting for it to come back");
                else if (self->wait_for_daemon)
                    s_log (self, COLUGO_LOG_INFO, "avahi-daemon is not running; waiting for it");
                else
                    s_send_state (self, COLUGO__DNSSD_NO_DAEMON);
                s_daemon_lost (self);
            }
            break;
        case AVAHI_CLIENT_FAILURE:
            s_log (self, COLUGO_LOG_WARN, "lost avahi-daemon (%s); reconnecting",
                   avahi_strerror (avahi_client_errno (client)));
            s_daemon_lost (self);
            //  The client cannot be freed from its own callback.
            if (!self->reconnect)
                self->reconnect = s_after (self, S_RETRY_MS, s_on_reconnect, self);
            break;
    }
}

static int s_client_connect (colugo__dnssd_t *self);

//  The first connection of avahi-client.
static void
s_connect_first (colugo__dnssd_t *self)
{
    if (s_client_connect (self) && self->wait_for_daemon) {
        s_log (self, COLUGO_LOG_WARN, "no D-Bus system bus or avahi-daemon yet; waiting for one");
        self->reconnect = s_after (self, S_RETRY_MS, s_on_reconnect, self);
    }
}

static void
s_on_connect_soon (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_cancel (self, &self->connect_soon);
    s_connect_first (self);
}

//  The service browser, once the node records are answered (staged start:
//  see s_connect_when_settled).
static void
s_on_services_soon (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_cancel (self, &self->services_soon);
    s_browse (self);
}

//  At start, in stages, so that what a new node needs first comes first:
//  the nodes running, whose links bring their services (nodelink.h).
//  - The node browser starts alone. Once it has told what the cache holds
//    and its resolves have answered (or S_SERVICES_AFTER_MS has passed),
//    the service browser starts, from the next turn of the poll (not from
//    inside a callback): its set-up is a few D-Bus round trips in which
//    this thread hears nothing.
//  - Once both have told and every resolve has answered, avahi-client
//    connects S_CONNECT_SETTLED_MS later (or S_CONNECT_AFTER_MS after the
//    start). The pause is for the node link: what the first look found is
//    being dialled, and its handshakes and notices run on the same cores as
//    avahi-client's connection and publication, a dozen D-Bus round trips
//    through dbus-daemon and avahi-daemon. The records it holds back are
//    not seen by anyone before Avahi has probed for their names (about
//    750 ms) anyway.
//  Measured (bench/run's discovery section, 60 runs each, a new publisher's
//  first message at a running subscriber, median / p95): 27.6 / 33.4 ms
//  with neither stage, 25.2 / 29.7 with the pause alone, 21.0 / 28.2 with
//  both.
static void
s_connect_when_settled (colugo__dnssd_t *self)
{
    if (self->services_soon && self->node_cache_told && self->slots [1].resolving == 0)
        s_reschedule (self, self->services_soon, 0);
    if (self->connect_soon && !self->settled && self->node_cache_told && self->cache_told
        && self->slots [0].resolving + self->slots [1].resolving == 0) {
        self->settled = true;
        s_reschedule (self, self->connect_soon, S_CONNECT_SETTLED_MS);
    }
}

static int
s_client_connect (colugo__dnssd_t *self)
{
    int error = 0;
    AvahiClient *client =
        avahi_client_new (self->api, AVAHI_CLIENT_NO_FAIL, s_on_client, self, &error);
    if (!client) {
        s_log (self, COLUGO_LOG_DEBUG, "cannot connect to avahi-daemon: %s",
               avahi_strerror (error));
        if (!self->was_running && !self->wait_for_daemon)
            s_send_state (self, COLUGO__DNSSD_NO_DAEMON);
        return -1;
    }
    self->client = client;
    return 0;
}

//  --------------------------------------------------------------------------
//  The thread

//  The loop was told of a service directly (on), or no longer (off): while
//  on, its name is not resolved (the link gave what the record holds);
//  when off, a name still browsed is resolved as any other.
static void
s_on_noticed_command (colugo__dnssd_t *self, colugo__frame_reader_t *reader)
{
    const char *name = colugo__frame_get_string (reader);
    bool on = colugo__frame_get_number (reader) != 0;
    if (reader->bad)
        return;
    char key [S_KEY_MAX];
    s_remote_t *remote =
        (s_remote_t *) zhashx_lookup (self->remotes, s_remote_key (key, false, name));
    if (!on) {
        zhashx_delete (self->noticed, name);
        if (remote && remote->state != S_RESOLVED)
            s_resolve (self, remote);
        return;
    }
    if (zhashx_size (self->noticed) >= S_REMOTES_MAX)
        return;  //  resolved, then, as any other
    zhashx_update (self->noticed, name, self);
    if (remote && remote->state == S_NEW && !remote->watching) {
        s_remote_stop_resolving (remote);
        s_resolve_next (self);
    }
}

//  Browsing first, on connections of our own: a node that starts hears of
//  the nodes running within a few milliseconds, then of the services, and
//  avahi-client (publishing, and browsing where the daemon has no Server2)
//  connects once that first look is answered (s_connect_when_settled).
static void
s_first_look (colugo__dnssd_t *self)
{
    s_cancel (self, &self->hold);
    s_browse_type (self, &self->node_browser, &self->failed_node_browser, COLUGO__NODE_SERVICE_TYPE,
                   false);
    if (self->node_browser.fast) {
        s_tell_present (self);  //  the daemon answered
        self->services_soon = s_after (self, S_SERVICES_AFTER_MS, s_on_services_soon, self);
        self->connect_soon = s_after (self, S_CONNECT_AFTER_MS, s_on_connect_soon, self);
    }
    else {
        s_browse (self);
        s_connect_first (self);
    }
}

//  The nodes on this host that the node found by their marks (hostnodes.h)
//  did not all answer over their links in time: look anyway.
static void
s_on_hold_over (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    s_log (self, COLUGO_LOG_DEBUG, "the first look waited %d ms for the links on this host",
           self->hold_ms);
    s_first_look (self);
}

static void
s_on_commands (AvahiWatch *watch, int fd, AvahiWatchEvent events, void *arg)
{
    (void) watch;
    (void) events;
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    uint8_t data [COLUGO__DNSSD_FRAME_MAX];
    while (!self->quit) {
        ssize_t got = recv (fd, data, sizeof data, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        colugo__frame_reader_t reader;
        int kind = got > 0 ? colugo__frame_read (&reader, data, (size_t) got) : 0;
        if (kind == COLUGO__DNSSD_PUBLISH)
            s_on_publish_command (self, &reader);
        else if (kind == COLUGO__DNSSD_WITHDRAW)
            s_on_withdraw_command (self, colugo__frame_get_number (&reader));
        else if (kind == COLUGO__DNSSD_PUBLISH_NODE)
            s_on_publish_node_command (self, &reader);
        else if (kind == COLUGO__DNSSD_NOTICED)
            s_on_noticed_command (self, &reader);
        else if (kind == COLUGO__DNSSD_BEGIN) {
            if (self->hold)
                s_first_look (self);
        }
        else {  //  QUIT, the loop closed its end, or an error
            self->quit = true;
            avahi_simple_poll_quit (self->simple_poll);
        }
    }
}

//  The poll of the simple poll: time outside it is time spent on calls to
//  the daemon (or on our own work, which is short), which the loop reads.
static int
s_poll (struct pollfd *fds, unsigned int count, int timeout, void *arg)
{
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    atomic_store (&self->busy_since, 0);
    int rc = poll (fds, count, timeout);
    atomic_store (&self->busy_since, (long long) zclock_mono ());
    return rc;
}

static void
s_unref (colugo__dnssd_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) == 1)
        free (self);
}

static void *
s_thread_main (void *arg)
{
    colugo__dnssd_t *self = (colugo__dnssd_t *) arg;
    pthread_setname_np (pthread_self (), "colugo/dnssd");  //  as libzmq names its own
    //  Only the node's thread hears signals (they must stop its loop).
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    //  One question to dbus-daemon (not to avahi-daemon, which may be
    //  stalled): is there a daemon at all? Else avahi-client says so when it
    //  runs.
    bool present = colugo__dnssd_daemon_present () == 1;
    if (present)
        s_tell_present (self);
    if (self->hold_ms > 0 && present)  //  (without a daemon, links are no use yet)
        self->hold = s_after (self, self->hold_ms, s_on_hold_over, self);
    if (!self->hold)
        s_first_look (self);
    while (!self->quit) {
        s_send_stats (self);
        //  Commands first, each turn: AvahiSimplePoll runs one expired
        //  timeout per turn and then no watch, and libdbus's dispatch is
        //  such a timeout, so a busy daemon's backlog would hold the loop's
        //  commands back (names told of directly were resolved anyway,
        //  a second late, in a 20-node mesh).
        s_on_commands (self->command_watch, self->commands, AVAHI_WATCH_IN, self);
        if (self->quit || avahi_simple_poll_iterate (self->simple_poll, -1) != 0)
            break;
    }
    //  Withdraw everything (each call may wait on a stalled daemon: the loop
    //  does not wait for us).
    s_free_failed_browsers (self);
    s_browser_free (self, &self->browser);
    s_browser_free (self, &self->node_browser);
    if (self->client)
        avahi_client_free (self->client);  //  with its groups, browser and resolvers
    self->closing = true;
    s_publication_t *pub;
    while ((pub = (s_publication_t *) zlistx_detach (self->publications, NULL)))
        s_publication_destroy (pub);
    zlistx_destroy (&self->publications);
    zhashx_destroy (&self->remotes);
    zhashx_destroy (&self->noticed);
    zhashx_destroy (&self->by_uuid);
    zlistx_destroy (&self->slots [0].queue);
    zlistx_destroy (&self->slots [1].queue);
    zlistx_destroy (&self->by_age);
    colugo__host_addresses_free (&self->addresses);
    avahi_simple_poll_free (self->simple_poll);
    close (self->commands);
    close (self->events);
    free (self->node_uuid);
    free (self->node_name);
    s_unref (self);
    return NULL;
}

static bool
s_socketpair (int *ours, int *theirs)
{
    int fds [2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds))
        return false;
    *ours = fds [0];
    *theirs = fds [1];
    fcntl (fds [1], F_SETFL, fcntl (fds [1], F_GETFL) | O_NONBLOCK);
    return true;
}

colugo__dnssd_t *
colugo__dnssd_start (const colugo__dnssd_config_t *config, int *commands, int *events)
{
    colugo__dnssd_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    atomic_init (&self->refs, 2);
    atomic_init (&self->busy_since, (long long) zclock_mono ());
    self->commands = self->events = *commands = *events = -1;
    self->node_uuid = strdup (config->node_uuid);
    self->node_name = strdup (config->node_name);
    self->wait_for_daemon = config->wait_for_daemon;
    self->debug = config->debug;
    self->hold_ms = config->hold_ms;
    self->publications = zlistx_new ();
    self->remotes = zhashx_new ();
    self->noticed = zhashx_new ();
    self->by_uuid = zhashx_new ();
    self->by_age = zlistx_new ();
    self->slots [0] = (s_slots_t){zlistx_new (), false, 0, S_RESOLVERS_MAX};
    self->slots [1] = (s_slots_t){zlistx_new (), false, 0, S_NODE_RESOLVERS_MAX};
    self->simple_poll = avahi_simple_poll_new ();
    bool ok = self->node_uuid && self->node_name && self->publications && self->remotes
              && self->noticed && self->by_uuid && self->by_age && self->slots [0].queue
              && self->slots [1].queue && self->simple_poll
              && s_socketpair (&self->commands, commands) && s_socketpair (&self->events, events);
    if (ok) {
        zhashx_set_destructor (self->remotes, s_remote_destructor);
        zhashx_set_destructor (self->by_uuid, s_list_destructor);
        avahi_simple_poll_set_func (self->simple_poll, s_poll, self);
        self->api = avahi_simple_poll_get (self->simple_poll);
        self->command_watch =
            self->api->watch_new (self->api, self->commands, AVAHI_WATCH_IN, s_on_commands, self);
        ok = self->command_watch != NULL;
    }
    //  Created with every signal blocked, so none is ever delivered to it.
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &old);
    ok = ok && pthread_create (&self->thread, NULL, s_thread_main, self) == 0;
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (ok)
        return self;
    int fds [] = {self->commands, self->events, *commands, *events};
    for (int i = 0; i < 4; i++)
        if (fds [i] >= 0)
            close (fds [i]);
    *commands = *events = -1;
    if (self->simple_poll)
        avahi_simple_poll_free (self->simple_poll);
    zlistx_destroy (&self->publications);
    zhashx_destroy (&self->remotes);
    zhashx_destroy (&self->noticed);
    zhashx_destroy (&self->by_uuid);
    zlistx_destroy (&self->by_age);
    colugo__host_addresses_free (&self->addresses);
    zlistx_destroy (&self->slots [0].queue);
    zlistx_destroy (&self->slots [1].queue);
    free (self->node_uuid);
    free (self->node_name);
    free (self);
    return NULL;
}

int64_t
colugo__dnssd_busy_ms (colugo__dnssd_t *self)
{
    long long since = atomic_load (&self->busy_since);
    return since ? zclock_mono () - since : 0;
}

bool
colugo__dnssd_stop (colugo__dnssd_t **self_p, int timeout_ms)
{
    colugo__dnssd_t *self = *self_p;
    if (!self)
        return true;
    *self_p = NULL;
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    bool joined = pthread_timedjoin_np (self->thread, NULL, &deadline) == 0;
    if (!joined)
        pthread_detach (self->thread);  //  it ends, and frees itself, when the daemon answers
    s_unref (self);
    return joined;
}
