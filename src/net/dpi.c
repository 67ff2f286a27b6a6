// SPDX-License-Identifier: MIT
/* nDPI glue (dpi.h): one detection module per engine, a pool of per-flow states. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ndpi_api.h>

#include "dpi.h"

/* Suricata's application-layer names where nDPI spells them differently. */
static const char *const aliases[][2] = {
	{ "ftp", "FTP_CONTROL" }, { "smb", "SMBv23" }, { "krb5", "Kerberos" },
	{ "tls", "TLS" },	  { "http2", "HTTP" }, { "dcerpc", "DCE_RPC" },
	{ "ike", "IPsec" },	  { "rfb", "VNC" },    { "pgsql", "PostgreSQL" },
};

int vg_dpi_open(struct vg_dpi *d, uint32_t max_live, uint16_t max_pkts, struct vg_err *err)
{
	NDPI_PROTOCOL_BITMASK all;

	memset(d, 0, sizeof(*d));
	/* no Tor host list download, and libgcrypt is only needed for QUIC decryption */
	d->nd = ndpi_init_detection_module(ndpi_dont_load_tor_hosts);
	if (!d->nd)
		return vg_errf(err, ENOMEM, "nDPI: cannot create a detection module");
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(d->nd, &all);
	ndpi_finalize_initialization(d->nd);
	d->max_live = max_live;
	d->max_pkts = max_pkts;
	return 0;
}

static struct ndpi_flow_struct *take(struct vg_dpi *d)
{
	if (d->live >= d->max_live)
		return NULL;
	d->live++;
	if (d->npool)
		return d->pool[--d->npool];
	return calloc(1, SIZEOF_FLOW_STRUCT);
}

void vg_dpi_release(struct vg_dpi *d, struct vg_flow *f)
{
	struct ndpi_flow_struct *s = f->dpi;

	if (!s)
		return;
	f->dpi = NULL;
	d->live--;
	ndpi_free_flow_data(s);
	memset(s, 0, SIZEOF_FLOW_STRUCT);
	if (d->npool == d->pool_cap) {
		uint32_t cap = d->pool_cap ? d->pool_cap * 2 : 256;
		void *p = cap <= d->max_live ? realloc(d->pool, cap * sizeof(*d->pool)) : NULL;

		if (!p) {
			free(s);
			return;
		}
		d->pool = p;
		d->pool_cap = cap;
	}
	d->pool[d->npool++] = s;
}

static void finish(struct vg_dpi *d, struct vg_flow *f, ndpi_protocol pr)
{
	f->app_master = pr.master_protocol;
	f->app_id = pr.app_protocol;
	f->dpi_done = true;
	vg_dpi_release(d, f);
}

void vg_dpi_packet(struct vg_dpi *d, struct vg_flow *f, const uint8_t *l3, uint32_t len,
		   int64_t ts_us)
{
	ndpi_protocol pr;

	if (f->dpi_done)
		return;
	if (!f->dpi) {
		f->dpi = take(d);
		if (!f->dpi) {
			f->dpi_done = true;
			d->skipped++;
			return;
		}
	}
	pr = ndpi_detection_process_packet(d->nd, f->dpi, l3, (unsigned short)len,
					   (uint64_t)ts_us / 1000);
	if (pr.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
	    pr.master_protocol != NDPI_PROTOCOL_UNKNOWN) {
		finish(d, f, pr);
		return;
	}
	if (++f->dpi_pkts >= d->max_pkts)
		vg_dpi_giveup(d, f);
}

void vg_dpi_giveup(struct vg_dpi *d, struct vg_flow *f)
{
	uint8_t guessed = 0;

	if (f->dpi && !f->dpi_done)
		finish(d, f, ndpi_detection_giveup(d->nd, f->dpi, 1, &guessed));
}

const char *vg_dpi_name(const struct vg_dpi *d, const struct vg_flow *f, char *buf, size_t len)
{
	ndpi_protocol pr = { .master_protocol = f->app_master, .app_protocol = f->app_id };

	if (!d->nd || (!f->app_master && !f->app_id))
		return "Unknown";
	return ndpi_protocol2name(d->nd, pr, buf, (u_int)len);
}

int vg_dpi_proto_id(const struct vg_dpi *d, const char *name)
{
	char tmp[64];
	int id;

	if (!d->nd)
		return -1;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(name, aliases[i][0]))
			name = aliases[i][1];
	snprintf(tmp, sizeof(tmp), "%s", name);
	id = ndpi_get_protocol_id(d->nd, tmp);
	return id > 0 ? id : -1;
}

void vg_dpi_close(struct vg_dpi *d)
{
	for (uint32_t i = 0; i < d->npool; i++)
		free(d->pool[i]);
	free(d->pool);
	if (d->nd)
		ndpi_exit_detection_module(d->nd);
	memset(d, 0, sizeof(*d));
}
