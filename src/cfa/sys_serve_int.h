/* SPDX-License-Identifier: MIT */
/* Internal to the gateway: the device registry (sys_registry.c) and the server (sys_serve.c). */
#ifndef VIGIL_CFA_SYS_SERVE_INT_H
#define VIGIL_CFA_SYS_SERVE_INT_H

#include <limits.h>

#include "sys_stream_int.h"
#include "vigil/sysserve.h"

struct sys_model_ent {
	char path[PATH_MAX];
	struct vg_sys_model m;
};

struct sys_device {
	char id[VG_SB_DEVICE_MAX];
	uint8_t pk[32];
	uint32_t model;
	char program[256];
	bool has_stream;
	struct vg_sys_stream stream;
	int session; /* the connected session, -1 */
	bool seen;   /* has connected at least once */
	uint64_t checkpoints;
};

struct sys_registry {
	struct sys_device *dev;
	uint32_t ndev, capdev;
	struct sys_model_ent *models;
	uint32_t nmodels, capmodels;
	uint32_t *bykey; /* open addressing over dev indices, UINT32_MAX empty */
	uint32_t keycap;
};

int vg_sys_registry_load(struct sys_registry *r, const char *path, struct vg_err *err);
struct sys_device *vg_sys_registry_find(const struct sys_registry *r, const uint8_t pk[32]);
void vg_sys_registry_free(struct sys_registry *r);

#endif
