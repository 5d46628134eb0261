/*  discovery.c: the loop's side of discovery. The avahi-daemon is spoken to
    by a thread of its own (dnssd_thread.c, which says why and how); here,
    on the node's loop, are the seam's calls, the pipes to that thread, a
    mirror of the services it reported up (so foreach never asks the
    daemon), and a watchdog that tells when the daemon stops answering.

    Nothing here blocks on the daemon: commands are written without
    blocking (queued when the pipe is full), events are read in bounded
    batches, and the thread's log lines are logged here, so the
    application's log handler and callbacks only ever run on the loop.
*/
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/malloc.h>
#include <stdint.h>
#include "colugo/error.h"
#include "discovery.h"
#include "dnssd_pipe.h"
#include "dnssd_records.h"
#include "dnssd_thread.h"
#include "logging.h"
#include "nodelink.h"

#define S_STALL_MS 2000         //  a call to the daemon this old is a stall
#define S_WATCHDOG_MS 250       //  how often the thread is looked at
#define S_STOP_MS 500           //  destroy waits this long for the thread
#define S_FIRST_ANSWER_MS 1000  //  without waiting for a daemon: is there one?
#define S_EVENTS_PER_WAKEUP 64  //  the loop has other work too
#define S_NOTICE_GRACE_MS 5000  //  a notice whose record is not seen by then goes
#define S_WITHDRAWN_MS 5000     //  a withdrawn service's lingering record is ignored
#define S_DOUBT_MS 60000        //  a name told of whose record did not appear: no grace again
#define S_NAMES_MAX 16384       //  names held (records seen, notices): a bound on floods
#define S_CHECK_MS 250          //  how often provisional notices are looked at
#define S_HOLD_MS 20            //  the first look waits at most this for the host's links

//  A command that waits for room in the pipe: the message's bytes.
typedef struct {
    size_t size;
    uint8_t data [];
} s_command_t;

//  A service the thread reported up: the message, and pointers into it.
typedef struct {
    colugo__service_t service;
    size_t size;
    uint8_t data [];
} s_service_t;

//  What is known of one instance name, from its record and from a notice
//  (nodelink.h). What the node is told is up:
//  - the resolved record, unless the service was withdrawn by a notice
//    from its host and the record only lingers;
//  - else the notice, while its record is browsed, or until the record
//    is first seen, for a grace period after the notice came: a notice
//    anticipates a record; it never displaces one, nor outlives it.
typedef struct {
    s_service_t *record;      //  resolved by the thread, or NULL
    s_service_t *notice;      //  told by a node link, or NULL
    int64_t grace_until;      //  the notice's, while its record is not seen
    bool seen;                //  the record's name is browsed
    bool confirmed;           //  seen since the notice came: no grace any more
    int64_t withdrawn_until;  //  a notice withdrew it: the record is ignored
    int64_t doubted_until;    //  a notice of it went unconfirmed: no grace for the next
    s_service_t *reported;    //  what the node was told is up (a copy), or NULL
} s_entry_t;

typedef struct {
    char *endpoint;
    char *identity;
    char *node_uuid;
} s_node_t;

struct colugo__discovery {
    colugo__discovery_config_t config;
    colugo__dnssd_t *thread;
    int commands;       //  our end of the command pipe (non-blocking)
    int events;         //  our end of the event pipe (non-blocking)
    zlistx_t *outbox;   //  s_command_t waiting for room in the command pipe
    bool writing;       //  a poller waits for that room
    bool reading;       //  a poller reads events
    zhashx_t *entries;  //  instance name -> s_entry_t
    zhashx_t *nodes;    //  node record name -> s_node_t, linked
    zhashx_t *own;      //  instance names of our publications -> the handle (as a pointer)
    zhashx_t *renamed;  //  a name given twice -> the last alternative given for it
    colugo__nodelink_t *link;
    uint64_t node_publication;
    uint64_t check;  //  timer: provisional notices
    colugo__ratelimit_t notice_log;
    uint64_t last_publication;
    uint64_t watchdog;  //  timer id
    bool stalled;       //  the stall is reported, its end not yet
    int64_t stall_ms;   //  how long the reported stall lasted, so far
    int state;          //  the thread's first answer (colugo__dnssd_state_t), 0 before
    bool present;       //  a daemon is there (COLUGO__DNSSD_PRESENT): notices count
    colugo__discovery_stats_t stats;
};

//  --------------------------------------------------------------------------
//  Events from the thread

static void
s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

