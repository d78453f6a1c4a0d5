/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rest of the model: env / limits / workspace / seccomp / network / rate /
 * filesystem overlays, sanitize and audit defaults, the builtin redactions,
 * semantic load errors, tool JSON Schemas, verdict JSON, path descriptors,
 * and reference counting across threads.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "policy.h"
#include "tg.h"

static struct tg_policy *load_in(const char *dir, const char *text)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer("t.yaml", dir, text, strlen(text), &p, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		print_error("%s\n", s);
	}
	tg_diags_clear(&diags);
	assert_int_equal(r, 0);
	return p;
}

static struct tg_policy *load(const char *text)
{
	return load_in("/tmp", text);
}

static struct tg_verdict *decide(struct tg_policy *p, const char *tool, const char *params)
{
	_cleanup_json_ json_t *j = params ? json_loads(params, 0, NULL) : NULL;
	struct tg_verdict *v = NULL;
	assert_int_equal(tg_policy_decide(p, tool, j, &v), 0);
	return v;
}

static char *strv_join(char *const *v)
{
	_cleanup_json_ json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return json_dumps(a, JSON_COMPACT);
}

static const char *overlay_policy =
        "version: 1\n"
        "defaults:\n"
        "  limits: {timeout: 3s, memory: 100MiB, cpu: 0.5}\n"
        "  env: {PATH: /bin, LANG: C.UTF-8}\n"
        "  seccomp: {deny: [ptrace]}\n"
        "  network: {egress: [{host: example.com}]}\n"
        "tools:\n"
        "  - name: plain\n"
        "    command: [/bin/true]\n"
        "  - name: custom\n"
        "    command: [/bin/true]\n"
        "    env: {LANG: C, EXTRA: 'a=b'}\n"
        "    limits: {timeout: 250ms, pids: 8, output: 4KiB, file_size: 1GiB}\n"
        "    workspace: none\n"
        "    seccomp: strict\n"
        "    network: none\n"
        "    rate: {calls: 30, per: 1m}\n"
        "    filesystem:\n"
        "      - {source: data, target: /data}\n"
        "      - {source: /srv/out, mode: rw}\n"
        "      - {target: /scratch, type: tmpfs, size: 8MiB}\n"
        "  - name: allow\n"
        "    command: [/bin/true]\n"
        "    workspace: rw\n"
        "    seccomp: {allow: [ptrace, bpf]}\n"
        "    network:\n"
        "      egress:\n"
        "        - {cidr: 192.0.2.0/24, ports: [80, 443], proto: both}\n"
        "        - {cidr: '2001:db8::/32', proto: udp}\n"
        "    rate: {calls: 5, per: 10s, burst: 2}\n"
        "agent:\n"
        "  env: {HOME: /home/agent}\n"
        "  limits: {timeout: 1h}\n"
        "max_concurrent: 8\n";

