/*  telemetry_sample.c: see telemetry_sample.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "telemetry_sample.h"

static float s_samples [] = {0.0f, -1.5f, 3.25e10f, -0.0f};
static char *s_tags [] = {"alpha", "\xce\xb2\xce\xb7\xcf\x84\xce\xb1", "", "tag with spaces"};
static uint8_t s_blob [] = {0, 1, 2, 255, 0, 127};

void
telemetry_sample_fill (Colugo__Examples__Telemetry *sample)
{
    static Colugo__Examples__Telemetry__Position position =
        COLUGO__EXAMPLES__TELEMETRY__POSITION__INIT;
    static Colugo__Examples__Telemetry__Position waypoints [2] = {
        COLUGO__EXAMPLES__TELEMETRY__POSITION__INIT, COLUGO__EXAMPLES__TELEMETRY__POSITION__INIT};
    static Colugo__Examples__Telemetry__Position *path [2];
    static Colugo__Examples__Telemetry__CountersEntry entries [2] = {
        COLUGO__EXAMPLES__TELEMETRY__COUNTERS_ENTRY__INIT,
        COLUGO__EXAMPLES__TELEMETRY__COUNTERS_ENTRY__INIT};
    static Colugo__Examples__Telemetry__CountersEntry *counters [2];
    colugo__examples__telemetry__init (sample);
    sample->source = "caf\xc3\xa9-sensor";
    sample->sequence = UINT64_MAX;
    sample->temperature_centi = INT32_MIN;
    sample->offset_ns = INT64_MIN;
    sample->flags = UINT32_MAX;
    sample->stamp = 0x0123456789abcdefULL;
    sample->correction = -42;
    sample->battery = 0.875f;
    sample->timestamp = 1763700000.123456;
    sample->ok = 1;
    sample->blob.data = s_blob;
    sample->blob.len = sizeof s_blob;
    sample->mode = COLUGO__EXAMPLES__TELEMETRY__MODE__FAULT;
    sample->n_samples = 4;
    sample->samples = s_samples;
    sample->n_tags = 4;
    sample->tags = s_tags;
    position.x = 1.5;
    position.y = -2.5;
    position.z = 1e300;
    sample->position = &position;
    for (int i = 0; i < 2; i++) {
        waypoints [i].x = i;
        waypoints [i].y = i * 10;
        waypoints [i].z = -i;
        path [i] = &waypoints [i];
    }
    sample->n_path = 2;
    sample->path = path;
    entries [0].key = "errors";
    entries [0].value = -7;
    entries [1].key = "\xe2\x82\xac";
    entries [1].value = INT64_MAX;
    counters [0] = &entries [0];
    counters [1] = &entries [1];
    sample->n_counters = 2;
    sample->counters = counters;
    sample->note_case = COLUGO__EXAMPLES__TELEMETRY__NOTE_TEXT;
    sample->text = "note \xe2\x9c\x93";
}

const char *
telemetry_sample_check (const Colugo__Examples__Telemetry *r)
{
    Colugo__Examples__Telemetry e;
    telemetry_sample_fill (&e);
    if (strcmp (r->source, e.source))
        return "source";
    if (r->sequence != e.sequence)
        return "sequence";
    if (r->temperature_centi != e.temperature_centi)
        return "temperature_centi";
    if (r->offset_ns != e.offset_ns)
        return "offset_ns";
    if (r->flags != e.flags)
        return "flags";
    if (r->stamp != e.stamp)
        return "stamp";
    if (r->correction != e.correction)
        return "correction";
    if (r->battery != e.battery)
        return "battery";
    if (r->timestamp != e.timestamp)
        return "timestamp";
    if (r->ok != e.ok)
        return "ok";
    if (r->blob.len != e.blob.len || memcmp (r->blob.data, e.blob.data, e.blob.len))
        return "blob";
    if (r->mode != e.mode)
        return "mode";
    if (r->n_samples != e.n_samples)
        return "samples";
    for (size_t i = 0; i < e.n_samples; i++)
        if (memcmp (&r->samples [i], &e.samples [i], sizeof (float)))  //  -0.0f too
            return "samples";
    if (r->n_tags != e.n_tags)
        return "tags";
    for (size_t i = 0; i < e.n_tags; i++)
        if (strcmp (r->tags [i], e.tags [i]))
            return "tags";
    if (!r->position || r->position->x != e.position->x || r->position->y != e.position->y
        || r->position->z != e.position->z)
        return "position";
    if (r->n_path != e.n_path)
        return "path";
    for (size_t i = 0; i < e.n_path; i++)
        if (r->path [i]->x != e.path [i]->x || r->path [i]->y != e.path [i]->y
            || r->path [i]->z != e.path [i]->z)
            return "path";
    if (r->n_counters != e.n_counters)
        return "counters";
    for (size_t i = 0; i < e.n_counters; i++)
        if (strcmp (r->counters [i]->key, e.counters [i]->key)
            || r->counters [i]->value != e.counters [i]->value)
            return "counters";
    if (r->note_case != e.note_case || strcmp (r->text, e.text))
        return "note";
    return NULL;
}
