/*  trunk.c: the node's trunk (trunk.h says what and why).

    Bounds: a subscription or message head is at most a topic, a NUL and a
    key (padded: s_head); a User-Id is a node uuid (COLUGO__UUID_MAX); at most
    S_NODES_MAX nodes are counted as subscribed and S_SOURCES_MAX
    connections to the in attributed, S_SOURCES_HOST_MAX of them from one
    address (a flood of names or connections is
    dropped, counted and logged); at most S_NOTICES_MAX messages of the
    link wait for the loop; and a key that ended is remembered among the
    last S_ENDED_MAX. What the in cannot use (a malformed head, extra
    frames, a message over a connection that said no welcome, or for a
    ride over another node's connection, a payload over the node's
    maximum) is dropped, counted on the in (or on the subscriber it was
    for) and logged; one for a ride let go of just now (in flight as the
    subscription went), or over a node's second connection, is dropped
    silently.
*/
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "colugo/error.h"
#include "dnssd_records.h"
#include "trunk.h"
#include "u64map.h"

#define S_MARK_PRESENT 2  //  first byte of a node's presence subscription
#define S_NODES_MAX 4096  //  nodes counted as subscribed
#define S_ENDED_MAX 4096  //  ended keys remembered
#define S_KEY_SIZE 8
#define S_SOURCES_MAX 4096                     //  connections to the in attributed
#define S_SOURCES_HOST_MAX 512                 //  of them from one address
#define S_NOTICES_MAX 1024                     //  messages of the link waiting for the loop
#define S_NOTICE_BYTES_MAX (64 * 1024)         //  one of them (64 services fit)
#define S_NOTICES_BYTES_MAX (4 * 1024 * 1024)  //  all of them
#define S_WELCOME "colugo-node 1 W "
#define S_WELCOME_BYTES_MAX (sizeof S_WELCOME + COLUGO__UUID_MAX + COLUGO__TRUNK_WELCOME_MAX)
#define S_RIDE_DEADLINE_MS 10000  //  a ride not up by then is given up (its subscriber dials)
#define S_HEAD_MANGLED 246        //  (s_head)
#define S_HEAD_PADDED 256
//  The longest head is a padded one (the longest topic makes 249 bytes).
#define S_HEAD_MAX S_HEAD_PADDED

struct colugo__trunk_pub {
    colugo__trunk_t *trunk;
    uint64_t key;
    zhashx_t *subscribers;  //  node uuid -> itself
    size_t head_size;
    uint8_t head [S_HEAD_MAX];  //  topic, NUL, key (big-endian)
};

//  A publisher elsewhere that has a trunk.
typedef struct {
    char *topic;
    char *trunk_endpoint;
    char *trunk_identity;
    char *node_uuid;
    char *node_name;
    uint64_t key;
    bool failed;  //  a ride never came up: its subscribers dial the publisher's own port
} s_route_t;

//  A subscriber's peer on the trunk.
typedef struct {
    colugo__trunk_t *trunk;
    colugo_socket_t *subscriber;  //  freed through the reaper, as riders are
    char *endpoint;               //  the peer's, in the subscriber's table
    char *topic;
    char *trunk_endpoint;  //  the in of the publisher's node, claimed on the out
    char *trunk_identity;
    char *node_uuid;
    char *host;  //  where its connection must come from
    uint64_t key;
    uint64_t tell;    //  timer: tells a ride on a connection already up
    uint64_t ending;  //  timer: tells the end once what came before it is delivered
    uint64_t end_at;  //  the subscriber's mark at the end
    int64_t started;  //  when the ride began
    bool told_up;     //  its subscriber was told it connected
    bool claimed;     //  holds a claim on the out's peer, the publisher's node's in
    bool dead;
} s_rider_t;

//  A connection to the in, by the node its welcome named. The connection
//  is known by its libzmq metadata (each connection has its own, which
//  every message over it carries): the address of its Peer-Address
//  string, kept unique by the copy of the welcome that holds it; its
//  descriptor (ZMQ_SRCFD) is only where its close is told.
typedef struct {
    uint64_t order;          //  welcomes numbered: the oldest of a descriptor closes first
    zmq_msg_t welcome;       //  its first message, which holds its metadata
    const char *connection;  //  its Peer-Address, as its messages carry it: its address
    int fd;
    bool primary;  //  its node's connection from that address that carries rides
    char key [COLUGO__UUID_MAX + 1 + INET6_ADDRSTRLEN];  //  "<node uuid> <address>"
    char uuid [COLUGO__UUID_MAX + 1];
} s_source_t;

//  A message of the link, for the loop.
typedef struct {
    size_t bytes;
    int count;
    char address [INET6_ADDRSTRLEN];           //  of its connection ("": not TCP)
    char welcome_uuid [COLUGO__UUID_MAX + 1];  //  the node a welcome named, if it came in one
    zmq_msg_t frames [];
} s_notice_t;

struct colugo__trunk {
    colugo__env_t *env;
    colugo_socket_t *out;
    colugo_socket_t *in;
    colugo__u64map_t sources;  //  connection (its Peer-Address) -> s_source_t
    zhashx_t *by_node;         //  "<node uuid> <address>" -> its primary s_source_t
    uint64_t last_order;
    zlistx_t *notices;  //  s_notice_t, waiting for the loop
    uint64_t notice_timer;
    size_t notice_bytes;  //  what the notices waiting hold
    colugo__trunk_notice_fn *notice_fn;
    colugo__trunk_subscribed_fn *subscribed_fn;
    void *link_arg;
    colugo__u64map_t pubs;    //  key -> colugo__trunk_pub_t, ours
    zhashx_t *present;        //  node uuid -> count of its presence subscriptions
    zhashx_t *routes;         //  publisher identity -> s_route_t
    zlistx_t *riders;         //  s_rider_t, live
    colugo__u64map_t by_key;  //  key -> zlistx_t of s_rider_t
    colugo__u64map_t ended;   //  key -> (void *) 1
    uint64_t touch;           //  timer: the out is looked at once after a batch of sends
    uint64_t ended_order [S_ENDED_MAX];
    size_t ended_next;
    colugo__ratelimit_t log;
};

