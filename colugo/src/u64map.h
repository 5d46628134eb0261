/*  u64map.h: a small hash map from non-zero 64-bit ids to pointers. Timers,
    requests in flight and unanswered requests are all looked up by id.
*/
#ifndef COLUGO__U64MAP_H_INCLUDED
#define COLUGO__U64MAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;  //  0 marks an empty slot
    void **values;
    size_t capacity;  //  a power of two, or 0 before the first insert
    size_t size;
} colugo__u64map_t;

//  Inserts or replaces; returns 0, or -1 when out of memory or key is 0.
int colugo__u64map_put (colugo__u64map_t *self, uint64_t key, void *value);
void *colugo__u64map_get (const colugo__u64map_t *self, uint64_t key);
//  Removes and returns the value, or NULL if the key is absent.
void *colugo__u64map_take (colugo__u64map_t *self, uint64_t key);
//  Returns the value at slot *cursor or later (advancing *cursor past it),
//  or NULL at the end: for (size_t c = 0; (v = ..._next (m, &c)); )
void *colugo__u64map_next (const colugo__u64map_t *self, size_t *cursor);
void colugo__u64map_free (colugo__u64map_t *self);

#endif
