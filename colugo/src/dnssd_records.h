/*  dnssd_records.h: what Colugo puts in DNS-SD records and what it accepts
    from them: instance names, the TXT record (built to a computed bound,
    never cut), checks of a stranger's TXT and address, and escaping of
    network-supplied strings for the log. No Avahi calls, no daemon: these
    are tested on their own (tests/test_discovery.c).
*/
#ifndef COLUGO__DNSSD_RECORDS_H_INCLUDED
#define COLUGO__DNSSD_RECORDS_H_INCLUDED

#include <avahi-common/address.h>
#include <avahi-common/defs.h>
#include <avahi-common/strlst.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "colugo/topic.h"

#define COLUGO__SERVICE_TYPE "_colugo._tcp"
//  One record per node (nodelink.h): where its inbox listens, for direct
//  notices of its services. A type of its own, so that the original
//  Colugo's browsers of _colugo._tcp never see it.
#define COLUGO__NODE_SERVICE_TYPE "_colugo-node._tcp"
#define COLUGO__PROTOCOL_VERSION "1"
#define COLUGO__UUID_MAX 64                        //  what we accept from others (ours: 36)
#define COLUGO__NODE_NAME_MAX 64                   //  as colugo_node_new () allows
#define COLUGO__SOCKET_ID_MAX 9007199254740992ull  //  2^53

//  The largest TXT record we publish: each entry is a length byte and
//  "key=value"; the longest values are the limits above, a socket id of 16
//  digits and a port of 5, a trunk of 39. 619 bytes: one TXT record of an mDNS packet that
//  stays well inside a 1500-byte Ethernet frame with its PTR and SRV.
#define S_TXT_ENTRY(key, value_max) (1 + sizeof key - 1 + 1 + (value_max))
#define COLUGO__TXT_MAX                                                                            \
    (S_TXT_ENTRY ("colugo", 1) + S_TXT_ENTRY ("node_name", COLUGO__NODE_NAME_MAX)                  \
     + S_TXT_ENTRY ("node_uuid", 36) + S_TXT_ENTRY ("socket_type", 1)                              \
     + S_TXT_ENTRY ("topic", COLUGO_TOPIC_MAX) + S_TXT_ENTRY ("type", COLUGO_TYPE_MAX)             \
     + S_TXT_ENTRY ("socket_id", 16) + S_TXT_ENTRY ("verified_port", 5)                            \
     + S_TXT_ENTRY ("trunk", COLUGO__TRUNK_TXT_MAX))
//  TXT trunk (publishers, trunk.h): "<port>.<trunk socket id>.<key>", the
//  verified port and socket id of the node trunk's in (its node record's)
//  in decimal, the publisher's key in 16 hex digits.
#define COLUGO__TRUNK_TXT_MAX (5 + 1 + 16 + 1 + 16)

//  What a publication advertises in TXT.
typedef struct {
    const char *topic;
    int socket_type;  //  ZMQ_PUB or ZMQ_REP
    const char *node_uuid;
    const char *node_name;
    const char *type;        //  NULL: untyped
    uint16_t verified_port;  //  0: none
    uint64_t socket_id;      //  0: none
    uint16_t trunk_port;     //  0: none (then the next two are not used)
    uint64_t trunk_id;       //  the trunk's in's socket id
    uint64_t trunk_key;      //  the publisher's key on it
} colugo__txt_fields_t;

//  Serialises the TXT record into out; returns its length, or 0 when a
//  value is out of bounds or the record does not fit size (never cut).
size_t colugo__txt_build (const colugo__txt_fields_t *fields, uint8_t *out, size_t size);

//  What a stranger's TXT record says, checked; strings are malloc'ed.
typedef struct {
    char *topic;
    int socket_type;
    char *node_uuid;
    char *node_name;  //  "" when absent
    char *type;       //  "" when untyped
    uint64_t socket_id;
    uint16_t verified_port;
    uint16_t trunk_port;  //  0 when absent
    uint64_t trunk_id;
    uint64_t trunk_key;
} colugo__txt_record_t;

//  Checks and copies a TXT record; returns NULL, or why it is not valid
//  (then nothing is left to free).
const char *colugo__txt_parse (AvahiStringList *txt, colugo__txt_record_t *record);
void colugo__txt_record_free (colugo__txt_record_t *record);

//  A node record's TXT: colugo, node_uuid, node_name, socket_id (of its
//  inbox). Returns its length, or 0 when a value is out of bounds or it
//  does not fit size.
size_t colugo__node_txt_build (const char *node_uuid, const char *node_name, uint64_t socket_id,
                               uint8_t *out, size_t size);
//  Checks a node record's TXT and copies its uuid and name (malloc'ed) and
//  socket id; returns NULL, or why it is not valid (then nothing is left
//  to free).
const char *colugo__node_txt_parse (AvahiStringList *txt, char **node_uuid, char **node_name,
                                    uint64_t *socket_id);

//  This host's addresses as last listed (getifaddrs ()), and the name of
//  the interface last asked about: a DNS-SD thread keeps one, so that a
//  burst of records (a mesh of nodes resolves hundreds) costs one listing,
//  not a netlink round trip each. Zero-initialised; freed with
//  colugo__host_addresses_free.
typedef struct {
    struct ifaddrs *list;
    int64_t taken_ms;  //  zclock_mono () when listed
    int interface;     //  named in name ("" if the index is unknown)
    char name [IF_NAMESIZE];
} colugo__host_addresses_t;

void colugo__host_addresses_free (colugo__host_addresses_t *self);

//  Whether a resolved IPv4 address makes sense for the interface the
//  record came in on: on the subnet of one of its addresses, or an address
//  of this host; loopback only from the loopback interface or for a record
//  this host announced (local). Returns NULL or why not. With addresses
//  (may be NULL: listed afresh), a listing up to a second old may accept
//  an address; a refusal is always judged on a fresh one.
const char *colugo__address_check (colugo__host_addresses_t *addresses, int interface,
                                   const AvahiAddress *address, bool local);

//  Whether address is one of this network namespace's own (in the listing
//  that colugo__address_check just used), or a loopback one: then this
//  host's loopback reaches what listens there on every address.
bool colugo__address_ours (const colugo__host_addresses_t *addresses, const AvahiAddress *address);

//  Copies a network-supplied string for the log: bytes outside printable
//  ASCII as \xNN, cut (marked "...") to fit size. Returns buffer.
const char *colugo__escape (const char *text, char *buffer, size_t size);

//  Builds the instance name for a topic and node uuid into buffer (at least
//  64 bytes): "_<topic>._<uuid>", or with the topic cut short (at a UTF-8
//  boundary, marked by '~') so the name fits a 63-byte DNS label.
void colugo__discovery_instance_name (const char *topic, const char *node_uuid, char *buffer,
                                      size_t size);

//  Writes a textual (escaped) domain name as uncompressed DNS wire format.
//  Returns the length, or 0 if it does not fit or does not parse.
size_t colugo__wire_name (const char *name, uint8_t *out, size_t size);

#endif
