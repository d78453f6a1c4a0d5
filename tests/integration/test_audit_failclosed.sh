#!/bin/bash
# Fail closed, end to end, with a real broker:
# - its audit log is on a small tmpfs that fills up: calls go on while the
#   space reserved for their records lasts, then are refused UNAVAILABLE
#   (`toolgate call` exits 69) before they run: nothing runs unaudited (each
#   call leaves a marker file; every marker has its record). Once space is
#   back the same broker serves again, and the log verifies, signatures too.
# - a broker killed with SIGKILL while calls run leaves a log that verify
#   explains (intact but unterminated; its end not signed), and the next
#   broker continues it with a recovery record.
. "$(dirname "$0")/lib.sh"

MNT="$T/mnt"
LOG="$MNT/audit.jsonl"
PUB="$T/keys/audit-sign.pub"

tg_audit_cleanup() {
	local rc=$?
	# the broker holds the log open: stop it before the tmpfs goes
	if [ -n "$TG_BROKER_PID" ] && kill -0 "$TG_BROKER_PID" 2>/dev/null; then
		kill -TERM "$TG_BROKER_PID" 2>/dev/null || true
		wait "$TG_BROKER_PID" 2>/dev/null || true
	fi
	TG_BROKER_PID=""
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	# hand tg_cleanup the test's status (it reads $?); no errexit here
	set +e
	(exit "$rc")
	tg_cleanup
}
trap tg_audit_cleanup EXIT

mkdir -p "$MNT" "$T/ws"
mount -t tmpfs -o size=512k,mode=0755 tmpfs "$MNT"
capture "$TOOLGATE" audit keygen "$T/keys"
assert_eq 0 "$RC" "keygen: $ERR"

cat >"$T/policy.yaml" <<EOF
version: 1
workspace: $T/ws
defaults:
  limits: {timeout: 10s, memory: 256MiB, pids: 64, output: 1MiB}
  env: {PATH: /usr/bin:/bin, LANG: C.UTF-8}
tools:
  - name: mark
    description: Leave a marker file in the workspace
    command: [/bin/sh, -c, 'touch "/workspace/ran-\$1"', sh, "{n}"]
    params:
      n: {type: integer, min: 0, max: 100000, required: true}
    workspace: rw
  - name: echo
    description: Print words
    command: [/usr/bin/echo, "{words...}"]
    params:
      words: {type: array, items: {type: string}, max_items: 8, required: true}
    workspace: none
audit:
  params: full
  fsync: always
  sign_key: $T/keys/audit-sign.key
  checkpoint: {every: 5, interval: 1s}
EOF

markers() { find "$T/ws" -name 'ran-*' | wc -l; }
# Calls of `mark` that the log records as run (status OK).
recorded_runs() {
	"$TOOLGATE" audit show --tool mark --json "$LOG" | grep -c '"status":"OK"' || true
}

# --- 1. disk full -----------------------------------------------------------
tg_start_broker "$T/policy.yaml" --audit "$LOG"
capture "$TOOLGATE" call mark n=0
assert_eq 0 "$RC" "first call: $ERR"
[ -e "$T/ws/ran-0" ] || fail "the first call did not run"

# something else takes all the space left
dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null || true
note "tmpfs full: $(df -k "$MNT" | tail -1)"

refused=0
for i in $(seq 1 400); do
	capture "$TOOLGATE" call mark n="$i"
	if [ "$RC" -eq 69 ]; then
		refused=$i
		break
	fi
	assert_eq 0 "$RC" "call $i (space reserved before the disk filled): $ERR"
	[ -e "$T/ws/ran-$i" ] || fail "call $i succeeded but did not run"
done
[ "$refused" -gt 0 ] || fail "400 calls and none refused on a full disk"
note "refused from call $refused on: $ERR"
assert_contains "$ERR" "audit log unwritable" "reason of the refusal"
[ ! -e "$T/ws/ran-$refused" ] || fail "call $refused was refused but ran: unaudited"
for n in $((refused + 1)) $((refused + 2)) $((refused + 3)); do
	capture "$TOOLGATE" call mark n="$n"
	assert_eq 69 "$RC" "call $n on a full disk"
	[ ! -e "$T/ws/ran-$n" ] || fail "call $n was refused but ran: unaudited"
