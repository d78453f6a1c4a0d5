#!/bin/bash
# The program runs as uid 0 without capabilities, and uid 0 owns what it
# creates on a writable bind: it must not be able to plant a setuid file in
# the workspace (a root shell for whoever runs it on the host), nor chmod or
# rewrite the host binary it runs from, nor reach its init's descriptors.
# Each attempt first succeeds on the host, then fails in the sandbox.
. "$(dirname "$0")/lib.sh"

# On the host, as root, all of this works:
cp /usr/bin/env "$T/x"
chmod 4755 "$T/x"
[ -u "$T/x" ] || fail "host control: chmod u+s did not work on the host"
rm -f "$T/x"

tg_start_broker "$(tg_policy basic.yaml)"
before=$(stat -c %a /usr/bin/dash)

capture "$TOOLGATE" call sh script='cp /usr/bin/env /workspace/x; chmod 4755 /workspace/x; echo chmod=$?
chmod 2755 /workspace/x; echo chmodg=$?
python3 -c "import os; os.open(\"/workspace/y\", os.O_CREAT | os.O_WRONLY, 0o4755)" 2>/dev/null; echo open=$?
chmod 0777 /proc/self/exe; echo exe=$?
cat /proc/1/exe >/dev/null 2>&1; echo init_exe=$?
echo forged >/proc/1/fd/3 2>/dev/null; echo init_fd=$?'
assert_contains "$OUT" "chmod=1" "chmod u+s refused"
assert_contains "$OUT" "chmodg=1" "chmod g+s refused"
assert_contains "$OUT" "open=1" "open(O_CREAT, 04755) refused"
assert_contains "$OUT" "exe=1" "chmod of the host binary refused"
assert_contains "$OUT" "init_exe=1" "init's executable not reachable"
assert_not_contains "$OUT" "init_fd=0" "init's status pipe not reachable"
[ ! -u "$T/ws/x" ] && [ ! -g "$T/ws/x" ] || fail "a set-id file was planted in the workspace"
[ ! -e "$T/ws/y" ] || [ ! -u "$T/ws/y" ] || fail "a setuid file was created in the workspace"
assert_eq "$before" "$(stat -c %a /usr/bin/dash)" "the host's /bin/sh mode"

tg_stop_broker
tg_assert_no_leftovers
