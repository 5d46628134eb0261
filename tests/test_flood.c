/*  test_flood.c: a stranger floods the network with names of our service
    type that never resolve. In a namespace of its own (scripts/colugo-netns),
    one test at a time (--jobs 1): a flood slows every other test sharing
    its avahi-daemon.

    Above every cap (our 4096 names, our 64 resolvers), the names come as
    raw mDNS answers from another address (tests/stranger.c --raw), as from
    another host: names a local client publishes cost avahi-daemon 0.8 time
    quadratic in their number on every browse (it checks each against its
    own entries), 25 s for 4400 of them, which is no test of ours. And the
    daemon caches at most cache-entries-max records (4096 by default) and
    drops new ones past that, hiding every new service whatever its
    clients do: that test raises it.
*/
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "avahi_ctl.h"
#include "proc.h"

#define LOG_LINES_MAX 40  //  rate-limited: a few lines per kind per 10 s

//  Waits for a line starting with prefix, counting the log lines (those of
//  colugo's own format) read on the way. Returns the count, or -1 if the
//  line did not come within timeout_ms.
static int
s_expect_counting_log (proc_t *proc, const char *prefix, int timeout_ms)
{
    long long deadline = proc_now_ms () + timeout_ms;
    int count = 0;
    long long left;
    while ((left = deadline - proc_now_ms ()) > 0) {
        const char *line = proc_expect_text (proc, "", (int) left);
        if (!line)
            break;
        if (strncmp (line, prefix, strlen (prefix)) == 0)
            return count;
        if (strstr (line, " colugo["))
            count++;
    }
    return -1;
}

//  Floods with count names (raw: as raw mDNS answers), starts a subscriber,
//  lets it chew on them for chew_ms, then starts a real publisher that must
//  be found within find_ms.
static void
s_flood (const char *count, bool raw, const char *topic, int chew_ms, int find_ms)
{
    const char *path = getenv ("STRANGER");
    cr_assert_not_null (path);
    char *avahi_argv [] = {(char *) path, (char *) count, NULL};
    char *raw_argv [] = {(char *) path, "--raw", (char *) count, NULL};
    proc_t *stranger = proc_start (raw ? raw_argv : avahi_argv);
    cr_assert_not_null (proc_expect (stranger, "READY", 90000));  //  4400 names: about 25 s
    setenv ("COLUGO_LOG", "info", 1);  //  every line it may write, rate limits aside
    proc_t *sub = proc_testnode ("sub", topic, "-n", "5", NULL);
    unsetenv ("COLUGO_LOG");
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    usleep ((useconds_t) chew_ms * 1000);  //  the subscriber is busy with the bogus names
    long long started = proc_now_ms ();
    proc_t *pub = proc_testnode ("pub", topic, "-i", "20", NULL);
    int lines = s_expect_counting_log (sub, "DONE", find_ms);
    cr_assert_geq (lines, 0, "no publisher found within %d ms of a flood of %s names", find_ms,
                   count);
    cr_log_info ("flood of %s names%s: found a publisher in %lld ms; %d log lines", count,
                 raw ? " (raw)" : "", proc_now_ms () - started, lines);
    //  The log says so, but rate-limited: not one line per bogus name.
    cr_assert_leq (lines, LOG_LINES_MAX);
    proc_destroy (&sub);
    proc_destroy (&pub);
    proc_destroy (&stranger);
}

Test (flood, unresolvable_names_do_not_stop_discovery)
{
    s_flood ("900", false, "e2e.flood", 2000, 8000);
}

//  The daemon of the namespace, with room for the flood in its cache.
static void
s_big_cache (void)
{
    const char *conf = getenv ("COLUGO_AVAHI_CONF");
    cr_assert_not_null (conf);
    FILE *in = fopen (conf, "r"), *out = fopen ("/run/colugo/flood.conf", "w");
    cr_assert (in && out);
    char line [512];
    while (fgets (line, sizeof line, in)) {
        fputs (line, out);
        if (strcmp (line, "[server]\n") == 0)
            fputs ("cache-entries-max=20000\n", out);
    }
    fclose (in);
    fclose (out);
    setenv ("COLUGO_AVAHI_CONF_DEFAULT", conf, 1);
    setenv ("COLUGO_AVAHI_CONF", "/run/colugo/flood.conf", 1);
    avahi_ctl ("restart");
}

static void
s_default_cache (void)
{
    const char *conf = getenv ("COLUGO_AVAHI_CONF_DEFAULT");
    if (conf) {
        setenv ("COLUGO_AVAHI_CONF", conf, 1);
        avahi_ctl_try ("restart");
    }
}

Test (flood, above_every_cap, .init = s_big_cache, .fini = s_default_cache)
{
    //  More names than the table holds (4096) and than resolvers run at
    //  once (64), all seen before the real publisher comes (the table is
    //  full then): it must still get its chance. The code before this test
    //  ignored every name past 4096 and never found it.
    s_flood ("4400", true, "e2e.flood.cap", 15000, 60000);
}
