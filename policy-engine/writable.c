/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writable.c - host directories the agent can write, and the host paths
 * that must not lie below them.
 *
 * The broker opens some host paths by name when a call runs: the
 * workspace, the sources of filesystem entries, the roots of path
 * parameters. A name below a directory the agent can write is the agent's
 * to change: `rm -r ws/venv; ln -s / ws/venv` between two calls, and a
 * tool whose policy mounts ./ws/venv would get the host's root. So such a
 * name is refused at load, with where it lies and why.
 *
 * What the agent can write: the workspace (itself, or through a tool with
 * `workspace: rw`), and the source of every writable bind, of the agent or
 * of any tool (a tool the agent calls writes where the agent asks). A path
 * equal to such a directory is fine: replacing the directory itself needs
 * its parent. Containment is checked on the names as written and on the
 * names with the host's symlinks resolved, and refused if either says so.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* path strictly below dir (both absolute, normalized). */
static bool strictly_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Append name to the canonical path out (of length *len), lexically. */
static int push(char *out, size_t *len, const char *name, size_t nl)
{
	if (nl == 0 || (nl == 1 && name[0] == '.'))
		return 0;
	if (nl == 2 && name[0] == '.' && name[1] == '.') {
		while (*len > 1 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 1)
			(*len)--;
		out[*len] = '\0';
		return 0;
	}
	if (*len + 1 + nl >= PATH_MAX)
		return -ENAMETOOLONG;
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, name, nl);
	*len += nl;
	out[*len] = '\0';
	return 0;
}

/*
 * The canonical form of an absolute path as the kernel would walk it now,
 * like `realpath -m`: symlinks followed (dangling ones by their text too),
 * missing components appended as written. 0, or -errno for anything that
 * stops the walk but a missing name (EACCES, ELOOP, ...).
 */
static int canonical(const char *path, char out[PATH_MAX])
{
	char todo[PATH_MAX * 2];
	if (snprintf(todo, sizeof(todo), "%s", path) >= (int)sizeof(todo))
		return -ENAMETOOLONG;
	size_t len = 1;
	strcpy(out, "/");
	bool missing = false;
	int links = 0;
	const char *s = todo;
	while (*s) {
		while (*s == '/')
			s++;
		size_t nl = strcspn(s, "/");
		if (nl == 0)
			break;
		char name[NAME_MAX + 1];
		if (nl > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, s, nl);
		name[nl] = '\0';
		s += nl;
		size_t before = len;
		int r = push(out, &len, name, nl);
		if (r < 0)
			return r;
		if (missing || len <= before || strcmp(name, "..") == 0)
			continue;
		struct stat st;
		if (lstat(out, &st) < 0) {
			if (errno != ENOENT)
				return -errno;
			missing = true; /* the rest is appended as written */
			continue;
		}
		if (!S_ISLNK(st.st_mode))
			continue;
		if (++links > 40)
			return -ELOOP;
		char target[PATH_MAX];
		ssize_t tl = readlink(out, target, sizeof(target) - 1);
		if (tl < 0)
			return -errno;
		target[tl] = '\0';
		/* Go on with the link's text and then what was left. */
		char rest[PATH_MAX * 2];
		if (snprintf(rest, sizeof(rest), "%s/%s", target, s) >= (int)sizeof(rest))
			return -ENAMETOOLONG;
		len = before;
		out[len] = '\0';
		if (target[0] == '/') {
			len = 1;
			strcpy(out, "/");
		}
		memcpy(todo, rest, strlen(rest) + 1);
		s = todo;
	}
	return 0;
}

/* Does `path` (absolute) lie inside `dir`, strictly? Asked of the names as
 * written, of their canonical forms now, and of the identity of every
 * directory above the path (a second name of dir, through a bind mount,
 * is still dir). When the host cannot tell (EACCES on the way, ...), the
 * answer is yes: refusing is the safe mistake. */
static bool below(const char *path, const struct tgp_writable *w)
{
	if (strictly_below(path, w->dir))
		return true;
	char cp[PATH_MAX];
	if (canonical(path, cp) < 0)
		return true;
	if (w->canonical[0] && strictly_below(cp, w->canonical))
		return true;
	if (!w->have_id)
		return false;
	/* Walk up from the deepest existing directory above (or at, when the
	 * path itself is missing) the path. */
	char start[PATH_MAX];
	snprintf(start, sizeof(start), "%s", cp);
	struct stat st;
	do {
		char *slash = strrchr(start, '/');
		if (!slash || slash == start)
			snprintf(start, sizeof(start), "/");
		else
			*slash = '\0';
	} while (stat(start, &st) < 0 && strcmp(start, "/") != 0);
	int fd = open(start, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int depth = 0; fd >= 0 && depth < 4096; depth++) {
		struct stat here, up;
		if (fstat(fd, &here) < 0)
			break;
		if (here.st_dev == w->dev && here.st_ino == w->ino) {
			close(fd);
			return true;
		}
		int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = parent;
		if (fd >= 0 && fstat(fd, &up) == 0 && up.st_dev == here.st_dev &&
		    up.st_ino == here.st_ino) /* the root: ".." is itself */
			break;
	}
	if (fd >= 0)
		close(fd);
	return false;
}

