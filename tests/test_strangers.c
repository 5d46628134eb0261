/*  test_strangers.c: what a stranger's records make a node do. The stranger
    (tests/stranger.c --service) sends raw mDNS answers for a whole service,
    as another host would, and can move its address; in a namespace of its
    own (scripts/colugo-netns), where only loopback exists: 127/8 is on the
    link, 192.0.2.0/24 (TEST-NET-1) is on no network here.
*/
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "proc.h"

#define FIND_MS 8000

typedef struct {
    proc_t *pub;     //  a real publisher of "strangers.<letter>"
    proc_t *sub;     //  a subscriber connected to it
    char port [16];  //  the publisher's open port, which the stranger advertises
    proc_t *stranger;
} s_scene_t;

//  A real publisher, a subscriber connected to it, and a stranger that
//  advertises the publisher's open port (the one for original Colugo
//  nodes, whose records name no verified port) for the same topic at
//  address, moving to move_to after move_ms.
static void
s_scene (s_scene_t *self, char letter, const char *address, const char *move_to,
         const char *move_ms)
{
    char topic [32], instance [80], host [32], uuid [40];
    snprintf (topic, sizeof topic, "strangers.%c", letter);
    snprintf (uuid, sizeof uuid, "5a1e0000-0000-4000-8000-00000000000%c", letter);
    snprintf (instance, sizeof instance, "_%s._%s", topic, uuid);
    snprintf (host, sizeof host, "stranger-%c.local", letter);
    self->pub = proc_testnode ("pub", topic, "-i", "50", NULL);
    const char *port = proc_expect (self->pub, "PORT ", 5000);
    cr_assert_not_null (port);
    snprintf (self->port, sizeof self->port, "%.*s", (int) strcspn (port + 5, " "), port + 5);
    setenv ("COLUGO_LOG", "info", 1);  //  "found service" lines too
    self->sub = proc_testnode ("sub", topic, NULL);
    unsetenv ("COLUGO_LOG");
    cr_assert_not_null (proc_expect (self->sub, "UP tcp://127.0.0.1:", FIND_MS),
                        "the real publisher was not found");

    const char *path = getenv ("STRANGER");
    cr_assert_not_null (path);
    char topic_txt [300], uuid_txt [100];
    snprintf (topic_txt, sizeof topic_txt, "topic=%s", topic);
    snprintf (uuid_txt, sizeof uuid_txt, "node_uuid=%s", uuid);
    char *argv [] = {
        (char *) path, "--service",     instance, host,     (char *) address, self->port,
        topic_txt,     "socket_type=1", uuid_txt, "--move", (char *) move_to, (char *) move_ms,
        NULL};
    self->stranger = proc_start (argv);
    cr_assert_not_null (proc_expect (self->stranger, "READY", 5000));
}

static void
s_scene_end (s_scene_t *self)
{
    proc_destroy (&self->stranger);
    proc_destroy (&self->sub);
    proc_destroy (&self->pub);
}

Test (strangers, off_link_address_is_not_dialled_until_it_moves_on)
{
    //  The stranger points at the real publisher's port, at an address on
    //  no network of the interface the record comes in on; later it moves
    //  to one on it.
    s_scene_t scene;
    s_scene (&scene, 'a', "192.0.2.1", "127.0.0.2", "4000");
    const char *line = proc_expect_text (scene.sub, "_strangers.a._5a1e0000", 3500);
    cr_assert_not_null (line, "the stranger's service was not judged");
    cr_assert (strstr (line, "ignoring service") && strstr (line, "on no network"),
               "not dropped as invalid: %s", line);
    //  Judged again when its address record changes: now it is dialled.
    line = proc_expect (scene.sub, "UP tcp://127.0.0.2:", FIND_MS);
    cr_assert_not_null (line, "the stranger's service was not looked at again after its move");
    s_scene_end (&scene);
}

