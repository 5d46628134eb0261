/*  avahi_ctl.h: drive the private avahi-daemon of a test namespace
    (scripts/colugo-avahi-ctl) from a criterion test.
*/
#ifndef COLUGO_TEST_AVAHI_CTL_H_INCLUDED
#define COLUGO_TEST_AVAHI_CTL_H_INCLUDED

//  Runs colugo-avahi-ctl COMMAND (start, stop, restart, kill, sigstop,
//  sigcont, status); fails the test unless it succeeds within 20 s.
void avahi_ctl (const char *command);
//  The same without failing the test: for .fini functions.
int avahi_ctl_try (const char *command);

#endif
