/*  json_counter.h: an allocator for jansson that counts the blocks it
    holds, each as glibc makes it on 64-bit (at least 32 bytes, 16-byte
    aligned, an 8-byte header; a block glibc reuses may be 16 bytes larger,
    which is the heap's state, not jansson's), as the JSON layer's estimate
    counts them. For test_json and fuzz_json, which install it in their own
    process (json_set_alloc_funcs () is process-wide).
*/
#ifndef COLUGO_TEST_JSON_COUNTER_H_INCLUDED
#define COLUGO_TEST_JSON_COUNTER_H_INCLUDED

#include <stddef.h>

//  Makes jansson allocate through the counter, from now on.
void json_counter_install (void);

//  Starts a measure: what jansson takes from here on at its peak.
void json_counter_start (void);

//  Returns the peak since json_counter_start (), above what was held then.
size_t json_counter_peak (void);

//  Frees a block jansson allocated for the caller (json_dumps ()'s text).
void json_counter_free (void *data);

#endif