static s_service_t *
s_service_new (const void *data, size_t size)
{
    s_service_t *self = malloc (sizeof *self + size);
    if (!self)
        return NULL;
    memcpy (self->data, data, size);
    self->size = size;
    colugo__frame_reader_t reader;
    colugo__frame_read (&reader, self->data, size);
    colugo__service_t *service = &self->service;
    service->name = colugo__frame_get_string (&reader);
    service->topic = colugo__frame_get_string (&reader);
    service->socket_type = (int) colugo__frame_get_number (&reader);
    service->node_uuid = colugo__frame_get_string (&reader);
    service->node_name = colugo__frame_get_string (&reader);
    service->host = colugo__frame_get_string (&reader);
    service->endpoint = colugo__frame_get_string (&reader);
    service->type = colugo__frame_get_string (&reader);
    service->identity = colugo__frame_get_string (&reader);
    service->verified_endpoint = colugo__frame_get_string (&reader);
    service->trunk_endpoint = colugo__frame_get_string (&reader);
    service->trunk_identity = colugo__frame_get_string (&reader);
    service->trunk_key = colugo__frame_get_number (&reader);
    if (reader.bad) {
        free (self);
        return NULL;
    }
    return self;
}

static void s_command (colugo__discovery_t *self, const colugo__frame_t *frame);

static s_service_t *
s_service_copy (const s_service_t *service)
{
    return service ? s_service_new (service->data, service->size) : NULL;
}

//  A service given field by field (a notice), as the thread would send it.
static s_service_t *
s_service_from (const colugo__service_t *service)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_UP);
    colugo__frame_put_string (&frame, service->name);
    colugo__frame_put_string (&frame, service->topic);
    colugo__frame_put_number (&frame, (uint64_t) service->socket_type);
    colugo__frame_put_string (&frame, service->node_uuid);
    colugo__frame_put_string (&frame, service->node_name);
    colugo__frame_put_string (&frame, service->host);
    colugo__frame_put_string (&frame, service->endpoint);
    colugo__frame_put_string (&frame, service->type);
    colugo__frame_put_string (&frame, service->identity);
    colugo__frame_put_string (&frame, service->verified_endpoint);
    colugo__frame_put_string (&frame, service->trunk_endpoint);
    colugo__frame_put_string (&frame, service->trunk_identity);
    colugo__frame_put_number (&frame, service->trunk_key);
    return frame.overflow ? NULL : s_service_new (frame.data, frame.size);
}

//  Whether two reports name the same service at the same place.
static bool
s_same (const s_service_t *a, const s_service_t *b)
{
    const colugo__service_t *x = &a->service, *y = &b->service;
    return x->socket_type == y->socket_type && !strcmp (x->topic, y->topic)
           && !strcmp (x->node_uuid, y->node_uuid) && !strcmp (x->endpoint, y->endpoint)
           && !strcmp (x->type, y->type) && !strcmp (x->identity, y->identity)
           && !strcmp (x->verified_endpoint, y->verified_endpoint)
           && !strcmp (x->trunk_endpoint, y->trunk_endpoint)
           && !strcmp (x->trunk_identity, y->trunk_identity) && x->trunk_key == y->trunk_key;
}

//  The address part of "tcp://<address>:<port>".
static bool
s_same_host (const char *endpoint, const char *address)
{
    size_t length = strlen (address);
    return strncmp (endpoint, "tcp://", 6) == 0 && strncmp (endpoint + 6, address, length) == 0
           && endpoint [6 + length] == ':';
}

static void
s_noticed (colugo__discovery_t *self, const char *name, bool on)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_NOTICED);
    colugo__frame_put_string (&frame, name);
    colugo__frame_put_number (&frame, on);
    s_command (self, &frame);
}

static s_entry_t *
s_entry (colugo__discovery_t *self, const char *name, bool create)
{
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, name);
    if (entry || !create || zhashx_size (self->entries) >= S_NAMES_MAX)
        return entry;
    entry = calloc (1, sizeof *entry);
    if (!entry || zhashx_insert (self->entries, name, entry)) {
        free (entry);
        colugo__error ("out of memory: a service found is ignored");
        return NULL;
    }
    return entry;
}

static void
s_entry_free (s_entry_t *entry)
{
    free (entry->record);
    free (entry->notice);
    free (entry->reported);
    free (entry);
}