//  --------------------------------------------------------------------------
//  Helpers

//  A head: the topic, a NUL, the key (big-endian). libzmq 4.3.4 mangles a
//  subscription of 246 to 255 bytes (the XPUB reads two empty messages and
//  a byte instead: measured), so a head that would be that long is padded
//  with NULs before the key to S_HEAD_PADDED bytes.
static size_t
s_head (uint8_t *out, const char *topic, uint64_t key)
{
    size_t length = strlen (topic);
    size_t size = length + 1 + S_KEY_SIZE;
    if (size >= S_HEAD_MANGLED && size < S_HEAD_PADDED)
        size = S_HEAD_PADDED;
    memcpy (out, topic, length);
    memset (out + length, 0, size - length - S_KEY_SIZE);
    for (int i = 0; i < S_KEY_SIZE; i++)
        out [size - S_KEY_SIZE + i] = (uint8_t) (key >> (8 * (S_KEY_SIZE - 1 - i)));
    return size;
}

//  Splits a head: the topic's length and the key. False if it is not one.
static bool
s_parse_head (const uint8_t *data, size_t size, size_t *topic_length, uint64_t *key)
{
    const uint8_t *nul = size ? memchr (data, 0, size < S_HEAD_MAX ? size : S_HEAD_MAX) : NULL;
    if (!nul)
        return false;
    size_t length = (size_t) (nul - data);
    if (length == 0 || data [0] < 0x20)
        return false;  //  no topic, or the presence mark's
    size_t natural = length + 1 + S_KEY_SIZE;
    bool padded = natural >= S_HEAD_MANGLED && natural < S_HEAD_PADDED;
    if (size != (padded ? S_HEAD_PADDED : natural))
        return false;
    for (size_t i = length + 1; i < size - S_KEY_SIZE; i++)
        if (data [i])
            return false;
    uint64_t value = 0;
    for (size_t i = size - S_KEY_SIZE; i < size; i++)
        value = value << 8 | data [i];
    *topic_length = length;
    *key = value;
    return value != 0;
}

//  Whether a message or subscription is the node link's (its magic), or
//  the trunk's own welcome (which starts the same way).
static bool
s_is_link (const void *data, size_t size)
{
    size_t magic = sizeof COLUGO__TRUNK_LINK_MAGIC - 1;
    return size >= magic && memcmp (data, COLUGO__TRUNK_LINK_MAGIC, magic) == 0;
}

//  The address of "tcp://<address>:<port>", a copy; NULL if none.
static char *
s_host (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    if (strncmp (endpoint, "tcp://", 6) || !colon || colon < endpoint + 6)
        return NULL;
    return strndup (endpoint + 6, (size_t) (colon - endpoint - 6));
}

static void
s_log (colugo__trunk_t *self, const char *why)
{
    unsigned suppressed;
    if (colugo__ratelimit (&self->log, &suppressed))
        colugo__warn ("node trunk: %s (%u more not logged)", why, suppressed);
}

static void
s_route_destructor (void **item)
{
    s_route_t *route = (s_route_t *) *item;
    if (route) {
        free (route->topic);
        free (route->trunk_endpoint);
        free (route->trunk_identity);
        free (route->node_uuid);
        free (route->node_name);
        free (route);
    }
    *item = NULL;
}

static void
s_rider_free (void *item)
{
    s_rider_t *rider = (s_rider_t *) item;
    free (rider->endpoint);
    free (rider->topic);
    free (rider->trunk_endpoint);
    free (rider->trunk_identity);
    free (rider->node_uuid);
    free (rider->host);
    free (rider);
}

static bool
s_ended (colugo__trunk_t *self, uint64_t key)
{
    return colugo__u64map_get (&self->ended, key) != NULL;
}

static void
s_end_key (colugo__trunk_t *self, uint64_t key)
{
    if (s_ended (self, key))
        return;
    uint64_t *slot = &self->ended_order [self->ended_next];
    if (*slot)
        colugo__u64map_take (&self->ended, *slot);
    *slot = key;
    self->ended_next = (self->ended_next + 1) % S_ENDED_MAX;
    colugo__u64map_put (&self->ended, key, (void *) 1);
}

//  The connection that carries a ride: its node's, from its host.
static bool
s_trunk_up (colugo__trunk_t *self, const s_rider_t *rider)
{
    char key [COLUGO__UUID_MAX + 1 + INET6_ADDRSTRLEN];
    snprintf (key, sizeof key, "%s %s", rider->node_uuid, rider->host);
    return zhashx_lookup (self->by_node, key) != NULL;
}

//  Tells a subscriber's peer table what its ride's connection did.
static void
s_tell (s_rider_t *rider, bool up)
{
    if (rider->dead || rider->subscriber->dead)
        return;
    rider->told_up |= up;
    colugo__socket_event (rider->subscriber,
                          up ? ZMQ_EVENT_HANDSHAKE_SUCCEEDED : ZMQ_EVENT_DISCONNECTED, 0,
                          rider->endpoint);
}

static void
s_on_ending (void *arg)
{
    s_rider_t *rider = (s_rider_t *) arg;
    if (rider->dead || rider->subscriber->dead
        || !colugo__subscriber_done (rider->subscriber, rider->end_at))
        return;  //  (a dead one's timer is cancelled with it)
    colugo__timers_cancel (rider->trunk->env->timers, rider->ending);
    rider->ending = 0;
    s_tell (rider, false);
}

//  Its publisher ended, or the connection: the peer ends once what came
//  before has reached the application (or was dropped from a full queue,
//  counted), so that its disconnect comes after its last message.
static void
s_end_ride (s_rider_t *rider)
{
    if (rider->dead || rider->subscriber->dead || rider->ending)
        return;
    rider->end_at = colugo__subscriber_mark (rider->subscriber);
    //  From the loop, never here: reads of the in run no callback.
    rider->ending =
        colugo__timers_add (rider->trunk->env->timers, zclock_mono (), 1, s_on_ending, rider);
    if (!rider->ending)
        colugo__error ("out of memory: a subscriber on the trunk is not told its publisher ended");
}

