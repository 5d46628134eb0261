/*  discovery.c: DNS-SD through the system's avahi-daemon, on the node's loop.

    One AvahiClient (AVAHI_CLIENT_NO_FAIL, so it survives a daemon restart),
    one service browser for _colugo._tcp, a resolver per new instance, and
    one entry group per publication. What a stranger advertises is checked
    before the node hears of it; what fails the check is logged (rate
    limited) and counted, never passed on.

    Facts this file relies on (see the field notes): a browser reports a
    service once per interface and protocol, so reports are de-duplicated by
    instance name; a resolver gives up after 5 s and is retried; entry groups
    commit only while the client is RUNNING; re-committing one group within
    a second is held off, so every (re)publication gets a fresh group.
*/
#include <arpa/inet.h>
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "avahi_poll.h"
#include "colugo/error.h"
#include "colugo/topic.h"
#include "discovery.h"
#include "logging.h"

#define S_RETRY_MS 1000  //  retry a failed resolve, browse, publish or connect
#define S_SWEEP_MS 3000  //  after a daemon restart, forget what is not seen again
//  A stranger may announce thousands of names that resolve to nothing (and
//  dead hosts' names may linger in caches for an hour); each such resolve
//  holds a resolver for Avahi's 5 s timeout, and resolvers count against
//  the daemon's per-client object limit (1024). So at most S_RESOLVERS_MAX
//  run at once, the rest wait newest first (a service that appears after a
//  flood is resolved as soon as one slot frees, not after the flood),
//  failures back off (1, 2, 4, 8, 16 s), after the last attempt a name is
//  parked until it is announced again, and the table of names is capped.
#define S_RESOLVERS_MAX 64
#define S_RESOLVE_DEADLINE_MS 1500  //  ours: Avahi's resolver waits 5 s
#define S_RESOLVE_ATTEMPTS 6
#define S_REMOTES_MAX 4096
#define S_UUID_MAX 64
#define S_NODE_NAME_MAX 64
#define S_TXT_MAX 512

typedef struct {
    uint64_t id;
    char *topic;
    int socket_type;
    char *type;  //  message type, NULL if untyped
    uint16_t port;
    char *name;              //  instance name in use (renamed on collision)
    AvahiEntryGroup *group;  //  NULL while not published
    uint64_t retry;          //  timer that publishes again
    int64_t committed_at;    //  monotonic ms, for the debug log
    colugo__discovery_t *owner;
} s_publication_t;

typedef struct {
    int32_t interface;
    int32_t protocol;
} s_seen_t;

typedef enum { S_NEW, S_RESOLVED, S_INVALID } s_remote_state_t;

typedef struct {
    char *name;      //  instance name (key)
    s_seen_t *seen;  //  (interface, protocol) pairs reporting it
    size_t seen_count;
    AvahiServiceResolver *resolver;
    uint64_t retry;     //  timer that resolves again
    uint64_t deadline;  //  timer that gives up the resolver running now
    void *queued;       //  handle in the resolve queue, while waiting for a slot
    unsigned attempts;
    s_remote_state_t state;
    bool stale;                 //  reported before a daemon restart, not since
    colugo__service_t service;  //  valid in S_RESOLVED; strings below
    char *topic, *node_uuid, *node_name, *host, *endpoint, *message_type;
    colugo__discovery_t *owner;
} s_remote_t;

struct colugo__discovery {
    colugo__discovery_config_t config;
    char *node_uuid;
    char *node_name;
    colugo__avahi_poll_t *poll;
    AvahiClient *client;
    AvahiServiceBrowser *browser;
    bool lost;                //  the daemon went away since we last ran
    bool was_running;         //  the client has been RUNNING once
    bool sweep_after_browse;  //  forget stale services once browsing settles
    uint64_t reconnect;       //  timer that makes a new client
    uint64_t browse_retry;    //  timer that browses again
    uint64_t sweep;           //  timer that forgets stale services
    zlistx_t *publications;   //  s_publication_t
    uint64_t last_publication;
    zhashx_t *remotes;        //  instance name -> s_remote_t
    zlistx_t *resolve_queue;  //  s_remote_t waiting for a resolver slot, newest first
    size_t resolving;         //  resolvers running
    colugo__discovery_stats_t stats;
    colugo__ratelimit_t invalid_log;
    colugo__ratelimit_t resolve_log;
};

