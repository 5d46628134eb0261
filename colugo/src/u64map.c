/*  u64map.c: open addressing with linear probing and backward-shift
    deletion (no tombstones), so lookups stay short under constant churn.
*/
#include <stdlib.h>
#include "u64map.h"

static size_t
s_slot (uint64_t key, size_t capacity)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t) key & (capacity - 1);
}

static int
s_grow (colugo__u64map_t *self)
{
    size_t capacity = self->capacity ? self->capacity * 2 : 16;
    uint64_t *keys = calloc (capacity, sizeof *keys);
    void **values = calloc (capacity, sizeof *values);
    if (!keys || !values) {
        free (keys);
        free (values);
        return -1;
    }
    for (size_t i = 0; i < self->capacity; i++) {
        if (self->keys [i]) {
            size_t slot = s_slot (self->keys [i], capacity);
            while (keys [slot])
                slot = (slot + 1) & (capacity - 1);
            keys [slot] = self->keys [i];
            values [slot] = self->values [i];
        }
    }
    free (self->keys);
    free (self->values);
    self->keys = keys;
    self->values = values;
    self->capacity = capacity;
    return 0;
}

int
colugo__u64map_put (colugo__u64map_t *self, uint64_t key, void *value)
{
    if (key == 0)
        return -1;  //  0 marks an empty slot
    if ((self->size + 1) * 4 > self->capacity * 3 && s_grow (self))
        return -1;
    size_t slot = s_slot (key, self->capacity);
    while (self->keys [slot] && self->keys [slot] != key)
        slot = (slot + 1) & (self->capacity - 1);
    if (!self->keys [slot])
        self->size++;
    self->keys [slot] = key;
    self->values [slot] = value;
    return 0;
}

static size_t
s_find (const colugo__u64map_t *self, uint64_t key)
{
    if (!self->capacity || !key)
        return SIZE_MAX;
    size_t slot = s_slot (key, self->capacity);
    while (self->keys [slot]) {
        if (self->keys [slot] == key)
            return slot;
        slot = (slot + 1) & (self->capacity - 1);
    }
    return SIZE_MAX;
}

void *
colugo__u64map_get (const colugo__u64map_t *self, uint64_t key)
{
    size_t slot = s_find (self, key);
    return slot == SIZE_MAX ? NULL : self->values [slot];
}

void *
colugo__u64map_take (colugo__u64map_t *self, uint64_t key)
{
    size_t slot = s_find (self, key);
    if (slot == SIZE_MAX)
        return NULL;
    void *value = self->values [slot];
    size_t mask = self->capacity - 1;
    //  Shift back every following entry that sits after its home slot, so
    //  no probe chain is broken by the hole.
    size_t hole = slot;
    size_t next = (hole + 1) & mask;
    while (self->keys [next]) {
        size_t home = s_slot (self->keys [next], self->capacity);
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            self->keys [hole] = self->keys [next];
            self->values [hole] = self->values [next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    self->keys [hole] = 0;
    self->values [hole] = NULL;
    self->size--;
    return value;
}

void *
colugo__u64map_next (const colugo__u64map_t *self, size_t *cursor)
{
    while (*cursor < self->capacity) {
        size_t slot = (*cursor)++;
        if (self->keys [slot])
            return self->values [slot];
    }
    return NULL;
}

void
colugo__u64map_free (colugo__u64map_t *self)
{
    free (self->keys);
    free (self->values);
    *self = (colugo__u64map_t){0};
}
