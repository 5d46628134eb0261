/*  fuzz_proto: libFuzzer target for the protobuf layer's decode path
    (colugo_proto_decode_bounded: protobuf-c unpacking through the layer's
    counting allocator, then the UTF-8 and nesting checks), the code every
    typed socket runs on what a peer sends. The first input byte picks the
    message type (bits 0-1) and the budget (the others: none, or 64 bytes
    to 128 KiB), so that protobuf-c's paths out of a failed allocation run
    too, under the sanitizers.
*/
#include <colugo/proto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "calculator.pb-c.h"
#include "message.pb-c.h"
#include "telemetry.pb-c.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *descriptors [] = {
        &colugo__examples__telemetry__descriptor, &colugo__examples__message__descriptor,
        &colugo__examples__calc_request__descriptor, &colugo__examples__calc_reply__descriptor };
    if (size == 0)
        return 0;
    const ProtobufCMessageDescriptor *descriptor = descriptors [data [0] % 4];
    unsigned pick = data [0] >> 2;
    size_t budget = pick == 0 ? 0 : (size_t) 64 << (pick % 12);
    ProtobufCMessage *message = NULL;
    char why [200];
    int rc = colugo_proto_decode_bounded (descriptor, data + 1, size - 1, budget, &message, why,
                                          sizeof why);
    if ((rc == 0) != (message != NULL))
        __builtin_trap ();
    if (rc == 0) {
        //  What decoded must encode, and decode again to the same bytes
        //  (the input itself may be non-canonical: varints can be padded).
        size_t packed = protobuf_c_message_get_packed_size (message);
        uint8_t *first = malloc (packed ? packed : 1), *second = malloc (packed ? packed : 1);
        protobuf_c_message_pack (message, first);
        ProtobufCMessage *again = NULL;
        if (colugo_proto_decode (descriptor, first, packed, &again, why, sizeof why)
            || protobuf_c_message_get_packed_size (again) != packed
            || protobuf_c_message_pack (again, second) != packed || memcmp (first, second, packed))
            __builtin_trap ();
        protobuf_c_message_free_unpacked (again, NULL);
        protobuf_c_message_free_unpacked (message, NULL);
        free (first);
        free (second);
    }
    return 0;
}
