/*  calc_json_server: a calculator on json.calc (schema example.Calc):
    {"op": "add"|"sub"|"mul"|"div", "a": number, "b": number} in,
    {"result": number} or {"error": "..."} out.
*/
#include <colugo/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    colugo_node_t *node;
    colugo_server_t *server;
    unsigned answered;
} calc_server_t;

//  Computes the answer to a request; returns NULL and sets *error if there
//  is none.
static json_t *
s_compute (const json_t *request, const char **error)
{
    const char *op;
    double a, b, result;
    json_error_t unpack_error;
    //  "F" takes an integer or a real.
    if (json_unpack_ex ((json_t *) request, &unpack_error, 0, "{s:s, s:F, s:F}", "op", &op, "a", &a,
                        "b", &b)) {
        *error = "a request is {\"op\": \"add\"|\"sub\"|\"mul\"|\"div\", \"a\": number, "
                 "\"b\": number}";
        return NULL;
    }
    if (strcmp (op, "add") == 0)
        result = a + b;
    else if (strcmp (op, "sub") == 0)
        result = a - b;
    else if (strcmp (op, "mul") == 0)
        result = a * b;
    else if (strcmp (op, "div") == 0) {
        if (b == 0) {
            *error = "division by zero";
            return NULL;
        }
        result = a / b;
    }
    else {
        *error = "unknown operation";
        return NULL;
    }
    if (!isfinite (result)) {
        *error = "the result is out of range";  //  JSON has no infinity
        return NULL;
    }
    return json_real (result);
}

static void
on_request (colugo_server_t *server, uint64_t request, const json_t *document, void *arg)
{
    calc_server_t *self = (calc_server_t *) arg;
    const char *error = NULL;
    json_t *result = s_compute (document, &error);
    json_t *reply =
        result ? json_pack ("{s:o}", "result", result) : json_pack ("{s:s}", "error", error);
    char *text = json_dumps (document, JSON_COMPACT);
    char *answer = reply ? json_dumps (reply, JSON_COMPACT) : NULL;
    printf ("Request %s -> %s\n", text ? text : "?", answer ? answer : "?");
    fflush (stdout);
    free (text);
    free (answer);
    if (!reply || colugo_json_reply (server, request, reply))
        colugo_server_drop (server, request, "cannot answer");
    else
        self->answered++;
    json_decref (reply);
}

int
main (void)
{
    calc_server_t self = {0};
    self.node = colugo_node_new ("CalcJsonServer");
    if (!self.node)
        return 1;
    colugo_node_set_wait_for_daemon (self.node, true);
    self.server = colugo_json_add_server (self.node, "json.calc", "example.Calc",
                                          COLUGO_JSON_OBJECT, on_request, &self);
    if (!self.server) {
        fprintf (stderr, "calc_json_server: %s\n", colugo_strerror (colugo_last_error ()));
        colugo_node_destroy (&self.node);
        return 1;
    }
    int rc = colugo_node_start (self.node);
    if (rc)
        fprintf (stderr, "calc_json_server: %s\n", colugo_strerror (rc));
    colugo_node_destroy (&self.node);
    return rc ? 1 : 0;
}
