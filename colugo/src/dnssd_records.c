/*  dnssd_records.c: Colugo's DNS-SD records, built and checked (see
    dnssd_records.h). Pure functions but for the host's addresses
    (getifaddrs ()), so the DNS-SD thread and the unit tests share them.
*/
#include <arpa/inet.h>
#include <avahi-common/domain.h>
#include <avahi-common/malloc.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <zmq.h>
#include "dnssd_records.h"
#include "logging.h"

//  --------------------------------------------------------------------------
//  Names

void
colugo__discovery_instance_name (const char *topic, const char *node_uuid, char *buffer,
                                 size_t size)
{
    size_t room = AVAHI_LABEL_MAX - 1;  //  63 bytes in a DNS label
    if (room > size - 1)
        room = size - 1;
    size_t fixed = strlen (node_uuid) + 3;  //  "_" + "._" + uuid
    size_t topic_length = strlen (topic);
    if (fixed + topic_length <= room) {
        snprintf (buffer, size, "_%s._%s", topic, node_uuid);
        return;
    }
    //  Cut the topic at a character boundary and mark the cut; the TXT
    //  record still carries the whole topic, which is what peers match on.
    size_t keep = room > fixed + 1 ? room - fixed - 1 : 0;
    while (keep > 0 && (((unsigned char) topic [keep]) & 0xC0) == 0x80)
        keep--;
    snprintf (buffer, size, "_%.*s~._%s", (int) keep, topic, node_uuid);
}

size_t
colugo__wire_name (const char *name, uint8_t *out, size_t size)
{
    size_t length = 0;
    while (*name) {
        char label [AVAHI_LABEL_MAX];
        if (!avahi_unescape_label (&name, label, sizeof label))
            return 0;
        size_t label_length = strlen (label);
        if (label_length == 0)
            break;
        if (length + 1 + label_length + 1 > size)
            return 0;
        out [length++] = (uint8_t) label_length;
        memcpy (out + length, label, label_length);
        length += label_length;
    }
    if (length + 1 > size)
        return 0;
    out [length++] = 0;
    return length;
}

const char *
colugo__escape (const char *text, char *buffer, size_t size)
{
    static const char hex [] = "0123456789abcdef";
    size_t at = 0;
    if (size < 8) {
        if (size)
            buffer [0] = 0;
        return buffer;
    }
    for (const unsigned char *s = (const unsigned char *) (text ? text : ""); *s; s++) {
        size_t need = (*s < 0x20 || *s >= 0x7F || *s == '\\') ? 4 : 1;
        if (at + need + 4 > size) {  //  room for "..." and the NUL
            memcpy (buffer + at, "...", 3);
            at += 3;
            break;
        }
        if (need == 1)
            buffer [at++] = (char) *s;
        else {
            buffer [at++] = '\\';
            buffer [at++] = 'x';
            buffer [at++] = hex [*s >> 4];
            buffer [at++] = hex [*s & 0xF];
        }
    }
    buffer [at] = 0;
    return buffer;
}

//  --------------------------------------------------------------------------
//  TXT

//  Appends "key=value" as one TXT string; false if it does not fit.
static bool
s_txt_add (uint8_t *out, size_t size, size_t *at, const char *key, const char *value)
{
    size_t key_length = strlen (key), value_length = strlen (value);
    size_t length = key_length + 1 + value_length;
    if (length > 255 || *at + 1 + length > size)
        return false;
    out [(*at)++] = (uint8_t) length;
    memcpy (out + *at, key, key_length);
    out [*at + key_length] = '=';
    memcpy (out + *at + key_length + 1, value, value_length);
    *at += length;
    return true;
}

