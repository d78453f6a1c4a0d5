/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.c - the sandbox's root filesystem.
 *
 * The root is a small tmpfs mounted on <runtime_dir>/root inside the child's
 * private mount namespace, filled, made read-only and entered with
 * pivot_root; the host's root is then detached. Layers (TG_ROOT_*):
 *   /usr   the host's /usr, read-only, nosuid, nodev, plus the host's
 *          merged-usr links (/bin -> usr/bin, /lib64 -> usr/lib64, ...):
 *          without /lib64 the ELF interpreter would be missing;
 *   /etc   generated passwd, group, hosts, nsswitch.conf and read-only
 *          binds of the few host files programs need (ld.so.cache, CA
 *          certificates, alternatives, localtime), never the whole /etc;
 *   /dev   null zero full random urandom tty (device nodes on the read-only
 *          root), fd/stdin/stdout/stderr links, a small /dev/shm tmpfs;
 *   /proc  of the sandbox's pid namespace, read-only as a whole (sysctls,
 *          sysrq-trigger, /proc/self/mem writes), with kcore, keys,
 *          timer_list, sched_debug, ... masked as Docker masks them;
 *   /tmp   a tmpfs.
 * Then the spec's mounts in order. Binds are always nosuid and nodev, and
 * read-only when asked; mount points whose parents do not exist are created
 * on the tmpfs parts of the tree (never inside a bind: that would write to
 * the host).
 *
 * This file is the parent side: it reads the host's layout once and turns
 * each spec into a flat list of operations with every path precomputed,
 * marking those of the spec-independent base (which the pool may have
 * built ahead). mount_child.c replays the list in the child, resolving
 * every path with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH, so a symlink
 * planted in a writable bind (the workspace) cannot redirect a later mount
 * or mkdir out of the tree or onto the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

/* ---------------------------------------------------------------------------
 * The host's layout, read once per sandbox context.
 */

static const char *const usr_links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
/* What programs need from /etc: the loader's cache, the time zone, the
 * alternatives links (/usr/bin/awk -> /etc/alternatives/awk), CA
 * certificates (Debian and Red Hat layouts). Each costs a bind per spawn. */
static const char *const etc_files[] = {
        "ld.so.cache", "localtime",     "alternatives",
        "ssl/certs",   "pki/tls/certs", "pki/ca-trust/extracted",
};
/* Docker's masked paths that exist under /proc, and the keyring's
 * key-users. Everything else is read-only through the /proc mount. */
static const char *const proc_masks[] = {
        "proc/asound",      "proc/acpi",        "proc/interrupts",    "proc/kcore",
        "proc/keys",        "proc/key-users",   "proc/latency_stats", "proc/timer_list",
        "proc/timer_stats", "proc/sched_debug", "proc/scsi",
};

static int scan(const char *const *names, size_t n, struct tg_host_entry *out, size_t cap,
                size_t *ret_n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < cap; i++) {
		char path[256];
		snprintf(path, sizeof(path), "/%s", names[i]);
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		struct tg_host_entry e = {.name = names[i]};
		if (S_ISLNK(st.st_mode)) {
			char buf[4096];
			ssize_t l = readlink(path, buf, sizeof(buf) - 1);
			if (l <= 0)
				continue;
			buf[l] = '\0';
			e.link = strdup(buf);
			if (!e.link)
				return -ENOMEM;
		} else if (S_ISDIR(st.st_mode)) {
			e.dir = true;
		} else if (!S_ISREG(st.st_mode)) {
			continue;
		}
		out[k++] = e;
	}
	*ret_n = k;
	return 0;
}