//  --------------------------------------------------------------------------
//  The out: subscriptions from other nodes' ins

static void
s_drop_node (colugo__trunk_t *self, const char *uuid)
{
    size_t cursor = 0;
    colugo__trunk_pub_t *pub;
    while ((pub = (colugo__trunk_pub_t *) colugo__u64map_next (&self->pubs, &cursor)))
        zhashx_delete (pub->subscribers, uuid);
    zhashx_delete (self->present, uuid);
}

static void
s_on_presence (colugo__trunk_t *self, const uint8_t *data, size_t size, bool subscribe,
               const char *user)
{
    char uuid [COLUGO__UUID_MAX + 1];
    if (size == 0 || size > COLUGO__UUID_MAX) {
        s_log (self, "a presence subscription of a malformed node uuid: dropped");
        return;
    }
    memcpy (uuid, data, size);
    uuid [size] = 0;
    //  A node speaks for itself only; a connection's end (no User-Id) for
    //  the node it was.
    if ((user && strcmp (user, uuid)) || !colugo__printable_ascii (uuid, COLUGO__UUID_MAX)) {
        s_log (self, "a presence subscription of another node, or not printable: dropped");
        return;
    }
    uintptr_t count = (uintptr_t) zhashx_lookup (self->present, uuid);
    if (subscribe) {
        if (!count && zhashx_size (self->present) >= S_NODES_MAX) {
            s_log (self, "too many nodes subscribed: one more dropped");
            return;
        }
        zhashx_update (self->present, uuid, (void *) (count + 1));
    }
    else if (count > 1)
        zhashx_update (self->present, uuid, (void *) (count - 1));
    else if (count == 1)
        s_drop_node (self, uuid);  //  its last connection ended
}

static void
s_on_subscription (colugo__trunk_t *self, zmq_msg_t *message)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data (message);
    size_t size = zmq_msg_size (message);
    if (size == 1 && data [0] <= 1) {  //  everything (a plain SUB), or no more
        if (data [0] == 1 && self->subscribed_fn)
            self->subscribed_fn (self->link_arg, "", 0);
        return;
    }
    if (size < 2 || data [0] > 1) {
        s_log (self, "a message that is no subscription: dropped");
        self->out->stats.dropped++;
        return;
    }
    bool subscribe = data [0] == 1;
    if (s_is_link (data + 1, size - 1)) {
        if (subscribe && self->subscribed_fn)
            self->subscribed_fn (self->link_arg, (const char *) data + 1, size - 1);
        return;
    }
    const char *user = zmq_msg_gets (message, "User-Id");
    if (data [1] == S_MARK_PRESENT) {
        s_on_presence (self, data + 2, size - 2, subscribe, user);
        return;
    }
    size_t topic_length;
    uint64_t key;
    if (!user || !s_parse_head (data + 1, size - 1, &topic_length, &key))
        return;  //  a connection's end (its presence says it), or not one of ours
    colugo__trunk_pub_t *pub = (colugo__trunk_pub_t *) colugo__u64map_get (&self->pubs, key);
    if (!pub || pub->head_size != size - 1 || memcmp (pub->head, data + 1, size - 1))
        return;  //  another node's publisher: an in subscribes on every connection it has
    if (!subscribe)
        zhashx_delete (pub->subscribers, user);
    else if (zhashx_lookup (self->present, user))
        zhashx_update (pub->subscribers, user, (void *) 1);
}

static int
s_on_out (void *arg)
{
    colugo__trunk_t *self = (colugo__trunk_t *) colugo__socket_context (arg);
    colugo__batch_t batch = colugo__batch_start ();
    while (colugo__batch_more (&batch)) {
        zmq_msg_t frames [2];
        int count = colugo__recv_frames (self->out->handle, frames, 2);
        if (count == 0)
            break;
        if (count == 1)
            s_on_subscription (self, &frames [0]);
        else {
            s_log (self, "a message of several frames from a subscriber: dropped");
            self->out->stats.dropped++;
        }
        for (int i = 0; i < count && i < 2; i++)
            zmq_msg_close (&frames [i]);
    }
    return colugo__env_handler_rc (self->env);
}

//  --------------------------------------------------------------------------
//  The in: messages from other nodes' outs

static void s_on_tell (void *arg);
static void s_source_gone (colugo__trunk_t *self, s_source_t *source);

//  Whether a ride is on a connection: of its node, from its host.
static bool
s_rides_on (const s_rider_t *rider, const s_source_t *source)
{
    return strcmp (rider->node_uuid, source->uuid) == 0
           && strcmp (rider->host, source->connection) == 0;
}

//  A source, or a notice, freed with the messages it holds.
static void
s_source_free (s_source_t *source)
{
    zmq_msg_close (&source->welcome);
    free (source);
}

static void
s_notice_free (s_notice_t *notice)
{
    for (int i = 0; i < notice->count; i++)
        zmq_msg_close (&notice->frames [i]);
    free (notice);
}

//  The riders of a node at an address: told its connection is up, from the
//  loop (a read of the in runs no callback), or ended (their subscribers
//  dial again, and ride the node's connection that is up then, if any).
static void
s_node_rides (colugo__trunk_t *self, const s_source_t *source, bool up)
{
    for (s_rider_t *rider = (s_rider_t *) zlistx_first (self->riders); rider;
         rider = (s_rider_t *) zlistx_next (self->riders)) {
        if (rider->dead || !s_rides_on (rider, source))
            continue;
        if (!up)
            s_end_ride (rider);  //  after what came before the end (read before)
        else if (!rider->tell && !s_ended (self, rider->key)
                 && !(rider->tell = colugo__timers_add (self->env->timers, 0, 0, s_on_tell, rider)))
            colugo__error ("out of memory: a subscriber on the trunk is not told it connected");
    }
}

