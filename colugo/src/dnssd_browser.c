/*  dnssd_browser.c: one DNS-SD service browser on a private D-Bus
    connection to avahi-daemon, without the daemon's 10 ms start delay.

    Why its own connection: avahi-client hides its DBusConnection, and the
    daemon keeps a browser's object per connection (the signals are sent to
    the connection's unique name). Why Server2: Server.ServiceBrowserNew
    starts the daemon's browser 10 ms late (avahi-daemon 0.8 delays it so
    that a client has time to subscribe to the new path; dbus_select_browser
    in dbus-protocol.c), while Server2.ServiceBrowserPrepare creates it
    stopped and ServiceBrowser.Start starts it at once: we add the match
    rule for the path in between, so nothing can come before we listen.
    The signals are checked before anything is reported: the path is ours,
    the sender is the daemon that answered Prepare, the arguments have the
    types of the introspection data (org.freedesktop.Avahi.ServiceBrowser.xml)
    and strings fit in a DNS label or name.

    The connection runs on the caller's AvahiPoll, as avahi-client's does
    (its dbus-watch-glue.c): libdbus's watches become AvahiWatches, its
    timeouts AvahiTimeouts, and a zero timeout dispatches what was read.
    The daemon going away is seen as NameOwnerChanged for
    org.freedesktop.Avahi (match rule added before Prepare) or as the bus
    closing (Disconnected), and reported as one FAILURE.

    Bounds: libdbus waits 25 s for a reply by default, and a stalled daemon
    (SIGSTOPped, or swamped) makes each avahi-client call wait that long.
    Here the calls of colugo__browser_new () share one deadline,
    COLUGO__BROWSER_CALL_MS (3 s): far above what a working daemon takes
    (well under a millisecond per call on this machine), above the
    discovery watchdog's 2 s (discovery.c, S_STALL_MS), so that a stall
    is still reported as one, and short enough that the caller's retry
    runs soon after the daemon is back. Freeing waits for no answer.
*/
#include "dnssd_browser.h"
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/timeval.h>
#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#define S_AVAHI_NAME "org.freedesktop.Avahi"
#define S_AVAHI_SERVER_PATH "/"
#define S_AVAHI_SERVER2 "org.freedesktop.Avahi.Server2"
#define S_AVAHI_BROWSER "org.freedesktop.Avahi.ServiceBrowser"
#define S_AVAHI_RESOLVER "org.freedesktop.Avahi.ServiceResolver"
#define S_SYSTEM_BUS_DEFAULT "unix:path=/var/run/dbus/system_bus_socket"
#define S_DISPATCH_MAX 64  //  messages per turn of the loop: it has other work
#define S_RULE_MAX 512

struct colugo__browser {
    const AvahiPoll *api;
    DBusConnection *bus;     //  private, ours alone
    AvahiTimeout *dispatch;  //  armed (zero) while libdbus has messages to dispatch
    char *path;              //  the daemon's object for our browser
    char *daemon;            //  unique bus name of the daemon that made it
    char *owner_rule;        //  match rule for NameOwnerChanged, once added
    char *browser_rule;      //  match rule for the browser's signals, once added
    char *resolver_rule;     //  match rule for every resolver's signals, once added
    zhashx_t *resolvers;     //  path -> colugo__resolver_t, started ones
    zlistx_t *preparing;     //  colugo__resolver_t waiting for their path
    char *type;              //  as asked, for the events without a name
    char *domain;            //  as asked, NULL for the default
    AvahiIfIndex interface;
    AvahiProtocol protocol;
    colugo__browser_fn *fn;
    void *arg;
    int error;         //  AVAHI_ERR_ of the FAILURE
    bool filtering;    //  our filter is on the connection
    bool failed;       //  FAILURE reported: nothing more is
    bool dispatching;  //  inside dbus_connection_dispatch (): the callback may run
    bool doomed;       //  freed from its own callback: freed when dispatch returns
};

struct colugo__resolver {
    colugo__browser_t *browser;  //  NULL once the browser went
    DBusPendingCall *pending;    //  Prepare, then Start, while unanswered
    void *preparing;             //  our handle in browser->preparing
    char *path;                  //  the daemon's object, once prepared
    colugo__resolver_fn *fn;
    void *arg;
    AvahiIfIndex interface;
    AvahiProtocol protocol;
    char *name, *type, *domain;
    int error;
    bool failed;   //  FAILURE reported: nothing more is
    bool calling;  //  inside fn: a free waits until it returns
    bool doomed;
};

//  A libdbus timeout on the AvahiPoll. Counted: handling it may remove it
//  (libdbus then frees its data) while we still look at it.
typedef struct {
    const AvahiPoll *api;
    DBusTimeout *dbus;
    AvahiTimeout *avahi;  //  NULL once libdbus removed it
    int refs;
} s_timeout_t;

//  --------------------------------------------------------------------------
//  Errors

//  Avahi's D-Bus error names, in the order of their AVAHI_ERR_ numbers (0,
//  -1, -2...), from avahi-common/dbus.c (that file is not part of the
//  installed API).
static const char *const s_avahi_errors [] = {"Success",
                                              "Failure",
                                              "BadStateError",
                                              "InvalidHostNameError",
                                              "InvalidDomainNameError",
                                              "NoNetworkError",
                                              "InvalidTTLError",
                                              "IsPatternError",
                                              "CollisionError",
                                              "InvalidRecordError",
                                              "InvalidServiceNameError",
                                              "InvalidServiceTypeError",
                                              "InvalidPortError",
                                              "InvalidKeyError",
                                              "InvalidAddressError",
                                              "TimeoutError",
                                              "TooManyClientsError",
                                              "TooManyObjectsError",
                                              "TooManyEntriesError",
                                              "OSError",
                                              NULL /* AccessDenied: a D-Bus name, below */,
                                              "InvalidOperationError",
                                              "DBusError",
                                              "DisconnectedError",
                                              "NoMemoryError",
                                              "InvalidObjectError",
                                              "NoDaemonError",
                                              "InvalidInterfaceError",
                                              "InvalidInterfaceProtocolError",
                                              "InvalidFlagsError",
                                              "NotFoundError",
                                              "InvalidConfigurationError",
                                              "VersionMismatchError",
                                              "InvalidServiceSubtypeError",
                                              "InvalidPacketError",
                                              "InvalidDNSErrorError",
                                              "DNSFORMERR",
                                              "DNSSERVFAIL",
                                              "DNSNXDOMAIN",
                                              "DNSNOTIMP",
                                              "DNSREFUSED",
                                              "DNSYXDOMAIN",
                                              "DNSYXRRSET",
                                              "DNSNXRRSET",
                                              "DNSNOTAUTH",
                                              "DNSNOTZONE",
                                              "InvalidRDataError",
                                              "InvalidDNSClassError",
                                              "InvalidDNSTypeError",
                                              "NotSupportedError",
                                              "NotPermittedError",
                                              "InvalidArgumentError",
                                              "IsEmptyError",
                                              "NoChangeError"};

