#!/bin/bash
# Rate limits: a token bucket per tool refuses the call past its budget with
# RATE_LIMITED (exit 75) and a retry-after; max_concurrent caps the calls in
# flight; refusals are audited.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy limits.yaml)"

for i in 1 2 3; do
	capture "$TOOLGATE" call quick
	assert_eq 0 "$RC" "call $i within the budget"
done
capture "$TOOLGATE" call --json quick
assert_eq 75 "$RC" "past the budget"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "RATE_LIMITED", d
assert d["retry_after_ms"] > 0, d
' || fail "rate limited response: $OUT"

# max_concurrent: 2 slow calls hold both slots; a third is refused.
"$TOOLGATE" call slow >/dev/null 2>&1 &
a=$!
"$TOOLGATE" call slow >/dev/null 2>&1 &
b=$!
sleep 0.4
capture "$TOOLGATE" call slow
assert_eq 75 "$RC" "a third concurrent call is refused"
assert_contains "$ERR" "max_concurrent" "the reason names the cap"
wait "$a" || fail "first slow call"
wait "$b" || fail "second slow call"
capture "$TOOLGATE" call slow
assert_eq 0 "$RC" "slots free again"

tg_stop_broker
assert_eq 2 "$(grep -c '"status":"RATE_LIMITED"' "$T/audit.jsonl")" "refusals audited"
tg_assert_no_leftovers
