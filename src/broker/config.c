// SPDX-License-Identifier: MIT
/*
 * The broker's configuration file (grammar in broker.h and docs/broker.md). It says who may
 * read which guest, so the parser is strict: a typo must never widen access. Every error names
 * the line.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/broker.h"

#define MAX_FILE (1u << 20)
#define MAX_LINE 4096
#define MAX_VMS 256
#define MAX_KEYS 1024

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_str(char **dst, const char *v, const char *key, int line, struct vg_err *err)
{
	if (*dst)
		return vg_errf(err, EINVAL, "line %d: %s given twice", line, key);
	if (!*v)
		return vg_errf(err, EINVAL, "line %d: %s needs a value", line, key);
	*dst = strdup(v);
	return *dst ? 0 : vg_errf(err, ENOMEM, "out of memory");
}

static int add_keys(struct vg_broker_vm *vm, char *v, int line, struct vg_err *err)
{
	char *save = NULL;
	int any = 0;

	for (char *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		uint8_t pk[VG_WIRE_KEY_LEN];
		void *p;

		if (vg_wire_key_decode(w, pk))
			return vg_errf(err, EINVAL, "line %d: '%.60s' is not a base64 public key",
				       line, w);
		for (size_t i = 0; i < vm->nallow; i++)
			if (!memcmp(vm->allow[i], pk, sizeof(pk)))
				return vg_errf(err, EINVAL, "line %d: key %.60s given twice", line,
					       w);
		if (vm->nallow >= MAX_KEYS)
			return vg_errf(err, E2BIG, "line %d: more than %d keys for guest %s", line,
				       MAX_KEYS, vm->name);
		p = realloc(vm->allow, (vm->nallow + 1) * sizeof(*vm->allow));
		if (!p)
			return vg_errf(err, ENOMEM, "out of memory");
		vm->allow = p;
		memcpy(vm->allow[vm->nallow++], pk, sizeof(pk));
		any = 1;
	}
	return any ? 0 : vg_errf(err, EINVAL, "line %d: allow needs at least one key", line);
}

static int new_vm(struct vg_broker_config *c, const char *name, int line, struct vg_err *err)
{
	struct vg_broker_vm *p;

	if (!vg_broker_name_ok(name, strlen(name)))
		return vg_errf(err, EINVAL,
			       "line %d: guest name '%.70s' (1-%d of A-Z a-z 0-9 . _ -, not "
			       "starting with '.')",
			       line, name, VG_BROKER_MAX_NAME);
	if (vg_broker_config_vm(c, name))
		return vg_errf(err, EINVAL, "line %d: guest %s given twice", line, name);
	if (c->nvms >= MAX_VMS)
		return vg_errf(err, E2BIG, "line %d: more than %d guests", line, MAX_VMS);
	p = realloc(c->vms, (c->nvms + 1) * sizeof(*p));
	if (!p)
		return vg_errf(err, ENOMEM, "out of memory");
	c->vms = p;
	memset(&c->vms[c->nvms], 0, sizeof(*p));
	snprintf(c->vms[c->nvms].name, sizeof(c->vms[c->nvms].name), "%s", name);
	c->nvms++;
	return 0;
}

static int section(struct vg_broker_config *c, char *s, int *in_vm, int line, struct vg_err *err)
{
	char *end = strchr(s, ']');

	if (!end || *trim(end + 1))
		return vg_errf(err, EINVAL, "line %d: a section is [broker] or [vm NAME]", line);
	*end = '\0';
	s = trim(s + 1);
	if (!strcmp(s, "broker")) {
		*in_vm = 0;
		return 0;
	}
	if (!strncmp(s, "vm", 2) && isspace((unsigned char)s[2])) {
		*in_vm = 1;
		return new_vm(c, trim(s + 2), line, err);
	}
	return vg_errf(err, EINVAL, "line %d: unknown section [%.60s]", line, s);
}

static int pair(struct vg_broker_config *c, int in_vm, char *k, char *v, int line,
		struct vg_err *err)
{
	struct vg_broker_vm *vm = in_vm ? &c->vms[c->nvms - 1] : NULL;

	if (in_vm < 0)
		return vg_errf(err, EINVAL, "line %d: '%.40s' outside a section", line, k);
	if (!vm && !strcmp(k, "listen")) {
		char h[256], p[16];

		if (vg_wire_split_hostport(v, h, sizeof(h), p, sizeof(p)))
			return vg_errf(err, EINVAL, "line %d: listen is HOST:PORT, not '%.60s'",
				       line, v);
		return set_str(&c->listen, v, k, line, err);
	}
	if (!vm && !strcmp(k, "key"))
		return set_str(&c->key, v, k, line, err);
	if (vm && !strcmp(k, "memory"))
		return set_str(&vm->memory, v, k, line, err);
	if (vm && !strcmp(k, "format")) {
		if (strcmp(v, "auto") && strcmp(v, "raw") && strcmp(v, "elf") && strcmp(v, "lime"))
			return vg_errf(err, EINVAL,
				       "line %d: format is auto, raw, elf or lime, not '%.40s'",
				       line, v);
		return set_str(&vm->format, v, k, line, err);
	}
	if (vm && !strcmp(k, "allow"))
		return add_keys(vm, v, line, err);
	return vg_errf(err, EINVAL, "line %d: unknown key '%.40s' in [%s]", line, k,
		       vm ? "vm" : "broker");
}

int vg_broker_config_parse(struct vg_broker_config *c, const char *text, size_t len,
			   struct vg_err *err)
{
	char buf[MAX_LINE + 2];
	size_t pos = 0;
	int line = 0, in_vm = -1, ret = 0;

	memset(c, 0, sizeof(*c));
	if (len > MAX_FILE)
		return vg_errf(err, EFBIG, "configuration larger than %u bytes", MAX_FILE);
	while (pos < len && !ret) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *s, *eq;

		line++;
		if (n > MAX_LINE) {
			ret = vg_errf(err, EINVAL, "line %d: longer than %d bytes", line, MAX_LINE);
			break;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(buf, '\0', n)) {
			ret = vg_errf(err, EINVAL, "line %d: a NUL byte", line);
			break;
		}
		if ((s = strchr(buf, '#')))
			*s = '\0';
		s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[') {
			ret = section(c, s, &in_vm, line, err);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			ret = vg_errf(err, EINVAL, "line %d: expected key = value", line);
			break;
		}
		*eq = '\0';
		ret = pair(c, in_vm, trim(s), trim(eq + 1), line, err);
	}
	for (size_t i = 0; !ret && i < c->nvms; i++)
		if (!c->vms[i].memory)
			ret = vg_errf(err, EINVAL, "guest %s has no memory file", c->vms[i].name);
	if (ret)
		vg_broker_config_free(c);
	return ret;
}

int vg_broker_config_load(struct vg_broker_config *c, const char *path, struct vg_err *err)
{
	struct stat st;
	char *text;
	ssize_t n;
	int fd, ret;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vg_errf(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		close(fd);
		return vg_errf(err, EINVAL, "%s: not a regular file of at most %u bytes", path,
			       MAX_FILE);
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(text);
		return vg_errf(err, errno, "%s: %s", path, strerror(errno));
	}
	ret = vg_broker_config_parse(c, text, (size_t)n, err);
	free(text);
	if (ret)
		vg_err_prefix(err, "%s", path);
	return ret;
}

void vg_broker_config_free(struct vg_broker_config *c)
{
	for (size_t i = 0; i < c->nvms; i++) {
		free(c->vms[i].memory);
		free(c->vms[i].format);
		free(c->vms[i].allow);
	}
	free(c->vms);
	free(c->listen);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

const struct vg_broker_vm *vg_broker_config_vm(const struct vg_broker_config *c, const char *name)
{
	for (size_t i = 0; i < c->nvms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

bool vg_broker_vm_allows(const struct vg_broker_vm *vm, const uint8_t pk[VG_WIRE_KEY_LEN])
{
	bool ok = false;

	/* every entry is compared, in constant time each */
	for (size_t i = 0; i < vm->nallow; i++)
		ok |= sodium_memcmp(vm->allow[i], pk, VG_WIRE_KEY_LEN) == 0;
	return ok;
}

bool vg_broker_config_knows(const struct vg_broker_config *c, const uint8_t pk[VG_WIRE_KEY_LEN])
{
	bool ok = false;

	for (size_t i = 0; i < c->nvms; i++)
		ok |= vg_broker_vm_allows(&c->vms[i], pk);
	return ok;
}
