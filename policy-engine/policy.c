/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - the loading orchestrator and the policy object:
 *
 *   read -> load.c (tree) -> validate.c -> compile.c/tool.c -> immutable policy
 *
 * Every stage runs even when an earlier one found errors (on the parts it
 * can make sense of), so one `policy check` lists every problem.
 */
#include <libgen.h>
#include <string.h>

#include "internal.h"

/* A policy is configuration written by people; anything this large is a
 * mistake or an attack on the loader. */
#define POLICY_MAX_BYTES (4u << 20)

static void free_policy(struct tg_policy *p)
{
	if (!p)
		return;
	pcre2_match_context_free(p->mctx);
	struct tgp_arena arena = p->arena;
	tgp_arena_free(&arena);
	free(p);
}

static void free_policyp(struct tg_policy **p)
{
	free_policy(*p);
}

static int io_diag(struct tg_diags *diags, const char *file, int err, const char *what)
{
	if (!diags)
		return err;
	struct tg_diag d = {0};
	d.file = strdup(file);
	d.key = strdup("");
	d.msg = tg_strdup_printf("%s: %s", what, strerror(-err));
	struct tg_diag *items = realloc(diags->items, (diags->count + 1) * sizeof(*items));
	if (!d.file || !d.key || !d.msg || !items) {
		free(d.file);
		free(d.key);
		free(d.msg);
		if (items)
			diags->items = items;
		return err;
	}
	diags->items = items;
	diags->items[diags->count++] = d;
	return err;
}

int tg_policy_load_buffer(const char *name, const char *base_dir, const char *buf, size_t len,
                          struct tg_policy **ret, struct tg_diags *diags)
{
	if (!name)
		name = "<policy>";
	if (len > POLICY_MAX_BYTES)
		return io_diag(diags, name, -EFBIG, "cannot load (larger than 4 MiB)");

	_cleanup_(free_policyp) struct tg_policy *p = calloc(1, sizeof(*p));
	_cleanup_free_ char *cwd_base = NULL;
	if (!p)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	p->file = tgp_strdup(&p->arena, name);
	p->mctx = tg_policy_new_match_context();
	if (!p->file || !p->mctx)
		return -ENOMEM;
	tg_sha256_hex(buf, len, p->sha256);
	if (!base_dir) {
		cwd_base = tg_path_join_abs(NULL, ".");
		if (!cwd_base)
			return -ENOMEM;
		base_dir = cwd_base;
	}

	struct tgp_arena tmp = {0};
	struct tgp_ctx c = {.file = name, .base_dir = base_dir, .p = p, .tmp = &tmp};
	const struct tgp_node *root = tgp_load_tree(&c, buf, len);
	if (root) {
		if (root->kind != TGP_MAP) {
			tgp_error(&c, root, "",
			          "a policy is a mapping (version: 1, tools: ...), not %s",
			          tgp_stype_name(root));
		} else {
			tgp_validate(&c, root);
			tgp_compile(&c, root);
		}
	}
	tgp_arena_free(&tmp);
	bool oom = c.oom;
	unsigned errors = c.n_errors;
	tgp_diags_finish(&c, diags);
	if (oom)
		return -ENOMEM;
	if (errors || !root)
		return -EINVAL;
	*ret = steal_pointer(&p);
	return 0;
}

int tg_policy_load_file(const char *path, struct tg_policy **ret, struct tg_diags *diags)
{
	_cleanup_free_ char *buf = NULL, *abs = NULL;
	size_t len;
	int r = tg_read_file(path, POLICY_MAX_BYTES, &buf, &len);
	if (r == -EFBIG)
		return io_diag(diags, path, r, "cannot load (larger than 4 MiB)");
	if (r < 0)
		return io_diag(diags, path, r, "cannot read");
	abs = tg_path_join_abs(NULL, path);
	if (!abs)
		return -ENOMEM;
	/* Relative paths in the policy are relative to the policy file. */
	const char *dir = dirname(abs);
	return tg_policy_load_buffer(path, dir, buf, len, ret, diags);
}

struct tg_policy *tg_policy_ref(struct tg_policy *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void tg_policy_unref(struct tg_policy *p)
{
	if (!p)
		return;
	/* acq_rel: the last owner must see every other owner's use finished
	 * before it frees. */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free_policy(p);
}

const char *tg_policy_sha256(const struct tg_policy *p)
{
	return p->sha256;
}

const char *tg_policy_file(const struct tg_policy *p)
{
	return p->file;
}

const char *tg_policy_workspace(const struct tg_policy *p)
{
	return p->workspace;
}

const struct tg_agent_config *tg_policy_agent(const struct tg_policy *p)
{
	return &p->agent;
}

const struct tg_sanitize_config *tg_policy_sanitize(const struct tg_policy *p)
{
	return &p->sanitize;
}

const struct tg_audit_section *tg_policy_audit(const struct tg_policy *p)
{
	return &p->audit;
}

uint32_t tg_policy_max_concurrent(const struct tg_policy *p)
{
	return p->max_concurrent;
}

size_t tg_policy_tool_count(const struct tg_policy *p)
{
	return p->n_tools;
}

const char *tg_policy_tool_name(const struct tg_policy *p, size_t i)
{
	return i < p->n_tools ? p->tools[i].name : NULL;
}

const char *tg_policy_tool_description(const struct tg_policy *p, size_t i)
{
	return i < p->n_tools ? p->tools[i].description : NULL;
}

const struct tg_network *tg_policy_tool_network(const struct tg_policy *p, size_t i)
{
	return i < p->n_tools ? p->tools[i].network : NULL;
}
