/*  dnssd_browser.h: a DNS-SD service browser that talks to avahi-daemon
    over a D-Bus connection of its own, driven by an AvahiPoll, and starts
    at once: org.freedesktop.Avahi.Server2.ServiceBrowserPrepare, then
    org.freedesktop.Avahi.ServiceBrowser.Start on the object it returns.
    avahi-client's avahi_service_browser_new () uses Server.ServiceBrowserNew,
    which avahi-daemon 0.8 starts only 10 ms later (dbus-protocol.c,
    DEFAULT_START_DELAY_MS), so a new browser heard of services already in
    the cache only ~11 ms after asking. Prepare + Start does not need that
    delay: our match rules are in place before Start, so no signal is lost.

    A stand-in for avahi_service_browser_new () / _free (): the callback
    takes the same parameters as avahi-client's AvahiServiceBrowserCallback
    but for the first, and is called the same way (name is NULL except for
    NEW and REMOVE; type and domain are the browser's for the other events).
    Differences a caller must know:
    - AVAHI_LOOKUP_RESULT_OUR_OWN is never set: the daemon sets it for
      services published over the same D-Bus connection, and ours publishes
      nothing. AVAHI_LOOKUP_RESULT_LOCAL is set as usual: a caller that
      skips its own services must compare names among local results.
    - The reason for a FAILURE is colugo__browser_errno (), not
      avahi_client_errno ().
    - Every call to the bus or the daemon is bounded (see below) instead of
      libdbus's 25 s default.
    Everything runs on the thread of the AvahiPoll; a browser is not
    thread-safe.
*/
#ifndef COLUGO__DNSSD_BROWSER_H_INCLUDED
#define COLUGO__DNSSD_BROWSER_H_INCLUDED

#include <avahi-common/address.h>
#include <avahi-common/defs.h>
#include <avahi-common/strlst.h>
#include <avahi-common/watch.h>

typedef struct colugo__browser colugo__browser_t;

//  AvahiServiceBrowserCallback, with our browser first. Events:
//  AVAHI_BROWSER_NEW / _REMOVE (interface, protocol, name, type, domain and
//  flags from the daemon), _CACHE_EXHAUSTED, _ALL_FOR_NOW, and
//  _FAILURE: the daemon reported a failure, went away (its bus name lost
//  its owner, or the bus connection closed), with the reason in
//  colugo__browser_errno (). After a FAILURE the browser reports nothing
//  more: free it and make a new one (once the daemon is back).
typedef void (colugo__browser_fn) (colugo__browser_t *browser, AvahiIfIndex interface,
                                   AvahiProtocol protocol, AvahiBrowserEvent event,
                                   const char *name, const char *type, const char *domain,
                                   AvahiLookupResultFlags flags, void *arg);

//  Connects privately to the system bus (DBUS_SYSTEM_BUS_ADDRESS if set),
//  prepares a browser for type in domain (NULL or "" for the default) on
//  interface and protocol (AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC for all),
//  subscribes to its signals and starts it. Blocks until the daemon has
//  answered, at most COLUGO__BROWSER_CALL_MS in all (a running daemon
//  answers within a millisecond or so; see dnssd_browser.c for why this
//  bound). Returns the browser, or NULL with *error set to an AVAHI_ERR_
//  number (avahi_strerror () tells it), fn then never being called:
//  AVAHI_ERR_NOT_SUPPORTED when the daemon has no Server2 interface (avahi
//  older than 0.8: use avahi_service_browser_new () instead),
//  AVAHI_ERR_NO_DAEMON when no daemon (or no bus) answers,
//  AVAHI_ERR_TIMEOUT when the bus or the daemon did not answer in time,
//  or what the daemon said (such as AVAHI_ERR_TOO_MANY_OBJECTS).
//  fn (self, ..., arg) is called from api's loop, never from inside this
//  call; the browser belongs to the caller, who frees it.
#define COLUGO__BROWSER_CALL_MS 3000
colugo__browser_t *colugo__browser_new (const AvahiPoll *api, AvahiIfIndex interface,
                                        AvahiProtocol protocol, const char *type,
                                        const char *domain, AvahiLookupFlags flags,
                                        colugo__browser_fn *fn, void *arg, int *error);

//  Whether avahi-daemon is on the system bus (its name has an owner, which
//  a stalled daemon keeps): 1, 0, or -1 when the bus does not tell within
//  half a second a call. Blocking; a connection of its own, closed at
//  once. Asks dbus-daemon only, never the daemon.
int colugo__dnssd_daemon_present (void);

//  The AVAHI_ERR_ number of the last FAILURE (0 before one).
int colugo__browser_errno (colugo__browser_t *self);

//  Frees the browser: frees its object in the daemon (Free), removes the
//  match rules, closes the connection (the daemon also drops whatever the
//  connection owned when it closes). Sends without waiting for answers:
//  blocks at most COLUGO__BROWSER_FLUSH_MS, and only if the bus does not
//  read what we write. May be called from the browser's own callback (it
//  then reports nothing more, and is freed when the callback returns).
//  Safe on NULL; sets *self_p NULL.
#define COLUGO__BROWSER_FLUSH_MS 500
void colugo__browser_free (colugo__browser_t **self_p);

//  --------------------------------------------------------------------------
//  Resolvers on a browser's connection: org.freedesktop.Avahi.Server2.
//  ServiceResolverPrepare, then ServiceResolver.Start. avahi-client's
//  avahi_service_resolver_new () uses Server.ServiceResolverNew, which the
//  daemon also starts only 10 ms later; a resolve of a cached service takes
//  well under a millisecond this way. For what the browser found (any
//  name, type and domain, in fact: the connection is only shared).
//
//  The callback takes AvahiServiceResolverCallback's parameters but for the
//  first. FOUND may come again when the records change (the resolver
//  follows them, as avahi-client's does); FAILURE is the daemon's failure
//  (colugo__resolver_errno () tells it), a call not answered within
//  COLUGO__BROWSER_CALL_MS, or the browser's FAILURE (its resolvers fail
//  with it, after it): nothing more is reported then. Never called from
//  inside colugo__resolver_new (); may free the resolver.
typedef struct colugo__resolver colugo__resolver_t;
typedef void (colugo__resolver_fn) (colugo__resolver_t *resolver, AvahiIfIndex interface,
                                    AvahiProtocol protocol, AvahiResolverEvent event,
                                    const char *name, const char *type, const char *domain,
                                    const char *host, const AvahiAddress *address, uint16_t port,
                                    AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg);

//  Sends the request and returns at once (no reply is waited for); NULL
//  with *error set when it cannot be sent (the browser failed, no memory).
colugo__resolver_t *colugo__resolver_new (colugo__browser_t *browser, AvahiIfIndex interface,
                                          AvahiProtocol protocol, const char *name,
                                          const char *type, const char *domain,
                                          AvahiProtocol aprotocol, AvahiLookupFlags flags,
                                          colugo__resolver_fn *fn, void *arg, int *error);
int colugo__resolver_errno (colugo__resolver_t *self);

//  Frees the resolver (the daemon's object without waiting). Its browser
//  may be gone already: a resolver outlives it inert, reporting nothing.
//  Safe on NULL; sets *self_p NULL.
void colugo__resolver_free (colugo__resolver_t **self_p);

#endif
