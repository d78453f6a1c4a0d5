/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prepared.h (private to the broker) - sandboxes prepared ahead of calls.
 *
 * Building a sandbox (namespaces, root, cgroup, limits, Landlock, caps,
 * seccomp, init) is most of a call's cost. For a tool that was called
 * recently, a background thread keeps one sandbox of that tool fully built
 * and waiting (a deferred spawn, sandbox.h): the next call of the tool only
 * hands it argv and envp and goes. Every layer is the same as a sandbox
 * built on the call's path would have; only the order in time changes.
 *
 * A prepared sandbox is specific to one tool of one policy load: it is
 * keyed by (policy set, tool index), and holds a reference on the set, so a
 * reloaded policy never runs in a sandbox built for the old one (reload
 * flushes them). Calls whose sandbox depends on the call itself (path
 * parameters bind the checked objects; egress needs the call's own network
 * and rules) are not prepared: the caller spawns them as before.
 *
 * At most `max_tools` tools have a prepared sandbox, the least recently
 * called goes first; one unused for `idle_ms` is discarded. A build that
 * fails is retried after a while, and the call path never waits for one.
 */
#ifndef TG_BROKER_PREPARED_H
#define TG_BROKER_PREPARED_H

#include <stdbool.h>

#include "sandbox.h"

struct tg_prepared;
struct tg_policy_set;

/* max_tools 0: disabled (tg_prepared_take never hits). */
int tg_prepared_new(struct tg_sandbox *sb, unsigned max_tools, unsigned idle_ms,
                    struct tg_prepared **ret, struct tg_error **err);
/* Stop the thread and discard every prepared sandbox. Accepts NULL. */
void tg_prepared_free(struct tg_prepared *p);

/* A prepared sandbox, taken: start it with tg_child_start (or free it). */
struct tg_prepared_child {
	struct tg_child *child;
	int out_fd, err_fd; /* read ends (non-blocking) of its stdout and stderr pipes */
};

/*
 * The call for tool `tool` of `set` would spawn `spec` (its argv is
 * ignored; stdio is made by the builder). Take the prepared sandbox of that
 * tool if one is ready (true, *ret filled), and ask for the next one to be
 * built either way. `spec` is copied for later builds; what it points to
 * must live as long as `set` (the policy) or the broker.
 */
bool tg_prepared_take(struct tg_prepared *p, struct tg_policy_set *set, long tool,
                      const struct tg_spawn_spec *spec, struct tg_prepared_child *ret);

/* A policy set is in force (at start and after each reload): discard
 * everything prepared for others; only calls under `current` are prepared
 * from now on. */
void tg_prepared_flush(struct tg_prepared *p, const struct tg_policy_set *current);

#endif /* TG_BROKER_PREPARED_H */
