/*  ownsignals: a node program that handles its signals itself, for
    tests/test_signals.c:

        ownsignals TOPIC

    It asks its node to leave signals alone
    (colugo_node_set_signal_handling (node, false)), installs its own SIGINT
    and SIGTERM handlers, publishes on TOPIC and prints "TICK <n>" every
    100 ms. SIGINT prints "APP SIGINT" and nothing else; SIGTERM prints
    "APP SIGTERM" and the program stops its node from the loop. It stops by
    itself after 60 s ("DEADLINE", exit 3).

    Built only once colugo/node.h declares colugo_node_set_signal_handling
    (see COLUGO_SIGNAL_TESTS_PENDING in tests/CMakeLists.txt).
*/
#include <colugo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t s_stop_asked;

static void
s_on_signal (int signal)
{
    const char *text = signal == SIGINT ? "APP SIGINT\n" : "APP SIGTERM\n";
    if (write (STDOUT_FILENO, text, strlen (text)) < 0) {
    }
    if (signal == SIGTERM)
        s_stop_asked = 1;
}

static void
on_tick (colugo_node_t *node, void *arg)
{
    long *ticks = (long *) arg;
    printf ("TICK %ld\n", (*ticks)++);
    if (s_stop_asked)
        colugo_node_stop (node);
}

static void
on_deadline (colugo_node_t *node, void *arg)
{
    int *exit_code = (int *) arg;
    printf ("DEADLINE\n");
    *exit_code = 3;
    colugo_node_stop (node);
}

int
main (int argc, char *argv [])
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf (stderr, "usage: ownsignals TOPIC\n");
        return 2;
    }
    colugo_node_t *node = colugo_node_new ("OwnSignals");
    if (!node)
        return 1;
    colugo_node_set_signal_handling (node, false);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    long ticks = 0;
    int exit_code = 0;
    if (!colugo_node_add_publisher (node, argv [1])
        || colugo_node_add_repeater (node, 100, on_tick, &ticks) < 0
        || colugo_node_add_delayed (node, 60000, on_deadline, &exit_code) < 0) {
        printf ("ERROR %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&node);
        return 1;
    }
    printf ("READY %s\n", colugo_node_uuid (node));
    int rc = colugo_node_start (node);
    printf ("RETURNED %d\n", rc);
    colugo_node_destroy (&node);
    return rc ? 1 : exit_code;
}