static const struct {
    const char *name;
    int error;
} s_dbus_errors [] = {
    {DBUS_ERROR_NO_MEMORY, AVAHI_ERR_NO_MEMORY},
    {DBUS_ERROR_SERVICE_UNKNOWN, AVAHI_ERR_NO_DAEMON},
    {DBUS_ERROR_NAME_HAS_NO_OWNER, AVAHI_ERR_NO_DAEMON},
    {DBUS_ERROR_BAD_ADDRESS, AVAHI_ERR_NO_DAEMON},
    {DBUS_ERROR_NO_SERVER, AVAHI_ERR_NO_DAEMON},
    {DBUS_ERROR_FILE_NOT_FOUND, AVAHI_ERR_NO_DAEMON},
    {DBUS_ERROR_UNKNOWN_METHOD, AVAHI_ERR_NOT_SUPPORTED},  //  no Server2 (avahi < 0.8)
    {DBUS_ERROR_UNKNOWN_INTERFACE, AVAHI_ERR_NOT_SUPPORTED},
    {DBUS_ERROR_NOT_SUPPORTED, AVAHI_ERR_NOT_SUPPORTED},
    {DBUS_ERROR_LIMITS_EXCEEDED, AVAHI_ERR_TOO_MANY_OBJECTS},
    {DBUS_ERROR_ACCESS_DENIED, AVAHI_ERR_ACCESS_DENIED},
    {DBUS_ERROR_AUTH_FAILED, AVAHI_ERR_ACCESS_DENIED},
    {DBUS_ERROR_NO_REPLY, AVAHI_ERR_TIMEOUT},  //  what a call that timed out gets
    {DBUS_ERROR_TIMEOUT, AVAHI_ERR_TIMEOUT},
    {DBUS_ERROR_TIMED_OUT, AVAHI_ERR_TIMEOUT},
    {DBUS_ERROR_NO_NETWORK, AVAHI_ERR_NO_NETWORK},
    {DBUS_ERROR_DISCONNECTED, AVAHI_ERR_DISCONNECTED},
    {DBUS_ERROR_INVALID_ARGS, AVAHI_ERR_INVALID_ARGUMENT},
};

static int
s_error_number (const char *name)
{
    static const char prefix [] = S_AVAHI_NAME ".";
    if (!name)
        return AVAHI_ERR_DBUS_ERROR;
    if (strncmp (name, prefix, sizeof prefix - 1) == 0) {
        const char *tail = name + sizeof prefix - 1;
        for (int i = 1; i < (int) (sizeof s_avahi_errors / sizeof *s_avahi_errors); i++)
            if (s_avahi_errors [i] && strcmp (tail, s_avahi_errors [i]) == 0)
                return -i;
    }
    for (size_t i = 0; i < sizeof s_dbus_errors / sizeof *s_dbus_errors; i++)
        if (strcmp (name, s_dbus_errors [i].name) == 0)
            return s_dbus_errors [i].error;
    return AVAHI_ERR_DBUS_ERROR;
}

//  --------------------------------------------------------------------------
//  libdbus on the AvahiPoll

static AvahiWatchEvent
s_avahi_events (unsigned int flags)
{
    return (AvahiWatchEvent) (((flags & DBUS_WATCH_READABLE) ? AVAHI_WATCH_IN : 0)
                              | ((flags & DBUS_WATCH_WRITABLE) ? AVAHI_WATCH_OUT : 0));
}

static void
s_on_watch (AvahiWatch *avahi, int fd, AvahiWatchEvent events, void *arg)
{
    (void) avahi;
    (void) fd;
    unsigned int flags = ((events & AVAHI_WATCH_IN) ? DBUS_WATCH_READABLE : 0)
                         | ((events & AVAHI_WATCH_OUT) ? DBUS_WATCH_WRITABLE : 0)
                         | ((events & AVAHI_WATCH_ERR) ? DBUS_WATCH_ERROR : 0)
                         | ((events & AVAHI_WATCH_HUP) ? DBUS_WATCH_HANGUP : 0);
    //  What it read is dispatched from s_on_dispatch; a closed connection
    //  queues Disconnected, which is dispatched the same way.
    dbus_watch_handle ((DBusWatch *) arg, flags);
}

//  Makes the AvahiWatch follow the DBusWatch: one while it is enabled, with
//  its events.
static dbus_bool_t
s_watch_sync (DBusWatch *watch, void *arg)
{
    colugo__browser_t *self = (colugo__browser_t *) arg;
    AvahiWatch *avahi = (AvahiWatch *) dbus_watch_get_data (watch);
    AvahiWatchEvent events = s_avahi_events (dbus_watch_get_flags (watch));
    if (dbus_watch_get_enabled (watch)) {
        if (avahi)
            self->api->watch_update (avahi, events);
        else {
            avahi = self->api->watch_new (self->api, dbus_watch_get_unix_fd (watch), events,
                                          s_on_watch, watch);
            if (!avahi)
                return FALSE;
            dbus_watch_set_data (watch, avahi, NULL);
        }
    }
    else if (avahi) {
        self->api->watch_free (avahi);
        dbus_watch_set_data (watch, NULL, NULL);
    }
    return TRUE;
}

static void
s_watch_toggled (DBusWatch *watch, void *arg)
{
    s_watch_sync (watch, arg);
}

static void
s_watch_remove (DBusWatch *watch, void *arg)
{
    colugo__browser_t *self = (colugo__browser_t *) arg;
    AvahiWatch *avahi = (AvahiWatch *) dbus_watch_get_data (watch);
    if (avahi)
        self->api->watch_free (avahi);
    dbus_watch_set_data (watch, NULL, NULL);
}

static void
s_timeout_unref (void *arg)
{
    s_timeout_t *timeout = (s_timeout_t *) arg;
    if (--timeout->refs > 0)
        return;
    if (timeout->avahi)
        timeout->api->timeout_free (timeout->avahi);
    free (timeout);
}

