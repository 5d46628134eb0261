/*  calc_json_client: asks the calculator on json.calc something every
    second, cycling through the operations (the eighth request divides by
    zero), and prints the reply or the failure.
*/
#include <colugo/json.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    colugo_node_t *node;
    colugo_client_t *client;
    int count;
} calc_client_t;

static void
on_reply (colugo_client_t *client, const json_t *reply, void *arg)
{
    (void) client;
    calc_client_t *self = (calc_client_t *) arg;
    json_t *result = json_object_get (reply, "result");
    const char *error = json_string_value (json_object_get (reply, "error"));
    if (json_is_number (result))
        printf ("Reply to request %d: %g\n", self->count - 1, json_number_value (result));
    else if (error)
        printf ("Reply to request %d: error: %s\n", self->count - 1, error);
    else {
        char *text = json_dumps (reply, JSON_COMPACT);
        printf ("Reply to request %d: unexpected: %s\n", self->count - 1, text ? text : "?");
        free (text);
    }
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
    static const char *ops [] = {"add", "sub", "mul", "div"};
    int n = self->count++;
    json_t *request =
        json_pack ("{s:s, s:i, s:f}", "op", ops [n % 4], "a", n, "b", (double) (n % 7) / 2);
    char *text = request ? json_dumps (request, JSON_COMPACT) : NULL;
    printf ("Request %d: %s\n", n, text ? text : "?");
    free (text);
    int64_t rc =
        request ? colugo_json_call (self->client, request, on_reply, on_failure, 900, self) : -1;
    if (rc < 0)
        printf ("Failure: cannot send: %s\n", colugo_strerror ((int) rc));
    fflush (stdout);
    json_decref (request);
}

int
main (void)
{
    calc_client_t self = {0};
    self.node = colugo_node_new ("CalcJsonClient");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.client =
        colugo_json_add_client (self.node, "json.calc", "example.Calc", COLUGO_JSON_OBJECT);
    if (!self.client) {
        fprintf (stderr, "calc_json_client: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    colugo_node_add_repeater (self.node, 1000, on_tick, &self);
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "calc_json_client: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
