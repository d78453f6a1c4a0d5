#!/bin/bash
# SIGHUP reloads the policy atomically: calls in flight finish under the old
# policy, new calls see the new one, a bad policy is refused and the old one
# keeps serving, and every load is audited with the policy's SHA-256.
. "$(dirname "$0")/lib.sh"

policy=$(tg_policy basic.yaml)
tg_start_broker "$policy"

capture "$TOOLGATE" call greet name=Ada
assert_eq "hello, Ada" "$OUT" "before reload"

# A slow call under the old policy, still running while we reload.
"$TOOLGATE" call sh script='sleep 1; echo finished-under-old' >"$T/slow.out" 2>&1 &
slow=$!
sleep 0.3

# New policy: greet is gone, a new tool appears.
sed -i 's/- name: greet/- name: salute/' "$policy"
kill -HUP "$TG_BROKER_PID"
for _ in $(seq 1 100); do
	grep -q 'reloaded' "$T/broker.log" && break
	sleep 0.02
done
grep -q 'reloaded' "$T/broker.log" || fail "no reload logged: $(cat "$T/broker.log")"

wait "$slow" || fail "the in-flight call failed across the reload: $(cat "$T/slow.out")"
assert_eq "finished-under-old" "$(cat "$T/slow.out")" "in-flight call"
capture "$TOOLGATE" call greet name=Ada
assert_eq 77 "$RC" "greet is gone after the reload"
capture "$TOOLGATE" call salute name=Ada
assert_eq "hello, Ada" "$OUT" "the new tool serves"

# A broken policy is refused; the previous one stays in force.
cp "$policy" "$T/good.yaml"
printf 'version: 1\ntools:\n  - name: x\n    command: [/nonexistent/binary]\n    bogus_key: 1\n' >"$policy"
kill -HUP "$TG_BROKER_PID"
for _ in $(seq 1 100); do
	grep -q 'refused' "$T/broker.log" && break
	sleep 0.02
done
assert_contains "$(cat "$T/broker.log")" "refused" "the bad reload is logged"
assert_contains "$(cat "$T/broker.log")" "bogus_key" "the log names the error"
capture "$TOOLGATE" call salute name=Bob
assert_eq "hello, Bob" "$OUT" "the old policy keeps serving"

tg_stop_broker
loads=$(grep -c '"event":"policy_loaded"' "$T/audit.jsonl")
assert_eq 2 "$loads" "one policy_loaded per successful load"
shas=$(grep '"event":"policy_loaded"' "$T/audit.jsonl" | python3 -c '
import json, sys
print(len({json.loads(l)["policy_sha256"] for l in sys.stdin}))')
assert_eq 2 "$shas" "each load records its own policy hash"
capture "$TOOLGATE" audit verify "$T/audit.jsonl"
assert_eq 0 "$RC" "audit log verifies: $OUT $ERR"
tg_assert_no_leftovers
