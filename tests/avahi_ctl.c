/*  avahi_ctl.c: colugo-avahi-ctl from a criterion test (see avahi_ctl.h).
*/
#include <criterion/criterion.h>
#include <stdlib.h>
#include "avahi_ctl.h"
#include "proc.h"

int
avahi_ctl_try (const char *command)
{
    const char *ctl = getenv ("COLUGO_AVAHI_CTL");
    char *argv [] = {(char *) ctl, (char *) command, NULL};
    proc_t *proc = ctl ? proc_start (argv) : NULL;
    int rc = proc ? proc_wait (proc, 20000) : -1;
    proc_destroy (&proc);
    return rc;
}

void
avahi_ctl (const char *command)
{
    cr_assert_not_null (getenv ("COLUGO_AVAHI_CTL"), "not inside scripts/colugo-netns");
    cr_assert_eq (avahi_ctl_try (command), 0, "colugo-avahi-ctl %s failed", command);
}
