#!/bin/bash
# Prepared sandboxes: after a tool's first call, the broker keeps one
# sandbox of that tool built and waiting, and the next call only hands it
# argv and env. What the program sees must not differ in any way from a
# sandbox built on the call's path; a reload must never run a call in a
# sandbox prepared for the old policy; a prepared sandbox that died while
# waiting must not fail the call; nothing may be left behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ws"
touch "$T/ws/here"
policy=$(tg_policy prepared.yaml)
sed "s/@FSIZE@/1MiB/g" "$policy" >"$T/p1.yaml"
sed "s/@FSIZE@/2MiB/g" "$policy" >"$T/p2.yaml"
cp "$T/p1.yaml" "$T/policy.yaml"
tg_start_broker "$T/policy.yaml"

# The first call builds its sandbox inline; the following ones find one
# prepared (the builder has all the time it needs between these calls).
for w in one two three; do
	capture "$TOOLGATE" call look word=$w
	assert_eq 0 "$RC" "look $w: $ERR"
	assert_contains "$OUT" "pid=2 argv=$w env=1MiB" "look $w: argv and env of this call"
	assert_contains "$OUT" "Max file size             1048576" "look $w: the policy's limits"
	assert_contains "$OUT" "here" "look $w: the workspace"
	sleep 0.3
done
# Each call gets a sandbox of its own, prepared or not: nothing the previous
# call left in its /tmp or /dev/shm (or a process it left running) is there.
for _ in 1 2 3; do
	capture "$TOOLGATE" call leave
	assert_eq 0 "$RC" "leave: $ERR"
	assert_not_contains "$OUT" "trace" "a previous call's files are visible"
	sleep 0.3
done
# Every record lists the same protections, prepared or not.
prot=$(grep '"tool":"look"' "$T/audit.jsonl" | sed 's/.*"protections":\(\[[^]]*\]\).*/\1/' | sort -u)
assert_eq 1 "$(echo "$prot" | wc -l)" "the protections of all calls: $prot"
assert_contains "$prot" '"seccomp:default"' "protections"

# One sandbox per tool called is waiting, idle: its init and nothing else.
inits=$(pgrep -P "$TG_BROKER_PID" -f toolgate-init | wc -l)
assert_eq 2 "$inits" "prepared sandboxes waiting"

# Reload: the sandbox prepared under the old limits must not serve.
cp "$T/p2.yaml" "$T/policy.yaml"
kill -HUP "$TG_BROKER_PID"
for _ in $(seq 1 100); do
	grep -q "reloaded" "$T/broker.log" && break
	sleep 0.05
done
capture "$TOOLGATE" call look word=after
assert_eq 0 "$RC" "look after the reload: $ERR"
assert_contains "$OUT" "Max file size             2097152" "the new policy's limits"
assert_contains "$OUT" "env=2MiB" "the new policy's env"

# A prepared sandbox killed while it waits: the call still runs.
sleep 0.5
pids=$(pgrep -P "$TG_BROKER_PID" -f toolgate-init || true)
[ -n "$pids" ] || fail "no prepared sandbox to kill"
kill -9 $pids
sleep 0.2
capture "$TOOLGATE" call look word=again
assert_eq 0 "$RC" "look after its prepared sandbox died: $ERR"
assert_contains "$OUT" "argv=again" "look again"
grep -q "prepared sandbox unusable" "$T/broker.log" ||
	fail "the dead prepared sandbox was not the one taken: $(cat "$T/broker.log")"

"$TOOLGATE" audit verify "$T/audit.jsonl" >/dev/null || fail "audit log does not verify"
tg_stop_broker
tg_assert_no_leftovers

# Disabled: every call builds its own, nothing waits.
TOOLGATE_PREPARED=0 tg_start_broker "$T/policy.yaml"
capture "$TOOLGATE" call look word=plain
assert_eq 0 "$RC" "look without prepared sandboxes: $ERR"
sleep 0.3
assert_eq 0 "$(pgrep -P "$TG_BROKER_PID" -f toolgate-init | wc -l)" "no sandbox waits with TOOLGATE_PREPARED=0"
tg_stop_broker
tg_assert_no_leftovers