static void test_overlays(void **state)
{
	(void)state;
	struct tg_policy *p = load(overlay_policy);
	struct tg_verdict *v = decide(p, "plain", NULL);
	assert_true(v->allow);
	_cleanup_free_ char *env = strv_join(v->envp);
	assert_string_equal(env, "[\"PATH=/bin\",\"LANG=C.UTF-8\"]");
	assert_int_equal(v->limits.timeout_ms, 3000);
	assert_int_equal(v->limits.memory_bytes, 100ull << 20);
	assert_int_equal(v->limits.cpu_millis, 500);
	assert_int_equal(v->limits.pids, 64);              /* builtin */
	assert_int_equal(v->limits.output_bytes, 1 << 20); /* builtin */
	assert_int_equal(v->limits.file_size_bytes, 64ull << 20);
	assert_int_equal(v->workspace, TG_WS_RO);
	assert_int_equal(v->seccomp->mode, TG_SECCOMP_DENY);
	assert_string_equal(v->seccomp->syscalls[0], "ptrace");
	assert_null(v->seccomp->syscalls[1]);
	assert_true(v->network->egress_enabled);
	assert_string_equal(v->network->egress[0].host, "example.com");
	assert_int_equal(v->network->egress[0].n_ports, 0);
	assert_int_equal(v->network->egress[0].proto, TG_NET_TCP);
	assert_int_equal(v->rate->calls, 0);
	assert_int_equal(v->n_fs, 0);
	tg_verdict_free(v);

	v = decide(p, "custom", NULL);
	env = (free(env), strv_join(v->envp));
	assert_string_equal(env, "[\"PATH=/bin\",\"LANG=C\",\"EXTRA=a=b\"]");
	assert_int_equal(v->limits.timeout_ms, 250);
	assert_int_equal(v->limits.memory_bytes, 100ull << 20);
	assert_int_equal(v->limits.pids, 8);
	assert_int_equal(v->limits.output_bytes, 4096);
	assert_int_equal(v->limits.file_size_bytes, 1ull << 30);
	assert_int_equal(v->workspace, TG_WS_NONE);
	assert_int_equal(v->seccomp->mode, TG_SECCOMP_STRICT);
	assert_false(v->network->egress_enabled);
	assert_int_equal(v->rate->calls, 30);
	assert_int_equal(v->rate->per_ms, 60000);
	assert_int_equal(v->rate->burst, 30);
	assert_int_equal(v->n_fs, 3);
	assert_string_equal(v->fs[0].source, "/tmp/data"); /* relative to the policy */
	assert_string_equal(v->fs[0].target, "/data");
	assert_true(v->fs[0].readonly);
	assert_string_equal(v->fs[1].target, "/srv/out");
	assert_false(v->fs[1].readonly);
	assert_int_equal(v->fs[2].type, TG_FS_TMPFS);
	assert_null(v->fs[2].source);
	assert_int_equal(v->fs[2].size, 8ull << 20);
	tg_verdict_free(v);

	v = decide(p, "allow", NULL);
	assert_int_equal(v->workspace, TG_WS_RW);
	assert_int_equal(v->seccomp->mode, TG_SECCOMP_ALLOW);
	assert_string_equal(v->seccomp->syscalls[1], "bpf");
	assert_int_equal(v->network->n_egress, 2);
	assert_string_equal(v->network->egress[0].cidr, "192.0.2.0/24");
	assert_int_equal(v->network->egress[0].n_ports, 2);
	assert_int_equal(v->network->egress[0].ports[1], 443);
	assert_int_equal(v->network->egress[0].proto, TG_NET_BOTH);
	assert_int_equal(v->network->egress[1].proto, TG_NET_UDP);
	assert_int_equal(v->rate->burst, 2);
	assert_int_equal(v->rate->per_ms, 10000);
	tg_verdict_free(v);

	const struct tg_agent_config *a = tg_policy_agent(p);
	env = (free(env), strv_join(a->envp));
	assert_string_equal(env, "[\"HOME=/home/agent\"]");
	assert_int_equal(a->limits.timeout_ms, 3600000);
	assert_int_equal(a->limits.memory_bytes, 1ull << 30);
	assert_int_equal(a->seccomp->mode, TG_SECCOMP_DEFAULT);
	assert_int_equal(tg_policy_max_concurrent(p), 8);
	tg_policy_unref(p);
}

static void test_builtin_defaults(void **state)
{
	(void)state;
	struct tg_policy *p = load("version: 1\ntools: [{name: t, command: [/bin/true]}]\n");
	struct tg_verdict *v = decide(p, "t", "{}");
	assert_int_equal(v->limits.timeout_ms, 10000);
	assert_int_equal(v->limits.cpu_millis, 1000);
	assert_int_equal(v->limits.memory_bytes, 256ull << 20);
	assert_int_equal(v->limits.pids, 64);
	assert_int_equal(v->limits.output_bytes, 1ull << 20);
	assert_int_equal(v->limits.file_size_bytes, 64ull << 20);
	assert_int_equal(v->workspace, TG_WS_RO);
	assert_int_equal(v->seccomp->mode, TG_SECCOMP_DEFAULT);
	assert_false(v->network->egress_enabled);
	_cleanup_free_ char *env = strv_join(v->envp);
	assert_string_equal(env, "[\"PATH=/usr/local/bin:/usr/bin:/bin\",\"LANG=C.UTF-8\"]");
	tg_verdict_free(v);
	assert_null(tg_policy_workspace(p));
	assert_int_equal(tg_policy_max_concurrent(p), 0);
	const struct tg_audit_section *au = tg_policy_audit(p);
	assert_null(au->path);
	assert_int_equal(au->params, TG_AUDIT_PARAMS_FULL);
	assert_int_equal(au->fsync, TG_AUDIT_FSYNC_BATCH);
	/* No sanitize section: everything on, every builtin. */
	const struct tg_sanitize_config *s = tg_policy_sanitize(p);
	assert_true(s->strip_ansi);
	assert_true(s->strip_control);
	assert_int_equal(s->utf8, TG_UTF8_REPLACE);
	assert_true(s->n_rules >= 4);
	assert_string_equal(s->rules[0].name, "aws_access_key");
	const struct tg_agent_config *a = tg_policy_agent(p);
	assert_int_equal(a->workspace, TG_WS_RW);
	assert_int_equal(a->limits.timeout_ms, 0);
	assert_int_equal(a->limits.cpu_millis, 0);
	assert_int_equal(a->limits.pids, 256);
	tg_policy_unref(p);

	p = load("version: 1\nsanitize: {strip_ansi: false, utf8: drop, redact: []}\n");
	s = tg_policy_sanitize(p);
	assert_false(s->strip_ansi);
	assert_true(s->strip_control);
	assert_int_equal(s->utf8, TG_UTF8_DROP);
	assert_int_equal(s->n_rules, 0);
	tg_policy_unref(p);
}

