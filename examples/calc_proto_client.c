/*  calc_proto_client: asks the calculator on proto.calc something every
    second, cycling through the operations (and a division by zero).
*/
#include <colugo/proto.h>
#include <stdio.h>
#include "calculator.pb-c.h"

typedef struct {
    colugo_node_t *node;
    colugo_client_t *client;
    int count;
} calc_client_t;

static void
on_reply (colugo_client_t *client, const ProtobufCMessage *base, void *arg)
{
    (void) client;
    (void) arg;
    const Colugo__Examples__CalcReply *reply = (const Colugo__Examples__CalcReply *) base;
    if (*reply->error)
        printf ("Reply: error: %s\n", reply->error);
    else
        printf ("Reply: %g\n", reply->result);
    fflush (stdout);
}

static void
on_failure (colugo_client_t *client, void *arg)
{
    (void) client;
    printf ("Failure: no valid reply to request %d\n", ((calc_client_t *) arg)->count - 1);
    fflush (stdout);
}

static void
on_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    calc_client_t *self = (calc_client_t *) arg;
    Colugo__Examples__CalcRequest request = COLUGO__EXAMPLES__CALC_REQUEST__INIT;
    request.op = (Colugo__Examples__CalcRequest__Op) (self->count % 4);
    request.a = self->count;
    request.b = self->count % 5;
    self->count++;
    printf ("Request: op %d, %g and %g\n", request.op, request.a, request.b);
    if (colugo_proto_call (self->client, &request.base, on_reply, on_failure, 2000, self) < 0)
        printf ("Failure: cannot send\n");
    fflush (stdout);
}

int
main (void)
{
    calc_client_t self = {0};
    self.node = colugo_node_new ("CalcProtoClient");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.client = colugo_proto_add_client (self.node, "proto.calc",
                                           &colugo__examples__calc_request__descriptor,
                                           &colugo__examples__calc_reply__descriptor);
    if (!self.client) {
        fprintf (stderr, "calc_proto_client: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_repeater (self.node, 1000, on_tick, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "calc_proto_client: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
