/*  json_counter.c: see json_counter.h. Each block's request is kept in the
    16 bytes in front of it. */
#include "json_counter.h"
#include <jansson.h>
#include <stdlib.h>

static size_t s_live, s_peak, s_start;

static size_t
s_block (size_t size)
{
    size_t block = (size + 8 + 15) / 16 * 16;
    return block < 32 ? 32 : block;
}

static void *
s_malloc (size_t size)
{
    size_t *block = (size_t *) malloc (16 + size);
    if (!block)
        return NULL;
    *block = size;
    s_live += s_block (size);
    if (s_live > s_peak)
        s_peak = s_live;
    return (char *) block + 16;
}

void
json_counter_free (void *data)
{
    if (!data)
        return;
    size_t *block = (size_t *) ((char *) data - 16);
    s_live -= s_block (*block);
    free (block);
}

void
json_counter_install (void)
{
    json_set_alloc_funcs (s_malloc, json_counter_free);
}

void
json_counter_start (void)
{
    s_start = s_peak = s_live;
}

size_t
json_counter_peak (void)
{
    return s_peak - s_start;
}
