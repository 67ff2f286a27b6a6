// SPDX-License-Identifier: MIT
/*
 * net.jsonl, the sinkhole's log: one JSON object per event
 * {"ts_ms","proto":"tcp|udp|dns|icmp","dst","dport","qname","bytes","first_hex"}. Reduced to
 * the counts the network behaviours need: distinct destinations and ports (scanning), sessions
 * to the login ports carrying login-like bytes (brute force), connections to a resolved
 * address after a lookup and repeated sessions to one destination (C&C), stratum bytes
 * (mining), the busiest destination (flooding). The sessions are the sample's, so the log is
 * hostile: lines, distinct sets and decoded bytes are all bounded.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_int.h"
#include "env.h"
#include "vigil/sandbox.h"

#define SET_BITS 13 /* 8192 (dst, port) pairs tracked; more only saturate the counts */
#define SET_SIZE (1u << SET_BITS)
#define FIRST_MAX 256

struct pair {
	uint64_t key; /* dst << 16 | port, +1 so 0 means empty */
	uint32_t n;
};

struct work {
	struct pair pairs[SET_SIZE];
	struct pair dsts[SET_SIZE]; /* dst -> distinct ports seen */
	uint8_t ports[65536 / 8];
	uint32_t npairs, ndsts;
};

static struct pair *lookup(struct pair *set, uint32_t *count, uint64_t key, bool *fresh)
{
	uint64_t h = (key + 1) * 0x9e3779b97f4a7c15ull;
	uint32_t i = (uint32_t)(h >> (64 - SET_BITS));

	*fresh = false;
	for (uint32_t probe = 0; probe < SET_SIZE; probe++, i = (i + 1) & (SET_SIZE - 1)) {
		if (set[i].key == key + 1)
			return &set[i];
		if (!set[i].key) {
			/* keep a quarter free so probing stays short */
			if (*count >= SET_SIZE * 3 / 4)
				return NULL;
			set[i].key = key + 1;
			(*count)++;
			*fresh = true;
			return &set[i];
		}
	}
	return NULL;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (n < cap && isxdigit((unsigned char)hex[0]) && isxdigit((unsigned char)hex[1])) {
		char b[3] = { hex[0], hex[1], 0 };

		out[n++] = (uint8_t)strtoul(b, NULL, 16);
		hex += 2;
	}
	return n;
}

/* Login-like first bytes: an SSH client banner on 22; on telnet ports, after the option
 * negotiation (IAC sequences), a line of at least two printable characters (a user name or
 * password followed by CR or LF). A bare connect carries no bytes and is only a probe. */
static bool login_like(uint16_t port, const uint8_t *b, size_t n)
{
	size_t printable = 0;

	if (port == 22)
		return n >= 4 && !memcmp(b, "SSH-", 4);
	for (size_t i = 0; i < n; i++) {
		if (b[i] == 0xff) { /* IAC verb option */
			i += 2;
			continue;
		}
		if ((b[i] == '\r' || b[i] == '\n') && printable >= 2)
			return true;
		if (b[i] >= 0x20 && b[i] < 0x7f)
			printable++;
		else if (b[i] != '\r' && b[i] != '\n' && b[i] != 0)
			printable = 0;
	}
	return false;
}

static bool has(const uint8_t *b, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(b + i, needle, k))
			return true;
	return false;
}

static void keep_qname(struct sbx_net *n, const char *q)
{
	for (uint32_t i = 0; i < n->nqnames; i++)
		if (!strcmp(n->qnames[i], q))
			return;
	if (n->nqnames < SBX_MAX_QNAMES)
		sbx_copy(n->qnames[n->nqnames++], sizeof(n->qnames[0]), q);
}

static void event(struct sbx_net *n, struct work *w, json_t *o, bool *resolved)
{
	const char *proto = json_string_value(json_object_get(o, "proto"));
	const char *dst = json_string_value(json_object_get(o, "dst"));
	const char *hex = json_string_value(json_object_get(o, "first_hex"));
	json_int_t port = json_integer_value(json_object_get(o, "dport"));
	uint8_t first[FIRST_MAX];
	size_t nfirst = hex ? unhex(hex, first, sizeof(first)) : 0;
	struct in_addr a = { 0 };
	struct pair *p, *d;
	bool fresh;
	uint32_t ip;

	if (!proto) {
		n->bad++;
		return;
	}
	if (!strcmp(proto, "dropped")) {
		json_int_t k = json_integer_value(json_object_get(o, "bytes"));

		if (k > 0 && k < 0x7fffffff && n->dropped < 0x7fffffff - (uint32_t)k)
			n->dropped += (uint32_t)k;
		return;
	}
	n->events++;
	if (!strcmp(proto, "dns")) {
		const char *q = json_string_value(json_object_get(o, "qname"));

		n->dns++;
		if (q && *q)
			keep_qname(n, q);
		*resolved = true;
		return;
	}
	if (!strcmp(proto, "icmp"))
		n->icmp++;
	else if (!strcmp(proto, "udp"))
		n->udp++;
	else if (!strcmp(proto, "tcp"))
		n->tcp++;
	else {
		n->bad++;
		return;
	}
	if (port < 0 || port > 65535)
		port = 0;
	if (!dst || inet_pton(AF_INET, dst, &a) != 1)
		a.s_addr = 0;
	ip = ntohl(a.s_addr);
	p = lookup(w->pairs, &w->npairs, (uint64_t)ip << 16 | (uint64_t)port, &fresh);
	if (p) {
		p->n++;
		if (fresh) {
			d = lookup(w->dsts, &w->ndsts, ip, &fresh);
			if (d && ++d->n > n->max_ports_one_dst)
				n->max_ports_one_dst = d->n;
		}
		if (p->n > n->max_flood)
			n->max_flood = p->n;
	}
	if (!(w->ports[port / 8] & (1u << (port % 8)))) {
		w->ports[port / 8] |= (uint8_t)(1u << (port % 8));
		n->distinct_ports++;
	}
	if (strcmp(proto, "tcp"))
		return;
	if (port == 22 || port == 23 || port == 2323) {
		n->login_port_sessions++;
		if (login_like((uint16_t)port, first, nfirst))
			n->brute_sessions++;
		return;
	}
	if (p && p->n > n->max_repeat)
		n->max_repeat = p->n;
	/* the resolver answers every name with the sink, so a connection there after a lookup
	 * is the sample talking to the name it resolved */
	if (*resolved && dst && !strcmp(dst, SBX_SINK_ADDR))
		n->cnc_sessions++;
	if (has(first, nfirst, "mining.subscribe") || has(first, nfirst, "mining.authorize") ||
	    has(first, nfirst, "\"method\":\"login\""))
		n->miner_sessions++;
}

void sbx_parse_net(struct sbx_net *n, const char *buf, size_t len)
{
	struct work *w = calloc(1, sizeof(*w));
	struct sbx_lines it;
	char line[SBX_MAX_LINE];
	bool resolved = false;

	memset(n, 0, sizeof(*n));
	if (!w) {
		n->bad = 1;
		return;
	}
	sbx_lines_init(&it, buf, len);
	while (sbx_next_line(&it, line, sizeof(line))) {
		json_t *o;

		if (!line[0])
			continue;
		o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(o))
			event(n, w, o, &resolved);
		else
			n->bad++;
		json_decref(o);
	}
	n->distinct_pairs = w->npairs;
	n->distinct_dsts = w->ndsts;
	free(w);
}