/* Run redaction rule `name` over text; the matched text or NULL. */
static char *redact_match(const struct tg_sanitize_config *s, const char *name, const char *text)
{
	for (size_t i = 0; i < s->n_rules; i++) {
		if (strcmp(s->rules[i].name, name) != 0)
			continue;
		pcre2_match_context *mc = tg_policy_new_match_context();
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(s->rules[i].re, NULL);
		int r = pcre2_match(s->rules[i].re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, mc);
		char *out = NULL;
		if (r > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			out = strndup(text + ov[0], ov[1] - ov[0]);
		}
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		return out;
	}
	fail_msg("no rule %s", name);
	return NULL;
}

static void test_builtin_redactions(void **state)
{
	(void)state;
	struct tg_policy *p = load("version: 1\n");
	const struct tg_sanitize_config *s = tg_policy_sanitize(p);
	struct {
		const char *rule, *text, *match; /* match NULL: must not match */
	} cases[] = {
	        {"aws_access_key", "key=AKIAIOSFODNN7EXAMPLE;", "AKIAIOSFODNN7EXAMPLE"},
	        {"aws_access_key", "AKIAIOSFODNN7EXAMPLEX", NULL},
	        {"aws_access_key", "just AKIA words", NULL},
	        {"aws_secret_key",
	         "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	        {"bearer_token", "Authorization: Bearer eyJhbGciOi.abc-def_123\n",
	         "eyJhbGciOi.abc-def_123"},
	        {"bearer_token", "the bearer of bad news", NULL},
	        {"private_key",
	         "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE "
	         "KEY-----\ny",
	         "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE KEY-----"},
	        {"private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQ (truncated",
	         "-----BEGIN PRIVATE KEY-----\nMIIEvQ "},
	        {"private_key", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", NULL},
	        {"github_token", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok",
	         "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
	        {"slack_token", "xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"},
	        {"jwt", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N",
	         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N"},
	        {"password", "db password=hunter22 next", "hunter22"},
	        {"password", "API_KEY: \"s3cr3tvalue\"", "s3cr3tvalue"},
	        {"password", "no secrets here", NULL},
	};
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *m = redact_match(s, cases[i].rule, cases[i].text);
		if (!cases[i].match) {
			if (m)
				print_error("%s matched '%s' in '%s'\n", cases[i].rule, m,
				            cases[i].text);
			assert_null(m);
		} else {
			if (!m || strcmp(m, cases[i].match) != 0)
				print_error("%s: '%s' in '%s'\n", cases[i].rule, m ? m : "(none)",
				            cases[i].text);
			assert_non_null(m);
			assert_string_equal(m, cases[i].match);
		}
	}
	tg_policy_unref(p);
}

static void expect_load_error(const char *text, const char *expected)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	assert_int_equal(tg_policy_load_buffer("t.yaml", "/tmp", text, strlen(text), &p, &diags),
	                 -EINVAL);
	bool found = false;
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		found |= strcmp(s, expected) == 0;
		if (getenv("TG_TEST_VERBOSE"))
			print_message("got: %s\n", s);
	}
	tg_diags_clear(&diags);
	if (!found)
		print_error("expected: %s\n", expected);
	if (!getenv("TG_TEST_VERBOSE"))
		assert_true(found);
}

#define TOOL(params, cmd) \
	"version: 1\ntools:\n  - name: t\n    command: " cmd "\n    params:\n      " params "\n"

