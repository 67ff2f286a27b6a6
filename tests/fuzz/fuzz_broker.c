// SPDX-License-Identifier: MIT
/*
 * The broker's parsers of peer-controlled bytes: a client's request (the server decodes every
 * message a possibly rogue client sends), the guest description a broker sends back (the
 * client decodes it; a compromised VM host controls it), and the configuration file. The first
 * input byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/broker.h"

static struct vg_broker_extent ext[VG_BROKER_MAX_EXTENTS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_err err = { 0 };

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		struct vg_broker_req req;

		if (!vg_broker_req_decode(data + 1, size - 1, &req, ext, &err) &&
		    req.op == VG_BR_READ) {
			uint64_t total = 0;

			for (uint32_t i = 0; i < req.n; i++)
				total += ext[i].len;
			if (total != req.total || total > VG_BROKER_MAX_READ)
				abort();
		}
		break;
	}
	case 1: {
		struct vg_brd r = { .p = data + 1, .len = size - 1 };
		struct vg_broker_info info;

		if (!vg_broker_info_decode(&r, &info, &err)) {
			for (int l = 0; l < info.nlayouts; l++)
				for (size_t i = 0; i < info.layouts[l].n; i++)
					if (info.layouts[l].r[i].file_off + info.layouts[l].r[i].size >
					    info.size)
						abort();
			vg_broker_info_free(&info);
		}
		break;
	}
	default: {
		struct vg_broker_config c;

		if (!vg_broker_config_parse(&c, (const char *)data + 1, size - 1, &err)) {
			for (size_t i = 0; i < c.nvms; i++)
				if (!c.vms[i].memory || !vg_broker_config_vm(&c, c.vms[i].name))
					abort();
			vg_broker_config_free(&c);
		}
		break;
	}
	}
	return 0;
}
