/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sigd-forward.h: sigd's shared typedefs and limits, so headers need not include each other. */
#pragma once

typedef struct Manager Manager;
typedef struct ClientRequest ClientRequest;
typedef struct TransactionCtx TransactionCtx;
typedef struct Dialog Dialog;
typedef struct Call Call;
typedef struct Line Line;

#define SIGD_MAX_DATAGRAM     65535u   /* larger (or empty) datagrams are dropped */
