/*  publisher.c: a PUB socket bound on an ephemeral port and advertised,
    and a place on the node's trunk (trunk.h), where Colugo subscribers of
    other nodes get what it sends; original Colugo nodes and plain ZeroMQ
    peers dial its own port.
*/
#include <stdlib.h>
#include "colugo/error.h"
#include "colugo/publisher.h"
#include "sock.h"
#include "trunk.h"

struct colugo_publisher_t {
    colugo_socket_t base;        //  first: the socket is the publisher
    colugo__trunk_pub_t *trunk;  //  NULL if the node has no trunk
};

static size_t
s_more_peers (colugo_socket_t *socket)
{
    colugo_publisher_t *self = (colugo_publisher_t *) socket->owner;
    return self->trunk ? colugo__trunk_pub_subscribers (self->trunk) : 0;
}

//  After what it sent, its subscribers on the trunk hear that it ended.
static void
s_destroy_kind (colugo_socket_t *socket)
{
    colugo__trunk_pub_end (&((colugo_publisher_t *) socket->owner)->trunk);
}

uint64_t
colugo__publisher_trunk_key (colugo_socket_t *socket)
{
    colugo_publisher_t *self = (colugo_publisher_t *) socket->owner;
    return self->trunk ? colugo__trunk_pub_key (self->trunk) : 0;
}

colugo_socket_t *
colugo__publisher_new (colugo__env_t *env, const char *topic, const char *type, int *error)
{
    colugo_publisher_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error = COLUGO_ENOMEM;
        return NULL;
    }
    self->base.owner = self;
    self->base.more_peers = s_more_peers;
    self->base.destroy_kind = s_destroy_kind;
    *error = colugo__socket_init (&self->base, env, COLUGO_PUBLISHER, topic, type);
    //  (A topic that starts as the node link's messages do stays off the
    //  trunk, whose sockets carry those: its subscribers dial its own port.)
    if (!*error && env->trunk && colugo__trunk_carries (topic)
        && !(self->trunk = colugo__trunk_pub_new (env->trunk, topic)))
        *error = COLUGO_ENOMEM;
    if (*error) {
        colugo__socket_free (&self->base);
        return NULL;
    }
    return &self->base;
}

int
colugo_publisher_send (colugo_publisher_t *self, const void *data, size_t size)
{
    if (!self || (!data && size))
        return COLUGO_EINVAL;
    size_t max = self->base.env->max_message_size;
    if (max && size > max)
        return COLUGO_ETOOBIG;
    if (zmq_send (self->base.handle, data, size, ZMQ_DONTWAIT) < 0) {
        colugo__warn ("topic '%s': cannot publish: %s", self->base.topic,
                      zmq_strerror (zmq_errno ()));
        return COLUGO_EZMQ;
    }
    if (self->trunk && colugo__trunk_pub_send (self->trunk, data, size))
        return COLUGO_EZMQ;
    self->base.stats.sent++;
    return 0;
}

colugo_socket_t *
colugo_publisher_socket (colugo_publisher_t *self)
{
    return &self->base;
}

void
colugo_publisher_destroy (colugo_publisher_t **self_p)
{
    if (*self_p)
        colugo__socket_close (&(*self_p)->base);
    *self_p = NULL;
}
