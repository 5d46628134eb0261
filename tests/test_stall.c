/*  test_stall.c: a stalled avahi-daemon (SIGSTOPped: every D-Bus call to it
    waits, 25 s by default) must not stall a node. In a namespace of its
    own (scripts/colugo-netns), one test at a time (--jobs 1): each stops
    the daemon that all of them share.

    In each case a repeater every 10 ms runs in the node (testnode -G) and
    its largest gap must stay far below the stall: a loop that waited on
    the daemon would show the whole stall as one gap.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "avahi_ctl.h"
#include "proc.h"

#define GAP_MAX_MS 500  //  generous: 10 ms expected, a blocked loop shows seconds
#define STALL_MS 3000   //  longer than the 2 s after which a stall is reported
#define FIND_MS 10000

//  Whatever an assertion left behind, the next test gets a running daemon.
static void
s_cont (void)
{
    avahi_ctl_try ("sigcont");
}

//  Waits for a line from finder after the daemon resumed, then stops node
//  with SIGTERM and checks the largest gap it printed.
static void
s_found_then_gap (const char *what, proc_t *finder, const char *prefix, long long resumed,
                  proc_t *node)
{
    cr_assert_not_null (proc_expect (finder, prefix, FIND_MS), "%s: nothing found after the stall",
                        what);
    cr_log_info ("%s: found %lld ms after the daemon resumed", what, proc_now_ms () - resumed);
    proc_kill (node, SIGTERM);
    const char *line = proc_expect (node, "STATS ", 5000);
    cr_assert_not_null (line, "no STATS within 5 s of SIGTERM");
    const char *stalls = strstr (line, " stalls ");
    cr_assert (stalls && atol (stalls + 8) == 1, "the stall is counted once: %s", line);
    line = proc_expect (node, "MAXGAP ", 1000);
    cr_assert_not_null (line, "no MAXGAP within 5 s of SIGTERM");
    long gap = atol (line + 7);
    cr_assert_geq (proc_wait (node, 5000), 0);
    cr_log_info ("%s: largest gap of a 10 ms repeater %ld ms", what, gap);
    cr_assert_lt (gap, GAP_MAX_MS);
}

Test (stall, publish_while_stalled, .fini = s_cont)
{
    //  A running node adds a publisher while the daemon is stopped.
    proc_t *node = proc_testnode ("pub", "stall.a", "-i", "50", "-G", "10", "-A", "1500", NULL);
    cr_assert_not_null (proc_expect (node, "READY", 5000));
    usleep (300 * 1000);  //  connected to the daemon, first publisher out
    avahi_ctl ("sigstop");
    long long stopped_at = proc_wall_ms ();
    const char *added = proc_expect (node, "ADDED ", 3000);
    cr_assert_not_null (added, "the node did not add its publisher within 3 s");
    cr_assert_gt (atoll (added + 6), stopped_at, "added before the daemon was stopped");
    const char *took = strstr (added, " in ");
    cr_assert (took && atol (took + 4) < 50, "adding a publisher took long: %s", added);
    //  The stall is noticed and said once.
    cr_assert_not_null (proc_expect_text (node, "avahi-daemon does not answer", STALL_MS));
    avahi_ctl ("sigcont");
    cr_assert_not_null (proc_expect_text (node, "avahi-daemon answers again", 5000));
    //  The publisher added during the stall is advertised after it.
    long long resumed = proc_now_ms ();
    proc_t *sub = proc_testnode ("sub", "stall.a.late", "-n", "3", NULL);
    s_found_then_gap ("publish during a stall", sub, "DONE", resumed, node);
    proc_destroy (&sub);
    proc_destroy (&node);
}

Test (stall, browse_while_stalled, .fini = s_cont)
{
    //  A node starts, and so browses, while the daemon is stopped; a
    //  publisher that was there before is found once it answers. Through
    //  DNS-SD alone, as from another host: the publisher does not mark
    //  itself for the nodes on this host (COLUGO_HOST_NODES=0).
    setenv ("COLUGO_HOST_NODES", "0", 1);
    proc_t *pub = proc_testnode ("pub", "stall.b", "-i", "50", NULL);
    unsetenv ("COLUGO_HOST_NODES");
    cr_assert_not_null (proc_expect (pub, "READY", 5000));
    usleep (500 * 1000);  //  published
    avahi_ctl ("sigstop");
    proc_t *sub = proc_testnode ("sub", "stall.b", "-G", "10", NULL);
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    usleep (STALL_MS * 1000);
    cr_assert_null (proc_expect (sub, "UP ", 10), "found with the daemon stopped?");
    long long resumed = proc_now_ms ();
    avahi_ctl ("sigcont");
    s_found_then_gap ("browse during a stall", sub, "MSG ", resumed, sub);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (stall, a_node_on_this_host_is_found_by_its_mark_while_stalled, .fini = s_cont)
{
    //  The same start during a stall, with the publisher marked for the
    //  nodes on this host (hostnodes.h): the subscriber finds it at once,
    //  through its link, without the daemon; once the daemon answers, the
    //  record confirms the notice and nothing goes down.
    proc_t *pub = proc_testnode ("pub", "stall.m", "-i", "50", NULL);
    cr_assert_not_null (proc_expect (pub, "READY", 5000));
    usleep (500 * 1000);  //  published
    avahi_ctl ("sigstop");
    long long stopped = proc_now_ms ();
    proc_t *sub = proc_testnode ("sub", "stall.m", "-G", "10", NULL);
    cr_assert_not_null (proc_expect (sub, "UP ", 2000), "not found by its mark in 2 s");
    cr_assert_not_null (proc_expect (sub, "MSG ", 1000));
    cr_log_info ("found by its mark %lld ms after the daemon stopped", proc_now_ms () - stopped);
    //  2 s: shorter than a D-Bus call's 3 s timeout, so that the first
    //  look's calls, made during the stall, are answered when it ends, well
    //  inside the notice's 5 s of grace (a longer stall lets them time out
    //  first, and the record then waits for the retry).
    long long left = 2000 - (proc_now_ms () - stopped);
    if (left > 0)
        usleep ((useconds_t) left * 1000);
    avahi_ctl ("sigcont");
    //  The notice's grace is 5 s from the start: past it, a notice that the
    //  record did not confirm would go (and the connection with it).
    const char *line = proc_expect (sub, "DOWN ", 6000);
    cr_assert_null (line, "the link's notice was not confirmed by the record: %s",
                    line ? line : "");
    proc_kill (sub, SIGTERM);
    line = proc_expect (sub, "MAXGAP ", 5000);
    cr_assert_not_null (line);
    cr_assert_lt (atol (line + 7), GAP_MAX_MS);
    cr_assert_geq (proc_wait (sub, 5000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (stall, stop_while_stalled, .fini = s_cont)
{
    //  A node stops (withdrawing its services) while the daemon is stopped,
    //  and while its discovery thread waits on the daemon (a publisher was
    //  added during the stall): the thread is left behind, the node goes on.
    proc_t *node =
        proc_testnode ("pub", "stall.c", "-i", "50", "-G", "10", "-A", "1000", "-W", "1500", NULL);
    cr_assert_not_null (proc_expect (node, "READY", 5000));
    usleep (300 * 1000);
    avahi_ctl ("sigstop");
    const char *line = proc_expect (node, "STOPPING ", 5000);
    cr_assert_not_null (line);
    long long stopping = atoll (line + 9);
    line = proc_expect (node, "MAXGAP ", 5000);
    cr_assert_not_null (line, "colugo_node_start did not return within 5 s of the stop");
    long gap = atol (line + 7);
    line = proc_expect (node, "STOPPED ", 1000);
    cr_assert_not_null (line);
    long long took = atoll (line + 8) - stopping;
    cr_log_info ("stop during a stall: colugo_node_start returned in %lld ms, largest gap %ld ms",
                 took, gap);
    cr_assert_lt (took, 1500, "stopping took %lld ms", took);
    cr_assert_lt (gap, GAP_MAX_MS);
    //  It exits (destroy too returns while the daemon is still stopped).
    long long exit_from = proc_now_ms ();
    cr_assert_eq (proc_wait (node, 8000), 0);
    cr_log_info ("stop during a stall: exit %lld ms after STOPPED (3 s of it the -W wait)",
                 proc_now_ms () - exit_from);
    proc_destroy (&node);
}