//  The notices waiting for the loop go.
static void
s_drop_notices (colugo__trunk_t *self)
{
    s_notice_t *notice;
    while ((notice = (s_notice_t *) zlistx_detach (self->notices, NULL)))
        s_notice_free (notice);
    self->notice_bytes = 0;
}

//  A message of the link, moved into the queue for the loop.
static void
s_defer_notice (colugo__trunk_t *self, zmq_msg_t *frames, int count, const char *address,
                const char *welcome_uuid)
{
    size_t bytes = 0;
    for (int i = 0; i < count; i++)
        bytes += zmq_msg_size (&frames [i]);
    s_notice_t *notice = NULL;
    if (count > COLUGO__TRUNK_FRAMES_MAX || bytes > S_NOTICE_BYTES_MAX) {
        s_log (self, "a notice over its bounds: dropped");
        self->in->stats.dropped++;
        return;
    }
    if (zlistx_size (self->notices) >= S_NOTICES_MAX
        || self->notice_bytes + bytes > S_NOTICES_BYTES_MAX
        || !(notice = malloc (sizeof *notice + (size_t) count * sizeof (zmq_msg_t)))) {
        s_log (self, "too many notices waiting: one dropped (the records bring it)");
        self->in->stats.dropped++;
        return;
    }
    notice->bytes = bytes;
    notice->count = count;
    snprintf (notice->address, sizeof notice->address, "%s", address ? address : "");
    snprintf (notice->welcome_uuid, sizeof notice->welcome_uuid, "%s",
              welcome_uuid ? welcome_uuid : "");
    for (int i = 0; i < count; i++) {
        zmq_msg_init (&notice->frames [i]);
        zmq_msg_move (&notice->frames [i], &frames [i]);
    }
    if (!zlistx_add_end (self->notices, notice)) {
        s_notice_free (notice);
        colugo__error ("out of memory: a notice of another node is dropped");
        return;
    }
    self->notice_bytes += bytes;
}

//  The notice a welcome carries after its uuid (colugo__trunk_set_welcome):
//  queued as one read from the connection, with the node it named.
static void
s_welcome_notice (colugo__trunk_t *self, const uint8_t *data, size_t size, const char *address,
                  const char *uuid)
{
    //  (On the heap: the read that took the welcome holds as many frames.)
    zmq_msg_t *frames = malloc (COLUGO__TRUNK_FRAMES_MAX * sizeof *frames);
    int count = 0;
    bool ok = size <= COLUGO__TRUNK_WELCOME_MAX;
    if (!frames) {
        colugo__error ("out of memory: a welcome's notice is dropped");
        return;
    }
    while (ok && size > 0) {
        uint32_t length = 0;
        if (size < 4 || count == COLUGO__TRUNK_FRAMES_MAX)
            ok = false;
        else {
            length = (uint32_t) data [0] << 24 | (uint32_t) data [1] << 16
                     | (uint32_t) data [2] << 8 | data [3];
            ok = length <= size - 4 && zmq_msg_init_size (&frames [count], length) == 0;
        }
        if (ok) {
            memcpy (zmq_msg_data (&frames [count++]), data + 4, length);
            data += 4 + length;
            size -= 4 + length;
        }
    }
    if (ok && count > 0 && s_is_link (zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0])))
        s_defer_notice (self, frames, count, address, uuid);
    else {
        s_log (self, "a welcome's notice is malformed: dropped (the connection is still the "
                     "node's)");
        self->in->stats.dropped++;
    }
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
    free (frames);
}

//  A welcome: the connection it came over is the named node's, at the
//  address it came from. The first connection of a node from an address
//  carries its rides; when it closes, the newest other one takes them (a
//  node that dialled again before the close was read).
static void
s_on_welcome (colugo__trunk_t *self, zmq_msg_t *frame)
{
    const char *data = (const char *) zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame), prefix = sizeof S_WELCOME - 1;
    int fd = zmq_msg_get (frame, ZMQ_SRCFD);
    const char *connection = zmq_msg_gets (frame, "Peer-Address");
    size_t look = size > prefix ? size - prefix : 0;
    const char *end =
        memchr (data + prefix, 0, look < COLUGO__UUID_MAX + 1 ? look : COLUGO__UUID_MAX + 1);
    size_t uuid_size = (end ? (size_t) (end - data) : size) - prefix;
    char uuid [COLUGO__UUID_MAX + 1];
    //  (A source keeps its welcome for as long as its connection lasts: no
    //  more than a node's may be.)
    if (size <= prefix || size > S_WELCOME_BYTES_MAX || uuid_size == 0
        || uuid_size > COLUGO__UUID_MAX || fd < 0 || !connection
        || strlen (connection) >= INET6_ADDRSTRLEN) {
        s_log (self, "a malformed welcome, or over no TCP connection: dropped");
        self->in->stats.dropped++;
        return;
    }
    memcpy (uuid, data + prefix, uuid_size);
    uuid [uuid_size] = 0;
    if (!colugo__printable_ascii (uuid, COLUGO__UUID_MAX) || strchr (uuid, ' ')) {
        s_log (self, "a welcome of a node uuid that is not printable: dropped");
        self->in->stats.dropped++;
        return;
    }
    if (colugo__u64map_get (&self->sources, (uintptr_t) connection)) {
        s_log (self, "a second welcome over one connection: dropped");
        self->in->stats.dropped++;
        return;
    }
    //  (One host cannot take every place: S_SOURCES_HOST_MAX each.)
    size_t from_host = 0, cursor = 0;
    for (s_source_t *each; (each = (s_source_t *) colugo__u64map_next (&self->sources, &cursor));)
        from_host += strcmp (each->connection, connection) == 0;
    s_source_t *source = NULL;
    if (self->sources.size >= S_SOURCES_MAX || from_host >= S_SOURCES_HOST_MAX
        || !(source = calloc (1, sizeof *source))) {
        s_log (self, "too many connections to the in (from that host, or in all): one more is "
                     "not attributed");
        self->in->stats.dropped++;
        return;
    }
    source->order = ++self->last_order;
    source->fd = fd;
    source->connection = connection;
    snprintf (source->uuid, sizeof source->uuid, "%s", uuid);
    snprintf (source->key, sizeof source->key, "%s %s", uuid, connection);
    zmq_msg_init (&source->welcome);
    if (zmq_msg_copy (&source->welcome, frame)
        || colugo__u64map_put (&self->sources, (uintptr_t) connection, source)) {
        s_source_free (source);
        colugo__error ("out of memory: a connection to the node trunk is not attributed");
        return;
    }
    if (end && self->notice_fn)
        s_welcome_notice (self, (const uint8_t *) end + 1, size - prefix - uuid_size - 1,
                          connection, uuid);
    if (zhashx_lookup (self->by_node, source->key))
        return;  //  another connection of that node from there is up: it carries them
    if (zhashx_insert (self->by_node, source->key, source) == 0) {
        source->primary = true;
        s_node_rides (self, source, true);
    }
    else
        colugo__error ("out of memory: a node's connection to the trunk carries no rides");
}

