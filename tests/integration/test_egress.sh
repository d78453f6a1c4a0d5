#!/bin/bash
# Per-endpoint egress, enforced by the kernel (docs/egress.md): a tool
# reaches exactly the endpoints its policy lists. Test hosts live in network
# namespaces this test makes on this machine (198.18.0.0/15, never routed
# anywhere else):
#   A = 198.18.1.2: tcp 8080, 8081, 9000; udp 8080, 53    B = 198.18.2.2: tcp 8080
# Host names resolve through an /etc/hosts of our own, bind-mounted in the
# broker's private mount namespace (the machine's /etc/hosts is untouched).
. "$(dirname "$0")/lib.sh"

NET_BIN="$TG_HELPERS/tgx_net"
[ -x "$NET_BIN" ] || fail "tgx_net is not built ($NET_BIN)"
for tool in ip nft nsenter unshare; do
	command -v "$tool" >/dev/null || { echo "SKIP: $TG_TEST_NAME needs $tool" >&2; exit 77; }
done
nft list tables >/dev/null 2>&1 || { echo "SKIP: $TG_TEST_NAME: no nftables" >&2; exit 77; }

# Another broker's table (a test running in parallel) would outlive ours.
table_before=$(nft list tables 2>/dev/null | grep -c 'inet toolgate$' || true)
fwd_before=$(cat /proc/sys/net/ipv4/ip_forward)
NS_A="tgt-eg-a-$$"
NS_B="tgt-eg-b-$$"
VA="tgta$$"
VB="tgtb$$"
SERVER_PIDS=()

eg_cleanup() {
	for p in "${SERVER_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${SERVER_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
}
eg_exit() {
	local rc=$?
	set +e
	[ $rc -eq 0 ] || TG_FAILED=1
	tg_cleanup
	eg_cleanup
}
trap eg_exit EXIT

# A test host: a namespace behind a veth whose host side is on this machine.
make_host() { # ns veth net(198.18.N)
	ip netns add "$1"
	ip link add "$2" type veth peer name eth0 netns "$1"
	ip addr add "$3.1/30" dev "$2"
	ip link set "$2" up
	ip -n "$1" addr add "$3.2/30" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" link set lo up
}
serve() { # ns addr port proto
	ip netns exec "$1" "$NET_BIN" serve "$2" "$3" "$4" 60 >/dev/null 2>&1 &
	SERVER_PIDS+=($!)
}
make_host "$NS_A" "$VA" 198.18.1
make_host "$NS_B" "$VB" 198.18.2
A=198.18.1.2
B=198.18.2.2
serve "$NS_A" $A 8080 tcp
serve "$NS_A" $A 8081 tcp
serve "$NS_A" $A 9000 tcp
serve "$NS_A" $A 8080 udp
serve "$NS_A" $A 53 udp
serve "$NS_B" $B 8080 tcp

mkdir -p "$T/bin"
cp "$NET_BIN" "$T/bin/tgx_net"
printf '127.0.0.1\tlocalhost\n%s\ta.tg-egress.test\n%s\tb.tg-egress.test\n' $A $B >"$T/hosts"
# The broker in a mount namespace of its own, where /etc/hosts is ours.
cat >"$T/toolgate-hosts" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c 'mount --bind "\$0" /etc/hosts && exec "\$@"' \
	"$T/hosts" "$TOOLGATE" "\$@"
EOF
chmod 755 "$T/toolgate-hosts"

for hp in "$A 8080" "$A 8081" "$A 9000" "$B 8080"; do # the servers are up
	for _ in $(seq 1 100); do
		# shellcheck disable=SC2086
		"$NET_BIN" connect $hp >/dev/null 2>&1 && break
		sleep 0.05
	done
done
# Sanity: from the host itself, A answers on every service we block below.
capture "$NET_BIN" connect $A 8081
assert_eq 0 "$RC" "host reaches A:8081 directly"
capture "$NET_BIN" icmp $A
assert_eq 0 "$RC" "host pings A directly"

TOOLGATE_REAL="$TOOLGATE"
TOOLGATE="$T/toolgate-hosts" tg_start_broker "$(tg_policy egress.yaml)"
TOOLGATE="$TOOLGATE_REAL"
TG="$TOOLGATE"

note "the listed endpoint connects"
capture "$TG" call net-a args=connect args=$A args=8080
assert_eq 0 "$RC" "A:8080 allowed: $OUT $ERR"
assert_contains "$OUT" "connected: hello 8080" "A:8080 greeting"
nft list table inet toolgate >/dev/null || fail "table toolgate missing while a broker runs"

