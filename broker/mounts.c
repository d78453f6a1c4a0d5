/* SPDX-License-Identifier: Apache-2.0 */
/* mounts.c - the mounts a policy section asks for, in the order the
 * sandbox makes them: the workspace on /workspace, then every filesystem
 * entry (a later one often masks an earlier one: a tmpfs over
 * /workspace/.secrets). The same for the agent jail and for every tool, so
 * a mask means the same in both. */
#include "internal.h"

size_t tg_broker_policy_mounts(const struct tg_broker *b, enum tg_ws_mode ws,
                               const struct tg_fs_entry *fs, size_t n_fs, struct tg_mount *out)
{
	size_t n = 0;
	if (ws != TG_WS_NONE && b->workspace)
		out[n++] = (struct tg_mount){
		        .type = TG_MOUNT_BIND,
		        .source = b->workspace,
		        .target = "/workspace",
		        .flags = ws == TG_WS_RO ? TG_MOUNT_RO : 0,
		};
	for (size_t i = 0; i < n_fs; i++) {
		const struct tg_fs_entry *e = &fs[i];
		out[n++] = (struct tg_mount){
		        .type = e->type == TG_FS_TMPFS ? TG_MOUNT_TMPFS : TG_MOUNT_BIND,
		        .source = e->source,
		        .target = e->target ? e->target : e->source,
		        .flags = e->readonly ? TG_MOUNT_RO : 0,
		        .size = e->size,
		};
	}
	return n;
}
