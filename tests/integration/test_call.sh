#!/bin/bash
# A real broker, real sandboxed children: allowed calls return the tool's
# output and exit code; denied calls exit 77 and are audited; --json; usage.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"

capture "$TOOLGATE" call echo words=hello words=world
assert_eq 0 "$RC" "echo exit"
assert_eq "hello world" "$OUT" "echo output"

capture "$TOOLGATE" call exit code=3
assert_eq 3 "$RC" "tool exit code passes through"
assert_eq "out" "$OUT" "stdout of the tool"
assert_eq "err" "$ERR" "stderr of the tool"

capture "$TOOLGATE" call greet name=Ada
assert_eq 0 "$RC" "greet allowed"
assert_eq "hello, Ada" "$OUT" "embedded placeholder"

# Denied: pattern, unknown tool, unknown parameter, leading dash.
capture "$TOOLGATE" call greet 'name=Ada; rm -rf /'
assert_eq 77 "$RC" "pattern violation is denied"
assert_contains "$ERR" "DENIED" "denial is named"
capture "$TOOLGATE" call nosuchtool a=b
assert_eq 77 "$RC" "unknown tool is denied"
assert_contains "$ERR" "nosuchtool" "the reason names the tool"
capture "$TOOLGATE" call echo words=hi color=red
assert_eq 77 "$RC" "unknown parameter is denied"
capture "$TOOLGATE" call echo words=--help
assert_eq 77 "$RC" "a value with a leading dash is denied"

# Usage errors never reach the broker.
capture "$TOOLGATE" call
assert_eq 64 "$RC" "no tool is a usage error"
capture "$TOOLGATE" call echo notapair
assert_eq 64 "$RC" "a parameter without = is a usage error"

# --json: the whole response as one object.
capture "$TOOLGATE" call --json exit code=5
assert_eq 5 "$RC" "--json keeps the exit code"
status=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["exit_code"], d["stdout"].strip(), d["usage"]["wall_ms"] >= 0)')
assert_eq "OK 5 out True" "$status" "--json fields"

capture "$TOOLGATE" call --json greet name=1
assert_eq 77 "$RC" "--json denial exit"
assert_contains "$OUT" '"status":"DENIED"' "--json denial status"

# Params as JSON, typed.
capture "$TOOLGATE" call exit --params-json '{"code": 7}'
assert_eq 7 "$RC" "--params-json integer"

# The C client example (examples/client.c, over libtoolgate.so).
capture "$TG_BUILD_DIR/examples/toolgate-client-example" echo words=from words=C
assert_eq 0 "$RC" "C example: $ERR"
assert_contains "$OUT" "from C" "C example output"
assert_contains "$OUT" '"name":' "C example lists the tools"
capture "$TG_BUILD_DIR/examples/toolgate-client-example" greet name=1
assert_eq 77 "$RC" "C example: denied"

# Unreachable broker: 69.
capture env TOOLGATE_URL="ipc://$T/nope.sock" "$TOOLGATE" call echo words=x
assert_eq 69 "$RC" "unreachable broker"

# Every request above that reached the broker has an audit record.
tg_stop_broker
records=$(grep -c '"event":"call"' "$T/audit.jsonl")
assert_eq 12 "$records" "one audit record per call"
denied=$(grep '"event":"call"' "$T/audit.jsonl" | grep -c '"decision":"deny"')
assert_eq 6 "$denied" "denied calls are audited"
grep '"tool":"exit"' "$T/audit.jsonl" | head -1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
assert r["decision"] == "allow", r
assert r["status"] == "OK", r
assert r["exit_code"] == 3, r
assert r["argv"][0] == "/bin/sh", r
assert r["peer"]["uid"] == 0 and r["peer"]["pid"] > 0, r
assert r["params"] == {"code": "3"}, r
assert "usage" in r and "protections" in r, r
assert len(r["prev"]) == 64 and len(r["hash"]) == 64, r
' || fail "audit record fields"
capture "$TOOLGATE" audit verify "$T/audit.jsonl"
assert_eq 0 "$RC" "audit log verifies: $OUT $ERR"

tg_assert_no_leftovers
