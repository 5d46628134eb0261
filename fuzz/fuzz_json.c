/*  fuzz_json: libFuzzer target for the JSON layer's decode path
    (colugo_json_decode_bounded), the code every JSON socket runs on what a
    peer sends. The first input byte picks the flags (bit 0: any document,
    or an object) and the budget (the other bits: none, or 64 bytes to
    128 KiB). jansson allocates through a counter here (tests/json_counter.h):
    whenever the layer lets a text through to jansson, what jansson holds at
    its peak must fit the budget, whether it decodes the text or not.
*/
#include <colugo/json.h>
#include <stdint.h>
#include <string.h>
#include "json_counter.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool counting;
    if (!counting) {
        json_counter_install ();
        counting = true;
    }
    if (size == 0)
        return 0;
    int flags = (data [0] & 1) ? COLUGO_JSON_OBJECT : 0;
    unsigned pick = data [0] >> 1;
    size_t budget = pick == 0 ? 0 : (size_t) 64 << (pick % 12);
    json_t *document = NULL;
    char why [256] = "";
    json_counter_start ();
    int rc =
        colugo_json_decode_bounded (data + 1, size - 1, flags, budget, &document, why, sizeof why);
    if (budget && !strstr (why, "decoded document would exceed") && json_counter_peak () > budget)
        __builtin_trap ();  //  jansson took more than the estimate allowed
    if (rc == 0) {
        if (!document || ((flags & COLUGO_JSON_OBJECT) && !json_is_object (document)))
            __builtin_trap ();
        //  What decoded must encode again.
        char *text = json_dumps (document, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            __builtin_trap ();
        json_counter_free (text);
        json_decref (document);
    }
    else if (document)
        __builtin_trap ();
    return 0;
}
