/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.c - each tool's parameters as JSON Schema (draft 2020-12), for MCP
 * tools/list and `toolgate tools`. The schema tells a model what to send;
 * decide() is what enforces it (PCRE2 patterns are shown as written, and a
 * JSON Schema validator may read them slightly differently).
 */
#include "internal.h"

static int set(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v);
}

static json_t *param_schema(const struct tgp_param *prm)
{
	_cleanup_json_ json_t *o = json_object();
	if (!o)
		return NULL;
	int r = 0;
	switch (prm->type) {
	case TGP_P_STRING:
		r |= set(o, "type", json_string("string"));
		if (prm->has_max_length)
			r |= set(o, "maxLength", json_integer((json_int_t)prm->max_length));
		if (prm->pattern)
			r |= set(o, "pattern", json_string(prm->pattern));
		break;
	case TGP_P_INTEGER:
		r |= set(o, "type", json_string("integer"));
		if (prm->has_min)
			r |= set(o, "minimum", json_integer(prm->min));
		if (prm->has_max)
			r |= set(o, "maximum", json_integer(prm->max));
		break;
	case TGP_P_BOOLEAN:
		r |= set(o, "type", json_string("boolean"));
		break;
	case TGP_P_PATH: {
		r |= set(o, "type", json_string("string"));
		/* Not a standard format; an annotation validators ignore. */
		r |= set(o, "format", json_string("path"));
		json_t *x = json_pack("{s:s, s:b}", "within", prm->within ? prm->within : "/",
		                      "must_exist", prm->must_exist);
		if (x && prm->pkind != TGP_KIND_ANY)
			json_object_set_new(
			        x, "kind",
			        json_string(prm->pkind == TGP_KIND_DIR ? "dir" : "file"));
		r |= set(o, "x-toolgate-path", x);
		break;
	}
	case TGP_P_ARRAY:
		r |= set(o, "type", json_string("array"));
		if (prm->items)
			r |= set(o, "items", param_schema(prm->items));
		if (prm->has_max_items)
			r |= set(o, "maxItems", json_integer((json_int_t)prm->max_items));
		break;
	}
	if (prm->enum_values)
		r |= set(o, "enum", json_deep_copy(prm->enum_values));
	if (prm->def)
		r |= set(o, "default", json_deep_copy(prm->def));
	if (prm->description)
		r |= set(o, "description", json_string(prm->description));
	if (r)
		return NULL;
	return steal_pointer(&o);
}

json_t *tg_policy_tool_schema(const struct tg_policy *p, size_t i)
{
	if (i >= p->n_tools)
		return NULL;
	const struct tgp_tool *t = &p->tools[i];
	_cleanup_json_ json_t *props = json_object(), *required = json_array();
	if (!props || !required)
		return NULL;
	for (size_t k = 0; k < t->n_params; k++) {
		const struct tgp_param *prm = &t->params[k];
		if (set(props, prm->name, param_schema(prm)) < 0)
			return NULL;
		if (prm->required && json_array_append_new(required, json_string(prm->name)) < 0)
			return NULL;
	}
	return json_pack("{s:s, s:s, s:O, s:O, s:b}", "$schema",
	                 "https://json-schema.org/draft/2020-12/schema", "type", "object",
	                 "properties", props, "required", required, "additionalProperties", 0);
}