//  Takes one message of the in (no callback runs: rides and sources stay).
static void
s_on_message (colugo__trunk_t *self, zmq_msg_t *frames, int count)
{
    const uint8_t *head = (const uint8_t *) zmq_msg_data (&frames [0]);
    size_t head_size = zmq_msg_size (&frames [0]);
    if (s_is_link (head, head_size)) {
        if (count == 1 && head_size >= sizeof S_WELCOME - 1
            && memcmp (head, S_WELCOME, sizeof S_WELCOME - 1) == 0)
            s_on_welcome (self, &frames [0]);
        else if (self->notice_fn)
            s_defer_notice (self, frames, count, zmq_msg_gets (&frames [0], "Peer-Address"), NULL);
        return;
    }
    size_t topic_length;
    uint64_t key;
    if (!s_parse_head (head, head_size, &topic_length, &key) || count > 2) {
        s_log (self, "a message that is not a publisher's: dropped");
        self->in->stats.dropped++;
        return;
    }
    const char *connection = zmq_msg_gets (&frames [0], "Peer-Address");
    s_source_t *from =
        connection ? (s_source_t *) colugo__u64map_get (&self->sources, (uintptr_t) connection)
                   : NULL;
    if (!from) {
        s_log (self, "a message over a connection that said no welcome: dropped");
        self->in->stats.dropped++;
        return;
    }
    if (!from->primary)
        return;  //  its node's other connection from there carries it too
    zlistx_t *riders = (zlistx_t *) colugo__u64map_get (&self->by_key, key);
    bool taken = false;
    for (s_rider_t *rider = riders ? (s_rider_t *) zlistx_first (riders) : NULL; rider;
         rider = (s_rider_t *) zlistx_next (riders)) {
        if (rider->dead || rider->subscriber->dead || strlen (rider->topic) != topic_length
            || memcmp (rider->topic, head, topic_length) || !s_rides_on (rider, from))
            continue;  //  (every out that dials the in hears its subscriptions: one that
                       //  sends another's key is not that publisher)
        taken = true;
        if (count == 1) {  //  the head alone: the publisher ended
            s_end_ride (rider);
            continue;
        }
        if (!colugo__socket_size_ok (rider->subscriber, zmq_msg_size (&frames [1])))
            continue;
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        if (zmq_msg_copy (&copy, &frames [1]) == 0)
            colugo__subscriber_take (rider->subscriber, &copy);
        zmq_msg_close (&copy);
    }
    if (!taken && riders) {
        s_log (self, "a message of a publisher over another node's connection: dropped");
        self->in->stats.dropped++;
    }
    else if (taken && count == 1)
        s_end_key (self, key);
}

static void
s_on_notices (void *arg)
{
    colugo__trunk_t *self = (colugo__trunk_t *) arg;
    self->notice_timer = 0;
    //  (The link's callbacks may read the in again: what they queue waits
    //  for the next turn.)
    size_t left = zlistx_size (self->notices);
    s_notice_t *notice;
    while (left-- && (notice = (s_notice_t *) zlistx_detach (self->notices, NULL))) {
        self->notice_bytes -= notice->bytes;
        if (self->notice_fn)
            self->notice_fn (self->link_arg, notice->address,
                             *notice->welcome_uuid ? notice->welcome_uuid : NULL, notice->frames,
                             notice->count);
        s_notice_free (notice);
    }
}

//  Reads what the in holds, at most a batch (or everything: before a
//  subscription goes or a connection's rides end, whose messages would go
//  unread).
static void
s_read_in (colugo__trunk_t *self, bool all)
{
    colugo__batch_t batch = colugo__batch_start ();
    for (size_t i = 0; all ? i < 1000000 : colugo__batch_more (&batch); i++) {
        zmq_msg_t frames [COLUGO__TRUNK_FRAMES_MAX];
        int count = colugo__recv_frames (self->in->handle, frames, COLUGO__TRUNK_FRAMES_MAX);
        if (count == 0)
            break;
        s_on_message (self, frames, count);
        for (int k = 0; k < count && k < COLUGO__TRUNK_FRAMES_MAX; k++)
            zmq_msg_close (&frames [k]);
    }
    if (zlistx_size (self->notices) && !self->notice_timer
        && !(self->notice_timer = colugo__timers_add (self->env->timers, 0, 0, s_on_notices, self)))
        colugo__error ("out of memory: notices of other nodes wait");
}

static int
s_on_in (void *arg)
{
    colugo__trunk_t *self = (colugo__trunk_t *) colugo__socket_context (arg);
    s_read_in (self, false);
    return colugo__env_handler_rc (self->env);
}

