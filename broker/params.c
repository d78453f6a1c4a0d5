/* SPDX-License-Identifier: Apache-2.0 */
/* Wire parameters -> JSON (what the policy engine decides on), and the form
 * parameters take in the audit log (audit.params: full | hash | none). */
#include <string.h>

#include "internal.h"

/* Lists inside lists are allowed on the wire (the policy decides whether a
 * parameter may be one), but not without bound. */
#define MAX_DEPTH 4

static json_t *value_to_json(const Toolgate__Value *v, int depth, const char *name, char **reason)
{
	if (!v) {
		*reason = tg_strdup_printf("parameter '%s': no value", name);
		return NULL;
	}
	switch (v->kind_case) {
	case TOOLGATE__VALUE__KIND_STR: {
		/* protobuf-c does not check UTF-8; jansson does, and the policy
		 * engine refuses NUL bytes. */
		json_t *s = json_stringn((const char *)v->str.data, v->str.len);
		if (!s)
			*reason = tg_strdup_printf("parameter '%s': not valid UTF-8", name);
		return s;
	}
	case TOOLGATE__VALUE__KIND_INT:
		return json_integer((json_int_t)v->int_);
	case TOOLGATE__VALUE__KIND_BOOLEAN:
		return json_boolean(v->boolean);
	case TOOLGATE__VALUE__KIND_LIST: {
		if (depth >= MAX_DEPTH) {
			*reason = tg_strdup_printf("parameter '%s': lists nested too deep", name);
			return NULL;
		}
		json_t *arr = json_array();
		if (!arr)
			return NULL;
		for (size_t i = 0; v->list && i < v->list->n_items; i++) {
			json_t *item = value_to_json(v->list->items[i], depth + 1, name, reason);
			if (!item || json_array_append_new(arr, item) < 0) {
				json_decref(arr);
				return NULL;
			}
		}
		return arr;
	}
	case TOOLGATE__VALUE__KIND__NOT_SET:
	default:
		*reason = tg_strdup_printf("parameter '%s': value has no type", name);
		return NULL;
	}
}

int tg_params_from_wire(const Toolgate__CallRequest *call, json_t **ret, char **reason)
{
	_cleanup_json_ json_t *obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < call->n_params; i++) {
		const Toolgate__Param *p = call->params[i];
		if (!p || !p->name || !*p->name) {
			*reason = tg_strdup_printf("parameter %zu has no name", i);
			return -EINVAL;
		}
		/* Names must be printable UTF-8 to be named in an error at all. */
		_cleanup_json_ json_t *name_check = json_string(p->name);
		if (!name_check) {
			*reason = strdup("a parameter name is not valid UTF-8");
			return -EINVAL;
		}
		if (json_object_get(obj, p->name)) {
			*reason = tg_strdup_printf("parameter '%s' given twice", p->name);
			return -EINVAL;
		}
		json_t *v = value_to_json(p->value, 0, p->name, reason);
		if (!v)
			return *reason ? -EINVAL : -ENOMEM;
		if (json_object_set_new(obj, p->name, v) < 0)
			return -ENOMEM;
	}
	*ret = steal_pointer(&obj);
	return 0;
}

/* audit.params: hash keeps which parameters were given and lets an auditor
 * check a value they know, without the log holding the value itself. */
static json_t *hash_value(const json_t *v)
{
	_cleanup_free_ char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!dump)
		return NULL;
	char hex[TG_SHA256_HEX_LEN];
	tg_sha256_hex(dump, strlen(dump), hex);
	return json_sprintf("sha256:%s", hex);
}

json_t *tg_params_for_audit(const json_t *params, enum tg_audit_params_mode mode)
{
	if (!params || mode == TG_AUDIT_PARAMS_NONE)
		return NULL;
	if (mode == TG_AUDIT_PARAMS_FULL)
		return json_deep_copy(params);
	json_t *out = json_object();
	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)params, key, value) {
		if (out && json_object_set_new(out, key, hash_value(value)) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
