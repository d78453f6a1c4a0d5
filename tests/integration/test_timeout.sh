#!/bin/bash
# A call that runs past its wall-clock limit gets TIMEOUT (exit 124) and its
# whole process tree is killed, including a setsid'd, double-forked child.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"

capture "$TOOLGATE" call sleep seconds=30
assert_eq 124 "$RC" "timeout exit code"
assert_contains "$ERR" "TIMEOUT" "status named"

# A daemonizing grandchild (setsid + double fork) must die with the call.
marker="tg-orphan-$$-$RANDOM"
# (dash has no exec -a: the marker rides in the daemon's own command line)
capture "$TOOLGATE" call sh script="setsid sh -c 'sleep 300; echo $marker' </dev/null >/dev/null 2>&1 & sleep 0.2; pgrep -f $marker >/dev/null && echo daemon-running; sleep 30"
assert_contains "$OUT" "daemon-running" "the daemonized grandchild was running before the timeout"
assert_eq 124 "$RC" "timeout with a daemonized grandchild"
if pgrep -f "$marker" >/dev/null; then
	fail "a grandchild survived the timeout: $(pgrep -a -f "$marker")"
fi

# The broker still serves.
capture "$TOOLGATE" call echo words=alive
assert_eq "alive" "$OUT" "broker alive after timeouts"

tg_stop_broker
grep -q '"status":"TIMEOUT"' "$T/audit.jsonl" || fail "TIMEOUT not audited"
tg_assert_no_leftovers
