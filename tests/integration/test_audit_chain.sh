#!/bin/bash
# The audit log written by a real broker is a verifiable chain: modifying,
# deleting or reordering a line makes `audit verify` exit 1 and name the
# first bad record.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"
for i in 1 2 3 4; do
	"$TOOLGATE" call echo words="call$i" >/dev/null
done
"$TOOLGATE" call greet name="not allowed!" 2>/dev/null || true
tg_stop_broker
log="$T/audit.jsonl"
lines=$(wc -l <"$log")
[ "$lines" -ge 8 ] || fail "expected at least 8 records, got $lines"

capture "$TOOLGATE" audit verify "$log"
assert_eq 0 "$RC" "intact log: $OUT $ERR"

# Modified: change one byte of record 4's tool output count.
cp "$log" "$T/mod.jsonl"
sed -i '4s/call3/callX/; 4s/call2/callX/' "$T/mod.jsonl"
cmp -s "$log" "$T/mod.jsonl" && sed -i '4s/"seq":4/"seq":44/' "$T/mod.jsonl"
capture "$TOOLGATE" audit verify "$T/mod.jsonl"
assert_eq 1 "$RC" "modified log"
assert_contains "$OUT$ERR" "modified" "kind of damage"
assert_contains "$OUT$ERR" "mod.jsonl:4:" "first bad record named"

# Deleted: drop line 5.
sed '5d' "$log" >"$T/del.jsonl"
capture "$TOOLGATE" audit verify "$T/del.jsonl"
assert_eq 1 "$RC" "deleted record"
assert_contains "$OUT$ERR" "deleted" "kind of damage"

# Reordered: swap lines 5 and 6.
awk 'NR==5 {held=$0; next} NR==6 {print; print held; next} {print}' "$log" >"$T/swap.jsonl"
capture "$TOOLGATE" audit verify "$T/swap.jsonl"
assert_eq 1 "$RC" "reordered records"
assert_contains "$OUT$ERR" "reordered" "kind of damage"

tg_assert_no_leftovers
