// SPDX-License-Identifier: MIT
/* Captures of flagged flows (capture.h), written with libpcap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "capture.h"
#include "vigil/util.h"

int vg_capture_init(struct vg_capture *c, const char *dir, uint32_t ring_bytes, uint32_t max_pkts,
		    struct vg_err *err)
{
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	memset(c, 0, sizeof(*c));
	c->max_pkts = max_pkts;
	c->nslots = ring_bytes / sizeof(struct vg_ring_slot);
	if (c->nslots < 16)
		c->nslots = 16;
	gmtime_r(&now, &tm);
	strftime(c->run, sizeof(c->run), "%Y%m%dT%H%M%SZ", &tm);
	ret = vg_mkdir_p(dir, 0750);
	if (ret)
		return vg_errf(err, -ret, "cannot create the capture directory %s: %s", dir,
			       strerror(-ret));
	c->dir = strdup(dir);
	c->ring = calloc(c->nslots, sizeof(*c->ring));
	c->dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (!c->dir || !c->ring || !c->dead) {
		vg_capture_free(c);
		return vg_errf(err, ENOMEM, "out of memory for the capture ring");
	}
	return 0;
}

void vg_capture_remember(struct vg_capture *c, uint64_t flow_id, const uint8_t *frame, uint32_t len,
			 uint32_t wire_len, int64_t ts_us)
{
	struct vg_ring_slot *s = &c->ring[c->head];

	c->head = c->head + 1 == c->nslots ? 0 : c->head + 1;
	s->flow_id = flow_id;
	s->ts_us = ts_us;
	s->caplen = len < CAP_SLOT_BYTES ? len : CAP_SLOT_BYTES;
	s->wire_len = wire_len;
	memcpy(s->data, frame, s->caplen);
}

static void warn(struct vg_capture *c, const char *what, const char *path)
{
	c->errors++;
	if (!c->warning[0])
		snprintf(c->warning, sizeof(c->warning), "capture %.120s: %.100s", path, what);
}

/* The open dumper of F, reopening its file (appending) in the least recently used place. */
static struct pcap_dumper *dumper(struct vg_capture *c, struct vg_flow *f, bool fresh)
{
	int v = 0;
	pcap_dumper_t *d;

	if (f->pcap >= 0 && c->open[f->pcap].flow_id == f->id && c->open[f->pcap].d) {
		c->open[f->pcap].last_use = ++c->uses;
		return c->open[f->pcap].d;
	}
	for (int i = 0; i < CAP_OPEN; i++) {
		if (!c->open[i].d) {
			v = i;
			break;
		}
		if (c->open[i].last_use < c->open[v].last_use)
			v = i;
	}
	if (c->open[v].d) {
		pcap_dump_close(c->open[v].d);
		c->open[v].d = NULL;
	}
	d = fresh ? pcap_dump_open(c->dead, f->pcap_path)
		  : pcap_dump_open_append(c->dead, f->pcap_path);
	if (!d) {
		warn(c, pcap_geterr(c->dead), f->pcap_path);
		f->pcap = -1;
		return NULL;
	}
	c->open[v].d = d;
	c->open[v].flow_id = f->id;
	c->open[v].last_use = ++c->uses;
	f->pcap = v;
	return d;
}

static void write_one(struct vg_capture *c, struct vg_flow *f, pcap_dumper_t *d,
		      const uint8_t *data, uint32_t caplen, uint32_t wire_len, int64_t ts)
{
	struct pcap_pkthdr h = { .caplen = caplen, .len = wire_len > caplen ? wire_len : caplen };

	if (f->pcap_pkts >= c->max_pkts)
		return;
	h.ts.tv_sec = ts / 1000000;
	h.ts.tv_usec = ts % 1000000;
	pcap_dump((u_char *)d, &h, data);
	f->pcap_pkts++;
}

void vg_capture_start(struct vg_capture *c, struct vg_flow *f)
{
	char path[4096], a[64], b[64];
	struct vg_ip src = f->init_is_a ? f->key.a : f->key.b,
		     dst = f->init_is_a ? f->key.b : f->key.a;
	uint16_t sp = f->init_is_a ? f->key.pa : f->key.pb,
		 dp = f->init_is_a ? f->key.pb : f->key.pa;
	pcap_dumper_t *d;

	if (f->pcap_path)
		return;
	snprintf(path, sizeof(path), "%s/%s-%llu-%u-%s-%u-%s-%u.pcap", c->dir, c->run,
		 (unsigned long long)f->id, f->key.proto, vg_ip_str(&src, a, sizeof(a)), sp,
		 vg_ip_str(&dst, b, sizeof(b)), dp);
	f->pcap_path = strdup(path);
	if (!f->pcap_path) {
		warn(c, "out of memory", path);
		return;
	}
	d = dumper(c, f, true);
	if (!d)
		return;
	/* oldest first: from the slot after head around to head */
	for (uint32_t i = 0; i < c->nslots; i++) {
		const struct vg_ring_slot *s = &c->ring[(c->head + i) % c->nslots];

		if (s->flow_id == f->id)
			write_one(c, f, d, s->data, s->caplen, s->wire_len, s->ts_us);
	}
	/* the alert that names this file goes out next: what led to it is on disk by then */
	if (pcap_dump_flush(d))
		warn(c, "flush failed", f->pcap_path);
}

void vg_capture_frame(struct vg_capture *c, struct vg_flow *f, const uint8_t *frame, uint32_t len,
		      uint32_t wire_len, int64_t ts_us)
{
	pcap_dumper_t *d;

	if (!f->pcap_path || f->pcap_pkts >= c->max_pkts)
		return;
	d = dumper(c, f, false);
	if (d)
		write_one(c, f, d, frame, len, wire_len, ts_us);
}

void vg_capture_end(struct vg_capture *c, struct vg_flow *f)
{
	if (f->pcap >= 0 && c->open[f->pcap].flow_id == f->id && c->open[f->pcap].d) {
		pcap_dump_close(c->open[f->pcap].d);
		c->open[f->pcap].d = NULL;
		c->open[f->pcap].flow_id = 0;
	}
	f->pcap = -1;
}

void vg_capture_flush(struct vg_capture *c)
{
	for (int i = 0; i < CAP_OPEN; i++)
		if (c->open[i].d && pcap_dump_flush(c->open[i].d))
			warn(c, "flush failed", "(open file)");
}

void vg_capture_free(struct vg_capture *c)
{
	for (int i = 0; i < CAP_OPEN; i++)
		if (c->open[i].d)
			pcap_dump_close(c->open[i].d);
	if (c->dead)
		pcap_close(c->dead);
	free(c->ring);
	free(c->dir);
	memset(c, 0, sizeof(*c));
}
