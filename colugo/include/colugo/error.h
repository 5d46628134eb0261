/*  colugo/error.h: error codes.

    Every call that can fail returns an int: 0 (or a positive id) on success,
    one of the negative codes below on failure. Calls that return a pointer
    return NULL on failure and leave the code in colugo_last_error ().
*/
#ifndef COLUGO_ERROR_H_INCLUDED
#define COLUGO_ERROR_H_INCLUDED

#include "colugo/export.h"

COLUGO_BEGIN_DECLS

enum {
    COLUGO_OK = 0,
    COLUGO_EINVAL = -1,     //  an argument is out of range or NULL
    COLUGO_ETOPIC = -2,     //  a topic name is empty, too long, not printable UTF-8
    COLUGO_ENOMEM = -3,     //  out of memory
    COLUGO_ENODAEMON = -4,  //  no avahi-daemon (or no D-Bus system bus) to talk to
    COLUGO_EAVAHI = -5,     //  Avahi refused a request (details in the log)
    COLUGO_EZMQ = -6,       //  a ZeroMQ call failed (details in the log)
    COLUGO_ESTATE = -7,     //  the call is not allowed in the object's state
    COLUGO_EALREADY = -8,   //  already done (a request answered a second time)
    COLUGO_ENOTFOUND = -9,  //  no such request, timer or peer
    COLUGO_ETOOBIG = -10,   //  a message is larger than the configured maximum
    COLUGO_EEXPIRED = -11,  //  too late: the request waited past its expiry and was dropped
};

//  Returns a short English description of an error code; never NULL.
COLUGO_EXPORT const char *colugo_strerror (int err);

//  Returns the error code left by the last failed Colugo call on this thread
//  that returned NULL (0 if none failed yet).
COLUGO_EXPORT int colugo_last_error (void);

//  Leaves err for colugo_last_error () on this thread: for layers built on
//  Colugo (colugo/proto.h, colugo/json.h) that return NULL.
COLUGO_EXPORT void colugo_set_last_error (int err);

COLUGO_END_DECLS

#endif
