/*  test_discovery.c: DNS-SD instance names (the rest of discovery runs
    against a real avahi-daemon in the end-to-end tests).
*/
#include <criterion/criterion.h>
#include <string.h>
#include "dnssd_records.h"

static const char *UUID = "0f1e2d3c-4b5a-4697-8877-665544332211";

Test (discovery, short_topics_keep_the_original_name)
{
    char name [64];
    colugo__discovery_instance_name ("pub.topic", UUID, name, sizeof name);
    cr_assert_str_eq (name, "_pub.topic._0f1e2d3c-4b5a-4697-8877-665544332211");
}

Test (discovery, long_topics_are_cut_to_a_dns_label)
{
    char name [64];
    char topic [220];
    memset (topic, 'a', sizeof topic - 1);
    topic [sizeof topic - 1] = 0;
    colugo__discovery_instance_name (topic, UUID, name, sizeof name);
    cr_assert_leq (strlen (name), 63);
    cr_assert (strstr (name, "~._0f1e2d3c"));
    //  Never cut inside a UTF-8 character: U+00E9 is two bytes.
    for (size_t i = 0; i + 1 < sizeof topic; i += 2)
        memcpy (topic + i, "\xc3\xa9", 2);
    topic [sizeof topic - 1] = 0;
    colugo__discovery_instance_name (topic, UUID, name, sizeof name);
    cr_assert_leq (strlen (name), 63);
    char *tilde = strstr (name, "~._");
    cr_assert_not_null (tilde);
    cr_assert_eq ((tilde - name - 1) % 2, 0, "cut inside a character: %s", name);
}
