/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolgate policy check FILE...
 * toolgate policy explain FILE TOOL [NAME=VALUE ...] [--params-json JSON] [--json]
 *
 * Both only load and decide; nothing runs.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "tg.h"

static void policy_unrefp(struct tg_policy **p)
{
	tg_policy_unref(*p);
}

static void verdict_freep(struct tg_verdict **v)
{
	tg_verdict_free(*v);
}

static void diags_print(const struct tg_diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&d->items[i]);
		fprintf(stderr, "%s\n", s ? s : d->items[i].msg);
	}
}

/* The exit code for a load failure: unreadable (66) or invalid (65). */
static int load_exit(int r)
{
	if (r == -EINVAL)
		return TG_EXIT_DATAERR;
	if (r == -ENOMEM)
		return TG_EXIT_SOFTWARE;
	return TG_EXIT_NOINPUT;
}

/* ---------------------------------------------------------------------------
 * check
 */
static void check_usage(FILE *out)
{
	fprintf(out, "usage: toolgate policy check FILE...\n"
	             "\n"
	             "Load, validate and compile each policy (YAML or JSON) and report every\n"
	             "problem, one per line on stderr, as FILE:LINE:COL: key.path: message.\n"
	             "Prints \"FILE: ok (N tools, sha256 HEX)\" for each valid policy.\n"
	             "\n"
	             "Exit: 0 all valid; 65 a policy has errors; 66 a file cannot be read\n"
	             "(66 wins when both happen); 64 bad usage.\n");
}

static int cmd_check(int argc, char **argv)
{
	int first = 1;
	for (int i = 1; i < argc; i++) {
		if (tg_cli_is_help(argv[i])) {
			check_usage(stdout);
			return TG_EXIT_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return tg_cli_usage_error("policy check", "unknown option '%s'", argv[i]);
	}
	if (first >= argc)
		return tg_cli_usage_error("policy check", "expected at least one FILE");
	int rc = TG_EXIT_OK;
	for (int i = first; i < argc; i++) {
		struct tg_diags diags = {0};
		struct tg_policy *p = NULL;
		int r = tg_policy_load_file(argv[i], &p, &diags);
		diags_print(&diags);
		tg_diags_clear(&diags);
		if (r < 0) {
			if (r == -ENOMEM)
				fprintf(stderr, "%s: out of memory\n", argv[i]);
			int e = load_exit(r);
			if (rc == TG_EXIT_OK || e == TG_EXIT_NOINPUT)
				rc = e;
			continue;
		}
		size_t n = tg_policy_tool_count(p);
		printf("%s: ok (%zu tool%s, sha256 %s)\n", argv[i], n, n == 1 ? "" : "s",
		       tg_policy_sha256(p));
		tg_policy_unref(p);
	}
	return rc;
}

/* ---------------------------------------------------------------------------
 * explain
 */
static void explain_usage(FILE *out)
{
	fprintf(out,
	        "usage: toolgate policy explain FILE TOOL [NAME=VALUE ...] [--params-json JSON]\n"
	        "                               [--workspace DIR] [--json]\n"
	        "\n"
	        "Decide one call as the broker would and say why: the rule that decided, the\n"
	        "final argv, env, limits, workspace and mounts, network egress, seccomp and\n"
	        "rate. Nothing runs. NAME=VALUE repeated builds an array, in order; values are\n"
	        "converted for integer and boolean parameters. --workspace DIR decides as a\n"
	        "broker started with --workspace DIR (path parameters resolve there). --json\n"
	        "prints one JSON object (decision, code, reason, rule, argv, env, params,\n"
	        "limits, paths, ...).\n"
	        "\n"
	        "Exit: 0 allowed; 77 denied; 65 the policy has errors; 66 it cannot be\n"
	        "read; 64 bad usage.\n");
}

/* Quote an argument for display so it could be pasted into a shell. */
static void print_quoted(const char *s)
{
	bool plain = *s != '\0';
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./"
		            "=:,+@%",
		            *p))
			plain = false;
	if (plain) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", (unsigned char)*p);
		else
			putchar(*p);
	}
	putchar('\'');
}

