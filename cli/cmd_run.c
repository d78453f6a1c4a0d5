/* SPDX-License-Identifier: Apache-2.0 */
/* toolgate run: a broker for this session, and CMD jailed with it as its
 * only way out. Exits with CMD's status and leaves nothing behind. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "broker.h"
#include "cli.h"
#include "signals.h"
#include "tg.h"

static void help(FILE *out)
{
	fprintf(out,
	        "usage: toolgate run --policy FILE [--audit FILE] [--workspace DIR] -- CMD "
	        "[ARGS...]\n"
	        "\n"
	        "Start a broker for this session and run CMD jailed per the policy's agent\n"
	        "section: no network, no host processes, no host files but those granted; its\n"
	        "only way out is the broker socket ($TOOLGATE_URL; `toolgate call` is on its\n"
	        "PATH). Exit with CMD's status (128+N if signal N ended it). Nothing is left\n"
	        "behind: no process, cgroup, mount or socket.\n"
	        "\n"
	        "  --policy FILE    the policy (YAML or JSON)\n"
	        "  --audit FILE     the audit log (default: the policy's audit.path)\n"
	        "  --workspace DIR  /workspace for the agent and its tools; kept across runs\n"
	        "\n"
	        "SIGINT/SIGTERM/SIGHUP are forwarded to CMD.\n");
}

struct forwarder {
	struct tg_broker *broker;
	sigset_t sigs;
	atomic_bool done;
};

/* Forward the signals we receive to the agent until it has ended. */
static void *forward_signals(void *arg)
{
	struct forwarder *f = arg;
	while (!atomic_load(&f->done)) {
		int sig = tg_cli_wait_signal(&f->sigs, 100);
		if (sig)
			tg_broker_signal_agent(f->broker, sig);
	}
	return NULL;
}

int tg_cmd_run(int argc, char **argv)
{
	struct tg_broker_config cfg = {0};
	int c = tg_cli_broker_args("run", argc, argv, true, help, &cfg);
	if (c >= 0)
		return c;
	if (optind >= argc)
		return tg_cli_usage_error("run",
		                          "which command? (toolgate run --policy FILE -- CMD)");
	char **cmd = argv + optind;
	cfg.command = cmd;

	struct forwarder fwd = {0};
	tg_cli_block_signals(&fwd.sigs);
	_cleanup_error_ struct tg_error *err = NULL;
	struct tg_broker *b = NULL;
	int r = tg_cli_broker_new("run", &cfg, &b);
	if (r != 0)
		return r;
	if ((r = tg_broker_start(b, &err)) < 0) {
		fprintf(stderr, "toolgate run: %s\n", tg_error_msg(err));
		tg_broker_free(b, -1, 0);
		return TG_EXIT_OSERR;
	}
	fwd.broker = b;
	atomic_init(&fwd.done, false);
	pthread_t th;
	bool forwarding = pthread_create(&th, NULL, forward_signals, &fwd) == 0;

	struct tg_agent_exit ex = {0};
	r = tg_broker_run_agent(b, cmd, &ex, &err);
	atomic_store(&fwd.done, true);
	if (forwarding)
		pthread_join(th, NULL);

	int code;
	if (r < 0) {
		fprintf(stderr, "toolgate run: %s\n", tg_error_msg(err));
		code = r == -ENOENT ? 127 : TG_EXIT_OSERR;
		tg_broker_free(b, code, 0);
		return code;
	}
	if (ex.signal) {
		code = 128 + ex.signal;
		if (ex.oom)
			fprintf(stderr, "toolgate run: the agent hit its memory limit and was "
			                "killed\n");
	} else {
		code = ex.exit_code & 0xff;
	}
	tg_broker_free(b, ex.signal ? -1 : ex.exit_code, ex.signal);
	return code;
}
