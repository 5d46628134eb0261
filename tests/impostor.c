/*  impostor: a process that speaks the node link (colugo/src/nodelink.h)
    but never advertises anything through DNS-SD.

        impostor NODE_NAME TOPIC [-t exit_after_ms] [-k] [-w UUID] [-W [-M]] [-B N]

    Finds the node record (_colugo-node._tcp) of the node named NODE_NAME
    through the local avahi-daemon, dials that node's inbox as a real node's
    outbox would (the PLAIN server of the handshake, the inbox's identity
    as ZAP domain, with a welcome naming its uuid), and tells it of
    a publisher of TOPIC: a real ZeroMQ publisher here, with an open port and
    a verified port whose ZAP handler accepts exactly its own identity, so
    the notice passes every check a record would. Only the record is
    missing: the victim must not keep trusting it.

    Prints "READY <uuid> <port>" (its own uuid, the publisher's open port)
    once the notice went out, "NOTICE" each time it goes out again (a new
    subscription of the inbox); publishes "impostor:<n>" every 20 ms; stops
    when killed or after exit_after_ms (default 30 s).

    With -k, the publisher is on the impostor's trunk too (TXT trunk,
    colugo/src/trunk.h: the outbox is the trunk's out), and the impostor is
    hostile: the victim's in subscribes on the outbox's connection to every
    publisher it rides (a SUB subscribes on all its connections), so for
    each subscription to another node's key it sends messages "forged:<n>"
    under that key, and that key's end (the head alone), and prints
    "FORGED <n>" after each round. With -w, its welcome (the first message
    of its connection: colugo/src/trunk.h) names UUID, another node, instead
    of itself. With -W, the notice goes in the welcome (after its uuid, a
    NUL and length-prefixed frames, as a node's trunk sends it), and never
    on a subscription: "READY" once the inbox first subscribed. With -M
    too, the welcome's last frame is cut short (its length says more).
    With -B N, it also dials the inbox N times more, each connection's
    welcome padded to 4 MiB, and prints "BIG" once they are up (a node
    must not keep such welcomes).
*/
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <zmq.h>

#define UUID "00000000-1mp0-5t0r-0000-000000000001"
#define INBOX_ID "1"
#define PUB_ID "2"
#define KEY "00000000000000aa"
#define HEADS_MAX 16

typedef struct {
    const char *node_name;
    AvahiSimplePoll *poll;
    AvahiClient *client;
    bool found;
    uint16_t port;
    char uuid [64];
    char socket_id [24];
} s_search_t;

static long long
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static char *
s_txt (AvahiStringList *txt, const char *key)
{
    char *found_key = NULL, *value = NULL;
    AvahiStringList *entry = avahi_string_list_find (txt, key);
    if (!entry || avahi_string_list_get_pair (entry, &found_key, &value, NULL) < 0)
        return NULL;
    avahi_free (found_key);
    return value;
}

static void
s_on_resolve (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
              AvahiResolverEvent event, const char *name, const char *type, const char *domain,
              const char *host, const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
              AvahiLookupResultFlags flags, void *arg)
{
    (void) interface, (void) protocol, (void) name, (void) type, (void) domain, (void) host,
        (void) address, (void) flags;
    s_search_t *self = (s_search_t *) arg;
    if (event == AVAHI_RESOLVER_FOUND && !self->found) {
        char *node_name = s_txt (txt, "node_name"), *uuid = s_txt (txt, "node_uuid"),
             *socket_id = s_txt (txt, "socket_id");
        if (node_name && uuid && socket_id && strcmp (node_name, self->node_name) == 0) {
            self->found = true;
            self->port = port;
            snprintf (self->uuid, sizeof self->uuid, "%s", uuid);
            snprintf (self->socket_id, sizeof self->socket_id, "%s", socket_id);
            avahi_simple_poll_quit (self->poll);
        }
        avahi_free (node_name);
        avahi_free (uuid);
        avahi_free (socket_id);
    }
    avahi_service_resolver_free (resolver);
}

