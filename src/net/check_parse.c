// SPDX-License-Identifier: MIT
/*
 * "check NAME [off] [key value]..." lines: vigil's behaviour checks, which need state across
 * flows (scans, brute force, spoofing, new listeners) and so cannot be single rules. A check
 * named in the file is on; its settings default to the values below.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

void vg_net_checks_defaults(struct vg_net_checks *c)
{
	memset(c, 0, sizeof(*c));
	c->hscan.count = 16;
	c->hscan.seconds = 30;
	c->vscan.count = 24;
	c->vscan.seconds = 30;
	c->brute.attempts = 10;
	c->brute.seconds = 60;
	c->arp_spoof.hold = 300;
	c->listener.learn = 60;
	c->block = 300;
}

void vg_net_checks_free(struct vg_net_checks *c)
{
	vg_portset_free(&c->brute.ports);
	vg_portset_free(&c->listener.allow);
}

static char *next_word(char **p)
{
	char *s = *p, *start;
	int depth = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return NULL;
	start = s;
	for (; *s && (depth || !isspace((unsigned char)*s)); s++)
		depth += *s == '[' ? 1 : *s == ']' ? -1 : 0;
	if (*s)
		*s++ = 0;
	*p = s;
	return start;
}

static int num(const char *check, const char *key, const char *v, uint32_t max, uint32_t *out,
	       struct vg_err *err)
{
	char *end;
	unsigned long x = v ? strtoul(v, &end, 10) : 0;

	if (!v || !isdigit((unsigned char)*v) || *end || x < 1 || x > max)
		return vg_errf(err, EINVAL, "check %s: %s takes a number from 1 to %u", check, key,
			       max);
	*out = (uint32_t)x;
	return 0;
}

struct spec {
	const char *name;
	bool *on;
	const char *keys[3];
	uint32_t *nums[3]; /* NULL for a port-set key */
	struct vg_portset *ports[3];
	uint32_t max[3];
};

int vg_net_check_parse(struct vg_net_rules *rs, char *p, struct vg_err *err)
{
	struct vg_net_checks *c = &rs->checks;
	bool dummy_on;
	const struct spec specs[] = {
		{ "horizontal-scan",
		  &c->hscan.on,
		  { "hosts", "seconds" },
		  { &c->hscan.count, &c->hscan.seconds },
		  { NULL },
		  { 4096, 86400 } },
		{ "vertical-scan",
		  &c->vscan.on,
		  { "ports", "seconds" },
		  { &c->vscan.count, &c->vscan.seconds },
		  { NULL },
		  { 4096, 86400 } },
		{ "brute-force",
		  &c->brute.on,
		  { "attempts", "seconds", "ports" },
		  { &c->brute.attempts, &c->brute.seconds, NULL },
		  { NULL, NULL, &c->brute.ports },
		  { 100000, 86400 } },
		{ "arp-spoof",
		  &c->arp_spoof.on,
		  { "hold" },
		  { &c->arp_spoof.hold },
		  { NULL },
		  { 86400 * 30 } },
		{ "ip-spoof", &c->ip_spoof.on, { NULL }, { NULL }, { NULL }, { 0 } },
		{ "malformed", &c->malformed.on, { NULL }, { NULL }, { NULL }, { 0 } },
		{ "new-listener",
		  &c->listener.on,
		  { "learn", "allow" },
		  { &c->listener.learn, NULL },
		  { NULL, &c->listener.allow },
		  { 86400 * 30 } },
		{ "ips-block", &dummy_on, { "seconds" }, { &c->block }, { NULL }, { 86400 * 30 } },
	};
	const struct spec *s = NULL;
	char *name = next_word(&p), *k;

	for (size_t i = 0; name && i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(specs[i].name, name))
			s = &specs[i];
	if (!s)
		return vg_errf(err, EINVAL, "unknown check '%.40s' (see docs/net.md)",
			       name ? name : "");
	*s->on = true;
	while ((k = next_word(&p))) {
		char *v;
		int i;

		if (!strcmp(k, "off")) {
			*s->on = false;
			continue;
		}
		for (i = 0; i < 3 && s->keys[i] && strcmp(s->keys[i], k); i++)
			;
		if (i == 3 || !s->keys[i])
			return vg_errf(err, EINVAL, "check %s has no setting '%.40s'", s->name, k);
		v = next_word(&p);
		if (s->ports[i]) {
			if (!v)
				return vg_errf(err, EINVAL, "check %s: %s needs ports", s->name, k);
			vg_portset_free(s->ports[i]);
			if (vg_portset_parse(rs, v, s->ports[i], err))
				return vg_err_prefix(err, "check %s", s->name);
		} else if (num(s->name, k, v, s->max[i], s->nums[i], err)) {
			return -EINVAL;
		}
	}
	if (c->brute.on && !c->brute.ports.n && !c->brute.ports.any)
		return vg_portset_parse(rs, "[22,23,2222,2323]", &c->brute.ports, err);
	return 0;
}