static void s_publish (colugo__discovery_t *self, s_publication_t *pub);
static void s_browse (colugo__discovery_t *self);
static int s_client_connect (colugo__discovery_t *self);

//  --------------------------------------------------------------------------
//  Instance names and records

void
colugo__discovery_instance_name (const char *topic, const char *node_uuid, char *buffer,
                                 size_t size)
{
    size_t room = AVAHI_LABEL_MAX - 1;  //  63 bytes in a DNS label
    if (room > size - 1)
        room = size - 1;
    size_t fixed = strlen (node_uuid) + 3;  //  "_" + "._" + uuid
    size_t topic_length = strlen (topic);
    if (fixed + topic_length <= room) {
        snprintf (buffer, size, "_%s._%s", topic, node_uuid);
        return;
    }
    //  Cut the topic at a character boundary and mark the cut; the TXT
    //  record still carries the whole topic, which is what peers match on.
    size_t keep = room > fixed + 1 ? room - fixed - 1 : 0;
    while (keep > 0 && (((unsigned char) topic [keep]) & 0xC0) == 0x80)
        keep--;
    snprintf (buffer, size, "_%.*s~._%s", (int) keep, topic, node_uuid);
}

//  Writes a textual (escaped) domain name as uncompressed DNS wire format.
//  Returns the length, or 0 if it does not fit or does not parse.
static size_t
s_wire_name (const char *name, uint8_t *out, size_t size)
{
    size_t length = 0;
    while (*name) {
        char label [AVAHI_LABEL_MAX];
        if (!avahi_unescape_label (&name, label, sizeof label))
            return 0;
        size_t label_length = strlen (label);
        if (label_length == 0)
            break;
        if (length + 1 + label_length + 1 > size)
            return 0;
        out [length++] = (uint8_t) label_length;
        memcpy (out + length, label, label_length);
        length += label_length;
    }
    if (length + 1 > size)
        return 0;
    out [length++] = 0;
    return length;
}

static const char *
s_socket_type_text (int socket_type)
{
    return socket_type == ZMQ_PUB ? "1" : "4";
}

//  --------------------------------------------------------------------------
//  Publishing

static void
s_on_publish_retry (void *arg)
{
    s_publication_t *pub = (s_publication_t *) arg;
    pub->retry = 0;
    s_publish (pub->owner, pub);
}

static void
s_publication_unpublish (s_publication_t *pub)
{
    if (pub->group)
        avahi_entry_group_free (pub->group);
    pub->group = NULL;
}

static void
s_schedule_publish (s_publication_t *pub, int64_t delay_ms)
{
    if (pub->retry)
        return;
    pub->retry = colugo__timers_add (pub->owner->config.timers, zclock_mono () + delay_ms, 0,
                                     s_on_publish_retry, pub);
}

static bool
s_name_taken (colugo__discovery_t *self, s_publication_t *except, const char *name)
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
s_rename (colugo__discovery_t *self, s_publication_t *pub)
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
    if (group != pub->group)
        return;
    switch (state) {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            colugo__debug ("published '%s' (topic '%s', port %u) in %lld ms", pub->name, pub->topic,
                           pub->port, (long long) (zclock_mono () - pub->committed_at));
            break;
        case AVAHI_ENTRY_GROUP_COLLISION:
            colugo__warn ("service name '%s' collides on the network; renaming", pub->name);
            s_rename (pub->owner, pub);
            //  A group must not be freed from its own callback: do it later.
            s_schedule_publish (pub, 0);
            break;
        case AVAHI_ENTRY_GROUP_FAILURE:
            colugo__error (
                "publishing '%s' failed: %s; retrying", pub->name,
                avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
            s_schedule_publish (pub, S_RETRY_MS);
            break;
        default: break;
    }
}

