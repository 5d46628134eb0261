/*  test_browser.c: the Server2 service browser (colugo/src/dnssd_browser.c)
    against a real avahi-daemon, in a namespace of scripts/colugo-netns.

    Suite "browser": a service published by an entry group in this process
    is reported (NEW with its name, CACHE_EXHAUSTED, ALL_FOR_NOW) and its
    removal too; the time from colugo__browser_new () to the first NEW is
    printed next to avahi_service_browser_new ()'s on the same daemon; a
    browser may free itself from its own callback.
    Suite "browser_daemon" (its own namespace, one test at a time: each
    kills or stops the daemon): a killed daemon is a FAILURE, a missing one
    an error from colugo__browser_new (), a stalled one a bounded wait.
*/
#include <criterion/criterion.h>
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "avahi_ctl.h"
#include "dnssd_browser.h"

#define TYPE "_colugo._tcp"
#define WAIT_MS 5000
#define ROUNDS 10

static long long
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  What a browser (ours or avahi-client's) reported.
typedef struct {
    const char *name;  //  the service we look for
    int events;        //  all of them, whatever the name
    int news, removes, exhausted, all_for_now, failures;
    long long first_new_us;  //  when NEW for name came, 0 before
    long long failure_us;
    int failure_error;
    bool free_in_callback;  //  free our browser on its first event
    colugo__browser_t *browser;
} s_seen_t;

static void
s_record (s_seen_t *seen, AvahiBrowserEvent event, const char *name)
{
    seen->events++;
    switch (event) {
        case AVAHI_BROWSER_NEW:
            if (seen->name && strcmp (name, seen->name) == 0) {
                seen->news++;
                if (!seen->first_new_us)
                    seen->first_new_us = s_now_us ();
            }
            break;
        case AVAHI_BROWSER_REMOVE:
            if (seen->name && strcmp (name, seen->name) == 0)
                seen->removes++;
            break;
        case AVAHI_BROWSER_CACHE_EXHAUSTED: seen->exhausted++; break;
        case AVAHI_BROWSER_ALL_FOR_NOW: seen->all_for_now++; break;
        case AVAHI_BROWSER_FAILURE:
            seen->failures++;
            seen->failure_us = s_now_us ();
            break;
    }
}

static void
s_on_ours (colugo__browser_t *browser, AvahiIfIndex interface, AvahiProtocol protocol,
           AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
           AvahiLookupResultFlags flags, void *arg)
{
    (void) interface;
    (void) protocol;
    (void) flags;
    s_seen_t *seen = (s_seen_t *) arg;
    cr_assert_eq (browser, seen->browser);
    cr_assert_str_eq (type, TYPE);
    if (event == AVAHI_BROWSER_NEW || event == AVAHI_BROWSER_REMOVE) {
        cr_assert_not_null (name);
        cr_assert_str_eq (domain, "local");
    }
    else
        cr_assert_null (name);
    s_record (seen, event, name);
    if (event == AVAHI_BROWSER_FAILURE)
        seen->failure_error = colugo__browser_errno (browser);
    if (seen->free_in_callback) {
        colugo__browser_free (&seen->browser);
        seen->free_in_callback = false;
    }
}

static void
s_on_avahi (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
            AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
            AvahiLookupResultFlags flags, void *arg)
{
    (void) browser;
    (void) interface;
    (void) protocol;
    (void) type;
    (void) domain;
    (void) flags;
    s_record ((s_seen_t *) arg, event, name);
}

//  Runs the poll until *counter > 0 or timeout_ms passes; returns *counter.
static int
s_run_until (AvahiSimplePoll *poll, const int *counter, int timeout_ms)
{
    long long deadline = s_now_us () + (long long) timeout_ms * 1000;
    while (*counter == 0) {
        long long left = (deadline - s_now_us ()) / 1000;
        if (left <= 0)
            break;
        cr_assert_geq (avahi_simple_poll_iterate (poll, (int) (left > 50 ? 50 : left + 1)), 0);
    }
    return *counter;
}

static void
s_run_for (AvahiSimplePoll *poll, int ms)
{
    int never = 0;
    s_run_until (poll, &never, ms);
}

static colugo__browser_t *
s_browse (AvahiSimplePoll *poll, s_seen_t *seen)
{
    int error = 0;
    seen->browser =
        colugo__browser_new (avahi_simple_poll_get (poll), AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, TYPE,
                             "local", 0, s_on_ours, seen, &error);
    cr_assert_not_null (seen->browser, "colugo__browser_new: %s", avahi_strerror (error));
    return seen->browser;
}

//  --------------------------------------------------------------------------
//  A publisher in this process

typedef struct {
    AvahiClient *client;
    AvahiEntryGroup *group;
    int running, established;
} s_publisher_t;

static void
s_on_client (AvahiClient *client, AvahiClientState state, void *arg)
{
    (void) client;
    if (state == AVAHI_CLIENT_S_RUNNING)
        ((s_publisher_t *) arg)->running++;
}

static void
s_on_group (AvahiEntryGroup *group, AvahiEntryGroupState state, void *arg)
{
    (void) group;
    if (state == AVAHI_ENTRY_GROUP_ESTABLISHED)
        ((s_publisher_t *) arg)->established++;
    cr_assert_neq (state, AVAHI_ENTRY_GROUP_FAILURE);
    cr_assert_neq (state, AVAHI_ENTRY_GROUP_COLLISION);
}

static void
s_publish (AvahiSimplePoll *poll, s_publisher_t *pub, const char *name)
{
    int error = 0;
    pub->client = avahi_client_new (avahi_simple_poll_get (poll), 0, s_on_client, pub, &error);
    cr_assert_not_null (pub->client, "avahi_client_new: %s", avahi_strerror (error));
    cr_assert (s_run_until (poll, &pub->running, WAIT_MS), "the client does not run");
    pub->group = avahi_entry_group_new (pub->client, s_on_group, pub);
    cr_assert_not_null (pub->group);
    cr_assert_eq (avahi_entry_group_add_service (pub->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, 0,
                                                 name, TYPE, NULL, NULL, 4242, "topic=t", NULL),
                  0);
    cr_assert_eq (avahi_entry_group_commit (pub->group), 0);
    cr_assert (s_run_until (poll, &pub->established, WAIT_MS), "'%s' not established", name);
}

static int
s_compare (const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;
    return (x > y) - (x < y);
}

static void
s_print_times (const char *what, long long *us, int count)
{
    qsort (us, (size_t) count, sizeof *us, s_compare);
    fprintf (stderr, "  %-28s median %6.2f ms   min %6.2f   max %6.2f   (%d runs)\n", what,
             us [count / 2] / 1000.0, us [0] / 1000.0, us [count - 1] / 1000.0, count);
}

//  --------------------------------------------------------------------------

Test (browser, finds_and_loses_a_service)
{
    char name [64];
    snprintf (name, sizeof name, "browser-find-%d", (int) getpid ());
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    s_publisher_t pub = {0};
    s_publish (poll, &pub, name);

    //  The daemon's cache has it once some browser saw it: from then on
    //  both kinds of browser find it in the cache, not on the network.
    s_seen_t warm = {.name = name};
    AvahiServiceBrowser *avahi_browser = avahi_service_browser_new (
        pub.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, TYPE, "local", 0, s_on_avahi, &warm);
    cr_assert_not_null (avahi_browser);
    cr_assert (s_run_until (poll, &warm.news, WAIT_MS), "avahi-client does not see '%s'", name);
    avahi_service_browser_free (avahi_browser);

    long long ours [ROUNDS], theirs [ROUNDS], ours_call [ROUNDS], theirs_call [ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        s_seen_t seen = {.name = name};
        long long start = s_now_us ();
        s_browse (poll, &seen);
        ours_call [round] = s_now_us () - start;
        cr_assert (s_run_until (poll, &seen.news, WAIT_MS), "round %d: no NEW for '%s'", round,
                   name);
        ours [round] = seen.first_new_us - start;
        cr_assert_eq (seen.failures, 0);
        colugo__browser_free (&seen.browser);

        s_seen_t seen2 = {.name = name};
        start = s_now_us ();
        avahi_browser = avahi_service_browser_new (pub.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                                   TYPE, "local", 0, s_on_avahi, &seen2);
        theirs_call [round] = s_now_us () - start;
        cr_assert_not_null (avahi_browser);
        cr_assert (s_run_until (poll, &seen2.news, WAIT_MS), "round %d: avahi-client: no NEW",
                   round);
        theirs [round] = seen2.first_new_us - start;
        avahi_service_browser_free (avahi_browser);
    }
    fprintf (stderr, "browse to first NEW of a cached service, same daemon:\n");
    s_print_times ("colugo__browser_new", ours, ROUNDS);
    s_print_times ("avahi_service_browser_new", theirs, ROUNDS);
    fprintf (stderr, "of which inside the call itself:\n");
    s_print_times ("colugo__browser_new", ours_call, ROUNDS);
    s_print_times ("avahi_service_browser_new", theirs_call, ROUNDS);
    cr_assert_lt (ours [ROUNDS / 2], 100 * 1000, "median %lld us", ours [ROUNDS / 2]);

    //  One browser through its whole life: NEW, CACHE_EXHAUSTED,
    //  ALL_FOR_NOW, then REMOVE once the service goes.
    s_seen_t seen = {.name = name};
    s_browse (poll, &seen);
    cr_assert (s_run_until (poll, &seen.news, WAIT_MS));
    cr_assert (s_run_until (poll, &seen.exhausted, WAIT_MS), "no CACHE_EXHAUSTED");
    cr_assert (s_run_until (poll, &seen.all_for_now, WAIT_MS), "no ALL_FOR_NOW");
    cr_assert_eq (seen.news, 1, "one NEW per interface and protocol (IPv4, lo)");
    avahi_entry_group_free (pub.group);
    long long withdrawn = s_now_us ();
    cr_assert (s_run_until (poll, &seen.removes, WAIT_MS), "no REMOVE for '%s'", name);
    fprintf (stderr, "  REMOVE %lld ms after the group was freed\n",
             (s_now_us () - withdrawn) / 1000);
    cr_assert_eq (seen.failures, 0);
    colugo__browser_free (&seen.browser);
    colugo__browser_free (&seen.browser);  //  safe on NULL
    avahi_client_free (pub.client);
    avahi_simple_poll_free (poll);
}

Test (browser, frees_itself_from_its_callback)
{
    char name [64];
    snprintf (name, sizeof name, "browser-self-%d", (int) getpid ());
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    s_publisher_t pub = {0};
    s_publish (poll, &pub, name);
    //  Several browsers, each freed on its first event (more may be queued
    //  behind it: they must not be reported).
    for (int i = 0; i < 5; i++) {
        s_seen_t seen = {.name = name, .free_in_callback = true};
        s_browse (poll, &seen);
        long long deadline = s_now_us () + WAIT_MS * 1000LL;
        while (seen.browser && s_now_us () < deadline)
            avahi_simple_poll_iterate (poll, 50);
        cr_assert_null (seen.browser, "no event within %d ms", WAIT_MS);
        s_run_for (poll, 100);
        cr_assert_eq (seen.events, 1, "reported after being freed: %d events", seen.events);
    }
    avahi_client_free (pub.client);
    avahi_simple_poll_free (poll);
}

//  What a resolver (ours or avahi-client's) reported.
typedef struct {
    int found, failures;
    long long first_found_us;
    uint16_t port;
    char txt [256];
    char address [AVAHI_ADDRESS_STR_MAX];
    int error;
    bool free_in_callback;
    colugo__resolver_t *resolver;
} s_resolved_t;

static void
s_resolved (s_resolved_t *out, AvahiResolverEvent event, const AvahiAddress *address, uint16_t port,
            AvahiStringList *txt)
{
    if (event == AVAHI_RESOLVER_FOUND) {
        if (!out->found++)
            out->first_found_us = s_now_us ();
        out->port = port;
        avahi_address_snprint (out->address, sizeof out->address, address);
        char *text = avahi_string_list_to_string (txt);
        snprintf (out->txt, sizeof out->txt, "%s", text ? text : "");
        avahi_free (text);
    }
    else
        out->failures++;
}

static void
s_on_our_resolve (colugo__resolver_t *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
                  AvahiResolverEvent event, const char *name, const char *type, const char *domain,
                  const char *host, const AvahiAddress *address, uint16_t port,
                  AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg)
{
    (void) interface, (void) protocol, (void) name, (void) type, (void) domain, (void) host,
        (void) flags;
    s_resolved_t *out = (s_resolved_t *) arg;
    cr_assert_eq (resolver, out->resolver);
    if (event == AVAHI_RESOLVER_FAILURE)
        out->error = colugo__resolver_errno (resolver);
    s_resolved (out, event, address, port, txt);
    if (out->free_in_callback)
        colugo__resolver_free (&out->resolver);
}

static void
s_on_avahi_resolve (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
                    AvahiResolverEvent event, const char *name, const char *type,
                    const char *domain, const char *host, const AvahiAddress *address,
                    uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg)
{
    (void) resolver, (void) interface, (void) protocol, (void) name, (void) type, (void) domain,
        (void) host, (void) flags;
    s_resolved ((s_resolved_t *) arg, event, address, port, txt);
}

static colugo__resolver_t *
s_resolve (colugo__browser_t *browser, const char *name, s_resolved_t *out)
{
    int error = 0;
    out->resolver =
        colugo__resolver_new (browser, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, name, TYPE, "local",
                              AVAHI_PROTO_INET, 0, s_on_our_resolve, out, &error);
    cr_assert_not_null (out->resolver, "colugo__resolver_new: %s", avahi_strerror (error));
    return out->resolver;
}

Test (browser, resolves_and_follows_a_service)
{
    char name [64];
    snprintf (name, sizeof name, "browser-resolve-%d", (int) getpid ());
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    s_publisher_t pub = {0};
    s_publish (poll, &pub, name);
    s_seen_t seen = {.name = name};
    s_browse (poll, &seen);
    cr_assert (s_run_until (poll, &seen.news, WAIT_MS), "no NEW for '%s'", name);

    //  Ours and avahi-client's, in turn, on the same daemon and cache; ours
    //  freed from its own callback every other round.
    long long ours [ROUNDS], theirs [ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        s_resolved_t out = {.free_in_callback = round % 2};
        long long start = s_now_us ();
        s_resolve (seen.browser, name, &out);
        cr_assert (s_run_until (poll, &out.found, WAIT_MS), "round %d: not resolved", round);
        ours [round] = out.first_found_us - start;
        cr_assert_eq (out.port, 4242);
        cr_assert_str_eq (out.txt, "\"topic=t\"");
        cr_assert_str_eq (out.address, "127.0.0.1");
        colugo__resolver_free (&out.resolver);

        s_resolved_t out2 = {0};
        start = s_now_us ();
        AvahiServiceResolver *avahi_resolver =
            avahi_service_resolver_new (pub.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, name, TYPE,
                                        "local", AVAHI_PROTO_INET, 0, s_on_avahi_resolve, &out2);
        cr_assert_not_null (avahi_resolver);
        cr_assert (s_run_until (poll, &out2.found, WAIT_MS), "round %d: avahi-client: not resolved",
                   round);
        theirs [round] = out2.first_found_us - start;
        cr_assert_str_eq (out2.txt, out.txt);
        avahi_service_resolver_free (avahi_resolver);
    }
    fprintf (stderr, "resolve of a cached service to FOUND, same daemon:\n");
    s_print_times ("colugo__resolver_new", ours, ROUNDS);
    s_print_times ("avahi_service_resolver_new", theirs, ROUNDS);
    cr_assert_lt (ours [ROUNDS / 2], 100 * 1000, "median %lld us", ours [ROUNDS / 2]);

    //  A resolver that answered follows the records: a new TXT is FOUND again.
    s_resolved_t follow = {0};
    s_resolve (seen.browser, name, &follow);
    cr_assert (s_run_until (poll, &follow.found, WAIT_MS));
    int before = follow.found;
    cr_assert_eq (avahi_entry_group_update_service_txt (pub.group, AVAHI_IF_UNSPEC,
                                                        AVAHI_PROTO_INET, 0, name, TYPE, NULL,
                                                        "topic=u", NULL),
                  0);
    long long deadline = s_now_us () + WAIT_MS * 1000LL;
    while (follow.found == before && s_now_us () < deadline)
        avahi_simple_poll_iterate (poll, 50);
    cr_assert_gt (follow.found, before, "the changed TXT was not reported");
    cr_assert_str_eq (follow.txt, "\"topic=u\"");

    //  The browser goes first: its resolver stays inert until freed.
    colugo__browser_free (&seen.browser);
    int found = follow.found;
    s_run_for (poll, 100);
    cr_assert_eq (follow.found, found);
    cr_assert_eq (follow.failures, 0);
    colugo__resolver_free (&follow.resolver);
    colugo__resolver_free (&follow.resolver);  //  safe on NULL
    avahi_client_free (pub.client);
    avahi_simple_poll_free (poll);
}

Test (browser, invalid_type_is_refused)
{
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    s_seen_t seen = {0};
    int error = 0;
    colugo__browser_t *browser =
        colugo__browser_new (avahi_simple_poll_get (poll), AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                             "not a type", NULL, 0, s_on_ours, &seen, &error);
    cr_assert_null (browser);
    cr_log_info ("an invalid type: %s", avahi_strerror (error));
    cr_assert_eq (error, AVAHI_ERR_INVALID_SERVICE_TYPE, "%d %s", error, avahi_strerror (error));
    avahi_simple_poll_free (poll);
}

//  --------------------------------------------------------------------------
//  The daemon going away (suite browser_daemon, a namespace of its own)

static void
s_daemon_back (void)
{
    avahi_ctl_try ("sigcont");
    avahi_ctl_try ("start");
}

static void
s_browses_again (AvahiSimplePoll *poll)
{
    s_seen_t again = {0};
    s_browse (poll, &again);
    cr_assert (s_run_until (poll, &again.exhausted, WAIT_MS), "no CACHE_EXHAUSTED after restart");
    cr_assert_eq (again.failures, 0);
    colugo__browser_free (&again.browser);
}

static void
s_gone_is_failure (const char *how)
{
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    s_seen_t seen = {0};
    s_browse (poll, &seen);
    cr_assert (s_run_until (poll, &seen.exhausted, WAIT_MS), "no CACHE_EXHAUSTED");
    //  A resolver waiting for a name nobody has (the daemon gives up after
    //  5 s): it fails with the browser.
    s_resolved_t waiting = {0};
    s_resolve (seen.browser, "nobody-has-this-name", &waiting);
    s_run_for (poll, 50);
    long long before = s_now_us ();
    avahi_ctl (how);
    long long after = s_now_us ();
    cr_assert (s_run_until (poll, &seen.failures, WAIT_MS), "no FAILURE after '%s'", how);
    fprintf (stderr,
             "daemon %s: FAILURE (%s) %.1f ms after colugo-avahi-ctl returned (%.1f ms "
             "after it started)\n",
             how, avahi_strerror (seen.failure_error), (seen.failure_us - after) / 1000.0,
             (seen.failure_us - before) / 1000.0);
    cr_assert_eq (seen.failure_error, AVAHI_ERR_DISCONNECTED);
    s_run_for (poll, 200);
    cr_assert_eq (seen.failures, 1, "FAILURE is reported once");
    cr_assert_eq (waiting.failures, 1, "the resolver did not fail with its browser");
    cr_assert_eq (waiting.error, AVAHI_ERR_DISCONNECTED, "%s", avahi_strerror (waiting.error));
    colugo__resolver_free (&waiting.resolver);
    colugo__browser_free (&seen.browser);

    //  No daemon: an error at once, no callback.
    s_seen_t none = {0};
    int error = 0;
    long long start = s_now_us ();
    colugo__browser_t *browser =
        colugo__browser_new (avahi_simple_poll_get (poll), AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, TYPE,
                             NULL, 0, s_on_ours, &none, &error);
    cr_assert_null (browser);
    cr_assert_eq (error, AVAHI_ERR_NO_DAEMON, "%s", avahi_strerror (error));
    cr_assert_lt (s_now_us () - start, 500 * 1000);
    s_run_for (poll, 100);
    cr_assert_eq (none.failures + none.exhausted, 0);

    avahi_ctl ("start");
    s_browses_again (poll);
    avahi_simple_poll_free (poll);
}

Test (browser_daemon, killed_daemon_is_a_failure, .fini = s_daemon_back)
{
    s_gone_is_failure ("kill");
}

Test (browser_daemon, stopped_daemon_is_a_failure, .fini = s_daemon_back)
{
    s_gone_is_failure ("stop");
}

Test (browser_daemon, stalled_daemon_is_a_bounded_wait, .fini = s_daemon_back)
{
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    avahi_ctl ("sigstop");
    s_seen_t seen = {0};
    int error = 0;
    long long start = s_now_us ();
    colugo__browser_t *browser =
        colugo__browser_new (avahi_simple_poll_get (poll), AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, TYPE,
                             NULL, 0, s_on_ours, &seen, &error);
    long long waited_ms = (s_now_us () - start) / 1000;
    avahi_ctl ("sigcont");
    fprintf (stderr, "stalled daemon: colugo__browser_new gave up after %lld ms: %s\n", waited_ms,
             avahi_strerror (error));
    cr_assert_null (browser);
    cr_assert_eq (error, AVAHI_ERR_TIMEOUT, "%s", avahi_strerror (error));
    cr_assert_geq (waited_ms, COLUGO__BROWSER_CALL_MS - 50);
    cr_assert_lt (waited_ms, COLUGO__BROWSER_CALL_MS + 1000);
    s_run_for (poll, 200);
    cr_assert_eq (seen.failures + seen.exhausted, 0, "a failed new calls back");
    s_browses_again (poll);
    avahi_simple_poll_free (poll);
}
