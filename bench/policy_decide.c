/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/policy_decide: the cost of tg_policy_decide() on a generated
 * 100-tool policy. Prints p50 / p99 / max in microseconds for:
 *
 *   typical  a string (max_length + PCRE2 pattern), an integer (bounds),
 *            an enum with a default, rendered into a 7-element argv
 *   deny     a pattern mismatch (the cheapest refusal past the lookup)
 *   unknown  an unknown tool
 *   path     two path parameters resolved with openat2 under a workspace
 *
 * Target (issue 3): typical p50 <= 5 us. Usage: policy_decide [ITERATIONS]
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy.h"
#include "tg.h"

#define N_TOOLS 100

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static char *make_policy(void)
{
	size_t cap = 1 << 20, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	len += (size_t)snprintf(s + len, cap - len,
	                        "version: 1\nworkspace: ws\ndefaults:\n  limits: {timeout: 5s}\n"
	                        "  env: {PATH: /usr/bin:/bin, LANG: C.UTF-8}\ntools:\n");
	for (int i = 0; i < N_TOOLS; i++)
		len += (size_t)snprintf(
		        s + len, cap - len,
		        "  - name: tool%03d\n"
		        "    command: [/bin/echo, --name, '{name}', '--count={count}', '{mode}', "
		        "'{src}', '{dst}']\n"
		        "    params:\n"
		        "      name: {type: string, max_length: 64, pattern: '^[a-z][a-z0-9_-]*$', "
		        "required: true}\n"
		        "      count: {type: integer, min: 1, max: 1000, default: 10}\n"
		        "      mode: {type: string, enum: [fast, slow, auto], default: auto}\n"
		        "      src: {type: path, must_exist: true, kind: file}\n"
		        "      dst: {type: path, within: /workspace/out}\n"
		        "    limits: {memory: %dMiB}\n",
		        i, 64 + i);
	return s;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void measure(const char *label, struct tg_policy *p, const char *const *tools,
                    json_t *const *params, size_t n_inputs, size_t iters, bool expect_allow)
{
	uint64_t *ns = calloc(iters, sizeof(*ns));
	if (!ns)
		exit(1);
	for (size_t i = 0; i < iters; i++) {
		struct tg_verdict *v = NULL;
		uint64_t t0 = tg_now_mono_ns();
		int r = tg_policy_decide(p, tools[i % n_inputs], params[i % n_inputs], &v);
		ns[i] = tg_now_mono_ns() - t0;
		if (r < 0 || v->allow != expect_allow) {
			fprintf(stderr, "%s: unexpected verdict: %s\n", label,
			        r < 0 ? strerror(-r) : v->reason);
			exit(1);
		}
		tg_verdict_free(v);
	}
	qsort(ns, iters, sizeof(*ns), cmp_u64);
	printf("%-8s p50 %7.2f us   p99 %7.2f us   max %8.2f us   (%zu calls)\n", label,
	       (double)ns[iters / 2] / 1e3, (double)ns[iters * 99 / 100] / 1e3,
	       (double)ns[iters - 1] / 1e3, iters);
	free(ns);
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	if (iters < 100)
		iters = 100;
	char dir[] = "/tmp/tg-bench-policy-XXXXXX", path[256];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/ws", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/ws/out", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/ws/input.txt", dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

	_cleanup_free_ char *text = make_policy();
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	uint64_t t0 = tg_now_mono_ns();
	int r = text ? tg_policy_load_buffer("bench.yaml", dir, text, strlen(text), &p, &diags)
	             : -ENOMEM;
	uint64_t load_ns = tg_now_mono_ns() - t0;
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		fprintf(stderr, "%s\n", s);
	}
	tg_diags_clear(&diags);
	if (r < 0)
		return 1;
	printf("policy: %d tools, %zu bytes, loaded in %.2f ms\n", N_TOOLS, strlen(text),
	       (double)load_ns / 1e6);

	enum { N_IN = 64 };
	const char *tools[N_IN];
	json_t *typical[N_IN], *bad[N_IN], *paths[N_IN];
	char names[N_IN][16];
	for (int i = 0; i < N_IN; i++) {
		snprintf(names[i], sizeof(names[i]), "tool%03d", (i * 37) % N_TOOLS);
		tools[i] = names[i];
		typical[i] = json_pack("{s:s, s:s, s:s}", "name", "report_2024-q3", "count", "250",
		                       "mode", "fast");
		bad[i] = json_pack("{s:s}", "name", "Report; rm -rf /");
		paths[i] = json_pack("{s:s, s:s, s:s}", "name", "copy", "src", "input.txt", "dst",
		                     "result.txt");
	}
	measure("typical", p, tools, typical, N_IN, iters, true);
	measure("deny", p, tools, bad, N_IN, iters, false);
	const char *unknown[] = {"no_such_tool"};
	measure("unknown", p, unknown, bad, 1, iters, false);
	measure("path", p, tools, paths, N_IN, iters / 4, true);

	for (int i = 0; i < N_IN; i++) {
		json_decref(typical[i]);
		json_decref(bad[i]);
		json_decref(paths[i]);
	}
	tg_policy_unref(p);
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
