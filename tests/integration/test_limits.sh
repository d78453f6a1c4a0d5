#!/bin/bash
# Resource limits: memory (OOM, exit 137), output (bounded, broker memory
# flat while a tool prints 200 MiB), sanitization of what tools print.
. "$(dirname "$0")/lib.sh"

tg_start_broker "$(tg_policy basic.yaml)"

capture "$TOOLGATE" call memhog mib=16
assert_eq 0 "$RC" "16 MiB fits in 64 MiB: $ERR"
capture "$TOOLGATE" call memhog mib=512
assert_eq 137 "$RC" "512 MiB in a 64 MiB limit: OOM ($ERR)"
assert_contains "$ERR" "OOM" "status named"

rss_before=$(tg_broker_rss_kb)
capture "$TOOLGATE" call --json flood mib=200
rss_after=$(tg_broker_rss_kb)
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "OUTPUT_LIMIT", d["status"]
assert d["truncated"] is True
assert len(d["stdout"]) == 64 * 1024, len(d["stdout"])
' || fail "flood result: $(printf '%s' "$OUT" | head -c 300)"
growth=$((rss_after - rss_before))
note "broker RSS before ${rss_before} KiB, after ${rss_after} KiB"
[ "$growth" -lt 32768 ] || fail "broker memory grew by ${growth} KiB for 200 MiB of output"
grep '"tool":"flood"' "$T/audit.jsonl" | grep -q '"stdout_bytes":209715200' ||
	fail "audit does not count every byte printed"

# Sanitizer: escapes and controls stripped, secrets redacted and counted.
capture "$TOOLGATE" call --json sh script='printf "\033[31mred\033[0m \007bell AKIAABCDEFGHIJKLMNOP sk-abcdefghijklmnopqrstuvwxyz\n"'
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
out = d["stdout"]
assert "\x1b" not in out and "\x07" not in out, repr(out)
assert "red" in out and "bell" in out, repr(out)
assert "AKIAABCDEFGHIJKLMNOP" not in out and "sk-abc" not in out, repr(out)
assert d["redactions"] == 2, d["redactions"]
' || fail "sanitized output: $OUT"

tg_stop_broker
tg_assert_no_leftovers
