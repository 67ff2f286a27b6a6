// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the rule-file parser: any text is a rule file from somewhere else.
 * Everything it accepts is then tried against a few packets (header sets, flow, flags, sizes,
 * content with its backtracking budget), so a parsed rule can never make matching misbehave.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/match.h"

static const uint8_t payload[] =
	"GET /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: xc3511\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_net_rules rs;
	struct vg_err err = { 0 };
	struct vg_ip a;

	if (vg_net_rules_init(&rs, &err))
		abort();
	if (!vg_net_rules_parse(&rs, (const char *)data, size, "fuzz", &err)) {
		vg_ip_parse("10.0.0.1", &a);
		for (uint32_t i = 0; i < rs.n; i++) {
			const struct vg_rule *r = &rs.v[i];

			vg_addrset_has(&r->src, &a);
			vg_portset_has(&r->dp, 80);
			vg_rule_content_match(r, payload, sizeof(payload) - 1);
			vg_rule_content_match(r, data, (uint32_t)(size > 4096 ? 4096 : size));
			if (r->msg && !memchr(r->msg, 0, 1u << 20))
				abort();
		}
	} else if (!err.msg[0]) {
		abort(); /* a failure always says why */
	}
	vg_net_rules_free(&rs);
	return 0;
}