int tg_mount_scan_host(struct tg_host_layout *ret)
{
	struct tg_host_layout h = {0};
	int r = scan(usr_links, TG_ARRAY_SIZE(usr_links), h.usr, TG_ARRAY_SIZE(h.usr), &h.n_usr);
	if (r == 0) {
		const char *etc[TG_ARRAY_SIZE(etc_files)];
		char bufs[TG_ARRAY_SIZE(etc_files)][64];
		for (size_t i = 0; i < TG_ARRAY_SIZE(etc_files); i++) {
			snprintf(bufs[i], sizeof(bufs[i]), "etc/%s", etc_files[i]);
			etc[i] = bufs[i];
		}
		r = scan(etc, TG_ARRAY_SIZE(etc), h.etc, TG_ARRAY_SIZE(h.etc), &h.n_etc);
		/* scan() keeps the name pointers: point them at static storage. */
		for (size_t i = 0; i < h.n_etc; i++)
			for (size_t j = 0; j < TG_ARRAY_SIZE(etc_files); j++)
				if (strcmp(h.etc[i].name + 4, etc_files[j]) == 0)
					h.etc[i].name = etc_files[j];
	}
	if (r == 0)
		r = scan(proc_masks, TG_ARRAY_SIZE(proc_masks), h.proc_mask,
		         TG_ARRAY_SIZE(h.proc_mask), &h.n_proc_mask);
	if (r < 0) {
		tg_mount_host_free(&h);
		return r;
	}
	*ret = h;
	return 0;
}

void tg_mount_host_free(struct tg_host_layout *h)
{
	for (size_t i = 0; i < h->n_usr; i++)
		free(h->usr[i].link);
	for (size_t i = 0; i < h->n_etc; i++)
		free(h->etc[i].link);
	for (size_t i = 0; i < h->n_proc_mask; i++)
		free(h->proc_mask[i].link);
	memset(h, 0, sizeof(*h));
}

/* ---------------------------------------------------------------------------
 * Plan (parent side).
 */

enum node_kind { NODE_DIR, NODE_FILE, NODE_LINK, NODE_TMPFS, NODE_BIND, NODE_OTHERFS };

struct tg_plan_node {
	char *rel;
	enum node_kind kind;
	const char *link; /* NODE_LINK: the link text */
};

static const char *keep(struct tg_mount_plan *p, char *s)
{
	if (!s || tg_strv_push_take(&p->strings, s) < 0)
		return NULL;
	return s;
}

