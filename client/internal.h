/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h (private to the client) */
#ifndef TG_CLIENT_INTERNAL_H
#define TG_CLIENT_INTERNAL_H

#include <jansson.h>

#include "tg_proto.h"
#include "toolgate.h"

#ifdef TG_CLIENT_SHARED
#define TG_EXPORT __attribute__((visibility("default")))
#else
#define TG_EXPORT
#endif

struct tg_params {
	json_t *obj; /* name -> value (string, integer, boolean, array) */
};

struct tg_result {
	Toolgate__Response *resp; /* unpacked; freed with protobuf-c */
	const char **argv;        /* NULL-terminated view of resp->call->argv */
};

/* params.c: the parameters as wire messages. Everything allocated is
 * recorded in *arena (free with tg_wire_params_free). */
struct tg_wire_params {
	Toolgate__Param **params;
	size_t n;
	void **allocs;
	size_t n_allocs;
};
int tg_wire_params_build(const tg_params *p, struct tg_wire_params *ret);
void tg_wire_params_free(struct tg_wire_params *w);

/* result.c */
int tg_result_from_wire(Toolgate__Response *resp, tg_result **ret);

#endif /* TG_CLIENT_INTERNAL_H */
