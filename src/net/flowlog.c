// SPDX-License-Identifier: MIT
/* Flow records as JSON (vigil/net_io.h), the same fields for the switch and for captures. */
#include <stdio.h>

#include "vigil/clock.h"
#include "vigil/net_io.h"

static void flags_str(uint8_t f, char *buf)
{
	static const char letters[] = "FSRPAUEC";
	int n = 0;

	for (int i = 0; i < 8; i++)
		if (f & (1 << i))
			buf[n++] = letters[i];
	buf[n] = 0;
}

void vg_net_flow_json(struct vg_json *j, const struct vg_net_flow_rec *r)
{
	char ts[VG_RFC3339_LEN], a[64], fl[9];

	vg_json_obj_open(j);
	vg_json_kstr(j, "type", "flow");
	vg_json_kuint(j, "id", r->id);
	vg_rfc3339_us(ts, sizeof(ts), r->first_us);
	vg_json_kstr(j, "start", ts);
	vg_rfc3339_us(ts, sizeof(ts), r->last_us);
	vg_json_kstr(j, "end", ts);
	vg_json_kuint(j, "proto", r->proto);
	vg_json_kstr(j, "src_ip", vg_ip_str(&r->src, a, sizeof(a)));
	vg_json_kuint(j, "src_port", r->sport);
	vg_json_kstr(j, "dst_ip", vg_ip_str(&r->dst, a, sizeof(a)));
	vg_json_kuint(j, "dst_port", r->dport);
	if (r->vlan)
		vg_json_kuint(j, "vlan", r->vlan);
	vg_json_kstr(j, "app", r->app);
	vg_json_kuint(j, "pkts_toserver", r->pkts[0]);
	vg_json_kuint(j, "pkts_toclient", r->pkts[1]);
	vg_json_kuint(j, "bytes_toserver", r->bytes[0]);
	vg_json_kuint(j, "bytes_toclient", r->bytes[1]);
	if (r->proto == 6) {
		flags_str(r->tcp_flags[0], fl);
		vg_json_kstr(j, "tcp_flags_toserver", fl);
		flags_str(r->tcp_flags[1], fl);
		vg_json_kstr(j, "tcp_flags_toclient", fl);
	}
	vg_json_kstr(j, "state", r->state);
	vg_json_kstr(j, "reason", r->reason);
	if (r->in_port[0])
		vg_json_kstr(j, "src_switch_port", r->in_port[0]);
	if (r->in_port[1])
		vg_json_kstr(j, "dst_switch_port", r->in_port[1]);
	vg_json_kuint(j, "alerts", r->alerts);
	vg_json_kuint(j, "dropped", r->dropped);
	if (r->pcap)
		vg_json_kstr(j, "pcap", r->pcap);
	vg_json_obj_close(j);
}