size_t
colugo__txt_build (const colugo__txt_fields_t *fields, uint8_t *out, size_t size)
{
    if (colugo_topic_check (fields->topic) || !colugo__printable_ascii (fields->node_uuid, 36)
        || strlen (fields->node_name) > COLUGO__NODE_NAME_MAX
        || (fields->type && colugo_type_check (fields->type))
        || fields->socket_id > COLUGO__SOCKET_ID_MAX
        || (fields->trunk_port
            && (!fields->trunk_id || fields->trunk_id > COLUGO__SOCKET_ID_MAX
                || !fields->trunk_key)))
        return 0;
    char socket_id [24], verified_port [8], trunk [COLUGO__TRUNK_TXT_MAX + 1];
    snprintf (trunk, sizeof trunk, "%u.%llu.%016llx", fields->trunk_port,
              (unsigned long long) fields->trunk_id, (unsigned long long) fields->trunk_key);
    snprintf (socket_id, sizeof socket_id, "%llu", (unsigned long long) fields->socket_id);
    snprintf (verified_port, sizeof verified_port, "%u", fields->verified_port);
    size_t at = 0;
    //  The original Colugo's keys first, in the order it used.
    if (!s_txt_add (out, size, &at, "topic", fields->topic)
        || !s_txt_add (out, size, &at, "socket_type", fields->socket_type == ZMQ_PUB ? "1" : "4")
        || !s_txt_add (out, size, &at, "node_uuid", fields->node_uuid)
        || !s_txt_add (out, size, &at, "node_name", fields->node_name)
        || !s_txt_add (out, size, &at, "colugo", COLUGO__PROTOCOL_VERSION)
        || (fields->type && !s_txt_add (out, size, &at, "type", fields->type))
        || (fields->socket_id && !s_txt_add (out, size, &at, "socket_id", socket_id))
        || (fields->verified_port && !s_txt_add (out, size, &at, "verified_port", verified_port))
        || (fields->trunk_port && !s_txt_add (out, size, &at, "trunk", trunk)))
        return 0;
    return at;
}

//  Gets a TXT value as a string; returns NULL if absent. Caller frees.
static char *
s_txt_value (AvahiStringList *txt, const char *key, bool *bad)
{
    AvahiStringList *entry = avahi_string_list_find (txt, key);
    if (!entry)
        return NULL;
    char *found_key = NULL, *value = NULL;
    size_t size = 0;
    if (avahi_string_list_get_pair (entry, &found_key, &value, &size) < 0) {
        *bad = true;
        return NULL;
    }
    avahi_free (found_key);
    if (!value || strlen (value) != size) {  //  missing, or a NUL inside
        avahi_free (value);
        *bad = true;
        return NULL;
    }
    char *copy = strdup (value);
    avahi_free (value);
    if (!copy)
        *bad = true;
    return copy;
}

//  A decimal number from 1 to max, digits only, no leading zero.
static bool
s_decimal (const char *text, uint64_t max, uint64_t *value)
{
    size_t length = strlen (text);
    if (length == 0 || length > 16 || text [0] == '0')
        return false;
    uint64_t number = 0;
    for (size_t i = 0; i < length; i++) {
        if (text [i] < '0' || text [i] > '9')
            return false;
        number = number * 10 + (uint64_t) (text [i] - '0');
    }
    if (number > max)
        return false;
    *value = number;
    return true;
}

//  TXT trunk: "<port>.<socket id>.<16 hex digits>", each part in range.
static bool
s_trunk (const char *text, colugo__txt_record_t *record)
{
    char port [8], id [20];
    const char *dot = strchr (text, '.');
    const char *second = dot ? strchr (dot + 1, '.') : NULL;
    if (!dot || !second || (size_t) (dot - text) >= sizeof port
        || (size_t) (second - dot - 1) >= sizeof id || strlen (second + 1) != 16)
        return false;
    memcpy (port, text, (size_t) (dot - text));
    port [dot - text] = 0;
    memcpy (id, dot + 1, (size_t) (second - dot - 1));
    id [second - dot - 1] = 0;
    uint64_t number = 0, key = 0;
    for (const char *c = second + 1; *c; c++) {
        int digit = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10 : -1;
        if (digit < 0)
            return false;
        key = key << 4 | (uint64_t) digit;
    }
    if (!s_decimal (port, 65535, &number)
        || !s_decimal (id, COLUGO__SOCKET_ID_MAX, &record->trunk_id) || key == 0)
        return false;
    record->trunk_port = (uint16_t) number;
    record->trunk_key = key;
    return true;
}

void
colugo__txt_record_free (colugo__txt_record_t *record)
{
    free (record->topic);
    free (record->node_uuid);
    free (record->node_name);
    free (record->type);
    *record = (colugo__txt_record_t){0};
}

