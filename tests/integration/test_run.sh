#!/bin/bash
# toolgate run: the agent is jailed (no network, no host processes, no host
# files beyond what the policy grants); its only way out is the broker; its
# exit status comes back; nothing is left behind.
. "$(dirname "$0")/lib.sh"

policy=$(tg_policy basic.yaml)
mkdir -p "$T/ws"
run() { "$TOOLGATE" run --policy "$policy" --audit "$T/audit.jsonl" --workspace "$T/ws" -- "$@"; }

# A runtime directory left by a broker that was SIGKILLed (its lock file is
# not held by anyone) is removed by the next broker.
stale=/run/toolgate/00000000deadbeef
mkdir -p "$stale/root-1-0"
touch "$stale/lock" "$stale/broker.sock"
touch -d '1 hour ago' "$stale"

capture run sh -c 'exit 7'
assert_eq 7 "$RC" "the agent's exit code comes back ($ERR)"
[ ! -e "$stale" ] || fail "a dead broker's runtime directory was not removed"

capture run sh -c 'toolgate call echo words=from words=jail'
assert_eq 0 "$RC" "a tool call from the jail ($ERR)"
assert_eq "from jail" "$OUT" "tool output reaches the agent"

capture run sh -c 'echo "$TOOLGATE_URL"; ls /run/toolgate'
assert_eq "ipc:///run/toolgate/broker.sock" "$(echo "$OUT" | head -1)" "TOOLGATE_URL"

# Network: a listener on the host's loopback is reachable from the host...
port=$((20000 + RANDOM % 20000))
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(8); s.settimeout(30)
try:
    while True: c, _ = s.accept(); c.sendall(b'host-secret\n'); c.close()
except Exception: pass
" &
listener=$!
for _ in $(seq 1 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	sleep 0.05
done
probe="import socket; s = socket.create_connection(('127.0.0.1', $port), 2); print(s.recv(100).decode().strip())"
capture python3 -c "$probe"
assert_eq "host-secret" "$OUT" "the listener works from the host"
# ...and not from the jail.
capture run python3 -c "$probe"
[ "$RC" -ne 0 ] || fail "the jail reached the host's loopback listener: $OUT"
assert_not_contains "$OUT" "host-secret" "jail network"
capture run sh -c 'ls /sys/class/net 2>/dev/null || cat /proc/net/dev'
assert_not_contains "$OUT" "eth" "only lo in the jail"
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true

# Files: a host file outside the granted mounts cannot be read.
echo "top secret" >"$T/secret.txt"
capture cat "$T/secret.txt"
assert_eq "top secret" "$OUT" "the host file is readable on the host"
capture run cat "$T/secret.txt"
[ "$RC" -ne 0 ] || fail "the jail read a host file: $OUT"
capture run cat /etc/shadow
[ "$RC" -ne 0 ] || fail "the jail read /etc/shadow"
capture run sh -c 'echo x > /usr/tg-write-test'
[ "$RC" -ne 0 ] || fail "the jail wrote to read-only /usr"

# Processes: a host process is invisible.
marker="tg-host-$$-$RANDOM"
bash -c "exec -a $marker sleep 300" &
host_pid=$!
capture run sh -c "ls -d /proc/[0-9]* | wc -l; test -e /proc/$host_pid && echo visible || echo hidden; pgrep -f $marker || true"
kill "$host_pid"
wait "$host_pid" 2>/dev/null || true
assert_eq "hidden" "$(echo "$OUT" | sed -n 2p)" "host pid visible in the jail"
count=$(echo "$OUT" | head -1)
[ "$count" -le 5 ] || fail "the jail sees $count processes"

# Signals to `toolgate run` reach the agent.
"$TOOLGATE" run --policy "$policy" --audit "$T/audit.jsonl" --workspace "$T/ws" -- sleep 300 &
runner=$!
sleep 0.5
kill -TERM "$runner"
set +e
wait "$runner"
rc=$?
set -e
assert_eq 143 "$rc" "SIGTERM forwarded to the agent"

capture "$TOOLGATE" audit verify "$T/audit.jsonl"
assert_eq 0 "$RC" "audit log of the sessions verifies: $OUT $ERR"
tg_assert_no_leftovers