Test (strangers, address_change_is_followed)
{
    s_scene_t scene;
    s_scene (&scene, 'b', "127.0.0.2", "127.0.0.3", "3000");
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "UP tcp://127.0.0.2:%s ", scene.port);
    cr_assert_not_null (proc_expect (scene.sub, endpoint, FIND_MS));
    cr_assert_not_null (proc_expect (scene.stranger, "MOVED", 5000));
    long long moved = proc_now_ms ();
    //  The old endpoint goes down, the new one comes up.
    snprintf (endpoint, sizeof endpoint, "DOWN tcp://127.0.0.2:%s ", scene.port);
    cr_assert_not_null (proc_expect (scene.sub, endpoint, FIND_MS), "the old address stayed");
    snprintf (endpoint, sizeof endpoint, "UP tcp://127.0.0.3:%s ", scene.port);
    cr_assert_not_null (proc_expect (scene.sub, endpoint, FIND_MS),
                        "the new address was not dialled");
    cr_log_info ("an address change was followed in %lld ms", proc_now_ms () - moved);
    s_scene_end (&scene);
}

Test (strangers, longest_topic_name_and_type_fit_the_txt_record)
{
    //  Every value at its limit: topic 240 bytes, type 128, node name 64.
    char topic [241], type [129], name [65];
    memset (topic, 't', 240);
    topic [240] = 0;
    memcpy (topic, "strangers.txt.", 14);
    memset (type, 'y', 128);
    type [128] = 0;
    memset (name, 'n', 64);
    name [64] = 0;
    proc_t *pub = proc_testnode ("pub", topic, "-i", "50", "-y", type, "-N", name, NULL);
    proc_t *sub = proc_testnode ("sub", topic, "-n", "3", "-y", type, "-N", name, NULL);
    //  A cut TXT record showed as a MISMATCH (the type cut short) instead.
    long long deadline = proc_now_ms () + FIND_MS;
    const char *line = NULL;
    while (proc_now_ms () < deadline
           && (line = proc_expect_text (sub, "", (int) (deadline - proc_now_ms ())))
           && strncmp (line, "DONE", 4) && strncmp (line, "MISMATCH", 8))
        ;
    cr_assert_not_null (line, "typed peers with the longest values did not connect");
    cr_assert_str_eq (line, "DONE", "%s", line);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (strangers, standard_tools_see_our_records_whole)
{
    //  What a node publishes, as avahi-browse (a standard DNS-SD tool) sees
    //  it: the original Colugo's keys, and socket_id, verified_port and
    //  trunk for the node's socket.
    proc_t *pub = proc_testnode ("pub", "strangers.d", "-i", "50", NULL);
    const char *ready = proc_expect (pub, "READY ", 5000);
    cr_assert_not_null (ready);
    char uuid [64];
    snprintf (uuid, sizeof uuid, "node_uuid=%s", ready + 6);
    usleep (500 * 1000);  //  published
    char *argv [] = {"/usr/bin/avahi-browse", "-r", "-t", "-p", "-k", "_colugo._tcp", NULL};
    proc_t *browse = proc_start (argv);
    const char *line = proc_expect (browse, "=;lo;IPv4;_strangers\\.d\\._", 10000);
    cr_assert_not_null (line, "avahi-browse did not resolve the publication");
    const char *keys [] = {"\"topic=strangers.d\"",  "\"socket_type=1\"", uuid,
                           "\"node_name=TestNode\"", "\"colugo=1\"",      "\"socket_id=",
                           "\"verified_port=",       "\"trunk="};
    for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
        cr_assert (strstr (line, keys [i]), "no %s in %s", keys [i], line);
    proc_destroy (&browse);
    proc_destroy (&pub);
}

//  The impostor (tests/impostor.c): tells the node named victim of a
//  publisher of topic over the node link, and never advertises it; with
//  welcome, its connection says it is that node; with in_welcome, its
//  notice is in its welcome (and never sent on a subscription), with "-M"
//  cut short.
static proc_t *
s_impostor_in (const char *victim, const char *topic, bool hostile, const char *welcome,
               const char *in_welcome)
{
    const char *path = getenv ("IMPOSTOR");
    cr_assert_not_null (path);
    char *argv [9] = {(char *) path, (char *) victim, (char *) topic};
    int count = 3;
    if (hostile)
        argv [count++] = "-k";
    if (in_welcome) {
        argv [count++] = "-W";
        if (*in_welcome)
            argv [count++] = (char *) in_welcome;  //  -M
    }
    if (welcome) {
        argv [count++] = "-w";
        argv [count++] = (char *) welcome;
    }
    argv [count] = NULL;
    return proc_start (argv);
}

static proc_t *
s_impostor (const char *victim, const char *topic, bool hostile, const char *welcome)
{
    return s_impostor_in (victim, topic, hostile, welcome, NULL);
}

//  A node that a subscriber rides to on the trunk (its notice says it has
//  a publisher of the topic, on a trunk of its own) hears every
//  subscription of the subscriber's trunk, another node's publisher's key
//  among them: it sends messages under that key, and that key's end. They
//  came over its own connection, not the real publisher's (whose node's
//  name its welcome may give, when welcome_real: a second connection of
//  that node): dropped, and the real publisher stays up and heard.
static void
s_forge (const char *topic, const char *victim_name, bool welcome_real)
{
    proc_t *pub = proc_testnode ("pub", topic, "-i", "20", NULL);
    const char *ready = proc_expect (pub, "READY ", 5000);
    cr_assert_not_null (ready);
    char real [64];
    snprintf (real, sizeof real, "%s", ready + 6);
    proc_t *victim = proc_testnode ("sub", topic, "-N", victim_name, "-t", "20000", NULL);
    cr_assert_not_null (proc_expect (victim, "MSG ", FIND_MS));
    proc_t *impostor = s_impostor (victim_name, topic, true, welcome_real ? real : NULL);
    cr_assert_not_null (proc_expect (impostor, "FORGED ", FIND_MS),
                        "the impostor never heard the real publisher's key");
    long long end = proc_now_ms () + 1500;
    int real_messages = 0;
    for (long long left = 1500; left > 0; left = end - proc_now_ms ()) {
        const char *line = proc_expect (victim, "", (int) left);
        if (!line)
            break;
        cr_assert_null (strstr (line, "forged:"), "a forged message was delivered: %s", line);
        cr_assert (strncmp (line, "DOWN ", 5) || !strstr (line, real),
                   "a forged end took the real publisher down: %s", line);
        real_messages += strncmp (line, "MSG ", 4) == 0 && !strstr (line, "impostor:");
    }
    cr_assert_gt (real_messages, 10, "the real publisher was not heard meanwhile");
    proc_destroy (&impostor);
    proc_destroy (&victim);
    proc_destroy (&pub);
}

Test (strangers, a_hostile_trunk_cannot_speak_for_another_publisher)
{
    s_forge ("strangers.forged", "Forged", false);
}

//  What PLAIN cannot tell apart (a process on the node's host that names
//  the node) still cannot take over the node's connection while it is up.
Test (strangers, a_second_connection_in_a_nodes_name_carries_nothing)
{
    s_forge ("strangers.named", "Named", true);
}

//  The impostor's notice is acted on (its publisher up, heard), then let go
//  when no record follows.
static void
s_trusted_then_let_go (proc_t *victim, proc_t *impostor)
{
    const char *ready = proc_expect (impostor, "READY ", FIND_MS);
    cr_assert_not_null (ready, "the impostor did not reach the victim's inbox");
    char uuid [64];
    snprintf (uuid, sizeof uuid, " %.*s", (int) strcspn (ready + 6, " "), ready + 6);
    const char *up = proc_expect (victim, "UP ", 3000);
    cr_assert_not_null (up, "the impostor's notice was not heard");
    cr_assert_not_null (strstr (up, uuid), "%s", up);
    cr_assert_not_null (proc_expect (victim, "MSG ", 3000));
    long long noticed = proc_now_ms ();
    const char *down = proc_expect (victim, "DOWN ", 8000);
    cr_assert_not_null (down, "the victim still trusts a notice without a record");
    cr_assert_not_null (strstr (down, uuid), "%s", down);
    cr_log_info ("a notice without its record was let go after %lld ms", proc_now_ms () - noticed);
}

//  A count of the node's stats (testnode's STATS line), once it stopped.
static unsigned long long
s_stat_at_stop (proc_t *node, const char *name)
{
    proc_kill (node, SIGTERM);
    const char *stats = proc_expect (node, "STATS ", 5000);
    cr_assert_not_null (stats);
    char format [64];
    snprintf (format, sizeof format, "%s %%llu", name);
    const char *field = strstr (stats, name);
    unsigned long long value = 0;
    cr_assert_not_null (field, "%s", stats);
    cr_assert_eq (sscanf (field, format, &value), 1, "%s", stats);
    return value;
}

//  A subscriber of topic in a node named name, running.
static proc_t *
s_victim (const char *topic, const char *name)
{
    proc_t *victim = proc_testnode ("sub", topic, "-N", name, "-t", "20000", NULL);
    cr_assert_not_null (proc_expect (victim, "READY ", 5000));
    return victim;
}

Test (strangers, a_notice_whose_record_never_appears_is_let_go)
{
    //  A notice anticipates a record: the node may act on it at once, but
    //  when no record follows within 5 s it lets go (counted), and the same
    //  name told of again gets no such grace.
    proc_t *victim = s_victim ("strangers.told", "Victim");
    proc_t *impostor = s_impostor ("Victim", "strangers.told", false, NULL);
    s_trusted_then_let_go (victim, impostor);

    //  Told of again (a new connection, so a new notice): no grace now.
    proc_destroy (&impostor);
    impostor = s_impostor ("Victim", "strangers.told", false, NULL);
    cr_assert_not_null (proc_expect (impostor, "READY ", FIND_MS));
    cr_assert_eq (proc_count (victim, "UP ", 2000), 0, "a repeated notice was trusted again");
    cr_assert_geq (s_stat_at_stop (victim, "notices_unconfirmed "), 2);
    proc_destroy (&impostor);
    proc_destroy (&victim);
}

//  The notice a trunk's welcome carries (trunk.h) is a notice as any: a
//  node acts on it at once and lets go when no record follows.
Test (strangers, a_notice_in_a_welcome_is_held_to_the_records_rules)
{
    proc_t *victim = s_victim ("strangers.welcomed", "Welcomed");
    proc_t *impostor = s_impostor_in ("Welcomed", "strangers.welcomed", false, NULL, "");
    s_trusted_then_let_go (victim, impostor);
    proc_destroy (&impostor);
    proc_destroy (&victim);
}

//  A welcome names the node of its connection: a notice in it of another
//  node is not taken (counted as an invalid notice), nor one cut short.
Test (strangers, a_welcomes_notice_of_another_node_is_dropped)
{
    proc_t *victim = s_victim ("strangers.misnamed", "Misnamed");
    proc_t *impostor = s_impostor_in ("Misnamed", "strangers.misnamed", false,
                                      "00000000-0th3-r000-0000-000000000002", "");
    cr_assert_not_null (proc_expect (impostor, "READY ", FIND_MS),
                        "the impostor did not reach the victim's inbox");
    cr_assert_eq (proc_count (victim, "UP ", 2000), 0, "a notice of another node was taken");
    //  A welcome whose notice is cut short: dropped (logged), and no more.
    proc_destroy (&impostor);
    impostor = s_impostor_in ("Misnamed", "strangers.misnamed", false, NULL, "-M");
    cr_assert_not_null (proc_expect (impostor, "READY ", FIND_MS),
                        "the impostor did not reach the victim's inbox");
    cr_assert_eq (proc_count (victim, "UP ", 1000), 0, "a malformed notice was taken");
    cr_assert_geq (s_stat_at_stop (victim, "notices_invalid "), 1);
    proc_destroy (&impostor);
    proc_destroy (&victim);
}

//  Resident memory of a process, in KiB.
static long
s_rss_kib (pid_t pid)
{
    char path [64], line [128];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    long kib = -1;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose (file);
    return kib;
}

//  The in keeps each connection's welcome while it lasts (trunk.c): one
//  over a node's bound is not taken, and not kept.
Test (strangers, welcomes_over_their_bound_are_not_kept)
{
    //  (AddressSanitizer keeps what is freed a while: not here.)
    const char *asan = getenv ("ASAN_OPTIONS");
    char options [512];
    snprintf (options, sizeof options, "%s%squarantine_size_mb=0", asan ? asan : "",
              asan && *asan ? ":" : "");
    setenv ("ASAN_OPTIONS", options, 1);
    proc_t *victim = s_victim ("strangers.big", "Big");
    if (asan)
        setenv ("ASAN_OPTIONS", asan, 1);
    else
        unsetenv ("ASAN_OPTIONS");
    proc_t *impostor = s_impostor_in ("Big", "strangers.big", false, NULL, NULL);
    cr_assert_not_null (proc_expect (impostor, "READY ", FIND_MS));
    long before = s_rss_kib (proc_pid (victim));
    proc_destroy (&impostor);
    const char *path = getenv ("IMPOSTOR");
    char *argv [] = {(char *) path, "Big", "strangers.big", "-B", "24", NULL};
    impostor = proc_start (argv);
    cr_assert_not_null (proc_expect (impostor, "BIG", FIND_MS), "the big welcomes were not sent");
    proc_count (victim, "", 1000);  //  (read, and let go)
    long after = s_rss_kib (proc_pid (victim));
    cr_log_info ("the victim's resident memory: %ld KiB, %ld KiB after 24 welcomes of 4 MiB",
                 before, after);
    cr_assert_lt (after - before, 48 * 1024, "%ld KiB more", after - before);
    proc_destroy (&impostor);
    proc_destroy (&victim);
}

//  A local stranger's marks (hostnodes.h): names of nodes that are not
//  there, and one with a real publisher's uuid, all pointing at a listener
//  that takes connections and says nothing (the handshake waits for its
//  timeout). A new subscriber takes only a bounded number of them, says so,
//  and still finds the publisher (by its record, if its mark is not among
//  those taken).
static int
s_mark (const char *uuid, int port)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int length = snprintf (address.sun_path + 1, sizeof address.sun_path - 1,
                           "colugo-node/1/%s/1/%d", uuid, port);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    cr_assert_eq (bind (fd, (struct sockaddr *) &address,
                        (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + length)),
                  0);
    return fd;
}

