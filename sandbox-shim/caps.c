/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caps.c - leave the sandbox without any capability, for good.
 *
 * The program runs as uid 0 inside (no user namespace when the broker is
 * root), so the capability sets are all that separates it from real root:
 *   1. securebits NOROOT | NO_SETUID_FIXUP | KEEP_CAPS_LOCKED |
 *      NO_CAP_AMBIENT_RAISE, all locked: exec as uid 0 never grants
 *      capabilities again, and no process below can unlock that;
 *   2. every capability dropped from the bounding set: not even a file
 *      capability or setuid binary can bring one back;
 *   3. the ambient set cleared;
 *   4. effective, permitted and inheritable emptied.
 * Steps 1 and 2 need CAP_SETPCAP, so they come before 4.
 */
#include <errno.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "internal.h"

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}
#define _cleanup_cap_ _cleanup_(cap_freep)

#define TG_SECUREBITS                                                                            \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                         \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | \
	 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

int tg_caps_last_cap(void)
{
	_cleanup_free_ char *s = NULL;
	if (tg_read_file("/proc/sys/kernel/cap_last_cap", 64, &s, NULL) == 0) {
		int v = atoi(s);
		if (v > 0 && v < 64)
			return v;
	}
	/* libcap probes the bounding set when procfs is not there. */
	int v = (int)cap_max_bits() - 1;
	return v > 0 ? v : CAP_LAST_CAP;
}

int tg_caps_prepare(int last_cap, struct tg_caps_plan *ret, char ***prot)
{
	/* One cap_t per spawn: libcap may lock it while setting, and a child
	 * that dies mid-call must not leave a lock other spawns wait on. */
	_cleanup_cap_ cap_t empty = cap_init();
	if (!empty)
		return -ENOMEM;
	if (cap_clear(empty) < 0)
		return -errno;
	int r = tg_strv_push(prot, "caps:none");
	if (r == 0)
		r = tg_strv_push(prot, "securebits:locked");
	if (r < 0)
		return r;
	ret->empty = steal_pointer(&empty);
	ret->last_cap = last_cap;
	return 0;
}

void tg_caps_plan_free(struct tg_caps_plan *p)
{
	if (p->empty)
		cap_free(p->empty);
	p->empty = NULL;
}

TG_CHILD_FN int tg_caps_child_drop(const struct tg_caps_plan *p, struct tg_child_report *r)
{
	if (cap_set_secbits(TG_SECUREBITS) < 0) {
		tg_child_fail(r, "lock securebits", "", errno);
		return -1;
	}
	for (int c = 0; c <= p->last_cap; c++) {
		/* EINVAL: the kernel does not know this capability; nothing to drop. */
		if (cap_drop_bound((cap_value_t)c) < 0 && errno != EINVAL) {
			tg_child_fail(r, "drop bounding capability", "", errno);
			return -1;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		tg_child_fail(r, "clear ambient capabilities", "", errno);
		return -1;
	}
	if (cap_set_proc(p->empty) < 0) {
		tg_child_fail(r, "drop capabilities", "", errno);
		return -1;
	}
	return 0;
}
