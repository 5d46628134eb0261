/*  zap.c: the ZAP handler (RFC 27) on a thread of its own.

    libzmq asks inproc://zeromq.zap.01 of its context about every handshake
    on a listener that has a ZAP domain (and on the trunk's out, the PLAIN
    server of the handshakes it dials: trunk.h). The answer must not wait for any
    node's loop (a slow callback would stall every handshake in the
    process), and it needs no state: the domain is the identity the
    listener must have, and the PLAIN user name must equal it. So one actor per process, shared
    by every node, answering from its own thread; it touches no node.
*/
#include <pthread.h>
#include <string.h>
#include <czmq.h>
#include "logging.h"
#include "zap.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_USER_MAX 64  //  a node uuid, as DNS-SD records may carry

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_actor;
static unsigned s_users;

bool
colugo__zap_accepts (const char *domain, const char *mechanism, const char *username,
                     const char *password)
{
    //  NULL-mechanism connections never carry a domain of ours; listeners
    //  with one are PLAIN servers, and so is the trunk's out, which dials
    //  (its domain is the identity it dialled). A password, if any, is the
    //  uuid of the node whose trunk in answered (trunk.h), made the
    //  connection's User-Id: it must be the node of the identity dialled,
    //  "<node uuid>:<socket id>".
    size_t length = password ? strlen (password) : 0;
    return domain && *domain && mechanism && strcmp (mechanism, "PLAIN") == 0 && username
           && strcmp (username, domain) == 0 && password
           && (length == 0
               || (colugo__printable_ascii (password, S_USER_MAX)
                   && strncmp (domain, password, length) == 0 && domain [length] == ':'));
}

//  Answers one request: [version][request id][domain][address][identity]
//  [mechanism][credentials...], replying [version][request id][status code]
//  [status text][user id][metadata]: the user id is the password when
//  there is one (a node's uuid), else the domain.
static void
s_answer (zsock_t *handler)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    char *username = zmsg_popstr (request);
    char *password = zmsg_popstr (request);
    bool ok = version && strcmp (version, "1.0") == 0
              && colugo__zap_accepts (domain, mechanism, username, password);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, id ? id : "");
    zmsg_addstr (reply, ok ? "200" : "400");
    zmsg_addstr (reply, ok ? "OK" : "not the service this peer asked for");
    zmsg_addstr (reply, !ok ? "" : *password ? password : domain);
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, handler);
    zstr_free (&version);
    zstr_free (&id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zstr_free (&username);
    zstr_free (&password);
    zmsg_destroy (&request);
}

static void
s_actor_fn (zsock_t *pipe, void *arg)
{
    (void) arg;
    zsock_t *handler = zsock_new (ZMQ_REP);
    bool bound = handler && zsock_bind (handler, S_ZAP_ENDPOINT) == 0;
    zsock_signal (pipe, 0);  //  zactor_new waits for this
    zstr_send (pipe, bound ? "BOUND" : "TAKEN");
    if (!bound) {
        zsock_destroy (&handler);
        return;
    }
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which == handler)
            s_answer (handler);
        else if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool quit = !command || strcmp (command, "$TERM") == 0;
            zstr_free (&command);
            if (quit)
                break;
        }
        else if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
}

bool
colugo__zap_acquire (void)
{
    pthread_mutex_lock (&s_lock);
    if (!s_actor) {
        zactor_t *actor = zactor_new (s_actor_fn, NULL);
        char *status = actor ? zstr_recv (actor) : NULL;
        if (status && strcmp (status, "BOUND") == 0)
            s_actor = actor;
        else
            zactor_destroy (&actor);
        zstr_free (&status);
        if (!s_actor) {
            pthread_mutex_unlock (&s_lock);
            colugo__warn ("another ZAP handler runs in this process: listeners have no verified "
                          "port, and connections to them are not checked");
            return false;
        }
    }
    s_users++;
    pthread_mutex_unlock (&s_lock);
    return true;
}

void
colugo__zap_release (void)
{
    pthread_mutex_lock (&s_lock);
    if (s_users && --s_users == 0)
        zactor_destroy (&s_actor);
    pthread_mutex_unlock (&s_lock);
}
