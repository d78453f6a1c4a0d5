/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tg_proto.h - the wire protocol: the messages generated from
 * proto/toolgate.proto by protoc-c, plus the bounds both ends enforce.
 */
#ifndef TG_PROTO_H
#define TG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toolgate.pb-c.h"

#define TG_PROTO_VERSION TOOLGATE__LIMITS__PROTOCOL_VERSION
/* A request larger than this is answered INVALID without decoding. */
#define TG_PROTO_MAX_REQUEST ((size_t)TOOLGATE__LIMITS__MAX_REQUEST_BYTES)
/* The transport drops (closes the pipe on) anything larger than this. */
#define TG_PROTO_MAX_TRANSPORT (4 * TG_PROTO_MAX_REQUEST)
/* A response carries at most two outputs of limits.output (<= 64 MiB each)
 * plus a little framing. */
#define TG_PROTO_MAX_OUTPUT   ((size_t)64 << 20)
#define TG_PROTO_MAX_RESPONSE (2 * TG_PROTO_MAX_OUTPUT + ((size_t)1 << 20))

/* Walk a Request's bytes (without recursion) and say whether its messages
 * nest at most max_depth deep (the Request itself is depth 1). Run it before
 * decoding untrusted bytes: protobuf-c recurses without a limit. */
bool tg_proto_request_depth_ok(const uint8_t *buf, size_t len, unsigned max_depth);

/* The status's name as used in the audit log and --json ("OK", "DENIED"...). */
const char *tg_proto_status_name(Toolgate__Status status);

#endif /* TG_PROTO_H */
