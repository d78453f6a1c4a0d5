/* SPDX-License-Identifier: Apache-2.0 */
/* signals.h (private to the CLI): signal handling for run and broker. */
#ifndef TG_CLI_SIGNALS_H
#define TG_CLI_SIGNALS_H

#include <signal.h>

/* Block the signals we take synchronously (in the calling thread, and so in
 * every thread it creates afterwards); ignore SIGPIPE. */
void tg_cli_block_signals(sigset_t *ret);
/* Wait up to timeout_ms for one of `set`; the signal number or 0. */
int tg_cli_wait_signal(const sigset_t *set, int timeout_ms);
/* Tell systemd (Type=notify) our state, when NOTIFY_SOCKET is set. */
void tg_cli_sd_notify(const char *state);

#endif /* TG_CLI_SIGNALS_H */
