#!/bin/bash
# Without root: `toolgate run` still jails the agent and runs tools with what
# user namespaces, seccomp, landlock and rlimits allow; a protection the
# policy demands that cannot be had (a memory cgroup here) fails closed,
# naming what is missing.
. "$(dirname "$0")/lib.sh"

user=nobody
uid=$(id -u "$user")
if ! runuser -u "$user" -- test -x "$TOOLGATE"; then
	echo "SKIP: $TOOLGATE is not reachable by $user" >&2
	exit 77
fi
if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
	echo "SKIP: user namespaces are disabled" >&2
	exit 77
fi
mkdir -p "$T/user/ws"
chown -R "$user" "$T/user"
policy=$(tg_policy rootless.yaml)
as_user() { runuser -u "$user" -- env -u XDG_RUNTIME_DIR "$@"; }

capture as_user "$TOOLGATE" run --policy "$policy" --audit "$T/user/audit.jsonl" -- \
	sh -c 'toolgate call echo words=as words=nobody; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs|Seccomp):"; ls /proc | grep -c "^[0-9]"'
assert_eq 0 "$RC" "run as $user: $ERR"
assert_contains "$OUT" "as nobody" "a tool call from the rootless jail"
assert_contains "$OUT" "CapEff:	0000000000000000" "no capabilities"
assert_contains "$OUT" "NoNewPrivs:	1" "no_new_privs"
assert_contains "$OUT" "Seccomp:	2" "seccomp filter"

capture as_user "$TOOLGATE" run --policy "$policy" --audit "$T/user/audit.jsonl" -- \
	toolgate call limited
assert_eq 69 "$RC" "a limit that cannot be enforced refuses the call"
assert_contains "$ERR" "memory" "the reason names the missing protection"

capture as_user "$TOOLGATE" audit verify "$T/user/audit.jsonl"
assert_eq 0 "$RC" "audit log verifies: $OUT $ERR"
left=$(find "/tmp/toolgate-$uid" -mindepth 1 -maxdepth 1 2>/dev/null || true)
[ -z "$left" ] || fail "runtime files left behind: $left"
rm -rf "/tmp/toolgate-$uid"
tg_assert_no_leftovers
