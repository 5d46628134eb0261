/*  fuzz_json: libFuzzer target for the JSON layer's decode path
    (colugo_json_decode), the code every JSON socket runs on what a peer
    sends. The first input byte picks the flags (any document, or an object).
*/
#include <colugo/json.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int flags = (data [0] & 1) ? COLUGO_JSON_OBJECT : 0;
    json_t *document = NULL;
    char why [200];
    if (colugo_json_decode (data + 1, size - 1, flags, &document, why, sizeof why) == 0) {
        if (!document || ((flags & COLUGO_JSON_OBJECT) && !json_is_object (document)))
            __builtin_trap ();
        //  What decoded must encode again.
        char *text = json_dumps (document, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            __builtin_trap ();
        free (text);
        json_decref (document);
    }
    else if (document)
        __builtin_trap ();
    return 0;
}
