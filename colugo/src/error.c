/*  error.c: error codes to text, and the per-thread last error that calls
    returning a pointer leave behind.
*/
#include "colugo/error.h"
#include "logging.h"

static __thread int s_last_error;

const char *
colugo_strerror (int err)
{
    switch (err) {
        case COLUGO_OK: return "success";
        case COLUGO_EINVAL: return "invalid argument";
        case COLUGO_ETOPIC: return "invalid topic name (1-240 bytes of printable UTF-8)";
        case COLUGO_ENOMEM: return "out of memory";
        case COLUGO_ENODAEMON: return "no avahi-daemon running (or no D-Bus system bus)";
        case COLUGO_EAVAHI: return "Avahi refused the request";
        case COLUGO_EZMQ: return "ZeroMQ call failed";
        case COLUGO_ESTATE: return "not allowed in this state";
        case COLUGO_EALREADY: return "already done";
        case COLUGO_ENOTFOUND: return "not found";
        case COLUGO_ETOOBIG: return "message too big";
        case COLUGO_EEXPIRED: return "expired: waited too long and was dropped";
        default: return "unknown error";
    }
}

int
colugo_last_error (void)
{
    return s_last_error;
}

void
colugo_set_last_error (int err)
{
    s_last_error = err;
}