note "same host, other port; other host; UDP: all dropped"
capture "$TG" call net-a args=connect args=$A args=8081
assert_eq 1 "$RC" "A:8081 must fail: $OUT"
capture "$TG" call net-a args=connect args=$B args=8080
assert_eq 1 "$RC" "B:8080 must fail: $OUT"
capture "$TG" call net-a args=udp args=$A args=8080
assert_eq 1 "$RC" "UDP to A:8080 must fail: $OUT"

note "ICMP, and root inside the call's namespace, are dropped on the host side"
"$TG" call net-a args=sleep args=2500 >/dev/null 2>&1 &
sleeper=$!
pid=""
for _ in $(seq 1 100); do
	pid=$(pgrep -n -f "$T/bin/tgx_net sleep 2500" || true)
	[ -n "$pid" ] && break
	sleep 0.02
done
[ -n "$pid" ] || fail "the sleeping tool did not show up"
capture nsenter --net="/proc/$pid/ns/net" "$NET_BIN" icmp $A
assert_eq 1 "$RC" "ICMP from the call's namespace must fail: $OUT"
capture nsenter --net="/proc/$pid/ns/net" "$NET_BIN" connect $B 8080
assert_eq 1 "$RC" "even root in the call's namespace cannot reach B: $OUT"
capture nsenter --net="/proc/$pid/ns/net" "$NET_BIN" connect $A 8080
assert_eq 0 "$RC" "the call's namespace reaches A:8080: $OUT"
wait "$sleeper" || fail "the sleeping call failed"

note "a host name pinned to A works; an unlisted one does not resolve"
capture "$TG" call net-name host=a.tg-egress.test port=8080
assert_eq 0 "$RC" "a.tg-egress.test:8080 by name: $OUT $ERR"
assert_contains "$OUT" "connected hello 8080" "greeting by name"
capture "$TG" call net-name host=b.tg-egress.test port=8080
assert_eq 1 "$RC" "b.tg-egress.test must not resolve: $OUT"
assert_contains "$OUT" "gaierror" "no DNS inside the tool"

note "every port of A, TCP and UDP, but not DNS"
capture "$TG" call net-all args=connect args=$A args=8081
assert_eq 0 "$RC" "A:8081 with every port allowed: $OUT"
capture "$TG" call net-all args=udp args=$A args=8080
assert_eq 0 "$RC" "UDP A:8080 with proto both: $OUT"
capture "$TG" call net-all args=udp args=$A args=53
assert_eq 1 "$RC" "DNS to A must fail without an explicit resolver: $OUT"
capture "$TG" call net-resolver args=udp args=$A args=53
assert_eq 0 "$RC" "DNS to the resolver the policy names: $OUT"

note "quota: 64 KiB out, then nothing"
capture "$TG" call net-quota args=send args=$A args=9000 args=20000
assert_eq 0 "$RC" "20000 bytes fit the quota: $OUT"
capture "$TG" call net-quota args=send args=$A args=9000 args=1048576
[ "$RC" = 1 ] || { grep net-quota "$T/audit.jsonl" | tail -1 >&2; fail "1 MiB must be cut off: $RC $OUT $ERR"; }
assert_not_contains "$OUT" "got 1048576" "the server never got it all"

note "new-connection rate: burst 2, then 1 per 10 s"
capture "$TG" call net-rate args=connects args=$A args=8080 args=6
assert_eq 0 "$RC" "connects ran: $ERR"
assert_eq 2 "$OUT" "connections let through"

note "calls at once: each its own namespace and rules"
pids=()
for i in 1 2 3 4 5 6; do
	"$TG" call net-a args=connect args=$A args=8080 >"$T/par.$i" 2>&1 &
	pids+=($!)
done
for i in 1 2 3 4 5 6; do
	wait "${pids[$((i - 1))]}" || fail "parallel call $i failed: $(cat "$T/par.$i")"
	assert_contains "$(cat "$T/par.$i")" "connected: hello 8080" "parallel call $i"
done

note "no network at all without egress rules"
capture "$TG" call net-none args=connect args=$A args=8080
assert_eq 1 "$RC" "net-none must fail: $OUT"

