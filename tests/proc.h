/*  proc.h: start node programs as real processes and read what they print,
    with a deadline on every wait. For the end-to-end tests.
*/
#ifndef COLUGO_TEST_PROC_H_INCLUDED
#define COLUGO_TEST_PROC_H_INCLUDED

#include <stdbool.h>
#include <sys/types.h>

typedef struct proc proc_t;

//  Starts argv [0] (a path) with stdout and stderr on one pipe.
proc_t *proc_start (char *const argv []);
//  Starts TESTNODE (the testnode program) with the arguments, NULL-ended.
proc_t *proc_testnode (const char *first, ...);
//  Waits up to timeout_ms for a line that starts with prefix; returns it
//  (valid until the next call) or NULL. Lines before it are consumed.
const char *proc_expect (proc_t *self, const char *prefix, int timeout_ms);
//  The same for a line that contains text anywhere.
const char *proc_expect_text (proc_t *self, const char *text, int timeout_ms);
//  Counts lines starting with prefix seen until timeout_ms passes.
int proc_count (proc_t *self, const char *prefix, int timeout_ms);
//  Sends a signal.
void proc_kill (proc_t *self, int signal);
//  Waits up to timeout_ms for the exit; returns the exit code, 128+signal,
//  or -1 if it did not exit (it is then SIGKILLed).
int proc_wait (proc_t *self, int timeout_ms);
//  Ends the process if it still runs: SIGTERM (and SIGCONT), then SIGKILL
//  if it has not exited within 5 s; reads the rest of its output (copying
//  sanitizer reports to stderr, as every read does). Returns what
//  proc_wait () returns. Lines left unread are consumed.
int proc_stop (proc_t *self);
//  proc_stop (), then frees. Safe on NULL. For a crash, proc_kill (SIGKILL)
//  first.
void proc_destroy (proc_t **self_p);
pid_t proc_pid (proc_t *self);
//  Milliseconds of the monotonic clock.
long long proc_now_ms (void);
//  Wall-clock milliseconds (comparable with what testnode prints).
long long proc_wall_ms (void);

#endif
