/* SPDX-License-Identifier: Apache-2.0 */
/* Call parameters: built by the agent, sent as typed wire values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

TG_EXPORT tg_params *tg_params_new(void)
{
	tg_params *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->obj = json_object();
	if (!p->obj) {
		free(p);
		return NULL;
	}
	return p;
}

TG_EXPORT void tg_params_free(tg_params *p)
{
	if (!p)
		return;
	json_decref(p->obj);
	free(p);
}

/* A repeated name becomes an array, in order (like NAME=VALUE pairs). */
static int add(tg_params *p, const char *name, json_t *value)
{
	if (!p || !name || !*name || !value) {
		json_decref(value);
		return -EINVAL;
	}
	json_t *prev = json_object_get(p->obj, name);
	if (!prev)
		return json_object_set_new(p->obj, name, value) == 0 ? 0 : -ENOMEM;
	if (json_is_array(prev))
		return json_array_append_new(prev, value) == 0 ? 0 : -ENOMEM;
	json_t *arr = json_array();
	if (!arr || json_array_append(arr, prev) < 0 || json_array_append_new(arr, value) < 0) {
		json_decref(arr);
		return -ENOMEM;
	}
	return json_object_set_new(p->obj, name, arr) == 0 ? 0 : -ENOMEM;
}

TG_EXPORT int tg_params_add_string(tg_params *p, const char *name, const char *value)
{
	if (!value)
		return -EINVAL;
	json_t *v = json_string(value);
	if (!v)
		return -EILSEQ; /* not valid UTF-8 */
	return add(p, name, v);
}

TG_EXPORT int tg_params_add_int(tg_params *p, const char *name, int64_t value)
{
	return add(p, name, json_integer((json_int_t)value));
}

TG_EXPORT int tg_params_add_bool(tg_params *p, const char *name, bool value)
{
	return add(p, name, json_boolean(value));
}

static int check_value(const json_t *v, int depth)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
	case JSON_INTEGER:
	case JSON_TRUE:
	case JSON_FALSE:
		return 0;
	case JSON_ARRAY: {
		if (depth > 3)
			return -EINVAL;
		size_t i;
		json_t *item;
		json_array_foreach (v, i, item) {
			if (check_value(item, depth + 1) < 0)
				return -EINVAL;
		}
		return 0;
	}
	default:
		return -EINVAL;
	}
}

TG_EXPORT int tg_params_add_json(tg_params *p, const char *json, char *errbuf, size_t errbuf_len)
{
	if (!p || !json)
		return -EINVAL;
	json_error_t jerr;
	json_t *in = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!in) {
		if (errbuf)
			snprintf(errbuf, errbuf_len, "%s at line %d column %d", jerr.text,
			         jerr.line, jerr.column);
		return -EINVAL;
	}
	int r = 0;
	if (!json_is_object(in)) {
		if (errbuf)
			snprintf(errbuf, errbuf_len, "expected a JSON object of parameters");
		r = -EINVAL;
		goto out;
	}
	const char *key;
	json_t *value;
	json_object_foreach (in, key, value) {
		if (check_value(value, 0) < 0) {
			if (errbuf)
				snprintf(errbuf, errbuf_len,
				         "parameter '%s': values are strings, integers, booleans "
				         "or arrays of those",
				         key);
			r = -EINVAL;
			goto out;
		}
		if (json_object_get(p->obj, key)) {
			if (errbuf)
				snprintf(errbuf, errbuf_len, "parameter '%s' given twice", key);
			r = -EINVAL;
			goto out;
		}
		if (json_object_set(p->obj, key, value) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(in);
	return r;
}

static void *track(struct tg_wire_params *w, void *ptr)
{
	if (!ptr)
		return NULL;
	void **na = realloc(w->allocs, (w->n_allocs + 1) * sizeof(void *));
	if (!na) {
		free(ptr);
		return NULL;
	}
	w->allocs = na;
	w->allocs[w->n_allocs++] = ptr;
	return ptr;
}

static Toolgate__Value *to_wire(struct tg_wire_params *w, const json_t *v)
{
	Toolgate__Value *out = track(w, malloc(sizeof(*out)));
	if (!out)
		return NULL;
	toolgate__value__init(out);
	switch (json_typeof(v)) {
	case JSON_STRING:
		out->kind_case = TOOLGATE__VALUE__KIND_STR;
		out->str.data = (uint8_t *)json_string_value(v);
		out->str.len = json_string_length(v);
		return out;
	case JSON_INTEGER:
		out->kind_case = TOOLGATE__VALUE__KIND_INT;
		out->int_ = (int64_t)json_integer_value(v);
		return out;
	case JSON_TRUE:
	case JSON_FALSE:
		out->kind_case = TOOLGATE__VALUE__KIND_BOOLEAN;
		out->boolean = json_is_true(v);
		return out;
	case JSON_ARRAY: {
		Toolgate__ValueList *list = track(w, malloc(sizeof(*list)));
		size_t n = json_array_size(v);
		Toolgate__Value **items = track(w, calloc(n ? n : 1, sizeof(*items)));
		if (!list || !items)
			return NULL;
		toolgate__value_list__init(list);
		for (size_t i = 0; i < n; i++) {
			items[i] = to_wire(w, json_array_get(v, i));
			if (!items[i])
				return NULL;
		}
		list->items = items;
		list->n_items = n;
		out->kind_case = TOOLGATE__VALUE__KIND_LIST;
		out->list = list;
		return out;
	}
	default:
		return NULL;
	}
}

int tg_wire_params_build(const tg_params *p, struct tg_wire_params *ret)
{
	struct tg_wire_params w = {0};
	size_t n = p ? json_object_size(p->obj) : 0;
	if (n == 0) {
		*ret = w;
		return 0;
	}
	w.params = track(&w, calloc(n, sizeof(*w.params)));
	if (!w.params)
		goto fail;
	const char *key;
	json_t *value;
	json_object_foreach (p->obj, key, value) {
		Toolgate__Param *param = track(&w, malloc(sizeof(*param)));
		if (!param)
			goto fail;
		toolgate__param__init(param);
		param->name = (char *)key;
		param->value = to_wire(&w, value);
		if (!param->value)
			goto fail;
		w.params[w.n++] = param;
	}
	*ret = w;
	return 0;
fail:
	tg_wire_params_free(&w);
	return -ENOMEM;
}

void tg_wire_params_free(struct tg_wire_params *w)
{
	for (size_t i = 0; i < w->n_allocs; i++)
		free(w->allocs[i]);
	free(w->allocs);
	memset(w, 0, sizeof(*w));
}
