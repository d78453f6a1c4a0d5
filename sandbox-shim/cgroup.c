/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup.c - memory, pids and cpu limits, usage and a kill switch per spawn,
 * on cgroup v2 where its controllers are available and v1 otherwise.
 *
 * Layout, in every hierarchy we use:
 *   <own cgroup>/toolgate/                      shared by all instances
 *   <own cgroup>/toolgate/<pid>.<start>.<name>/ one per tg_sandbox_open
 *   <own cgroup>/toolgate/<pid>.<start>.<name>/c<N>/  one per spawn
 * The owner's pid and start time are in the instance name, so a crashed
 * broker's leftovers are recognised (owner gone) and removed at the next open.
 *
 * Detection is per controller: v2 when the controller is listed in the
 * cgroup.controllers of the cgroup we create ours under, else v1 when a v1
 * hierarchy carries it, else absent. A spawn that asks for a limit whose
 * controller is absent fails (fail closed).
 *
 * v2's "no internal processes" rule: controllers can only be handed down
 * from a cgroup that holds no process (the root excepted). If the broker's
 * own cgroup still has the controllers off in cgroup.subtree_control and
 * the broker is the only process in it, the broker moves itself into a
 * "toolgate-broker" leaf next to "toolgate" and enables them; see
 * docs/sandbox.md for what the broker's cgroup must look like.
 *
 * Every path comes from mountinfo, so the code runs against a fake tree in a
 * temp dir (fake = true: knob files are created on write).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

static const char *const ctrl_name[TG_CG_NCTRL] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

#define BIT(c) (1u << (c))

/* ---------------------------------------------------------------------------
 * Small helpers.
 */

