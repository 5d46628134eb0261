/*  proto_seeds DIR: writes valid messages of each example type into DIR as
    the starting corpus of fuzz_proto (first byte: the type and the budget,
    as there).
*/
#include <stdio.h>
#include "calculator.pb-c.h"
#include "message.pb-c.h"
#include "telemetry_sample.h"

static int
s_write (const char *dir, const char *name, uint8_t first, const ProtobufCMessage *message)
{
    uint8_t buffer [4096];
    buffer [0] = first;
    size_t size = protobuf_c_message_pack (message, buffer + 1) + 1;
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (buffer, 1, size, file) != size)
        return 1;
    return fclose (file) != 0;
}

int
main (int argc, char *argv [])
{
    if (argc != 2)
        return 2;
    Colugo__Examples__Telemetry telemetry;
    telemetry_sample_fill (&telemetry);
    Colugo__Examples__Message message = COLUGO__EXAMPLES__MESSAGE__INIT;
    message.message = "Hello World";
    message.id = 42;
    message.value = 0.5;
    Colugo__Examples__CalcRequest request = COLUGO__EXAMPLES__CALC_REQUEST__INIT;
    request.op = COLUGO__EXAMPLES__CALC_REQUEST__OP__DIV;
    request.a = 1;
    request.b = 3;
    Colugo__Examples__CalcReply reply = COLUGO__EXAMPLES__CALC_REPLY__INIT;
    reply.error = "division by zero";
    //  Empty path entries (field 16, length 0) with a budget of 1 KiB
    //  (the first byte's bits 2-7: 4), which they overrun.
    Colugo__Examples__Telemetry__Position *path [40];
    Colugo__Examples__Telemetry__Position position = COLUGO__EXAMPLES__TELEMETRY__POSITION__INIT;
    Colugo__Examples__Telemetry empty = COLUGO__EXAMPLES__TELEMETRY__INIT;
    for (size_t i = 0; i < sizeof path / sizeof path [0]; i++)
        path [i] = &position;
    empty.n_path = sizeof path / sizeof path [0];
    empty.path = path;
    return s_write (argv [1], "telemetry", 0, &telemetry.base)
         | s_write (argv [1], "path", 0 | 4 << 2, &empty.base)
         | s_write (argv [1], "message", 1, &message.base)
         | s_write (argv [1], "request", 2, &request.base)
         | s_write (argv [1], "reply", 3, &reply.base);
}