static int add_op(struct tg_mount_plan *p, struct tg_mop op)
{
	op.base = p->in_base;
	if (p->n_ops == p->cap_ops) {
		size_t cap = p->cap_ops ? p->cap_ops * 2 : 64;
		struct tg_mop *n = realloc(p->ops, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->ops = n;
		p->cap_ops = cap;
	}
	p->ops[p->n_ops++] = op;
	return 0;
}

static int add_node(struct tg_mount_plan *p, const char *rel, enum node_kind kind, const char *link)
{
	if (p->n_nodes == p->cap_nodes) {
		size_t cap = p->cap_nodes ? p->cap_nodes * 2 : 64;
		struct tg_plan_node *n = realloc(p->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->nodes = n;
		p->cap_nodes = cap;
	}
	char *r = strdup(rel);
	if (!r)
		return -ENOMEM;
	p->nodes[p->n_nodes++] = (struct tg_plan_node){.rel = r, .kind = kind, .link = link};
	return 0;
}

static struct tg_plan_node *find_node(struct tg_mount_plan *p, const char *rel)
{
	/* The last entry wins: a later mount covers an earlier node. */
	for (size_t i = p->n_nodes; i-- > 0;)
		if (strcmp(p->nodes[i].rel, rel) == 0)
			return &p->nodes[i];
	return NULL;
}

/* Is rel backed by one of our tmpfs (where we may create entries)? Looks
 * for the deepest mount at or above rel; none means the root tmpfs. */
static bool creatable(struct tg_mount_plan *p, const char *rel)
{
	size_t best = 0;
	enum node_kind kind = NODE_TMPFS;
	for (size_t i = 0; i < p->n_nodes; i++) {
		const struct tg_plan_node *n = &p->nodes[i];
		if (n->kind != NODE_TMPFS && n->kind != NODE_BIND && n->kind != NODE_OTHERFS)
			continue;
		size_t l = strlen(n->rel);
		if (strncmp(rel, n->rel, l) == 0 && (rel[l] == '\0' || rel[l] == '/') &&
		    l >= best) {
			best = l;
			kind = n->kind;
		}
	}
	return kind == NODE_TMPFS;
}

/* Is any mount on the way to rel a bind (a tree someone else may write)? */
static bool under_bind(struct tg_mount_plan *p, const char *rel)
{
	for (size_t i = 0; i < p->n_nodes; i++) {
		const struct tg_plan_node *n = &p->nodes[i];
		size_t l = strlen(n->rel);
		if (n->kind == NODE_BIND && strncmp(rel, n->rel, l) == 0 &&
		    (rel[l] == '/' || rel[l] == '\0'))
			return true;
	}
	return false;
}

/* The directory part of a root-relative path ("" for a top-level name). */
static void parent_of(const char *rel, char *out, size_t size)
{
	snprintf(out, size, "%s", rel);
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
	else
		out[0] = '\0';
}

static int ensure_dir(struct tg_mount_plan *p, const char *rel);

/* A mount point (directory or file) at rel, its parents first; nothing
 * inside a bind (it must already exist on the host). */
static int add_point(struct tg_mount_plan *p, const char *rel, enum tg_mop_kind kind)
{
	char parent[4096];
	parent_of(rel, parent, sizeof(parent));
	int r = ensure_dir(p, parent);
	if (r < 0)
		return r;
	if (!creatable(p, parent))
		return 0;
	const char *dst = keep(p, strdup(rel));
	if (!dst)
		return -ENOMEM;
	bool dir = kind == TG_MOP_MKDIR;
	r = add_op(p, (struct tg_mop){.kind = kind,
	                              .dst = dst,
	                              .mode = dir ? 0755 : 0644,
	                              .ours = !under_bind(p, rel)});
	return r < 0 ? r : add_node(p, rel, dir ? NODE_DIR : NODE_FILE, NULL);
}

static int ensure_dir(struct tg_mount_plan *p, const char *rel)
{
	if (rel[0] == '\0')
		return 0;
	struct tg_plan_node *n = find_node(p, rel);
	if (n)
		return n->kind == NODE_FILE || n->kind == NODE_LINK ? -ENOTDIR : 0;
	return add_point(p, rel, TG_MOP_MKDIR);
}

static int ensure_file(struct tg_mount_plan *p, const char *rel)
{
	return find_node(p, rel) ? 0 : add_point(p, rel, TG_MOP_MKFILE);
}

/* A normalized absolute path ("/a/b", no ".", "..", "//" or trailing "/"). */
static bool normalized_abs(const char *path)
{
	if (path[0] != '/' || path[1] == '\0')
		return false;
	for (const char *s = path; *s;) {
		s++; /* past '/' */
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
	}
	return strlen(path) < 1024;
}

/* The target relative to the root, with our own symlinks (bin -> usr/bin)
 * resolved: the child never follows a symlink. */
static char *canonical_rel(struct tg_mount_plan *p, const char *target)
{
	char *rel = strdup(target + 1);
	for (int depth = 0; rel && depth < 8; depth++) {
		bool changed = false;
		for (char *s = rel; !changed;) {
			char *slash = strchr(s, '/');
			size_t l = slash ? (size_t)(slash - rel) : strlen(rel);
			char prefix[1024];
			snprintf(prefix, sizeof(prefix), "%.*s", (int)l, rel);
			struct tg_plan_node *n = find_node(p, prefix);
			if (n && n->kind == NODE_LINK && n->link[0] != '/') {
				/* Relative link: resolve against its directory. */
				char *dir_end = strrchr(prefix, '/');
				int dl = dir_end ? (int)(dir_end - prefix) + 1 : 0;
				char *nr =
				        tg_strdup_printf("%.*s%s%s", dl, prefix, n->link, rel + l);
				free(rel);
				rel = nr;
				changed = true;
			}
			if (!slash || changed)
				break;
			s = slash + 1;
		}
		if (!changed)
			break;
	}
	return rel;
}

static bool spec_targets(const struct tg_spawn_spec *spec, const char *target)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].target && strcmp(spec->mounts[i].target, target) == 0)
			return true;
	return false;
}

#define BIND_ATTR (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

static int add_bind(struct tg_mount_plan *p, const char *src, const char *rel, bool is_dir,
                    unsigned long attr, bool optional)
{
	int r = is_dir ? ensure_dir(p, rel) : ensure_file(p, rel);
	if (r < 0)
		return r;
	const char *s = keep(p, strdup(src)), *d = keep(p, strdup(rel));
	if (!s || !d)
		return -ENOMEM;
	r = add_op(p, (struct tg_mop){.kind = TG_MOP_BIND,
	                              .src = s,
	                              .dst = d,
	                              .flags = attr,
	                              .optional = optional});
	return r < 0 ? r : add_node(p, rel, NODE_BIND, NULL);
}

