/*  colugo.h: the umbrella header of the Colugo library.

    Colugo is a C framework for programs that talk over ZeroMQ and find each
    other by themselves through DNS-SD (Avahi). A program creates a node; the
    node owns one czmq zloop and, on it, publishers, subscribers, request
    clients, reply servers and timers, each by a topic name. Include this one
    header to get the whole public API.
*/
#ifndef COLUGO_H_INCLUDED
#define COLUGO_H_INCLUDED

#define COLUGO_VERSION_MAJOR 0
#define COLUGO_VERSION_MINOR 1
#define COLUGO_VERSION_PATCH 0

#include "colugo/error.h"
#include "colugo/log.h"
#include "colugo/topic.h"
#include "colugo/socket.h"
#include "colugo/node.h"
#include "colugo/publisher.h"
#include "colugo/subscriber.h"
#include "colugo/client.h"
#include "colugo/server.h"

#endif
