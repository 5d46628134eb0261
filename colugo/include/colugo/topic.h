/*  colugo/topic.h: topic names and message type names.

    A topic is 1 to COLUGO_TOPIC_MAX bytes of printable UTF-8: any character
    but control characters (U+0000-U+001F, U+007F-U+009F), '_' and '.'
    included. The topic travels in the DNS-SD TXT record, so its length is
    not limited by the 63-byte DNS label of the instance name.
*/
#ifndef COLUGO_TOPIC_H_INCLUDED
#define COLUGO_TOPIC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "colugo/export.h"

COLUGO_BEGIN_DECLS

#define COLUGO_TOPIC_MAX 240

//  Returns 0 if topic is a valid topic name, else COLUGO_ETOPIC.
COLUGO_EXPORT int colugo_topic_check (const char *topic);

//  Returns true if size bytes are well-formed UTF-8 (no overlong forms, no
//  surrogates, nothing past U+10FFFF); NUL and control characters allowed.
COLUGO_EXPORT bool colugo_utf8_valid (const void *data, size_t size);

#define COLUGO_TYPE_MAX 128

//  Returns 0 if type is a valid message type name (1 to COLUGO_TYPE_MAX
//  printable ASCII characters, no spaces: a protobuf full name such as
//  "colugo.examples.Telemetry", or "json"), else COLUGO_EINVAL.
COLUGO_EXPORT int colugo_type_check (const char *type);

COLUGO_END_DECLS

#endif
