/*  test_daemon.c: the avahi-daemon coming and going, in a namespace of its
    own (scripts/colugo-netns --no-avahi: D-Bus only, no daemon at first),
    since stopping the daemon would spoil any test running beside it.
    Without being asked to wait, a node fails with a clear error; asked to
    wait, it runs as soon as a daemon comes; when the daemon restarts, nodes
    advertise and browse again by themselves.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "avahi_ctl.h"
#include "proc.h"

#define FIND_MS 5000

static void
restart_while_nodes_run (void)
{
    proc_t *pub = proc_testnode ("pub", "e2e.daemon", "-i", "20", NULL);
    proc_t *sub = proc_testnode ("sub", "e2e.daemon", NULL);
    cr_assert_not_null (proc_expect (sub, "MSG ", FIND_MS));
    avahi_ctl ("restart");
    //  The existing connection is kept...
    cr_assert_not_null (proc_expect (sub, "MSG ", 3000));
    //  ...and the publisher advertises again: a new subscriber finds it,
    //  and the old subscriber browses again: it finds a new publisher.
    proc_t *sub2 = proc_testnode ("sub", "e2e.daemon", "-n", "3", NULL);
    cr_assert_not_null (proc_expect (sub2, "DONE", 10000));
    proc_t *pub2 = proc_testnode ("pub", "e2e.daemon", "-i", "20", NULL);
    cr_assert_not_null (proc_expect (sub, "UP ", 10000));
    proc_destroy (&sub2);
    proc_destroy (&pub2);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (daemon, no_daemon_then_wait_then_restart)
{
    setenv ("TESTNODE_NO_WAIT", "1", 1);
    setenv ("COLUGO_LOG", "info", 1);
    proc_t *pub = proc_testnode ("pub", "nd.error", NULL);
    unsetenv ("COLUGO_LOG");
    //  The log says why, and tells the truth: the node does not wait, it fails.
    const char *line = NULL;
    bool said = false;
    long long deadline = proc_now_ms () + 5000;
    while (proc_now_ms () < deadline
           && (line = proc_expect_text (pub, "", (int) (deadline - proc_now_ms ())))
           && strncmp (line, "ERROR ", 6)) {
        cr_assert_null (strstr (line, "waiting for"), "logged: %s", line);
        said = said || strstr (line, "avahi-daemon");
    }
    cr_assert (said, "the log does not say what is missing");
    cr_assert_not_null (line);
    cr_assert (strncmp (line, "ERROR no avahi-daemon running", 29) == 0, "%s", line);
    cr_assert_eq (proc_wait (pub, 5000), 1);
    proc_destroy (&pub);

    //  One test, not two: the daemon this part starts would spoil the first.
    unsetenv ("TESTNODE_NO_WAIT");
    pub = proc_testnode ("pub", "nd.wait", "-i", "20", NULL);
    proc_t *sub = proc_testnode ("sub", "nd.wait", "-n", "3", NULL);
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    cr_assert_null (proc_expect (sub, "MSG", 1500));  //  nothing without a daemon
    avahi_ctl ("start");
    cr_assert_not_null (proc_expect (sub, "DONE", 10000));
    cr_assert_eq (proc_wait (sub, 5000), 0);
    proc_kill (pub, SIGTERM);
    cr_assert_eq (proc_wait (pub, 5000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
    restart_while_nodes_run ();
}