static int add(struct tg_policy *p, size_t *cap, const char *dir, const char *what)
{
	if (!dir)
		return 0;
	if (!what)
		return -ENOMEM;
	if (p->n_writable == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct tgp_writable *n = tgp_alloc_array(&p->arena, ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		if (p->n_writable)
			memcpy(n, p->writable, p->n_writable * sizeof(*n));
		p->writable = n;
		*cap = ncap;
	}
	struct tgp_writable *w = &p->writable[p->n_writable++];
	*w = (struct tgp_writable){.dir = dir, .what = what};
	char cd[PATH_MAX];
	if (canonical(dir, cd) == 0) {
		w->canonical = tgp_strdup(&p->arena, cd);
		if (!w->canonical)
			return -ENOMEM;
	} else {
		w->canonical = "";
	}
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		w->have_id = true;
		w->dev = st.st_dev;
		w->ino = st.st_ino;
	}
	return 0;
}

static int collect(struct tg_policy *p)
{
	size_t cap = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < p->agent.n_fs; i++) {
		const struct tg_fs_entry *e = &p->agent.fs[i];
		if (e->type == TG_FS_BIND && !e->readonly)
			r = add(p, &cap, e->source,
			        tgp_printf(&p->arena, "agent.filesystem[%zu]", i));
	}
	for (size_t t = 0; r == 0 && t < p->n_tools; t++)
		for (size_t i = 0; r == 0 && i < p->tools[t].n_fs; i++) {
			const struct tg_fs_entry *e = &p->tools[t].fs[i];
			if (e->type == TG_FS_BIND && !e->readonly)
				r = add(p, &cap, e->source,
				        tgp_printf(&p->arena, "tools[%zu].filesystem[%zu]", t, i));
		}
	return r;
}

/* The workspace as a writable directory. */
static void workspace_writable(const char *ws, struct tgp_writable *ret, char buf[PATH_MAX])
{
	*ret = (struct tgp_writable){.dir = ws, .what = "the workspace", .canonical = ""};
	if (canonical(ws, buf) == 0)
		ret->canonical = buf;
	struct stat st;
	if (stat(ws, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret->have_id = true;
		ret->dev = st.st_dev;
		ret->ino = st.st_ino;
	}
}

/* Does `path` lie strictly below a directory the agent can write (the
 * workspace included)? Which one in *ret. */
static bool writable_over(const struct tg_policy *p, const char *path, struct tgp_writable *ret)
{
	char buf[PATH_MAX];
	if (p->workspace) {
		struct tgp_writable ws;
		workspace_writable(p->workspace, &ws, buf);
		if (below(path, &ws)) {
			*ret = (struct tgp_writable){.dir = p->workspace, .what = "the workspace"};
			return true;
		}
	}
	for (size_t i = 0; i < p->n_writable; i++)
		if (below(path, &p->writable[i])) {
			*ret = p->writable[i];
			return true;
		}
	return false;
}

static void refuse(struct tgp_ctx *c, const struct tgp_node *n, const char *key, const char *path,
                   const struct tgp_writable *w)
{
	tgp_error(c, n, key,
	          "%s lies inside %s (%s), which the agent can write: it could be replaced by a "
	          "symlink to anywhere on the host",
	          path, w->dir, w->what);
}

static void check_fs(struct tgp_ctx *c, const struct tgp_node *list, const char *key,
                     const struct tg_fs_entry *fs, size_t n)
{
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const struct tg_fs_entry *e = &fs[i];
		if (e->type != TG_FS_BIND || !e->source)
			continue;
		struct tgp_writable w;
		if (!writable_over(c->p, e->source, &w))
			continue;
		const struct tgp_node *en =
		        list && list->kind == TGP_SEQ && i < list->n ? list->items[i] : NULL;
		const struct tgp_node *src = tgp_get(en, "source");
		refuse(c, src ? src : en, tgp_key(kb2, tgp_key_index(kb, key, i), "source"),
		       e->source, &w);
	}
}

