/*  test_signals.c: what signals do to a running node (issue 7, item 4).

    Real node processes (testnode, and ownsignals for an application that
    handles its signals itself), signalled from outside as a shell, a
    terminal or a parent process would, in the private namespace that
    scripts/colugo-netns made: discovery is on, as nodes run.

    Only SIGINT and SIGTERM may stop a node, and only while the application
    has not asked to handle signals itself; any other signal that interrupts
    the loop's poll (a SIGCHLD or SIGWINCH handler of the application's)
    must leave it running; a node stopped by a signal can be started again,
    and so can a new one; the application's own handlers stay installed.

    A node shows that it runs by printing "TICK <n>" every 100 ms (-k), and
    "RETURNED <rc> <ms>" when colugo_node_start returns.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc.h"

#define TICK_MS "100"
#define TICKS 10  //  what "keeps running" means: 10 ticks in a row (1 s)

//  Starts a testnode publisher on topic that ticks, with more options
//  (NULL-ended, at most 4), and waits for its first tick.
static proc_t *
s_ticker (const char *topic, const char *a, const char *b, const char *c, const char *d)
{
    proc_t *node = proc_testnode ("pub", topic, "-k", TICK_MS, a, b, c, d, NULL);
    cr_assert_not_null (node);
    cr_assert_not_null (proc_expect (node, "TICK ", 5000), "%s: no first tick", topic);
    return node;
}

//  Reads the node's lines until one starts with prefix; fails if its
//  colugo_node_start returns first (after: what was done to the node, at
//  time since, for the message).
static void
s_until (proc_t *node, const char *prefix, const char *after, long long since)
{
    const char *line;
    long long deadline = proc_now_ms () + 5000;
    while ((line = proc_expect (node, "", (int) (deadline - proc_now_ms ())))) {
        if (strncmp (line, prefix, strlen (prefix)) == 0)
            return;
        cr_assert (strncmp (line, "RETURNED ", 9) != 0,
                   "after %s: the node returned %lld ms later, before a '%s' line (%s)", after,
                   proc_now_ms () - since, prefix, line);
    }
    cr_assert_fail ("after %s: no '%s' line within 5 s (or the node exited)", after, prefix);
}

//  Asserts that the node keeps running: TICKS ticks in a row, and
//  colugo_node_start does not return meanwhile.
static void
s_assert_runs (proc_t *node, const char *after, long long since)
{
    for (int ticks = 0; ticks < TICKS; ticks++)
        s_until (node, "TICK ", after, since);
}

//  Sends a signal; returns when it was sent.
static long long
s_signal (proc_t *node, int signal)
{
    long long sent = proc_now_ms ();
    proc_kill (node, signal);
    return sent;
}

//  Sends a signal while the node waits in its poll: half a tick after a
//  tick. Sent as soon as a TICK line is read, it would often arrive while the
//  node still runs its callback, where it interrupts no poll at all: this
//  wait places the signal, it does not wait for an event.
static long long
s_signal_mid_poll (proc_t *node, int signal)
{
    cr_assert_not_null (proc_expect (node, "TICK ", 3000));
    usleep (atoi (TICK_MS) / 2 * 1000);
    return s_signal (node, signal);
}

//  The node stops on SIGTERM and exits 0 (its own handler or the library's).
static void
s_assert_stops_on_sigterm (proc_t **node_p)
{
    proc_kill (*node_p, SIGTERM);
    cr_assert_eq (proc_wait (*node_p, 3000), 0, "no clean exit within 3 s of SIGTERM");
    proc_destroy (node_p);
}

//  (a) Any program that runs commands reaps them in a SIGCHLD handler.
Test (signals, sigchld_of_the_application_leaves_the_node_running)
{
    proc_t *node = s_ticker ("e2e.sig.chld", "-C", "300", NULL, NULL);
    cr_assert_not_null (proc_expect (node, "FORKED ", 3000));
    long long forked = proc_now_ms ();
    //  The child exits at once; the application's handler reaps it...
    s_until (node, "REAPED ", "forking a child that exits 250 ms later", forked);
    //  ...and the node goes on.
    s_assert_runs (node, "forking a child that exits 250 ms later", forked);
    s_assert_stops_on_sigterm (&node);
}

//  (b) A terminal that is resized sends SIGWINCH; by default it is ignored.
Test (signals, sigwinch_leaves_the_node_running)
{
    proc_t *node = s_ticker ("e2e.sig.winch", NULL, NULL, NULL, NULL);
    long long sent = s_signal_mid_poll (node, SIGWINCH);
    s_assert_runs (node, "SIGWINCH", sent);
    s_assert_stops_on_sigterm (&node);
}

//  (b) A terminal program (readline, curses) has a SIGWINCH handler.
Test (signals, sigwinch_with_a_handler_leaves_the_node_running)
{
    proc_t *node = s_ticker ("e2e.sig.winch.handler", "-w", NULL, NULL, NULL);
    long long sent = s_signal_mid_poll (node, SIGWINCH);
    s_until (node, "RESIZED", "SIGWINCH (with a handler)", sent);
    s_assert_runs (node, "SIGWINCH (with a handler)", sent);
    s_assert_stops_on_sigterm (&node);
}

//  (c) After one SIGINT has stopped a node, the same node started again
//  runs until the next, and so does a new node.
Test (signals, a_node_runs_again_after_sigint_stopped_it)
{
    proc_t *node = s_ticker ("e2e.sig.again", "-a", NULL, NULL, NULL);
    long long sent = s_signal (node, SIGINT);
    cr_assert_not_null (proc_expect (node, "RETURNED 0", 3000), "SIGINT did not stop the node");
    cr_assert_not_null (proc_expect (node, "AGAIN", 3000));
    s_assert_runs (node, "SIGINT and starting the same node again", sent);
    sent = s_signal (node, SIGINT);
    cr_assert_not_null (proc_expect (node, "RETURNED 0", 3000),
                        "SIGINT did not stop the node started again");
    cr_assert_not_null (proc_expect (node, "NEW", 3000));
    s_assert_runs (node, "a second SIGINT and starting a new node", sent);
    proc_kill (node, SIGINT);
    cr_assert_eq (proc_wait (node, 3000), 0, "SIGINT did not stop the new node");
    proc_destroy (&node);
}

//  (d) An application that installed SIGINT and SIGTERM handlers before it
//  made a node keeps them (czmq's zsys_init replaced them).
Test (signals, handlers_installed_before_the_node_are_kept)
{
    proc_t *node = s_ticker ("e2e.sig.apphandlers", "-h", NULL, NULL, NULL);
    proc_kill (node, SIGINT);
    cr_assert_not_null (proc_expect (node, "APP SIGINT", 3000),
                        "the application's SIGINT handler did not run");
    //  Whether SIGINT also stopped the node is not said here: after SIGTERM
    //  the application stops its node itself, if it still runs.
    s_assert_stops_on_sigterm (&node);
}

//  (e) An application that asked to handle signals itself
//  (colugo_node_set_signal_handling (node, false), in tests/ownsignals.c):
//  SIGINT does not stop the node; its own handler runs, and on SIGTERM it
//  stops its node itself.
Test (signals, sigint_leaves_a_node_running_when_the_application_handles_signals)
{
    const char *path = getenv ("OWNSIGNALS");
    if (!path || !*path)
        cr_skip_test ("ownsignals is not built: colugo_node_set_signal_handling is not in "
                      "colugo/node.h yet (COLUGO_SIGNAL_TESTS_PENDING)");
    char *argv [] = {(char *) path, "e2e.sig.own", NULL};
    proc_t *node = proc_start (argv);
    cr_assert_not_null (node);
    cr_assert_not_null (proc_expect (node, "TICK ", 5000));
    long long sent = s_signal_mid_poll (node, SIGINT);
    s_until (node, "APP SIGINT", "SIGINT (the application handles signals)", sent);
    s_assert_runs (node, "SIGINT (the application handles signals)", sent);
    proc_kill (node, SIGTERM);
    cr_assert_not_null (proc_expect (node, "APP SIGTERM", 3000));
    cr_assert_eq (proc_wait (node, 3000), 0);
    proc_destroy (&node);
}

//  (f) By default SIGINT and SIGTERM stop a node cleanly: its services are
//  withdrawn and its connections closed (a peer notices at once), and
//  colugo_node_start returns 0.
Test (signals, sigint_and_sigterm_stop_a_node_cleanly_by_default)
{
    proc_t *sub = proc_testnode ("sub", "e2e.sig.stop", NULL);
    int signals [] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        proc_t *pub = proc_testnode ("pub", "e2e.sig.stop", "-i", "20", NULL);
        cr_assert_not_null (proc_expect (sub, "UP ", 5000));
        cr_assert_not_null (proc_expect (sub, "MSG ", 5000));
        long long sent = s_signal (pub, signals [i]);
        cr_assert_not_null (proc_expect (pub, "RETURNED 0", 3000), "%s: no clean return",
                            strsignal (signals [i]));
        cr_assert_eq (proc_wait (pub, 3000), 0, "%s: no clean exit", strsignal (signals [i]));
        cr_assert_not_null (proc_expect (sub, "DOWN ", 1000), "%s: the peer did not notice",
                            strsignal (signals [i]));
        cr_log_info ("%s: publisher down at its subscriber after %lld ms", strsignal (signals [i]),
                     proc_now_ms () - sent);
        proc_destroy (&pub);
    }
    s_assert_stops_on_sigterm (&sub);
}

//  Sends a signal to this namespace's avahi-daemon (colugo-netns started it;
//  its pid file is in the namespace's private /run).
static void
s_signal_daemon (int signal)
{
    FILE *file = fopen ("/run/avahi-daemon/pid", "r");
    cr_assert_not_null (file, "no /run/avahi-daemon/pid: not in a colugo-netns namespace?");
    int pid = 0;
    int found = fscanf (file, "%d", &pid);
    fclose (file);
    cr_assert (found == 1 && pid > 1);
    cr_assert_eq (kill (pid, signal), 0);
}

static void
s_continue_daemon (void)
{
    s_signal_daemon (SIGCONT);
}

//  (f) SIGTERM often comes twice: from a process-group kill and a direct one
//  (timeout(1), service managers), or an impatient user. One that comes
//  while the node withdraws its services must not kill the process before
//  colugo_node_start returns. The daemon is stopped meanwhile, so that the
//  withdrawal waits for it: the second SIGTERM is sure to come in time.
Test (signals, a_second_sigterm_while_the_node_stops_does_not_kill_it, .fini = s_continue_daemon)
{
    setenv ("COLUGO_LOG", "info", 1);
    proc_t *node = s_ticker ("e2e.sig.terms", NULL, NULL, NULL, NULL);
    unsetenv ("COLUGO_LOG");
    s_signal_daemon (SIGSTOP);
    proc_kill (node, SIGTERM);
    cr_assert_not_null (proc_expect_text (node, "stopping: withdrawing its services", 3000));
    proc_kill (node, SIGTERM);
    s_signal_daemon (SIGCONT);
    int status = proc_wait (node, 5000);
    cr_assert_eq (status, 0, "exit status %d (143: the second SIGTERM killed it)", status);
    cr_assert_not_null (proc_expect (node, "RETURNED 0", 1000));
    proc_destroy (&node);
}