static void print_size(const char *label, uint64_t v, bool comma)
{
	const char *unit = "B";
	uint64_t n = v;
	if (v && v % (1ull << 30) == 0)
		n = v >> 30, unit = "GiB";
	else if (v && v % (1ull << 20) == 0)
		n = v >> 20, unit = "MiB";
	else if (v && v % (1ull << 10) == 0)
		n = v >> 10, unit = "KiB";
	if (v == 0)
		printf("%s%s none", comma ? ", " : "", label);
	else
		printf("%s%s %" PRIu64 "%s", comma ? ", " : "", label, n, unit);
}

static void print_limits(const struct tg_limits *l)
{
	printf("limits:    ");
	if (l->timeout_ms)
		printf("timeout %" PRIu64 "ms", l->timeout_ms);
	else
		printf("timeout none");
	if (l->cpu_millis)
		printf(", cpu %u.%03u", l->cpu_millis / 1000, l->cpu_millis % 1000);
	else
		printf(", cpu none");
	print_size("memory", l->memory_bytes, true);
	printf(", pids ");
	if (l->pids)
		printf("%" PRIu64, l->pids);
	else
		printf("none");
	print_size("output", l->output_bytes, true);
	print_size("file_size", l->file_size_bytes, true);
	printf("\n");
}

static void print_verdict(const struct tg_policy *p, const struct tg_verdict *v)
{
	printf("decision:  %s", v->allow ? "allow" : "deny");
	if (!v->allow)
		printf(" (%s)", tg_deny_code_name(v->code));
	printf("\nrule:      %s\nreason:    %s\n", v->rule ? v->rule : "none",
	       v->reason ? v->reason : "");
	if (v->allow) {
		printf("argv:      ");
		for (size_t i = 0; v->argv[i]; i++) {
			if (i)
				putchar(' ');
			print_quoted(v->argv[i]);
		}
		printf("\nbinary:    %s sha256 %s\n", v->argv[0], v->binary_sha256);
		printf("env:      ");
		for (size_t i = 0; v->envp && v->envp[i]; i++) {
			putchar(' ');
			print_quoted(v->envp[i]);
		}
		printf("\n");
	}
	if (v->tool_index < 0)
		return;
	print_limits(&v->limits);
	const char *ws = tg_policy_workspace(p);
	static const char *const ws_names[] = {"none", "ro", "rw"};
	if (v->workspace == TG_WS_NONE || !ws)
		printf("workspace: none\n");
	else
		printf("workspace: %s -> /workspace (%s)\n", ws, ws_names[v->workspace]);
	for (size_t i = 0; i < v->n_fs; i++) {
		const struct tg_fs_entry *f = &v->fs[i];
		if (f->type == TG_FS_TMPFS)
			printf("mount:     tmpfs -> %s (%s, %" PRIu64 " bytes)\n", f->target,
			       f->readonly ? "ro" : "rw", f->size);
		else
			printf("mount:     %s -> %s (%s)\n", f->source, f->target,
			       f->readonly ? "ro" : "rw");
	}
	for (size_t i = 0; i < v->n_paths; i++) {
		const struct tg_verdict_path *vp = &v->paths[i];
		if (vp->exists)
			printf("path:      %s, bound at %s (%s)\n", vp->path, vp->bind,
			       vp->writable ? "rw" : "ro");
		else
			printf("path:      %s (does not exist yet), its directory bound at %s "
			       "(%s)\n",
			       vp->path, vp->bind, vp->writable ? "rw" : "ro");
	}
	if (!v->network || !v->network->egress_enabled) {
		printf("network:   none\n");
	} else {
		for (size_t i = 0; i < v->network->n_egress; i++) {
			const struct tg_egress_rule *r = &v->network->egress[i];
			const char *proto = r->proto == TG_NET_UDP    ? "udp"
			                    : r->proto == TG_NET_BOTH ? "tcp+udp"
			                                              : "tcp";
			printf("egress:    %s %s ports ", r->host ? r->host : r->cidr, proto);
			if (r->n_ports == 0)
				printf("all");
			for (size_t j = 0; j < r->n_ports; j++)
				printf("%s%u", j ? "," : "", r->ports[j]);
			printf("\n");
		}
	}
	if (v->seccomp) {
		static const char *const modes[] = {"default", "strict", "strict + allow",
		                                    "default + deny"};
		printf("seccomp:   %s", modes[v->seccomp->mode]);
		for (size_t i = 0; v->seccomp->syscalls && v->seccomp->syscalls[i]; i++)
			printf("%s%s", i ? ", " : " ", v->seccomp->syscalls[i]);
		printf("\n");
	}
	if (v->rate && v->rate->calls)
		printf("rate:      %u calls per %" PRIu64 "ms (burst %u)\n", v->rate->calls,
		       v->rate->per_ms, v->rate->burst);
	else
		printf("rate:      none\n");
}

