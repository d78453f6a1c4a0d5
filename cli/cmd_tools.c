/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate tools: what this caller may use. */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tg.h"
#include "toolgate.h"

static void help(FILE *out)
{
	fprintf(out, "usage: toolgate tools [--url URL] [--json]\n"
	             "\n"
	             "List the tools this caller may use, with their parameters.\n"
	             "\n"
	             "  --url URL  the broker (default: $TOOLGATE_URL)\n"
	             "  --json     a JSON array of {name, description, inputSchema}\n");
}

static void print_params(const json_t *schema)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *required = json_object_get(schema, "required");
	const char *name;
	json_t *p;
	json_object_foreach (props, name, p) {
		bool req = false;
		size_t i;
		json_t *r;
		json_array_foreach (required, i, r) {
			if (json_is_string(r) && strcmp(json_string_value(r), name) == 0)
				req = true;
		}
		const char *type = json_string_value(json_object_get(p, "type"));
		const char *desc = json_string_value(json_object_get(p, "description"));
		printf("    %s%s: %s%s%s\n", name, req ? "" : " (optional)", type ? type : "any",
		       desc ? " - " : "", desc ? desc : "");
	}
}

int tg_cmd_tools(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *url = NULL;
	bool as_json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hju:", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			help(stdout);
			return TG_EXIT_OK;
		default:
			return tg_cli_usage_error("tools", "unknown option");
		}
	}
	if (optind < argc)
		return tg_cli_usage_error("tools", "unexpected argument '%s'", argv[optind]);
	tg_client *client = NULL;
	int r = tg_client_open(url, &client);
	if (r < 0) {
		fprintf(stderr, "toolgate tools: cannot reach the broker: %s\n",
		        tg_client_strerror(r));
		return r == -EDESTADDRREQ ? TG_EXIT_USAGE : TG_EXIT_UNAVAILABLE;
	}
	_cleanup_free_ char *text = NULL;
	r = tg_tools(client, &text);
	tg_client_close(client);
	if (r < 0) {
		fprintf(stderr, "toolgate tools: %s\n", tg_client_strerror(r));
		return TG_EXIT_UNAVAILABLE;
	}
	if (as_json) {
		printf("%s\n", text);
		return TG_EXIT_OK;
	}
	_cleanup_json_ json_t *tools = json_loads(text, 0, NULL);
	size_t i;
	json_t *t;
	json_array_foreach (tools, i, t) {
		const char *d = json_string_value(json_object_get(t, "description"));
		printf("%s%s%s\n", json_string_value(json_object_get(t, "name")),
		       d && *d ? "  " : "", d ? d : "");
		print_params(json_object_get(t, "inputSchema"));
	}
	return TG_EXIT_OK;
}
