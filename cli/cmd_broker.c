/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate broker: the broker as a foreground daemon. SIGHUP reloads the
 * policy atomically; SIGTERM / SIGINT drain and exit. */
#include <getopt.h>
#include <string.h>

#include "broker.h"
#include "cli.h"
#include "signals.h"
#include "tg.h"

static void help(FILE *out)
{
	fprintf(out,
	        "usage: toolgate broker --policy FILE [--listen URL] [--audit FILE]\n"
	        "                       [--workspace DIR] [--workers N]\n"
	        "\n"
	        "Serve tool calls for agents in the foreground (systemd Type=notify friendly).\n"
	        "\n"
	        "  --policy FILE    the policy (YAML or JSON)\n"
	        "  --listen URL     ipc://PATH or loopback tcp://127.0.0.1:PORT (default: a "
	        "private ipc socket,\n"
	        "                   printed on stdout)\n"
	        "  --audit FILE     the audit log (default: the policy's audit.path)\n"
	        "  --workspace DIR  the host directory tools see as /workspace\n"
	        "  --workers N      calls served at once (default 16)\n"
	        "\n"
	        "signals: SIGHUP reloads the policy (a bad one is refused, the old one stays);\n"
	        "         SIGTERM/SIGINT stop taking calls, finish those in flight, and exit 0.\n");
}

int tg_cmd_broker(int argc, char **argv)
{
	static const struct option opts[] = {
	        TG_CLI_BROKER_OPTIONS,
	        {"listen", required_argument, NULL, 'l'},
	        {"workers", required_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct tg_broker_config cfg = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h" TG_CLI_BROKER_OPTSTRING "l:n:", opts, NULL)) !=
	       -1) {
		if (tg_cli_broker_option(c, optarg, &cfg))
			continue;
		switch (c) {
		case 'l':
			cfg.listen_url = optarg;
			break;
		case 'n': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || n == 0 || n > 1024)
				return tg_cli_usage_error("broker", "--workers: 1..1024, got '%s'",
				                          optarg);
			cfg.workers = (unsigned)n;
			break;
		}
		case 'h':
			help(stdout);
			return TG_EXIT_OK;
		default:
			return tg_cli_usage_error("broker", "unknown option");
		}
	}
	if (!cfg.policy_path)
		return tg_cli_usage_error("broker", "--policy FILE is required");
	if (optind < argc)
		return tg_cli_usage_error("broker", "unexpected argument '%s'", argv[optind]);

	sigset_t sigs;
	tg_cli_block_signals(&sigs);
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_broker *b = NULL;
	int r = tg_cli_broker_new("broker", &cfg, &b);
	if (r != 0)
		return r;
	if ((r = tg_broker_start(b, &err)) < 0) {
		fprintf(stderr, "toolgate broker: %s\n", tg_error_msg(err));
		tg_broker_free(b, -1, 0);
		return TG_EXIT_OSERR;
	}
	printf("%s\n", tg_broker_url(b));
	fflush(stdout);
	tg_log(TG_LOG_INFO, "broker: serving %s (session %s)", tg_broker_url(b),
	       tg_broker_session(b));
	tg_cli_sd_notify("READY=1");

	int sig;
	for (;;) {
		sig = tg_cli_wait_signal(&sigs, 1000);
		if (sig == SIGHUP) {
			tg_cli_sd_notify("RELOADING=1");
			_cleanup_error_ struct tg_error *rerr = NULL;
			if (tg_broker_reload(b, &rerr) < 0)
				tg_log(TG_LOG_ERR, "%s", tg_error_msg(rerr));
			tg_cli_sd_notify("READY=1");
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			break;
		}
	}
	tg_cli_sd_notify("STOPPING=1");
	tg_log(TG_LOG_INFO, "broker: draining (signal %d)", sig);
	tg_broker_stop(b);
	tg_broker_free(b, 0, 0);
	return TG_EXIT_OK;
}