//  A connection to the in closed: if it carried its node's rides, they end
//  (their subscribers dial again, and ride another connection of that
//  node from that address, if one is up: the newest).
static void
s_source_gone (colugo__trunk_t *self, s_source_t *source)
{
    colugo__u64map_take (&self->sources, (uintptr_t) source->connection);
    if (source->primary) {
        zhashx_delete (self->by_node, source->key);
        s_source_t *other, *newest = NULL;
        size_t cursor = 0;
        while ((other = (s_source_t *) colugo__u64map_next (&self->sources, &cursor)))
            if (strcmp (other->key, source->key) == 0 && (!newest || other->order > newest->order))
                newest = other;
        if (newest && zhashx_insert (self->by_node, newest->key, newest) == 0)
            newest->primary = true;
        s_node_rides (self, source, false);
    }
    s_source_free (source);
}

//  The monitor read a connection's close: what came before it is read
//  first (into the rides' queues, while it is still attributed; its
//  welcome too, if it was not read yet), then its source goes: the oldest
//  of its descriptor (one connection holds a descriptor at a time, and
//  the monitor tells their closes in order). A connection that closes
//  without a welcome, while a newer one that took its descriptor already
//  gave its own, takes that one's source: its rides end, and come back
//  at that node's next connection.
static void
s_in_closed (colugo_socket_t *socket, int fd)
{
    colugo__trunk_t *self = (colugo__trunk_t *) colugo__socket_context (socket->owner);
    s_read_in (self, true);
    s_source_t *each, *oldest = NULL;
    size_t cursor = 0;
    while ((each = (s_source_t *) colugo__u64map_next (&self->sources, &cursor)))
        if (each->fd == fd && (!oldest || each->order < oldest->order))
            oldest = each;
    if (oldest)
        s_source_gone (self, oldest);
}

//  --------------------------------------------------------------------------
//  Rides

static void
s_on_tell (void *arg)
{
    s_rider_t *rider = (s_rider_t *) arg;
    rider->tell = 0;
    if (!rider->dead && s_trunk_up (rider->trunk, rider) && !s_ended (rider->trunk, rider->key))
        s_tell (rider, true);
}

static void
s_subscribe (colugo__trunk_t *self, const char *topic, uint64_t key, bool subscribe)
{
    uint8_t head [S_HEAD_MAX];
    size_t size = s_head (head, topic, key);
    zmq_setsockopt (self->in->handle, subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, head, size);
    colugo__socket_touch (self->in);
}

static void
s_unride (colugo__trunk_t *self, s_rider_t *rider)
{
    rider->dead = true;
    if (rider->tell)
        colugo__timers_cancel (self->env->timers, rider->tell);
    if (rider->ending)
        colugo__timers_cancel (self->env->timers, rider->ending);
    rider->tell = rider->ending = 0;
    zlistx_t *riders = (zlistx_t *) colugo__u64map_get (&self->by_key, rider->key);
    void *handle = riders ? zlistx_find (riders, rider) : NULL;
    if (handle) {
        zlistx_delete (riders, handle);
        if (zlistx_size (riders) == 0) {
            zlistx_destroy (&riders);
            colugo__u64map_take (&self->by_key, rider->key);
            s_subscribe (self, rider->topic, rider->key, false);
        }
    }
    handle = zlistx_find (self->riders, rider);
    if (handle)
        zlistx_detach (self->riders, handle);
    if (rider->claimed)
        colugo__socket_remove_peer (self->out, rider->trunk_endpoint, rider->trunk_identity,
                                    rider->node_uuid, false);
    rider->claimed = false;
    if (colugo__reaper_defer (self->env->reaper, s_rider_free, rider))
        colugo__error ("out of memory: a ride on the trunk is leaked");
}

static s_rider_t *
s_ride (colugo__trunk_t *self, colugo_socket_t *subscriber, colugo__peer_t *peer,
        const s_route_t *route)
{
    s_rider_t *rider = calloc (1, sizeof *rider);
    if (!rider)
        return NULL;
    rider->trunk = self;
    rider->subscriber = subscriber;
    rider->key = route->key;
    rider->started = zclock_mono ();
    rider->endpoint = strdup (peer->endpoint);
    rider->topic = strdup (route->topic);
    rider->trunk_endpoint = strdup (route->trunk_endpoint);
    rider->trunk_identity = strdup (route->trunk_identity);
    rider->node_uuid = strdup (route->node_uuid);
    rider->host = s_host (route->trunk_endpoint);
    zlistx_t *riders = (zlistx_t *) colugo__u64map_get (&self->by_key, route->key);
    bool first = !riders;
    if (first && (riders = zlistx_new ()) && colugo__u64map_put (&self->by_key, route->key, riders))
        zlistx_destroy (&riders);
    if (!rider->endpoint || !rider->topic || !rider->trunk_endpoint || !rider->trunk_identity
        || !rider->node_uuid || !rider->host || !riders || !zlistx_add_end (riders, rider)) {
        if (first && riders) {
            colugo__u64map_take (&self->by_key, route->key);
            zlistx_destroy (&riders);
        }
        s_rider_free (rider);
        return NULL;
    }
    if (!zlistx_add_end (self->riders, rider)) {
        rider->dead = true;  //  (not added: s_unride finds nothing there)
        s_unride (self, rider);
        return NULL;
    }
    if (first)
        s_subscribe (self, route->topic, route->key, true);
    rider->claimed =
        colugo__socket_add_peer (self->out, route->trunk_endpoint, route->trunk_identity,
                                 route->node_uuid, route->node_name)
        == 0;
    if (!rider->claimed) {
        s_unride (self, rider);
        return NULL;
    }
    //  Up already: said from the loop, once the subscriber's dial is done.
    if (s_trunk_up (self, rider))
        rider->tell = colugo__timers_add (self->env->timers, 0, 0, s_on_tell, rider);
    return rider;
}

