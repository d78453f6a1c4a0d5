/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate call: one tool call through the broker. */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "policy.h"
#include "tg.h"
#include "toolgate.h"

static void help(FILE *out)
{
	fprintf(out,
	        "usage: toolgate call [--url URL] [--json] [--timeout DURATION] TOOL [NAME=VALUE "
	        "...]\n"
	        "                     [--params-json JSON]\n"
	        "\n"
	        "Ask the broker to run TOOL. Its stdout and stderr go to ours, and we exit with\n"
	        "its exit code. A repeated NAME builds an array, in order.\n"
	        "\n"
	        "  --url URL          the broker (default: $TOOLGATE_URL)\n"
	        "  --json             print the whole response as one JSON object\n"
	        "  --timeout DURATION give up waiting after DURATION (e.g. 30s); default: the\n"
	        "                     broker enforces the tool's own limit\n"
	        "  --params-json JSON parameters as a JSON object, e.g. '{\"files\": [\"a\", "
	        "\"b\"]}'\n"
	        "\n"
	        "exit: the tool's code (128+N if signal N ended it); 77 denied; 75 rate limited;\n"
	        "      124 timed out; 137 out of memory; 76 invalid request; 69 broker "
	        "unreachable\n"
	        "      or unavailable; 70 broker internal error; 64 bad usage\n");
}

/* Map a wire status to our exit code (documented in docs/cli.md). */
static int exit_for(const tg_result *r)
{
	switch (tg_result_status(r)) {
	case TG_STATUS_OK:
	case TG_STATUS_OUTPUT_LIMIT:
		if (tg_result_signal(r))
			return 128 + tg_result_signal(r);
		return tg_result_exit_code(r) & 0xff;
	case TG_STATUS_DENIED:
		return TG_EXIT_DENIED;
	case TG_STATUS_INVALID:
		return TG_EXIT_PROTOCOL;
	case TG_STATUS_RATE_LIMITED:
		return TG_EXIT_TEMPFAIL;
	case TG_STATUS_TIMEOUT:
		return TG_EXIT_TIMEOUT;
	case TG_STATUS_OOM:
		return TG_EXIT_OOM;
	case TG_STATUS_UNAVAILABLE:
		return TG_EXIT_UNAVAILABLE;
	case TG_STATUS_INTERNAL:
	default:
		return TG_EXIT_SOFTWARE;
	}
}

static int add_params(tg_params *p, json_t *obj)
{
	_cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	char why[256];
	int r = tg_params_add_json(p, text, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "toolgate call: parameters: %s\n", why);
	return r;
}

int tg_cmd_call(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"json", no_argument, NULL, 'j'},
	        {"timeout", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *url = NULL;
	bool as_json = false;
	uint64_t timeout_ms = 0;
	int c;
	optind = 1;
	/* '+': stop at TOOL; what follows are parameters. */
	while ((c = getopt_long(argc, argv, "+hju:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 't':
			if (tg_parse_duration_ms(optarg, &timeout_ms) < 0 ||
			    timeout_ms > UINT32_MAX)
				return tg_cli_usage_error("call", "--timeout: not a duration: '%s'",
				                          optarg);
			break;
		case 'h':
			help(stdout);
			return TG_EXIT_OK;
		default:
			return tg_cli_usage_error("call", "unknown option");
		}
	}
	if (optind >= argc)
		return tg_cli_usage_error("call", "which tool?");
	const char *tool = argv[optind];
	_cleanup_json_ json_t *params = NULL;
	if (tg_cli_parse_params("call", argc, argv, optind + 1, &params) < 0)
		return TG_EXIT_USAGE;

	tg_params *p = tg_params_new();
	if (!p || add_params(p, params) < 0) {
		tg_params_free(p);
		return TG_EXIT_USAGE;
	}
	tg_client *client = NULL;
	int r = tg_client_open(url, &client);
	if (r < 0) {
		tg_params_free(p);
		fprintf(stderr, "toolgate call: cannot reach the broker at %s: %s\n",
		        url ? url : (getenv("TOOLGATE_URL") ? getenv("TOOLGATE_URL") : "(none)"),
		        tg_client_strerror(r));
		return r == -EDESTADDRREQ ? TG_EXIT_USAGE : TG_EXIT_UNAVAILABLE;
	}
	tg_client_set_timeout(client, (uint32_t)timeout_ms);
	tg_result *res = NULL;
	r = tg_call(client, tool, p, &res);
	tg_params_free(p);
	tg_client_close(client);
	if (r < 0) {
		fprintf(stderr, "toolgate call: %s: %s\n", tool, tg_client_strerror(r));
		if (r == -EINVAL || r == -EMSGSIZE)
			return TG_EXIT_USAGE; /* ours, not the broker's */
		return r == -ETIMEDOUT ? TG_EXIT_TIMEOUT : TG_EXIT_UNAVAILABLE;
	}

	int code = exit_for(res);
	if (as_json) {
		_cleanup_free_ char *s = tg_result_to_json(res);
		if (s)
			printf("%s\n", s);
	} else {
		size_t n;
		const uint8_t *data = tg_result_stdout(res, &n);
		fwrite(data, 1, n, stdout);
		fflush(stdout);
		data = tg_result_stderr(res, &n);
		fwrite(data, 1, n, stderr);
		tg_status st = tg_result_status(res);
		if (st == TG_STATUS_RATE_LIMITED)
			fprintf(stderr, "toolgate call: %s: rate limited: %s\n", tool,
			        tg_result_reason(res));
		else if (st != TG_STATUS_OK)
			fprintf(stderr, "toolgate call: %s: %s: %s\n", tool, tg_status_name(st),
			        tg_result_reason(res));
	}
	tg_result_free(res);
	return code;
}
