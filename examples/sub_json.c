/*  sub_json: prints every JSON document (an object of the schema
    example.Message) published on json.pub.topic. A publisher of another
    type on that topic is reported, not connected to; a document that does
    not decode, or is not an object, is dropped and counted.
*/
#include <colugo/json.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    colugo_node_t *node;
    colugo_subscriber_t *subscriber;
    unsigned received;
} sub_json_t;

static void
on_message (colugo_subscriber_t *subscriber, const char *topic, const json_t *document, void *arg)
{
    (void) subscriber;
    sub_json_t *self = (sub_json_t *) arg;
    self->received++;
    char *text = json_dumps (document, JSON_COMPACT);
    printf ("Received on %s: %s\n", topic, text ? text : "?");
    //  The fields, if they are there: the schema is a name, not a check.
    const char *message = json_string_value (json_object_get (document, "message"));
    json_t *id = json_object_get (document, "id");
    json_t *value = json_object_get (document, "value");
    if (message && json_is_integer (id) && json_is_number (value))
        printf ("  message '%s', id %" JSON_INTEGER_FORMAT ", value %g\n", message,
                json_integer_value (id), json_number_value (value));
    fflush (stdout);
    free (text);
}

static void
on_mismatch (colugo_socket_t *socket, const colugo_peer_t *peer, const char *peer_type, void *arg)
{
    (void) arg;
    printf ("Mismatch: %s (node %s) publishes %s, not %s\n", peer->endpoint, peer->node_name,
            peer_type, colugo_socket_type (socket));
    fflush (stdout);
}

int
main (void)
{
    sub_json_t self = {0};
    self.node = colugo_node_new ("SubJsonExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.subscriber = colugo_json_add_subscriber (self.node, "json.pub.topic", "example.Message",
                                                  COLUGO_JSON_OBJECT, on_message, &self);
    if (!self.subscriber) {
        fprintf (stderr, "sub_json: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_socket_set_mismatch_handler (colugo_subscriber_socket (self.subscriber), on_mismatch,
                                        &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "sub_json: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
