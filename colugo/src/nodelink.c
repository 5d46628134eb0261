/*  nodelink.c: the notices between nodes (nodelink.h says what and why),
    over the node trunk's sockets (trunk.h): its in is the node's inbox, its
    out the outbox. Both are Colugo sockets of internal kinds (sock.h), so
    the outbox dials, checks who listens and dials again exactly as every
    connecting socket does (socket.c).

    Bounds: a message holds at most S_CHUNK services (a node with more sends
    several); at most S_LEARNED_MAX nodes are learned from their notices
    (nodes from resolved records do not count); a malformed notice, a
    service that is not the sender's, or anything over a bound is dropped,
    counted and logged (rate limited). The trunk queues at most a bound of
    notices for the loop and drops the rest, counted; the DNS-SD records,
    which every node still publishes, bring what was lost.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <avahi-common/domain.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "colugo/error.h"
#include "dnssd_records.h"
#include "hostnodes.h"
#include "nodelink.h"
#include "sock.h"
#include "trunk.h"

#define S_MAGIC_UP "colugo-node 1 U"
#define S_MAGIC_DOWN "colugo-node 1 D"
#define S_MAGIC_TO "colugo-node 1 @"  //  then "<uuid> U" (every service) or " D", to that node
#define S_MAGIC_MAX (sizeof S_MAGIC_TO + COLUGO__UUID_MAX + 2)
#define S_HEADER 5          //  magic, uuid, name, inbox socket id, inbox port
#define S_CHUNK 64          //  services per message
#define S_LEARNED_MAX 1024  //  nodes dialled because they wrote to us
#define S_SWEEP_MS 1000     //  how often learned links are looked at
#define S_SWEEP_FAILURES 2  //  a learned link that failed this often goes
#define S_FRAMES_MAX (S_HEADER + 3 * S_CHUNK)
#define S_ESCAPED 160
#define S_RECENT_MAX 256   //  withdrawals told again to a node that subscribes
#define S_RECENT_MS 20000  //  for this long (over a dial's deadline, socket.c)

_Static_assert(S_FRAMES_MAX <= COLUGO__TRUNK_FRAMES_MAX, "a notice fits a message of the in");

typedef struct {
    uint64_t handle;
    char *name;
    char port [8];
    size_t txt_size;
    uint8_t txt [];
} s_offer_t;

typedef struct {
    char *endpoint;
    char *identity;
    bool marked;  //  from a mark only (hostnodes.h): the node has not written yet
} s_learned_t;

struct colugo__nodelink {
    colugo__env_t *env;
    colugo__trunk_t *trunk;
    colugo_socket_t *inbox;   //  the trunk's in
    colugo_socket_t *outbox;  //  the trunk's out
    colugo__notice_fn *fn;
    colugo__linked_fn *linked;
    void *arg;
    zhashx_t *pending;  //  uuids of the nodes on this host found at the start, not heard yet
    zlistx_t *offers;   //  s_offer_t, ours
    zhashx_t *learned;  //  node uuid -> s_learned_t
    uint64_t sweep;     //  timer
    int mark;           //  our mark for the nodes on this host (hostnodes.h), or -1
    char inbox_id [24];
    char inbox_port [8];
    char to_us [S_MAGIC_MAX];       //  the magic of what is told to this node alone
    char to_us_down [S_MAGIC_MAX];  //  and of what is withdrawn, to it alone
    //  The services withdrawn lately (a ring): a welcome (trunk.h) carries
    //  the services of its dial's time, and a connection hears no
    //  withdrawal before its inbox subscribed, so an inbox that subscribes
    //  is told these again, with every service.
    struct {
        char *name;
        int64_t when;
    } recent [S_RECENT_MAX];
    size_t recent_next;
    colugo__nodelink_stats_t stats;
    colugo__ratelimit_t log;
};

//  --------------------------------------------------------------------------
//  Sending

static void
s_send_frame (colugo__nodelink_t *self, const void *data, size_t size, bool more)
{
    zmq_send (self->outbox->handle, data, size, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
    if (!more)
        colugo__socket_touch (self->outbox);
}

static void
s_send_string (colugo__nodelink_t *self, const char *text, bool more)
{
    s_send_frame (self, text, strlen (text), more);
}

//  The magic of every service told to one node (NULL: to every node), or
//  (letter 'D') of what was withdrawn.
static void
s_magic_to (char *magic, const char *uuid, char letter)
{
    snprintf (magic, S_MAGIC_MAX, "%s%s %c", S_MAGIC_TO, uuid, letter);
}

//  The frames every notice starts with.
static void
s_header (colugo__nodelink_t *self, const char *magic, const char *header [S_HEADER])
{
    const char *fields [S_HEADER] = {magic, self->env->node_uuid, self->env->node_name,
                                     self->inbox_id, self->inbox_port};
    memcpy (header, fields, sizeof fields);
}

static void
s_send_header (colugo__nodelink_t *self, const char *magic, bool more)
{
    const char *header [S_HEADER];
    s_header (self, magic, header);
    for (int i = 0; i < S_HEADER; i++)
        s_send_string (self, header [i], i + 1 < S_HEADER || more);
}

static void
s_send_offer (colugo__nodelink_t *self, const s_offer_t *offer, bool more)
{
    s_send_string (self, offer->name, true);
    s_send_string (self, offer->port, true);
    s_send_frame (self, offer->txt, offer->txt_size, more);
}

//  What the trunk's welcome carries: the notice of our first S_CHUNK
//  services (all of them, mostly), so that a node we dial hears them as
//  its connection comes up, not a subscription's round trip later.
static void
s_set_welcome (colugo__nodelink_t *self)
{
    colugo__trunk_frame_t frames [S_FRAMES_MAX];
    const char *header [S_HEADER];
    s_header (self, S_MAGIC_UP, header);
    int count = 0;
    size_t bytes = 0;
    for (; count < S_HEADER; count++) {
        frames [count] = (colugo__trunk_frame_t){header [count], strlen (header [count])};
        bytes += 4 + frames [count].size;
    }
    for (s_offer_t *offer = (s_offer_t *) zlistx_first (self->offers);
         offer && count + 3 <= S_FRAMES_MAX; offer = (s_offer_t *) zlistx_next (self->offers)) {
        size_t name = strlen (offer->name), port = strlen (offer->port);
        if (bytes + 12 + name + port + offer->txt_size > COLUGO__TRUNK_WELCOME_MAX)
            break;  //  the rest come with the notices sent on subscription
        frames [count++] = (colugo__trunk_frame_t){offer->name, name};
        frames [count++] = (colugo__trunk_frame_t){offer->port, port};
        frames [count++] = (colugo__trunk_frame_t){offer->txt, offer->txt_size};
        bytes += 12 + name + port + offer->txt_size;
    }
    if (colugo__trunk_set_welcome (self->trunk, frames, count))
        colugo__warn ("node link: the trunk's welcome carries no notice (other nodes hear "
                      "of this one's services a round trip later)");
}

static bool
s_offered (colugo__nodelink_t *self, const char *name)
{
    for (s_offer_t *offer = (s_offer_t *) zlistx_first (self->offers); offer;
         offer = (s_offer_t *) zlistx_next (self->offers))
        if (strcmp (offer->name, name) == 0)
            return true;
    return false;
}

static void
s_remember_withdrawal (colugo__nodelink_t *self, const char *name)
{
    for (size_t i = 0; i < S_RECENT_MAX; i++)
        if (self->recent [i].name && strcmp (self->recent [i].name, name) == 0) {
            self->recent [i].when = zclock_mono ();  //  (one place per name)
            return;
        }
    size_t slot = self->recent_next++ % S_RECENT_MAX;
    free (self->recent [slot].name);
    self->recent [slot].name = strdup (name);  //  (NULL: not told again)
    self->recent [slot].when = zclock_mono ();
}

//  The services withdrawn lately that are not offered again, to one node.
static void
s_send_recent (colugo__nodelink_t *self, const char *to)
{
    char magic [S_MAGIC_MAX];
    s_magic_to (magic, to, 'D');
    const char *names [S_RECENT_MAX];
    size_t count = 0;
    int64_t since = zclock_mono () - S_RECENT_MS;
    for (size_t i = 0; i < S_RECENT_MAX; i++)
        if (self->recent [i].name && self->recent [i].when >= since
            && !s_offered (self, self->recent [i].name))
            names [count++] = self->recent [i].name;
    for (size_t sent = 0; sent < count;) {
        s_send_header (self, magic, true);
        for (size_t i = 0; i < S_CHUNK && sent < count; i++, sent++)
            s_send_string (self, names [sent], i + 1 < S_CHUNK && sent + 1 < count);
    }
}

//  Every service we have, to one node (to every node if to is NULL), in
//  chunks; a greeting alone when there is none.
static void
s_send_all (colugo__nodelink_t *self, const char *to)
{
    char magic [S_MAGIC_MAX] = S_MAGIC_UP;
    if (to)
        s_magic_to (magic, to, 'U');
    size_t left = zlistx_size (self->offers);
    s_offer_t *offer = (s_offer_t *) zlistx_first (self->offers);
    do {
        s_send_header (self, magic, left > 0);
        for (size_t i = 0; offer && i < S_CHUNK; i++) {
            left--;
            s_send_offer (self, offer, i + 1 < S_CHUNK && left > 0);
            offer = (s_offer_t *) zlistx_next (self->offers);
        }
    } while (offer);
}

//  --------------------------------------------------------------------------
//  Receiving

static void
s_invalid (colugo__nodelink_t *self, const char *from, const char *why)
{
    self->stats.notices_invalid++;
    unsigned suppressed;
    char escaped [S_ESCAPED];
    if (colugo__ratelimit (&self->log, &suppressed))
        colugo__warn ("node link: ignoring a notice from %s: %s (%u more not shown)",
                      colugo__escape (from, escaped, sizeof escaped), why, suppressed);
}

//  A frame as a string of 1 to max bytes with no NUL, copied to buffer.
static bool
s_frame_string (zmq_msg_t *frame, char *buffer, size_t max)
{
    size_t size = zmq_msg_size (frame);
    if (size == 0 || size > max || memchr (zmq_msg_data (frame), 0, size))
        return false;
    memcpy (buffer, zmq_msg_data (frame), size);
    buffer [size] = 0;
    return true;
}

static bool
s_frame_number (zmq_msg_t *frame, uint64_t max, uint64_t *value)
{
    char text [24];
    if (!s_frame_string (frame, text, 20))
        return false;
    char *end = NULL;
    unsigned long long number = strtoull (text, &end, 10);
    if (*end || text [0] < '1' || text [0] > '9' || number > max)
        return false;
    *value = number;
    return true;
}

static void
s_learned_destructor (void **item)
{
    s_learned_t *learned = (s_learned_t *) *item;
    if (learned) {
        free (learned->endpoint);
        free (learned->identity);
        free (learned);
    }
    *item = NULL;
}

//  Whether endpoint ("tcp://address:port") is on address.
static bool
s_on_address (const char *endpoint, const char *address)
{
    size_t length = strlen (address);
    return strncmp (endpoint, "tcp://", 6) == 0 && strncmp (endpoint + 6, address, length) == 0
           && endpoint [6 + length] == ':';
}

//  A node that wrote to us is dialled back, so that it hears of our
//  services too. A node that restarted (its inbox moved on the same host)
//  is dialled where it listens now: its record may be a second behind.
//  A mark is the weakest claim (any local process can bind one): it never
//  displaces what is known, and what the node itself says displaces it.
static void
s_learn (colugo__nodelink_t *self, const char *uuid, const char *name, const char *address,
         uint64_t socket_id, uint64_t port, bool marked)
{
    char endpoint [64], identity [COLUGO__IDENTITY_MAX];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%llu", address, (unsigned long long) port);
    colugo__socket_identity (uuid, socket_id, identity, sizeof identity);
    s_learned_t *known = (s_learned_t *) zhashx_lookup (self->learned, uuid);
    if (known) {
        bool same =
            strcmp (known->endpoint, endpoint) == 0 && strcmp (known->identity, identity) == 0;
        if (same && !marked)
            known->marked = false;  //  the node wrote from where its mark said
        if (same || marked || (!known->marked && !s_on_address (known->endpoint, address)))
            return;  //  known there, or claimed from another host: the first stays
        colugo__socket_remove_peer (self->outbox, known->endpoint, known->identity, uuid, false);
        zhashx_delete (self->learned, uuid);
    }
    if (zhashx_size (self->learned) >= S_LEARNED_MAX) {
        s_invalid (self, name, "too many nodes wrote to this one: not dialled back");
        return;
    }
    s_learned_t *learned = calloc (1, sizeof *learned);
    if (learned) {
        learned->endpoint = strdup (endpoint);
        learned->identity = strdup (identity);
        learned->marked = marked;
    }
    if (!learned || !learned->endpoint || !learned->identity) {
        void *item = learned;
        s_learned_destructor (&item);
    }
    else if (zhashx_insert (self->learned, uuid, learned) == 0) {
        if (colugo__socket_add_peer (self->outbox, endpoint, identity, uuid, name) == 0)
            return;
        zhashx_delete (self->learned, uuid);  //  the destructor frees it
    }
    colugo__error ("out of memory: node '%s' is not dialled back", name);
}

//  A node on this host, from its mark: dialled as one that wrote to us,
//  over loopback (where its records point too: dnssd_thread.c).
static void
s_on_mark (void *arg, const char *uuid, uint64_t socket_id, uint16_t port)
{
    colugo__nodelink_t *self = (colugo__nodelink_t *) arg;
    if (zhashx_lookup (self->pending, uuid))
        return;  //  two marks of one uuid: the first listed is dialled
    s_learn (self, uuid, uuid, "127.0.0.1", socket_id, port, true);
    zhashx_insert (self->pending, uuid, (void *) 1);
}

//  Marks this node, then dials the nodes marked before it: of two nodes
//  that start at once, the second to look finds the first.
static void
s_mark_and_look (colugo__nodelink_t *self)
{
    self->mark = -1;
    if (!colugo__hostnodes_enabled ())
        return;
    self->mark =
        colugo__hostnodes_mark (self->env->node_uuid, self->inbox->id, self->inbox->verified_port);
    if (self->mark < 0)
        colugo__warn ("node link: cannot mark this node for the nodes on this host (%s): they "
                      "find it through DNS-SD only",
                      strerror (errno));
    int64_t started = zclock_usecs ();
    colugo__hostnodes_look_t look;
    if (colugo__hostnodes_look (self->env->node_uuid, s_on_mark, self, &look)) {
        colugo__warn ("node link: cannot list the nodes on this host (%s): it finds them "
                      "through DNS-SD only",
                      strerror (errno));
        return;
    }
    colugo__debug ("node link: %zu nodes on this host found by their marks in %lld us", look.found,
                   (long long) (zclock_usecs () - started));
    if (look.malformed || look.over) {
        self->stats.notices_invalid += look.malformed + look.over;
        colugo__warn ("node link: %zu malformed marks of nodes on this host, %zu over the "
                      "bound of %d: ignored",
                      look.malformed, look.over, COLUGO__HOSTNODES_MAX);
    }
}

static void
s_on_service (colugo__nodelink_t *self, const char *uuid, const char *from, const char *address,
              zmq_msg_t *frames)
{
    char name [AVAHI_LABEL_MAX];
    uint64_t port = 0;
    if (!s_frame_string (&frames [0], name, AVAHI_LABEL_MAX - 1)
        || !s_frame_number (&frames [1], 65535, &port)
        || zmq_msg_size (&frames [2]) > COLUGO__TXT_MAX) {
        s_invalid (self, from, "a service's name, port or TXT is malformed");
        return;
    }
    AvahiStringList *txt = NULL;
    if (zmq_msg_size (&frames [2]) == 0
        || avahi_string_list_parse (zmq_msg_data (&frames [2]), zmq_msg_size (&frames [2]), &txt)) {
        s_invalid (self, from, "a service's TXT does not parse");
        return;
    }
    colugo__txt_record_t record;
    const char *why = colugo__txt_parse (txt, &record);
    avahi_string_list_free (txt);
    if (!why && strcmp (record.node_uuid, uuid))
        why = "a service of another node";
    else if (!why && (!record.socket_id || !record.verified_port))
        why = "a service without a socket id and a verified port";
    if (why) {
        colugo__txt_record_free (&record);  //  (parse leaves nothing when it fails)
        s_invalid (self, from, why);
        return;
    }
    char endpoint [64], verified [64], identity [COLUGO__IDENTITY_MAX],
        trunk [64] = "", trunk_identity [COLUGO__IDENTITY_MAX] = "";
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%llu", address, (unsigned long long) port);
    snprintf (verified, sizeof verified, "tcp://%s:%u", address, record.verified_port);
    colugo__socket_identity (uuid, record.socket_id, identity, sizeof identity);
    if (record.trunk_port) {
        snprintf (trunk, sizeof trunk, "tcp://%s:%u", address, record.trunk_port);
        colugo__socket_identity (uuid, record.trunk_id, trunk_identity, sizeof trunk_identity);
    }
    colugo__service_t service = {.name = name,
                                 .topic = record.topic,
                                 .socket_type = record.socket_type,
                                 .node_uuid = record.node_uuid,
                                 .node_name = record.node_name,
                                 .host = address,
                                 .endpoint = endpoint,
                                 .type = record.type,
                                 .identity = identity,
                                 .verified_endpoint = verified,
                                 .trunk_endpoint = trunk,
                                 .trunk_identity = trunk_identity,
                                 .trunk_key = record.trunk_key};
    self->stats.notices++;
    self->fn (self->arg, COLUGO__SERVICE_UP, &service);
    colugo__txt_record_free (&record);
}

//  The services a notice tells of, up or withdrawn.
static void
s_services (colugo__nodelink_t *self, const char *magic, const char *uuid, const char *name,
            const char *address, zmq_msg_t *frames, int count)
{
    bool up = magic [strlen (magic) - 1] != 'D';
    if (up) {
        if ((count - S_HEADER) % 3) {
            s_invalid (self, name, "a service is cut short");
            return;
        }
        for (int i = S_HEADER; i + 3 <= count; i += 3)
            s_on_service (self, uuid, name, address, &frames [i]);
        return;
    }
    for (int i = S_HEADER; i < count; i++) {
        char service_name [AVAHI_LABEL_MAX];
        if (!s_frame_string (&frames [i], service_name, AVAHI_LABEL_MAX - 1)) {
            s_invalid (self, name, "a withdrawn service's name is malformed");
            continue;
        }
        colugo__service_t service = {
            .name = service_name, .node_uuid = uuid, .node_name = name, .host = address};
        self->stats.notices++;
        self->fn (self->arg, COLUGO__SERVICE_DOWN, &service);
    }
}

static void
s_on_message (colugo__nodelink_t *self, const char *address, const char *welcome_uuid,
              zmq_msg_t *frames, int count)
{
    struct in_addr ipv4;
    char magic [S_MAGIC_MAX], uuid [COLUGO__UUID_MAX + 1], name [COLUGO__NODE_NAME_MAX + 1] = "";
    uint64_t socket_id = 0, port = 0;
    if (!address || inet_pton (AF_INET, address, &ipv4) != 1) {
        s_invalid (self, "?", "not over IPv4 TCP");
        return;
    }
    if (count > S_FRAMES_MAX || count < S_HEADER
        || !s_frame_string (&frames [0], magic, S_MAGIC_MAX - 1)
        || (strcmp (magic, S_MAGIC_UP) && strcmp (magic, S_MAGIC_DOWN)
            && strcmp (magic, self->to_us) && strcmp (magic, self->to_us_down))
        || !s_frame_string (&frames [1], uuid, COLUGO__UUID_MAX)
        || !colugo__printable_ascii (uuid, COLUGO__UUID_MAX)
        || (zmq_msg_size (&frames [2])
            && !s_frame_string (&frames [2], name, COLUGO__NODE_NAME_MAX))
        || (*name && colugo_topic_check (name))
        || !s_frame_number (&frames [3], COLUGO__SOCKET_ID_MAX, &socket_id)
        || !s_frame_number (&frames [4], 65535, &port)) {
        s_invalid (self, address, "not a node notice of this version, or over its bounds");
        return;
    }
    if (strcmp (uuid, self->env->node_uuid) == 0)
        return;  //  our own (a node dialled itself through its record)
    if (welcome_uuid && (strcmp (uuid, welcome_uuid) || strcmp (magic, S_MAGIC_UP))) {
        s_invalid (self, address, "a welcome's notice that is not its node's services");
        return;
    }
    colugo__debug ("node link: %s from node '%s' (%s) at %s, %d services", magic, name, uuid,
                   address, (count - S_HEADER) / (magic [strlen (magic) - 1] == 'D' ? 1 : 3));
    s_learn (self, uuid, *name ? name : uuid, address, socket_id, port, false);
    s_services (self, magic, uuid, name, address, frames, count);
    if (zhashx_size (self->pending) && zhashx_lookup (self->pending, uuid)) {
        zhashx_delete (self->pending, uuid);
        if (zhashx_size (self->pending) == 0 && self->linked)
            self->linked (self->arg);  //  after its services: they go first
    }
}

//  A message of the link, read by the trunk's in.
static void
s_on_notice (void *arg, const char *address, const char *welcome_uuid, zmq_msg_t *frames, int count)
{
    s_on_message ((colugo__nodelink_t *) arg, address, welcome_uuid, frames, count);
}

//  Subscriptions: an inbox is listening now. Each subscribes to what is
//  told to every node, and to what is told to it alone (S_MAGIC_TO and its
//  uuid), where every service goes: an XPUB cannot address a connection,
//  but a subscription can be addressed, and the other inboxes are not told
//  again what they know. An inbox that subscribes to everything (as nodes
//  before this one did) is told everything, as every inbox then.
static void
s_on_subscribed (void *arg, const char *data, size_t size)
{
    colugo__nodelink_t *self = (colugo__nodelink_t *) arg;
    size_t prefix = sizeof S_MAGIC_TO - 1;
    char uuid [COLUGO__UUID_MAX + 1];
    if (size == 0)
        s_send_all (self, NULL);
    else if (size > prefix + 1 && size <= prefix + COLUGO__UUID_MAX + 1
             && memcmp (data, S_MAGIC_TO, prefix) == 0 && data [size - 1] == ' ') {
        memcpy (uuid, data + prefix, size - prefix - 1);
        uuid [size - prefix - 1] = 0;
        if (colugo__printable_ascii (uuid, COLUGO__UUID_MAX) && !strchr (uuid, ' ')) {
            colugo__debug ("node link: node '%s' subscribed: telling it of %zu services", uuid,
                           zlistx_size (self->offers));
            s_send_all (self, uuid);
            s_send_recent (self, uuid);
        }
    }
}

//  Learned links that keep failing (their node is gone) are let go.
static void
s_on_sweep (void *arg)
{
    colugo__nodelink_t *self = (colugo__nodelink_t *) arg;
    zlistx_t *uuids = zhashx_keys (self->learned);
    for (const char *uuid = uuids ? (const char *) zlistx_first (uuids) : NULL; uuid;
         uuid = (const char *) zlistx_next (uuids)) {
        s_learned_t *learned = (s_learned_t *) zhashx_lookup (self->learned, uuid);
        colugo__peer_t *peer =
            (colugo__peer_t *) zhashx_lookup (self->outbox->peers, learned->endpoint);
        if (peer && (peer->connected || peer->failures < S_SWEEP_FAILURES))
            continue;
        colugo__socket_remove_peer (self->outbox, learned->endpoint, learned->identity, uuid,
                                    false);
        zhashx_delete (self->learned, uuid);
    }
    zlistx_destroy (&uuids);
    self->stats.nodes = zhashx_size (self->outbox->peers);
}

//  --------------------------------------------------------------------------
//  The link

static void
s_subscribe (colugo__nodelink_t *self, bool subscribe)
{
    int option = subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE;
    zmq_setsockopt (self->inbox->handle, option, S_MAGIC_UP, strlen (S_MAGIC_UP));
    zmq_setsockopt (self->inbox->handle, option, S_MAGIC_DOWN, strlen (S_MAGIC_DOWN));
    zmq_setsockopt (self->inbox->handle, option, self->to_us, strlen (self->to_us) - 1);
    colugo__socket_touch (self->inbox);
}

static void
s_offer_destructor (void **item)
{
    s_offer_t *offer = (s_offer_t *) *item;
    if (offer)
        free (offer->name);
    free (offer);
    *item = NULL;
}

colugo__nodelink_t *
colugo__nodelink_new (colugo__env_t *env, colugo__trunk_t *trunk, colugo__notice_fn *fn,
                      colugo__linked_fn *linked, void *arg)
{
    if (!trunk) {
        colugo__error ("node link: the node has no trunk; other nodes hear of this one's "
                       "services from DNS-SD only");
        return NULL;
    }
    colugo__nodelink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->mark = -1;
    self->env = env;
    self->trunk = trunk;
    self->fn = fn;
    self->linked = linked;
    self->arg = arg;
    self->offers = zlistx_new ();
    self->learned = zhashx_new ();
    self->pending = zhashx_new ();
    if (self->offers)
        zlistx_set_destructor (self->offers, s_offer_destructor);
    if (self->learned)
        zhashx_set_destructor (self->learned, s_learned_destructor);
    if (!self->offers || !self->learned || !self->pending) {
        colugo__nodelink_destroy (&self);
        return NULL;
    }
    self->inbox = colugo__trunk_in (trunk);
    self->outbox = colugo__trunk_out (trunk);
    colugo__trunk_drain (trunk);  //  (what came while no link ran is stale)
    colugo__trunk_set_link (trunk, s_on_notice, s_on_subscribed, self);
    //  What is told to every node, and to this one alone (s_on_subscribed):
    //  its magic but the last letter, "colugo-node 1 @<uuid> ". (The nodes
    //  already connected, after a stop and a start, hear these and answer.)
    s_magic_to (self->to_us, env->node_uuid, 'U');
    s_magic_to (self->to_us_down, env->node_uuid, 'D');
    s_subscribe (self, true);
    snprintf (self->inbox_id, sizeof self->inbox_id, "%llu", (unsigned long long) self->inbox->id);
    snprintf (self->inbox_port, sizeof self->inbox_port, "%u", self->inbox->verified_port);
    s_set_welcome (self);  //  (before the first dial)
    s_mark_and_look (self);
    self->sweep =
        colugo__timers_add (env->timers, zclock_mono () + S_SWEEP_MS, S_SWEEP_MS, s_on_sweep, self);
    //  Nodes whose subscriptions the out read while no link ran (a stop).
    if (self->outbox->connected)
        s_send_all (self, NULL);
    return self;
}

void
colugo__nodelink_withdraw_all (colugo__nodelink_t *self)
{
    //  Withdrawn at once where the link reaches (a connection hung up later
    //  sends what it holds first): the records' goodbyes take a second or so.
    size_t left = zlistx_size (self->offers);
    s_offer_t *offer = left ? (s_offer_t *) zlistx_first (self->offers) : NULL;
    while (offer) {
        s_send_header (self, S_MAGIC_DOWN, true);
        for (size_t i = 0; offer && i < S_CHUNK; i++) {
            left--;
            s_send_string (self, offer->name, i + 1 < S_CHUNK && left > 0);
            s_remember_withdrawal (self, offer->name);
            offer = (s_offer_t *) zlistx_next (self->offers);
        }
    }
    zlistx_purge (self->offers);
    s_set_welcome (self);
}

void
colugo__nodelink_destroy (colugo__nodelink_t **self_p)
{
    colugo__nodelink_t *self = *self_p;
    if (!self)
        return;
    if (self->sweep)
        colugo__timers_cancel (self->env->timers, self->sweep);
    if (self->outbox && self->offers)
        colugo__nodelink_withdraw_all (self);
    if (self->mark >= 0)
        close (self->mark);
    //  The trunk stays (its rides, its publishers' subscribers): the link's
    //  own claims on it go.
    if (self->trunk) {
        colugo__trunk_set_link (self->trunk, NULL, NULL, NULL);
        colugo__trunk_set_welcome (self->trunk, NULL, 0);
        if (self->inbox)  //  (a link that could not be made has none)
            s_subscribe (self, false);
        for (s_learned_t *learned = self->learned && self->outbox
                                        ? (s_learned_t *) zhashx_first (self->learned)
                                        : NULL;
             learned; learned = (s_learned_t *) zhashx_next (self->learned))
            colugo__socket_remove_peer (self->outbox, learned->endpoint, learned->identity,
                                        (const char *) zhashx_cursor (self->learned), false);
    }
    zlistx_destroy (&self->offers);
    zhashx_destroy (&self->learned);
    zhashx_destroy (&self->pending);
    for (size_t i = 0; i < S_RECENT_MAX; i++)
        free (self->recent [i].name);
    free (self);
    *self_p = NULL;
}

uint16_t
colugo__nodelink_port (colugo__nodelink_t *self)
{
    return self->inbox->verified_port;
}

uint64_t
colugo__nodelink_socket_id (colugo__nodelink_t *self)
{
    return self->inbox->id;
}

void
colugo__nodelink_offer (colugo__nodelink_t *self, uint64_t handle, const char *name, uint16_t port,
                        const uint8_t *txt, size_t txt_size)
{
    s_offer_t *offer = calloc (1, sizeof *offer + txt_size);
    if (!offer || !(offer->name = strdup (name)) || !zlistx_add_end (self->offers, offer)) {
        if (offer)
            free (offer->name);
        free (offer);
        colugo__error ("out of memory: '%s' is told to other nodes by DNS-SD only", name);
        return;
    }
    offer->handle = handle;
    snprintf (offer->port, sizeof offer->port, "%u", port);
    offer->txt_size = txt_size;
    memcpy (offer->txt, txt, txt_size);
    s_send_header (self, S_MAGIC_UP, true);
    s_send_offer (self, offer, false);
    s_set_welcome (self);
}

void
colugo__nodelink_withdraw (colugo__nodelink_t *self, uint64_t handle)
{
    for (s_offer_t *offer = (s_offer_t *) zlistx_first (self->offers); offer;
         offer = (s_offer_t *) zlistx_next (self->offers))
        if (offer->handle == handle) {
            s_send_header (self, S_MAGIC_DOWN, true);
            s_send_string (self, offer->name, false);
            s_remember_withdrawal (self, offer->name);
            zlistx_delete (self->offers, zlistx_cursor (self->offers));
            s_set_welcome (self);
            return;
        }
}

void
colugo__nodelink_link (colugo__nodelink_t *self, const char *endpoint, const char *identity,
                       const char *node_uuid, const char *node_name)
{
    if (colugo__socket_add_peer (self->outbox, endpoint, identity, node_uuid, node_name))
        colugo__error ("out of memory: node '%s' is not told of this node's services directly",
                       node_name);
    self->stats.nodes = zhashx_size (self->outbox->peers);
}

void
colugo__nodelink_unlink (colugo__nodelink_t *self, const char *endpoint, const char *identity,
                         const char *node_uuid)
{
    colugo__socket_remove_peer (self->outbox, endpoint, identity, node_uuid, false);
    self->stats.nodes = zhashx_size (self->outbox->peers);
}

size_t
colugo__nodelink_host_nodes_pending (colugo__nodelink_t *self)
{
    return zhashx_size (self->pending);
}

colugo__nodelink_stats_t
colugo__nodelink_stats (colugo__nodelink_t *self)
{
    return self->stats;
}
