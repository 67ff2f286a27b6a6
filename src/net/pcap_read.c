// SPDX-License-Identifier: MIT
/* Captures through the engine (vigil/net_io.h): libpcap reads, the engine inspects. */
#include <errno.h>
#include <pcap/pcap.h>

#include "vigil/net_io.h"

int vg_net_inspect_pcap(struct vg_net_engine *e, const char *path, uint64_t *frames,
			struct vg_err *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;
	pcap_t *pc;
	int r, ret = 0;

	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!pc)
		return vg_errf(err, EINVAL, "cannot read capture %s: %s", path, ebuf);
	if (pcap_datalink(pc) != DLT_EN10MB) {
		ret = vg_errf(err, ENOTSUP,
			      "capture %s has link type %s; only Ethernet is inspected", path,
			      pcap_datalink_val_to_name(pcap_datalink(pc)) ?: "unknown");
		pcap_close(pc);
		return ret;
	}
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;

		vg_net_engine_frame(e, data, h->caplen, h->len > h->caplen ? h->len : h->caplen, ts,
				    -1);
		n++;
	}
	if (r == PCAP_ERROR)
		ret = vg_errf(err, EIO, "capture %s is damaged after frame %llu: %s", path,
			      (unsigned long long)n, pcap_geterr(pc));
	pcap_close(pc);
	if (frames)
		*frames = n;
	return ret;
}
