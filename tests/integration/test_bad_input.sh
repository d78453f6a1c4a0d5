#!/bin/bash
# Garbage, oversized and wrong-version messages each get a typed INVALID
# answer and an audit record, and the broker keeps serving.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"
raw="$TG_HELPERS/tgw_raw"

capture "$raw" "$TOOLGATE_URL" garbage
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "garbage: $OUT $ERR"
assert_contains "$OUT" "undecodable" "garbage reason"

capture "$raw" "$TOOLGATE_URL" oversized
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "oversized: $OUT $ERR"
assert_contains "$OUT" "too large" "oversized reason"

capture "$raw" "$TOOLGATE_URL" version
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "wrong version: $OUT $ERR"

capture "$raw" "$TOOLGATE_URL" empty
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "no body: $OUT $ERR"

capture "$raw" "$TOOLGATE_URL" nul
assert_eq "DENIED" "$(echo "$OUT" | cut -d' ' -f1)" "NUL byte in a value: $OUT $ERR"

capture "$raw" "$TOOLGATE_URL" badutf8
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "invalid UTF-8 in a value: $OUT $ERR"

capture "$raw" "$TOOLGATE_URL" duplicate
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "duplicate parameter: $OUT $ERR"

# 20,000 nested lists (270 KB): would overflow the decoder's recursion.
capture "$raw" "$TOOLGATE_URL" deep
assert_eq "INVALID" "$(echo "$OUT" | cut -d' ' -f1)" "deeply nested request: $OUT $ERR"
assert_contains "$OUT" "too deep" "nesting reason"

capture "$raw" "$TOOLGATE_URL" huge
note "past the transport bound: $OUT $ERR"

capture "$TOOLGATE" call echo words=still words=serving
assert_eq "still serving" "$OUT" "the broker keeps serving"

tg_stop_broker
invalid=$(grep -c '"status":"INVALID"' "$T/audit.jsonl")
assert_eq 7 "$invalid" "invalid requests are audited"
capture "$TOOLGATE" audit verify "$T/audit.jsonl"
assert_eq 0 "$RC" "audit log verifies: $OUT $ERR"
tg_assert_no_leftovers