//  Tells the node what changed in what is up under this name, and lets an
//  entry that holds nothing go.
static void
s_settle (colugo__discovery_t *self, const char *name, s_entry_t *entry)
{
    int64_t now = zclock_mono ();
    const s_service_t *up = NULL;
    if (entry->record && now >= entry->withdrawn_until)
        up = entry->record;
    else if (entry->notice && self->present
             && (entry->seen || (!entry->confirmed && now < entry->grace_until)))
        up = entry->notice;
    if (up && entry->reported && s_same (up, entry->reported))
        return;
    //  The callbacks may call into discovery: work on what is ours.
    s_service_t *old = entry->reported;
    entry->reported = s_service_copy (up);
    if (up && !entry->reported)
        colugo__error ("out of memory: a service found is ignored");
    bool empty = !entry->record && !entry->notice && !entry->seen && !entry->reported
                 && now >= entry->doubted_until;
    s_service_t *now_up = entry->reported ? s_service_copy (entry->reported) : NULL;
    if (empty) {
        zhashx_delete (self->entries, name);  //  (no destructor: freed here)
        s_entry_free (entry);
    }
    //  A service that names another endpoint now: the old one goes at once
    //  (still connected, it would deliver what the new one does, twice).
    if (old)
        self->config.on_service (self->config.arg,
                                 now_up ? COLUGO__SERVICE_FORGOTTEN : COLUGO__SERVICE_DOWN,
                                 &old->service);
    if (now_up) {
        self->stats.services_seen++;
        self->config.on_service (self->config.arg, COLUGO__SERVICE_UP, &now_up->service);
    }
    free (old);
    free (now_up);
}

static void
s_service_down (colugo__discovery_t *self, const char *name)
{
    s_entry_t *entry = s_entry (self, name, false);
    if (!entry)
        return;
    free (entry->record);
    entry->record = NULL;
    s_settle (self, name, entry);
}

static void
s_service_up (colugo__discovery_t *self, const void *data, size_t size)
{
    s_service_t *service = s_service_new (data, size);
    s_entry_t *entry = service ? s_entry (self, service->service.name, true) : NULL;
    if (!entry) {
        free (service);
        return;
    }
    free (entry->record);
    entry->record = service;
    s_settle (self, service->service.name, entry);
}

static void
s_seen (colugo__discovery_t *self, const char *name, bool seen)
{
    s_entry_t *entry = s_entry (self, name, seen);
    if (!entry)
        return;
    entry->seen = seen;
    if (seen && entry->notice)
        entry->confirmed = true;
    if (seen)
        entry->doubted_until = 0;
    if (!seen && entry->withdrawn_until) {
        entry->withdrawn_until = 0;  //  the lingering record is gone
        s_noticed (self, name, false);
    }
    s_settle (self, name, entry);
}

//  --------------------------------------------------------------------------
//  Notices from other nodes (nodelink.h)

static void
s_notice_invalid (colugo__discovery_t *self, const char *name, const char *why)
{
    self->stats.notices_invalid++;
    unsigned suppressed;
    char escaped [160];
    if (colugo__ratelimit (&self->notice_log, &suppressed))
        colugo__warn ("node link: ignoring the notice of '%s': %s (%u more not shown)",
                      colugo__escape (name, escaped, sizeof escaped), why, suppressed);
}

//  Whether a name told of is the one its topic and node uuid give, or one
//  of Avahi's alternatives of it ("name #2", the name then shortened to fit).
static bool
s_canonical (const char *name, const char *canonical)
{
    if (strcmp (name, canonical) == 0)
        return true;
    const char *mark = strrchr (name, '#');
    if (!mark || mark - name < 2 || mark [-1] != ' ' || !mark [1])
        return false;
    for (const char *digit = mark + 1; *digit; digit++)
        if (*digit < '0' || *digit > '9')
            return false;
    size_t base = (size_t) (mark - 1 - name);
    return base <= strlen (canonical) && strncmp (name, canonical, base) == 0;
}