static int add_fs(struct tg_mount_plan *p, const char *fstype, const char *rel, unsigned long flags,
                  const char *data, enum node_kind kind)
{
	int r = ensure_dir(p, rel);
	if (r < 0)
		return r;
	const char *d = keep(p, strdup(rel)), *dt = data ? keep(p, strdup(data)) : NULL;
	if (!d || (data && !dt))
		return -ENOMEM;
	r = add_op(p, (struct tg_mop){.kind = TG_MOP_FS,
	                              .src = fstype,
	                              .fstype = fstype,
	                              .dst = d,
	                              .flags = flags,
	                              .data = dt});
	return r < 0 ? r : add_node(p, rel, kind, NULL);
}

static int add_symlink(struct tg_mount_plan *p, const char *rel, const char *text)
{
	if (find_node(p, rel))
		return 0;
	char parent[4096];
	parent_of(rel, parent, sizeof(parent));
	int r = ensure_dir(p, parent); /* "" (top level) is the root: nothing to do */
	if (r < 0)
		return r;
	const char *d = keep(p, strdup(rel)), *t = keep(p, strdup(text));
	if (!d || !t)
		return -ENOMEM;
	r = add_op(p, (struct tg_mop){.kind = TG_MOP_SYMLINK,
	                              .src = t,
	                              .dst = d,
	                              .ours = !under_bind(p, rel)});
	return r < 0 ? r : add_node(p, rel, NODE_LINK, t);
}

static int add_write(struct tg_mount_plan *p, const char *rel, char *content)
{
	const char *c = keep(p, content), *d = keep(p, strdup(rel));
	if (!c || !d)
		return -ENOMEM;
	int r = add_op(p, (struct tg_mop){.kind = TG_MOP_WRITE,
	                                  .src = c,
	                                  .dst = d,
	                                  .len = strlen(c),
	                                  .mode = 0644,
	                                  .ours = !under_bind(p, rel)});
	return r < 0 ? r : add_node(p, rel, NODE_FILE, NULL);
}

static int layer_usr(struct tg_mount_plan *p, const struct tg_sandbox *sb,
                     const struct tg_spawn_spec *spec)
{
	bool root_usr = (spec->root & TG_ROOT_USR) && !spec_targets(spec, "/usr");
	if (root_usr) {
		int r = add_bind(p, "/usr", "usr", true, BIND_ATTR | MOUNT_ATTR_RDONLY, false);
		if (r < 0)
			return r;
	}
	if (!(spec->root & TG_ROOT_USR) && !spec_targets(spec, "/usr"))
		return 0;
	/* /usr is in the root: mirror the host's merged-usr links. */
	for (size_t i = 0; i < sb->host.n_usr; i++) {
		const struct tg_host_entry *e = &sb->host.usr[i];
		char target[64];
		snprintf(target, sizeof(target), "/%s", e->name);
		if (spec_targets(spec, target))
			continue;
		int r = 0;
		if (e->link)
			r = add_symlink(p, e->name, e->link);
		else if (root_usr && e->dir) /* a host without merged /usr */
			r = add_bind(p, target, e->name, true, BIND_ATTR | MOUNT_ATTR_RDONLY, true);
		if (r < 0)
			return r;
	}
	return 0;
}

