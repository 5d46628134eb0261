/*  rep: a reply server that echoes every request on rpc.topic. */
#include <colugo.h>
#include <stdio.h>

typedef struct {
    colugo_node_t *node;
    colugo_server_t *server;
    unsigned answered;
} rep_example_t;

static void
on_request (colugo_server_t *server, uint64_t request, const void *data, size_t size, void *arg)
{
    rep_example_t *self = (rep_example_t *) arg;
    printf ("Request: %.*s\n", (int) size, (const char *) data);
    fflush (stdout);
    colugo_server_reply (server, request, data, size);
    self->answered++;
}

int
main (void)
{
    rep_example_t self = {0};
    self.node = colugo_node_new ("RepExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.server = colugo_node_add_server (self.node, "rpc.topic", on_request, &self);
    if (!self.server) {
        fprintf (stderr, "rep: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "rep: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
