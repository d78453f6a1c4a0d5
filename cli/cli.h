/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - the commands of the `toolgate` front end. One file per command
 * (cmd_*.c); main.c dispatches from a table. Commands only parse arguments
 * and call libraries; each returns the process exit code.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (sysexits.h where one fits; DESIGN.md "Command line"). */
enum {
	TG_EXIT_OK = 0,
	TG_EXIT_FAILURE = 1,      /* e.g. audit verify found damage */
	TG_EXIT_USAGE = 64,       /* EX_USAGE: bad usage */
	TG_EXIT_DATAERR = 65,     /* EX_DATAERR: policy check found errors */
	TG_EXIT_NOINPUT = 66,     /* EX_NOINPUT: a file could not be read */
	TG_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: broker unreachable */
	TG_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error */
	TG_EXIT_OSERR = 71,       /* EX_OSERR: could not set up (not root, ...) */
	TG_EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: rate limited */
	TG_EXIT_PROTOCOL = 76,    /* EX_PROTOCOL: the broker found the request invalid */
	TG_EXIT_DENIED = 77,      /* EX_NOPERM: the policy denied the call */
	TG_EXIT_TIMEOUT = 124,    /* as timeout(1): the tool ran out of time */
	TG_EXIT_OOM = 137,        /* 128 + SIGKILL: the tool ran out of memory */
};

struct tg_cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

int tg_cmd_run(int argc, char **argv);
int tg_cmd_broker(int argc, char **argv);
int tg_cmd_call(int argc, char **argv);
int tg_cmd_tools(int argc, char **argv);
int tg_cmd_policy(int argc, char **argv);
int tg_cmd_audit(int argc, char **argv);
int tg_cmd_mcp(int argc, char **argv);

/* Shared argument helpers (args.c). */

/* True when argv[i] is "-h" or "--help". */
int tg_cli_is_help(const char *arg);
/* Print "toolgate: <cmd>: <message>" and a hint to stderr; returns TG_EXIT_USAGE. */
int tg_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Parse NAME=VALUE pairs (repeating a name builds an array, in order) and an
 * optional --params-json JSON object into one JSON object: the parameters of
 * `call` and `policy explain`. The pairs are argv[first..argc); --params-json
 * may appear among them. Returns 0 and *ret (new reference), or -EINVAL with
 * a message already printed to stderr.
 */
struct json_t;
int tg_cli_parse_params(const char *cmd, int argc, char **argv, int first, struct json_t **ret);

/* The options of every command that starts a broker (run, broker, mcp). */
#define TG_CLI_BROKER_OPTIONS                                                              \
	{"policy", required_argument, NULL, 'p'}, {"audit", required_argument, NULL, 'a'}, \
	{                                                                                  \
		"workspace", required_argument, NULL, 'w'                                  \
	}
#define TG_CLI_BROKER_OPTSTRING "p:a:w:"
struct tg_broker_config;
struct tg_broker;
/* Store option c (one of TG_CLI_BROKER_OPTIONS) into cfg; false when c is
 * not one of them. */
bool tg_cli_broker_option(int c, const char *arg, struct tg_broker_config *cfg);
/* Parse the options of a command that takes only TG_CLI_BROKER_OPTIONS and
 * --help (run: stop_at_operand, its command follows; mcp). --policy is
 * required. Returns -1 to go on (optind at the first operand), or the exit
 * code to leave with (help printed, or a usage error). */
int tg_cli_broker_args(const char *cmd, int argc, char **argv, bool stop_at_operand,
                       void (*help)(FILE *out), struct tg_broker_config *cfg);
/* Create the broker, reporting a failure on stderr as "toolgate CMD: ...".
 * Returns 0 and *ret, or the exit code to leave with (65 for a bad policy,
 * 71 when the sandbox or broker cannot be set up). */
int tg_cli_broker_new(const char *cmd, const struct tg_broker_config *cfg, struct tg_broker **ret);

struct tg_policy;
/* --workspace DIR of the commands that decide without a broker: make p
 * decide as a broker started with it would (the same normalization, the
 * same refusals). TG_EXIT_OK, or the exit code after a message. */
int tg_cli_policy_workspace(const char *cmd, struct tg_policy *p, const char *dir);

#endif /* TG_CLI_H */