const char *
colugo__txt_parse (AvahiStringList *txt, colugo__txt_record_t *record)
{
    bool bad = false;
    *record = (colugo__txt_record_t){0};
    char *socket_type = s_txt_value (txt, "socket_type", &bad);
    char *socket_id = s_txt_value (txt, "socket_id", &bad);
    char *verified_port = s_txt_value (txt, "verified_port", &bad);
    char *trunk = s_txt_value (txt, "trunk", &bad);
    record->topic = s_txt_value (txt, "topic", &bad);
    record->node_uuid = s_txt_value (txt, "node_uuid", &bad);
    record->node_name = s_txt_value (txt, "node_name", &bad);
    record->type = s_txt_value (txt, "type", &bad);
    uint64_t number = 0;
    const char *why = NULL;
    if (bad)
        why = "a TXT entry is not a string";
    else if (!record->topic || colugo_topic_check (record->topic))
        why = "no valid 'topic' in TXT";
    else if (!socket_type || (strcmp (socket_type, "1") && strcmp (socket_type, "4")))
        why = "'socket_type' in TXT is neither 1 (PUB) nor 4 (REP)";
    else if (!record->node_uuid || !colugo__printable_ascii (record->node_uuid, COLUGO__UUID_MAX))
        why = "no valid 'node_uuid' in TXT";
    else if (record->node_name && *record->node_name
             && (strlen (record->node_name) > COLUGO__NODE_NAME_MAX
                 || colugo_topic_check (record->node_name)))
        why = "'node_name' in TXT is not short printable UTF-8";
    else if (record->type && colugo_type_check (record->type))
        why = "'type' in TXT is not 1-128 printable ASCII characters";
    else if (socket_id && !s_decimal (socket_id, COLUGO__SOCKET_ID_MAX, &record->socket_id))
        why = "'socket_id' in TXT is not a decimal number from 1 to 2^53";
    else if (verified_port && !s_decimal (verified_port, 65535, &number))
        why = "'verified_port' in TXT is not a decimal port from 1 to 65535";
    else if (trunk && !s_trunk (trunk, record))
        why = "'trunk' in TXT is not <port>.<socket id>.<16 hex digits>";
    record->verified_port = (uint16_t) number;
    if (!why) {
        if (!record->node_name)
            record->node_name = strdup ("");
        if (!record->type)
            record->type = strdup ("");
        if (!record->node_name || !record->type)
            why = "out of memory";
    }
    record->socket_type = socket_type && socket_type [0] == '1' ? ZMQ_PUB : ZMQ_REP;
    free (socket_type);
    free (socket_id);
    free (verified_port);
    free (trunk);
    if (why)
        colugo__txt_record_free (record);
    return why;
}

size_t
colugo__node_txt_build (const char *node_uuid, const char *node_name, uint64_t socket_id,
                        uint8_t *out, size_t size)
{
    if (!colugo__printable_ascii (node_uuid, 36) || strlen (node_name) > COLUGO__NODE_NAME_MAX
        || !socket_id || socket_id > COLUGO__SOCKET_ID_MAX)
        return 0;
    char id [24];
    snprintf (id, sizeof id, "%llu", (unsigned long long) socket_id);
    size_t at = 0;
    if (!s_txt_add (out, size, &at, "colugo", COLUGO__PROTOCOL_VERSION)
        || !s_txt_add (out, size, &at, "node_uuid", node_uuid)
        || !s_txt_add (out, size, &at, "node_name", node_name)
        || !s_txt_add (out, size, &at, "socket_id", id))
        return 0;
    return at;
}

const char *
colugo__node_txt_parse (AvahiStringList *txt, char **node_uuid, char **node_name,
                        uint64_t *socket_id)
{
    bool bad = false;
    char *id = s_txt_value (txt, "socket_id", &bad);
    char *version = s_txt_value (txt, "colugo", &bad);
    *node_uuid = s_txt_value (txt, "node_uuid", &bad);
    *node_name = s_txt_value (txt, "node_name", &bad);
    const char *why = NULL;
    if (bad)
        why = "a TXT entry is not a string";
    else if (!version || strcmp (version, COLUGO__PROTOCOL_VERSION))
        why = "no 'colugo' version this node speaks in TXT";
    else if (!*node_uuid || !colugo__printable_ascii (*node_uuid, COLUGO__UUID_MAX))
        why = "no valid 'node_uuid' in TXT";
    else if (!*node_name || strlen (*node_name) > COLUGO__NODE_NAME_MAX
             || (**node_name && colugo_topic_check (*node_name)))
        why = "no 'node_name' of short printable UTF-8 in TXT";
    else if (!id || !s_decimal (id, COLUGO__SOCKET_ID_MAX, socket_id))
        why = "'socket_id' in TXT is not a decimal number from 1 to 2^53";
    free (id);
    free (version);
    if (why) {
        free (*node_uuid);
        free (*node_name);
        *node_uuid = *node_name = NULL;
    }
    return why;
}

