#!/bin/bash
# Path parameters: the tool gets the very object the broker checked, bound
# at a private place in its sandbox, read-only unless its own mounts are
# writable there. An agent racing the check (renaming a directory and
# planting a symlink to something the tool can see) must never make the
# tool read that: the control tool, which takes the same name as a plain
# string, shows the race is real on this machine.
. "$(dirname "$0")/lib.sh"

L=$(mktemp -d /var/tmp/tg-test_paths.XXXXXX)
tg_on_exit 'rm -rf "$L"'
mkdir -p "$T/ws/d" "$T/secret"
echo public >"$T/ws/d/file.txt"
echo SECRET >"$T/secret/file.txt"
echo "one two three" >"$L/a.txt"
echo "four" >"$L/b.txt"
echo first >"$T/ws/notes.txt"
policy=$(tg_policy paths.yaml)
sed -i "s#@L@#$L#g" "$policy"
tg_start_broker "$policy"

# --- the checked object, under its own name, in the tool's sandbox
capture "$TOOLGATE" call show file=d/file.txt
assert_eq 0 "$RC" "show: $ERR"
assert_eq public "$OUT" "show prints the checked file"
tail -n 1 "$T/audit.jsonl" | grep -q '"argv":\["/bin/cat","/run/toolgate/args/0/file.txt"\]' ||
	fail "the audit record's argv names the pinned path: $(tail -n 1 "$T/audit.jsonl")"
tail -n 1 "$T/audit.jsonl" | grep -q '"paths":\["/workspace/d/file.txt"\]' ||
	fail "the audit record names the checked path: $(tail -n 1 "$T/audit.jsonl")"

# --- the tool names the pinned place; the agent reads its own names back
capture "$TOOLGATE" call where dir=./d/
assert_eq "/workspace/d" "$OUT" "where: stdout names the checked path"
assert_contains "$ERR" "/workspace/d/nothing" "where: so does stderr"
assert_not_contains "$OUT$ERR" "/run/toolgate/args" "where: no pinned name in the output"
tail -n 1 "$T/audit.jsonl" | grep -q '"argv":\["/bin/sh","-c",".*","sh","/run/toolgate/args/0/d"\]' ||
	fail "the tool got the pinned path: $(tail -n 1 "$T/audit.jsonl")"

# --- writes land in the workspace only where the tool may write
capture "$TOOLGATE" call append file=notes.txt line=second
assert_eq 0 "$RC" "append (rw): $ERR"
assert_eq "first
second" "$(cat "$T/ws/notes.txt")" "append wrote the workspace file"
capture "$TOOLGATE" call append file=new.txt line=created
assert_eq 0 "$RC" "append to a new file (rw): $ERR"
assert_eq created "$(cat "$T/ws/new.txt")" "a new file was created in the workspace"
capture "$TOOLGATE" call append_ro file=notes.txt line=third
[ "$RC" -ne 0 ] || fail "append_ro succeeded"
assert_contains "$OUT$ERR" "Read-only file system" "append_ro: the pinned file is read-only"
assert_not_contains "$(cat "$T/ws/notes.txt")" third "append_ro changed the file"

# --- a host directory that no mount shows: just the named files, read-only
capture "$TOOLGATE" call words files=a.txt files=b.txt
assert_eq 0 "$RC" "words: $ERR"
assert_contains "$OUT" "4 total" "words counted both files"
capture "$TOOLGATE" call words files=../secret/file.txt
assert_eq 77 "$RC" "words outside its root is denied: $OUT $ERR"

# --- a root the agent replaced by a symlink is not followed: the root is
# reached from the workspace through no symlink at all
mkdir -p "$T/ws/src"
echo mine >"$T/ws/src/file"
capture "$TOOLGATE" call src file=file
assert_eq mine "$OUT" "src before the swap: $ERR"
rm -r "$T/ws/src"
ln -s / "$T/ws/src"
[ -s "$T/ws/src/etc/hostname" ] || fail "host control: the symlink leads to the host's /etc"
capture "$TOOLGATE" call src file=etc/hostname
assert_eq 77 "$RC" "src through a symlinked root is denied: $OUT"
assert_contains "$ERR" "a symlink is on the way to it" "src: why"
rm "$T/ws/src"

# --- the race
swapper() {
	cd "$T/ws"
	while :; do
		mv d d.real
		ln -s /secret d
		rm d
		mv d.real d
	done
}
swapper 2>/dev/null &
SWAPPER=$!
tg_on_exit '[ -z "$SWAPPER" ] || { kill $SWAPPER; wait $SWAPPER; } 2>/dev/null'

raced=0
for i in $(seq 1 300); do
	capture "$TOOLGATE" call showname name=d/file.txt
	if [ "$OUT" = SECRET ]; then
		raced=$i
		break
	fi
done
[ "$raced" -gt 0 ] || fail "control: the swapper never won the race against a plain string in 300 calls"
note "control: the plain string read the secret after $raced calls"

ok=0 refused=0
for _ in $(seq 1 300); do
	capture "$TOOLGATE" call show file=d/file.txt
	assert_not_contains "$OUT" SECRET "a raced path reached the secret"
	if [ "$RC" -eq 0 ]; then
		assert_eq public "$OUT" "show"
		ok=$((ok + 1))
	else
		refused=$((refused + 1))
	fi
done
note "pinned: $ok calls read the checked file, $refused were refused, none reached the secret"
[ "$ok" -gt 0 ] || fail "no call got through while racing"
kill "$SWAPPER"
wait "$SWAPPER" 2>/dev/null || true
SWAPPER=""
[ -d "$T/ws/d" ] || mv "$T/ws/d.real" "$T/ws/d" 2>/dev/null || true

# Refusals while racing are audited like any other call.
"$TOOLGATE" audit verify "$T/audit.jsonl" >/dev/null || fail "audit log does not verify"

tg_stop_broker
tg_assert_no_leftovers

# --- --workspace replaces the policy's: path parameters resolve there too
mkdir -p "$T/other/d"
echo other >"$T/other/d/file.txt"
TG_WORKSPACE="$T/other" tg_start_broker "$policy"
capture "$TOOLGATE" call show file=d/file.txt
assert_eq other "$OUT" "show resolves in the --workspace directory: $ERR"
capture "$TOOLGATE" call show file=notes.txt
assert_eq 77 "$RC" "notes.txt is in the policy's workspace, not this one: $OUT"
tg_stop_broker
tg_assert_no_leftovers