//  libdbus timeouts repeat every interval while enabled; Avahi's fire once.
static void
s_timeout_arm (s_timeout_t *timeout)
{
    struct timeval when;
    if (dbus_timeout_get_enabled (timeout->dbus)) {
        avahi_elapse_time (&when, (unsigned) dbus_timeout_get_interval (timeout->dbus), 0);
        timeout->api->timeout_update (timeout->avahi, &when);
    }
    else
        timeout->api->timeout_update (timeout->avahi, NULL);
}

static void
s_on_timeout (AvahiTimeout *avahi, void *arg)
{
    (void) avahi;
    s_timeout_t *timeout = (s_timeout_t *) arg;
    timeout->refs++;
    dbus_timeout_handle (timeout->dbus);
    if (timeout->avahi)  //  not removed meanwhile
        s_timeout_arm (timeout);
    s_timeout_unref (timeout);
}

static dbus_bool_t
s_timeout_add (DBusTimeout *dbus, void *arg)
{
    colugo__browser_t *self = (colugo__browser_t *) arg;
    s_timeout_t *timeout = calloc (1, sizeof *timeout);
    if (!timeout)
        return FALSE;
    timeout->api = self->api;
    timeout->dbus = dbus;
    timeout->refs = 1;  //  libdbus's, dropped when it frees the timeout's data
    timeout->avahi = self->api->timeout_new (self->api, NULL, s_on_timeout, timeout);
    if (!timeout->avahi) {
        free (timeout);
        return FALSE;
    }
    dbus_timeout_set_data (dbus, timeout, s_timeout_unref);
    s_timeout_arm (timeout);
    return TRUE;
}

static void
s_timeout_remove (DBusTimeout *dbus, void *arg)
{
    (void) arg;
    s_timeout_t *timeout = (s_timeout_t *) dbus_timeout_get_data (dbus);
    if (timeout && timeout->avahi) {
        timeout->api->timeout_free (timeout->avahi);
        timeout->avahi = NULL;
    }
}

static void
s_timeout_toggled (DBusTimeout *dbus, void *arg)
{
    (void) arg;
    s_timeout_t *timeout = (s_timeout_t *) dbus_timeout_get_data (dbus);
    if (timeout && timeout->avahi)
        s_timeout_arm (timeout);
}

static void
s_request_dispatch (colugo__browser_t *self)
{
    static const struct timeval now = {0, 0};
    self->api->timeout_update (self->dispatch, &now);
}

//  Called by libdbus (with its lock held: only arm the timeout here).
static void
s_on_dispatch_status (DBusConnection *bus, DBusDispatchStatus status, void *arg)
{
    (void) bus;
    if (status == DBUS_DISPATCH_DATA_REMAINS)
        s_request_dispatch ((colugo__browser_t *) arg);
}

static void s_destroy (colugo__browser_t *self);

static void
s_on_dispatch (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    colugo__browser_t *self = (colugo__browser_t *) arg;
    self->api->timeout_update (self->dispatch, NULL);
    self->dispatching = true;
    for (int i = 0; i < S_DISPATCH_MAX && !self->doomed; i++)
        if (dbus_connection_dispatch (self->bus) != DBUS_DISPATCH_DATA_REMAINS)
            break;
    self->dispatching = false;
    if (self->doomed)
        s_destroy (self);
    else if (dbus_connection_get_dispatch_status (self->bus) == DBUS_DISPATCH_DATA_REMAINS)
        s_request_dispatch (self);
}

//  --------------------------------------------------------------------------
//  Signals

static void s_resolver_destroy (colugo__resolver_t *self);

//  Calls the resolver's callback, which may free it.
static void
s_resolver_report (colugo__resolver_t *self, AvahiIfIndex interface, AvahiProtocol protocol,
                   AvahiResolverEvent event, const char *name, const char *type, const char *domain,
                   const char *host, const AvahiAddress *address, uint16_t port,
                   AvahiStringList *txt, AvahiLookupResultFlags flags)
{
    self->calling = true;
    self->fn (self, interface, protocol, event, name, type, domain, host, address, port, txt, flags,
              self->arg);
    self->calling = false;
    if (self->doomed)
        s_resolver_destroy (self);
}

static void
s_resolver_fail (colugo__resolver_t *self, int error)
{
    if (self->failed)
        return;
    self->failed = true;
    self->error = error;
    s_resolver_report (self, self->interface, self->protocol, AVAHI_RESOLVER_FAILURE, self->name,
                       self->type, self->domain ? self->domain : "local", NULL, NULL, 0, NULL,
                       (AvahiLookupResultFlags) 0);
}

//  One resolver of the browser that has not failed yet, or NULL.
static colugo__resolver_t *
s_live_resolver (colugo__browser_t *self)
{
    colugo__resolver_t *resolver;
    for (resolver = (colugo__resolver_t *) zhashx_first (self->resolvers); resolver;
         resolver = (colugo__resolver_t *) zhashx_next (self->resolvers))
        if (!resolver->failed)
            return resolver;
    for (resolver = (colugo__resolver_t *) zlistx_first (self->preparing); resolver;
         resolver = (colugo__resolver_t *) zlistx_next (self->preparing))
        if (!resolver->failed)
            return resolver;
    return NULL;
}

static void
s_fail (colugo__browser_t *self, int error)
{
    if (self->failed)
        return;
    self->failed = true;
    self->error = error;
    self->fn (self, self->interface, self->protocol, AVAHI_BROWSER_FAILURE, NULL, self->type,
              self->domain, (AvahiLookupResultFlags) 0, self->arg);
    //  Its resolvers went with the connection or the daemon. Each callback
    //  may free resolvers (or the browser): look again after each.
    colugo__resolver_t *resolver;
    while (!self->doomed && (resolver = s_live_resolver (self)))
        s_resolver_fail (resolver, error);
}

static void
s_on_owner_changed (colugo__browser_t *self, DBusMessage *msg)
{
    const char *name, *old_owner, *new_owner;
    const char *sender = dbus_message_get_sender (msg);
    if (!sender || strcmp (sender, DBUS_SERVICE_DBUS) != 0
        || !dbus_message_get_args (msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner,
                                   DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID))
        return;
    //  Our daemon lost the name (it exited, or another took over): our
    //  object went with it.
    if (strcmp (name, S_AVAHI_NAME) == 0 && self->daemon && strcmp (old_owner, self->daemon) == 0)
        s_fail (self, AVAHI_ERR_DISCONNECTED);
}

