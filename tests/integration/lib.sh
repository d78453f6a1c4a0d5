# shellcheck shell=bash
# Shared helpers for the integration tests: real binary, real broker, real
# kernel objects. Each test sources this file, uses a private temp dir, and
# ends with tg_assert_no_leftovers, which fails the test if any process,
# cgroup, mount, socket or runtime file of ours is left behind.
set -euo pipefail

: "${TOOLGATE:?TOOLGATE must point at the toolgate binary}"
: "${TG_SRC_DIR:?}"
: "${TG_BUILD_DIR:?}"
TG_HELPERS="$TG_BUILD_DIR/tests"
TG_TEST_NAME=$(basename "$0" .sh)

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $TG_TEST_NAME needs root" >&2
	exit 77
fi

T=$(mktemp -d "/tmp/tg-$TG_TEST_NAME.XXXXXX")
chmod 755 "$T"
TG_BROKER_PID=""
TG_FAILED=0

TG_EXIT_HOOKS=()
# Run a command (a string) when the test ends, before the broker is stopped.
tg_on_exit() {
	TG_EXIT_HOOKS+=("$1")
}

tg_cleanup() {
	local rc=$? hook
	for hook in "${TG_EXIT_HOOKS[@]}"; do
		eval "$hook" || true
	done
	if [ -n "$TG_BROKER_PID" ] && kill -0 "$TG_BROKER_PID" 2>/dev/null; then
		kill -TERM "$TG_BROKER_PID" 2>/dev/null || true
		wait "$TG_BROKER_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ] || [ "$TG_FAILED" -ne 0 ]; then
		echo "--- $TG_TEST_NAME failed; broker log:" >&2
		cat "$T/broker.log" 2>/dev/null >&2 || true
	fi
	rm -rf "$T"
}
trap tg_cleanup EXIT

fail() {
	echo "FAIL: $TG_TEST_NAME: $*" >&2
	TG_FAILED=1
	exit 1
}

note() { echo "# $*" >&2; }

assert_eq() { # expected actual message
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # haystack needle message
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: '$2' not found in: $1" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) fail "$3: '$2' unexpectedly found in: $1" ;;
	*) ;;
	esac
}

# Run a command, capture stdout/stderr/exit code into OUT, ERR, RC.
capture() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# Write a policy into $T from a template in policies/, replacing @T@ with $T.
tg_policy() { # name -> prints the path
	sed "s#@T@#$T#g" "$TG_SRC_DIR/tests/integration/policies/$1" >"$T/$1"
	echo "$T/$1"
}

# Start a broker in the background on $T/broker.sock; sets TOOLGATE_URL.
# Its workspace is $TG_WORKSPACE, default $T/ws.
tg_start_broker() { # policy [extra args...]
	local policy=$1
	shift
	local ws=${TG_WORKSPACE:-$T/ws}
	mkdir -p "$ws"
	"$TOOLGATE" broker --policy "$policy" --listen "ipc://$T/broker.sock" \
		--audit "$T/audit.jsonl" --workspace "$ws" "$@" >"$T/broker.url" 2>"$T/broker.log" &
	TG_BROKER_PID=$!
	for _ in $(seq 1 500); do
		[ -S "$T/broker.sock" ] && [ -s "$T/broker.url" ] && break
		kill -0 "$TG_BROKER_PID" 2>/dev/null || fail "broker exited: $(cat "$T/broker.log")"
		sleep 0.01
	done
	[ -S "$T/broker.sock" ] || fail "broker socket did not appear"
	export TOOLGATE_URL="ipc://$T/broker.sock"
}

tg_stop_broker() {
	[ -n "$TG_BROKER_PID" ] || return 0
	kill -TERM "$TG_BROKER_PID"
	local rc=0
	wait "$TG_BROKER_PID" || rc=$?
	TG_BROKER_PID=""
	[ $rc -eq 0 ] || fail "broker exited with $rc: $(cat "$T/broker.log")"
}

# Broker resident memory in KiB.
tg_broker_rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$TG_BROKER_PID/status"
}

# Fail if anything of ours is left on the machine: init processes, sandbox
# cgroups, mounts of our staging roots, runtime dirs and sockets.
tg_assert_no_leftovers() {
	local left
	# Processes: any sandbox init still alive. A zombie is an ended process
	# whose (new) parent has not reaped it yet, e.g. after a broker was
	# SIGKILLed in a test; give the kernel and PID 1 a moment (bounded).
	for _ in $(seq 1 30); do
		left=$(ps -eo stat=,pid=,args= | awk '$1 !~ /^Z/ && /toolgate-init/ && !/awk/')
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || fail "processes left behind: $left"
	# cgroups: no per-call or per-instance directory under any toolgate parent.
	left=$(find /sys/fs/cgroup -path '*/toolgate/*' -type d 2>/dev/null | head -5 || true)
	[ -z "$left" ] || fail "cgroups left behind: $left"
	# mounts: nothing of ours in the host's mount table.
	left=$(grep -E '/run/toolgate|/tmp/tg-' /proc/self/mountinfo || true)
	[ -z "$left" ] || fail "mounts left behind: $left"
	# runtime dirs: /run/toolgate holds no session directory.
	if [ -d /run/toolgate ]; then
		left=$(find /run/toolgate -mindepth 1 -maxdepth 1 2>/dev/null || true)
		[ -z "$left" ] || fail "runtime files left behind: $left"
	fi
	# sockets of this test's broker are gone.
	[ ! -S "$T/broker.sock" ] || fail "broker socket left behind"
}
