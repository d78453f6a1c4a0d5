/* SPDX-License-Identifier: Apache-2.0 */
/*
 * load.c - policy text -> node tree, through libyaml's document API.
 *
 * JSON is YAML's flow style, so JSON policies go through the same parser
 * and get the same positions. Every node keeps the line:col where it starts
 * so later stages can point at the exact key or value.
 *
 * The tree is a tree: YAML aliases are copied, under a node budget and a
 * depth limit, because libyaml lets an alias refer to its own ancestor (a
 * cycle) and a handful of aliases can expand exponentially.
 */
#include <math.h>
#include <string.h>
#include <yaml.h>

#include "internal.h"

#define MAX_DEPTH 64
#define MAX_NODES 200000

struct loader {
	struct tgp_ctx *c;
	yaml_document_t *doc;
	size_t budget;
	bool reported_budget;
};

static void yaml_parser_deletep(yaml_parser_t **p)
{
	if (*p)
		yaml_parser_delete(*p);
}

static void yaml_document_deletep(yaml_document_t **d)
{
	if (*d)
		yaml_document_delete(*d);
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static void resolve_plain(struct tgp_node *n)
{
	const char *s = n->str;
	if (n->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
		n->stype = TGP_NULL;
		return;
	}
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
		n->stype = TGP_BOOL;
		n->bval = true;
		return;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
		n->stype = TGP_BOOL;
		n->bval = false;
		return;
	}
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	const char *digits = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p > digits && *p == '\0') {
		errno = 0;
		char *end;
		long long v = strtoll(s, &end, 10);
		n->stype = TGP_INT;
		n->int_overflow = errno == ERANGE;
		n->ival = v;
		n->fval = strtod(s, NULL);
		return;
	}
	/* [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	p = digits;
	size_t nd = 0;
	while (*p >= '0' && *p <= '9')
		p++, nd++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, nd++;
	}
	if (nd == 0)
		return;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		const char *e = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == e)
			return;
	}
	if (*p != '\0')
		return;
	double v = strtod(s, NULL);
	if (!isfinite(v))
		return;
	n->stype = TGP_FLOAT;
	n->fval = v;
}

static struct tgp_node *convert(struct loader *L, yaml_node_t *y, unsigned depth);

static struct tgp_node *new_node(struct loader *L, yaml_node_t *y)
{
	if (L->budget == 0) {
		if (!L->reported_budget)
			tgp_error_at(L->c, (unsigned)y->start_mark.line + 1,
			             (unsigned)y->start_mark.column + 1, "",
			             "document too large (aliases expand to more than %u nodes)",
			             MAX_NODES);
		L->reported_budget = true;
		return NULL;
	}
	L->budget--;
	struct tgp_node *n = tgp_alloc(L->c->tmp, sizeof(*n));
	if (!n) {
		L->c->oom = true;
		return NULL;
	}
	n->line = (unsigned)y->start_mark.line + 1;
	n->col = (unsigned)y->start_mark.column + 1;
	return n;
}

static bool convert_scalar(struct loader *L, yaml_node_t *y, struct tgp_node *n)
{
	n->kind = TGP_SCALAR;
	n->len = y->data.scalar.length;
	n->str = tgp_strndup(L->c->tmp, (const char *)y->data.scalar.value, n->len);
	if (!n->str) {
		L->c->oom = true;
		return false;
	}
	/* "\0" in a double-quoted scalar: C strings would silently cut it. */
	if (memchr(n->str, '\0', n->len)) {
		tgp_error(L->c, n, "", "value contains a NUL byte");
		n->len = strlen(n->str);
	}
	n->stype = TGP_STR;
	if (y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		resolve_plain(n);
	return true;
}

static bool convert_seq(struct loader *L, yaml_node_t *y, struct tgp_node *n, unsigned depth)
{
	n->kind = TGP_SEQ;
	size_t count = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
	n->items = tgp_alloc_array(L->c->tmp, count ? count : 1, sizeof(*n->items));
	if (!n->items) {
		L->c->oom = true;
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = yaml_document_get_node(L->doc, y->data.sequence.items.start[i]);
		struct tgp_node *c = item ? convert(L, item, depth + 1) : NULL;
		if (!c)
			return false;
		n->items[n->n++] = c;
	}
	return true;
}

