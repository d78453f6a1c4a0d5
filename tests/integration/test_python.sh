#!/bin/bash
# The Python binding (ctypes over libtoolgate.so): results, exceptions for
# denial, rate limit and an unreachable broker, tools(); and from a jailed
# agent under `toolgate run`, where the module is provided.
. "$(dirname "$0")/lib.sh"

export PYTHONPATH="$TG_BUILD_DIR/python"
tg_start_broker "$(tg_policy basic.yaml)"

capture python3 - <<'PY'
import toolgate
r = toolgate.call("exit", code=3)
assert r.status == "OK" and r.exit_code == 3 and not r.ok, r
assert r.stdout == "out\n" and r.stderr == "err\n", r
assert r.usage.wall_ms >= 0 and r.rule.startswith("tools["), r
r = toolgate.call("echo", words=["a", "b"])
assert r.ok and r.stdout == "a b\n", r
try:
    toolgate.call("greet", name="x; rm -rf /")
    raise SystemExit("denied call did not raise")
except toolgate.Denied as e:
    assert "pattern" in e.reason, e.reason
toolgate.call("limited"); toolgate.call("limited")
try:
    toolgate.call("limited")
    raise SystemExit("rate limit did not raise")
except toolgate.RateLimited as e:
    assert e.retry_after_ms > 0, e.retry_after_ms
names = [t["name"] for t in toolgate.tools()]
assert "echo" in names and "limited" in names, names
r = toolgate.call("sleep", seconds=5)
assert r.status == "TIMEOUT" and not r.ok, r
print("python binding ok")
PY
assert_eq 0 "$RC" "python binding: $OUT $ERR"

capture env TOOLGATE_URL="ipc://$T/nope.sock" python3 -c '
import toolgate
try:
    toolgate.call("echo", words=["x"])
except toolgate.BrokerUnavailable as e:
    print("unavailable:", e)
'
assert_contains "$OUT" "unavailable:" "unreachable broker raises BrokerUnavailable"
tg_stop_broker

# From a jailed agent: the module and library come with the jail.
policy=$(tg_policy basic.yaml)
capture "$TOOLGATE" run --policy "$policy" --audit "$T/run.jsonl" --workspace "$T/ws" -- \
	python3 -c 'import toolgate; print(toolgate.call("echo", words=["from", "python"]).stdout, end="")'
assert_eq 0 "$RC" "python agent in the jail: $ERR"
assert_eq "from python" "$OUT" "python agent output"

tg_assert_no_leftovers
