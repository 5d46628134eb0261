/*  dnssd_pipe.c: encoding and decoding the messages between a node's loop
    and its DNS-SD thread (see dnssd_pipe.h for the format).
*/
#include <string.h>
#include "dnssd_pipe.h"

void
colugo__frame_init (colugo__frame_t *self, colugo__dnssd_kind_t kind)
{
    self->data [0] = (uint8_t) kind;
    self->size = 1;
    self->overflow = false;
}

static void
s_put (colugo__frame_t *self, const void *data, size_t size)
{
    if (self->overflow || size > sizeof self->data - self->size) {
        self->overflow = true;
        return;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
}

void
colugo__frame_put_number (colugo__frame_t *self, uint64_t value)
{
    s_put (self, &value, sizeof value);
}

void
colugo__frame_put_string (colugo__frame_t *self, const char *value)
{
    s_put (self, value ? value : "", strlen (value ? value : "") + 1);
}

int
colugo__frame_read (colugo__frame_reader_t *self, const void *data, size_t size)
{
    self->at = (const uint8_t *) data;
    self->end = self->at + size;
    self->bad = size == 0;
    return size ? *self->at++ : 0;
}

uint64_t
colugo__frame_get_number (colugo__frame_reader_t *self)
{
    uint64_t value = 0;
    if (self->bad || (size_t) (self->end - self->at) < sizeof value) {
        self->bad = true;
        return 0;
    }
    memcpy (&value, self->at, sizeof value);
    self->at += sizeof value;
    return value;
}

const char *
colugo__frame_get_string (colugo__frame_reader_t *self)
{
    const uint8_t *nul = self->bad ? NULL : memchr (self->at, 0, (size_t) (self->end - self->at));
    if (!nul) {
        self->bad = true;
        return "";
    }
    const char *value = (const char *) self->at;
    self->at = nul + 1;
    return value;
}
