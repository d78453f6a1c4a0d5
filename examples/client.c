/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An agent written in C: list the tools, then call one, through the client
 * library (client/include/toolgate.h, libtoolgate.so).
 *
 *   build:  it is built with the project (build/examples/toolgate-client-example)
 *   run:    TOOLGATE_URL=ipc:///path/to/broker.sock toolgate-client-example TOOL [NAME=VALUE...]
 *   jailed: toolgate run --policy POLICY -- /path/inside/the/jail/toolgate-client-example ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolgate.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s TOOL [NAME=VALUE...]\n", argv[0]);
		return 64;
	}
	tg_client *c = NULL;
	int r = tg_client_open(NULL, &c); /* NULL: $TOOLGATE_URL */
	if (r < 0) {
		fprintf(stderr, "cannot reach the broker: %s\n", tg_client_strerror(r));
		return 69;
	}

	char *tools = NULL; /* ours to free */
	if (tg_tools(c, &tools) == 0) {
		printf("tools (JSON): %.200s%s\n", tools, strlen(tools) > 200 ? "..." : "");
		free(tools);
	}

	tg_params *p = tg_params_new(); /* ours to free */
	for (int i = 2; p && i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			fprintf(stderr, "expected NAME=VALUE: %s\n", argv[i]);
			tg_params_free(p);
			tg_client_close(c);
			return 64;
		}
		*eq = '\0';
		tg_params_add_string(p, argv[i], eq + 1); /* a repeated name builds an array */
	}

	tg_result *res = NULL; /* ours to free when r == 0 */
	r = tg_call(c, argv[1], p, &res);
	tg_params_free(p);
	if (r < 0) {
		fprintf(stderr, "call failed: %s\n", tg_client_strerror(r));
		tg_client_close(c);
		return 69;
	}
	int code = 0;
	switch (tg_result_status(res)) {
	case TG_STATUS_OK: {
		size_t n;
		const uint8_t *out = tg_result_stdout(res, &n); /* owned by res */
		fwrite(out, 1, n, stdout);
		printf("[exit %d, %llu ms wall, %llu ms cpu]\n", tg_result_exit_code(res),
		       (unsigned long long)tg_result_wall_ms(res),
		       (unsigned long long)tg_result_cpu_ms(res));
		code = tg_result_exit_code(res);
		break;
	}
	case TG_STATUS_DENIED:
		printf("denied: %s\n", tg_result_reason(res));
		code = 77;
		break;
	default:
		printf("%s: %s\n", tg_status_name(tg_result_status(res)), tg_result_reason(res));
		code = 1;
		break;
	}
	tg_result_free(res);
	tg_client_close(c);
	return code;
}
