/*  test_faults.c: ordinary trouble that must neither stop a node nor make
    it report something false: a port reused by another service after a
    crash, a slow subscriber whose publisher goes away, slow callbacks.
    Real node processes (testnode) in the namespace of scripts/colugo-netns;
    one test at a time, since they count on which ports are free.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc.h"

#define FIND_MS 5000

//  The port a publisher or server prints after READY.
static long
s_port (proc_t *node)
{
    const char *line = proc_expect (node, "PORT ", 5000);
    cr_assert_not_null (line);
    return atol (line + 5);
}

//  Starts a testnode whose listeners take the lowest free ports of a range
//  (COLUGO_PORTS; one per test, as tests run side by side): a node started
//  after another one died gets its ports.
static proc_t *
s_start_in_range (const char *range, char *role, char *topic, char *option, char *value)
{
    setenv ("COLUGO_PORTS", range, 1);
    proc_t *node = proc_testnode (role, topic, "-i", "1", option, value, NULL);
    unsetenv ("COLUGO_PORTS");
    return node;
}

//  A subscriber of one topic, its publisher killed, and a publisher of
//  another topic taking the same port at once: libzmq alone would dial the
//  old endpoint again and deliver the other topic's data, reporting it as
//  the dead node's.
Test (faults, a_port_reused_by_another_topic_delivers_nothing)
{
    for (int run = 0; run < 3; run++) {
        proc_t *sub = proc_testnode ("sub", "e2e.reuse.alpha", NULL);
        proc_t *alpha = s_start_in_range ("45000-45049", "pub", "e2e.reuse.alpha", "-P", "alpha");
        long port = s_port (alpha);
        const char *up = proc_expect (sub, "UP ", FIND_MS);
        cr_assert_not_null (up);
        cr_assert_null (strstr (up, "unverified"), "a Colugo publisher is not verified: %s", up);
        cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
        proc_kill (alpha, SIGKILL);
        proc_wait (alpha, 5000);
        proc_destroy (&alpha);
        proc_t *beta = s_start_in_range ("45000-45049", "pub", "e2e.reuse.beta", "-P", "beta");
        long beta_port = s_port (beta);
        cr_log_info ("run %d: alpha had port %ld, beta has %ld", run, port, beta_port);
        //  Beta must get alpha's port for the test to mean anything: the
        //  lowest free one of the range is taken.
        cr_assert_eq (beta_port, port);
        //  Alpha's record lingers about a second; watch well past it.
        cr_assert_null (proc_expect_text (sub, "beta:", 3000),
                        "a subscriber of alpha got beta's data");
        proc_destroy (&sub);
        proc_destroy (&beta);
    }
}

Test (faults, a_port_reused_by_another_server_answers_nothing)
{
    proc_t *req = proc_testnode ("req", "e2e.reuse.alpha.rpc", "-i", "20", "-T", "200", NULL);
    proc_t *alpha = s_start_in_range ("45050-45099", "rep", "e2e.reuse.alpha.rpc", "-g", "alpha");
    long port = s_port (alpha);
    cr_assert_not_null (proc_expect (req, "REPLY alpha:", FIND_MS));
    proc_kill (alpha, SIGKILL);
    proc_wait (alpha, 5000);
    proc_destroy (&alpha);
    proc_t *beta = s_start_in_range ("45050-45099", "rep", "e2e.reuse.beta.rpc", "-g", "beta");
    cr_assert_eq (s_port (beta), port);
    cr_assert_null (proc_expect_text (req, "REPLY beta:", 3000),
                    "a client of alpha.rpc was answered by beta.rpc");
    proc_destroy (&req);
    proc_destroy (&beta);
}

//  libzmq 4.3.4 aborts (Assertion failed: !_io_error) when heartbeats meet
//  a full receive pipe and the peer goes away: a slow subscriber of a fast
//  publisher that stops. It must live on, and stop cleanly when asked.
Test (faults, a_slow_subscriber_survives_its_publisher_going_away)
{
    for (int run = 0; run < 3; run++) {
        proc_t *sub = proc_testnode ("sub", "e2e.slow", "-s", "10", NULL);
        proc_t *pub = proc_testnode ("pub", "e2e.slow", "-i", "1", "-b", "10", NULL);
        cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
        usleep (1500 * 1000);  //  the subscriber falls behind: its queues fill
        proc_kill (pub, run == 1 ? SIGKILL : SIGTERM);
        proc_wait (pub, 5000);
        proc_destroy (&pub);
        //  It goes on delivering what it holds, and must not die doing so.
        usleep (3000 * 1000);
        proc_kill (sub, SIGTERM);
        int status = proc_wait (sub, 5000);
        cr_assert_eq (status, 0, "run %d: the subscriber ended with %d", run, status);
        proc_destroy (&sub);
    }
}

//  With 10 ms callbacks and messages always waiting, timers must still run
//  on time and SIGTERM must still stop the node at once.
Test (faults, slow_callbacks_do_not_starve_timers_or_stop)
{
    proc_t *sub = proc_testnode ("sub", "e2e.starve", "-s", "10", "-G", "200", NULL);
    proc_t *pub = proc_testnode ("pub", "e2e.starve", "-i", "1", "-b", "10", NULL);
    cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
    usleep (3000 * 1000);
    long long asked = proc_now_ms ();
    proc_kill (sub, SIGTERM);
    const char *line = proc_expect (sub, "MAXGAP ", 5000);
    cr_assert_not_null (line);
    long long worst = atoll (line + 7);
    cr_assert_eq (proc_wait (sub, 5000), 0);
    long long stopped = proc_now_ms () - asked;
    cr_log_info ("a 200 ms repeater beside 10 ms callbacks: longest interval %lld ms; SIGTERM to "
                 "exit %lld ms",
                 worst, stopped);
    cr_assert_lt (worst, 600);
    cr_assert_lt (stopped, 1000);
    proc_destroy (&sub);
    proc_destroy (&pub);
}
