/* SPDX-License-Identifier: Apache-2.0 */
/* Argument helpers shared by the commands: help flags, usage errors, and the
 * NAME=VALUE / --params-json parameter syntax of `call` and `policy explain`. */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "broker.h"
#include "cli.h"
#include "policy.h"
#include "tg.h"

int tg_cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int tg_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "toolgate %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'toolgate %s --help'.\n", cmd);
	return TG_EXIT_USAGE;
}

/* NAME=VALUE: a repeated name becomes an array, in order. */
static int add_pair(const char *cmd, json_t *obj, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		tg_cli_usage_error(cmd, "expected NAME=VALUE, got '%s'", arg);
		return -EINVAL;
	}
	_cleanup_free_ char *name = strndup(arg, (size_t)(eq - arg));
	if (!name)
		return -ENOMEM;
	json_t *value = json_string(eq + 1);
	if (!value) {
		/* jansson refuses invalid UTF-8; say so rather than "no memory". */
		tg_cli_usage_error(cmd, "value of '%s' is not valid UTF-8", name);
		return -EINVAL;
	}
	json_t *prev = json_object_get(obj, name);
	if (!prev)
		return json_object_set_new(obj, name, value) == 0 ? 0 : -ENOMEM;
	if (json_is_array(prev))
		return json_array_append_new(prev, value) == 0 ? 0 : -ENOMEM;
	json_t *arr = json_array();
	if (!arr || json_array_append(arr, prev) < 0 || json_array_append_new(arr, value) < 0) {
		json_decref(arr);
		return -ENOMEM;
	}
	return json_object_set_new(obj, name, arr) == 0 ? 0 : -ENOMEM;
}

static int merge_json(const char *cmd, json_t *obj, const char *text)
{
	json_error_t jerr;
	_cleanup_json_ json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!in) {
		tg_cli_usage_error(cmd, "--params-json: %s at line %d column %d", jerr.text,
		                   jerr.line, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(in)) {
		tg_cli_usage_error(cmd, "--params-json: expected a JSON object");
		return -EINVAL;
	}
	const char *key;
	json_t *value;
	json_object_foreach (in, key, value) {
		if (json_object_get(obj, key)) {
			tg_cli_usage_error(cmd, "parameter '%s' given twice", key);
			return -EINVAL;
		}
		if (json_object_set(obj, key, value) < 0)
			return -ENOMEM;
	}
	return 0;
}

int tg_cli_parse_params(const char *cmd, int argc, char **argv, int first, json_t **ret)
{
	_cleanup_json_ json_t *obj = json_object();
	const char *params_json = NULL;
	if (!obj)
		return -ENOMEM;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--params-json") == 0) {
			if (i + 1 >= argc) {
				tg_cli_usage_error(cmd, "--params-json needs a JSON object");
				return -EINVAL;
			}
			if (params_json) {
				tg_cli_usage_error(cmd, "--params-json given twice");
				return -EINVAL;
			}
			params_json = argv[++i];
			continue;
		}
		if (strncmp(a, "--params-json=", 14) == 0) {
			if (params_json) {
				tg_cli_usage_error(cmd, "--params-json given twice");
				return -EINVAL;
			}
			params_json = a + 14;
			continue;
		}
		int r = add_pair(cmd, obj, a);
		if (r < 0)
			return r;
	}
	if (params_json) {
		int r = merge_json(cmd, obj, params_json);
		if (r < 0)
			return r;
	}
	*ret = steal_pointer(&obj);
	return 0;
}

bool tg_cli_broker_option(int c, const char *arg, struct tg_broker_config *cfg)
{
	switch (c) {
	case 'p':
		cfg->policy_path = arg;
		return true;
	case 'a':
		cfg->audit_path = arg;
		return true;
	case 'w':
		cfg->workspace = arg;
		return true;
	default:
		return false;
	}
}

int tg_cli_broker_args(const char *cmd, int argc, char **argv, bool stop_at_operand,
                       void (*help)(FILE *out), struct tg_broker_config *cfg)
{
	static const struct option opts[] = {
	        TG_CLI_BROKER_OPTIONS,
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv,
	                        stop_at_operand ? "+h" TG_CLI_BROKER_OPTSTRING
	                                        : "h" TG_CLI_BROKER_OPTSTRING,
	                        opts, NULL)) != -1) {
		if (tg_cli_broker_option(c, optarg, cfg))
			continue;
		if (c == 'h') {
			help(stdout);
			return TG_EXIT_OK;
		}
		return tg_cli_usage_error(cmd, "unknown option");
	}
	if (!cfg->policy_path)
		return tg_cli_usage_error(cmd, "--policy FILE is required");
	return -1;
}

int tg_cli_broker_new(const char *cmd, const struct tg_broker_config *cfg, struct tg_broker **ret)
{
	_cleanup_error_ struct tg_error *err = NULL;
	int r = tg_broker_new(cfg, ret, &err);
	if (r == 0)
		return 0;
	fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
	return r == -EINVAL ? TG_EXIT_DATAERR : TG_EXIT_OSERR;
}

int tg_cli_policy_workspace(const char *cmd, struct tg_policy *p, const char *dir)
{
	/* As the broker takes it: normalized, then its real path. */
	_cleanup_free_ char *abs = tg_path_join_abs(NULL, dir);
	char real[PATH_MAX];
	if (!abs || !realpath(abs, real)) {
		fprintf(stderr, "toolgate %s: workspace %s: %s\n", cmd, dir, strerror(errno));
		return TG_EXIT_NOINPUT;
	}
	_cleanup_free_ char *why = NULL;
	int r = tg_policy_set_workspace(p, real, &why);
	if (r < 0) {
		fprintf(stderr, "toolgate %s: workspace %s: %s\n", cmd, real,
		        why ? why : strerror(-r));
		return r == -EXDEV ? TG_EXIT_DATAERR : TG_EXIT_SOFTWARE;
	}
	return TG_EXIT_OK;
}
