// SPDX-License-Identifier: MIT
/* Captures through the engine (vigil/net_io.h): libpcap reads, the engine inspects. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/net_io.h"

/* libpcap reuses its buffer for the next frame: a batch keeps copies. */
#define BATCH_BYTES (1u << 20)

struct batch {
	struct vg_net_frame f[VG_NET_BATCH];
	uint8_t verdicts[VG_NET_BATCH];
	uint8_t *buf;
	size_t used;
	int n;
};

static void flush(struct vg_net_engine *e, struct batch *b)
{
	vg_net_engine_batch(e, b->f, b->n, b->verdicts);
	b->n = 0;
	b->used = 0;
}

int vg_net_inspect_pcap(struct vg_net_engine *e, const char *path, uint64_t *frames,
			struct vg_err *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	struct batch b = { .n = 0 };
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
	b.buf = malloc(BATCH_BYTES);
	if (!b.buf) {
		pcap_close(pc);
		return vg_errf(err, ENOMEM, "out of memory reading %s", path);
	}
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		struct vg_net_frame *f;
		uint32_t cl = h->caplen < BATCH_BYTES ? h->caplen : BATCH_BYTES;

		if (b.n == VG_NET_BATCH || b.used + cl > BATCH_BYTES)
			flush(e, &b);
		memcpy(b.buf + b.used, data, cl);
		f = &b.f[b.n++];
		f->data = b.buf + b.used;
		f->len = cl;
		f->wire_len = h->len > cl ? h->len : cl;
		f->ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
		f->port = -1;
		b.used += cl;
		n++;
	}
	if (b.n)
		flush(e, &b);
	if (r == PCAP_ERROR)
		ret = vg_errf(err, EIO, "capture %s is damaged after frame %llu: %s", path,
			      (unsigned long long)n, pcap_geterr(pc));
	pcap_close(pc);
	free(b.buf);
	if (frames)
		*frames = n;
	return ret;
}
