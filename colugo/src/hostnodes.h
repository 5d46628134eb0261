/*  hostnodes.h: the nodes on this host, found without asking a daemon.

    Each node marks itself with an abstract Unix socket name,

        "colugo-node/1/<node uuid>/<inbox socket id>/<inbox port>"

    bound and never listened on (nothing can connect to it, nothing queues
    in it). The kernel lists it in /proc/net/unix for the network namespace
    only, and frees it when the process ends, however it ends: a mark does
    not outlive its process, as a file would after a crash. A node that starts
    reads the list and dials those inboxes at once (nodelink.c), before
    avahi-daemon's caches have answered its first browse over D-Bus (2 to 6
    ms, and the daemon may be stalled).

    A mark is a hint of where to dial, no more. The dial checks that the
    listener names itself as the node's inbox (a port reused by another
    program is not taken for the node: trunk.h), but anything on this host
    can bind such a name and name itself so: the notices that come back over the
    link are held to their records' rules (discovery.c), as every notice is,
    and a mark never displaces what the node link knew of a node
    (nodelink.c). A look takes at most COLUGO__HOSTNODES_MAX marks, so that
    forged ones cannot hold every dial of the outbox, and counts the rest
    and the malformed ones. A fork () without exec () copies the mark's
    socket, and the mark stays while the child lives (as the node's
    listening sockets do).

    COLUGO_HOST_NODES=0 in the environment turns marks off (discovery then
    goes through DNS-SD alone, as between hosts).
*/
#ifndef COLUGO__HOSTNODES_H_INCLUDED
#define COLUGO__HOSTNODES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLUGO__HOSTNODES_MAX 32  //  marks taken from one look: half the dials at once (sock.h)

//  Whether marks are made and looked for (COLUGO_HOST_NODES is not "0").
bool colugo__hostnodes_enabled (void);

//  Marks this node: returns the socket that holds the name (close it to
//  take the mark away), or -1 (errno set).
int colugo__hostnodes_mark (const char *node_uuid, uint64_t socket_id, uint16_t port);

typedef void (colugo__hostnode_fn) (void *arg, const char *node_uuid, uint64_t socket_id,
                                    uint16_t port);

typedef struct {
    size_t found;      //  marks given to fn
    size_t malformed;  //  names under our prefix that do not parse
    size_t over;       //  well-formed, over COLUGO__HOSTNODES_MAX
} colugo__hostnodes_look_t;

//  Reads the marks of the nodes on this host (but own_uuid's) and calls fn
//  for each; -1 if the list cannot be read (errno set).
int colugo__hostnodes_look (const char *own_uuid, colugo__hostnode_fn *fn, void *arg,
                            colugo__hostnodes_look_t *look);

//  One line of /proc/net/unix: fills uuid (COLUGO__UUID_MAX + 1 bytes),
//  id and port and returns 1 for a mark, 0 for a socket that is not one,
//  -1 for a name under the prefix that is malformed. (For the tests.)
int colugo__hostnodes_parse (const char *line, char *uuid, uint64_t *socket_id, uint16_t *port);

#endif