static void test_semantic_errors(void **state)
{
	(void)state;
	expect_load_error(TOOL("n: {type: integer, min: 1, default: 0}", "[/bin/echo, '{n}']"),
	                  "t.yaml:6:43: tools[0].params.n.default: 0 is below min 1");
	expect_load_error(TOOL("s: {type: string, default: -x}", "[/bin/echo, '{s}']"),
	                  "t.yaml:6:34: tools[0].params.s.default: starts with '-' (the parameter "
	                  "does not allow_leading_dash)");
	expect_load_error(TOOL("s: {type: string, enum: [a, -b]}", "[/bin/echo, '{s}']"),
	                  "t.yaml:6:35: tools[0].params.s.enum[1]: starts with '-' (the parameter "
	                  "does not allow_leading_dash)");
	expect_load_error(
	        TOOL("s: {type: string, enum: [ab, abc], max_length: 2}", "[/bin/echo, '{s}']"),
	        "t.yaml:6:36: tools[0].params.s.enum[1]: longer than max_length 2 (3 "
	        "characters)");
	expect_load_error(
	        TOOL("s: {type: string, default: 5}", "[/bin/echo, '{s}']"),
	        "t.yaml:6:34: tools[0].params.s.default: expected a string, got an integer");
	expect_load_error(
	        TOOL("s: {type: string, required: true, default: a}", "[/bin/echo, '{s}']"),
	        "t.yaml:6:50: tools[0].params.s.default: a required parameter cannot have "
	        "a default");
	expect_load_error(TOOL("n: {type: integer, min: 5, max: 1}", "[/bin/echo, '{n}']"),
	                  "t.yaml:6:39: tools[0].params.n.max: is less than min (5)");
	expect_load_error(TOOL("p: {type: path}", "[/bin/cat, '{p}']"),
	                  "t.yaml:6:10: tools[0].params.p.within: /workspace is inside /workspace "
	                  "but the policy has no 'workspace'");
	expect_load_error(TOOL("p: {type: path, within: etc}", "[/bin/cat, '{p}']"),
	                  "t.yaml:6:31: tools[0].params.p.within: must be an absolute sandbox path "
	                  "without '..'");
	/* The tool's /proc, /etc, /tmp, ... are its own: nothing the broker can
	 * check there is what the tool would see. */
	expect_load_error(TOOL("p: {type: path, within: /proc/self}", "[/bin/cat, '{p}']"),
	                  "t.yaml:6:31: tools[0].params.p.within: /proc/self is made by the "
	                  "sandbox for each call, not taken from the host: path parameters name "
	                  "host files (in /workspace, under a filesystem entry of the tool, or "
	                  "another host directory)");
	expect_load_error(TOOL("p: {type: path, within: /}", "[/bin/cat, '{p}']"),
	                  "t.yaml:6:31: tools[0].params.p.within: / has the workspace mounted "
	                  "below it: choose a root inside /workspace or beside it");
	/* Host paths opened by name must not lie where the agent can write:
	 * it could swap them for a symlink to anywhere. */
	expect_load_error("version: 1\nworkspace: /srv/ws\ntools:\n  - name: t\n    command: "
	                  "[/bin/true]\n    filesystem: [{source: /srv/ws/venv, target: /venv}]\n",
	                  "t.yaml:6:27: tools[0].filesystem[0].source: /srv/ws/venv lies inside "
	                  "/srv/ws (the workspace), which the agent can write: it could be "
	                  "replaced by a symlink to anywhere on the host");
	expect_load_error("version: 1\nworkspace: /srv/ws\ntools:\n  - name: t\n    command: "
	                  "[/bin/cat, '{p}']\n    workspace: none\n"
	                  "    params: {p: {type: path, within: /srv/ws/docs}}\n",
	                  "t.yaml:7:38: tools[0].params.p.within: /srv/ws/docs lies inside /srv/ws "
	                  "(the workspace), which the agent can write: it could be replaced by a "
	                  "symlink to anywhere on the host");
	expect_load_error("version: 1\nworkspace: /srv/home/proj\n"
	                  "agent: {filesystem: [{source: /srv/home, mode: rw}]}\n",
	                  "t.yaml:2:12: workspace: /srv/home/proj lies inside /srv/home "
	                  "(agent.filesystem[0]), which the agent can write: it could be replaced "
	                  "by a symlink to anywhere on the host");
	expect_load_error("version: 1\ntools:\n  - name: t\n    command: [/bin/true]\n"
	                  "    filesystem: [{source: /}]\n",
	                  "t.yaml:5:27: tools[0].filesystem[0].source: / without a target would "
	                  "mount over the sandbox root");
	/* A mount below the root would be bypassed by pinned objects. */
	expect_load_error("version: 1\nworkspace: ws\ntools:\n  - name: t\n    command: "
	                  "[/bin/cat, '{p}']\n"
	                  "    filesystem: [{target: /workspace/secrets, type: tmpfs}]\n"
	                  "    params: {p: {type: path}}\n",
	                  "t.yaml:7:17: tools[0].params.p.within: /workspace has the tool's "
	                  "filesystem[0] mounted below it (/workspace/secrets): pinned objects "
	                  "would not go through that mount; choose a root beside it");
	expect_load_error("version: 1\ntools:\n  - name: t\n    command: [/bin/cat, '{p}']\n"
	                  "    filesystem: [{target: /scratch, type: tmpfs}]\n"
	                  "    params: {p: {type: path, within: /scratch/in}}\n",
	                  "t.yaml:6:38: tools[0].params.p.within: /scratch/in is on a tmpfs of "
	                  "the tool's own sandbox: nothing there exists before the call to check");
	expect_load_error(TOOL("a: {type: array}", "[/bin/cat, '{a...}']"),
	                  "t.yaml:6:10: tools[0].params.a.items: required for type array");
	expect_load_error(TOOL("a: {type: array, items: {type: array, items: {type: string}}}",
	                       "[/bin/cat, '{a...}']"),
	                  "t.yaml:6:38: tools[0].params.a.items.type: arrays of arrays are not "
	                  "supported");
	expect_load_error(TOOL("a: {type: array, items: {type: string, required: true}}",
	                       "[/bin/cat, '{a...}']"),
	                  "t.yaml:6:56: tools[0].params.a.items.required: not valid in items (the "
	                  "array parameter is required or not)");
	expect_load_error(TOOL("b: {type: boolean, max_length: 3}", "[/bin/echo, '{b}']"),
	                  "t.yaml:6:26: tools[0].params.b.max_length: not valid for a parameter of "
	                  "type boolean");
	expect_load_error(TOOL("1x: {type: string}", "[/bin/echo]"),
	                  "t.yaml:6:7: tools[0].params.1x: invalid parameter name (1-64 of A-Z a-z "
	                  "0-9 _, not starting with a digit)");
	expect_load_error("version: 1\nworkspace: ws\ntools:\n  - name: t\n    command: [/bin/cat, "
	                  "'{p}']\n    workspace: none\n    params: {p: {type: path}}\n",
	                  "t.yaml:7:17: tools[0].params.p.within: /workspace is inside /workspace "
	                  "but the tool has workspace: none");
	expect_load_error("version: 1\ndefaults: {env: {'BAD-NAME': x}}\n",
	                  "t.yaml:2:18: defaults.env.BAD-NAME: invalid environment variable name "
	                  "(A-Z a-z 0-9 _)");
	expect_load_error("version: 1\ndefaults: {env: {X: true}}\n",
	                  "t.yaml:2:21: defaults.env.X: expected a string, got a boolean");
	expect_load_error(
	        "version: 1\ndefaults: {network: {egress: []}}\n",
	        "t.yaml:2:30: defaults.network.egress: empty; write 'network: none' for no "
	        "network");
	expect_load_error("version: 1\ndefaults: {seccomp: {deny: []}}\n",
	                  "t.yaml:2:28: defaults.seccomp.deny: list at least one syscall");
	expect_load_error("version: 1\nagent: {filesystem: [{type: tmpfs, size: 1MiB}]}\n",
	                  "t.yaml:2:22: agent.filesystem[0].target: required for a tmpfs");
	expect_load_error("version: 1\nagent: {filesystem: [{source: /usr, size: 1MiB}]}\n",
	                  "t.yaml:2:43: agent.filesystem[0].size: only a tmpfs has a size");
	expect_load_error(
	        "version: 1\nagent: {filesystem: [{source: /usr, target: /a/../b}]}\n",
	        "t.yaml:2:45: agent.filesystem[0].target: must be an absolute path without "
	        "'..'");
	expect_load_error(
	        "version: 1\nagent: {limits: {output: 1MiB}}\n",
	        "t.yaml:2:18: agent.limits.output: unknown key (expected one of: timeout, "
	        "cpu, memory, pids, file_size)");
	expect_load_error("version: 1\ndefaults: {limits: {cpu: 0.0001}}\n",
	                  "t.yaml:2:26: defaults.limits.cpu: too small (at least 0.001)");
	expect_load_error(
	        "version: 1\ntools: [{name: t, command: [/bin/true], rate: {calls: 0, "
	        "per: 1s}}]\n",
	        "t.yaml:2:55: tools[0].rate.calls: must be between 1 and 1000000000 (got 0)");
	expect_load_error("version: 1\ntools: [{name: t, command: [/bin/true], rate: {per: 1s}}]\n",
	                  "t.yaml:2:47: tools[0].rate.calls: required key missing");
	expect_load_error("version: 1\ntools: [{name: t}]\n",
	                  "t.yaml:2:9: tools[0].command: required key missing");
	expect_load_error("version: 1\ntools: [{name: t, command: []}]\n",
	                  "t.yaml:2:28: tools[0].command: must not be empty");
	expect_load_error(
	        "version: 1\nsanitize: {redact: [{builtin: jwt, pattern: x}]}\n",
	        "t.yaml:2:21: sanitize.redact[0]: give either 'builtin' or 'pattern', not "
	        "both");
	expect_load_error("version: 1\nmax_concurrent: -1\n",
	                  "t.yaml:2:17: max_concurrent: must be between 0 and 1000000 (got -1)");
	expect_load_error("version: 1\nmax_concurrent: 99999999999999999999\n",
	                  "t.yaml:2:17: max_concurrent: integer out of range");
}