static void
s_on_browser_signal (colugo__browser_t *self, DBusMessage *msg)
{
    const char *path = dbus_message_get_path (msg);
    const char *sender = dbus_message_get_sender (msg);
    const char *member = dbus_message_get_member (msg);
    if (!path || !sender || !member || strcmp (path, self->path) != 0
        || strcmp (sender, self->daemon) != 0)
        return;
    AvahiBrowserEvent event;
    if (strcmp (member, "ItemNew") == 0)
        event = AVAHI_BROWSER_NEW;
    else if (strcmp (member, "ItemRemove") == 0)
        event = AVAHI_BROWSER_REMOVE;
    else if (strcmp (member, "AllForNow") == 0)
        event = AVAHI_BROWSER_ALL_FOR_NOW;
    else if (strcmp (member, "CacheExhausted") == 0)
        event = AVAHI_BROWSER_CACHE_EXHAUSTED;
    else if (strcmp (member, "Failure") == 0) {
        const char *error = NULL;
        if (!dbus_message_get_args (msg, NULL, DBUS_TYPE_STRING, &error, DBUS_TYPE_INVALID))
            error = NULL;
        s_fail (self, error ? s_error_number (error) : AVAHI_ERR_FAILURE);
        return;
    }
    else
        return;
    if (event == AVAHI_BROWSER_ALL_FOR_NOW || event == AVAHI_BROWSER_CACHE_EXHAUSTED) {
        self->fn (self, self->interface, self->protocol, event, NULL, self->type, self->domain,
                  (AvahiLookupResultFlags) 0, self->arg);
        return;
    }
    dbus_int32_t interface, protocol;
    dbus_uint32_t flags;
    const char *name, *type, *domain;
    //  libdbus checked that the strings are valid UTF-8 without NULs;
    //  their lengths are ours to check.
    if (!dbus_message_get_args (msg, NULL, DBUS_TYPE_INT32, &interface, DBUS_TYPE_INT32, &protocol,
                                DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &type, DBUS_TYPE_STRING,
                                &domain, DBUS_TYPE_UINT32, &flags, DBUS_TYPE_INVALID)
        || !*name || strlen (name) >= AVAHI_LABEL_MAX || strlen (type) >= AVAHI_DOMAIN_NAME_MAX
        || strlen (domain) >= AVAHI_DOMAIN_NAME_MAX)
        return;
    self->fn (self, (AvahiIfIndex) interface, (AvahiProtocol) protocol, event, name, type, domain,
              (AvahiLookupResultFlags) flags, self->arg);
}

//  The next argument, if it has the type; advances.
static bool
s_next_arg (DBusMessageIter *iter, int type, void *value)
{
    if (dbus_message_iter_get_arg_type (iter) != type)
        return false;
    dbus_message_iter_get_basic (iter, value);
    dbus_message_iter_next (iter);
    return true;
}

//  TXT as aay (org.freedesktop.Avahi.ServiceResolver.xml); false if it is
//  not (*txt is then freed).
static bool
s_next_txt (DBusMessageIter *iter, AvahiStringList **txt)
{
    *txt = NULL;
    if (dbus_message_iter_get_arg_type (iter) != DBUS_TYPE_ARRAY
        || dbus_message_iter_get_element_type (iter) != DBUS_TYPE_ARRAY)
        return false;
    DBusMessageIter strings;
    dbus_message_iter_recurse (iter, &strings);
    for (; dbus_message_iter_get_arg_type (&strings) == DBUS_TYPE_ARRAY;
         dbus_message_iter_next (&strings)) {
        DBusMessageIter bytes;
        const uint8_t *data = NULL;
        int size = 0;
        if (dbus_message_iter_get_element_type (&strings) != DBUS_TYPE_BYTE)
            break;
        dbus_message_iter_recurse (&strings, &bytes);
        dbus_message_iter_get_fixed_array (&bytes, &data, &size);
        AvahiStringList *more = avahi_string_list_add_arbitrary (*txt, data, (size_t) size);
        if (!more)
            break;
        *txt = more;
    }
    if (dbus_message_iter_get_arg_type (&strings) != DBUS_TYPE_INVALID) {
        avahi_string_list_free (*txt);
        *txt = NULL;
        return false;
    }
    //  Added in reverse: back in the daemon's order.
    *txt = avahi_string_list_reverse (*txt);
    dbus_message_iter_next (iter);
    return true;
}

static void
s_on_resolver_signal (colugo__browser_t *self, DBusMessage *msg)
{
    const char *path = dbus_message_get_path (msg);
    const char *sender = dbus_message_get_sender (msg);
    const char *member = dbus_message_get_member (msg);
    colugo__resolver_t *resolver =
        path ? (colugo__resolver_t *) zhashx_lookup (self->resolvers, path) : NULL;
    if (!resolver || resolver->failed || !sender || !member || strcmp (sender, self->daemon) != 0)
        return;
    if (strcmp (member, "Failure") == 0) {
        const char *error = NULL;
        if (!dbus_message_get_args (msg, NULL, DBUS_TYPE_STRING, &error, DBUS_TYPE_INVALID))
            error = NULL;
        s_resolver_fail (resolver, error ? s_error_number (error) : AVAHI_ERR_FAILURE);
        return;
    }
    if (strcmp (member, "Found") != 0)
        return;
    dbus_int32_t interface, protocol, aprotocol;
    dbus_uint32_t flags;
    dbus_uint16_t port;
    const char *name, *type, *domain, *host, *address_text;
    AvahiStringList *txt = NULL;
    AvahiAddress address;
    DBusMessageIter iter;
    //  Every argument checked as in the browser's signals; the address must
    //  parse as the protocol it claims.
    if (!dbus_message_iter_init (msg, &iter) || !s_next_arg (&iter, DBUS_TYPE_INT32, &interface)
        || !s_next_arg (&iter, DBUS_TYPE_INT32, &protocol)
        || !s_next_arg (&iter, DBUS_TYPE_STRING, &name)
        || !s_next_arg (&iter, DBUS_TYPE_STRING, &type)
        || !s_next_arg (&iter, DBUS_TYPE_STRING, &domain)
        || !s_next_arg (&iter, DBUS_TYPE_STRING, &host)
        || !s_next_arg (&iter, DBUS_TYPE_INT32, &aprotocol)
        || !s_next_arg (&iter, DBUS_TYPE_STRING, &address_text)
        || !s_next_arg (&iter, DBUS_TYPE_UINT16, &port) || !s_next_txt (&iter, &txt)
        || !s_next_arg (&iter, DBUS_TYPE_UINT32, &flags) || !*name
        || strlen (name) >= AVAHI_LABEL_MAX || strlen (type) >= AVAHI_DOMAIN_NAME_MAX
        || strlen (domain) >= AVAHI_DOMAIN_NAME_MAX || strlen (host) >= AVAHI_DOMAIN_NAME_MAX
        || !avahi_address_parse (address_text, (AvahiProtocol) aprotocol, &address)) {
        avahi_string_list_free (txt);
        return;
    }
    s_resolver_report (resolver, (AvahiIfIndex) interface, (AvahiProtocol) protocol,
                       AVAHI_RESOLVER_FOUND, name, type, domain, host, &address, port, txt,
                       (AvahiLookupResultFlags) flags);
    avahi_string_list_free (txt);
}

