#!/bin/bash
# Eight slow calls at once run in parallel: each tool records when it started
# and ended; every call must have started before any ended (they overlap).
# No wall-clock thresholds: the overlap is the property.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"

pids=""
for i in $(seq 1 8); do
	"$TOOLGATE" call sh script="date +%s%N; sleep 0.8; date +%s%N" >"$T/c$i" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a concurrent call failed: $(cat "$T"/c*)"
done
latest_start=0
earliest_end=9223372036854775807
for i in $(seq 1 8); do
	[ "$(wc -l <"$T/c$i")" -eq 2 ] || fail "call $i: $(cat "$T/c$i")"
	s=$(sed -n 1p "$T/c$i")
	e=$(sed -n 2p "$T/c$i")
	[ "$s" -gt "$latest_start" ] && latest_start=$s
	[ "$e" -lt "$earliest_end" ] && earliest_end=$e
done
[ "$latest_start" -lt "$earliest_end" ] ||
	fail "calls did not overlap: a call started after another had ended"

tg_stop_broker
assert_eq 8 "$(grep -c '"status":"OK"' "$T/audit.jsonl")" "eight calls audited"
tg_assert_no_leftovers