static int layer_etc(struct tg_mount_plan *p, const struct tg_sandbox *sb,
                     const struct tg_spawn_spec *spec)
{
	if (!(spec->root & TG_ROOT_ETC) || spec_targets(spec, "/etc"))
		return 0;
	int r = ensure_dir(p, "etc");
	if (r == 0)
		r = add_write(
		        p, "etc/passwd",
		        strdup("root:x:0:0:root:/root:/bin/sh\n"
		               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"));
	if (r == 0)
		r = add_write(p, "etc/group", strdup("root:x:0:\nnogroup:x:65534:\n"));
	if (r == 0)
		r = add_write(p, "etc/nsswitch.conf",
		              strdup("passwd: files\ngroup: files\nshadow: files\n"
		                     "hosts: files dns\nnetworks: files\nprotocols: files\n"
		                     "services: files\n"));
	for (size_t i = 0; r == 0 && i < sb->host.n_etc; i++) {
		const struct tg_host_entry *e = &sb->host.etc[i];
		char rel[128], src[128];
		snprintf(rel, sizeof(rel), "etc/%s", e->name);
		snprintf(src, sizeof(src), "/etc/%s", e->name);
		if (e->link)
			r = add_symlink(p, rel, e->link);
		else
			r = add_bind(p, src, rel, e->dir, BIND_ATTR | MOUNT_ATTR_RDONLY, true);
	}
	return r;
}

/* The part of /etc that depends on the spawn: its hostname, pinned names. */
static int layer_etc_hosts(struct tg_mount_plan *p, const struct tg_spawn_spec *spec)
{
	if (!(spec->root & TG_ROOT_ETC) || spec_targets(spec, "/etc"))
		return 0;
	const char *host = spec->hostname ? spec->hostname : "toolgate";
	return add_write(p, "etc/hosts",
	                 tg_strdup_printf("127.0.0.1\tlocalhost\n"
	                                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
	                                  "127.0.1.1\t%s\n%s",
	                                  host, spec->etc_hosts ? spec->etc_hosts : ""));
}

static int layer_dev(struct tg_mount_plan *p, const struct tg_sandbox *sb,
                     const struct tg_spawn_spec *spec)
{
	if (!(spec->root & TG_ROOT_DEV) || spec_targets(spec, "/dev"))
		return 0;
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {{"dev/null", 1, 3},   {"dev/zero", 1, 5},    {"dev/full", 1, 7},
	             {"dev/random", 1, 8}, {"dev/urandom", 1, 9}, {"dev/tty", 5, 0}};
	static const char *const links[][2] = {{"dev/fd", "/proc/self/fd"},
	                                       {"dev/stdin", "/proc/self/fd/0"},
	                                       {"dev/stdout", "/proc/self/fd/1"},
	                                       {"dev/stderr", "/proc/self/fd/2"}};
	int r = ensure_dir(p, "dev");
	for (size_t i = 0; r == 0 && sb->userns && i < TG_ARRAY_SIZE(nodes); i++) {
		/* Rootless: no mknod in a user namespace; bind the host's nodes
		 * (read-only mounts of device files, writable devices). */
		char src[32];
		snprintf(src, sizeof(src), "/%s", nodes[i].name);
		r = add_bind(p, src, nodes[i].name, false,
		             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
	}
	/* Device nodes live on the root tmpfs, which ends read-only; the
	 * program has no CAP_MKNOD to add any. */
	for (size_t i = 0; r == 0 && !sb->userns && i < TG_ARRAY_SIZE(nodes); i++) {
		r = add_op(p, (struct tg_mop){.kind = TG_MOP_MKNOD,
		                              .dst = nodes[i].name,
		                              .mode = S_IFCHR | 0666,
		                              .dev = makedev(nodes[i].maj, nodes[i].min),
		                              .ours = true});
		if (r == 0)
			r = add_node(p, nodes[i].name, NODE_FILE, NULL);
	}
	for (size_t i = 0; r == 0 && i < TG_ARRAY_SIZE(links); i++)
		r = add_symlink(p, links[i][0], links[i][1]);
	if (r == 0 && !spec_targets(spec, "/dev/shm"))
		r = add_fs(p, "tmpfs", "dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		           "mode=1777,size=16m", NODE_TMPFS);
	return r;
}

static int layer_proc(struct tg_mount_plan *p, const struct tg_sandbox *sb,
                      const struct tg_spawn_spec *spec)
{
	if (!(spec->root & TG_ROOT_PROC) || spec_targets(spec, "/proc"))
		return 0;
	/* Read-only as a whole: no sysctl, sysrq-trigger, /proc/self/mem or
	 * /proc/irq write, whatever uid 0 without capabilities could do. */
	int r = add_fs(p, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL,
	               NODE_OTHERFS);
	for (size_t i = 0; r == 0 && i < sb->host.n_proc_mask; i++) {
		const struct tg_host_entry *e = &sb->host.proc_mask[i];
		/* Information about the host (keys, timers, interrupts, all
		 * tasks in sched_debug) that no pid namespace hides. */
		if (e->dir) {
			r = add_fs(p, "tmpfs", e->name,
			           MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			           "mode=0555,size=4k", NODE_OTHERFS);
		} else {
			const char *d = e->name;
			r = add_op(p,
			           (struct tg_mop){.kind = TG_MOP_BIND,
			                           .src = "/dev/null",
			                           .dst = d,
			                           .flags = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			                                    MOUNT_ATTR_NOEXEC,
			                           .optional = true});
		}
	}
	return r;
}

static int layer_tmp(struct tg_mount_plan *p, const struct tg_spawn_spec *spec)
{
	if (!(spec->root & TG_ROOT_TMP) || spec_targets(spec, "/tmp"))
		return 0;
	return add_fs(p, "tmpfs", "tmp", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m",
	              NODE_TMPFS);
}

/* A bind of the object open at m->source_fd. The child opens it again by
 * path (a descriptor of the broker's mount namespace cannot be cloned from
 * the child's new one) and compares device and inode, so a rename between
 * now and then ends in ESTALE instead of binding whatever the path leads
 * to by then. */
static int pinned_bind(struct tg_mount_plan *p, const struct tg_mount *m, const char *rel,
                       struct tg_error **err)
{
	struct stat st;
	if (m->source_fd < 0 || fstat(m->source_fd, &st) < 0)
		return tg_error_set(err, m->source_fd < 0 ? -EBADF : -errno,
		                    "mount on %s: source descriptor: %m", m->target);
	char proc[64], path[4096];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->source_fd);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	if (n < 0)
		return tg_error_set(err, -errno, "mount on %s: source descriptor: %m", m->target);
	path[n] = '\0';
	/* Unlinked or renamed over since it was opened ("/x (deleted)" names
	 * whatever is there now, if anything), or not reachable by a path of
	 * ours at all: the object cannot be bound as itself any more. */
	struct stat now;
	if (path[0] != '/' || (size_t)n >= sizeof(path) - 1 || stat(path, &now) < 0 ||
	    now.st_dev != st.st_dev || now.st_ino != st.st_ino)
		return tg_error_set(err, -ESTALE,
		                    "bind %s on %s: no longer reachable as the object that was "
		                    "opened",
		                    path, m->target);
	unsigned long attr = BIND_ATTR | (m->flags & TG_MOUNT_RO ? MOUNT_ATTR_RDONLY : 0);
	int r = add_bind(p, path, rel, S_ISDIR(st.st_mode), attr, false);
	if (r < 0)
		return tg_error_set(err, r, "bind %s on %s: %m", path, m->target);
	/* add_bind's op is the last one. */
	struct tg_mop *op = &p->ops[p->n_ops - 1];
	op->same = true;
	op->dev = st.st_dev;
	op->ino = st.st_ino;
	return 0;
}

static int spec_mount(struct tg_mount_plan *p, const struct tg_mount *m, char ***deferred,
                      struct tg_error **err)
{
	if (!m->target || !normalized_abs(m->target))
		return tg_error_set(err, -EINVAL,
		                    "mount target \"%s\": not a normalized absolute path",
		                    m->target ? m->target : "(null)");
	_cleanup_free_ char *rel = canonical_rel(p, m->target);
	if (!rel)
		return tg_error_set(err, -ENOMEM, "out of memory");
	int r;
	if (m->type == TG_MOUNT_TMPFS) {
		char data[64];
		snprintf(data, sizeof(data), "mode=0755,size=%llu",
		         (unsigned long long)(m->size ? m->size : 64ull << 20));
		unsigned long flags =
		        MS_NOSUID | MS_NODEV | (m->flags & TG_MOUNT_EXEC ? 0 : MS_NOEXEC);
		r = add_fs(p, "tmpfs", rel, flags, data, NODE_TMPFS);
		/* Read-only only once whatever is mounted inside it has its
		 * mount point. */
		if (r == 0 && (m->flags & TG_MOUNT_RO))
			r = tg_strv_push(deferred, rel);
		if (r < 0)
			return tg_error_set(err, r, "tmpfs on %s: %m", m->target);
		return 0;
	}
	if (m->type == TG_MOUNT_BIND_FD)
		return pinned_bind(p, m, rel, err);
	if (m->type != TG_MOUNT_BIND || !m->source || m->source[0] != '/')
		return tg_error_set(err, -EINVAL, "mount on %s: a bind needs an absolute source",
		                    m->target);
	struct stat st;
	if (stat(m->source, &st) < 0) {
		if (errno == ENOENT && (m->flags & TG_MOUNT_OPTIONAL))
			return 0;
		return tg_error_set(err, -errno, "mount source %s: %m", m->source);
	}
	unsigned long attr = BIND_ATTR | (m->flags & TG_MOUNT_RO ? MOUNT_ATTR_RDONLY : 0);
	r = add_bind(p, m->source, rel, S_ISDIR(st.st_mode), attr,
	             (m->flags & TG_MOUNT_OPTIONAL) != 0);
	if (r < 0)
		return tg_error_set(err, r, "bind %s on %s: %m", m->source, m->target);
	return 0;
}

int tg_mount_plan_build(const struct tg_sandbox *sb, const struct tg_spawn_spec *spec,
                        struct tg_mount_plan *ret, char ***prot, struct tg_error **err)
{
	struct tg_mount_plan p = {.staging = sb->staging, .in_base = true};
	_cleanup_strv_free_ char **deferred = NULL;
	/* The base: what every default spawn's root has, whatever the spec
	 * (the pool builds it ahead). */
	int r = layer_usr(&p, sb, spec);
	if (r == 0)
		r = layer_etc(&p, sb, spec);
	if (r == 0)
		r = layer_dev(&p, sb, spec);
	if (r == 0)
		r = layer_tmp(&p, spec);
	if (r == 0 && (spec->root & TG_ROOT_PROC) && !spec_targets(spec, "/proc"))
		r = ensure_dir(&p, "proc");
	/* The rest depends on the spawn: its pid namespace, its names, its
	 * mounts; then the root goes read-only. */
	p.in_base = false;
	if (r == 0)
		r = layer_etc_hosts(&p, spec);
	if (r == 0)
		r = layer_proc(&p, sb, spec);
	if (r < 0) {
		tg_mount_plan_free(&p);
		return tg_error_set(err, r, "root layers: %m");
	}
	for (size_t i = 0; i < spec->n_mounts; i++) {
		r = spec_mount(&p, &spec->mounts[i], &deferred, err);
		if (r < 0) {
			tg_mount_plan_free(&p);
			return r;
		}
	}
	for (size_t i = 0; deferred && deferred[i] && r == 0; i++) {
		const char *d = keep(&p, strdup(deferred[i]));
		r = d ? add_op(&p, (struct tg_mop){.kind = TG_MOP_ATTR,
		                                   .dst = d,
		                                   .flags = MOUNT_ATTR_RDONLY})
		      : -ENOMEM;
	}
	/* Last: the root itself, so the program cannot add to it. */
	if (r == 0)
		r = add_op(&p, (struct tg_mop){
		                       .kind = TG_MOP_ATTR, .dst = "", .flags = MOUNT_ATTR_RDONLY});
	static const char *const notes[] = {"pivot_root", "root:ro", "binds:nosuid,nodev"};
	for (size_t i = 0; prot && r == 0 && i < TG_ARRAY_SIZE(notes); i++)
		r = tg_strv_push(prot, notes[i]);
	if (prot && r == 0 && (spec->root & TG_ROOT_PROC))
		r = tg_strv_push(prot, "proc:ro,masked");
	if (prot && r == 0 && (spec->root & TG_ROOT_DEV))
		r = tg_strv_push(prot, "dev:minimal");
	if (prot && r == 0 && (spec->root & TG_ROOT_ETC))
		r = tg_strv_push(prot, "etc:generated");
	if (r < 0) {
		tg_mount_plan_free(&p);
		return tg_error_set(err, r, "mount plan: %m");
	}
	p.base_default = spec->root == TG_ROOT_DEFAULT;
	static const char *const layer_targets[] = {"/usr",  "/etc",   "/dev",   "/dev/shm",
	                                            "/proc", "/tmp",   "/bin",   "/sbin",
	                                            "/lib",  "/lib32", "/lib64", "/libx32"};
	for (size_t i = 0; i < TG_ARRAY_SIZE(layer_targets); i++)
		if (spec_targets(spec, layer_targets[i]))
			p.base_default = false;
	/* Bookkeeping is not needed by the child. */
	for (size_t i = 0; i < p.n_nodes; i++)
		free(p.nodes[i].rel);
	free(p.nodes);
	p.nodes = NULL;
	p.n_nodes = p.cap_nodes = 0;
	*ret = p;
	return 0;
}

void tg_mount_plan_free(struct tg_mount_plan *p)
{
	for (size_t i = 0; i < p->n_nodes; i++)
		free(p->nodes[i].rel);
	free(p->nodes);
	free(p->ops);
	tg_strv_free(p->strings);
	memset(p, 0, sizeof(*p));
}
