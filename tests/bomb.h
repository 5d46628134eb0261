/*  bomb.h: what a payload built to decode large costs a typed layer,
    decoded directly or sent to a typed subscriber by an untyped publisher
    of the same node: the process's peak resident memory and the time until
    it was refused. For the tests of the typed layers' decode budget
    (colugo_node_set_max_decoded_size ()).
*/
#ifndef COLUGO_TEST_BOMB_H_INCLUDED
#define COLUGO_TEST_BOMB_H_INCLUDED

#include <colugo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  How far the process's peak resident memory may go while a bomb is
//  refused: generous (a 64 MiB payload is held several times over by the
//  sender, libzmq and the receiver; measured 75-372 MiB, plain and with the
//  sanitizers), yet well under what the bombs cost decoded (1.35 GiB and
//  2.29 GiB before the budget).
#define BOMB_PEAK_BOUND_MIB 768

//  Decodes a payload as a typed socket does and frees what decoded; returns
//  0, or a negative error with the reason in why.
typedef int (bomb_decode_fn) (const void *data, size_t size, char *why, size_t why_size);

//  Decodes bomb (freed after), logs the time and the process's peak
//  resident memory, and asserts that it was refused with a reason that
//  contains expect, under BOMB_PEAK_BOUND_MIB.
void bomb_assert_refused (const char *what, bomb_decode_fn *decode, void *bomb, size_t size,
                          const char *expect);

//  Sends probe (a small payload the subscriber decodes) from publisher
//  (untyped, same topic) until the subscriber has received one, then bomb
//  (freed once sent), and runs the node until the subscriber drops it or its
//  handler sets *delivered (at most 20 s). Logs the time and the peak
//  resident memory from the send on, and asserts that the subscriber dropped
//  the bomb, counted once, under BOMB_PEAK_BOUND_MIB.
void bomb_assert_dropped (const char *what, colugo_node_t *node, colugo_publisher_t *publisher,
                          colugo_subscriber_t *subscriber, const void *probe, size_t probe_size,
                          void *bomb, size_t bomb_size, bool *delivered);

//  Resets the process's peak resident memory (Linux: /proc/self/clear_refs).
void bomb_peak_reset (void);

//  Returns the process's peak resident memory in MiB (VmHWM), 0 if unknown.
size_t bomb_peak_mib (void);

#endif