static void
s_on_browse (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
             AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
             AvahiLookupResultFlags flags, void *arg)
{
    (void) browser, (void) flags;
    s_search_t *self = (s_search_t *) arg;
    if (event == AVAHI_BROWSER_NEW)
        avahi_service_resolver_new (self->client, interface, protocol, name, type, domain,
                                    AVAHI_PROTO_INET, 0, s_on_resolve, self);
}

//  The ZAP handler of the verified port: the PLAIN user name must be the
//  domain (the socket's identity), as colugo/src/zap.c decides.
static void
s_zap_answer (void *zap)
{
    char frames [7][256];
    size_t sizes [7];
    int count = 0, more = 1;
    while (more && count < 7) {
        int size = zmq_recv (zap, frames [count], sizeof frames [count] - 1, 0);
        if (size < 0)
            return;
        sizes [count] =
            (size_t) size < sizeof frames [count] ? (size_t) size : sizeof frames [count] - 1;
        frames [count][sizes [count]] = 0;
        count++;
        size_t more_size = sizeof more;
        zmq_getsockopt (zap, ZMQ_RCVMORE, &more, &more_size);
    }
    while (more) {  //  more than a PLAIN request has: drained
        zmq_msg_t rest;
        zmq_msg_init (&rest);
        zmq_msg_recv (&rest, zap, 0);
        more = zmq_msg_more (&rest);
        zmq_msg_close (&rest);
    }
    //  version, request id, domain, address, identity, mechanism, user name
    bool ok =
        count == 7 && strcmp (frames [5], "PLAIN") == 0 && strcmp (frames [2], frames [6]) == 0;
    zmq_send (zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send (zap, frames [1], sizes [1], ZMQ_SNDMORE);
    zmq_send (zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send (zap, "", 0, ZMQ_SNDMORE);
    zmq_send (zap, "", 0, ZMQ_SNDMORE);
    zmq_send (zap, "", 0, 0);
}

static uint16_t
s_bound_port (void *socket)
{
    char endpoint [128];
    size_t size = sizeof endpoint;
    zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, endpoint, &size);
    const char *colon = strrchr (endpoint, ':');
    return colon ? (uint16_t) atoi (colon + 1) : 0;
}

static void
s_send (void *socket, const void *data, size_t size, bool more)
{
    zmq_send (socket, data, size, more ? ZMQ_SNDMORE : 0);
}

//  An outbox dialling the victim's inbox as a node's would: the PLAIN
//  server of the handshake, the inbox's identity as ZAP domain.
static void *
s_outbox (void *context, const char *inbox, const char *identity, const void *welcome,
          size_t welcome_size)
{
    int on = 1;
    void *outbox = zmq_socket (context, ZMQ_XPUB);
    zmq_setsockopt (outbox, ZMQ_PLAIN_SERVER, &on, sizeof on);
    zmq_setsockopt (outbox, ZMQ_ZAP_DOMAIN, identity, strlen (identity));
    zmq_setsockopt (outbox, ZMQ_XPUB_WELCOME_MSG, welcome, welcome_size);
    zmq_connect (outbox, inbox);
    return outbox;
}

int
main (int argc, char *argv [])
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (argc < 3) {
        fprintf (
            stderr,
            "usage: impostor NODE_NAME TOPIC [-t exit_after_ms] [-k] [-w UUID] [-W [-M]] [-B N]\n");
        return 2;
    }
    long long deadline = s_now_ms () + 30000;
    bool hostile = false, in_welcome = false, malformed = false;
    int big = 0;
    const char *welcome_uuid = UUID;
    for (int i = 3; i < argc; i++)
        if (strcmp (argv [i], "-t") == 0 && i + 1 < argc)
            deadline = s_now_ms () + atol (argv [++i]);
        else if (strcmp (argv [i], "-k") == 0)
            hostile = true;
        else if (strcmp (argv [i], "-w") == 0 && i + 1 < argc)
            welcome_uuid = argv [++i];
        else if (strcmp (argv [i], "-W") == 0)
            in_welcome = true;
        else if (strcmp (argv [i], "-M") == 0)
            malformed = true;
        else if (strcmp (argv [i], "-B") == 0 && i + 1 < argc)
            big = atoi (argv [++i]);
    s_search_t search = {.node_name = argv [1], .poll = avahi_simple_poll_new ()};
    int error = 0;
    search.client = avahi_client_new (avahi_simple_poll_get (search.poll), 0, NULL, NULL, &error);
    if (!search.client
        || !avahi_service_browser_new (search.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                       "_colugo-node._tcp", "local", 0, s_on_browse, &search)) {
        fprintf (stderr, "impostor: %s\n", avahi_strerror (error));
        return 1;
    }
    while (!search.found && s_now_ms () < deadline
           && avahi_simple_poll_iterate (search.poll, 100) >= 0)
        ;
    avahi_client_free (search.client);
    avahi_simple_poll_free (search.poll);
    if (!search.found) {
        fprintf (stderr, "impostor: no node record of node '%s'\n", argv [1]);
        return 1;
    }

    void *context = zmq_ctx_new ();
    void *zap = zmq_socket (context, ZMQ_REP);
    zmq_bind (zap, "inproc://zeromq.zap.01");
    //  The publisher: an open port, then the verified one.
    void *publisher = zmq_socket (context, ZMQ_PUB);
    int on = 1, off = 0;
    zmq_bind (publisher, "tcp://127.0.0.1:*");
    uint16_t open_port = s_bound_port (publisher);
    const char *identity = UUID ":" PUB_ID;
    zmq_setsockopt (publisher, ZMQ_PLAIN_SERVER, &on, sizeof on);
    zmq_setsockopt (publisher, ZMQ_ZAP_DOMAIN, identity, strlen (identity));
    zmq_bind (publisher, "tcp://127.0.0.1:*");
    uint16_t verified_port = s_bound_port (publisher);
    zmq_setsockopt (publisher, ZMQ_PLAIN_SERVER, &off, sizeof off);
    //  The outbox, dialling the victim's inbox as the record says.
    char inbox_identity [96], inbox [64];
    snprintf (inbox_identity, sizeof inbox_identity, "%s:%s", search.uuid, search.socket_id);
    snprintf (inbox, sizeof inbox, "tcp://127.0.0.1:%u", search.port);

    //  The service's TXT, as the record would carry it.
    char topic [300], port_text [8], verified_text [24], name [80];
    snprintf (topic, sizeof topic, "topic=%s", argv [2]);
    snprintf (port_text, sizeof port_text, "%u", open_port);
    snprintf (verified_text, sizeof verified_text, "verified_port=%u", verified_port);
    snprintf (name, sizeof name, "_%.30s._%s", argv [2], UUID);
    char trunk_text [64];
    snprintf (trunk_text, sizeof trunk_text, "trunk=1." INBOX_ID "." KEY);  //  (no inbox here)
    AvahiStringList *txt = avahi_string_list_new (
        topic, "socket_type=1", "node_uuid=" UUID, "node_name=Impostor", "colugo=1",
        "socket_id=" PUB_ID, verified_text, hostile ? trunk_text : NULL, NULL);
    uint8_t wire [1300];
    size_t wire_size = avahi_string_list_serialize (txt, wire, sizeof wire);
    avahi_string_list_free (txt);
    const char *notice [8] = {"colugo-node 1 U", UUID, "Impostor", INBOX_ID, "1", name, port_text};
    size_t notice_sizes [8];
    for (int i = 0; i < 7; i++)
        notice_sizes [i] = strlen (notice [i]);
    notice [7] = (const char *) wire;  //  (an inbox port nobody listens on, above)
    notice_sizes [7] = wire_size;

    //  The welcome, then the dial.
    uint8_t welcome [2048];
    size_t welcome_size =
        (size_t) snprintf ((char *) welcome, 128, "colugo-node 1 W %.64s", welcome_uuid);
    if (in_welcome) {
        welcome [welcome_size++] = 0;
        for (int i = 0; i < 8; i++) {
            uint32_t length = (uint32_t) notice_sizes [i];
            uint8_t prefix [4] = {(uint8_t) (length >> 24), (uint8_t) (length >> 16),
                                  (uint8_t) (length >> 8), (uint8_t) length};
            memcpy (welcome + welcome_size, prefix, 4);
            memcpy (welcome + welcome_size + 4, notice [i], length);
            welcome_size += 4 + length;
        }
        if (malformed)
            welcome_size -= 2;
    }
    void *outbox = s_outbox (context, inbox, inbox_identity, welcome, welcome_size);
    zmq_setsockopt (outbox, ZMQ_XPUB_VERBOSE, &on, sizeof on);
    //  The big ones (their handshakes ask the same ZAP handler, below).
    void *bigs [64];
    bool big_up [64] = {false};
    int bigs_up = 0;
    big = big < 0 ? 0 : big > 64 ? 64 : big;
    size_t big_size = 4 * 1024 * 1024;
    char *padded = big ? calloc (1, big_size) : NULL;
    if (padded)
        snprintf (padded, 64, "colugo-node 1 W %s", UUID);
    for (int i = 0; i < big && padded; i++) {
        bigs [i] = s_outbox (context, inbox, inbox_identity, padded, big_size);
    }
    free (padded);

    bool ready = false;
    long long next_send = s_now_ms ();
    unsigned long sent = 0, forged = 0;
    uint8_t heads [HEADS_MAX][300];
    size_t head_sizes [HEADS_MAX], head_count = 0;
    while (s_now_ms () < deadline) {
        zmq_pollitem_t items [] = {{zap, 0, ZMQ_POLLIN, 0}, {outbox, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 20) < 0)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_zap_answer (zap);
        //  A big connection is up once its inbox subscribed.
        for (int i = 0; i < big && bigs_up < big; i++) {
            uint8_t data [300];
            if (!big_up [i] && zmq_recv (bigs [i], data, sizeof data, ZMQ_DONTWAIT) > 0) {
                big_up [i] = true;
                if (++bigs_up == big) {
                    printf ("BIG\n");
                    fflush (stdout);
                }
            }
        }
        if (items [1].revents & ZMQ_POLLIN) {
            uint8_t data [300];
            int size = zmq_recv (outbox, data, sizeof data, 0);
            bool told = size > 16 && size <= (int) sizeof data && data [0] == 1
                        && memcmp (data + 1, "colugo-node 1 @", 15) == 0;
            //  Another node's key (a head that is not ours, nor the link's,
            //  nor a presence): remembered, to be forged.
            if (hostile && size > 10 && size <= (int) sizeof data && data [0] == 1
                && data [1] >= 0x20 && memcmp (data + 1, "colugo-node ", 12)
                && head_count < HEADS_MAX) {
                const char *ours = "\0\0\0\0\0\0\0\xaa";
                if (memcmp (data + size - 8, ours, 8)) {
                    memcpy (heads [head_count], data + 1, (size_t) size - 1);
                    head_sizes [head_count++] = (size_t) size - 1;
                }
            }
            if (in_welcome && !ready && size > 0) {
                printf ("READY %s %u\n", UUID, open_port);
                fflush (stdout);
                ready = true;
            }
            else if (told && !in_welcome) {
                for (int i = 0; i < 8; i++)
                    s_send (outbox, notice [i], notice_sizes [i], i < 7);
                if (!ready)
                    printf ("READY %s %u\n", UUID, open_port);
                else
                    printf ("NOTICE\n");
                fflush (stdout);
                ready = true;
            }
        }
        if (s_now_ms () >= next_send) {
            char payload [32];
            int size = snprintf (payload, sizeof payload, "impostor:%lu", ++sent);
            s_send (publisher, payload, (size_t) size, false);
            next_send += 20;
            if (hostile && head_count) {
                for (size_t i = 0; i < head_count; i++) {
                    size = snprintf (payload, sizeof payload, "forged:%lu", ++forged);
                    s_send (outbox, heads [i], head_sizes [i], true);
                    s_send (outbox, payload, (size_t) size, false);
                    s_send (outbox, heads [i], head_sizes [i], false);  //  "it ended"
                }
                printf ("FORGED %lu\n", forged);
                fflush (stdout);
            }
        }
    }
    for (int i = 0; i < big; i++)
        zmq_close (bigs [i]);
    zmq_close (outbox);
    zmq_close (publisher);
    zmq_close (zap);
    zmq_ctx_term (context);
    return 0;
}
