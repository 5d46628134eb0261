/*  test_discovery.c: DNS-SD records (dnssd_records.c): instance names, TXT
    records, address checks, log escaping; the loop/thread messages; and
    discovery against a system bus that never answers. The rest of
    discovery runs against a real avahi-daemon in the end-to-end tests.
*/
#define _GNU_SOURCE  //  memmem
#include <criterion/criterion.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>
#include "colugo/log.h"
#include "discovery.h"
#include "dnssd_pipe.h"
#include "dnssd_records.h"
#include "zap.h"

static const char *UUID = "0f1e2d3c-4b5a-4697-8877-665544332211";

Test (discovery, short_topics_keep_the_original_name)
{
    char name [64];
    colugo__discovery_instance_name ("pub.topic", UUID, name, sizeof name);
    cr_assert_str_eq (name, "_pub.topic._0f1e2d3c-4b5a-4697-8877-665544332211");
}

Test (discovery, long_topics_are_cut_to_a_dns_label)
{
    char name [64];
    char topic [220];
    memset (topic, 'a', sizeof topic - 1);
    topic [sizeof topic - 1] = 0;
    colugo__discovery_instance_name (topic, UUID, name, sizeof name);
    cr_assert_leq (strlen (name), 63);
    cr_assert (strstr (name, "~._0f1e2d3c"));
    //  Never cut inside a UTF-8 character: U+00E9 is two bytes.
    for (size_t i = 0; i + 1 < sizeof topic; i += 2)
        memcpy (topic + i, "\xc3\xa9", 2);
    topic [sizeof topic - 1] = 0;
    colugo__discovery_instance_name (topic, UUID, name, sizeof name);
    cr_assert_leq (strlen (name), 63);
    char *tilde = strstr (name, "~._");
    cr_assert_not_null (tilde);
    cr_assert_eq ((tilde - name - 1) % 2, 0, "cut inside a character: %s", name);
}

//  --------------------------------------------------------------------------
//  TXT records

static colugo__txt_fields_t
s_longest_fields (char *topic, char *type, char *name)
{
    memset (topic, 't', COLUGO_TOPIC_MAX);
    topic [COLUGO_TOPIC_MAX] = 0;
    memset (type, 'y', COLUGO_TYPE_MAX);
    type [COLUGO_TYPE_MAX] = 0;
    memset (name, 'n', COLUGO__NODE_NAME_MAX);
    name [COLUGO__NODE_NAME_MAX] = 0;
    return (colugo__txt_fields_t){.topic = topic,
                                  .socket_type = ZMQ_PUB,
                                  .node_uuid = UUID,
                                  .node_name = name,
                                  .type = type,
                                  .verified_port = 65535,
                                  .socket_id = COLUGO__SOCKET_ID_MAX,
                                  .trunk_port = 65535,
                                  .trunk_id = COLUGO__SOCKET_ID_MAX,
                                  .trunk_key = UINT64_MAX};
}

