/*  test_typed.c: typed sockets across processes, against a real
    avahi-daemon in a private namespace: every protobuf field type and every
    JSON type survives the trip; a mismatched typed pair reports the mismatch instead of
    exchanging garbage; the typed examples run and talk.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proc.h"

#define FIND_MS 5000

static proc_t *
s_program (const char *variable, const char *first, ...)
{
    char *argv [8];
    int argc = 0;
    const char *path = getenv (variable);
    cr_assert_not_null (path, "%s is not set", variable);
    argv [argc++] = (char *) path;
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 7; arg = va_arg (args, const char *))
        argv [argc++] = (char *) arg;
    va_end (args);
    argv [argc] = NULL;
    proc_t *proc = proc_start (argv);
    cr_assert_not_null (proc);
    return proc;
}

//  An example program from build/examples.
static proc_t *
s_example (const char *name)
{
    const char *dir = getenv ("EXAMPLES");
    cr_assert_not_null (dir);
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    char *argv [] = {path, NULL};
    proc_t *proc = proc_start (argv);
    cr_assert_not_null (proc);
    return proc;
}

Test (proto, every_field_type_across_processes)
{
    proc_t *sub = s_program ("TYPEDNODE", "telemetry-sub", "typed.telemetry", "5", NULL);
    proc_t *pub = s_program ("TYPEDNODE", "telemetry-pub", "typed.telemetry", NULL);
    for (int i = 0; i < 5; i++) {
        const char *line = proc_expect (sub, "", FIND_MS);
        cr_assert_not_null (line);
        if (strncmp (line, "READY", 5) == 0) {
            i--;
            continue;
        }
        cr_assert_eq (strncmp (line, "OK ", 3), 0, "got: %s", line);
    }
    cr_assert_not_null (proc_expect (sub, "DONE", 5000));
    cr_assert_not_null (proc_expect (sub, "DROPPED 0", 5000));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (proto, mismatched_typed_pair_reports_not_garbage)
{
    //  The sub_proto example expects colugo.examples.Message on
    //  proto.pub.topic; a Telemetry publisher appears there.
    proc_t *sub = s_example ("sub_proto");
    proc_t *pub = s_program ("TYPEDNODE", "telemetry-pub", "proto.pub.topic", NULL);
    cr_assert_not_null (proc_expect (sub, "Mismatch: ", FIND_MS));
    //  Nothing is received from it: no garbage.
    cr_assert_eq (proc_count (sub, "Received", 1000), 0);
    //  And the other side of a typed mismatch, with testnode's typed sockets.
    proc_t *typed = s_program ("TESTNODE", "sub", "proto.pub.topic", "-y", "some.Other", NULL);
    cr_assert_not_null (proc_expect (typed, "MISMATCH ", FIND_MS));
    proc_destroy (&typed);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (proto, the_examples_talk)
{
    proc_t *sub = s_example ("sub_proto");
    proc_t *pub = s_example ("pub_proto");
    proc_t *server = s_example ("calc_proto_server");
    proc_t *client = s_example ("calc_proto_client");
    cr_assert_not_null (
        proc_expect (sub, "Received on proto.pub.topic: message 'Hello World'", FIND_MS));
    //  Requests go out every second; replies come back (division by 0
    //  included, as an error in the reply).
    cr_assert_not_null (proc_expect (client, "Reply: ", FIND_MS));
    cr_assert_not_null (proc_expect (server, "Request: ", 1000));
    proc_destroy (&client);
    proc_destroy (&server);
    proc_destroy (&pub);
    proc_destroy (&sub);
}

Test (json, every_json_type_across_processes)
{
    proc_t *sub = s_program ("TYPEDNODE", "json-sub", "typed.json", "5", NULL);
    proc_t *pub = s_program ("TYPEDNODE", "json-pub", "typed.json", NULL);
    cr_assert_not_null (proc_expect (sub, "READY", 5000));
    for (int i = 0; i < 5; i++) {
        const char *line = proc_expect (sub, "", FIND_MS);
        cr_assert_not_null (line);
        cr_assert_eq (strncmp (line, "OK ", 3), 0, "got: %s", line);
    }
    cr_assert_not_null (proc_expect (sub, "DONE", 5000));
    cr_assert_not_null (proc_expect (sub, "DROPPED 0", 5000));
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (json, mismatched_schema_reports_not_garbage)
{
    proc_t *sub = s_example ("sub_json");
    proc_t *pub = s_program ("TYPEDNODE", "json-pub", "json.pub.topic", NULL);
    cr_assert_not_null (proc_expect (sub, "Mismatch: ", FIND_MS));
    cr_assert_eq (proc_count (sub, "Received", 1000), 0);
    proc_destroy (&sub);
    proc_destroy (&pub);
}

Test (json, the_examples_talk)
{
    proc_t *sub = s_example ("sub_json");
    proc_t *pub = s_example ("pub_json");
    proc_t *server = s_example ("calc_json_server");
    proc_t *client = s_example ("calc_json_client");
    cr_assert_not_null (proc_expect (sub, "Received on json.pub.topic: ", FIND_MS));
    cr_assert_not_null (proc_expect (client, "Reply to request", FIND_MS));
    proc_destroy (&client);
    proc_destroy (&server);
    proc_destroy (&pub);
    proc_destroy (&sub);
}