int
colugo__trunk_ride (colugo__trunk_t *self, colugo_socket_t *subscriber, colugo__peer_t *peer,
                    bool connect)
{
    if (!connect) {
        s_rider_t *rider = (s_rider_t *) peer->kind_data;
        if (!rider)
            return 0;
        peer->kind_data = NULL;
        //  What the in holds of it would go unread (the subscription goes):
        //  into the queue first, as the subscriber's own hang-up does.
        if (s_trunk_up (self, rider))
            s_read_in (self, true);
        //  A ride whose publisher's node never dialled this one (a host that
        //  takes no connections, say) is not tried again: the subscriber
        //  dials the publisher's own port.
        s_route_t *route = (s_route_t *) zhashx_lookup (self->routes, peer->identity);
        if (route && !route->failed && !rider->told_up
            && zclock_mono () - rider->started >= S_RIDE_DEADLINE_MS) {
            route->failed = true;
            colugo__warn ("node trunk: node '%s' has not dialled this node in %d s: its "
                          "publisher of '%s' is dialled at its own port",
                          route->node_name, S_RIDE_DEADLINE_MS / 1000, route->topic);
        }
        s_unride (self, rider);
        return 1;
    }
    const s_route_t *route =
        *peer->identity ? (const s_route_t *) zhashx_lookup (self->routes, peer->identity) : NULL;
    if (!route || strcmp (route->topic, subscriber->topic) || !colugo__trunk_carries (route->topic)
        || route->failed)
        return 0;
    if (peer->kind_data)  //  (a dial without a hang-up before it)
        colugo__trunk_ride (self, subscriber, peer, false);
    peer->kind_data = s_ride (self, subscriber, peer, route);
    return peer->kind_data ? 1 : -1;
}

int
colugo__trunk_learn (colugo__trunk_t *self, const char *identity, const char *topic,
                     const char *trunk_endpoint, const char *trunk_identity, const char *node_uuid,
                     const char *node_name, uint64_t key)
{
    s_route_t *route = calloc (1, sizeof *route);
    if (!route)
        return COLUGO_ENOMEM;
    route->topic = strdup (topic);
    route->trunk_endpoint = strdup (trunk_endpoint);
    route->trunk_identity = strdup (trunk_identity);
    route->node_uuid = strdup (node_uuid);
    route->node_name = strdup (node_name);
    route->key = key;
    if (!route->topic || !route->trunk_endpoint || !route->trunk_identity || !route->node_uuid
        || !route->node_name) {
        s_route_destructor ((void **) &route);
        return COLUGO_ENOMEM;
    }
    zhashx_update (self->routes, identity, route);
    return 0;
}

void
colugo__trunk_forget (colugo__trunk_t *self, const char *identity)
{
    zhashx_delete (self->routes, identity);
}

//  --------------------------------------------------------------------------
//  Publishers

static void
s_on_touch (void *arg)
{
    colugo__trunk_t *self = (colugo__trunk_t *) arg;
    self->touch = 0;
    colugo__socket_touch (self->out);
}

//  A send may take the out's ZMQ_FD signal (poller.h): it is looked at
//  again from the loop, once for every send of this pass (a look is a
//  poll () in libzmq).
static void
s_touch_soon (colugo__trunk_t *self)
{
    if (!self->touch
        && !(self->touch = colugo__timers_add (self->env->timers, 0, 0, s_on_touch, self)))
        colugo__socket_touch (self->out);
}

bool
colugo__trunk_carries (const char *topic)
{
    return !s_is_link (topic, strlen (topic));
}

colugo__trunk_pub_t *
colugo__trunk_pub_new (colugo__trunk_t *self, const char *topic)
{
    colugo__trunk_pub_t *pub = calloc (1, sizeof *pub);
    if (!pub)
        return NULL;
    pub->trunk = self;
    pub->subscribers = zhashx_new ();
    //  Random, so that no two publishers anywhere share one (an in
    //  subscribes a key on every connection it has), and never 0.
    while (pub->subscribers && (pub->key == 0 || colugo__u64map_get (&self->pubs, pub->key)))
        if (getrandom (&pub->key, sizeof pub->key, 0) != (ssize_t) sizeof pub->key)
            break;
    if (!pub->subscribers || pub->key == 0 || colugo__u64map_put (&self->pubs, pub->key, pub)) {
        zhashx_destroy (&pub->subscribers);
        free (pub);
        return NULL;
    }
    pub->head_size = s_head (pub->head, topic, pub->key);
    return pub;
}

uint64_t
colugo__trunk_pub_key (const colugo__trunk_pub_t *pub)
{
    return pub->key;
}

size_t
colugo__trunk_pub_subscribers (const colugo__trunk_pub_t *pub)
{
    return zhashx_size (pub->subscribers);
}

