/* SPDX-License-Identifier: Apache-2.0 */
/* tgw_raw URL MODE: send one hand-made (often malformed) message to a broker
 * and print "<STATUS> <reason>" of its answer, or "NO_ANSWER <error>".
 * Modes: garbage oversized version empty nul badutf8 duplicate deep huge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "tg_proto.h"

static size_t pack_call(uint32_t version, const char *tool, Toolgate__Param **params, size_t n,
                        uint8_t **ret)
{
	Toolgate__CallRequest call = TOOLGATE__CALL_REQUEST__INIT;
	call.tool = (char *)tool;
	call.params = params;
	call.n_params = n;
	Toolgate__Request req = TOOLGATE__REQUEST__INIT;
	req.version = version;
	req.request_id = 42;
	req.body_case = TOOLGATE__REQUEST__BODY_CALL;
	req.call = &call;
	size_t len = toolgate__request__get_packed_size(&req);
	*ret = malloc(len);
	toolgate__request__pack(&req, *ret);
	return len;
}

static size_t pack_str_param(const char *name, const char *bytes, size_t blen, int twice,
                             uint8_t **ret)
{
	Toolgate__Value v = TOOLGATE__VALUE__INIT;
	v.kind_case = TOOLGATE__VALUE__KIND_STR;
	v.str.data = (uint8_t *)bytes;
	v.str.len = blen;
	Toolgate__Param p = TOOLGATE__PARAM__INIT;
	p.name = (char *)name;
	p.value = &v;
	Toolgate__Param *ps[2] = {&p, &p};
	return pack_call(TG_PROTO_VERSION, "echo", ps, twice ? 2 : 1, ret);
}

/* Wrap buf in a length-delimited field: tag, varint length, bytes. */
static size_t wrap(uint8_t **buf, size_t len, uint8_t tag)
{
	uint8_t head[11];
	size_t h = 0;
	head[h++] = tag;
	for (size_t v = len;; v >>= 7) {
		head[h++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		if (v < 0x80)
			break;
	}
	uint8_t *nb = malloc(len + h);
	memcpy(nb, head, h);
	memcpy(nb + h, *buf, len);
	free(*buf);
	*buf = nb;
	return len + h;
}

/* A call whose parameter is a list nested `levels` deep, built by hand
 * (packing it with protobuf-c would recurse as deep). */
static size_t pack_deep(unsigned levels, uint8_t **ret)
{
	uint8_t *b = malloc(2);
	b[0] = 0x10; /* Value.int = 1 (zigzag 2) */
	b[1] = 0x02;
	size_t len = 2;
	for (unsigned i = 0; i < levels; i++) {
		len = wrap(&b, len, 0x0a); /* ValueList.items */
		len = wrap(&b, len, 0x22); /* Value.list */
	}
	len = wrap(&b, len, 0x12); /* Param.value */
	uint8_t name[] = {0x0a, 5, 'w', 'o', 'r', 'd', 's'};
	uint8_t *p = malloc(len + sizeof(name));
	memcpy(p, name, sizeof(name));
	memcpy(p + sizeof(name), b, len);
	free(b);
	len += sizeof(name);
	len = wrap(&p, len, 0x12); /* CallRequest.params */
	uint8_t tool[] = {0x0a, 4, 'e', 'c', 'h', 'o'};
	uint8_t *c = malloc(len + sizeof(tool));
	memcpy(c, tool, sizeof(tool));
	memcpy(c + sizeof(tool), p, len);
	free(p);
	len += sizeof(tool);
	len = wrap(&c, len, 0x1a);          /* Request.call */
	uint8_t hdr[] = {0x08, 1, 0x10, 9}; /* version 1, request_id 9 */
	uint8_t *r = malloc(len + sizeof(hdr));
	memcpy(r, hdr, sizeof(hdr));
	memcpy(r + sizeof(hdr), c, len);
	free(c);
	*ret = r;
	return len + sizeof(hdr);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tgw_raw URL MODE\n");
		return 64;
	}
	const char *mode = argv[2];
	uint8_t *buf = NULL;
	size_t len = 0;
	if (strcmp(mode, "garbage") == 0) {
		len = 64;
		buf = malloc(len);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(0xff - i);
	} else if (strcmp(mode, "oversized") == 0 || strcmp(mode, "huge") == 0) {
		len = strcmp(mode, "huge") == 0 ? TG_PROTO_MAX_TRANSPORT + 1024
		                                : TG_PROTO_MAX_REQUEST + 1024;
		buf = calloc(1, len);
	} else if (strcmp(mode, "version") == 0) {
		len = pack_call(99, "echo", NULL, 0, &buf);
	} else if (strcmp(mode, "empty") == 0) {
		Toolgate__Request req = TOOLGATE__REQUEST__INIT;
		req.version = TG_PROTO_VERSION;
		req.request_id = 7;
		len = toolgate__request__get_packed_size(&req);
		buf = malloc(len ? len : 1);
		toolgate__request__pack(&req, buf);
	} else if (strcmp(mode, "nul") == 0) {
		len = pack_str_param("words", "a\0--evil", 8, 0, &buf);
	} else if (strcmp(mode, "badutf8") == 0) {
		len = pack_str_param("words", "\xff\xfe\xc0\x80", 4, 0, &buf);
	} else if (strcmp(mode, "deep") == 0) {
		len = pack_deep(20000, &buf);
	} else if (strcmp(mode, "duplicate") == 0) {
		len = pack_str_param("words", "x", 1, 1, &buf);
	} else {
		fprintf(stderr, "tgw_raw: unknown mode %s\n", mode);
		return 64;
	}

	nng_socket s;
	int rv;
	if ((rv = nng_req0_open(&s)) != 0 || (rv = nng_dial(s, argv[1], NULL, 0)) != 0) {
		printf("NO_ANSWER %s\n", nng_strerror(rv));
		return 1;
	}
	/* Bounded both ways: a message past the transport bound makes the
	 * broker drop the connection, and REQ would keep retrying it. */
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_send(s, buf, len, 0)) != 0) {
		printf("NO_ANSWER send: %s\n", nng_strerror(rv));
		return 1;
	}
	free(buf);
	char *reply = NULL;
	size_t rlen = 0;
	if ((rv = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		printf("NO_ANSWER recv: %s\n", nng_strerror(rv));
		nng_close(s);
		return 1;
	}
	Toolgate__Response *resp = toolgate__response__unpack(NULL, rlen, (uint8_t *)reply);
	nng_free(reply, rlen);
	if (!resp) {
		printf("UNDECODABLE_ANSWER\n");
		return 1;
	}
	printf("%s %s\n", tg_proto_status_name(resp->status), resp->reason ? resp->reason : "");
	toolgate__response__free_unpacked(resp, NULL);
	nng_close(s);
	return 0;
}
