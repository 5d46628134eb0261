/*  req: sends a request on rpc.topic, waits for the reply (or the timeout),
    and sends the next one a second later.
*/
#include <colugo.h>
#include <stdio.h>

typedef struct {
    colugo_node_t *node;
    colugo_client_t *client;
    unsigned count;
} req_example_t;

static void send_next (colugo_node_t *node, void *arg);

static void
on_reply (colugo_client_t *client, const void *data, size_t size, void *arg)
{
    (void) client;
    req_example_t *self = (req_example_t *) arg;
    printf ("Reply: %.*s\n", (int) size, (const char *) data);
    fflush (stdout);
    colugo_node_add_delayed (self->node, 1000, send_next, self);
}

static void
on_timeout (colugo_client_t *client, void *arg)
{
    (void) client;
    req_example_t *self = (req_example_t *) arg;
    printf ("Timeout: no reply to request %u\n", self->count - 1);
    fflush (stdout);
    colugo_node_add_delayed (self->node, 1000, send_next, self);
}

static void
send_next (colugo_node_t *node, void *arg)
{
    (void) node;
    req_example_t *self = (req_example_t *) arg;
    char request [64];
    int size = snprintf (request, sizeof request, "Request %u", self->count++);
    if (colugo_client_send (self->client, request, (size_t) size, on_reply, on_timeout, 2000, self)
        < 0)
        colugo_node_add_delayed (self->node, 1000, send_next, self);
}

int
main (void)
{
    req_example_t self = {0};
    self.node = colugo_node_new ("ReqExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.client = colugo_node_add_client (self.node, "rpc.topic");
    if (!self.client) {
        fprintf (stderr, "req: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    send_next (self.node, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "req: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
