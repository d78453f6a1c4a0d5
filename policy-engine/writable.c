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
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* path strictly below dir (both absolute). */
static bool strictly_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool below(const char *path, const char *dir)
{
	if (strictly_below(path, dir))
		return true;
	char rp[PATH_MAX], rd[PATH_MAX];
	return realpath(path, rp) && realpath(dir, rd) && strictly_below(rp, rd);
}

static int add(struct tg_policy *p, const char *dir, const char *what)
{
	if (!dir)
		return 0;
	struct tgp_writable *n = tgp_alloc_array(&p->arena, p->n_writable + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (p->n_writable)
		memcpy(n, p->writable, p->n_writable * sizeof(*n));
	n[p->n_writable++] = (struct tgp_writable){.dir = dir, .what = what};
	p->writable = n;
	return 0;
}

static int collect(struct tg_policy *p)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < p->agent.n_fs; i++) {
		const struct tg_fs_entry *e = &p->agent.fs[i];
		if (e->type == TG_FS_BIND && !e->readonly)
			r = add(p, e->source, tgp_printf(&p->arena, "agent.filesystem[%zu]", i));
	}
	for (size_t t = 0; r == 0 && t < p->n_tools; t++)
		for (size_t i = 0; r == 0 && i < p->tools[t].n_fs; i++) {
			const struct tg_fs_entry *e = &p->tools[t].fs[i];
			if (e->type == TG_FS_BIND && !e->readonly)
				r = add(p, e->source,
				        tgp_printf(&p->arena, "tools[%zu].filesystem[%zu]", t, i));
		}
	return r;
}

/* Does `path` lie strictly below a directory the agent can write (the
 * workspace included)? Which one in *ret. */
static bool writable_over(const struct tg_policy *p, const char *path, struct tgp_writable *ret)
{
	if (p->workspace && below(path, p->workspace)) {
		*ret = (struct tgp_writable){.dir = p->workspace, .what = "the workspace"};
		return true;
	}
	for (size_t i = 0; i < p->n_writable; i++)
		if (below(path, p->writable[i].dir)) {
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
			if (below(p->workspace, p->writable[i].dir)) {
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
	for (size_t i = 0; i < p->agent.n_fs; i++) {
		const struct tg_fs_entry *e = &p->agent.fs[i];
		if (e->type == TG_FS_BIND && e->source && below(e->source, dir))
			return tg_strdup_printf("agent.filesystem[%zu] (%s)", i, e->source);
	}
	for (size_t t = 0; t < p->n_tools; t++) {
		const struct tgp_tool *tool = &p->tools[t];
		for (size_t i = 0; i < tool->n_fs; i++) {
			const struct tg_fs_entry *e = &tool->fs[i];
			if (e->type == TG_FS_BIND && e->source && below(e->source, dir))
				return tg_strdup_printf("tools[%zu].filesystem[%zu] (%s)", t, i,
				                        e->source);
		}
		for (size_t k = 0; k < tool->n_params; k++) {
			const struct tgp_param *prm = &tool->params[k];
			if (prm->type == TGP_P_ARRAY && prm->items)
				prm = prm->items;
			if (prm->type == TGP_P_PATH && prm->anchor_kind == TGP_ANCHOR_HOST &&
			    below(prm->anchor, dir))
				return tg_strdup_printf("tools[%zu].params.%s.within (%s)", t,
				                        tool->params[k].name, prm->anchor);
		}
	}
	return NULL;
}

int tg_policy_set_workspace(struct tg_policy *p, const char *dir, char **ret_why)
{
	*ret_why = NULL;
	for (size_t i = 0; i < p->n_writable; i++)
		if (below(dir, p->writable[i].dir)) {
			*ret_why = tg_strdup_printf(
			        "it lies inside %s (%s), which the agent can write: it could be "
			        "replaced by a symlink to anywhere on the host",
			        p->writable[i].dir, p->writable[i].what);
			return *ret_why ? -EXDEV : -ENOMEM;
		}
	char *inside = first_below(p, dir);
	if (inside) {
		*ret_why = tg_strdup_printf("%s lies inside it, and the agent can write there: it "
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
