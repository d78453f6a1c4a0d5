// Drives `toolgate mcp` with the official MCP TypeScript SDK client:
// connect, list tools, an allowed call, a denied call, a call with bad
// arguments, an unknown tool, a cancelled call, and a clean shutdown.
// usage: node mcp_client.mjs TOOLGATE POLICY AUDIT WORKSPACE
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import assert from "node:assert/strict";

const [toolgate, policy, audit, workspace] = process.argv.slice(2);
const transport = new StdioClientTransport({
  command: toolgate,
  args: ["mcp", "--policy", policy, "--audit", audit, "--workspace", workspace],
  stderr: "inherit",
});
const client = new Client({ name: "toolgate-test", version: "1.0.0" });
const step = (s) => console.log(`ok - ${s}`);

await client.connect(transport);
assert.equal(client.getServerVersion().name, "toolgate");
assert.ok(client.getServerCapabilities().tools, "tools capability");
step("connect and initialize");

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
assert.ok(names.includes("echo") && names.includes("greet"), `tools: ${names}`);
const greet = tools.find((t) => t.name === "greet");
assert.equal(greet.inputSchema.type, "object");
assert.ok(greet.inputSchema.properties.name, "greet has a name parameter");
assert.deepEqual(greet.inputSchema.required, ["name"]);
step(`list tools (${names.length})`);

let r = await client.callTool({ name: "greet", arguments: { name: "Ada" } });
assert.equal(r.isError, false, JSON.stringify(r));
assert.equal(r.content[0].type, "text");
assert.equal(r.content[0].text.trim(), "hello, Ada");
step("allowed call");

r = await client.callTool({ name: "greet", arguments: { name: "Ada; rm -rf /" } });
assert.equal(r.isError, true, JSON.stringify(r));
assert.match(JSON.stringify(r.content), /DENIED/);
step("denied call is isError with the reason");

r = await client.callTool({ name: "exit", arguments: { code: "not a number" } });
assert.equal(r.isError, true, JSON.stringify(r));
assert.match(JSON.stringify(r.content), /DENIED/);
step("bad arguments are isError");

r = await client.callTool({ name: "exit", arguments: { code: 4 } });
assert.equal(r.isError, true, JSON.stringify(r));
assert.match(JSON.stringify(r.content), /exited with code 4/);
step("a failing tool is isError with its exit code");

await assert.rejects(
  client.callTool({ name: "no-such-tool", arguments: {} }),
  (e) => e.code === -32602,
);
step("unknown tool is JSON-RPC error -32602");

const marker = `tg-mcp-cancel-${process.pid}`;
const ac = new AbortController();
const started = Date.now();
const pending = client.callTool(
  { name: "sh", arguments: { script: `sleep 30; echo ${marker}` } },
  undefined,
  { signal: ac.signal, timeout: 60000 },
);
setTimeout(() => ac.abort("test cancels"), 700);
await assert.rejects(pending);
assert.ok(Date.now() - started < 10000, "cancel returned promptly");
console.log(`marker ${marker}`);
step("cancelled call");

// The server is still serving after a cancellation.
r = await client.callTool({ name: "echo", arguments: { words: ["still", "here"] } });
assert.equal(r.content[0].text.trim(), "still here");
step("serves after a cancellation");

await client.close();
step("close");