note "audit: egress allowed, drops counted"
rec=$(grep '"tool":"net-a"' "$T/audit.jsonl" | grep '"8081"' | tail -1)
assert_contains "$rec" '"egress":{"allowed":true' "egress recorded"
dropped=$(printf '%s' "$rec" | python3 -c 'import json,sys; print(json.load(sys.stdin)["egress"]["dropped_packets"])')
[ "$dropped" -ge 1 ] || fail "dropped packets not counted: $rec"
rec=$(grep '"tool":"net-a"' "$T/audit.jsonl" | grep '"8080"' | sed -n 1p)
assert_contains "$rec" '"egress":{"allowed":true,"dropped_packets":0' "clean call drops nothing"
sent=$(printf '%s' "$rec" | python3 -c 'import json,sys; print(json.load(sys.stdin)["egress"].get("sent_bytes", -1))')
[ "$sent" -gt 0 ] || fail "bytes sent not recorded: $rec"
assert_contains "$rec" '"egress:nftables:tge' "protection listed"
rec=$(grep '"tool":"net-none"' "$T/audit.jsonl" | tail -1)
assert_contains "$rec" '"egress":{"allowed":false' "no egress for net-none"

tg_stop_broker
no_sanitizer_reports() {
	if grep -E 'Sanitizer|runtime error' "$T/broker.log" >&2; then
		fail "sanitizer report in the broker log"
	fi
}
no_sanitizer_reports

note "a crashed broker's objects are removed by the next one"
TOOLGATE="$T/toolgate-hosts" tg_start_broker "$(tg_policy egress.yaml)"
"$TG" call net-a args=sleep args=3000 >/dev/null 2>&1 &
sleeper=$!
for _ in $(seq 1 100); do
	pgrep -f "$T/bin/tgx_net sleep 3000" >/dev/null && break
	sleep 0.02
done
kill -KILL "$TG_BROKER_PID"
wait "$TG_BROKER_PID" 2>/dev/null || true
TG_BROKER_PID=""
wait "$sleeper" 2>/dev/null || true
# What SIGKILL leaves besides the kernel objects: the runtime directory.
killed=$(grep '"event":"session_start"' "$T/audit.jsonl" | tail -1 |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
rm -rf "/run/toolgate/$killed" "$T/broker.sock"
stale=$(nft list table inet toolgate 2>/dev/null | grep -c 'chain c-' || true)
[ "$stale" -ge 1 ] || fail "the killed broker left no call chain to clean (test setup)"
TOOLGATE="$T/toolgate-hosts" tg_start_broker "$(tg_policy egress.yaml)"
for _ in $(seq 1 100); do
	grep -q 'removed .* stale nftables objects' "$T/broker.log" && break
	sleep 0.02
done
assert_contains "$(cat "$T/broker.log")" "stale nftables objects" "stale objects removed"
left=$(nft list table inet toolgate | grep -E 'chain c-|set a[46]-|counter [ds]-' || true)
[ -z "$left" ] || fail "stale objects still there: $left"
capture "$TG" call net-a args=connect args=$A args=8080
assert_eq 0 "$RC" "calls work after the cleanup: $OUT"
tg_stop_broker
no_sanitizer_reports

note "fail closed: egress that cannot be set up refuses the call"
TOOLGATE_EGRESS_POOL4=not-a-network tg_start_broker "$(tg_policy egress.yaml)"
capture "$TG" call net-a args=connect args=$A args=8080
assert_eq 69 "$RC" "refused when egress cannot be enforced"
assert_contains "$ERR" "UNAVAILABLE" "status"
assert_contains "$ERR" "egress" "reason names egress"
tg_stop_broker
no_sanitizer_reports

note "nothing left: no table, no veth, no address, forwarding as before"
for _ in $(seq 1 100); do
	ip -br link | grep -q '^tge' || break
	sleep 0.05
done
left=$(ip -br link | grep '^tge' || true)
[ -z "$left" ] || fail "veths left behind: $left"
left=$(ip -br addr | grep -E '100\.72\.|fd54:6f6f:6c67' || true)
[ -z "$left" ] || fail "addresses left behind: $left"
if [ "$table_before" -eq 0 ]; then
	left=$(nft list tables | grep 'toolgate' || true)
	[ -z "$left" ] || fail "nft table left behind: $left"
	assert_eq "$fwd_before" "$(cat /proc/sys/net/ipv4/ip_forward)" "ip_forward restored"
else
	note "another broker's toolgate table exists: not checking its removal"
fi
# The killed broker's sandbox init was reparented; give PID 1 a moment to
# reap it.
for _ in $(seq 1 100); do
	pgrep -f toolgate-init >/dev/null || break
	sleep 0.05
done
tg_assert_no_leftovers
eg_cleanup
left=$(ip netns list | grep -E "tgt-eg-[ab]-$$" || true)
[ -z "$left" ] || fail "test namespaces left behind: $left"
echo "ok: $TG_TEST_NAME"
