// SPDX-License-Identifier: MIT
/*
 * The gateway's device registry (format in include/vigil/sysserve.h): devices by public key,
 * each with its stream state, and the syscall models they share, loaded once per path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys_serve_int.h"

#define MAX_DEVICES 100000

static bool good_id(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= VG_SB_DEVICE_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int model_for(struct sys_registry *r, const char *path, uint32_t *out, struct vg_err *err)
{
	for (uint32_t i = 0; i < r->nmodels; i++)
		if (!strcmp(r->models[i].path, path)) {
			*out = i;
			return 0;
		}
	if (r->nmodels == r->capmodels) {
		uint32_t cap = r->capmodels ? r->capmodels * 2 : 8;
		void *p = realloc(r->models, cap * sizeof(*r->models));

		if (!p)
			return vg_errf(err, ENOMEM, "out of memory");
		r->models = p;
		r->capmodels = cap;
	}
	memset(&r->models[r->nmodels], 0, sizeof(r->models[0]));
	snprintf(r->models[r->nmodels].path, sizeof(r->models[0].path), "%s", path);
	if (vg_sys_model_load(&r->models[r->nmodels].m, path, err))
		return -EINVAL;
	*out = r->nmodels++;
	return 0;
}

static uint32_t key_slot(const uint8_t pk[32], uint32_t cap)
{
	uint32_t h;

	memcpy(&h, pk, sizeof(h)); /* public keys are uniformly random */
	return h & (cap - 1);
}

static int index_keys(struct sys_registry *r, struct vg_err *err)
{
	r->keycap = 16;
	while (r->keycap < r->ndev * 2)
		r->keycap *= 2;
	r->bykey = malloc(r->keycap * sizeof(*r->bykey));
	if (!r->bykey)
		return vg_errf(err, ENOMEM, "out of memory");
	memset(r->bykey, 0xff, r->keycap * sizeof(*r->bykey));
	for (uint32_t i = 0; i < r->ndev; i++) {
		uint32_t k = key_slot(r->dev[i].pk, r->keycap);

		for (; r->bykey[k] != UINT32_MAX; k = (k + 1) & (r->keycap - 1))
			if (!memcmp(r->dev[r->bykey[k]].pk, r->dev[i].pk, 32))
				return vg_errf(err, EINVAL,
					       "registry: devices %s and %s share a key",
					       r->dev[r->bykey[k]].id, r->dev[i].id);
		r->bykey[k] = i;
	}
	return 0;
}

int vg_sys_registry_load(struct sys_registry *r, const char *path, struct vg_err *err)
{
	FILE *f = fopen(path, "re");
	char line[8192];
	unsigned lineno = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!f)
		return vg_errf(err, errno, "%s: %m", path);
	while (!rc && fgets(line, sizeof(line), f)) {
		char id[64], key[128], model[4096], program[256] = "";
		struct sys_device *d;
		int n;

		lineno++;
		line[strcspn(line, "#\n")] = 0;
		n = sscanf(line, "%63s %127s %4095s %255s", id, key, model, program);
		if (n <= 0)
			continue;
		if (n < 3 || !good_id(id)) {
			rc = vg_errf(err, EINVAL,
				     "%s:%u: expected \"ID PUBLIC-KEY MODEL [PROGRAM]\" "
				     "with an ID of letters, digits, '.', '_', '-'",
				     path, lineno);
			break;
		}
		if (r->ndev >= MAX_DEVICES) {
			rc = vg_errf(err, E2BIG, "%s: more than %d devices", path, MAX_DEVICES);
			break;
		}
		if (r->ndev == r->capdev) {
			uint32_t cap = r->capdev ? r->capdev * 2 : 64;
			void *p = realloc(r->dev, cap * sizeof(*r->dev));

			if (!p) {
				rc = vg_errf(err, ENOMEM, "out of memory");
				break;
			}
			r->dev = p;
			r->capdev = cap;
		}
		d = &r->dev[r->ndev];
		memset(d, 0, sizeof(*d));
		snprintf(d->id, sizeof(d->id), "%s", id);
		if (vg_wire_key_decode(key, d->pk)) {
			rc = vg_errf(err, EINVAL, "%s:%u: '%s' is not a base64 public key", path,
				     lineno, key);
			break;
		}
		if ((rc = model_for(r, model, &d->model, err))) {
			vg_err_prefix(err, "%s:%u", path, lineno);
			break;
		}
		if (*program)
			snprintf(d->program, sizeof(d->program), "%s", program);
		else
			snprintf(d->program, sizeof(d->program), "%s",
				 vg_sys_str(&r->models[d->model].m,
					    r->models[d->model].m.mods[0].name));
		d->session = -1;
		r->ndev++;
	}
	fclose(f);
	if (!rc && !r->ndev)
		rc = vg_errf(err, EINVAL, "%s: no devices", path);
	if (!rc)
		rc = index_keys(r, err);
	if (rc)
		vg_sys_registry_free(r);
	return rc;
}

struct sys_device *vg_sys_registry_find(const struct sys_registry *r, const uint8_t pk[32])
{
	if (!r->keycap)
		return NULL;
	for (uint32_t k = key_slot(pk, r->keycap); r->bykey[k] != UINT32_MAX;
	     k = (k + 1) & (r->keycap - 1))
		if (!memcmp(r->dev[r->bykey[k]].pk, pk, 32))
			return &r->dev[r->bykey[k]];
	return NULL;
}

void vg_sys_registry_free(struct sys_registry *r)
{
	for (uint32_t i = 0; i < r->ndev; i++)
		if (r->dev[i].has_stream)
			vg_sys_stream_free(&r->dev[i].stream);
	for (uint32_t i = 0; i < r->nmodels; i++)
		vg_sys_model_free(&r->models[i].m);
	free(r->dev);
	free(r->models);
	free(r->bykey);
	memset(r, 0, sizeof(*r));
}
