/*  topic.c: topic names are 1-240 bytes of printable UTF-8. Checked before
    anything is bound or advertised, and on every name a stranger advertises.
*/
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "colugo/error.h"
#include "colugo/topic.h"
#include "logging.h"

//  Returns the length of the UTF-8 sequence at s if it is a well-formed
//  character (no surrogates, no overlong forms) and, if printable is set,
//  not a control character; else 0.
static size_t
s_utf8_char (const unsigned char *s, size_t left, bool printable)
{
    uint32_t c;
    size_t n;
    if (s [0] < 0x80) {
        return !printable || (s [0] >= 0x20 && s [0] != 0x7F) ? 1 : 0;
    }
    else if ((s [0] & 0xE0) == 0xC0) {
        c = s [0] & 0x1F;
        n = 2;
    }
    else if ((s [0] & 0xF0) == 0xE0) {
        c = s [0] & 0x0F;
        n = 3;
    }
    else if ((s [0] & 0xF8) == 0xF0) {
        c = s [0] & 0x07;
        n = 4;
    }
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s [i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s [i] & 0x3F);
    }
    static const uint32_t min_for_length [] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_length [n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    if (printable && c >= 0x80 && c <= 0x9F)
        return 0;  //  C1 control characters
    return n;
}

int
colugo_topic_check (const char *topic)
{
    if (!topic)
        return COLUGO_ETOPIC;
    size_t length = strnlen (topic, COLUGO_TOPIC_MAX + 1);
    if (length == 0 || length > COLUGO_TOPIC_MAX)
        return COLUGO_ETOPIC;
    const unsigned char *s = (const unsigned char *) topic;
    size_t at = 0;
    while (at < length) {
        size_t n = s_utf8_char (s + at, length - at, true);
        if (n == 0)
            return COLUGO_ETOPIC;
        at += n;
    }
    return 0;
}

bool
colugo_utf8_valid (const void *data, size_t size)
{
    const unsigned char *s = (const unsigned char *) data;
    size_t at = 0;
    while (at < size) {
        size_t n = s_utf8_char (s + at, size - at, false);
        if (n == 0)
            return false;
        at += n;
    }
    return true;
}

bool
colugo__printable_ascii (const char *value, size_t max)
{
    if (!value)
        return false;
    size_t length = strnlen (value, max + 1);
    if (length == 0 || length > max)
        return false;
    for (size_t i = 0; i < length; i++)
        if (value [i] <= 0x20 || value [i] >= 0x7F)
            return false;
    return true;
}

int
colugo_type_check (const char *type)
{
    return colugo__printable_ascii (type, COLUGO_TYPE_MAX) ? 0 : COLUGO_EINVAL;
}
