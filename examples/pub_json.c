/*  pub_json: publishes {"message": "Hello World", "id": N, "value": N / 2}
    every second on json.pub.topic, as JSON documents of the schema
    example.Message (type "json:example.Message").
*/
#include <colugo/json.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    colugo_node_t *node;
    colugo_publisher_t *publisher;
    json_int_t count;
} pub_json_t;

static void
on_tick (colugo_node_t *node, void *arg)
{
    (void) node;
    pub_json_t *self = (pub_json_t *) arg;
    json_int_t id = self->count++;
    json_t *document =
        json_pack ("{s:s, s:I, s:f}", "message", "Hello World", "id", id, "value", id * 0.5);
    if (!document)
        return;
    int rc = colugo_json_publish (self->publisher, document);
    char *text = json_dumps (document, JSON_COMPACT);
    printf ("Sent: %s%s%s\n", text ? text : "?", rc ? ": " : "", rc ? colugo_strerror (rc) : "");
    fflush (stdout);
    free (text);
    json_decref (document);
}

int
main (void)
{
    pub_json_t self = {0};
    self.node = colugo_node_new ("PubJsonExample");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.publisher = colugo_json_add_publisher (self.node, "json.pub.topic", "example.Message");
    if (!self.publisher) {
        fprintf (stderr, "pub_json: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_repeater (self.node, 1000, on_tick, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "pub_json: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
