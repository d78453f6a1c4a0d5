/* SPDX-License-Identifier: Apache-2.0 */
/* A nesting guard run over a Request's wire bytes before protobuf-c decodes
 * them. protobuf-c's unpacker recurses once per nested message and has no
 * depth limit, and Value -> ValueList -> Value is recursive in the schema:
 * a 35 KB request of nested lists would overflow a worker's stack. This
 * scanner walks the bytes iteratively, following only the fields that are
 * messages, and refuses anything nested deeper than asked. Malformed bytes
 * are left for protobuf-c to reject. */
#include "tg_proto.h"

enum msg { M_REQUEST, M_CALL, M_PARAM, M_VALUE, M_LIST, M_OTHER };

/* Which field of which message is itself a message, and of what kind. */
static enum msg submessage(enum msg in, uint32_t field)
{
	switch (in) {
	case M_REQUEST:
		return field == 3 ? M_CALL : field == 4 ? M_OTHER : M_OTHER + 1;
	case M_CALL:
		return field == 2 ? M_PARAM : M_OTHER + 1;
	case M_PARAM:
		return field == 2 ? M_VALUE : M_OTHER + 1;
	case M_VALUE:
		return field == 4 ? M_LIST : M_OTHER + 1;
	case M_LIST:
		return field == 1 ? M_VALUE : M_OTHER + 1;
	case M_OTHER:
	default:
		return M_OTHER + 1;
	}
}

static bool varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
		uint8_t b = buf[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

bool tg_proto_request_depth_ok(const uint8_t *buf, size_t len, unsigned max_depth)
{
	struct frame {
		enum msg kind;
		size_t end;
	} stack[64];
	if (max_depth > 64)
		max_depth = 64;
	unsigned depth = 1;
	stack[0] = (struct frame){M_REQUEST, len};
	size_t pos = 0;
	while (depth > 0) {
		struct frame *top = &stack[depth - 1];
		if (pos >= top->end) {
			pos = top->end;
			depth--;
			continue;
		}
		uint64_t tag, n;
		if (!varint(buf, top->end, &pos, &tag))
			return true; /* malformed: protobuf-c will say so */
		switch (tag & 7) {
		case 0:
			if (!varint(buf, top->end, &pos, &n))
				return true;
			break;
		case 1:
			pos += 8;
			break;
		case 5:
			pos += 4;
			break;
		case 2: {
			if (!varint(buf, top->end, &pos, &n) || n > top->end - pos)
				return true;
			enum msg sub = submessage(top->kind, (uint32_t)(tag >> 3));
			if (sub > M_OTHER) {
				pos += n; /* bytes or string: skip */
				break;
			}
			if (depth >= max_depth)
				return false;
			stack[depth++] = (struct frame){sub, pos + n};
			break;
		}
		default:
			return true; /* groups and bad wire types: malformed */
		}
	}
	return true;
}
