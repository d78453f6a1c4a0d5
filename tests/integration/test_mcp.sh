#!/bin/bash
# toolgate mcp, tested with the official MCP TypeScript SDK client (pinned in
# tests/mcp/package-lock.json, installed by scripts/bootstrap), plus version
# negotiation and protocol errors with raw JSON-RPC lines.
. "$(dirname "$0")/lib.sh"

mcp_dir="$TG_SRC_DIR/tests/mcp"
if [ ! -d "$mcp_dir/node_modules/@modelcontextprotocol/sdk" ]; then
	if [ "${CI:-}" = true ]; then
		fail "the MCP SDK is not installed (scripts/bootstrap installs it)"
	fi
	echo "SKIP: MCP SDK not installed; run scripts/bootstrap" >&2
	exit 77
fi
policy=$(tg_policy basic.yaml)
mkdir -p "$T/ws"

capture node "$mcp_dir/mcp_client.mjs" "$TOOLGATE" "$policy" "$T/audit.jsonl" "$T/ws"
echo "$OUT"
[ "$RC" -eq 0 ] || fail "SDK client: $OUT $ERR"
marker=$(echo "$OUT" | sed -n 's/^marker //p')
sleep 0.5
if pgrep -f "$marker" >/dev/null; then
	fail "the cancelled call's process survived"
fi

# The cancelled and denied calls were audited like any other.
grep -q '"tool":"greet"' "$T/audit.jsonl" || fail "MCP calls not audited"
grep '"tool":"sh"' "$T/audit.jsonl" | grep -q 'cancelled' || fail "cancelled call not audited as such"
capture "$TOOLGATE" audit verify "$T/audit.jsonl"
assert_eq 0 "$RC" "audit log verifies: $OUT $ERR"

# Raw JSON-RPC: version negotiation, errors, clean exit on EOF.
mcp_from() { "$TOOLGATE" mcp --policy "$policy" --audit "$T/audit2.jsonl" --workspace "$T/ws" <"$1"; }
cat >"$T/in.jsonl" <<'JSON'
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"ping"}
not json
{"jsonrpc":"2.0","id":3,"method":"no/such"}
{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"bogus"}}
{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"words":["raw"]}}}
JSON
capture mcp_from "$T/in.jsonl"
assert_eq 0 "$RC" "mcp exits 0 when stdin closes ($ERR)"
printf '%s\n' "$OUT" | python3 -c '
import json, sys
msgs = [json.loads(l) for l in sys.stdin if l.strip()]
by_id = {m.get("id"): m for m in msgs}
assert by_id[1]["result"]["protocolVersion"] == "2024-11-05", by_id[1]
assert by_id[2]["result"] == {}, by_id[2]
assert any(m.get("id") is None and m["error"]["code"] == -32700 for m in msgs), msgs
assert by_id[3]["error"]["code"] == -32601, by_id[3]
assert by_id[4]["error"]["code"] == -32602, by_id[4]
assert by_id[5]["result"]["content"][0]["text"].strip() == "raw", by_id[5]
' || fail "raw JSON-RPC answers: $OUT"

echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}' >"$T/in2.jsonl"
capture mcp_from "$T/in2.jsonl"
assert_contains "$OUT" '"protocolVersion":"2025-11-25"' "unknown version: the latest is offered"

tg_assert_no_leftovers
