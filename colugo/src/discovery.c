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
#include "colugo/error.h"
#include "discovery.h"
#include "dnssd_pipe.h"
#include "dnssd_records.h"
#include "dnssd_thread.h"
#include "logging.h"

#define S_STALL_MS 2000         //  a call to the daemon this old is a stall
#define S_WATCHDOG_MS 250       //  how often the thread is looked at
#define S_STOP_MS 500           //  destroy waits this long for the thread
#define S_FIRST_ANSWER_MS 1000  //  without waiting for a daemon: is there one?
#define S_EVENTS_PER_WAKEUP 64  //  the loop has other work too

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

struct colugo__discovery {
    colugo__discovery_config_t config;
    colugo__dnssd_t *thread;
    int commands;        //  our end of the command pipe (non-blocking)
    int events;          //  our end of the event pipe (non-blocking)
    zlistx_t *outbox;    //  s_command_t waiting for room in the command pipe
    bool writing;        //  a poller waits for that room
    bool reading;        //  a poller reads events
    zhashx_t *services;  //  instance name -> s_service_t, what is up
    uint64_t last_publication;
    uint64_t watchdog;  //  timer id
    bool stalled;       //  the stall is reported, its end not yet
    int64_t stall_ms;   //  how long the reported stall lasted, so far
    int state;          //  the thread's first answer (colugo__dnssd_state_t), 0 before
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
    if (reader.bad) {
        free (self);
        return NULL;
    }
    return self;
}

//  Takes a service out of the mirror, then tells the node it is down.
static void
s_service_down (colugo__discovery_t *self, const char *name)
{
    s_service_t *service = (s_service_t *) zhashx_lookup (self->services, name);
    if (!service)
        return;
    zhashx_delete (self->services, name);  //  the mirror has no destructor: freed below
    self->config.on_service (self->config.arg, COLUGO__SERVICE_DOWN, &service->service);
    free (service);
}

static void
s_service_up (colugo__discovery_t *self, const void *data, size_t size)
{
    s_service_t *service = s_service_new (data, size);
    if (!service) {
        colugo__error ("out of memory: a service found is ignored");
        return;
    }
    //  Known under this name: it changed (an address, a port, its TXT).
    s_service_down (self, service->service.name);
    if (zhashx_insert (self->services, service->service.name, service)) {
        free (service);
        return;
    }
    self->stats.services_seen++;
    self->config.on_service (self->config.arg, COLUGO__SERVICE_UP, &service->service);
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
    else if (kind == COLUGO__DNSSD_DOWN) {
        const char *name = colugo__frame_get_string (&reader);
        if (!reader.bad)
            s_service_down (self, name);
    }
    else if (kind == COLUGO__DNSSD_STATE) {
        uint64_t state = colugo__frame_get_number (&reader);
        if (!reader.bad && !self->state)
            self->state = (int) state;
    }
    else if (kind == COLUGO__DNSSD_STATS) {
        uint64_t invalid = colugo__frame_get_number (&reader);
        uint64_t failures = colugo__frame_get_number (&reader);
        uint64_t restarts = colugo__frame_get_number (&reader);
        if (!reader.bad) {
            self->stats.services_invalid = invalid;
            self->stats.resolve_failures = failures;
            self->stats.daemon_restarts = restarts;
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
    self->services = zhashx_new ();
    if (!self->outbox || !self->services) {
        colugo__discovery_destroy (&self);
        return COLUGO_ENOMEM;
    }
    zlistx_set_destructor (self->outbox, s_free_item);
    colugo__dnssd_config_t thread_config = {.node_uuid = config->node_uuid,
                                            .node_name = config->node_name,
                                            .wait_for_daemon = config->wait_for_daemon,
                                            .debug = colugo__log_enabled (COLUGO_LOG_DEBUG)};
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
    if (!config->wait_for_daemon) {
        //  The one wait on the daemon, bounded, before the loop runs: the
        //  caller asked to fail when there is none.
        int64_t deadline = zclock_mono () + S_FIRST_ANSWER_MS;
        int64_t left;
        while (!self->state && (left = deadline - zclock_mono ()) > 0) {
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
        if (!self->state)
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
    zlistx_destroy (&self->outbox);
    if (self->services)
        for (void *service = zhashx_first (self->services); service;
             service = zhashx_next (self->services))
            free (service);
    zhashx_destroy (&self->services);
    free (self);
    *self_p = NULL;
}

uint64_t
colugo__discovery_publish (colugo__discovery_t *self, const char *topic, int socket_type,
                           const char *type, uint16_t port, uint16_t verified_port,
                           uint64_t socket_id)
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
                                   .socket_id = socket_id};
    if (!colugo__txt_build (&fields, txt, sizeof txt)) {
        colugo__error ("topic '%s' cannot be advertised: its TXT record (topic, type, node name, "
                       "socket id) is out of bounds or over %d bytes",
                       topic, (int) COLUGO__TXT_MAX);
        return 0;
    }
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_PUBLISH);
    uint64_t id = ++self->last_publication;
    colugo__frame_put_number (&frame, id);
    colugo__frame_put_number (&frame, (uint64_t) socket_type);
    colugo__frame_put_number (&frame, port);
    colugo__frame_put_number (&frame, verified_port);
    colugo__frame_put_number (&frame, socket_id);
    colugo__frame_put_string (&frame, topic);
    colugo__frame_put_string (&frame, type ? type : "");
    s_command (self, &frame);
    return id;
}

void
colugo__discovery_withdraw (colugo__discovery_t *self, uint64_t handle)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_WITHDRAW);
    colugo__frame_put_number (&frame, handle);
    s_command (self, &frame);
}

void
colugo__discovery_foreach (colugo__discovery_t *self, colugo__discovery_fn *fn, void *arg)
{
    zlistx_t *names = zhashx_keys (self->services);
    if (!names) {
        colugo__error ("out of memory: discovery cannot list its services");
        return;
    }
    for (const char *name = (const char *) zlistx_first (names); name;
         name = (const char *) zlistx_next (names)) {
        s_service_t *service = (s_service_t *) zhashx_lookup (self->services, name);
        if (service)
            fn (arg, COLUGO__SERVICE_UP, &service->service);
    }
    zlistx_destroy (&names);
}

colugo__discovery_stats_t
colugo__discovery_stats (colugo__discovery_t *self)
{
    return self->stats;
}
