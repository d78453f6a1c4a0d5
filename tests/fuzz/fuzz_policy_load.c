/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the policy loader: YAML/JSON text -> tree -> schema ->
 * compiled policy, with all its error paths. Each loaded policy is also asked
 * for its tool schemas and one decision per tool, so the compiled model is
 * exercised, not only built.
 *
 * Build: cmake -DTG_FUZZ=ON -DTG_SANITIZE=ON -DCMAKE_C_COMPILER=clang
 * Run:   fuzz_policy_load -max_total_time=30 tests/fuzz/corpus/policy
 */
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "tg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_diags diags = {0};
	struct tg_policy *p = NULL;
	/* base_dir is fixed so relative paths never depend on the cwd. */
	int r = tg_policy_load_buffer("fuzz.yaml", "/nonexistent", (const char *)data, size, &p,
	                              &diags);
	for (size_t i = 0; i < diags.count; i++)
		free(tg_diag_format(&diags.items[i]));
	tg_diags_clear(&diags);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < tg_policy_tool_count(p); i++) {
		json_decref(tg_policy_tool_schema(p, i));
		struct tg_verdict *v = NULL;
		json_t *params = json_pack("{s:s}", "x", "y");
		if (tg_policy_decide(p, tg_policy_tool_name(p, i), NULL, &v) == 0) {
			json_decref(tg_verdict_to_json(v));
			tg_verdict_free(v);
		}
		if (tg_policy_decide(p, tg_policy_tool_name(p, i), params, &v) == 0)
			tg_verdict_free(v);
		json_decref(params);
	}
	tg_policy_unref(p);
	return 0;
}
