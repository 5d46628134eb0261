/*  colugo/subscriber.h: a subscriber receives every message on a topic.

    It connects to every publisher of its topic, on any node (this one
    included), as discovery finds them, and disconnects from those that go.
    Its handler (colugo_message_fn in colugo/node.h) gets each message as the
    topic and (data, size): the bytes belong to Colugo and are valid only
    during the call. A message of several frames delivers its first frame
    and counts a drop. Created by colugo_node_add_subscriber (); owned by the
    node.
*/
#ifndef COLUGO_SUBSCRIBER_H_INCLUDED
#define COLUGO_SUBSCRIBER_H_INCLUDED

#include "colugo/node.h"

COLUGO_BEGIN_DECLS

//  Returns the subscriber's common socket part.
COLUGO_EXPORT colugo_socket_t *colugo_subscriber_socket (colugo_subscriber_t *self);

//  Destroys the subscriber before the node goes: its handler is not called
//  again; the socket is closed and freed once control returns to the event
//  loop (or in colugo_node_destroy ()). Safe on NULL; sets *self_p to NULL.
COLUGO_EXPORT void colugo_subscriber_destroy (colugo_subscriber_t **self_p);

COLUGO_END_DECLS

#endif
