/*  telemetry_sample.h: one colugo.examples.Telemetry with every field set to
    a value that shows whether it survived a round trip (extremes of each
    integer type, non-ASCII text, bytes with NULs, nested, repeated, map,
    oneof), and the check of a received one.
*/
#ifndef COLUGO_TEST_TELEMETRY_SAMPLE_H_INCLUDED
#define COLUGO_TEST_TELEMETRY_SAMPLE_H_INCLUDED

#include "telemetry.pb-c.h"

//  Fills *sample; what it points to is static (one sample at a time).
void telemetry_sample_fill (Colugo__Examples__Telemetry *sample);
//  Returns NULL if received equals the sample, else the first field that
//  differs.
const char *telemetry_sample_check (const Colugo__Examples__Telemetry *received);

#endif
