/*  calc_proto_server: a calculator on proto.calc: CalcRequest in, CalcReply
    out (colugo.examples, proto/calculator.proto).
*/
#include <colugo/proto.h>
#include <stdio.h>
#include "calculator.pb-c.h"

typedef struct {
    colugo_node_t *node;
    colugo_server_t *server;
    unsigned answered;
} calc_server_t;

static void
on_request (colugo_server_t *server, uint64_t request, const ProtobufCMessage *base, void *arg)
{
    calc_server_t *self = (calc_server_t *) arg;
    const Colugo__Examples__CalcRequest *in = (const Colugo__Examples__CalcRequest *) base;
    Colugo__Examples__CalcReply out = COLUGO__EXAMPLES__CALC_REPLY__INIT;
    switch (in->op) {
        case COLUGO__EXAMPLES__CALC_REQUEST__OP__ADD: out.result = in->a + in->b; break;
        case COLUGO__EXAMPLES__CALC_REQUEST__OP__SUB: out.result = in->a - in->b; break;
        case COLUGO__EXAMPLES__CALC_REQUEST__OP__MUL: out.result = in->a * in->b; break;
        case COLUGO__EXAMPLES__CALC_REQUEST__OP__DIV:
            if (in->b == 0)
                out.error = "division by zero";
            else
                out.result = in->a / in->b;
            break;
        default: out.error = "unknown operation"; break;
    }
    printf ("Request: op %d, %g and %g -> %g%s%s\n", in->op, in->a, in->b, out.result,
            *out.error ? ", error: " : "", out.error);
    fflush (stdout);
    colugo_proto_reply (server, request, &out.base);
    self->answered++;
}

int
main (void)
{
    calc_server_t self = {0};
    self.node = colugo_node_new ("CalcProtoServer");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.server = colugo_proto_add_server (
        self.node, "proto.calc", &colugo__examples__calc_request__descriptor,
        &colugo__examples__calc_reply__descriptor, on_request, &self);
    if (!self.server) {
        fprintf (stderr, "calc_proto_server: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "calc_proto_server: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