static int cmd_explain(int argc, char **argv)
{
	const char *file = NULL, *tool = NULL, *workspace = NULL;
	bool json = false;
	/* Positional FILE and TOOL, --json anywhere; everything else (and the
	 * value after --params-json) goes to tg_cli_parse_params. */
	_cleanup_free_ char **rest = calloc((size_t)argc + 1, sizeof(char *));
	int n_rest = 0;
	if (!rest)
		return TG_EXIT_SOFTWARE;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (tg_cli_is_help(a)) {
			explain_usage(stdout);
			return TG_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--workspace") == 0) {
			if (i + 1 >= argc)
				return tg_cli_usage_error("policy explain",
				                          "--workspace needs a DIR");
			workspace = argv[++i];
		} else if (strcmp(a, "--params-json") == 0) {
			rest[n_rest++] = argv[i];
			if (i + 1 < argc)
				rest[n_rest++] = argv[++i];
		} else if (!file && !(a[0] == '-' && a[1] == '-')) {
			file = a;
		} else if (!tool && file && !(a[0] == '-' && a[1] == '-')) {
			tool = a;
		} else if (a[0] == '-' && a[1] == '-' && strncmp(a, "--params-json=", 14) != 0) {
			return tg_cli_usage_error("policy explain", "unknown option '%s'", a);
		} else {
			rest[n_rest++] = argv[i];
		}
	}
	if (!file || !tool)
		return tg_cli_usage_error("policy explain", "expected FILE and TOOL");
	_cleanup_json_ json_t *params = NULL;
	if (tg_cli_parse_params("policy explain", n_rest, rest, 0, (struct json_t **)&params) < 0)
		return TG_EXIT_USAGE;

	struct tg_diags diags = {0};
	_cleanup_(policy_unrefp) struct tg_policy *p = NULL;
	int r = tg_policy_load_file(file, &p, &diags);
	diags_print(&diags);
	tg_diags_clear(&diags);
	if (r < 0)
		return load_exit(r);
	if (workspace &&
	    (r = tg_cli_policy_workspace("policy explain", p, workspace)) != TG_EXIT_OK)
		return r;

	_cleanup_(verdict_freep) struct tg_verdict *v = NULL;
	r = tg_policy_decide(p, tool, params, &v);
	if (r < 0) {
		fprintf(stderr, "toolgate policy explain: %s\n", strerror(-r));
		return TG_EXIT_SOFTWARE;
	}
	if (json) {
		_cleanup_json_ json_t *j = tg_verdict_to_json(v);
		_cleanup_free_ char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (!s) {
			fprintf(stderr, "toolgate policy explain: out of memory\n");
			return TG_EXIT_SOFTWARE;
		}
		printf("%s\n", s);
	} else {
		print_verdict(p, v);
	}
	return v->allow ? TG_EXIT_OK : TG_EXIT_DENIED;
}

/* ---------------------------------------------------------------------------
 * dispatch
 */
static void usage(FILE *out)
{
	fprintf(out,
	        "usage: toolgate policy check FILE...\n"
	        "       toolgate policy explain FILE TOOL [NAME=VALUE ...] [--params-json JSON] "
	        "[--workspace DIR] [--json]\n"
	        "\n"
	        "  check    report every error in each policy (exit 65 on any)\n"
	        "  explain  decide one call and say why, without running anything\n"
	        "\n"
	        "'toolgate policy SUBCOMMAND --help' describes each. Reference: docs/policy.md\n");
}

int tg_cmd_policy(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return TG_EXIT_USAGE;
	}
	if (tg_cli_is_help(argv[1])) {
		usage(stdout);
		return TG_EXIT_OK;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "explain") == 0)
		return cmd_explain(argc - 1, argv + 1);
	return tg_cli_usage_error("policy", "unknown subcommand '%s'", argv[1]);
}
