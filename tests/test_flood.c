/*  test_flood.c: a stranger floods the network with names of our service
    type that never resolve. In a namespace of its own (scripts/colugo-netns):
    the flood would slow every other test sharing its avahi-daemon.
*/
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>
#include "proc.h"

Test (flood, unresolvable_names_do_not_stop_discovery)
{
    const char *path = getenv ("STRANGER");
    cr_assert_not_null (path);
    char *argv [] = {(char *) path, "900", NULL};
    proc_t *stranger = proc_start (argv);
    cr_assert_not_null (proc_expect (stranger, "READY", 10000));
    proc_t *sub = proc_testnode ("sub", "e2e.flood", "-n", "5", NULL);
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    usleep (500 * 1000);  //  the subscriber is busy with 900 bogus names
    long long started = proc_now_ms ();
    proc_t *pub = proc_testnode ("pub", "e2e.flood", "-i", "20", NULL);
    cr_assert_not_null (proc_expect (sub, "DONE", 8000));
    cr_log_info ("found a publisher during a flood in %lld ms", proc_now_ms () - started);
    //  Its log says so, but rate-limited: not one line per bogus name.
    proc_destroy (&sub);
    proc_destroy (&pub);
    proc_destroy (&stranger);
}

