/* SPDX-License-Identifier: Apache-2.0 */
/* Names of events and kinds of damage, as they appear in logs and reports. */
#include "audit.h"

const char *tg_audit_event_name(enum tg_audit_event e)
{
	switch (e) {
	case TG_AUDIT_SESSION_START:
		return "session_start";
	case TG_AUDIT_POLICY_LOADED:
		return "policy_loaded";
	case TG_AUDIT_CALL:
		return "call";
	case TG_AUDIT_SESSION_END:
		return "session_end";
	case TG_AUDIT_RECOVERY:
		return "recovery";
	case TG_AUDIT_CHECKPOINT:
		return "checkpoint";
	}
	return "unknown";
}

const char *tg_audit_damage_name(enum tg_audit_damage d)
{
	switch (d) {
	case TG_AUDIT_INTACT:
		return "intact";
	case TG_AUDIT_MODIFIED:
		return "modified";
	case TG_AUDIT_DELETED:
		return "deleted";
	case TG_AUDIT_INSERTED:
		return "inserted";
	case TG_AUDIT_REORDERED:
		return "reordered";
	case TG_AUDIT_TRUNCATED:
		return "truncated";
	case TG_AUDIT_MALFORMED:
		return "malformed";
	case TG_AUDIT_BAD_SIGNATURE:
		return "bad signature";
	}
	return "unknown";
}