static void
s_on_notice (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    s_entry_t *entry = s_entry (self, service->name, event == COLUGO__SERVICE_UP);
    if (event == COLUGO__SERVICE_DOWN) {
        //  Only what is on the sender's own host is withdrawn by it.
        if (!entry)
            return;
        bool noticed =
            entry->notice && s_same_host (entry->notice->service.endpoint, service->host);
        bool recorded =
            entry->record && s_same_host (entry->record->service.endpoint, service->host);
        if (!noticed && !recorded)
            return;
        free (entry->notice);
        entry->notice = NULL;
        if (entry->seen) {
            //  Its record lingers a second or so in every cache: ignored,
            //  and not resolved, until the browse sees it go.
            entry->withdrawn_until = zclock_mono () + S_WITHDRAWN_MS;
            s_noticed (self, service->name, true);
        }
        else
            s_noticed (self, service->name, false);
        s_settle (self, service->name, entry);
        return;
    }
    char canonical [64];
    colugo__discovery_instance_name (service->topic, service->node_uuid, canonical,
                                     sizeof canonical);
    if (!entry) {
        s_notice_invalid (self, service->name, "too many services known");
        return;
    }
    if (!s_canonical (service->name, canonical)) {
        s_notice_invalid (self, service->name, "not the name its topic and node uuid give");
        s_settle (self, service->name, entry);
        return;
    }
    if (entry->notice && !s_same_host (entry->notice->service.endpoint, service->host)
        && (entry->seen || zclock_mono () < entry->grace_until)) {
        s_notice_invalid (self, service->name, "told of from another host already");
        return;
    }
    s_service_t *notice = s_service_from (service);
    if (!notice) {
        colugo__error ("out of memory: a service told of is ignored");
        s_settle (self, service->name, entry);
        return;
    }
    if (!entry->notice)
        s_noticed (self, service->name, true);
    free (entry->notice);
    entry->notice = notice;
    entry->confirmed = entry->seen;
    //  Told of again after its record failed to appear: it waits for the
    //  record (a notice repeated forever is not a record).
    int64_t now = zclock_mono ();
    entry->grace_until = now < entry->doubted_until ? now : now + S_NOTICE_GRACE_MS;
    entry->withdrawn_until = 0;
    s_settle (self, service->name, entry);
}

typedef void (s_entry_fn) (colugo__discovery_t *self, const char *name, s_entry_t *entry,
                           int64_t now);

//  Calls fn for every entry, over a copy of the names: fn may settle an
//  entry, which frees it when it holds nothing.
static void
s_each_entry (colugo__discovery_t *self, s_entry_fn *fn)
{
    int64_t now = zclock_mono ();
    zlistx_t *names = zhashx_keys (self->entries);
    for (const char *name = names ? (const char *) zlistx_first (names) : NULL; name;
         name = (const char *) zlistx_next (names)) {
        s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, name);
        if (entry)
            fn (self, name, entry, now);
    }
    zlistx_destroy (&names);
}

//  A notice whose record did not appear in time goes (counted), and a
//  service withdrawn whose record never went is no longer held back.
static void
s_check_entry (colugo__discovery_t *self, const char *name, s_entry_t *entry, int64_t now)
{
    bool settle = false;
    if (entry->notice && !entry->seen && (entry->confirmed || now >= entry->grace_until)) {
        //  Without a daemon the notice was never up, and its record could
        //  not appear: it goes quietly (its node tells again when linked).
        if (!entry->confirmed && self->present) {
            self->stats.notices_unconfirmed++;
            unsigned suppressed;
            char escaped [160];
            if (colugo__ratelimit (&self->notice_log, &suppressed))
                colugo__warn ("service '%s' was told of by node '%s', but its DNS-SD record did "
                              "not appear within %d ms: let go (%u more not shown)",
                              colugo__escape (name, escaped, sizeof escaped),
                              entry->notice->service.node_name, S_NOTICE_GRACE_MS, suppressed);
        }
        free (entry->notice);
        entry->notice = NULL;
        s_noticed (self, name, false);
        entry->doubted_until = entry->confirmed || !self->present ? 0 : now + S_DOUBT_MS;
        settle = true;
    }
    if (entry->doubted_until && now >= entry->doubted_until) {
        entry->doubted_until = 0;
        settle = true;  //  an entry that held only the doubt goes
    }
    if (entry->withdrawn_until && now >= entry->withdrawn_until) {
        entry->withdrawn_until = 0;
        s_noticed (self, name, false);
        settle = true;
    }
    if (settle)
        s_settle (self, name, entry);
}

static void
s_on_check (void *arg)
{
    s_each_entry ((colugo__discovery_t *) arg, s_check_entry);
}

//  --------------------------------------------------------------------------
//  Node records: the nodes to tell of our services

static void
s_node_free (s_node_t *node)
{
    if (!node)
        return;
    free (node->endpoint);
    free (node->identity);
    free (node->node_uuid);
    free (node);
}

static void
s_node_down (colugo__discovery_t *self, const char *name)
{
    s_node_t *node = (s_node_t *) zhashx_lookup (self->nodes, name);
    if (!node)
        return;
    if (self->link)
        colugo__nodelink_unlink (self->link, node->endpoint, node->identity, node->node_uuid);
    zhashx_delete (self->nodes, name);
    s_node_free (node);
}