static void check_param(struct tgp_ctx *c, const struct tgp_param *prm, const struct tgp_node *n,
                        const char *key)
{
	char kb[TGP_KEY_MAX];
	if (prm->type == TGP_P_ARRAY && prm->items) {
		check_param(c, prm->items, tgp_get(n, "items"), tgp_key(kb, key, "items"));
		return;
	}
	if (prm->type != TGP_P_PATH || prm->anchor_kind != TGP_ANCHOR_HOST || !prm->anchor)
		return;
	struct tgp_writable w;
	if (!writable_over(c->p, prm->anchor, &w))
		return;
	const struct tgp_node *wn = tgp_get(n, "within");
	refuse(c, wn ? wn : n, tgp_key(kb, key, "within"), prm->anchor, &w);
}

void tgp_check_writable(struct tgp_ctx *c, const struct tgp_node *root)
{
	struct tg_policy *p = c->p;
	if (collect(p) < 0) {
		c->oom = true;
		return;
	}
	char kb[TGP_KEY_MAX], kb2[TGP_KEY_MAX], kb3[TGP_KEY_MAX];
	if (p->workspace) {
		for (size_t i = 0; i < p->n_writable; i++)
			if (below(p->workspace, &p->writable[i])) {
				refuse(c, tgp_get(root, "workspace"), "workspace", p->workspace,
				       &p->writable[i]);
				break;
			}
	}
	const struct tgp_node *agent = tgp_get(root, "agent");
	check_fs(c, tgp_get(agent, "filesystem"), "agent.filesystem", p->agent.fs, p->agent.n_fs);
	const struct tgp_node *tools = tgp_get(root, "tools");
	for (size_t t = 0; t < p->n_tools; t++) {
		const struct tgp_tool *tool = &p->tools[t];
		const struct tgp_node *tn =
		        tools && tools->kind == TGP_SEQ && t < tools->n ? tools->items[t] : NULL;
		const char *tkey = tgp_key_index(kb, "tools", t);
		check_fs(c, tgp_get(tn, "filesystem"), tgp_key(kb2, tkey, "filesystem"), tool->fs,
		         tool->n_fs);
		const struct tgp_node *params = tgp_get(tn, "params");
		for (size_t k = 0; k < tool->n_params; k++) {
			const struct tgp_param *prm = &tool->params[k];
			char pk[TGP_KEY_MAX];
			check_param(c, prm, tgp_get(params, prm->name),
			            tgp_key(pk, tgp_key(kb3, tkey, "params"), prm->name));
		}
	}
}

/* Host paths the broker opens by name that lie strictly below dir: the
 * first one, described, or NULL. */
static char *first_below(const struct tg_policy *p, const char *dir)
{
	char buf[PATH_MAX];
	struct tgp_writable ws;
	workspace_writable(dir, &ws, buf);
	for (size_t i = 0; i < p->agent.n_fs; i++) {
		const struct tg_fs_entry *e = &p->agent.fs[i];
		if (e->type == TG_FS_BIND && e->source && below(e->source, &ws))
			return tg_strdup_printf("agent.filesystem[%zu] (%s)", i, e->source);
	}
	for (size_t t = 0; t < p->n_tools; t++) {
		const struct tgp_tool *tool = &p->tools[t];
		for (size_t i = 0; i < tool->n_fs; i++) {
			const struct tg_fs_entry *e = &tool->fs[i];
			if (e->type == TG_FS_BIND && e->source && below(e->source, &ws))
				return tg_strdup_printf("tools[%zu].filesystem[%zu] (%s)", t, i,
				                        e->source);
		}
		for (size_t k = 0; k < tool->n_params; k++) {
			const struct tgp_param *prm = &tool->params[k];
			bool items = prm->type == TGP_P_ARRAY && prm->items;
			if (items)
				prm = prm->items;
			if (prm->type == TGP_P_PATH && prm->anchor_kind == TGP_ANCHOR_HOST &&
			    below(prm->anchor, &ws))
				return tg_strdup_printf("tools[%zu].params.%s%s.within (%s)", t,
				                        tool->params[k].name, items ? ".items" : "",
				                        prm->anchor);
		}
	}
	return NULL;
}

int tg_policy_set_workspace(struct tg_policy *p, const char *dir, char **ret_why)
{
	*ret_why = NULL;
	for (size_t i = 0; i < p->n_writable; i++)
		if (below(dir, &p->writable[i])) {
			*ret_why = tg_strdup_printf(
			        "it lies inside %s (%s), which the agent can write: it could be "
			        "replaced by a symlink to anywhere on the host",
			        p->writable[i].dir, p->writable[i].what);
			return *ret_why ? -EXDEV : -ENOMEM;
		}
	char *inside = first_below(p, dir);
	if (inside) {
		*ret_why =
		        tg_strdup_printf("%s lies inside it, and the agent can write there: it "
		                         "could be replaced by a symlink to anywhere on the host",
		                         inside);
		free(inside);
		return *ret_why ? -EXDEV : -ENOMEM;
	}
	const char *copy = tgp_strdup(&p->arena, dir);
	if (!copy)
		return -ENOMEM;
	p->workspace = copy;
	return 0;
}
