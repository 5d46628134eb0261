/*  zap.h: the process's ZAP handler, which lets a listener check during the
    ZMTP handshake that the peer dialling it wants this very service.

    A binding socket listens twice: an open port (the SRV record's, NULL
    mechanism) for original Colugo nodes and plain ZeroMQ peers, and a
    verified port (TXT verified_port) whose listener is a PLAIN server with
    its identity ("<node uuid>:<socket id>") as ZAP domain. A Colugo peer
    dials the verified port with the identity it read in the record as PLAIN
    user name; the handler accepts exactly when the two are equal. So a
    port reused by another service after a crash, or a record that names
    another node's endpoint, never yields a connection: the handshake fails.
    PLAIN here authenticates nothing against a hostile peer (that is the
    security issue's CURVE keys); it makes the two ends agree on which
    service this connection is for.
*/
#ifndef COLUGO__ZAP_H_INCLUDED
#define COLUGO__ZAP_H_INCLUDED

#include <stdbool.h>

//  Starts the handler for this process, or counts one more user of it.
//  Returns false if it cannot run (another ZAP handler is bound in this
//  ZeroMQ context, e.g. the application's zauth): listeners then have no
//  verified port, and peers dial the open one, unchecked.
bool colugo__zap_acquire (void);
//  One user less; the last one stops the handler.
void colugo__zap_release (void);

//  Whether a ZAP request (its domain, mechanism and PLAIN user name and
//  password) is accepted: exposed for the unit tests.
bool colugo__zap_accepts (const char *domain, const char *mechanism, const char *username,
                          const char *password);

#endif