static int
s_add_records (colugo__discovery_t *self, s_publication_t *pub, AvahiEntryGroup *group)
{
    char full_name [AVAHI_DOMAIN_NAME_MAX];
    if (avahi_service_name_join (full_name, sizeof full_name, pub->name, COLUGO__SERVICE_TYPE,
                                 "local")
        < 0)
        return AVAHI_ERR_INVALID_SERVICE_NAME;
    const char *host = avahi_client_get_host_name_fqdn (self->client);
    if (!host)
        return AVAHI_ERR_INVALID_HOST_NAME;

    uint8_t ptr [AVAHI_DOMAIN_NAME_MAX], srv [AVAHI_DOMAIN_NAME_MAX + 6],
        type_ptr [AVAHI_DOMAIN_NAME_MAX], txt [S_TXT_MAX];
    size_t ptr_size = s_wire_name (full_name, ptr, sizeof ptr);
    size_t type_ptr_size = s_wire_name (COLUGO__SERVICE_TYPE ".local", type_ptr, sizeof type_ptr);
    srv [0] = srv [1] = srv [2] = srv [3] = 0;  //  priority 0, weight 0
    srv [4] = (uint8_t) (pub->port >> 8);
    srv [5] = (uint8_t) (pub->port & 0xFF);
    size_t host_size = s_wire_name (host, srv + 6, sizeof srv - 6);
    if (!ptr_size || !type_ptr_size || !host_size)
        return AVAHI_ERR_INVALID_DOMAIN_NAME;

    AvahiStringList *list = avahi_string_list_new (NULL, NULL);
    list = avahi_string_list_add_pair (list, "colugo", COLUGO__PROTOCOL_VERSION);
    list = avahi_string_list_add_pair (list, "node_name", self->node_name);
    list = avahi_string_list_add_pair (list, "node_uuid", self->node_uuid);
    list = avahi_string_list_add_pair (list, "socket_type", s_socket_type_text (pub->socket_type));
    list = avahi_string_list_add_pair (list, "topic", pub->topic);
    if (pub->type)
        list = avahi_string_list_add_pair (list, "type", pub->type);
    size_t txt_size = avahi_string_list_serialize (list, txt, sizeof txt);
    avahi_string_list_free (list);

    const AvahiPublishFlags unique = AVAHI_PUBLISH_UNIQUE | AVAHI_PUBLISH_NO_PROBE;
    int rc;
    if ((rc = avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                            COLUGO__SERVICE_TYPE ".local", AVAHI_DNS_CLASS_IN,
                                            AVAHI_DNS_TYPE_PTR, 4500, ptr, ptr_size))
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
s_publish (colugo__discovery_t *self, s_publication_t *pub)
{
    s_publication_unpublish (pub);
    if (!self->client || avahi_client_get_state (self->client) != AVAHI_CLIENT_S_RUNNING)
        return;  //  published when the client runs again
    if (!pub->name) {
        colugo__error ("publishing topic '%s': out of memory; retrying", pub->topic);
        s_schedule_publish (pub, S_RETRY_MS);
        return;
    }
    AvahiEntryGroup *group = avahi_entry_group_new (self->client, s_on_group, pub);
    if (!group) {
        colugo__error ("publishing '%s': %s; retrying", pub->name,
                       avahi_strerror (avahi_client_errno (self->client)));
        s_schedule_publish (pub, S_RETRY_MS);
        return;
    }
    pub->group = group;
    int rc = s_add_records (self, pub, group);
    if (rc == AVAHI_ERR_COLLISION) {
        colugo__warn ("service name '%s' is taken on this host; renaming", pub->name);
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
        colugo__error ("publishing '%s' (topic '%s'): %s; retrying", pub->name, pub->topic,
                       avahi_strerror (rc));
        s_publication_unpublish (pub);
        s_schedule_publish (pub, S_RETRY_MS);
    }
}

uint64_t
colugo__discovery_publish (colugo__discovery_t *self, const char *topic, int socket_type,
                           const char *type, uint16_t port)
{
    s_publication_t *pub = calloc (1, sizeof *pub);
    if (!pub)
        return 0;
    char name [AVAHI_LABEL_MAX];
    colugo__discovery_instance_name (topic, self->node_uuid, name, sizeof name);
    *pub = (s_publication_t){.id = ++self->last_publication,
                             .topic = strdup (topic),
                             .socket_type = socket_type,
                             .port = port,
                             .name = strdup (name),
                             .owner = self};
    pub->type = type ? strdup (type) : NULL;
    if (!pub->topic || !pub->name || (type && !pub->type)
        || !zlistx_add_end (self->publications, pub)) {
        free (pub->type);
        free (pub->topic);
        free (pub->name);
        free (pub);
        return 0;
    }
    if (s_name_taken (self, pub, pub->name))
        s_rename (self, pub);
    s_publish (self, pub);
    return pub->id;
}

static void
s_publication_destroy (s_publication_t *pub)
{
    s_publication_unpublish (pub);
    if (pub->retry)
        colugo__timers_cancel (pub->owner->config.timers, pub->retry);
    free (pub->topic);
    free (pub->type);
    free (pub->name);
    free (pub);
}

void
colugo__discovery_withdraw (colugo__discovery_t *self, uint64_t handle)
{
    s_publication_t *pub = (s_publication_t *) zlistx_first (self->publications);
    while (pub) {
        if (pub->id == handle) {
            zlistx_delete (self->publications, zlistx_cursor (self->publications));
            colugo__debug ("withdrawing '%s'", pub->name);
            s_publication_destroy (pub);
            return;
        }
        pub = (s_publication_t *) zlistx_next (self->publications);
    }
}

//  --------------------------------------------------------------------------
//  Browsing and resolving

static void
s_remote_stop_resolving (s_remote_t *remote)
{
    colugo__discovery_t *self = remote->owner;
    if (remote->resolver) {
        avahi_service_resolver_free (remote->resolver);
        self->resolving--;
    }
    remote->resolver = NULL;
    if (remote->deadline)
        colugo__timers_cancel (self->config.timers, remote->deadline);
    remote->deadline = 0;
    if (remote->retry)
        colugo__timers_cancel (self->config.timers, remote->retry);
    remote->retry = 0;
    if (remote->queued)
        zlistx_delete (self->resolve_queue, remote->queued);
    remote->queued = NULL;
}

static void
s_remote_free_strings (s_remote_t *remote)
{
    free (remote->topic);
    free (remote->node_uuid);
    free (remote->node_name);
    free (remote->host);
    free (remote->endpoint);
    free (remote->message_type);
    remote->topic = remote->node_uuid = remote->node_name = remote->host = remote->endpoint = NULL;
    remote->message_type = NULL;
}

static void s_resolve_next (colugo__discovery_t *self);

//  Forgets a remote service, telling the node if it had been reported up.
static void
s_remote_forget (colugo__discovery_t *self, s_remote_t *remote)
{
    s_remote_stop_resolving (remote);
    if (remote->state == S_RESOLVED) {
        colugo__info ("service '%s' (topic '%s') is gone", remote->name, remote->topic);
        self->config.on_service (self->config.arg, COLUGO__SERVICE_DOWN, &remote->service);
    }
    zhashx_delete (self->remotes, remote->name);
    s_resolve_next (self);
}

static void
s_remote_destructor (void **item)
{
    s_remote_t *remote = (s_remote_t *) *item;
    if (!remote)
        return;
    s_remote_stop_resolving (remote);
    s_remote_free_strings (remote);
    free (remote->name);
    free (remote->seen);
    free (remote);
    *item = NULL;
}

static void s_resolve (colugo__discovery_t *self, s_remote_t *remote);
static void s_resolve_failed (colugo__discovery_t *self, s_remote_t *remote, const char *why);

static void
s_on_resolve_retry (void *arg)
{
    s_remote_t *remote = (s_remote_t *) arg;
    remote->retry = 0;
    s_resolve (remote->owner, remote);
}

//  Gets a TXT value as a string; returns NULL if absent. Caller frees.
static char *
s_txt_value (AvahiStringList *txt, const char *key, bool *bad)
{
    AvahiStringList *entry = avahi_string_list_find (txt, key);
    if (!entry)
        return NULL;
    char *found_key = NULL, *value = NULL;
    size_t size = 0;
    if (avahi_string_list_get_pair (entry, &found_key, &value, &size) < 0) {
        *bad = true;
        return NULL;
    }
    avahi_free (found_key);
    if (!value || strlen (value) != size) {  //  missing, or a NUL inside
        avahi_free (value);
        *bad = true;
        return NULL;
    }
    char *copy = strdup (value);
    avahi_free (value);
    return copy;
}

//  Checks what a resolver found; fills the remote, or returns why not.
static const char *
s_check (s_remote_t *remote, const char *host, const AvahiAddress *address, uint16_t port,
         AvahiStringList *txt)
{
    bool bad = false;
    char *topic = s_txt_value (txt, "topic", &bad);
    char *socket_type = s_txt_value (txt, "socket_type", &bad);
    char *node_uuid = s_txt_value (txt, "node_uuid", &bad);
    char *node_name = s_txt_value (txt, "node_name", &bad);
    char *message_type = s_txt_value (txt, "type", &bad);
    const char *why = NULL;
    if (bad)
        why = "a TXT entry is not a string";
    else if (!topic || colugo_topic_check (topic))
        why = "no valid 'topic' in TXT";
    else if (!socket_type || (strcmp (socket_type, "1") && strcmp (socket_type, "4")))
        why = "'socket_type' in TXT is neither 1 (PUB) nor 4 (REP)";
    else if (!node_uuid || !colugo__printable_ascii (node_uuid, S_UUID_MAX))
        why = "no valid 'node_uuid' in TXT";
    else if (node_name && *node_name
             && (strlen (node_name) > S_NODE_NAME_MAX || colugo_topic_check (node_name)))
        why = "'node_name' in TXT is not short printable UTF-8";
    else if (message_type && colugo_type_check (message_type))
        why = "'type' in TXT is not 1-128 printable ASCII characters";
    else if (!address || address->proto != AVAHI_PROTO_INET)
        why = "no IPv4 address";
    else if (port == 0)
        why = "port 0";
    if (why) {
        free (topic);
        free (socket_type);
        free (node_uuid);
        free (node_name);
        free (message_type);
        return why;
    }
    char text [AVAHI_ADDRESS_STR_MAX];
    avahi_address_snprint (text, sizeof text, address);
    char endpoint [AVAHI_ADDRESS_STR_MAX + 16];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", text, port);
    s_remote_free_strings (remote);
    remote->topic = topic;
    remote->node_uuid = node_uuid;
    remote->node_name = node_name ? node_name : strdup ("");
    remote->host = strdup (host ? host : "");
    remote->endpoint = strdup (endpoint);
    remote->message_type = message_type ? message_type : strdup ("");
    int type = socket_type [0] == '1' ? ZMQ_PUB : ZMQ_REP;
    free (socket_type);
    if (!remote->node_name || !remote->host || !remote->endpoint || !remote->message_type)
        return "out of memory";
    remote->service = (colugo__service_t){.name = remote->name,
                                          .topic = remote->topic,
                                          .socket_type = type,
                                          .node_uuid = remote->node_uuid,
                                          .node_name = remote->node_name,
                                          .host = remote->host,
                                          .endpoint = remote->endpoint,
                                          .type = remote->message_type};
    return NULL;
}

static void
s_on_resolve (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
              AvahiResolverEvent event, const char *name, const char *type, const char *domain,
              const char *host, const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
              AvahiLookupResultFlags flags, void *arg)
{
    (void) interface;
    (void) protocol;
    (void) type;
    (void) domain;
    (void) flags;
    s_remote_t *remote = (s_remote_t *) arg;
    colugo__discovery_t *self = remote->owner;
    if (resolver != remote->resolver)
        return;
    avahi_service_resolver_free (resolver);
    remote->resolver = NULL;
    self->resolving--;
    colugo__timers_cancel (self->config.timers, remote->deadline);
    remote->deadline = 0;
    s_resolve_next (self);
    if (event != AVAHI_RESOLVER_FOUND) {
        s_resolve_failed (self, remote, avahi_strerror (avahi_client_errno (self->client)));
        return;
    }
    const char *why = s_check (remote, host, address, port, txt);
    if (why) {
        remote->state = S_INVALID;
        self->stats.services_invalid++;
        unsigned suppressed;
        if (colugo__ratelimit (&self->invalid_log, &suppressed))
            colugo__warn ("ignoring service '%s' on host '%s': %s (%u more not shown)", name,
                          host ? host : "?", why, suppressed);
        return;
    }
    remote->state = S_RESOLVED;
    self->stats.services_seen++;
    colugo__info ("found service '%s': topic '%s', %s at %s (node '%s')", name, remote->topic,
                  remote->service.socket_type == ZMQ_PUB ? "publisher" : "server", remote->endpoint,
                  remote->node_name);
    self->config.on_service (self->config.arg, COLUGO__SERVICE_UP, &remote->service);
}

//  Counts a failed resolve and schedules the next attempt, or parks the
//  name after the last one.
static void
s_resolve_failed (colugo__discovery_t *self, s_remote_t *remote, const char *why)
{
    self->stats.resolve_failures++;
    unsigned suppressed = 0;
    bool log = colugo__ratelimit (&self->resolve_log, &suppressed);
    if (++remote->attempts >= S_RESOLVE_ATTEMPTS) {
        if (log)
            colugo__warn ("cannot resolve service '%s' (%s): giving up until it is announced "
                          "again (%u more not shown)",
                          remote->name, why, suppressed);
        return;
    }
    int64_t delay = (int64_t) S_RETRY_MS << (remote->attempts - 1);
    if (log)
        colugo__warn ("cannot resolve service '%s' (%s): retrying in %lld s (%u more not shown)",
                      remote->name, why, (long long) delay / 1000, suppressed);
    remote->retry = colugo__timers_add (self->config.timers, zclock_mono () + delay, 0,
                                        s_on_resolve_retry, remote);
}

static void s_resolve_next (colugo__discovery_t *self);

//  A name that has not resolved in time frees its slot for others.
static void
s_on_resolve_deadline (void *arg)
{
    s_remote_t *remote = (s_remote_t *) arg;
    colugo__discovery_t *self = remote->owner;
    remote->deadline = 0;
    if (remote->resolver) {
        avahi_service_resolver_free (remote->resolver);
        remote->resolver = NULL;
        self->resolving--;
    }
    s_resolve_failed (self, remote, "no answer in time");
    s_resolve_next (self);
}

//  Resolves a new service now, or queues it for a free resolver slot. At
//  most one resolver, retry or queue place per name at a time.
static void
s_resolve (colugo__discovery_t *self, s_remote_t *remote)
{
    if (!self->client || remote->state != S_NEW || remote->resolver || remote->retry
        || remote->queued || remote->seen_count == 0 || remote->attempts >= S_RESOLVE_ATTEMPTS)
        return;
    if (self->resolving >= S_RESOLVERS_MAX) {
        remote->queued = zlistx_add_start (self->resolve_queue, remote);
        if (!remote->queued)
            s_resolve_failed (self, remote, "out of memory");
        return;
    }
    remote->resolver = avahi_service_resolver_new (
        self->client, remote->seen [0].interface, remote->seen [0].protocol, remote->name,
        COLUGO__SERVICE_TYPE, "local", AVAHI_PROTO_INET, 0, s_on_resolve, remote);
    if (!remote->resolver) {
        s_resolve_failed (self, remote, avahi_strerror (avahi_client_errno (self->client)));
        return;
    }
    self->resolving++;
    remote->deadline =
        colugo__timers_add (self->config.timers, zclock_mono () + S_RESOLVE_DEADLINE_MS, 0,
                            s_on_resolve_deadline, remote);
}

//  Gives free resolver slots to the names that wait, newest first.
static void
s_resolve_next (colugo__discovery_t *self)
{
    s_remote_t *remote;
    while (self->resolving < S_RESOLVERS_MAX
           && (remote = (s_remote_t *) zlistx_detach (self->resolve_queue, NULL))) {
        remote->queued = NULL;
        s_resolve (self, remote);
    }
}

static void
s_on_sweep (void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    self->sweep = 0;
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

static void
s_on_browse_retry (void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    self->browse_retry = 0;
    s_browse (self);
}

static void
s_on_browse (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
             AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
             AvahiLookupResultFlags flags, void *arg)
{
    (void) type;
    (void) domain;
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    if (browser != self->browser)
        return;
    if (event == AVAHI_BROWSER_FAILURE) {
        colugo__error ("browsing for %s failed: %s; retrying", COLUGO__SERVICE_TYPE,
                       avahi_strerror (avahi_client_errno (self->client)));
        self->browser = NULL;  //  freed in s_browse, outside this callback
        if (!self->browse_retry)
            self->browse_retry = colugo__timers_add (
                self->config.timers, zclock_mono () + S_RETRY_MS, 0, s_on_browse_retry, self);
        //  Freeing a browser from its own callback is not safe; leak-free
        //  because avahi_client_free () frees it with the client at the end.
        return;
    }
    if (event == AVAHI_BROWSER_ALL_FOR_NOW) {
        if (self->sweep_after_browse && !self->sweep)
            self->sweep = colugo__timers_add (self->config.timers, zclock_mono () + S_SWEEP_MS, 0,
                                              s_on_sweep, self);
        return;
    }
    if (event != AVAHI_BROWSER_NEW && event != AVAHI_BROWSER_REMOVE)
        return;
    if (flags & AVAHI_LOOKUP_RESULT_OUR_OWN)
        return;  //  the node connects its own sockets directly
    s_remote_t *remote = (s_remote_t *) zhashx_lookup (self->remotes, name);
    if (event == AVAHI_BROWSER_NEW) {
        if (!remote && zhashx_size (self->remotes) >= S_REMOTES_MAX) {
            self->stats.resolve_failures++;
            unsigned suppressed;
            if (colugo__ratelimit (&self->resolve_log, &suppressed))
                colugo__warn ("%d services of type %s known already: ignoring '%s' (%u more not "
                              "shown)",
                              S_REMOTES_MAX, COLUGO__SERVICE_TYPE, name, suppressed);
            return;
        }
        if (!remote) {
            remote = calloc (1, sizeof *remote);
            if (!remote || !(remote->name = strdup (name))) {
                free (remote);
                colugo__error ("out of memory: ignoring service '%s'", name);
                return;
            }
            remote->owner = self;
            zhashx_insert (self->remotes, name, remote);
        }
        for (size_t i = 0; i < remote->seen_count; i++)
            if (remote->seen [i].interface == interface && remote->seen [i].protocol == protocol)
                return;
        s_seen_t *seen = realloc (remote->seen, (remote->seen_count + 1) * sizeof *seen);
        if (!seen)
            return;
        remote->seen = seen;
        remote->seen [remote->seen_count++] = (s_seen_t){interface, protocol};
        remote->stale = false;
        if (remote->attempts >= S_RESOLVE_ATTEMPTS)
            remote->attempts = 0;  //  parked, and announced again: one more round
        if (remote->state == S_NEW) {
            colugo__debug ("new service '%s': resolving", name);
            s_resolve (self, remote);
        }
    }
    else if (remote) {
        for (size_t i = 0; i < remote->seen_count; i++)
            if (remote->seen [i].interface == interface && remote->seen [i].protocol == protocol) {
                remote->seen [i] = remote->seen [--remote->seen_count];
                break;
            }
        if (remote->seen_count == 0)
            s_remote_forget (self, remote);
    }
}

static void
s_browse (colugo__discovery_t *self)
{
    if (self->browser || !self->client
        || avahi_client_get_state (self->client) != AVAHI_CLIENT_S_RUNNING)
        return;
    self->browser = avahi_service_browser_new (self->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                               COLUGO__SERVICE_TYPE, "local", 0, s_on_browse, self);
    if (!self->browser) {
        colugo__error ("cannot browse for %s: %s; retrying", COLUGO__SERVICE_TYPE,
                       avahi_strerror (avahi_client_errno (self->client)));
        if (!self->browse_retry)
            self->browse_retry = colugo__timers_add (
                self->config.timers, zclock_mono () + S_RETRY_MS, 0, s_on_browse_retry, self);
    }
}

//  --------------------------------------------------------------------------
//  The client and the daemon coming and going

//  The daemon went away: every browser, resolver and group is void. Keep
//  what was resolved (connections stay up, heartbeats judge them), marked
//  stale until the next browse sees it again.
static void
s_daemon_lost (colugo__discovery_t *self)
{
    if (self->browser)
        avahi_service_browser_free (self->browser);
    self->browser = NULL;
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
        if (remote->state == S_RESOLVED)
            remote->stale = true;
        else
            zhashx_delete (self->remotes, name);
    }
    zlistx_destroy (&names);
    //  A sweep armed after an earlier restart would forget live services
    //  that this browse has not reported yet.
    if (self->sweep)
        colugo__timers_cancel (self->config.timers, self->sweep);
    self->sweep = 0;
    self->sweep_after_browse = false;
    self->lost = true;
}

static void
s_on_reconnect (void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    self->reconnect = 0;
    if (self->client) {
        avahi_client_free (self->client);
        self->client = NULL;
    }
    if (s_client_connect (self))
        self->reconnect = colugo__timers_add (self->config.timers, zclock_mono () + S_RETRY_MS, 0,
                                              s_on_reconnect, self);
}

static void
s_on_client (AvahiClient *client, AvahiClientState state, void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    self->client = client;  //  this may run inside avahi_client_new ()
    switch (state) {
        case AVAHI_CLIENT_S_RUNNING: {
            if (self->lost && self->was_running) {
                self->stats.daemon_restarts++;
                colugo__warn ("avahi-daemon is back: advertising and browsing again");
            }
            else if (self->lost)
                colugo__info ("avahi-daemon is running now");
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
            if (!self->lost) {
                if (self->was_running)
                    colugo__warn ("avahi-daemon went away; waiting for it to come back");
                else
                    colugo__info ("avahi-daemon is not running; waiting for it");
                s_daemon_lost (self);
            }
            break;
        case AVAHI_CLIENT_FAILURE:
            colugo__warn ("lost avahi-daemon (%s); reconnecting",
                          avahi_strerror (avahi_client_errno (client)));
            s_daemon_lost (self);
            //  The client cannot be freed from its own callback.
            if (!self->reconnect)
                self->reconnect = colugo__timers_add (
                    self->config.timers, zclock_mono () + S_RETRY_MS, 0, s_on_reconnect, self);
            break;
    }
}

static int
s_client_connect (colugo__discovery_t *self)
{
    int error = 0;
    AvahiClient *client = avahi_client_new (colugo__avahi_poll_api (self->poll),
                                            AVAHI_CLIENT_NO_FAIL, s_on_client, self, &error);
    if (!client) {
        colugo__debug ("cannot connect to avahi-daemon: %s", avahi_strerror (error));
        return COLUGO_ENODAEMON;
    }
    self->client = client;
    return 0;
}

int
colugo__discovery_new (const colugo__discovery_config_t *config, colugo__discovery_t **self_p)
{
    *self_p = NULL;
    colugo__discovery_t *self = calloc (1, sizeof *self);
    if (!self)
        return COLUGO_ENOMEM;
    self->config = *config;
    self->node_uuid = strdup (config->node_uuid);
    self->node_name = strdup (config->node_name);
    self->publications = zlistx_new ();
    self->remotes = zhashx_new ();
    self->resolve_queue = zlistx_new ();
    self->poll = colugo__avahi_poll_new (config->loop, config->timers, config->reaper);
    if (!self->node_uuid || !self->node_name || !self->publications || !self->remotes
        || !self->resolve_queue || !self->poll) {
        colugo__discovery_destroy (&self);
        return COLUGO_ENOMEM;
    }
    zhashx_set_destructor (self->remotes, s_remote_destructor);
    int rc = s_client_connect (self);
    if (rc == 0 && !config->wait_for_daemon
        && avahi_client_get_state (self->client) == AVAHI_CLIENT_CONNECTING)
        rc = COLUGO_ENODAEMON;
    if (rc && config->wait_for_daemon) {
        colugo__warn ("no D-Bus system bus or avahi-daemon yet; waiting for one");
        self->reconnect = colugo__timers_add (config->timers, zclock_mono () + S_RETRY_MS, 0,
                                              s_on_reconnect, self);
        rc = 0;
    }
    if (rc) {
        colugo__error ("cannot use avahi-daemon: it is not running (start it, or ask the node "
                       "to wait for it)");
        colugo__discovery_destroy (&self);
        return rc;
    }
    *self_p = self;
    return 0;
}

void
colugo__discovery_destroy (colugo__discovery_t **self_p)
{
    colugo__discovery_t *self = *self_p;
    if (!self)
        return;
    if (self->publications) {
        s_publication_t *pub;
        while ((pub = (s_publication_t *) zlistx_detach (self->publications, NULL)))
            s_publication_destroy (pub);
        zlistx_destroy (&self->publications);
    }
    if (self->remotes)
        zhashx_destroy (&self->remotes);  //  frees resolvers first
    zlistx_destroy (&self->resolve_queue);
    if (self->browser)
        avahi_service_browser_free (self->browser);
    if (self->client)
        avahi_client_free (self->client);
    uint64_t *timers [] = {&self->reconnect, &self->browse_retry, &self->sweep};
    for (size_t i = 0; i < 3; i++)
        if (*timers [i])
            colugo__timers_cancel (self->config.timers, *timers [i]);
    colugo__avahi_poll_destroy (&self->poll);
    free (self->node_uuid);
    free (self->node_name);
    free (self);
    *self_p = NULL;
}

void
colugo__discovery_foreach (colugo__discovery_t *self, colugo__discovery_fn *fn, void *arg)
{
    s_remote_t *remote = (s_remote_t *) zhashx_first (self->remotes);
    while (remote) {
        if (remote->state == S_RESOLVED)
            fn (arg, COLUGO__SERVICE_UP, &remote->service);
        remote = (s_remote_t *) zhashx_next (self->remotes);
    }
}

colugo__discovery_stats_t
colugo__discovery_stats (colugo__discovery_t *self)
{
    return self->stats;
}