static void
s_node_up (colugo__discovery_t *self, colugo__frame_reader_t *reader)
{
    const char *name = colugo__frame_get_string (reader);
    const char *uuid = colugo__frame_get_string (reader);
    const char *node_name = colugo__frame_get_string (reader);
    const char *endpoint = colugo__frame_get_string (reader);
    const char *identity = colugo__frame_get_string (reader);
    if (reader->bad || !self->link || strcmp (uuid, self->config.node_uuid) == 0)
        return;
    s_node_down (self, name);  //  known under this name: it moved
    s_node_t *node = calloc (1, sizeof *node);
    if (node) {
        node->endpoint = strdup (endpoint);
        node->identity = strdup (identity);
        node->node_uuid = strdup (uuid);
    }
    if (!node || !node->endpoint || !node->identity || !node->node_uuid
        || zhashx_insert (self->nodes, name, node)) {
        s_node_free (node);
        colugo__error ("out of memory: node '%s' is not told of this node's services directly",
                       node_name);
        return;
    }
    colugo__nodelink_link (self->link, endpoint, identity, uuid, node_name);
}

//  A daemon is there: the notices held until now (younger than their
//  grace: s_check_entry) count from now on, each with its grace from now (a
//  record can only appear from now). Without a daemon, a notice from a node
//  on this host (found by its mark) would be up for its grace and then let
//  go, every time: not worth a connection.
static void
s_present_entry (colugo__discovery_t *self, const char *name, s_entry_t *entry, int64_t now)
{
    if (entry->notice && !entry->confirmed && now >= entry->doubted_until)
        entry->grace_until = now + S_NOTICE_GRACE_MS;
    s_settle (self, name, entry);
}

static void
s_present (colugo__discovery_t *self)
{
    if (self->present)
        return;
    self->present = true;
    s_each_entry (self, s_present_entry);
}

static void
s_dispatch (colugo__discovery_t *self, const uint8_t *data, size_t size)
{
    colugo__frame_reader_t reader;
    int kind = colugo__frame_read (&reader, data, size);
    if (kind == COLUGO__DNSSD_LOG) {
        colugo_log_level_t level = (colugo_log_level_t) colugo__frame_get_number (&reader);
        const char *text = colugo__frame_get_string (&reader);
        if (!reader.bad && level <= COLUGO_LOG_DEBUG)
            colugo__log (level, "%s", text);
    }
    else if (kind == COLUGO__DNSSD_UP)
        s_service_up (self, data, size);
    else if (kind == COLUGO__DNSSD_DOWN || kind == COLUGO__DNSSD_SEEN
             || kind == COLUGO__DNSSD_UNSEEN || kind == COLUGO__DNSSD_NODE_DOWN) {
        const char *name = colugo__frame_get_string (&reader);
        if (reader.bad)
            return;
        if (kind == COLUGO__DNSSD_DOWN)
            s_service_down (self, name);
        else if (kind == COLUGO__DNSSD_NODE_DOWN)
            s_node_down (self, name);
        else
            s_seen (self, name, kind == COLUGO__DNSSD_SEEN);
    }
    else if (kind == COLUGO__DNSSD_NODE_UP)
        s_node_up (self, &reader);
    else if (kind == COLUGO__DNSSD_PRESENT)
        s_present (self);
    else if (kind == COLUGO__DNSSD_STATE) {
        uint64_t state = colugo__frame_get_number (&reader);
        if (!reader.bad && !self->state)
            self->state = (int) state;
    }
    else if (kind == COLUGO__DNSSD_STATS) {
        uint64_t invalid = colugo__frame_get_number (&reader);
        uint64_t failures = colugo__frame_get_number (&reader);
        uint64_t restarts = colugo__frame_get_number (&reader);
        uint64_t resolved = colugo__frame_get_number (&reader);
        if (!reader.bad) {
            self->stats.services_invalid = invalid;
            self->stats.resolve_failures = failures;
            self->stats.daemon_restarts = restarts;
            self->stats.services_resolved = resolved;
        }
    }
}

