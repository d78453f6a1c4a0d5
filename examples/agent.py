#!/usr/bin/env python3
"""The demo agent in Python: the same calls as agent.sh, through the
`toolgate` module (ctypes over libtoolgate.so, provided inside the jail).

    toolgate run --policy examples/policy.yaml -- python3 /agent/agent.py
"""
import toolgate

print("tools I may use:", ", ".join(t["name"] for t in toolgate.tools()))

r = toolgate.call("python", code="print(sum(range(10)))")
print(f"python -> {r.stdout.strip()} (exit {r.exit_code}, {r.usage.wall_ms} ms)")

r = toolgate.call("sort", order="-r")
print("sort -r ->", r.stdout.split() if r.ok else r)

for tool, params in [("shell", {"cmd": "id"}), ("sort", {"order": "--output=/etc/passwd"})]:
    try:
        toolgate.call(tool, **params)
    except toolgate.Denied as e:
        print(f"{tool} denied: {e.reason}")

r = toolgate.call("sleep", seconds=30)
print(f"sleep 30 -> {r.status}: {r.reason}")
