/*  stranger: a badly behaved host.

        stranger COUNT
            Announces COUNT instances of _colugo._tcp through the local
            avahi-daemon that have no SRV or TXT records behind them, so
            every resolve of them fails after Avahi's 5 s timeout.
        stranger --raw COUNT
            The same names sent as raw mDNS answers to the daemon on
            loopback, as another host would (the daemon caches them as
            records from the network, not as its own).
        stranger --service INSTANCE HOST ADDRESS PORT [KEY=VALUE...]
                 [--move ADDRESS2 AFTER_MS]
            A whole service (PTR, SRV, TXT, A) as raw mDNS answers,
            announced every second; with --move, its address record says
            goodbye after AFTER_MS and ADDRESS2 takes its place.
    Raw answers go from port 5353 of a 127.77.x.y address (STRANGER_FROM
    to choose another) to the daemon at 127.0.0.1 (or STRANGER_TO).

    Each prints "READY <count>" once announced (and "MOVED" after a move),
    then stays until killed, or for at most 120 s.
    Avahi allows a client 32 entry groups of 32 records: several clients.
*/
#include <arpa/inet.h>
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PER_GROUP 30
#define GROUPS_PER_CLIENT 30

//  "bogus-N._colugo._tcp.local" in DNS wire format.
static size_t
s_wire_name (int index, unsigned char *out)
{
    char label [32];
    int length = snprintf (label, sizeof label, "bogus-%d", index);
    size_t at = 0;
    out [at++] = (unsigned char) length;
    memcpy (out + at, label, (size_t) length);
    at += (size_t) length;
    const char *rest [] = {"_colugo", "_tcp", "local"};
    for (int i = 0; i < 3; i++) {
        out [at++] = (unsigned char) strlen (rest [i]);
        memcpy (out + at, rest [i], strlen (rest [i]));
        at += strlen (rest [i]);
    }
    out [at++] = 0;
    return at;
}

//  --------------------------------------------------------------------------
//  Raw mDNS answers (RFC 6762), sent from port 5353 to the daemon on loopback

typedef struct {
    unsigned char data [1400];
    size_t size;
    unsigned answers;
} s_packet_t;

static void
s_packet_start (s_packet_t *packet)
{
    memset (packet->data, 0, 12);
    packet->data [2] = 0x84;  //  a response, authoritative
    packet->size = 12;
    packet->answers = 0;
}

static void
s_put (s_packet_t *packet, const void *data, size_t size)
{
    memcpy (packet->data + packet->size, data, size);
    packet->size += size;
}

static void
s_put16 (s_packet_t *packet, unsigned value)
{
    unsigned char bytes [2] = {(unsigned char) (value >> 8), (unsigned char) value};
    s_put (packet, bytes, 2);
}

//  A name in wire format: one label as given (it may hold dots), then the
//  dotted rest ("_colugo._tcp.local"); label NULL for the rest alone.
static void
s_put_name (s_packet_t *packet, const char *label, const char *rest)
{
    if (label) {
        unsigned char length = (unsigned char) strlen (label);
        s_put (packet, &length, 1);
        s_put (packet, label, length);
    }
    while (*rest) {
        const char *dot = strchr (rest, '.');
        size_t length = dot ? (size_t) (dot - rest) : strlen (rest);
        unsigned char byte = (unsigned char) length;
        s_put (packet, &byte, 1);
        s_put (packet, rest, length);
        rest += length + (dot ? 1 : 0);
    }
    s_put (packet, "", 1);
}

//  Starts a record; returns where its rdata length goes.
static size_t
s_record (s_packet_t *packet, const char *label, const char *rest, unsigned type, bool unique,
          uint32_t ttl)
{
    s_put_name (packet, label, rest);
    s_put16 (packet, type);
    s_put16 (packet, unique ? 0x8001 : 0x0001);  //  IN, with the cache-flush bit if unique
    s_put16 (packet, ttl >> 16);
    s_put16 (packet, ttl & 0xFFFF);
    s_put16 (packet, 0);
    packet->answers++;
    return packet->size - 2;
}