static bool convert_map(struct loader *L, yaml_node_t *y, struct tgp_node *n, unsigned depth)
{
	n->kind = TGP_MAP;
	size_t count = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
	n->pairs = tgp_alloc_array(L->c->tmp, count ? count : 1, sizeof(*n->pairs));
	if (!n->pairs) {
		L->c->oom = true;
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		yaml_node_pair_t *pair = &y->data.mapping.pairs.start[i];
		yaml_node_t *yk = yaml_document_get_node(L->doc, pair->key);
		yaml_node_t *yv = yaml_document_get_node(L->doc, pair->value);
		if (!yk || !yv)
			return false;
		struct tgp_node *k = convert(L, yk, depth + 1);
		if (!k)
			return false;
		if (k->kind != TGP_SCALAR) {
			tgp_error(L->c, k, "", "a mapping key must be a plain string");
			continue;
		}
		struct tgp_node *v = convert(L, yv, depth + 1);
		if (!v)
			return false;
		n->pairs[n->n].key = k;
		n->pairs[n->n].value = v;
		n->n++;
	}
	return true;
}

static struct tgp_node *convert(struct loader *L, yaml_node_t *y, unsigned depth)
{
	if (depth > MAX_DEPTH) {
		tgp_error_at(L->c, (unsigned)y->start_mark.line + 1,
		             (unsigned)y->start_mark.column + 1, "",
		             "nested too deeply (more than %d levels)", MAX_DEPTH);
		return NULL;
	}
	struct tgp_node *n = new_node(L, y);
	if (!n)
		return NULL;
	bool ok = false;
	switch (y->type) {
	case YAML_SCALAR_NODE:
		ok = convert_scalar(L, y, n);
		break;
	case YAML_SEQUENCE_NODE:
		ok = convert_seq(L, y, n, depth);
		break;
	case YAML_MAPPING_NODE:
		ok = convert_map(L, y, n, depth);
		break;
	default:
		tgp_error(L->c, n, "", "unexpected YAML node");
		break;
	}
	return ok ? n : NULL;
}

/* Reader errors (bad encoding) carry a byte offset, not a mark. */
static void offset_to_pos(const char *buf, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void report_parser_error(struct tgp_ctx *c, const yaml_parser_t *y, const char *buf,
                                size_t len)
{
	unsigned line, col;
	if (y->error == YAML_READER_ERROR) {
		offset_to_pos(buf, len, y->problem_offset, &line, &col);
	} else {
		line = (unsigned)y->problem_mark.line + 1;
		col = (unsigned)y->problem_mark.column + 1;
	}
	const char *problem = y->problem ? y->problem : "cannot parse";
	if (y->error == YAML_MEMORY_ERROR) {
		c->oom = true;
		return;
	}
	if (y->context)
		tgp_error_at(c, line, col, "", "YAML syntax error: %s %s", problem, y->context);
	else
		tgp_error_at(c, line, col, "", "YAML syntax error: %s", problem);
}

const struct tgp_node *tgp_load_tree(struct tgp_ctx *c, const char *buf, size_t len)
{
	yaml_parser_t parser_storage;
	yaml_document_t doc_storage, extra_storage;
	_cleanup_(yaml_parser_deletep) yaml_parser_t *parser = NULL;
	_cleanup_(yaml_document_deletep) yaml_document_t *doc = NULL;
	_cleanup_(yaml_document_deletep) yaml_document_t *extra = NULL;

	if (!yaml_parser_initialize(&parser_storage)) {
		c->oom = true;
		return NULL;
	}
	parser = &parser_storage;
	yaml_parser_set_input_string(parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(parser, &doc_storage)) {
		report_parser_error(c, parser, buf, len);
		return NULL;
	}
	doc = &doc_storage;
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root) {
		tgp_error_at(c, 1, 1, "", "empty policy (expected a mapping with 'version: 1')");
		return NULL;
	}
	/* A second document would be silently ignored; refuse it. */
	if (!yaml_parser_load(parser, &extra_storage)) {
		report_parser_error(c, parser, buf, len);
		return NULL;
	}
	extra = &extra_storage;
	yaml_node_t *second = yaml_document_get_root_node(extra);
	if (second) {
		tgp_error_at(c, (unsigned)extra->start_mark.line + 1,
		             (unsigned)extra->start_mark.column + 1, "",
		             "more than one YAML document; a policy is one document");
		return NULL;
	}

	struct loader L = {.c = c, .doc = doc, .budget = MAX_NODES};
	return convert(&L, root, 0);
}

const struct tgp_node *tgp_get(const struct tgp_node *map, const char *key)
{
	if (!map || map->kind != TGP_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->pairs[i].key->str, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

const char *tgp_stype_name(const struct tgp_node *n)
{
	if (!n)
		return "nothing";
	if (n->kind == TGP_MAP)
		return "a mapping";
	if (n->kind == TGP_SEQ)
		return "a list";
	switch (n->stype) {
	case TGP_STR:
		return "a string";
	case TGP_INT:
		return "an integer";
	case TGP_FLOAT:
		return "a number";
	case TGP_BOOL:
		return "a boolean";
	case TGP_NULL:
		return "null";
	}
	return "a value";
}
