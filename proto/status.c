/* SPDX-License-Identifier: Apache-2.0 */
/* Status names shared by the broker, the audit log and the clients. */
#include "tg_proto.h"

const char *tg_proto_status_name(Toolgate__Status status)
{
	switch (status) {
	case TOOLGATE__STATUS__STATUS_OK:
		return "OK";
	case TOOLGATE__STATUS__STATUS_DENIED:
		return "DENIED";
	case TOOLGATE__STATUS__STATUS_INVALID:
		return "INVALID";
	case TOOLGATE__STATUS__STATUS_RATE_LIMITED:
		return "RATE_LIMITED";
	case TOOLGATE__STATUS__STATUS_TIMEOUT:
		return "TIMEOUT";
	case TOOLGATE__STATUS__STATUS_OOM:
		return "OOM";
	case TOOLGATE__STATUS__STATUS_OUTPUT_LIMIT:
		return "OUTPUT_LIMIT";
	case TOOLGATE__STATUS__STATUS_UNAVAILABLE:
		return "UNAVAILABLE";
	case TOOLGATE__STATUS__STATUS_INTERNAL:
	case TOOLGATE__STATUS__STATUS_UNSPECIFIED:
	default:
		return "INTERNAL";
	}
}
