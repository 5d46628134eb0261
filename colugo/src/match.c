/*  match.c: which sockets connect to which (see match.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "match.h"

static void
s_list_destructor (void **item)
{
    zlistx_destroy ((zlistx_t **) item);
}

zhashx_t *
colugo__topics_new (void)
{
    zhashx_t *topics = zhashx_new ();
    if (topics)
        zhashx_set_destructor (topics, s_list_destructor);
    return topics;
}

bool
colugo__topics_update (zhashx_t *topics, colugo_socket_t *socket, bool add)
{
    void *id = (void *) (uintptr_t) socket->id;
    zlistx_t *ids = (zlistx_t *) zhashx_lookup (topics, socket->topic);
    if (!add) {
        void *handle = ids ? zlistx_find (ids, id) : NULL;
        if (handle)
            zlistx_delete (ids, handle);
        if (ids && zlistx_size (ids) == 0)
            zhashx_delete (topics, socket->topic);
        return true;
    }
    if (!ids && (ids = zlistx_new ()) && zhashx_insert (topics, socket->topic, ids))
        zlistx_destroy (&ids);
    return ids && zlistx_add_end (ids, id);
}

//  Room for a copy of count socket ids, or NULL (logged).
static uint64_t *
s_ids_new (size_t count)
{
    uint64_t *ids = malloc ((count ? count : 1) * sizeof *ids);
    if (!ids)
        colugo__error ("out of memory: cannot update %zu sockets", count);
    return ids;
}

//  Calls fn for each of the sockets whose ids were copied that is still
//  there (fn may close sockets, or add some), then frees the copy.
static void
s_each_id (colugo__u64map_t *sockets, uint64_t *ids, size_t count, colugo__socket_each_fn *fn,
           void *arg)
{
    colugo_socket_t *socket;
    for (size_t i = 0; i < count; i++)
        if ((socket = colugo__u64map_get (sockets, ids [i])))
            fn (socket, arg);
    free (ids);
}

//  colugo__match_each for the sockets of one topic.
static void
s_each_of_topic (colugo__u64map_t *sockets, zhashx_t *topics, const char *topic,
                 colugo__socket_each_fn *fn, void *arg)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (topics, topic);
    size_t count = list ? zlistx_size (list) : 0, taken = 0;
    uint64_t *ids = count ? s_ids_new (count) : NULL;
    if (!ids)
        return;
    for (void *id = zlistx_first (list); id && taken < count; id = zlistx_next (list))
        ids [taken++] = (uint64_t) (uintptr_t) id;
    s_each_id (sockets, ids, taken, fn, arg);
}

void
colugo__match_each (colugo__u64map_t *sockets, colugo__socket_each_fn *fn, void *arg)
{
    size_t count = sockets->size, cursor = 0, taken = 0;
    uint64_t *ids = s_ids_new (count);
    if (!ids)
        return;
    colugo_socket_t *socket;
    while (taken < count && (socket = colugo__u64map_next (sockets, &cursor)))
        ids [taken++] = socket->id;
    s_each_id (sockets, ids, taken, fn, arg);
}

typedef struct {
    colugo__service_event_t event;
    const colugo__service_t *service;
} s_service_change_t;

//  A Colugo service is dialled at its verified port, with the identity its
//  listener must prove; one that has none (an original Colugo node) at its
//  SRV port, unchecked.
static void
s_apply_service (colugo_socket_t *socket, void *arg)
{
    s_service_change_t *change = (s_service_change_t *) arg;
    const colugo__service_t *service = change->service;
    if (socket->kind->binds || socket->kind->service_type != service->socket_type
        || strcmp (socket->topic, service->topic))
        return;
    bool verified = *service->verified_endpoint && *service->identity;
    const char *endpoint = verified ? service->verified_endpoint : service->endpoint;
    const char *identity = verified ? service->identity : "";
    if (change->event != COLUGO__SERVICE_UP) {
        //  A mismatched service was never connected: its endpoint may now
        //  belong to another service (a port reused), which stays.
        if (!colugo__socket_forget_mismatch (socket, service->name))
            colugo__socket_remove_peer (socket, endpoint, identity, service->node_uuid,
                                        change->event == COLUGO__SERVICE_DOWN);
    }
    else if (colugo__socket_accepts (socket, service->type, service->name, endpoint,
                                     service->node_uuid, service->node_name))
        colugo__socket_add_peer (socket, endpoint, identity, service->node_uuid,
                                 service->node_name);
}

void
colugo__match_service (colugo__u64map_t *sockets, zhashx_t *topics, colugo__service_event_t event,
                       const colugo__service_t *service)
{
    s_service_change_t change = {event, service};
    s_each_of_topic (sockets, topics, service->topic, s_apply_service, &change);
}

void
colugo__match_known (colugo_socket_t *socket, const colugo__service_t *service)
{
    s_service_change_t change = {COLUGO__SERVICE_UP, service};
    s_apply_service (socket, &change);
}

//  Connects (or disconnects) two sockets of one node, if their message
//  types agree: over loopback, to the verified port when there is one.
static void
s_link (colugo_socket_t *binder, colugo_socket_t *connecter, bool link)
{
    const colugo__env_t *env = binder->env;
    char endpoint [64], key [96], identity [COLUGO__IDENTITY_MAX] = "";
    if (binder->verified_port)
        colugo__socket_identity (env->node_uuid, binder->id, identity, sizeof identity);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%u",
              binder->verified_port ? binder->verified_port : binder->port);
    snprintf (key, sizeof key, "local:%llu", (unsigned long long) binder->id);
    if (!link) {
        if (!colugo__socket_forget_mismatch (connecter, key))
            colugo__socket_remove_peer (connecter, endpoint, identity, env->node_uuid, true);
    }
    else if (colugo__socket_accepts (connecter, binder->message_type ? binder->message_type : "",
                                     key, endpoint, env->node_uuid, env->node_name))
        colugo__socket_add_peer (connecter, endpoint, identity, env->node_uuid, env->node_name);
}

typedef struct {
    colugo_socket_t *socket;
    bool link;
} s_local_change_t;

static void
s_apply_local (colugo_socket_t *other, void *arg)
{
    s_local_change_t *change = (s_local_change_t *) arg;
    colugo_socket_t *socket = change->socket;
    if (other == socket || strcmp (other->topic, socket->topic) != 0)
        return;
    if (socket->kind->binds && other->kind->kind == socket->kind->peer)
        s_link (socket, other, change->link);
    else if (change->link && other->kind->binds && socket->kind->kind == other->kind->peer)
        s_link (other, socket, true);
}

void
colugo__match_local (colugo__u64map_t *sockets, zhashx_t *topics, colugo_socket_t *socket,
                     bool link)
{
    s_local_change_t change = {socket, link};
    s_each_of_topic (sockets, topics, socket->topic, s_apply_local, &change);
}