static DBusHandlerResult
s_filter (DBusConnection *bus, DBusMessage *msg, void *arg)
{
    (void) bus;
    colugo__browser_t *self = (colugo__browser_t *) arg;
    if (self->doomed || self->failed || dbus_message_get_type (msg) != DBUS_MESSAGE_TYPE_SIGNAL)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    if (dbus_message_is_signal (msg, DBUS_INTERFACE_LOCAL, "Disconnected"))
        s_fail (self, AVAHI_ERR_DISCONNECTED);
    else if (dbus_message_is_signal (msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged"))
        s_on_owner_changed (self, msg);
    else if (self->path && dbus_message_has_interface (msg, S_AVAHI_BROWSER))
        s_on_browser_signal (self, msg);
    else if (dbus_message_has_interface (msg, S_AVAHI_RESOLVER))
        s_on_resolver_signal (self, msg);
    else
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    return DBUS_HANDLER_RESULT_HANDLED;
}

//  --------------------------------------------------------------------------
//  Calls

//  Sends msg (consumed) and waits for the reply until deadline (monotonic
//  ms). Returns the reply, or NULL with *error set.
static DBusMessage *
s_call (colugo__browser_t *self, DBusMessage *msg, int64_t deadline, int *error)
{
    if (!msg) {
        *error = AVAHI_ERR_NO_MEMORY;
        return NULL;
    }
    //  No bus activation: a missing daemon is an answer, not a start.
    dbus_message_set_auto_start (msg, FALSE);
    int64_t left = deadline - zclock_mono ();
    DBusMessage *reply = NULL;
    if (left <= 0)
        *error = AVAHI_ERR_TIMEOUT;
    else {
        DBusError dbus_error;
        dbus_error_init (&dbus_error);
        reply = dbus_connection_send_with_reply_and_block (self->bus, msg, (int) left, &dbus_error);
        if (!reply)
            *error = s_error_number (dbus_error.name);
        dbus_error_free (&dbus_error);
    }
    dbus_message_unref (msg);
    return reply;
}

//  A call whose reply carries nothing we need.
static int
s_call_void (colugo__browser_t *self, DBusMessage *msg, int64_t deadline)
{
    int error = 0;
    DBusMessage *reply = s_call (self, msg, deadline, &error);
    if (reply)
        dbus_message_unref (reply);
    return reply ? 0 : error;
}

static DBusMessage *
s_bus_method (const char *method)
{
    return dbus_message_new_method_call (DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS,
                                         method);
}

//  AddMatch or RemoveMatch of a rule.
static DBusMessage *
s_match_method (const char *method, const char *rule)
{
    DBusMessage *msg = s_bus_method (method);
    if (msg && !dbus_message_append_args (msg, DBUS_TYPE_STRING, &rule, DBUS_TYPE_INVALID)) {
        dbus_message_unref (msg);
        msg = NULL;
    }
    return msg;
}

//  AddMatch of a rule, sent now and answered later (s_match_end): the bus
//  answers it itself, and in order, so it goes out with the call that
//  needs it instead of taking a round trip of its own. NULL with *error
//  set if it cannot be sent.
static DBusPendingCall *
s_match_begin (colugo__browser_t *self, const char *rule, int64_t deadline, int *error)
{
    DBusMessage *msg = s_match_method ("AddMatch", rule);
    int64_t left = deadline - zclock_mono ();
    DBusPendingCall *pending = NULL;
    if (!msg)
        *error = AVAHI_ERR_NO_MEMORY;
    else if (left <= 0)
        *error = AVAHI_ERR_TIMEOUT;
    else if (!dbus_connection_send_with_reply (self->bus, msg, &pending, (int) left) || !pending)
        *error = AVAHI_ERR_DBUS_ERROR;
    if (msg)
        dbus_message_unref (msg);
    return pending;
}

//  Its answer (already in, after the reply to a later call): keeps a copy
//  of the rule in *rule_p. Returns 0 or an Avahi error.
static int
s_match_end (DBusPendingCall **pending_p, char **rule_p, const char *rule)
{
    DBusPendingCall *pending = *pending_p;
    *pending_p = NULL;
    dbus_pending_call_block (pending);  //  bounded by the call's timeout
    DBusMessage *reply = dbus_pending_call_steal_reply (pending);
    dbus_pending_call_unref (pending);
    int error = 0;
    if (!reply)
        error = AVAHI_ERR_TIMEOUT;
    else if (dbus_message_get_type (reply) == DBUS_MESSAGE_TYPE_ERROR)
        error = s_error_number (dbus_message_get_error_name (reply));
    if (reply)
        dbus_message_unref (reply);
    if (!error && !(*rule_p = strdup (rule)))
        error = AVAHI_ERR_NO_MEMORY;
    return error;
}

static void
s_match_drop (DBusPendingCall **pending_p)
{
    if (*pending_p) {
        dbus_pending_call_cancel (*pending_p);
        dbus_pending_call_unref (*pending_p);
        *pending_p = NULL;
    }
}

//  Hello by hand: dbus_bus_register () would wait 25 s for a stalled bus.
static int
s_hello (colugo__browser_t *self, int64_t deadline)
{
    int error = 0;
    DBusMessage *reply = s_call (self, s_bus_method ("Hello"), deadline, &error);
    if (!reply)
        return error;
    const char *name = NULL;
    if (!dbus_message_get_args (reply, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
        error = AVAHI_ERR_DBUS_ERROR;
    else if (!dbus_bus_set_unique_name (self->bus, name))
        error = AVAHI_ERR_NO_MEMORY;
    dbus_message_unref (reply);
    return error;
}

//  A private connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else
//  the default), not yet registered (Hello), that does not exit the
//  process when it closes; NULL when there is no bus.
static DBusConnection *
s_open_bus (void)
{
    const char *address = getenv ("DBUS_SYSTEM_BUS_ADDRESS");
    DBusError error;
    dbus_error_init (&error);
    DBusConnection *bus =
        dbus_connection_open_private (address && *address ? address : S_SYSTEM_BUS_DEFAULT, &error);
    dbus_error_free (&error);
    if (bus)
        dbus_connection_set_exit_on_disconnect (bus, FALSE);
    return bus;
}

#define S_PRESENT_CALL_MS 500  //  dbus-daemon answers in microseconds; a busy one may wait

int
colugo__dnssd_daemon_present (void)
{
    DBusConnection *bus = s_open_bus ();
    if (!bus)
        return 0;  //  no bus: no daemon on it either
    DBusError error;
    dbus_error_init (&error);
    int present = -1;
    DBusMessage *hello = s_bus_method ("Hello");
    DBusMessage *reply =
        hello ? dbus_connection_send_with_reply_and_block (bus, hello, S_PRESENT_CALL_MS, &error)
              : NULL;
    dbus_error_free (&error);
    if (reply) {
        dbus_message_unref (reply);
        const char *name = S_AVAHI_NAME;
        DBusMessage *ask = s_bus_method ("NameHasOwner");
        if (ask && !dbus_message_append_args (ask, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
            dbus_message_unref (ask);
            ask = NULL;
        }
        reply =
            ask ? dbus_connection_send_with_reply_and_block (bus, ask, S_PRESENT_CALL_MS, &error)
                : NULL;
        dbus_error_free (&error);
        dbus_bool_t owned = FALSE;
        if (reply
            && dbus_message_get_args (reply, NULL, DBUS_TYPE_BOOLEAN, &owned, DBUS_TYPE_INVALID))
            present = owned ? 1 : 0;
        if (reply)
            dbus_message_unref (reply);
        if (ask)
            dbus_message_unref (ask);
    }
    if (hello)
        dbus_message_unref (hello);
    dbus_connection_close (bus);
    dbus_connection_unref (bus);
    return present;
}

static int
s_connect (colugo__browser_t *self, int64_t deadline)
{
    self->bus = s_open_bus ();
    if (!self->bus)
        return AVAHI_ERR_NO_DAEMON;
    self->dispatch = self->api->timeout_new (self->api, NULL, s_on_dispatch, self);
    if (!self->dispatch || !dbus_connection_add_filter (self->bus, s_filter, self, NULL))
        return AVAHI_ERR_NO_MEMORY;
    self->filtering = true;
    if (!dbus_connection_set_watch_functions (self->bus, s_watch_sync, s_watch_remove,
                                              s_watch_toggled, self, NULL)
        || !dbus_connection_set_timeout_functions (self->bus, s_timeout_add, s_timeout_remove,
                                                   s_timeout_toggled, self, NULL))
        return AVAHI_ERR_NO_MEMORY;
    dbus_connection_set_dispatch_status_function (self->bus, s_on_dispatch_status, self, NULL);
    return s_hello (self, deadline);
}

static int
s_prepare (colugo__browser_t *self, AvahiLookupFlags flags, int64_t deadline)
{
    DBusMessage *msg = dbus_message_new_method_call (S_AVAHI_NAME, S_AVAHI_SERVER_PATH,
                                                     S_AVAHI_SERVER2, "ServiceBrowserPrepare");
    dbus_int32_t interface = (dbus_int32_t) self->interface;
    dbus_int32_t protocol = (dbus_int32_t) self->protocol;
    dbus_uint32_t u_flags = (dbus_uint32_t) flags;
    const char *domain = self->domain ? self->domain : "";
    if (msg
        && !dbus_message_append_args (msg, DBUS_TYPE_INT32, &interface, DBUS_TYPE_INT32, &protocol,
                                      DBUS_TYPE_STRING, &self->type, DBUS_TYPE_STRING, &domain,
                                      DBUS_TYPE_UINT32, &u_flags, DBUS_TYPE_INVALID)) {
        dbus_message_unref (msg);
        msg = NULL;
    }
    int error = 0;
    DBusMessage *reply = s_call (self, msg, deadline, &error);
    if (!reply)
        return error;
    const char *path = NULL;
    const char *sender = dbus_message_get_sender (reply);
    if (!sender
        || !dbus_message_get_args (reply, NULL, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID))
        error = AVAHI_ERR_DBUS_ERROR;
    else if (!(self->path = strdup (path)) || !(self->daemon = strdup (sender)))
        error = AVAHI_ERR_NO_MEMORY;
    dbus_message_unref (reply);
    return error;
}

//  Start, sent to the daemon that prepared the browser (not to the
//  well-known name, which another daemon may own by now).
static int
s_start (colugo__browser_t *self, int64_t deadline)
{
    return s_call_void (
        self, dbus_message_new_method_call (self->daemon, self->path, S_AVAHI_BROWSER, "Start"),
        deadline);
}

//  Sends msg (consumed) and expects no reply.
static void
s_send (colugo__browser_t *self, DBusMessage *msg)
{
    if (!msg)
        return;
    dbus_message_set_no_reply (msg, TRUE);
    dbus_message_set_auto_start (msg, FALSE);
    dbus_connection_send (self->bus, msg, NULL);
    dbus_message_unref (msg);
}

//  Sends msg (consumed) with a reply expected within COLUGO__BROWSER_CALL_MS,
//  notify (pending, arg) being called from dispatch when it comes (or an
//  error reply in its place: the bus, the daemon, libdbus's timeout).
static int
s_call_async (colugo__browser_t *self, DBusMessage *msg, DBusPendingCall **pending_p,
              DBusPendingCallNotifyFunction notify, void *arg)
{
    if (!msg)
        return AVAHI_ERR_NO_MEMORY;
    dbus_message_set_auto_start (msg, FALSE);
    bool sent =
        dbus_connection_send_with_reply (self->bus, msg, pending_p, COLUGO__BROWSER_CALL_MS);
    dbus_message_unref (msg);
    if (!sent)
        return AVAHI_ERR_NO_MEMORY;
    if (!*pending_p)  //  the connection is closed
        return AVAHI_ERR_DISCONNECTED;
    if (!dbus_pending_call_set_notify (*pending_p, notify, arg, NULL)) {
        dbus_pending_call_cancel (*pending_p);
        dbus_pending_call_unref (*pending_p);
        *pending_p = NULL;
        return AVAHI_ERR_NO_MEMORY;
    }
    return 0;
}

//  The reply of a call made with s_call_async (), or NULL with *error set.
static DBusMessage *
s_take_reply (DBusPendingCall **pending_p, int *error)
{
    DBusMessage *reply = dbus_pending_call_steal_reply (*pending_p);
    dbus_pending_call_unref (*pending_p);
    *pending_p = NULL;
    if (!reply)
        *error = AVAHI_ERR_FAILURE;
    else if (dbus_message_get_type (reply) == DBUS_MESSAGE_TYPE_ERROR) {
        *error = s_error_number (dbus_message_get_error_name (reply));
        dbus_message_unref (reply);
        reply = NULL;
    }
    return reply;
}

//  --------------------------------------------------------------------------
//  Resolvers

//  Takes the resolver off its browser: no more signals, no reply awaited,
//  the daemon's object freed (without waiting).
static void
s_resolver_detach (colugo__resolver_t *self)
{
    if (self->pending) {
        dbus_pending_call_cancel (self->pending);
        dbus_pending_call_unref (self->pending);
        self->pending = NULL;
    }
    colugo__browser_t *browser = self->browser;
    if (!browser)
        return;
    if (self->preparing)
        zlistx_delete (browser->preparing, self->preparing);
    self->preparing = NULL;
    if (self->path) {
        zhashx_delete (browser->resolvers, self->path);
        if (browser->bus && dbus_connection_get_is_connected (browser->bus))
            s_send (browser, dbus_message_new_method_call (browser->daemon, self->path,
                                                           S_AVAHI_RESOLVER, "Free"));
    }
    self->browser = NULL;
}

static void
s_resolver_destroy (colugo__resolver_t *self)
{
    s_resolver_detach (self);
    free (self->path);
    free (self->name);
    free (self->type);
    free (self->domain);
    free (self);
}

static void
s_on_started (DBusPendingCall *pending, void *arg)
{
    (void) pending;
    colugo__resolver_t *self = (colugo__resolver_t *) arg;
    int error = 0;
    DBusMessage *reply = s_take_reply (&self->pending, &error);
    if (reply)
        dbus_message_unref (reply);
    else
        s_resolver_fail (self, error);
}

static void
s_on_prepared (DBusPendingCall *pending, void *arg)
{
    (void) pending;
    colugo__resolver_t *self = (colugo__resolver_t *) arg;
    colugo__browser_t *browser = self->browser;
    int error = 0;
    DBusMessage *reply = s_take_reply (&self->pending, &error);
    const char *path = NULL;
    const char *sender = reply ? dbus_message_get_sender (reply) : NULL;
    if (reply
        && (!sender || strcmp (sender, browser->daemon) != 0
            || !dbus_message_get_args (reply, NULL, DBUS_TYPE_OBJECT_PATH, &path,
                                       DBUS_TYPE_INVALID)))
        error = AVAHI_ERR_DBUS_ERROR;
    else if (reply
             && (zhashx_lookup (browser->resolvers, path) || !(self->path = strdup (path))
                 || zhashx_insert (browser->resolvers, self->path, self)))
        error = AVAHI_ERR_NO_MEMORY;
    if (reply)
        dbus_message_unref (reply);
    zlistx_delete (browser->preparing, self->preparing);
    self->preparing = NULL;
    if (!error)
        error = s_call_async (
            browser,
            dbus_message_new_method_call (browser->daemon, self->path, S_AVAHI_RESOLVER, "Start"),
            &self->pending, s_on_started, self);
    if (error)
        s_resolver_fail (self, error);
}

colugo__resolver_t *
colugo__resolver_new (colugo__browser_t *browser, AvahiIfIndex interface, AvahiProtocol protocol,
                      const char *name, const char *type, const char *domain,
                      AvahiProtocol aprotocol, AvahiLookupFlags flags, colugo__resolver_fn *fn,
                      void *arg, int *error)
{
    if (browser->failed || browser->doomed) {
        *error = browser->error ? browser->error : AVAHI_ERR_DISCONNECTED;
        return NULL;
    }
    colugo__resolver_t *self = calloc (1, sizeof *self);
    if (!self || !(self->name = strdup (name)) || !(self->type = strdup (type))
        || (domain && *domain && !(self->domain = strdup (domain)))) {
        if (self)
            s_resolver_destroy (self);
        *error = AVAHI_ERR_NO_MEMORY;
        return NULL;
    }
    self->browser = browser;
    self->interface = interface;
    self->protocol = protocol;
    self->fn = fn;
    self->arg = arg;
    DBusMessage *msg = dbus_message_new_method_call (S_AVAHI_NAME, S_AVAHI_SERVER_PATH,
                                                     S_AVAHI_SERVER2, "ServiceResolverPrepare");
    dbus_int32_t d_interface = (dbus_int32_t) interface, d_protocol = (dbus_int32_t) protocol,
                 d_aprotocol = (dbus_int32_t) aprotocol;
    dbus_uint32_t d_flags = (dbus_uint32_t) flags;
    const char *d_domain = self->domain ? self->domain : "";
    if (msg
        && !dbus_message_append_args (
            msg, DBUS_TYPE_INT32, &d_interface, DBUS_TYPE_INT32, &d_protocol, DBUS_TYPE_STRING,
            &self->name, DBUS_TYPE_STRING, &self->type, DBUS_TYPE_STRING, &d_domain,
            DBUS_TYPE_INT32, &d_aprotocol, DBUS_TYPE_UINT32, &d_flags, DBUS_TYPE_INVALID)) {
        dbus_message_unref (msg);
        msg = NULL;
    }
    //  Prepared at the daemon's well-known name, started at the daemon that
    //  answered (checked to be the browser's: its signals are matched).
    int rc = s_call_async (browser, msg, &self->pending, s_on_prepared, self);
    if (!rc && !(self->preparing = zlistx_add_end (browser->preparing, self)))
        rc = AVAHI_ERR_NO_MEMORY;
    if (rc) {
        s_resolver_destroy (self);
        *error = rc;
        return NULL;
    }
    return self;
}

int
colugo__resolver_errno (colugo__resolver_t *self)
{
    return self->error;
}

void
colugo__resolver_free (colugo__resolver_t **self_p)
{
    colugo__resolver_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->calling)
        self->doomed = true;  //  freed when its callback returns
    else
        s_resolver_destroy (self);
}

//  --------------------------------------------------------------------------
//  The browser

static void
s_destroy (colugo__browser_t *self)
{
    //  Resolvers left are orphans now: inert, freed by their owners.
    colugo__resolver_t *resolver;
    while (self->resolvers && (resolver = (colugo__resolver_t *) zhashx_first (self->resolvers)))
        s_resolver_detach (resolver);
    while (self->preparing && (resolver = (colugo__resolver_t *) zlistx_first (self->preparing)))
        s_resolver_detach (resolver);
    if (self->bus) {
        //  Nothing more is dispatched.
        if (self->filtering)
            dbus_connection_remove_filter (self->bus, s_filter, self);
        dbus_connection_set_dispatch_status_function (self->bus, NULL, NULL, NULL);
        if (dbus_connection_get_is_connected (self->bus)) {
            //  Without waiting for answers: a stalled daemon must not hold
            //  us, and closing the connection makes the daemon drop the
            //  object anyway.
            if (self->path)
                s_send (self, dbus_message_new_method_call (self->daemon, self->path,
                                                            S_AVAHI_BROWSER, "Free"));
            if (self->browser_rule)
                s_send (self, s_match_method ("RemoveMatch", self->browser_rule));
            if (self->resolver_rule)
                s_send (self, s_match_method ("RemoveMatch", self->resolver_rule));
            if (self->owner_rule)
                s_send (self, s_match_method ("RemoveMatch", self->owner_rule));
            int64_t deadline = zclock_mono () + COLUGO__BROWSER_FLUSH_MS;
            int64_t left;
            while (dbus_connection_has_messages_to_send (self->bus)
                   && (left = deadline - zclock_mono ()) > 0
                   && dbus_connection_read_write (self->bus, (int) left))
                ;
        }
        //  Takes our watches and timeouts off the AvahiPoll (libdbus calls
        //  the remove functions for each one left).
        dbus_connection_set_watch_functions (self->bus, NULL, NULL, NULL, NULL, NULL);
        dbus_connection_set_timeout_functions (self->bus, NULL, NULL, NULL, NULL, NULL);
        dbus_connection_close (self->bus);
        dbus_connection_unref (self->bus);
    }
    if (self->dispatch)
        self->api->timeout_free (self->dispatch);
    free (self->path);
    free (self->daemon);
    free (self->owner_rule);
    free (self->browser_rule);
    free (self->resolver_rule);
    zhashx_destroy (&self->resolvers);
    zlistx_destroy (&self->preparing);
    free (self->type);
    free (self->domain);
    free (self);
}

colugo__browser_t *
colugo__browser_new (const AvahiPoll *api, AvahiIfIndex interface, AvahiProtocol protocol,
                     const char *type, const char *domain, AvahiLookupFlags flags,
                     colugo__browser_fn *fn, void *arg, int *error)
{
    int64_t deadline = zclock_mono () + COLUGO__BROWSER_CALL_MS;
    DBusPendingCall *owner = NULL, *signals = NULL, *resolvers = NULL;  //  AddMatch answers
    colugo__browser_t *self = calloc (1, sizeof *self);
    int rc = AVAHI_ERR_NO_MEMORY;
    if (!self)
        goto fail;
    self->api = api;
    self->interface = interface;
    self->protocol = protocol;
    self->fn = fn;
    self->arg = arg;
    if (!(self->type = strdup (type)) || (domain && *domain && !(self->domain = strdup (domain)))
        || !(self->resolvers = zhashx_new ()) || !(self->preparing = zlistx_new ()))
        goto fail;
    //  The daemon's exit is watched from before the browser exists, and the
    //  browser's signals from before it starts: the bus handles a
    //  connection's messages in order, so each AddMatch goes out just
    //  before the call it must precede, and its answer is read after
    //  that call's (three round trips, not six).
    static const char owner_rule [] =
        "type='signal',sender='" DBUS_SERVICE_DBUS "',path='" DBUS_PATH_DBUS
        "',interface='" DBUS_INTERFACE_DBUS "',member='NameOwnerChanged',arg0='" S_AVAHI_NAME "'";
    char rule [S_RULE_MAX], resolver_rule [S_RULE_MAX];
    if ((rc = s_connect (self, deadline))
        || !(owner = s_match_begin (self, owner_rule, deadline, &rc))
        || (rc = s_prepare (self, flags, deadline))
        || (rc = s_match_end (&owner, &self->owner_rule, owner_rule)))
        goto fail;
    //  The browser's signals, and those of every resolver made on this
    //  connection, from this daemon (colugo__resolver_new () then needs no
    //  call of its own).
    if (snprintf (rule, sizeof rule, "type='signal',sender='%s',interface='%s',path='%s'",
                  self->daemon, S_AVAHI_BROWSER, self->path)
            >= (int) sizeof rule
        || snprintf (resolver_rule, sizeof resolver_rule,
                     "type='signal',sender='%s',interface='%s'", self->daemon, S_AVAHI_RESOLVER)
               >= (int) sizeof resolver_rule) {
        rc = AVAHI_ERR_DBUS_ERROR;
        goto fail;
    }
    if (!(signals = s_match_begin (self, rule, deadline, &rc))
        || !(resolvers = s_match_begin (self, resolver_rule, deadline, &rc))
        || (rc = s_start (self, deadline))
        || (rc = s_match_end (&signals, &self->browser_rule, rule))
        || (rc = s_match_end (&resolvers, &self->resolver_rule, resolver_rule)))
        goto fail;
    //  Signals that came while we waited for replies.
    if (dbus_connection_get_dispatch_status (self->bus) == DBUS_DISPATCH_DATA_REMAINS)
        s_request_dispatch (self);
    return self;
fail:
    s_match_drop (&owner);
    s_match_drop (&signals);
    s_match_drop (&resolvers);
    if (self)
        s_destroy (self);
    *error = rc;
    return NULL;
}

int
colugo__browser_errno (colugo__browser_t *self)
{
    return self->error;
}

void
colugo__browser_free (colugo__browser_t **self_p)
{
    colugo__browser_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->dispatching)
        self->doomed = true;  //  s_on_dispatch frees it once the callback returns
    else
        s_destroy (self);
}