Test (strangers, forged_marks_of_nodes_on_this_host_do_not_stop_discovery)
{
    int silent = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t size = sizeof at;
    cr_assert_eq (bind (silent, (struct sockaddr *) &at, size), 0);
    cr_assert_eq (listen (silent, 512), 0);
    cr_assert_eq (getsockname (silent, (struct sockaddr *) &at, &size), 0);
    int port = ntohs (at.sin_port);

    proc_t *pub = proc_testnode ("pub", "strangers.marks", "-i", "20", NULL);
    const char *ready = proc_expect (pub, "READY ", 5000);
    cr_assert_not_null (ready);
    char uuid [64];
    snprintf (uuid, sizeof uuid, "%.*s", (int) strcspn (ready + 6, " \n"), ready + 6);
    enum { S_FORGED = 100 };
    int marks [S_FORGED + 1];
    marks [0] = s_mark (uuid, port);  //  the publisher's uuid, elsewhere
    for (int i = 1; i <= S_FORGED; i++) {
        char forged [64];
        snprintf (forged, sizeof forged, "f0f0f0f0-0000-4000-8000-%012d", i);
        marks [i] = s_mark (forged, port);
    }
    long long started = proc_now_ms ();
    setenv ("COLUGO_LOG", "warn", 1);
    proc_t *sub = proc_testnode ("sub", "strangers.marks", "-n", "3", NULL);
    unsetenv ("COLUGO_LOG");
    cr_assert_not_null (proc_expect_text (sub, "over the bound", 5000),
                        "the marks over the bound are not told");
    cr_assert_not_null (proc_expect (sub, "DONE", FIND_MS), "the publisher was not found");
    cr_log_info ("%d forged marks: the publisher found in %lld ms", S_FORGED + 1,
                 proc_now_ms () - started);
    proc_destroy (&sub);
    proc_destroy (&pub);
    for (int i = 0; i <= S_FORGED; i++)
        close (marks [i]);
    close (silent);
}