int tg_cg_knob_write(const struct tg_cgroups *cg, const char *dir, const char *knob,
                     const char *val)
{
	_cleanup_free_ char *path = tg_strdup_printf("%s/%s", dir, knob);
	if (!path)
		return -ENOMEM;
	int flags = O_WRONLY | O_CLOEXEC | (cg->fake ? O_CREAT | O_TRUNC : 0);
	_cleanup_close_ int fd = open(path, flags, 0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int knob_read(const char *dir, const char *knob, char **ret)
{
	_cleanup_free_ char *path = tg_strdup_printf("%s/%s", dir, knob);
	if (!path)
		return -ENOMEM;
	return tg_read_file(path, 1 << 20, ret, NULL);
}

/* "key value" lines (memory.events, cpu.stat, memory.oom_control). */
int tg_cg_knob_read_key(const char *dir, const char *knob, const char *key, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	int r = knob_read(dir, knob, &s);
	if (r < 0)
		return r;
	size_t kl = strlen(key);
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			*ret = strtoull(line + kl + 1, NULL, 10);
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int tg_cg_knob_read_u64(const char *dir, const char *knob, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	int r = knob_read(dir, knob, &s);
	if (r < 0)
		return r;
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	*ret = strtoull(s, NULL, 10);
	return 0;
}

/* Is word in a list separated by any of seps? */
static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, seps);
		if (n == wl && strncmp(p, word, wl) == 0)
			return true;
		p += n;
		p += strspn(p, seps);
	}
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

struct mnt {
	char root[4096];
	char point[4096];
	char fstype[64];
	char opts[512];
};

/* Find the first mount of fstype whose super options carry want (NULL: any). */
static bool find_mount(const char *mountinfo, const char *fstype, const char *want, struct mnt *ret)
{
	for (const char *line = mountinfo; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[8192];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			char *save = NULL, *f[6] = {0};
			char *tok = strtok_r(buf, " ", &save);
			for (int i = 0; i < 6 && tok; i++) {
				f[i] = tok;
				tok = strtok_r(NULL, " ", &save);
			}
			/* optional fields end at "-" */
			while (tok && strcmp(tok, "-") != 0)
				tok = strtok_r(NULL, " ", &save);
			char *type = tok ? strtok_r(NULL, " ", &save) : NULL;
			char *source = type ? strtok_r(NULL, " ", &save) : NULL;
			char *super = source ? strtok_r(NULL, " ", &save) : NULL;
			if (f[4] && type && super && strcmp(type, fstype) == 0 &&
			    (!want || has_word(super, want, ","))) {
				snprintf(ret->root, sizeof(ret->root), "%s", f[3]);
				snprintf(ret->point, sizeof(ret->point), "%s", f[4]);
				snprintf(ret->fstype, sizeof(ret->fstype), "%s", type);
				snprintf(ret->opts, sizeof(ret->opts), "%s", super);
				unescape_octal(ret->root);
				unescape_octal(ret->point);
				return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The path of our cgroup in the hierarchy with this id field ("0" with an
 * empty list for v2) or carrying this controller (v1). */
static bool find_self(const char *self_cgroup, const char *ctrl, char *ret, size_t size)
{
	for (const char *line = self_cgroup; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[4096];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			char *c1 = strchr(buf, ':');
			char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2) {
				*c2 = '\0';
				const char *ctrls = c1 + 1;
				bool match =
				        ctrl ? has_word(ctrls, ctrl, ",")
				             : (strncmp(buf, "0:", 2) == 0 && ctrls[0] == '\0');
				if (match) {
					snprintf(ret, size, "%s", c2 + 1);
					return true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Our path below the mount's root; NULL when our cgroup is not visible
 * through the mount (it belongs to another cgroup namespace). */
static const char *below_root(const struct mnt *m, const char *path)
{
	const char *rel = path;
	if (strcmp(m->root, "/") != 0) {
		size_t rl = strlen(m->root);
		if (strncmp(path, m->root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
			return NULL;
		rel = path + rl;
	}
	return strcmp(rel, "/") == 0 ? "" : rel;
}

/* Absolute directory of our cgroup: the mount point plus our path below
 * the mount's root (which must be visible). */
static char *self_dir(const struct mnt *m, const char *path)
{
	return tg_strdup_printf("%s%s", m->point, below_root(m, path));
}

static bool dir_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int add_hier(struct tg_cgroups *cg, enum tg_cg_version v, unsigned ctrls, char *self)
{
	struct tg_cg_hier *h = &cg->h[cg->n];
	h->parent = tg_strdup_printf("%s/toolgate", self);
	if (!h->parent) {
		free(self);
		return -ENOMEM;
	}
	h->version = v;
	h->ctrls = ctrls;
	h->self = self;
	for (int c = 0; c < TG_CG_NCTRL; c++)
		if (ctrls & BIT(c))
			cg->of[c] = (int)cg->n;
	cg->n++;
	return 0;
}

static void make_summary(struct tg_cgroups *cg)
{
	char *o = cg->summary;
	size_t left = sizeof(cg->summary);
	for (int v = TG_CG_V2; v >= TG_CG_V1; v--) {
		bool any = false;
		for (int c = 0; c < TG_CG_NCTRL; c++) {
			if (cg->of[c] < 0 || cg->h[cg->of[c]].version != (enum tg_cg_version)v)
				continue;
			int n = snprintf(o, left, "%s%s%s",
			                 any ? "," : (o != cg->summary ? " " : ""),
			                 any ? "" : (v == TG_CG_V2 ? "v2(" : "v1("), ctrl_name[c]);
			if (n < 0 || (size_t)n >= left)
				return;
			o += n, left -= (size_t)n;
			any = true;
		}
		if (any && left > 1) {
			*o++ = ')';
			*o = '\0';
			left--;
		}
	}
	if (o == cg->summary)
		snprintf(cg->summary, sizeof(cg->summary), "none");
}

/* ---------------------------------------------------------------------------
 * Detection.
 */

int tg_cg_detect(const char *mountinfo, const char *self_cgroup, bool fake, struct tg_cgroups *ret,
                 struct tg_error **err)
{
	struct tg_cgroups *cg = ret;
	cg->fake = fake;
	for (int c = 0; c < TG_CG_NCTRL; c++)
		cg->of[c] = -1;

	struct mnt m;
	char path[4096];
	unsigned v2 = 0;
	if (find_mount(mountinfo, "cgroup2", NULL, &m) &&
	    find_self(self_cgroup, NULL, path, sizeof(path)) && below_root(&m, path)) {
		_cleanup_free_ char *self = self_dir(&m, path);
		if (!self)
			return tg_error_set(err, -ENOMEM, "out of memory");
		/* After the broker moved itself into its leaf, its cgroups still
		 * hang off the cgroup it came from. */
		char *slash = strrchr(self, '/');
		if (slash && strcmp(slash + 1, TG_CG_V2_LEAF) == 0)
			*slash = '\0';
		_cleanup_free_ char *avail = NULL;
		if (dir_exists(self) && knob_read(self, "cgroup.controllers", &avail) == 0) {
			for (int c = TG_CG_MEMORY; c <= TG_CG_CPU; c++)
				if (has_word(avail, ctrl_name[c], " \n"))
					v2 |= BIT(c);
		}
		if (v2) {
			int r = add_hier(cg, TG_CG_V2, v2, steal_pointer(&self));
			if (r < 0)
				return tg_error_set(err, r, "out of memory");
		}
	}

	for (int c = 0; c < TG_CG_NCTRL; c++) {
		if (v2 & BIT(c))
			continue;
		/* On v2, cpu time and kill are core features of the v2 cgroup. */
		if (v2 && (c == TG_CG_CPUACCT || c == TG_CG_FREEZER))
			continue;
		if (!find_mount(mountinfo, "cgroup", ctrl_name[c], &m) ||
		    !find_self(self_cgroup, ctrl_name[c], path, sizeof(path)) ||
		    !below_root(&m, path))
			continue;
		_cleanup_free_ char *self = self_dir(&m, path);
		if (!self)
			return tg_error_set(err, -ENOMEM, "out of memory");
		if (!dir_exists(self))
			continue;
		/* Co-mounted controllers (cpu,cpuacct) share one hierarchy. */
		bool merged = false;
		for (size_t i = 0; i < cg->n; i++) {
			if (cg->h[i].version == TG_CG_V1 && strcmp(cg->h[i].self, self) == 0) {
				cg->h[i].ctrls |= BIT(c);
				cg->of[c] = (int)i;
				merged = true;
			}
		}
		if (!merged) {
			int r = add_hier(cg, TG_CG_V1, BIT(c), steal_pointer(&self));
			if (r < 0)
				return tg_error_set(err, r, "out of memory");
		}
	}
	make_summary(cg);
	return 0;
}

enum tg_cg_version tg_cg_version_of(const struct tg_cgroups *cg, enum tg_cg_ctrl c)
{
	return cg->of[c] < 0 ? TG_CG_ABSENT : cg->h[cg->of[c]].version;
}

/* ---------------------------------------------------------------------------
 * Removal (stale instances, our own instance, spawn cgroups).
 */

/* Kill every process listed in dir/cgroup.procs; returns how many. */
static int kill_listed(const char *dir)
{
	_cleanup_free_ char *s = NULL;
	if (knob_read(dir, "cgroup.procs", &s) < 0)
		return 0;
	int n = 0;
	for (char *p = s; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
			n++;
		p = end + strspn(end, "\n ");
	}
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* v1: stop the tree first, so nothing forks between listing and killing. */
static void freeze_kill_thaw(const struct tg_cgroups *cg, const char *dir)
{
	if (tg_cg_knob_write(cg, dir, "freezer.state", "FROZEN") == 0) {
		for (int i = 0; i < 100; i++) {
			_cleanup_free_ char *st = NULL;
			if (knob_read(dir, "freezer.state", &st) < 0 ||
			    strncmp(st, "FROZEN", 6) == 0)
				break;
			sleep_ms(1);
		}
	}
	kill_listed(dir);
	tg_cg_knob_write(cg, dir, "freezer.state", "THAWED");
}

void tg_cg_kill_dir(const struct tg_cgroups *cg, const struct tg_cg_hier *h, const char *dir)
{
	if (cg->fake)
		return;
	if (h->version == TG_CG_V2) {
		if (tg_cg_knob_write(cg, dir, "cgroup.kill", "1") == 0)
			return;
		/* Before Linux 5.14: freeze, kill, thaw. */
		tg_cg_knob_write(cg, dir, "cgroup.freeze", "1");
		kill_listed(dir);
		tg_cg_knob_write(cg, dir, "cgroup.freeze", "0");
		return;
	}
	if (h->ctrls & BIT(TG_CG_FREEZER))
		freeze_kill_thaw(cg, dir);
	else
		kill_listed(dir);
}

/* rmdir a cgroup, waiting while the kernel still holds it (a v1 memory
 * cgroup can stay busy for a moment after its last task is reaped). */
int tg_cg_remove_dir(const struct tg_cgroups *cg, const char *dir)
{
	if (cg->fake) {
		/* A fake cgroup holds plain knob files. */
		DIR *d = opendir(dir);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d)))
				if (de->d_type == DT_REG)
					unlinkat(dirfd(d), de->d_name, 0);
			closedir(d);
		}
	}
	for (int i = 0; i < 500; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		sleep_ms(1);
	}
	return -EBUSY;
}

/* Kill and remove an instance directory and the spawn cgroups below it. */
static int remove_instance(const struct tg_cgroups *cg, const struct tg_cg_hier *h,
                           const char *inst)
{
	DIR *d = opendir(inst);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *sub = tg_strdup_printf("%s/%s", inst, de->d_name);
			if (!sub)
				continue;
			tg_cg_kill_dir(cg, h, sub);
			tg_cg_remove_dir(cg, sub);
		}
		closedir(d);
	}
	return tg_cg_remove_dir(cg, inst);
}

static uint64_t proc_starttime(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_free_ char *s = NULL;
	if (tg_read_file(path, 4096, &s, NULL) < 0)
		return 0;
	/* comm may contain spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(s, ')');
	if (!p)
		return 0;
	/* field 3 (state) follows; starttime is field 22 */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static bool owner_alive(pid_t pid, uint64_t start)
{
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	/* The pid may have been reused by another process since. */
	uint64_t now = proc_starttime(pid);
	return now == 0 || now == start;
}

int tg_cg_remove_stale(struct tg_cgroups *cg)
{
	int removed = 0;
	for (size_t i = 0; i < cg->n; i++) {
		const struct tg_cg_hier *h = &cg->h[i];
		DIR *d = opendir(h->parent);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			long pid;
			unsigned long long start;
			if (sscanf(de->d_name, "%ld.%llu.", &pid, &start) != 2 || pid <= 0)
				continue;
			if (owner_alive((pid_t)pid, start))
				continue;
			_cleanup_free_ char *inst =
			        tg_strdup_printf("%s/%s", h->parent, de->d_name);
			if (inst && remove_instance(cg, h, inst) == 0)
				removed++;
		}
		closedir(d);
	}
	return removed;
}

/* ---------------------------------------------------------------------------
 * Instance.
 */

/* "+memory +pids +cpu" for the v2 controllers of h. */
static void v2_enable_string(const struct tg_cg_hier *h, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int c = TG_CG_MEMORY; c <= TG_CG_CPU; c++) {
		if (!(h->ctrls & BIT(c)))
			continue;
		size_t l = strlen(buf);
		snprintf(buf + l, size - l, "%s+%s", l ? " " : "", ctrl_name[c]);
	}
}

static bool only_us_in(const char *dir)
{
	_cleanup_free_ char *s = NULL;
	if (knob_read(dir, "cgroup.procs", &s) < 0)
		return false;
	for (char *p = s; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid != getpid())
			return false;
		p = end + strspn(end, "\n ");
	}
	return true;
}

/* Make sure the broker's own v2 cgroup hands our controllers down. */
static int v2_enable_in_self(struct tg_cgroups *cg, struct tg_cg_hier *h, struct tg_error **err)
{
	char want[64];
	v2_enable_string(h, want, sizeof(want));
	_cleanup_free_ char *on = NULL;
	if (knob_read(h->self, "cgroup.subtree_control", &on) == 0) {
		bool all = true;
		for (int c = TG_CG_MEMORY; c <= TG_CG_CPU; c++)
			if ((h->ctrls & BIT(c)) && !has_word(on, ctrl_name[c], " \n"))
				all = false;
		if (all)
			return 0;
	}
	int r = tg_cg_knob_write(cg, h->self, "cgroup.subtree_control", want);
	if (r != -EBUSY)
		return r < 0 ? tg_error_set(err, r, "%s/cgroup.subtree_control: enabling %s: %m",
		                            h->self, want)
		             : 0;
	/* The no-internal-processes rule: we sit in the cgroup whose
	 * controllers we need. Step into a leaf of our own, if we are alone. */
	if (!only_us_in(h->self))
		return tg_error_set(err, -EBUSY,
		                    "cgroup v2: %s holds other processes, so its controllers (%s) "
		                    "cannot be handed down; run the broker in a cgroup of its own "
		                    "(see docs/sandbox.md)",
		                    h->self, want);
	_cleanup_free_ char *leaf = tg_strdup_printf("%s/" TG_CG_V2_LEAF, h->self);
	if (!leaf)
		return tg_error_set(err, -ENOMEM, "out of memory");
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return tg_error_set(err, -errno, "mkdir %s: %m", leaf);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	r = tg_cg_knob_write(cg, leaf, "cgroup.procs", pid);
	if (r < 0)
		return tg_error_set(err, r, "moving the broker into %s: %m", leaf);
	r = tg_cg_knob_write(cg, h->self, "cgroup.subtree_control", want);
	if (r < 0)
		return tg_error_set(err, r, "%s/cgroup.subtree_control: enabling %s: %m", h->self,
		                    want);
	return 0;
}

static int open_one(struct tg_cgroups *cg, struct tg_cg_hier *h, const char *name, uint64_t start,
                    struct tg_error **err)
{
	char want[64];
	v2_enable_string(h, want, sizeof(want));
	if (h->version == TG_CG_V2) {
		int r = v2_enable_in_self(cg, h, err);
		if (r < 0)
			return r;
	}
	h->inst = tg_strdup_printf("%s/%d.%" PRIu64 ".%s", h->parent, (int)getpid(), start, name);
	if (!h->inst)
		return tg_error_set(err, -ENOMEM, "out of memory");
	/* Another broker may remove an empty toolgate parent between our two
	 * mkdirs: try again. */
	int r = -ENOENT;
	for (int attempt = 0; attempt < 5 && r == -ENOENT; attempt++) {
		if (mkdir(h->parent, 0755) < 0 && errno != EEXIST)
			return tg_error_set(err, -errno, "mkdir %s: %m", h->parent);
		if (h->version == TG_CG_V2) {
			r = tg_cg_knob_write(cg, h->parent, "cgroup.subtree_control", want);
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return tg_error_set(err, r, "%s/cgroup.subtree_control: %s: %m",
				                    h->parent, want);
		}
		r = mkdir(h->inst, 0755) < 0 ? -errno : 0;
	}
	if (r < 0) {
		int code = tg_error_set(err, r, "mkdir %s: %m", h->inst);
		free(h->inst);
		h->inst = NULL;
		return code;
	}
	if (h->version == TG_CG_V2) {
		r = tg_cg_knob_write(cg, h->inst, "cgroup.subtree_control", want);
		if (r < 0)
			return tg_error_set(err, r, "%s/cgroup.subtree_control: %s: %m", h->inst,
			                    want);
	}
	return 0;
}

int tg_cg_open_instance(struct tg_cgroups *cg, const char *name, struct tg_error **err)
{
	uint64_t start = cg->fake ? 0 : proc_starttime(getpid());
	for (size_t i = 0; i < cg->n; i++) {
		struct tg_cg_hier *h = &cg->h[i];
		struct tg_error *e = NULL;
		int r = open_one(cg, h, name, start, &e);
		if (r == 0)
			continue;
		/* Not ours to use (not root, not delegated to us): its controllers
		 * are absent, and a spawn asking for their limits is refused with
		 * this reason. */
		if (r == -EACCES || r == -EPERM || r == -EROFS) {
			for (int c = 0; c < TG_CG_NCTRL; c++) {
				if (cg->of[c] != (int)i)
					continue;
				cg->of[c] = -1;
				free(cg->why[c]);
				cg->why[c] = strdup(tg_error_msg(e));
			}
			free(h->inst);
			h->inst = NULL;
			tg_error_free(e);
			continue;
		}
		if (err && !*err)
			*err = e;
		else
			tg_error_free(e);
		return r;
	}
	make_summary(cg);
	return 0;
}

void tg_cg_close(struct tg_cgroups *cg)
{
	for (size_t i = 0; i < cg->n; i++) {
		struct tg_cg_hier *h = &cg->h[i];
		if (!h->inst)
			continue;
		remove_instance(cg, h, h->inst);
		free(h->inst);
		h->inst = NULL;
		/* Last one out removes the shared parent; EBUSY/ENOTEMPTY
		 * means another instance still lives there. */
		if (cg->fake) {
			DIR *d = opendir(h->parent);
			bool empty = true;
			if (d) {
				struct dirent *de;
				while ((de = readdir(d)))
					if (de->d_type == DT_DIR && de->d_name[0] != '.')
						empty = false;
				closedir(d);
			}
			if (empty)
				tg_cg_remove_dir(cg, h->parent);
		} else {
			rmdir(h->parent);
		}
	}
}

void tg_cg_free(struct tg_cgroups *cg)
{
	for (size_t i = 0; i < cg->n; i++) {
		free(cg->h[i].self);
		free(cg->h[i].parent);
		free(cg->h[i].inst);
	}
	for (int c = 0; c < TG_CG_NCTRL; c++)
		free(cg->why[c]);
	memset(cg, 0, sizeof(*cg));
}