Test (discovery, the_longest_txt_record_fits_its_bound_whole)
{
    char topic [COLUGO_TOPIC_MAX + 1], type [COLUGO_TYPE_MAX + 1], name [COLUGO__NODE_NAME_MAX + 1];
    colugo__txt_fields_t fields = s_longest_fields (topic, type, name);
    uint8_t txt [COLUGO__TXT_MAX];
    size_t size = colugo__txt_build (&fields, txt, sizeof txt);
    cr_assert_eq (size, COLUGO__TXT_MAX, "the bound is exact for the longest values");
    //  Parsed back, every value is whole.
    AvahiStringList *list = NULL;
    cr_assert_eq (avahi_string_list_parse (txt, size, &list), 0);
    colugo__txt_record_t record;
    cr_assert_null (colugo__txt_parse (list, &record));
    cr_assert_str_eq (record.topic, topic);
    cr_assert_str_eq (record.type, type);
    cr_assert_str_eq (record.node_name, name);
    cr_assert_eq (record.socket_id, COLUGO__SOCKET_ID_MAX);
    cr_assert_eq (record.verified_port, 65535);
    cr_assert_eq (record.trunk_port, 65535);
    cr_assert_eq (record.trunk_id, COLUGO__SOCKET_ID_MAX);
    cr_assert_eq (record.trunk_key, UINT64_MAX);
    colugo__txt_record_free (&record);
    avahi_string_list_free (list);
    //  No socket id, no verified listener, no trunk: no key is written.
    colugo__txt_fields_t plain = fields;
    plain.socket_id = 0;
    plain.verified_port = 0;
    plain.trunk_port = 0;
    size = colugo__txt_build (&plain, txt, sizeof txt);
    cr_assert_gt (size, 0);
    cr_assert_null (memmem (txt, size, "socket_id", 9));
    cr_assert_null (memmem (txt, size, "verified_port", 13));
    cr_assert_null (memmem (txt, size, "trunk", 5));
    //  A trunk without its socket id or a key: refused.
    colugo__txt_fields_t keyless = fields;
    keyless.trunk_key = 0;
    cr_assert_eq (colugo__txt_build (&keyless, txt, sizeof txt), 0);
    keyless = fields;
    keyless.trunk_id = 0;
    cr_assert_eq (colugo__txt_build (&keyless, txt, sizeof txt), 0);
    //  One byte short: refused, never cut.
    cr_assert_eq (colugo__txt_build (&fields, txt, sizeof txt - 1), 0);
    //  A value over its limit: refused.
    char long_name [COLUGO__NODE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    fields.node_name = long_name;
    cr_assert_eq (colugo__txt_build (&fields, txt, sizeof txt), 0);
}

static const char *
s_parse (const char *socket_id, const char *verified_port, const char *trunk,
         colugo__txt_record_t *record)
{
    AvahiStringList *list = avahi_string_list_new ("topic=t.x", "socket_type=4", NULL);
    list = avahi_string_list_add_printf (list, "node_uuid=%s", UUID);
    if (socket_id)
        list = avahi_string_list_add_pair (list, "socket_id", socket_id);
    if (verified_port)
        list = avahi_string_list_add_pair (list, "verified_port", verified_port);
    if (trunk)
        list = avahi_string_list_add_pair (list, "trunk", trunk);
    const char *why = colugo__txt_parse (list, record);
    avahi_string_list_free (list);
    return why;
}

Test (discovery, socket_id_and_verified_port_are_checked)
{
    colugo__txt_record_t record;
    cr_assert_null (s_parse (NULL, NULL, NULL, &record));  //  the original's records
    cr_assert_eq (record.socket_id, 0);
    cr_assert_eq (record.verified_port, 0);
    cr_assert_str_eq (record.type, "");
    colugo__txt_record_free (&record);
    cr_assert_null (s_parse ("7", "49153", NULL, &record));
    cr_assert_eq (record.socket_id, 7);
    cr_assert_eq (record.verified_port, 49153);
    colugo__txt_record_free (&record);
    const char *bad_ids [] = {"0", "-1", "007", "1x", "", "9007199254740993", "99999999999999999"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids [0]; i++)
        cr_assert_not_null (s_parse (bad_ids [i], NULL, NULL, &record), "socket_id '%s'",
                            bad_ids [i]);
    const char *bad_ports [] = {"0", "65536", "+1", "80 ", "0x50"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports [0]; i++)
        cr_assert_not_null (s_parse (NULL, bad_ports [i], NULL, &record), "port '%s'",
                            bad_ports [i]);
}

Test (discovery, a_publishers_trunk_is_checked)
{
    colugo__txt_record_t record;
    cr_assert_null (s_parse (NULL, NULL, "49153.12.00000000000000ff", &record));
    cr_assert_eq (record.trunk_port, 49153);
    cr_assert_eq (record.trunk_id, 12);
    cr_assert_eq (record.trunk_key, 255);
    colugo__txt_record_free (&record);
    const char *bad [] = {"",
                          "49153",
                          "49153.12",
                          "49153.12.",
                          "0.12.00000000000000ff",
                          "65536.12.00000000000000ff",
                          "49153.0.00000000000000ff",
                          "49153.12.0000000000000000",   //  key 0
                          "49153.12.00000000000000FF",   //  upper case
                          "49153.12.0000000000000ff",    //  15 digits
                          "49153.12.000000000000000ff",  //  17
                          "49153.12.00000000000000fg",
                          "49153..00000000000000ff",
                          ".12.00000000000000ff",
                          "49153.12.00000000000000ff.1",
                          "1234567.12.00000000000000ff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_not_null (s_parse (NULL, NULL, bad [i], &record), "trunk '%s'", bad [i]);
}

//  --------------------------------------------------------------------------
//  Addresses

static AvahiAddress
s_address (const char *text)
{
    AvahiAddress address;
    cr_assert_not_null (avahi_address_parse (text, AVAHI_PROTO_INET, &address));
    return address;
}

//  The DNS-SD thread keeps one listing of the host's addresses for a burst
//  of records; a refusal is judged again on a fresh one (the host may have
//  a new address), an acceptance may rest on a listing a second old.
Test (discovery, a_kept_listing_of_addresses_refuses_only_when_fresh)
{
    int lo = (int) if_nametoindex ("lo");
    cr_assert_gt (lo, 0);
    AvahiAddress loopback = s_address ("127.0.0.1"), away = s_address ("198.51.100.77");
    colugo__host_addresses_t kept = {0};
    cr_assert_null (colugo__address_check (&kept, lo, &loopback, false));
    struct ifaddrs *listed = kept.list;
    cr_assert_not_null (listed);
    cr_assert_null (colugo__address_check (&kept, lo, &loopback, false));
    cr_assert_eq (kept.list, listed, "listed again for an address it accepts");
    //  As if lo had no addresses when listed: the next refusal lists again.
    strcpy (kept.name, "colugo-none");
    cr_assert_null (colugo__address_check (&kept, lo, &loopback, false));
    cr_assert_str_eq (kept.name, "lo");
    cr_assert_not_null (colugo__address_check (&kept, lo, &away, false));
    colugo__host_addresses_free (&kept);
    cr_assert_null (kept.list);
}

//  A record of this host names loopback only at an address of this network
//  namespace (dnssd_thread.c): not at a container's host's, whose daemon a
//  container may share.
Test (discovery, only_this_namespaces_addresses_are_ours)
{
    int lo = (int) if_nametoindex ("lo");
    cr_assert_gt (lo, 0);
    AvahiAddress loopback = s_address ("127.0.0.1"), other = s_address ("127.3.2.1"),
                 away = s_address ("198.51.100.77");
    colugo__host_addresses_t kept = {0};
    cr_assert_null (colugo__address_check (&kept, lo, &loopback, false));
    cr_assert (colugo__address_ours (&kept, &loopback));
    cr_assert (colugo__address_ours (&kept, &other));
    cr_assert_not (colugo__address_ours (&kept, &away));
    cr_assert_not (colugo__address_ours (&kept, NULL));
    //  Every IPv4 address of every interface here is ours.
    for (struct ifaddrs *entry = kept.list; entry; entry = entry->ifa_next)
        if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET) {
            AvahiAddress address = {.proto = AVAHI_PROTO_INET};
            address.data.ipv4.address =
                ((const struct sockaddr_in *) entry->ifa_addr)->sin_addr.s_addr;
            cr_assert (colugo__address_ours (&kept, &address), "%s", entry->ifa_name);
        }
    colugo__host_addresses_free (&kept);
}

Test (discovery, addresses_must_fit_the_interface_they_came_from)
{
    int lo = (int) if_nametoindex ("lo");
    cr_assert_gt (lo, 0);
    AvahiAddress loopback = s_address ("127.0.0.1"), other = s_address ("127.0.0.9"),
                 away = s_address ("198.51.100.77");  //  TEST-NET-2
    cr_assert_null (colugo__address_check (NULL, lo, &loopback, false));
    cr_assert_null (colugo__address_check (NULL, lo, &other, false));  //  127/8 is lo's
    cr_assert_not_null (colugo__address_check (NULL, lo, &away, false));
    cr_assert_not_null (colugo__address_check (NULL, lo, &away, true));
    cr_assert_not_null (colugo__address_check (NULL, 0, &loopback, false));
    cr_assert_not_null (colugo__address_check (NULL, lo, NULL, false));
    //  Loopback from another interface: only for this host's own records.
    struct if_nameindex *names = if_nameindex ();
    for (struct if_nameindex *at = names; at && at->if_index; at++)
        if (strcmp (at->if_name, "lo")) {
            cr_assert_not_null (colugo__address_check (NULL, (int) at->if_index, &loopback, false),
                                "127.0.0.1 from %s", at->if_name);
            cr_assert_null (colugo__address_check (NULL, (int) at->if_index, &loopback, true));
            cr_assert_not_null (colugo__address_check (NULL, (int) at->if_index, &away, false));
        }
    if_freenameindex (names);
}

//  --------------------------------------------------------------------------
//  Log escaping

Test (discovery, network_strings_are_escaped_for_the_log)
{
    char buffer [32];
    cr_assert_str_eq (colugo__escape ("plain name", buffer, sizeof buffer), "plain name");
    cr_assert_str_eq (colugo__escape ("a\nb\x1b[2J\\", buffer, sizeof buffer),
                      "a\\x0ab\\x1b[2J\\x5c");
    cr_assert_str_eq (colugo__escape ("\xc3\xa9", buffer, sizeof buffer), "\\xc3\\xa9");
    char long_text [100];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    colugo__escape (long_text, buffer, sizeof buffer);
    cr_assert_lt (strlen (buffer), sizeof buffer);
    cr_assert (strstr (buffer, "..."), "a cut is marked: %s", buffer);
}

//  --------------------------------------------------------------------------
//  Messages between the loop and the DNS-SD thread

Test (discovery, pipe_messages_round_trip_and_refuse_what_is_cut)
{
    colugo__frame_t frame;
    colugo__frame_init (&frame, COLUGO__DNSSD_LOG);
    colugo__frame_put_number (&frame, 42);
    colugo__frame_put_string (&frame, "a line");
    colugo__frame_put_string (&frame, NULL);
    cr_assert_not (frame.overflow);
    colugo__frame_reader_t reader;
    cr_assert_eq (colugo__frame_read (&reader, frame.data, frame.size), COLUGO__DNSSD_LOG);
    cr_assert_eq (colugo__frame_get_number (&reader), 42);
    cr_assert_str_eq (colugo__frame_get_string (&reader), "a line");
    cr_assert_str_eq (colugo__frame_get_string (&reader), "");
    cr_assert_not (reader.bad);
    //  Past the end: "" and 0, and marked bad.
    cr_assert_str_eq (colugo__frame_get_string (&reader), "");
    cr_assert_eq (colugo__frame_get_number (&reader), 0);
    cr_assert (reader.bad);
    //  A string without its NUL (a cut message) is refused.
    colugo__frame_read (&reader, frame.data, frame.size - 1);
    colugo__frame_get_number (&reader);
    colugo__frame_get_string (&reader);
    cr_assert_str_eq (colugo__frame_get_string (&reader), "");
    cr_assert (reader.bad);
    //  What does not fit is never sent half.
    char big [COLUGO__DNSSD_FRAME_MAX];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    colugo__frame_init (&frame, COLUGO__DNSSD_LOG);
    colugo__frame_put_string (&frame, big);
    cr_assert (frame.overflow);
    cr_assert_eq (colugo__frame_read (&reader, "", 0), 0);
}

//  --------------------------------------------------------------------------
//  A stalled bus: discovery with a system bus that accepts and never
//  answers, so its thread waits in its first D-Bus call (as on a stopped
//  daemon). Nothing on the loop may wait with it.

typedef struct {
    int stalls_said;  //  "does not answer" lines logged
    bool on_loop;     //  every log line came on the test's own thread
    pthread_t loop_thread;
} s_log_seen_t;

static void
s_on_log (colugo_log_level_t level, const char *line, void *arg)
{
    (void) level;
    s_log_seen_t *seen = (s_log_seen_t *) arg;
    if (!pthread_equal (pthread_self (), seen->loop_thread))
        seen->on_loop = false;
    if (strstr (line, "avahi-daemon does not answer"))
        seen->stalls_said++;
}

static int
s_end_loop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

static void
s_on_service (void *arg, colugo__service_event_t event, const colugo__service_t *service)
{
    (void) arg;
    (void) event;
    (void) service;
}

Test (discovery, a_bus_that_never_answers_stalls_nothing)
{
    char path [64];
    snprintf (path, sizeof path, "/tmp/colugo-silent-bus-%d", (int) getpid ());
    unlink (path);
    int bus = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf (address.sun_path, sizeof address.sun_path, "%s", path);
    cr_assert_eq (bind (bus, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (listen (bus, 16), 0);  //  connections wait in the backlog, unanswered
    char bus_address [96];
    snprintf (bus_address, sizeof bus_address, "unix:path=%s", path);
    setenv ("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1);
    s_log_seen_t seen = {0, true, pthread_self ()};
    colugo_log_set_handler (s_on_log, &seen);

    zloop_t *loop = zloop_new ();
    colugo__timers_t *timers = colugo__timers_new (loop, NULL, NULL);
    colugo__discovery_config_t config = {.loop = loop,
                                         .timers = timers,
                                         .node_uuid = UUID,
                                         .node_name = "Stalled",
                                         .wait_for_daemon = true,
                                         .on_service = s_on_service};
    colugo__discovery_t *discovery = NULL;
    int64_t started = zclock_mono ();
    cr_assert_eq (colugo__discovery_new (&config, &discovery), 0);
    //  More commands than the pipe holds: the rest wait in the outbox.
    for (int i = 0; i < 5000; i++)
        cr_assert_gt (colugo__discovery_publish (discovery, "stalled.topic", ZMQ_PUB, NULL,
                                                 (uint16_t) (1000 + i), 0, (uint64_t) i + 1,
                                                 (colugo__trunk_txt_t){0}),
                      0);
    colugo__discovery_withdraw (discovery, 1);
    int64_t took = zclock_mono () - started;
    cr_assert_lt (took, 500, "starting and 5000 publications took %lld ms", (long long) took);
    //  The loop runs on; the stall is told once, from the loop.
    zloop_timer (loop, 2700, 1, s_end_loop, NULL);
    colugo__timers_restart (timers);
    zloop_start (loop);
    cr_assert_eq (colugo__discovery_stats (discovery).daemon_stalls, 1);
    cr_assert_eq (seen.stalls_said, 1);
    started = zclock_mono ();
    colugo__discovery_destroy (&discovery);
    took = zclock_mono () - started;
    cr_log_info ("destroy with a stalled bus: %lld ms", (long long) took);
    cr_assert_lt (took, 1000);
    cr_assert (seen.on_loop, "a log line came from another thread");
    colugo_log_set_handler (NULL, NULL);
    colugo__timers_destroy (&timers);
    zloop_destroy (&loop);
    close (bus);
    unlink (path);
}

//  The ZAP handler (zap.h): the user name must be the identity dialled (the
//  domain); a password, the uuid of the node a trunk's in belongs to, must
//  be that identity's node, so the User-Id a trunk's out counts is the node
//  it dialled (trunk.h).
Test (discovery, zap_accepts_only_the_identity_dialled_and_its_node)
{
    const char *identity = "0f1e2d3c-4b5a-4697-8877-665544332211:7";
    cr_assert (colugo__zap_accepts (identity, "PLAIN", identity, ""));
    cr_assert (colugo__zap_accepts (identity, "PLAIN", identity, UUID));
    cr_assert_not (colugo__zap_accepts (identity, "PLAIN", "another:7", ""));
    cr_assert_not (colugo__zap_accepts (identity, "PLAIN", identity, "another-node"));
    cr_assert_not (colugo__zap_accepts (identity, "PLAIN", identity, "0f1e2d3c"));
    cr_assert_not (colugo__zap_accepts (identity, "NULL", identity, ""));
    cr_assert_not (colugo__zap_accepts ("", "PLAIN", "", ""));
    cr_assert_not (colugo__zap_accepts (identity, "PLAIN", identity, NULL));
}