static void
s_record_end (s_packet_t *packet, size_t length_at)
{
    size_t length = packet->size - length_at - 2;
    packet->data [length_at] = (unsigned char) (length >> 8);
    packet->data [length_at + 1] = (unsigned char) length;
}

static int
s_raw_socket (void)
{
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    int on = 1, ttl = 255;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    //  Avahi takes answers from port 5353 only, and from an address on the
    //  link: one of 127/8 of our own (a stranger's), so that answers to
    //  127.0.0.1:5353 still reach the daemon and we look like another host.
    //  STRANGER_FROM: another address of ours instead (on a host of
    //  scripts/colugo-multihost, its eth0 address).
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons (5353)};
    unsigned pid = (unsigned) getpid ();
    local.sin_addr.s_addr = htonl (0x7F4D0000u | ((pid & 0xFFFF) | 1));
    if (getenv ("STRANGER_FROM"))
        inet_pton (AF_INET, getenv ("STRANGER_FROM"), &local.sin_addr);
    if (bind (fd, (struct sockaddr *) &local, sizeof local)) {
        perror ("stranger: bind 5353");
        exit (1);
    }
    setsockopt (fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    return fd;
}

static void
s_send (int fd, s_packet_t *packet)
{
    if (!packet->answers)
        return;
    packet->data [6] = (unsigned char) (packet->answers >> 8);
    packet->data [7] = (unsigned char) packet->answers;
    //  Unicast to the daemon's port: loopback has no multicast route here,
    //  and Avahi takes a response from an address on the link it came in on.
    //  STRANGER_TO: another host's daemon instead.
    struct sockaddr_in group = {.sin_family = AF_INET, .sin_port = htons (5353)};
    const char *to = getenv ("STRANGER_TO");
    inet_pton (AF_INET, to ? to : "127.0.0.1", &group.sin_addr);
    if (sendto (fd, packet->data, packet->size, 0, (struct sockaddr *) &group, sizeof group) < 0)
        perror ("stranger: sendto");
    s_packet_start (packet);
}

//  PTR _colugo._tcp.local -> <label>._colugo._tcp.local
static void
s_put_ptr (s_packet_t *packet, const char *label)
{
    size_t at = s_record (packet, NULL, "_colugo._tcp.local", 12, false, 4500);
    s_put_name (packet, label, "_colugo._tcp.local");
    s_record_end (packet, at);
}

static void
s_raw_flood (int count)
{
    int fd = s_raw_socket ();
    s_packet_t packet;
    s_packet_start (&packet);
    for (int i = 0; i < count; i++) {
        char label [32];
        snprintf (label, sizeof label, "raw-bogus-%d", i);
        if (packet.size > sizeof packet.data - 100) {
            s_send (fd, &packet);
            usleep (10000);  //  do not overrun the daemon's socket buffer
        }
        s_put_ptr (&packet, label);
    }
    s_send (fd, &packet);
    printf ("READY %d\n", count);
    fflush (stdout);
    sleep (120);
}

typedef struct {
    const char *instance;
    const char *host;  //  "name.local"
    const char *address;
    unsigned port;
    char **txt;
    int txt_count;
} s_service_t;

//  A host -> IPv4 address
static void
s_put_address (s_packet_t *packet, const char *host, const char *address, uint32_t ttl)
{
    size_t at = s_record (packet, NULL, host, 1, true, ttl);
    struct in_addr in;
    inet_pton (AF_INET, address, &in);
    s_put (packet, &in, 4);
    s_record_end (packet, at);
}

