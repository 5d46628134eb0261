/*  test_e2e.c: real node processes (testnode) finding each other through a
    real avahi-daemon, inside the private namespace that scripts/colugo-netns
    made. Every test uses its own topics: criterion runs tests in parallel
    and a withdrawn service stays visible for about a second.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc.h"

#define FIND_MS 5000  //  generous: discovery takes ~0.1-0.3 s

//  The endpoint of an "UP <endpoint> <uuid>" line, copied into buffer.
static char *
s_endpoint (const char *line, char *buffer, size_t size)
{
    cr_assert_not_null (line);
    snprintf (buffer, size, "%s", line + 3);
    char *space = strchr (buffer, ' ');
    if (space)
        *space = 0;
    return buffer;
}

Test (pubsub, publisher_first)
{
    proc_t *pub = proc_testnode ("pub", "e2e.pubfirst", "-i", "50", NULL);
    cr_assert_not_null (proc_expect (pub, "READY", 5000));
    usleep (300 * 1000);
    proc_t *sub = proc_testnode ("sub", "e2e.pubfirst", "-n", "5", NULL);
    cr_assert_not_null (proc_expect (sub, "UP tcp://", FIND_MS));
    cr_assert_not_null (proc_expect (sub, "DONE", 5000));
    cr_assert_eq (proc_wait (sub, 5000), 0);
    proc_kill (pub, SIGTERM);
    cr_assert_eq (proc_wait (pub, 5000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, subscriber_first_and_discovery_time)
{
    proc_t *sub = proc_testnode ("sub", "e2e.subfirst", "-n", "1", NULL);
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    usleep (300 * 1000);
    long long started = proc_wall_ms ();
    proc_t *pub = proc_testnode ("pub", "e2e.subfirst", "-i", "5", NULL);
    const char *line = proc_expect (sub, "MSG ", FIND_MS);
    cr_assert_not_null (line);
    long long received = atoll (line + 4);
    //  Start of the publisher process to first message: ~0.1-0.3 s by design.
    cr_log_info ("discovery: publisher start to first message %lld ms", received - started);
    cr_assert_lt (received - started, 3000);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, fan_out_and_fan_in)
{
    proc_t *subs [3];
    for (int i = 0; i < 3; i++) {
        subs [i] = proc_testnode ("sub", "e2e.fan", "-n", "20", NULL);
        cr_assert_not_null (proc_expect (subs [i], "READY", 5000));
    }
    proc_t *pub_a = proc_testnode ("pub", "e2e.fan", "-i", "20", "-N", "A", NULL);
    proc_t *pub_b = proc_testnode ("pub", "e2e.fan", "-i", "20", "-N", "B", NULL);
    for (int i = 0; i < 3; i++) {
        char first [128], second [128];
        //  Every subscriber connects to both publishers...
        s_endpoint (proc_expect (subs [i], "UP ", FIND_MS), first, sizeof first);
        s_endpoint (proc_expect (subs [i], "UP ", FIND_MS), second, sizeof second);
        cr_assert_str_neq (first, second);
        //  ...and gets messages.
        cr_assert_not_null (proc_expect (subs [i], "DONE", 5000));
        cr_assert_eq (proc_wait (subs [i], 5000), 0);
        proc_destroy (&subs [i]);
    }
    proc_destroy (&pub_a);
    proc_destroy (&pub_b);
}

Test (pubsub, same_node_subscribers)
{
    proc_t *node = proc_testnode ("samenode", "e2e.samenode", "-i", "20", "-n", "20", NULL);
    cr_assert_not_null (proc_expect (node, "DONE", 5000));
    cr_assert_eq (proc_wait (node, 5000), 0);
    proc_destroy (&node);
}

Test (pubsub, late_subscriber_in_a_node_that_saw_the_publisher)
{
    proc_t *pub = proc_testnode ("pub", "e2e.late", "-i", "20", NULL);
    proc_t *sub = proc_testnode ("latesub", "e2e.late", "-n", "5", NULL);
    cr_assert_not_null (proc_expect (sub, "FIRST", FIND_MS));
    cr_assert_not_null (proc_expect (sub, "UP ", 5000));
    cr_assert_not_null (proc_expect (sub, "DONE", 5000));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, two_publishers_of_one_topic_in_one_node)
{
    //  Same topic, same node uuid: the second instance name is renamed.
    proc_t *pub = proc_testnode ("pub", "e2e.twopubs", "-i", "20", "-m", "2", NULL);
    proc_t *sub = proc_testnode ("sub", "e2e.twopubs", NULL);
    char first [128], second [128];
    s_endpoint (proc_expect (sub, "UP ", FIND_MS), first, sizeof first);
    s_endpoint (proc_expect (sub, "UP ", FIND_MS), second, sizeof second);
    cr_assert_str_neq (first, second);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, sockets_match_by_topic_and_kind)
{
    proc_t *node = proc_testnode ("pubrep", "e2e.kind", "-i", "20", NULL);
    proc_t *sub = proc_testnode ("sub", "e2e.kind", NULL);
    proc_t *req = proc_testnode ("req", "e2e.kind", "-T", "2000", "-i", "50", NULL);
    //  The subscriber connects to the publisher only, the client to the
    //  server only: one peer each, and both work.
    cr_assert_not_null (proc_expect (sub, "UP ", FIND_MS));
    cr_assert_not_null (proc_expect (req, "UP ", FIND_MS));
    cr_assert_not_null (proc_expect (req, "REPLY rep:", 3000));
    cr_assert_not_null (proc_expect (sub, "MSG ", 3000));
    cr_assert_eq (proc_count (sub, "UP ", 1500), 0, "subscriber connected to a server");
    cr_assert_eq (proc_count (req, "UP ", 10), 0, "client connected to a publisher");
    proc_destroy (&req);
    proc_destroy (&sub);
    proc_destroy (&node);
}

Test (pubsub, restarted_node_lets_go_of_withdrawn_services)
{
    //  The subscriber's node stops and starts again (finding the publisher
    //  twice); then the publisher withdraws its service but keeps its socket
    //  open: the subscriber must disconnect, once is enough.
    proc_t *sub = proc_testnode ("sub", "e2e.nodestart", "-R", "800", NULL);
    proc_t *pub = proc_testnode ("pub", "e2e.nodestart", "-i", "20", "-W", "2500", NULL);
    cr_assert_not_null (proc_expect (sub, "RESTART", 5000));
    cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
    cr_assert_not_null (proc_expect (pub, "STOPPED", 5000));
    cr_assert_not_null (proc_expect (sub, "DOWN ", 2500));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, long_topic_with_underscores_and_utf8)
{
    char topic [201];
    memset (topic, '_', 200);
    memcpy (topic, "caf\xc3\xa9.", 6);
    topic [200] = 0;
    proc_t *pub = proc_testnode ("pub", topic, "-i", "20", NULL);
    proc_t *sub = proc_testnode ("sub", topic, "-n", "3", NULL);
    cr_assert_not_null (proc_expect (sub, "DONE", FIND_MS));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (pubsub, publisher_restart)
{
    proc_t *sub = proc_testnode ("sub", "e2e.restart", NULL);
    proc_t *pub = proc_testnode ("pub", "e2e.restart", "-i", "20", NULL);
    const char *line = proc_expect (pub, "READY ", 5000);
    cr_assert_not_null (line);
    char first [64];
    snprintf (first, sizeof first, "%s", line + 6);
    cr_assert_not_null (proc_expect (sub, "UP ", FIND_MS));
    cr_assert_not_null (proc_expect (sub, "MSG ", 5000));
    proc_kill (pub, SIGKILL);
    proc_wait (pub, 5000);
    proc_destroy (&pub);
    //  A killed process: TCP tells at once.
    cr_assert_not_null (proc_expect (sub, "DOWN ", 3000));
    pub = proc_testnode ("pub", "e2e.restart", "-i", "20", NULL);
    line = proc_expect (pub, "READY ", 5000);
    cr_assert_not_null (line);
    char second [64];
    snprintf (second, sizeof second, "%s", line + 6);
    cr_assert_str_neq (first, second);
    //  The new publisher may get the same port: the peer must then be
    //  reported with the new node's uuid.
    char expected [80];
    snprintf (expected, sizeof expected, " %s", second);
    cr_assert_not_null (proc_expect_text (sub, expected, FIND_MS));
    cr_assert_not_null (proc_expect (sub, "MSG ", 5000));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

//  Starts a publisher and a subscriber on topic, sends the publisher signal
//  once messages flow, and returns how long until the subscriber reports
//  it down. The processes are left in *pub and *sub.
static long long
s_time_to_down (const char *topic, int signal, proc_t **pub, proc_t **sub)
{
    *sub = proc_testnode ("sub", topic, NULL);
    *pub = proc_testnode ("pub", topic, "-i", "50", NULL);
    cr_assert_not_null (proc_expect (*sub, "MSG ", FIND_MS));
    long long sent = proc_now_ms ();
    proc_kill (*pub, signal);
    cr_assert_not_null (proc_expect (*sub, "DOWN ", 6000));
    long long noticed = proc_now_ms () - sent;
    cr_log_info ("%s: publisher down after %lld ms", topic, noticed);
    return noticed;
}

Test (liveness, frozen_publisher_is_noticed_by_heartbeats)
{
    //  A stopped process keeps its TCP connections open, like a host cut
    //  off: only the heartbeat can tell (and mDNS still lists it).
    proc_t *pub, *sub;
    cr_assert_lt (s_time_to_down ("e2e.frozen", SIGSTOP, &pub, &sub), 4000);
    proc_kill (pub, SIGCONT);
    //  It answers again: the connection comes back.
    cr_assert_not_null (proc_expect (sub, "UP ", 6000));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (liveness, clean_stop_is_noticed_at_once)
{
    proc_t *pub, *sub;
    cr_assert_lt (s_time_to_down ("e2e.cleanstop", SIGTERM, &pub, &sub), 1000);
    cr_assert_eq (proc_wait (pub, 5000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (rpc, timeout_then_recovery)
{
    proc_t *req = proc_testnode ("req", "e2e.rpc.recover", "-T", "300", "-i", "100", NULL);
    cr_assert_not_null (proc_expect (req, "TIMEOUT", 3000));
    cr_assert_not_null (proc_expect (req, "TIMEOUT", 3000));
    proc_t *rep = proc_testnode ("rep", "e2e.rpc.recover", "-g", "late", NULL);
    cr_assert_not_null (proc_expect (req, "REPLY late:", FIND_MS));
    cr_assert_not_null (proc_expect (req, "REPLY late:", 2000));
    proc_destroy (&req);
    proc_destroy (&rep);
}

//  Once both servers are ready, a client of their topic, connected to both.
static proc_t *
s_client_of_two (proc_t *rep_a, proc_t *rep_b, const char *topic, const char *timeout_ms,
                 const char *interval_ms)
{
    cr_assert_not_null (proc_expect (rep_a, "READY", 5000));
    cr_assert_not_null (proc_expect (rep_b, "READY", 5000));
    usleep (200 * 1000);
    proc_t *req = proc_testnode ("req", topic, "-T", timeout_ms, "-i", interval_ms, NULL);
    cr_assert_not_null (proc_expect (req, "UP ", FIND_MS));
    cr_assert_not_null (proc_expect (req, "UP ", FIND_MS));
    return req;
}

Test (rpc, round_robin_over_two_servers)
{
    proc_t *rep_a = proc_testnode ("rep", "e2e.rpc.rr", "-g", "a", NULL);
    proc_t *rep_b = proc_testnode ("rep", "e2e.rpc.rr", "-g", "b", NULL);
    proc_t *req = s_client_of_two (rep_a, rep_b, "e2e.rpc.rr", "2000", "10");
    int a = 0, b = 0;
    for (int i = 0; i < 20; i++) {
        const char *line = proc_expect (req, "REPLY ", 3000);
        cr_assert_not_null (line);
        a += strncmp (line, "REPLY a:", 8) == 0;
        b += strncmp (line, "REPLY b:", 8) == 0;
    }
    cr_assert_eq (a + b, 20);
    cr_assert (a >= 8 && b >= 8, "a %d, b %d: not round-robin", a, b);
    proc_destroy (&req);
    proc_destroy (&rep_a);
    proc_destroy (&rep_b);
}

Test (rpc, a_server_that_never_answers_is_skipped)
{
    proc_t *good = proc_testnode ("rep", "e2e.rpc.silent", "-g", "good", NULL);
    proc_t *silent = proc_testnode ("rep", "e2e.rpc.silent", "-g", "silent", "-d", "600000", NULL);
    proc_t *req = s_client_of_two (good, silent, "e2e.rpc.silent", "200", "5");
    //  One request at a time: each timeout costs 200 ms.
    int replies = 0, timeouts = 0;
    long long deadline = proc_now_ms () + 20000;
    while (replies + timeouts < 150 && proc_now_ms () < deadline) {
        const char *line = proc_expect (req, "", 1000);
        cr_assert_not_null (line);
        replies += strncmp (line, "REPLY good:", 11) == 0;
        timeouts += strncmp (line, "TIMEOUT ", 8) == 0;
    }
    cr_assert_eq (replies + timeouts, 150, "%d replies, %d timeouts", replies, timeouts);
    fprintf (stderr, "e2e, a server that never answers: %d of 150 requests timed out\n", timeouts);
    cr_assert_lt (timeouts, 30, "%d of 150 requests timed out", timeouts);
    proc_destroy (&req);
    proc_destroy (&good);
    proc_destroy (&silent);
}

Test (rpc, server_killed_mid_call)
{
    proc_t *slow = proc_testnode ("rep", "e2e.rpc.kill", "-g", "slow", "-d", "10000", NULL);
    proc_t *req = proc_testnode ("req", "e2e.rpc.kill", "-T", "1500", "-i", "100", NULL);
    cr_assert_not_null (proc_expect (slow, "REQUEST", FIND_MS));
    proc_kill (slow, SIGKILL);
    proc_wait (slow, 5000);
    cr_assert_not_null (proc_expect (req, "DOWN ", 3000));
    cr_assert_not_null (proc_expect (req, "TIMEOUT", 3000));
    proc_t *fast = proc_testnode ("rep", "e2e.rpc.kill", "-g", "fast", NULL);
    cr_assert_not_null (proc_expect (req, "REPLY fast:", FIND_MS));
    proc_destroy (&req);
    proc_destroy (&slow);
    proc_destroy (&fast);
}

Test (bad_input, garbage_txt_records_are_ignored_and_logged)
{
    //  Strangers advertise our type with bad TXT records on a real port.
    const char *records [][4] = {
        {"junk-notopic", "socket_type=1", "node_uuid=x", NULL},
        {"junk-badtype", "topic=e2e.garbage", "socket_type=7", "node_uuid=x"},
        {"junk-ctrl", "topic=bad\x01topic", "socket_type=1", "node_uuid=x"},
        {"junk-binary", "topic=\xff\xfe", "socket_type=1", "node_uuid=x"},
    };
    proc_t *publishers [4];
    for (int i = 0; i < 4; i++) {
        char *argv [] = {"/usr/bin/avahi-publish",
                         "-s",
                         (char *) records [i][0],
                         "_colugo._tcp",
                         "9",
                         (char *) records [i][1],
                         (char *) records [i][2],
                         (char *) records [i][3],
                         NULL};
        publishers [i] = proc_start (argv);
        cr_assert_not_null (publishers [i]);
    }
    for (int i = 0; i < 4; i++)  //  avahi-publish probes for ~1 s
        cr_assert_not_null (proc_expect (publishers [i], "Established", 5000));
    proc_t *pub = proc_testnode ("pub", "e2e.garbage", "-i", "20", NULL);
    proc_t *sub = proc_testnode ("sub", "e2e.garbage", "-n", "50", NULL);
    //  The valid publisher is still heard, and each stranger is logged.
    cr_assert_not_null (proc_expect_text (sub, "ignoring service 'junk-", FIND_MS));
    cr_assert_not_null (proc_expect (sub, "DONE", FIND_MS));
    cr_assert_eq (proc_wait (sub, 5000), 0);
    for (int i = 0; i < 4; i++)
        proc_destroy (&publishers [i]);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (bad_input, invalid_topic_is_refused)
{
    proc_t *pub = proc_testnode ("pub", "bad\ttopic", NULL);
    cr_assert_not_null (proc_expect (pub, "ERROR invalid topic", 5000));
    cr_assert_eq (proc_wait (pub, 5000), 1);
    proc_destroy (&pub);
}

Test (shutdown, sigterm_and_sigint_stop_cleanly)
{
    proc_t *pub = proc_testnode ("pub", "e2e.signals", NULL);
    proc_t *sub = proc_testnode ("sub", "e2e.signals", NULL);
    cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
    proc_kill (sub, SIGINT);
    proc_kill (pub, SIGTERM);
    cr_assert_eq (proc_wait (sub, 3000), 0);
    cr_assert_eq (proc_wait (pub, 3000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
}
