/*  sub: prints every message published on pub.topic, and which publishers
    it is connected to as they come and go.
*/
#include <colugo.h>
#include <stdio.h>

typedef struct {
    colugo_node_t *node;
    colugo_subscriber_t *subscriber;
    unsigned received;
} sub_example_t;

static void
on_message (colugo_subscriber_t *subscriber, const char *topic, const void *data, size_t size,
            void *arg)
{
    (void) subscriber;
    sub_example_t *self = (sub_example_t *) arg;
    self->received++;
    printf ("Received on %s: %.*s\n", topic, (int) size, (const char *) data);
    fflush (stdout);
}

static void
on_peer (colugo_socket_t *socket, const colugo_peer_t *peer, bool connected, void *arg)
{
    (void) arg;
    printf ("%s publisher %s of node %s (%zu connected)\n",
            connected ? "Connected to" : "Disconnected from", peer->endpoint, peer->node_name,
            colugo_socket_peer_count (socket));
    fflush (stdout);
}

int
main (void)
{
    sub_example_t self = {0};
    self.node = colugo_node_new ("SubExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.subscriber = colugo_node_add_subscriber (self.node, "pub.topic", on_message, &self);
    if (!self.subscriber) {
        fprintf (stderr, "sub: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_socket_set_peer_handler (colugo_subscriber_socket (self.subscriber), on_peer, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "sub: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
