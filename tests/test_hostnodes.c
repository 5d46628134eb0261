/*  test_hostnodes.c: the marks of the nodes on this host (hostnodes.h):
    what a line of /proc/net/unix parses to, that a mark is listed while
    its socket lives and not after (however its process ends), and the
    bound on a look. Other processes on this machine may hold marks too:
    every assertion is about this test's own names, and the tests run one
    at a time (a flood of one would spill over the bound of another's look).
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dnssd_records.h"
#include "hostnodes.h"

#define S_LINE(name) "0000000000000000: 00000002 00000000 00010000 0001 01 123456 @" name "\n"

Test (hostnodes, a_mark_parses_to_its_node)
{
    char uuid [COLUGO__UUID_MAX + 1];
    uint64_t id = 0;
    uint16_t port = 0;
    cr_assert_eq (colugo__hostnodes_parse (
                      S_LINE ("colugo-node/1/1f0c3a52-5a43-4c8e-9d07-2f5a1b9e6c11/42/40123"), uuid,
                      &id, &port),
                  1);
    cr_assert_str_eq (uuid, "1f0c3a52-5a43-4c8e-9d07-2f5a1b9e6c11");
    cr_assert_eq (id, 42);
    cr_assert_eq (port, 40123);
    //  Not marks: other sockets, unnamed ones, a path in the filesystem.
    cr_assert_eq (
        colugo__hostnodes_parse (S_LINE ("/run/dbus/system_bus_socket"), uuid, &id, &port), 0);
    cr_assert_eq (colugo__hostnodes_parse ("0000000000000000: 00000002 00000000 00000000 0002 "
                                           "01 123\n",
                                           uuid, &id, &port),
                  0);
    cr_assert_eq (colugo__hostnodes_parse (S_LINE ("colugo-node/2/u/1/1"), uuid, &id, &port), 0);
}

Test (hostnodes, a_malformed_mark_is_told_apart)
{
    const char *bad [] = {
        S_LINE ("colugo-node/1/"),                      //  nothing
        S_LINE ("colugo-node/1/u"),                     //  no id, no port
        S_LINE ("colugo-node/1//1/1"),                  //  no uuid
        S_LINE ("colugo-node/1/u/0/1"),                 //  id 0
        S_LINE ("colugo-node/1/u/01/1"),                //  a leading zero
        S_LINE ("colugo-node/1/u/1/0"),                 //  port 0
        S_LINE ("colugo-node/1/u/1/65536"),             //  over a port
        S_LINE ("colugo-node/1/u/9007199254740993/1"),  //  over 2^53
        S_LINE ("colugo-node/1/u/99999999999999999999999/1"),
        S_LINE ("colugo-node/1/u/1/1/more"),  //  trailing text
        S_LINE ("colugo-node/1/u/-1/1"),
        S_LINE ("colugo-node/1/u u/1/1"),  //  a space in the uuid
        S_LINE ("colugo-node/1/"
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/1/1"),  //  65
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char uuid [COLUGO__UUID_MAX + 1];
        uint64_t id = 0;
        uint16_t port = 0;
        cr_assert_eq (colugo__hostnodes_parse (bad [i], uuid, &id, &port), -1, "%s", bad [i]);
    }
}

typedef struct {
    char uuid [COLUGO__UUID_MAX + 1];
    uint64_t id;
    uint16_t port;
    size_t seen;  //  marks of the prefix s_prefix
} s_found_t;

static char s_prefix [32];

static void
s_on_mark (void *arg, const char *uuid, uint64_t id, uint16_t port)
{
    s_found_t *found = (s_found_t *) arg;
    if (strncmp (uuid, s_prefix, strlen (s_prefix)))
        return;
    found->seen++;
    snprintf (found->uuid, sizeof found->uuid, "%s", uuid);
    found->id = id;
    found->port = port;
}

//  The marks of this test's prefix in one look. Over the bound, which one
//  a look takes depends on the kernel's order: with that many marks of
//  other processes on this machine, a count means nothing.
static size_t
s_look (const char *own, s_found_t *found, colugo__hostnodes_look_t *look)
{
    *found = (s_found_t){0};
    cr_assert_eq (colugo__hostnodes_look (own, s_on_mark, found, look), 0);
    if (look->over)
        cr_skip_test ("more than %d marks of other processes on this machine",
                      COLUGO__HOSTNODES_MAX);
    return found->seen;
}

Test (hostnodes, a_mark_is_listed_while_its_socket_lives)
{
    snprintf (s_prefix, sizeof s_prefix, "test-%d-", (int) getpid ());
    char uuid [64];
    snprintf (uuid, sizeof uuid, "%sa", s_prefix);
    s_found_t found;
    colugo__hostnodes_look_t look;
    cr_assert_eq (s_look ("", &found, &look), 0);
    int mark = colugo__hostnodes_mark (uuid, 7, 4321);
    cr_assert_geq (mark, 0);
    cr_assert_eq (s_look ("", &found, &look), 1);
    cr_assert_str_eq (found.uuid, uuid);
    cr_assert_eq (found.id, 7);
    cr_assert_eq (found.port, 4321);
    //  A node does not find itself.
    cr_assert_eq (s_look (uuid, &found, &look), 0);
    //  Nothing can connect to a mark.
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int length = snprintf (address.sun_path + 1, sizeof address.sun_path - 1,
                           "colugo-node/1/%s/7/4321", uuid);
    int peer = socket (AF_UNIX, SOCK_STREAM, 0);
    cr_assert_neq (connect (peer, (struct sockaddr *) &address,
                            (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + length)),
                   0);
    close (peer);
    //  The name is this node's: a second mark of it fails.
    cr_assert_lt (colugo__hostnodes_mark (uuid, 7, 4321), 0);
    close (mark);
    cr_assert_eq (s_look ("", &found, &look), 0);
}

Test (hostnodes, a_mark_goes_with_its_process)
{
    snprintf (s_prefix, sizeof s_prefix, "test-%d-", (int) getpid ());
    char uuid [64];
    snprintf (uuid, sizeof uuid, "%skilled", s_prefix);
    int ready [2];
    cr_assert_eq (pipe (ready), 0);
    pid_t child = fork ();
    if (child == 0) {
        int mark = colugo__hostnodes_mark (uuid, 1, 1000);
        char byte = mark >= 0 ? 'y' : 'n';
        if (write (ready [1], &byte, 1) != 1)
            _exit (1);
        pause ();
        _exit (0);
    }
    char byte = 0;
    cr_assert_eq (read (ready [0], &byte, 1), 1);
    cr_assert_eq (byte, 'y');
    s_found_t found;
    colugo__hostnodes_look_t look;
    cr_assert_eq (s_look ("", &found, &look), 1);
    //  SIGKILL: no clean-up runs, and still no mark is left behind.
    kill (child, SIGKILL);
    cr_assert_eq (waitpid (child, NULL, 0), child);
    cr_assert_eq (s_look ("", &found, &look), 0);
    close (ready [0]);
    close (ready [1]);
}

Test (hostnodes, a_look_takes_a_bounded_number_of_marks)
{
    //  A local flood of names: a look takes COLUGO__HOSTNODES_MAX, counts
    //  the rest and the malformed ones, and calls for no more.
    snprintf (s_prefix, sizeof s_prefix, "test-%d-", (int) getpid ());
    enum { S_MARKS = COLUGO__HOSTNODES_MAX + 44 };
    int marks [S_MARKS];
    for (int i = 0; i < S_MARKS; i++) {
        char uuid [64];
        snprintf (uuid, sizeof uuid, "%s%d", s_prefix, i);
        marks [i] = colugo__hostnodes_mark (uuid, (uint64_t) i + 1, 2000);
        cr_assert_geq (marks [i], 0);
    }
    int forged = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int length = snprintf (address.sun_path + 1, sizeof address.sun_path - 1,
                           "colugo-node/1/%sx/0/1", s_prefix);
    cr_assert_eq (bind (forged, (struct sockaddr *) &address,
                        (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + length)),
                  0);
    s_found_t found = {0};
    colugo__hostnodes_look_t look;
    cr_assert_eq (colugo__hostnodes_look ("", s_on_mark, &found, &look), 0);
    cr_assert_eq (look.found, COLUGO__HOSTNODES_MAX);
    cr_assert_geq (look.over, 44);
    cr_assert_geq (look.malformed, 1);
    cr_assert_leq (found.seen, COLUGO__HOSTNODES_MAX);
    close (forged);
    for (int i = 0; i < S_MARKS; i++)
        close (marks [i]);
}