static void test_schema(void **state)
{
	(void)state;
	struct tg_policy *p = load(
	        "version: 1\nworkspace: .\ntools:\n  - name: t\n    command: [/bin/echo, '{s}', "
	        "'{n}', '{b}', '{p}', '{a...}']\n    params:\n"
	        "      s: {type: string, description: A word, max_length: 8, pattern: '^[a-z]+$', "
	        "required: true}\n"
	        "      n: {type: integer, min: 1, max: 9, default: 3}\n"
	        "      b: {type: boolean}\n"
	        "      p: {type: path, must_exist: true, kind: dir}\n"
	        "      a: {type: array, items: {type: string, enum: [x, y]}, max_items: 2}\n");
	_cleanup_json_ json_t *s = tg_policy_tool_schema(p, 0);
	_cleanup_free_ char *text = json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(
	        text,
	        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
	        "\"additionalProperties\":false,\"properties\":{"
	        "\"a\":{\"items\":{\"enum\":[\"x\",\"y\"],\"type\":\"string\"},\"maxItems\":2,"
	        "\"type\":\"array\"},"
	        "\"b\":{\"type\":\"boolean\"},"
	        "\"n\":{\"default\":3,\"maximum\":9,\"minimum\":1,\"type\":\"integer\"},"
	        "\"p\":{\"format\":\"path\",\"type\":\"string\",\"x-toolgate-path\":{\"kind\":"
	        "\"dir\",\"must_exist\":true,\"within\":\"/workspace\"}},"
	        "\"s\":{\"description\":\"A word\",\"maxLength\":8,\"pattern\":\"^[a-z]+$\","
	        "\"type\":\"string\"}},"
	        "\"required\":[\"s\"],\"type\":\"object\"}");
	assert_null(tg_policy_tool_schema(p, 1));
	tg_policy_unref(p);
}

