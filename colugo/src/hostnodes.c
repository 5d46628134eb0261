/*  hostnodes.c: marks of the nodes on this host (hostnodes.h says what and
    why). A mark is a bound, unlistened AF_UNIX stream socket in the
    abstract namespace; the list is the kernel's /proc/net/unix, whose last
    column is the name, "@" first for an abstract one.
*/
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "dnssd_records.h"
#include "hostnodes.h"
#include "logging.h"

#define S_PREFIX "colugo-node/1/"
#define S_LIST "/proc/net/unix"

bool
colugo__hostnodes_enabled (void)
{
    const char *value = getenv ("COLUGO_HOST_NODES");
    return !value || strcmp (value, "0") != 0;
}

int
colugo__hostnodes_mark (const char *node_uuid, uint64_t socket_id, uint16_t port)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    //  sun_path [0] stays 0: the abstract namespace; the name is not
    //  NUL-terminated, its length is the address's.
    int length = snprintf (address.sun_path + 1, sizeof address.sun_path - 1, S_PREFIX "%s/%llu/%u",
                           node_uuid, (unsigned long long) socket_id, port);
    if (length < 0 || (size_t) length >= sizeof address.sun_path - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t size = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + (size_t) length);
    if (bind (fd, (const struct sockaddr *) &address, size)) {
        int error = errno;
        close (fd);
        errno = error;
        return -1;
    }
    return fd;
}

//  A decimal number of 1 to 20 digits, no sign, no leading zero, at most
//  max; text advances past it.
static bool
s_number (const char **text, uint64_t max, uint64_t *value)
{
    const char *start = *text;
    if (*start < '1' || *start > '9')
        return false;
    uint64_t number = 0;
    const char *at = start;
    for (; *at >= '0' && *at <= '9'; at++) {
        if (at - start >= 20 || number > (max - (uint64_t) (*at - '0')) / 10)
            return false;
        number = number * 10 + (uint64_t) (*at - '0');
    }
    *text = at;
    *value = number;
    return true;
}

int
colugo__hostnodes_parse (const char *line, char *uuid, uint64_t *socket_id, uint16_t *port)
{
    const char *name = strstr (line, " @" S_PREFIX);
    if (!name)
        return 0;
    name += 2 + strlen (S_PREFIX);
    const char *slash = strchr (name, '/');
    size_t size = slash ? (size_t) (slash - name) : 0;
    if (size == 0 || size > COLUGO__UUID_MAX)
        return -1;
    memcpy (uuid, name, size);
    uuid [size] = 0;
    if (!colugo__printable_ascii (uuid, COLUGO__UUID_MAX) || strchr (uuid, ' '))
        return -1;
    const char *at = slash + 1;
    uint64_t id = 0, number = 0;
    if (!s_number (&at, COLUGO__SOCKET_ID_MAX, &id) || *at++ != '/'
        || !s_number (&at, 65535, &number) || (*at && *at != '\n'))
        return -1;
    *socket_id = id;
    *port = (uint16_t) number;
    return 1;
}

int
colugo__hostnodes_look (const char *own_uuid, colugo__hostnode_fn *fn, void *arg,
                        colugo__hostnodes_look_t *look)
{
    *look = (colugo__hostnodes_look_t){0};
    FILE *list = fopen (S_LIST, "re");
    if (!list)
        return -1;
    //  A line is at most a socket's fields and a 108-byte name; a longer
    //  one (not the kernel's format) is skipped to its end.
    char line [512];
    bool whole = true;
    while (fgets (line, sizeof line, list)) {
        bool was_whole = whole;
        whole = strchr (line, '\n') != NULL;
        if (!was_whole)
            continue;
        if (!whole) {
            look->malformed += strstr (line, " @" S_PREFIX) != NULL;
            continue;
        }
        char uuid [COLUGO__UUID_MAX + 1];
        uint64_t socket_id = 0;
        uint16_t port = 0;
        int rc = colugo__hostnodes_parse (line, uuid, &socket_id, &port);
        if (rc < 0)
            look->malformed++;
        else if (rc > 0 && strcmp (uuid, own_uuid)) {
            if (look->found >= COLUGO__HOSTNODES_MAX)
                look->over++;
            else {
                look->found++;
                fn (arg, uuid, socket_id, port);
            }
        }
    }
    fclose (list);
    return 0;
}