int
colugo__trunk_pub_send (colugo__trunk_pub_t *pub, const void *data, size_t size)
{
    //  Not held back when no node is counted: the count is what subscribers
    //  say of themselves, and libzmq sends only where a subscription is.
    void *handle = pub->trunk->out->handle;
    int rc = zmq_send (handle, pub->head, pub->head_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
                     || zmq_send (handle, data, size, ZMQ_DONTWAIT) < 0
                 ? -1
                 : 0;
    s_touch_soon (pub->trunk);
    if (rc)
        colugo__warn ("node trunk: cannot publish: %s", zmq_strerror (zmq_errno ()));
    return rc;
}

void
colugo__trunk_pub_end (colugo__trunk_pub_t **pub_p)
{
    colugo__trunk_pub_t *pub = *pub_p;
    if (!pub)
        return;
    colugo__trunk_t *self = pub->trunk;
    colugo__u64map_take (&self->pubs, pub->key);
    zmq_send (self->out->handle, pub->head, pub->head_size, ZMQ_DONTWAIT);
    colugo__socket_touch (self->out);
    zhashx_destroy (&pub->subscribers);
    free (pub);
    *pub_p = NULL;
}

//  --------------------------------------------------------------------------
//  The trunk

colugo__trunk_t *
colugo__trunk_new (colugo__env_t *env)
{
    colugo__trunk_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->env = env;
    self->present = zhashx_new ();
    self->routes = zhashx_new ();
    self->riders = zlistx_new ();
    self->by_node = zhashx_new ();
    self->notices = zlistx_new ();
    if (self->routes)
        zhashx_set_destructor (self->routes, s_route_destructor);
    if (self->present && self->routes && self->riders && self->by_node && self->notices) {
        self->out =
            colugo__socket_internal_new (env, COLUGO__TRUNK_OUT, "(node trunk)", s_on_out, self);
        self->in =
            colugo__socket_internal_new (env, COLUGO__TRUNK_IN, "(node trunk)", s_on_in, self);
    }
    if (!self->out || !self->in || !self->in->verified_port) {
        colugo__warn ("node trunk: cannot make it; subscribers dial each publisher's own port, "
                      "and other nodes hear of this one's services from DNS-SD only");
        colugo__trunk_destroy (&self);
        return NULL;
    }
    self->in->on_accepted_closed = s_in_closed;
    colugo__trunk_set_welcome (self, NULL, 0);
    zmq_setsockopt (self->in->handle, ZMQ_SUBSCRIBE, S_WELCOME, sizeof S_WELCOME - 1);
    uint8_t presence [1 + COLUGO__UUID_MAX];
    presence [0] = S_MARK_PRESENT;
    memcpy (presence + 1, env->node_uuid, strlen (env->node_uuid));
    zmq_setsockopt (self->in->handle, ZMQ_SUBSCRIBE, presence, strlen (env->node_uuid) + 1);
    return self;
}

void
colugo__trunk_destroy (colugo__trunk_t **self_p)
{
    colugo__trunk_t *self = *self_p;
    if (!self)
        return;
    s_rider_t *rider;
    while (self->riders && (rider = (s_rider_t *) zlistx_first (self->riders)))
        s_unride (self, rider);  //  (the subscribers are gone before the trunk)
    size_t cursor = 0;
    zlistx_t *riders;
    while ((riders = (zlistx_t *) colugo__u64map_next (&self->by_key, &cursor)))
        zlistx_destroy (&riders);
    colugo__u64map_free (&self->by_key);
    cursor = 0;
    colugo__trunk_pub_t *pub;
    while ((pub = (colugo__trunk_pub_t *) colugo__u64map_next (&self->pubs, &cursor))) {
        zhashx_destroy (&pub->subscribers);
        free (pub);
    }
    colugo__u64map_free (&self->pubs);
    colugo__u64map_free (&self->ended);
    if (self->touch)
        colugo__timers_cancel (self->env->timers, self->touch);
    if (self->notice_timer)
        colugo__timers_cancel (self->env->timers, self->notice_timer);
    if (self->notices)
        s_drop_notices (self);
    cursor = 0;
    s_source_t *source;
    while ((source = (s_source_t *) colugo__u64map_next (&self->sources, &cursor)))
        s_source_free (source);
    colugo__u64map_free (&self->sources);
    colugo__socket_internal_destroy (&self->in);
    colugo__socket_internal_destroy (&self->out);
    zhashx_destroy (&self->present);
    zhashx_destroy (&self->routes);
    zlistx_destroy (&self->riders);
    zhashx_destroy (&self->by_node);
    zlistx_destroy (&self->notices);
    free (self);
    *self_p = NULL;
}

uint16_t
colugo__trunk_port (colugo__trunk_t *self)
{
    return self->in->verified_port;
}

uint64_t
colugo__trunk_id (colugo__trunk_t *self)
{
    return self->in->id;
}

void
colugo__trunk_set_link (colugo__trunk_t *self, colugo__trunk_notice_fn *notice,
                        colugo__trunk_subscribed_fn *subscribed, void *arg)
{
    self->notice_fn = notice;
    self->subscribed_fn = subscribed;
    self->link_arg = arg;
}

int
colugo__trunk_set_welcome (colugo__trunk_t *self, const colugo__trunk_frame_t *frames, int count)
{
    size_t bytes = 0;
    for (int i = 0; i < count; i++)
        bytes += 4 + frames [i].size;
    int rc = 0;
    if (count > COLUGO__TRUNK_FRAMES_MAX || bytes > COLUGO__TRUNK_WELCOME_MAX)
        count = rc = -1;  //  (the uuid alone)
    char alone [sizeof S_WELCOME + COLUGO__UUID_MAX];
    size_t alone_size =
        (size_t) snprintf (alone, sizeof alone, S_WELCOME "%s", self->env->node_uuid);
    uint8_t *welcome = count > 0 ? malloc (S_WELCOME_BYTES_MAX) : (uint8_t *) alone;
    if (!welcome) {
        welcome = (uint8_t *) alone;
        count = rc = -1;
    }
    size_t size = alone_size;
    if (count > 0) {
        memcpy (welcome, alone, alone_size);
        welcome [size++] = 0;
    }
    for (int i = 0; i < count; i++) {
        uint32_t length = (uint32_t) frames [i].size;
        welcome [size++] = (uint8_t) (length >> 24);
        welcome [size++] = (uint8_t) (length >> 16);
        welcome [size++] = (uint8_t) (length >> 8);
        welcome [size++] = (uint8_t) length;
        memcpy (welcome + size, frames [i].data, length);
        size += length;
    }
    //  libzmq copies it into each connection's pipe when it dials (immediate
    //  off: the pipe is made at zmq_connect), and sends it first there.
    if (zmq_setsockopt (self->out->handle, ZMQ_XPUB_WELCOME_MSG, welcome, size)) {
        rc = -1;  //  (not the last welcome: its services may be gone)
        zmq_setsockopt (self->out->handle, ZMQ_XPUB_WELCOME_MSG, alone, alone_size);
    }
    if (welcome != (uint8_t *) alone)
        free (welcome);
    return rc;
}

void
colugo__trunk_drain (colugo__trunk_t *self)
{
    colugo__trunk_notice_fn *notice_fn = self->notice_fn;
    self->notice_fn = NULL;
    s_read_in (self, true);
    self->notice_fn = notice_fn;
    s_drop_notices (self);  //  what the loop had not given the link yet, read before it stopped
}

colugo_socket_t *
colugo__trunk_in (colugo__trunk_t *self)
{
    return self->in;
}

colugo_socket_t *
colugo__trunk_out (colugo__trunk_t *self)
{
    return self->out;
}