//  Reads a batch of events; returns false when the thread's end is gone.
static bool
s_read_events (colugo__discovery_t *self)
{
    uint8_t data [COLUGO__DNSSD_FRAME_MAX];
    for (int i = 0; i < S_EVENTS_PER_WAKEUP; i++) {
        ssize_t got = recv (self->events, data, sizeof data, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (got <= 0)
            return false;
        s_dispatch (self, data, (size_t) got);
    }
    return true;
}

static int
s_on_events (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    if (!s_read_events (self)) {
        colugo__error ("discovery: its thread ended; nothing more is discovered");
        zloop_poller_end (loop, item);
        self->reading = false;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Commands to the thread

static void s_flush (colugo__discovery_t *self);

static int
s_on_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_flush ((colugo__discovery_t *) arg);
    return 0;
}

//  Writes what waits in the outbox, as far as the pipe takes it; a poller
//  waits for room while anything is left.
static void
s_flush (colugo__discovery_t *self)
{
    s_command_t *frame;
    while ((frame = (s_command_t *) zlistx_first (self->outbox))) {
        if (send (self->commands, frame->data, frame->size, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            colugo__error ("discovery: its thread is gone (%s)", strerror (errno));
            zlistx_purge (self->outbox);
            break;
        }
        free (zlistx_detach (self->outbox, NULL));
    }
    bool waiting = zlistx_size (self->outbox) > 0;
    if (waiting == self->writing)
        return;
    zmq_pollitem_t item = {NULL, self->commands, ZMQ_POLLOUT, 0};
    if (waiting) {
        if (zloop_poller (self->config.loop, &item, s_on_writable, self) == 0)
            zloop_poller_set_tolerant (self->config.loop, &item);
        else
            colugo__error ("discovery: cannot watch its command pipe");
    }
    else
        zloop_poller_end (self->config.loop, &item);
    self->writing = waiting;
}

static void
s_command (colugo__discovery_t *self, const colugo__frame_t *frame)
{
    s_command_t *copy = malloc (sizeof *copy + frame->size);
    if (!copy || !zlistx_add_end (self->outbox, copy)) {
        free (copy);
        colugo__error ("out of memory: a discovery command is lost");
        return;
    }
    copy->size = frame->size;
    memcpy (copy->data, frame->data, frame->size);
    s_flush (self);
}

//  --------------------------------------------------------------------------
//  The watchdog

static void
s_on_watchdog (void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    int64_t busy = colugo__dnssd_busy_ms (self->thread);
    if (!self->stalled && busy >= S_STALL_MS) {
        self->stalled = true;
        self->stats.daemon_stalls++;
        colugo__warn ("avahi-daemon does not answer: a call to it has been waiting for %lld ms; "
                      "discovery waits, the node runs on",
                      (long long) busy);
    }
    else if (self->stalled && busy < self->stall_ms) {
        self->stalled = false;
        colugo__warn ("avahi-daemon answers again, after about %lld ms",
                      (long long) self->stall_ms);
    }
    self->stall_ms = busy;
}

//  Every node on this host found by its mark has written to us: the first
//  look at the daemon may start.
static void
s_on_linked (void *arg)
{
    colugo__discovery_t *self = (colugo__discovery_t *) arg;
    if (!self->thread)
        return;
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_BEGIN);
    s_command (self, &frame);
}

//  --------------------------------------------------------------------------
//  The seam

int
colugo__discovery_new (const colugo__discovery_config_t *config, colugo__discovery_t **self_p)
{
    *self_p = NULL;
    colugo__discovery_t *self = calloc (1, sizeof *self);
    if (!self)
        return COLUGO_ENOMEM;
    self->config = *config;
    self->commands = self->events = -1;
    self->outbox = zlistx_new ();
    self->entries = zhashx_new ();
    self->nodes = zhashx_new ();
    self->own = zhashx_new ();
    self->renamed = zhashx_new ();
    if (self->renamed)
        zhashx_set_destructor (self->renamed, s_free_item);
    if (!self->outbox || !self->entries || !self->nodes || !self->own || !self->renamed) {
        colugo__discovery_destroy (&self);
        return COLUGO_ENOMEM;
    }
    zlistx_set_destructor (self->outbox, s_free_item);
    //  The link first: it dials the nodes on this host at once, found by
    //  their marks (hostnodes.h).
    self->link = config->env ? colugo__nodelink_new (config->env, config->env->trunk, s_on_notice,
                                                     s_on_linked, self)
                             : NULL;
    //  Their handshakes and notices then come before the first look at the
    //  daemon, which needs them less: its D-Bus calls (and dbus-daemon's
    //  and avahi-daemon's work for them) ran on the same cores, and a new
    //  publisher's first message at a subscriber on this host took 24 ms
    //  (median; 18 held; bench/run's discovery section).
    size_t pending = self->link ? colugo__nodelink_host_nodes_pending (self->link) : 0;
    colugo__dnssd_config_t thread_config = {.node_uuid = config->node_uuid,
                                            .node_name = config->node_name,
                                            .wait_for_daemon = config->wait_for_daemon,
                                            .debug = colugo__log_enabled (COLUGO_LOG_DEBUG),
                                            .hold_ms = pending ? S_HOLD_MS : 0};
    self->thread = colugo__dnssd_start (&thread_config, &self->commands, &self->events);
    zmq_pollitem_t item = {NULL, self->events, ZMQ_POLLIN, 0};
    if (!self->thread || zloop_poller (config->loop, &item, s_on_events, self)) {
        colugo__discovery_destroy (&self);
        return COLUGO_ENOMEM;
    }
    zloop_poller_set_tolerant (config->loop, &item);
    self->reading = true;
    self->watchdog = colugo__timers_add (config->timers, zclock_mono () + S_WATCHDOG_MS,
                                         S_WATCHDOG_MS, s_on_watchdog, self);
    self->check = colugo__timers_add (config->timers, zclock_mono () + S_CHECK_MS, S_CHECK_MS,
                                      s_on_check, self);
    //  The node record goes out first, then the services (the node browser
    //  is started first too: dnssd_thread.c).
    if (self->link) {
        colugo__frame_t frame;
        colugo__frame_init (&frame, COLUGO__DNSSD_PUBLISH_NODE);
        self->node_publication = ++self->last_publication;
        colugo__frame_put_number (&frame, self->node_publication);
        colugo__frame_put_number (&frame, colugo__nodelink_port (self->link));
        colugo__frame_put_number (&frame, colugo__nodelink_socket_id (self->link));
        s_command (self, &frame);
    }
    if (!config->wait_for_daemon) {
        //  The one wait on the daemon, bounded, before the loop runs: the
        //  caller asked to fail when there is none. A daemon on the bus is
        //  answer enough (COLUGO__DNSSD_PRESENT, in a millisecond or two;
        //  avahi-client runs 20 ms or more later: dnssd_thread.c).
        int64_t deadline = zclock_mono () + S_FIRST_ANSWER_MS;
        int64_t left;
        while (!self->state && !self->present && (left = deadline - zclock_mono ()) > 0) {
            struct pollfd ready = {self->events, POLLIN, 0};
            if (poll (&ready, 1, (int) left) > 0 && !s_read_events (self))
                break;
        }
        if (self->state == COLUGO__DNSSD_NO_DAEMON) {
            colugo__error ("cannot use avahi-daemon: it is not running (start it, or ask the "
                           "node to wait for it)");
            colugo__discovery_destroy (&self);
            return COLUGO_ENODAEMON;
        }
        if (!self->state && !self->present)
            colugo__warn ("avahi-daemon has not answered in %d ms; going on without waiting",
                          S_FIRST_ANSWER_MS);
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
    if (self->commands >= 0) {
        colugo__frame_t quit;
        colugo__frame_init (&quit, COLUGO__DNSSD_QUIT);
        send (self->commands, quit.data, quit.size, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    //  Closing our ends tells the thread too, even when the pipe is full or
    //  the thread blocks on sending to us.
    zmq_pollitem_t item = {NULL, self->events, 0, 0};
    if (self->reading)
        zloop_poller_end (self->config.loop, &item);
    item.fd = self->commands;
    if (self->writing)
        zloop_poller_end (self->config.loop, &item);
    if (self->events >= 0)
        close (self->events);
    if (self->commands >= 0)
        close (self->commands);
    if (self->thread && !colugo__dnssd_stop (&self->thread, S_STOP_MS))
        colugo__warn ("avahi-daemon does not answer: discovery's thread is left to end by "
                      "itself");
    if (self->watchdog)
        colugo__timers_cancel (self->config.timers, self->watchdog);
    if (self->check)
        colugo__timers_cancel (self->config.timers, self->check);
    if (self->link)
        colugo__nodelink_withdraw_all (self->link);  //  while the links are up
    if (self->nodes && self->link)  //  (the link's claims on the trunk, which stays)
        for (s_node_t *node = (s_node_t *) zhashx_first (self->nodes); node;
             node = (s_node_t *) zhashx_next (self->nodes))
            colugo__nodelink_unlink (self->link, node->endpoint, node->identity, node->node_uuid);
    colugo__nodelink_destroy (&self->link);
    zlistx_destroy (&self->outbox);
    if (self->entries)
        for (void *entry = zhashx_first (self->entries); entry; entry = zhashx_next (self->entries))
            s_entry_free ((s_entry_t *) entry);
    zhashx_destroy (&self->entries);
    if (self->nodes)
        for (void *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
            s_node_free ((s_node_t *) node);
    zhashx_destroy (&self->nodes);
    zhashx_destroy (&self->own);
    zhashx_destroy (&self->renamed);
    free (self);
    *self_p = NULL;
}

uint64_t
colugo__discovery_publish (colugo__discovery_t *self, const char *topic, int socket_type,
                           const char *type, uint16_t port, uint16_t verified_port,
                           uint64_t socket_id, colugo__trunk_txt_t trunk)
{
    //  Checked here, so that a publication that cannot be advertised whole
    //  fails loudly now, instead of being cut.
    uint8_t txt [COLUGO__TXT_MAX];
    colugo__txt_fields_t fields = {.topic = topic,
                                   .socket_type = socket_type,
                                   .node_uuid = self->config.node_uuid,
                                   .node_name = self->config.node_name,
                                   .type = type,
                                   .verified_port = verified_port,
                                   .socket_id = socket_id,
                                   .trunk_port = trunk.port,
                                   .trunk_id = trunk.id,
                                   .trunk_key = trunk.key};
    if (!colugo__txt_build (&fields, txt, sizeof txt)) {
        colugo__error ("topic '%s' cannot be advertised: its TXT record (topic, type, node name, "
                       "socket id) is out of bounds or over %d bytes",
                       topic, (int) COLUGO__TXT_MAX);
        return 0;
    }
    //  The instance name: two publications of one topic in one node (or
    //  two long topics cut to one name) get Avahi's alternatives ("name #2"),
    //  chosen here so that the record and the notice carry the same.
    char canonical [AVAHI_LABEL_MAX], name [AVAHI_LABEL_MAX];
    colugo__discovery_instance_name (topic, self->config.node_uuid, canonical, sizeof canonical);
    snprintf (name, sizeof name, "%s", canonical);
    if (zhashx_lookup (self->own, name)) {
        //  From the last alternative given: a thousand publications of one
        //  topic do not try a thousand names each.
        const char *last = (const char *) zhashx_lookup (self->renamed, canonical);
        if (last)
            snprintf (name, sizeof name, "%s", last);
        while (zhashx_lookup (self->own, name)) {
            char *next = avahi_alternative_service_name (name);
            if (!next) {
                colugo__error ("out of memory: topic '%s' is not advertised", topic);
                return 0;
            }
            snprintf (name, sizeof name, "%s", next);
            avahi_free (next);
        }
        char *copy = strdup (name);
        if (!copy) {
            colugo__error ("out of memory: topic '%s' is not advertised", topic);
            return 0;
        }
        zhashx_update (self->renamed, canonical, copy);
    }
    uint64_t id = ++self->last_publication;
    if (zhashx_insert (self->own, name, (void *) (uintptr_t) id)) {
        colugo__error ("out of memory: topic '%s' is not advertised", topic);
        return 0;
    }
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_PUBLISH);
    colugo__frame_put_number (&frame, id);
    colugo__frame_put_number (&frame, (uint64_t) socket_type);
    colugo__frame_put_number (&frame, port);
    colugo__frame_put_number (&frame, verified_port);
    colugo__frame_put_number (&frame, socket_id);
    colugo__frame_put_number (&frame, trunk.port);
    colugo__frame_put_number (&frame, trunk.id);
    colugo__frame_put_number (&frame, trunk.key);
    colugo__frame_put_string (&frame, topic);
    colugo__frame_put_string (&frame, type ? type : "");
    colugo__frame_put_string (&frame, name);
    s_command (self, &frame);
    if (self->link && verified_port && socket_id) {
        colugo__nodelink_offer (self->link, id, name, port, txt,
                                colugo__txt_build (&fields, txt, sizeof txt));
    }
    return id;
}

void
colugo__discovery_withdraw (colugo__discovery_t *self, uint64_t handle)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_WITHDRAW);
    colugo__frame_put_number (&frame, handle);
    s_command (self, &frame);
    if (self->link)
        colugo__nodelink_withdraw (self->link, handle);
    for (void *id = zhashx_first (self->own); id; id = zhashx_next (self->own))
        if ((uintptr_t) id == handle) {
            zhashx_delete (self->own, zhashx_cursor (self->own));
            break;
        }
}

void
colugo__discovery_foreach (colugo__discovery_t *self, colugo__discovery_fn *fn, void *arg)
{
    zlistx_t *names = zhashx_keys (self->entries);
    if (!names) {
        colugo__error ("out of memory: discovery cannot list its services");
        return;
    }
    for (const char *name = (const char *) zlistx_first (names); name;
         name = (const char *) zlistx_next (names)) {
        s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, name);
        s_service_t *service = entry ? s_service_copy (entry->reported) : NULL;
        if (service)
            fn (arg, COLUGO__SERVICE_UP, &service->service);
        free (service);
    }
    zlistx_destroy (&names);
}

colugo__discovery_stats_t
colugo__discovery_stats (colugo__discovery_t *self)
{
    colugo__discovery_stats_t stats = self->stats;
    if (self->link) {
        colugo__nodelink_stats_t link = colugo__nodelink_stats (self->link);
        stats.notices = link.notices;
        stats.notices_invalid += link.notices_invalid;
    }
    return stats;
}