//  --------------------------------------------------------------------------
//  Addresses

#define S_ADDRESSES_FRESH_MS 1000  //  a listing that may still accept an address

void
colugo__host_addresses_free (colugo__host_addresses_t *self)
{
    if (self->list)
        freeifaddrs (self->list);
    *self = (colugo__host_addresses_t){0};
}

//  Lists the host's addresses and names the interface again; false if the
//  list cannot be had.
static bool
s_addresses_take (colugo__host_addresses_t *self, int interface)
{
    colugo__host_addresses_free (self);
    if (getifaddrs (&self->list)) {
        self->list = NULL;
        return false;
    }
    self->taken_ms = zclock_mono ();
    self->interface = interface;
    if (interface <= 0 || !if_indextoname ((unsigned) interface, self->name))
        self->name [0] = '\0';
    return true;
}

//  Whether an IPv4 address (network order) is in 127/8.
static bool
s_loopback (uint32_t address)
{
    return (ntohl (address) >> 24) == 127;
}

static const char *
s_address_check (const colugo__host_addresses_t *self, uint32_t wanted, bool local)
{
    if (!self->name [0])
        return "the interface it came in on is unknown";
    bool loopback = s_loopback (wanted);
    bool on_subnet = false, ours = false, from_loopback = false;
    for (struct ifaddrs *entry = self->list; entry; entry = entry->ifa_next) {
        if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET || !entry->ifa_netmask)
            continue;
        uint32_t have = ((const struct sockaddr_in *) entry->ifa_addr)->sin_addr.s_addr;
        uint32_t mask = ((const struct sockaddr_in *) entry->ifa_netmask)->sin_addr.s_addr;
        if (have == wanted)
            ours = true;
        if (strcmp (entry->ifa_name, self->name) == 0) {
            if (entry->ifa_flags & IFF_LOOPBACK)
                from_loopback = true;
            if ((have & mask) == (wanted & mask))
                on_subnet = true;
        }
    }
    if (loopback)
        return from_loopback || local
                   ? NULL
                   : "a loopback address from a record that came from another host";
    return on_subnet || ours ? NULL : "an address on no network of the interface it came in on";
}

const char *
colugo__address_check (colugo__host_addresses_t *addresses, int interface,
                       const AvahiAddress *address, bool local)
{
    if (!address || address->proto != AVAHI_PROTO_INET)
        return "no IPv4 address";
    uint32_t wanted = address->data.ipv4.address;  //  network order
    colugo__host_addresses_t fresh = {0};
    colugo__host_addresses_t *self = addresses ? addresses : &fresh;
    bool taken = false;
    if (!self->list
        || self->interface != interface || zclock_mono () - self->taken_ms > S_ADDRESSES_FRESH_MS) {
        if (!s_addresses_take (self, interface))
            return "cannot list this host's addresses";
        taken = true;
    }
    const char *why = s_address_check (self, wanted, local);
    if (why && !taken) {
        //  Refused on an older listing: the host may have a new address.
        if (!s_addresses_take (self, interface))
            return "cannot list this host's addresses";
        why = s_address_check (self, wanted, local);
    }
    if (!addresses)
        colugo__host_addresses_free (&fresh);
    return why;
}

bool
colugo__address_ours (const colugo__host_addresses_t *addresses, const AvahiAddress *address)
{
    if (!address || address->proto != AVAHI_PROTO_INET)
        return false;
    uint32_t wanted = address->data.ipv4.address;  //  network order
    if (s_loopback (wanted))
        return true;
    for (struct ifaddrs *entry = addresses ? addresses->list : NULL; entry; entry = entry->ifa_next)
        if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET
            && ((const struct sockaddr_in *) entry->ifa_addr)->sin_addr.s_addr == wanted)
            return true;
    return false;
}
