/*  pub: sends "Message N" every second on pub.topic.

    Subclass style: the program's own struct holds the node, its publisher
    and its state, and is the argument of every callback.
*/
#include <colugo.h>
#include <stdio.h>

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    unsigned count;
} pub_example_t;

static void
on_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    pub_example_t *self = (pub_example_t *) arg;
    char message [64];
    int size = snprintf (message, sizeof message, "Message %u", self->count++);
    colugo_publisher_send (self->publisher, message, (size_t) size);
    printf ("Sent: %s (%zu subscriber connections)\n", message,
            colugo_socket_peer_count (colugo_publisher_socket (self->publisher)));
    fflush (stdout);
}

int
main (void)
{
    pub_example_t self = {0};
    self.node = colugo_node_new ("PubExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.publisher = colugo_node_add_publisher (self.node, "pub.topic");
    if (!self.publisher) {
        fprintf (stderr, "pub: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_repeater (self.node, 1000, on_tick, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "pub: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