static void test_verdict_json(void **state)
{
	(void)state;
	struct tg_policy *p = load(overlay_policy);
	struct tg_verdict *v = decide(p, "allow", "{}");
	_cleanup_json_ json_t *j = tg_verdict_to_json(v);
	char sha[TG_SHA256_HEX_LEN];
	_cleanup_close_ int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	assert_int_equal(tg_sha256_fd_hex(fd, sha), 0);
	json_object_del(j, "params");
	_cleanup_free_ char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	_cleanup_free_ char *expected = tg_strdup_printf(
	        "{\"argv\":[\"/bin/true\"],\"binary_sha256\":\"%s\",\"code\":\"none\","
	        "\"decision\":\"allow\",\"env\":{\"LANG\":\"C.UTF-8\",\"PATH\":\"/bin\"},"
	        "\"limits\":{\"cpu_millis\":500,\"file_size_bytes\":67108864,\"memory_bytes\":"
	        "104857600,\"output_bytes\":1048576,\"pids\":64,\"timeout_ms\":3000},\"mounts\":[],"
	        "\"network\":{\"egress\":[{\"cidr\":\"192.0.2.0/24\",\"ports\":[80,443],\"proto\":"
	        "\"both\"},{\"cidr\":\"2001:db8::/32\",\"ports\":[],\"proto\":\"udp\"}]},"
	        "\"paths\":[],\"rate\":{\"burst\":2,\"calls\":5,\"per_ms\":10000},"
	        "\"reason\":\"allowed by tools[2] (allow)\",\"rule\":\"tools[2] (allow)\","
	        "\"seccomp\":{\"mode\":\"allow\",\"syscalls\":[\"ptrace\",\"bpf\"]},"
	        "\"tool\":\"allow\",\"workspace\":\"rw\"}",
	        sha);
	assert_string_equal(text, expected);
	assert_string_equal(v->binary_sha256, sha);
	tg_verdict_free(v);

	v = decide(p, "nope\x1b[31m", NULL);
	json_decref(j);
	j = tg_verdict_to_json(v);
	free(text);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	/* The requested name is kept as given; the reason shows it printable. */
	assert_string_equal(text, "{\"argv\":null,\"code\":\"unknown_tool\",\"decision\":\"deny\","
	                          "\"reason\":\"unknown tool 'nope?[31m'\",\"rule\":\"none\","
	                          "\"tool\":\"nope\\u001B[31m\"}");
	assert_int_equal(v->tool_index, -1);
	tg_verdict_free(v);
	tg_policy_unref(p);

	assert_string_equal(tg_deny_code_name(TG_DENY_BINARY_CHANGED), "binary_changed");
	assert_string_equal(tg_deny_code_name(TG_DENY_LEADING_DASH), "leading_dash");
	assert_string_equal(tg_deny_code_name((enum tg_deny_code)999), "unknown");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Path values come with a descriptor of what was checked. */
static void test_path_descriptors(void **state)
{
	(void)state;
	char dir[] = "/tmp/tg-policy-misc-XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ws", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/ws/a.txt", dir);
	_cleanup_close_ int wfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(wfd >= 0);
	struct stat a, got;
	assert_int_equal(stat(path, &a), 0);

	snprintf(path, sizeof(path), "%s/ws/out", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/ws/in", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/ws/in/a.txt", dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

	struct tg_policy *p = load_in(
	        dir, "version: 1\nworkspace: ws\ntools:\n  - name: t\n    command: [/bin/cat, "
	             "'{f...}']\n    params: {f: {type: array, items: {type: path}}}\n"
	             "  - name: w\n    command: [/bin/cp, '--from={a}', '{b}']\n    workspace: ro\n"
	             "    filesystem: [{source: ./out, target: /workspace/out, mode: rw}]\n"
	             "    params: {a: {type: path, within: /workspace/in}, b: {type: path, within: "
	             "/workspace/out}}\n");
	struct tg_verdict *v = decide(p, "t", "{\"f\": [\"a.txt\", \"new/file\"]}");
	assert_true(v->allow);
	assert_int_equal(v->n_paths, 2);
	assert_string_equal(v->paths[0].path, "/workspace/a.txt");
	assert_true(v->paths[0].exists);
	/* argv names where the checked objects are bound, under their names;
	 * a missing path stays below its pinned ancestor. */
	assert_string_equal(v->paths[0].bind, TG_PIN_DIR "/0/a.txt");
	assert_string_equal(v->paths[0].arg, TG_PIN_DIR "/0/a.txt");
	assert_string_equal(v->paths[1].bind, TG_PIN_DIR "/1/workspace");
	assert_string_equal(v->paths[1].arg, TG_PIN_DIR "/1/workspace/new/file");
	assert_string_equal(v->argv[1], TG_PIN_DIR "/0/a.txt");
	assert_string_equal(v->argv[2], TG_PIN_DIR "/1/workspace/new/file");
	assert_false(v->paths[0].writable); /* workspace: ro (the default) */
	assert_int_equal(fstat(v->paths[0].fd, &got), 0);
	assert_int_equal(got.st_ino, a.st_ino);
	assert_string_equal(v->paths[1].path, "/workspace/new/file");
	assert_false(v->paths[1].exists);
	assert_int_equal(fstat(v->paths[1].fd, &got), 0);
	assert_true(S_ISDIR(got.st_mode)); /* the deepest existing ancestor: ws */
	assert_int_equal(fcntl(v->paths[1].fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	tg_verdict_free(v);

	/* Writable only where the tool's own mount of the root is: the rw
	 * entry over /workspace/out, not the ro workspace. */
	v = decide(p, "w", "{\"a\": \"a.txt\", \"b\": \"copy.txt\"}");
	assert_true(v->allow);
	assert_int_equal(v->n_paths, 2);
	assert_false(v->paths[0].writable);
	assert_true(v->paths[1].writable);
	assert_string_equal(v->paths[1].arg, TG_PIN_DIR "/1/out/copy.txt");
	assert_string_equal(v->argv[1], "--from=" TG_PIN_DIR "/0/a.txt");
	_cleanup_json_ json_t *j = tg_verdict_to_json(v);
	_cleanup_free_ char *text = json_dumps(json_object_get(j, "paths"), JSON_COMPACT);
	assert_string_equal(text, "[{\"path\":\"/workspace/in/a.txt\",\"bound_at\":\"" TG_PIN_DIR
	                          "/0/a.txt\",\"arg\":\"" TG_PIN_DIR
	                          "/0/a.txt\",\"exists\":true,\"mode\":\"ro\"},{\"path\":\"/"
	                          "workspace/out/copy.txt\",\"bound_at\":\"" TG_PIN_DIR
	                          "/1/out\",\"arg\":\"" TG_PIN_DIR
	                          "/1/out/copy.txt\",\"exists\":false,\"mode\":\"rw\"}]");
	tg_verdict_free(v);

	/* A denied call keeps no descriptor. */
	v = decide(p, "t", "{\"f\": [\"a.txt\", \"../x\"]}");
	assert_false(v->allow);
	assert_int_equal(v->n_paths, 0);
	assert_null(v->paths);
	tg_verdict_free(v);
	tg_policy_unref(p);
	assert_int_equal(nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Does loading `text` (in dir) fail with a message containing `needle`? */
static bool load_refused(const char *dir, const char *text, const char *needle)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	int r = tg_policy_load_buffer("t.yaml", dir, text, strlen(text), &p, &diags);
	bool found = false;
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		found |= s && strstr(s, needle);
	}
	tg_diags_clear(&diags);
	tg_policy_unref(p);
	return r == -EINVAL && found;
}

/* A host path the broker opens by name inside what the agent can write is
 * refused however it is spelled: through a symlink whose target does not
 * exist yet, or through a second name of the directory (a bind mount). */
static void test_agent_writable_names(void **state)
{
	(void)state;
	char dir[] = "/tmp/tg-policy-writable-XXXXXX", a[512], b[512];
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/ws", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	/* models -> ws/models, which does not exist (yet) */
	snprintf(a, sizeof(a), "%s/ws/models", dir);
	snprintf(b, sizeof(b), "%s/models", dir);
	assert_int_equal(symlink(a, b), 0);
	assert_true(load_refused(dir,
	                         "version: 1\nworkspace: ./ws\ntools:\n  - name: t\n    command: "
	                         "[/bin/true]\n    filesystem: [{source: ./models, target: /m}]\n",
	                         "lies inside"));
	/* The same directory under another name. */
	snprintf(a, sizeof(a), "%s/ws", dir);
	snprintf(b, sizeof(b), "%s/alias", dir);
	assert_int_equal(mkdir(b, 0755), 0);
	bool mounted = mount(a, b, NULL, MS_BIND, NULL) == 0;
	if (mounted) {
		assert_true(load_refused(dir,
		                         "version: 1\nworkspace: ./ws\ntools:\n  - name: t\n    "
		                         "command: [/bin/true]\n    filesystem: [{source: "
		                         "./alias/venv, target: /venv}]\n",
		                         "lies inside"));
		assert_int_equal(umount2(b, MNT_DETACH), 0);
	} else {
		print_message("not root: the bind-mount alias case is skipped\n");
	}
	/* Beside the workspace is fine, and so is the workspace itself. */
	struct tg_policy *p =
	        load_in(dir, "version: 1\nworkspace: ./ws\ntools:\n  - name: t\n    "
	                     "command: [/bin/true]\n    filesystem: [{source: ./alias, "
	                     "target: /a}, {source: ./ws, target: /w}]\n");
	tg_policy_unref(p);
	assert_int_equal(nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static void *worker(void *arg)
{
	struct tg_policy *p = arg; /* a reference of our own, from the creator */
	for (int i = 0; i < 200; i++) {
		struct tg_verdict *v = NULL;
		_cleanup_json_ json_t *params = json_pack("{s:s}", "s", "abc");
		if (tg_policy_decide(p, "t", params, &v) < 0 || !v->allow) {
			tg_verdict_free(v);
			tg_policy_unref(p);
			return (void *)1;
		}
		tg_verdict_free(v);
	}
	tg_policy_unref(p);
	return NULL;
}

/* Many threads decide with one policy while the last reference moves
 * around; LeakSanitizer (in the ASan build) checks it is freed once. */
static void test_threads_and_refs(void **state)
{
	(void)state;
	struct tg_policy *p =
	        load("version: 1\ntools: [{name: t, command: [/bin/echo, '{s}'], params: {s: "
	             "{type: string, pattern: '^[a-z]+$'}}}]\n");
	pthread_t th[8];
	for (size_t i = 0; i < TG_ARRAY_SIZE(th); i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, tg_policy_ref(p)), 0);
	tg_policy_unref(p); /* the workers may outlive this reference */
	for (size_t i = 0; i < TG_ARRAY_SIZE(th); i++) {
		void *r;
		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_null(r);
	}
	tg_policy_unref(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_overlays),
	        cmocka_unit_test(test_builtin_defaults),
	        cmocka_unit_test(test_builtin_redactions),
	        cmocka_unit_test(test_semantic_errors),
	        cmocka_unit_test(test_schema),
	        cmocka_unit_test(test_verdict_json),
	        cmocka_unit_test(test_path_descriptors),
	        cmocka_unit_test(test_agent_writable_names),
	        cmocka_unit_test(test_threads_and_refs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
