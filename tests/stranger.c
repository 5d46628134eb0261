/*  stranger: a badly behaved host. Announces COUNT instances of
    _colugo._tcp that have no SRV or TXT records behind them, so every
    resolve of them fails after Avahi's 5 s timeout, then stays until
    killed (or for at most 120 s).

        stranger COUNT        (prints "READY <count>" once committed)

    Avahi allows a client 32 entry groups of 32 records: several clients.
*/
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_GROUP 30
#define GROUPS_PER_CLIENT 30

//  "bogus-N._colugo._tcp.local" in DNS wire format.
static size_t
s_wire_name (int index, unsigned char *out)
{
    char label [32];
    int length = snprintf (label, sizeof label, "bogus-%d", index);
    size_t at = 0;
    out [at++] = (unsigned char) length;
    memcpy (out + at, label, (size_t) length);
    at += (size_t) length;
    const char *rest [] = {"_colugo", "_tcp", "local"};
    for (int i = 0; i < 3; i++) {
        out [at++] = (unsigned char) strlen (rest [i]);
        memcpy (out + at, rest [i], strlen (rest [i]));
        at += strlen (rest [i]);
    }
    out [at++] = 0;
    return at;
}

int
main (int argc, char *argv [])
{
    int count = argc > 1 ? atoi (argv [1]) : 100;
    AvahiSimplePoll *poll = avahi_simple_poll_new ();
    int published = 0;
    while (published < count) {
        int error;
        AvahiClient *client =
            avahi_client_new (avahi_simple_poll_get (poll), 0, NULL, NULL, &error);
        if (!client) {
            fprintf (stderr, "stranger: %s\n", avahi_strerror (error));
            return 1;
        }
        for (int g = 0; g < GROUPS_PER_CLIENT && published < count; g++) {
            AvahiEntryGroup *group = avahi_entry_group_new (client, NULL, NULL);
            for (int r = 0; r < PER_GROUP && published < count; r++, published++) {
                unsigned char rdata [64];
                size_t size = s_wire_name (published, rdata);
                avahi_entry_group_add_record (group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                              "_colugo._tcp.local", AVAHI_DNS_CLASS_IN,
                                              AVAHI_DNS_TYPE_PTR, 4500, rdata, size);
            }
            if (avahi_entry_group_commit (group) < 0) {
                fprintf (stderr, "stranger: commit: %s\n",
                         avahi_strerror (avahi_client_errno (client)));
                return 1;
            }
        }
    }
    printf ("READY %d\n", published);
    fflush (stdout);
    time_t end = time (NULL) + 120;
    while (time (NULL) < end && avahi_simple_poll_iterate (poll, 1000) >= 0)
        ;
    return 0;
}