done
# the broker answers everything else as before
capture "$TOOLGATE" tools
assert_eq 0 "$RC" "tools while the disk is full"

# space comes back: the same broker serves again
rm -f "$MNT/filler"
capture "$TOOLGATE" call mark n=5000
assert_eq 0 "$RC" "call after space came back: $ERR"
[ -e "$T/ws/ran-5000" ] || fail "call after space came back did not run"
tg_stop_broker

capture "$TOOLGATE" audit verify --pubkey "$PUB" "$LOG"
assert_eq 0 "$RC" "verify after the disk-full episode: $OUT $ERR"
assert_contains "$OUT" "intact" "verify"
assert_contains "$OUT" "Ed25519 signatures checked" "verify"
assert_not_contains "$OUT" "unterminated" "verify"
# nothing ran that the log does not record
assert_eq "$(markers)" "$(recorded_runs)" "marker files vs. recorded runs"

# --- 2. SIGKILL mid-stream ----------------------------------------------------
rm -f "$T/broker.sock" "$T/broker.url"
tg_start_broker "$T/policy.yaml" --audit "$LOG"
killed_pid=$TG_BROKER_PID
before=$(wc -l <"$LOG")
(
	for i in $(seq 1 400); do
		"$TOOLGATE" call echo words="w$i" >/dev/null 2>&1 || true
	done
) &
loop=$!
# let calls flow, then kill the broker in the middle of them
for _ in $(seq 1 100); do
	[ "$(wc -l <"$LOG")" -gt $((before + 20)) ] && break
	sleep 0.05
done
kill -KILL "$killed_pid"
wait "$killed_pid" 2>/dev/null || true
TG_BROKER_PID=""
wait "$loop" 2>/dev/null || true
killed_session=$("$TOOLGATE" audit show --json "$LOG" | grep '"event":"session_start"' |
	tail -1 | sed 's/.*"session":"\([0-9a-f]*\)".*/\1/')
[ -n "$killed_session" ] || fail "no session_start of the killed broker"

capture "$TOOLGATE" audit verify "$LOG"
assert_eq 0 "$RC" "the chain of a killed writer's log: $OUT $ERR"
assert_contains "$OUT" "unterminated: session $killed_session has no session_end and no writer" \
	"verify explains the kill"
capture "$TOOLGATE" audit verify --pubkey "$PUB" "$LOG"
if [ "$RC" -eq 1 ]; then
	assert_contains "$OUT" "truncated" "unsigned end after a kill"
	assert_contains "$OUT" "not signed" "unsigned end after a kill"
else
	assert_eq 0 "$RC" "killed right after a checkpoint: $OUT $ERR"
fi

# A SIGKILLed broker cleans nothing up: its runtime directory stays (the next
# broker removes stale cgroups itself).
rm -rf "/run/toolgate/$killed_session"
rm -f "$T/broker.sock" "$T/broker.url"

# the next broker continues the log
tg_start_broker "$T/policy.yaml" --audit "$LOG"
capture "$TOOLGATE" call echo words=after
assert_eq 0 "$RC" "call after the restart: $ERR"
tg_stop_broker
assert_contains "$(cat "$T/broker.log")" "ended without session_end" "broker log names the recovery"

capture "$TOOLGATE" audit verify --pubkey "$PUB" "$LOG"
assert_eq 0 "$RC" "verify after the restart: $OUT $ERR"
assert_contains "$OUT" "1 recovery after a crash" "recovery reported"
assert_contains "$OUT" "session $killed_session ended without session_end" "which session"
assert_not_contains "$OUT" "unterminated" "closed again"

umount "$MNT" # ours; the leftovers check below is about the broker's
tg_assert_no_leftovers