static void
s_announce (int fd, const s_service_t *service, const char *address, uint32_t ttl)
{
    s_packet_t packet;
    s_packet_start (&packet);
    s_put_ptr (&packet, service->instance);
    size_t at = s_record (&packet, service->instance, "_colugo._tcp.local", 33, true, 120);
    s_put16 (&packet, 0);
    s_put16 (&packet, 0);
    s_put16 (&packet, service->port);
    s_put_name (&packet, NULL, service->host);
    s_record_end (&packet, at);
    at = s_record (&packet, service->instance, "_colugo._tcp.local", 16, true, 4500);
    for (int i = 0; i < service->txt_count; i++) {
        unsigned char length = (unsigned char) strlen (service->txt [i]);
        s_put (&packet, &length, 1);
        s_put (&packet, service->txt [i], length);
    }
    s_record_end (&packet, at);
    s_put_address (&packet, service->host, address, ttl);
    s_send (fd, &packet);
}

//  TTL 0: the address record says goodbye.
static void
s_address_goodbye (int fd, const s_service_t *service, const char *address)
{
    s_packet_t packet;
    s_packet_start (&packet);
    s_put_address (&packet, service->host, address, 0);
    s_send (fd, &packet);
}

static void
s_raw_service (int argc, char *argv [])
{
    if (argc < 6) {
        fprintf (stderr, "usage: stranger --service INSTANCE HOST ADDRESS PORT [KEY=VALUE...] "
                         "[--move ADDRESS2 AFTER_MS]\n");
        exit (2);
    }
    s_service_t service = {argv [2], argv [3], argv [4], (unsigned) atoi (argv [5]), argv + 6, 0};
    const char *moved_to = NULL;
    long move_after_ms = 0;
    for (int i = 6; i < argc; i++) {
        if (strcmp (argv [i], "--move") == 0 && i + 2 < argc) {
            moved_to = argv [i + 1];
            move_after_ms = atol (argv [i + 2]);
            break;
        }
        service.txt_count++;
    }
    int fd = s_raw_socket ();
    s_announce (fd, &service, service.address, 120);
    printf ("READY 1\n");
    fflush (stdout);
    const char *address = service.address;
    for (long waited = 0; waited < 120000; waited += 100) {
        usleep (100 * 1000);
        if (moved_to && waited + 100 >= move_after_ms && address != moved_to) {
            s_address_goodbye (fd, &service, address);
            address = moved_to;
            s_announce (fd, &service, address, 120);
            printf ("MOVED\n");
            fflush (stdout);
        }
        else if (waited % 1000 == 0)
            s_announce (fd, &service, address, 120);
    }
}

//  --------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    //  Dies with the test that started it, even when an assertion ended it.
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (argc > 2 && strcmp (argv [1], "--raw") == 0) {
        s_raw_flood (atoi (argv [2]));
        return 0;
    }
    if (argc > 1 && strcmp (argv [1], "--service") == 0) {
        s_raw_service (argc, argv);
        return 0;
    }
    int count = argc > 1 ? atoi (argv [1]) : 100;
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    int published = 0;
    while (published < count) {
        int error;
        AvahiClient *client =
            avahi_client_new (avahi_simple_poll_get (poll), 0, NULL, NULL, &error);
        if (!client) {
            fprintf (stderr, "stranger: %s\n", avahi_strerror (error));
            return 1;
        }
        for (int g = 0; g < GROUPS_PER_CLIENT && published < count; g++) {
            AvahiEntryGroup *group = avahi_entry_group_new (client, NULL, NULL);
            for (int r = 0; r < PER_GROUP && published < count; r++, published++) {
                unsigned char rdata [64];
                size_t size = s_wire_name (published, rdata);
                avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                              "_colugo._tcp.local", AVAHI_DNS_CLASS_IN,
                                              AVAHI_DNS_TYPE_PTR, 4500, rdata, size);
            }
            if (avahi_entry_group_commit (group) < 0) {
                fprintf (stderr, "stranger: commit: %s\n",
                         avahi_strerror (avahi_client_errno (client)));
                return 1;
            }
        }
    }
    printf ("READY %d\n", published);
    fflush (stdout);
    time_t end = time (NULL) + 120;
    while (time (NULL) < end && avahi_simple_poll_iterate (poll, 1000) >= 0)
        ;
    return 0;
}
