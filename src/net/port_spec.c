// SPDX-License-Identifier: MIT
/* Port specifications from the command line (vg_port_spec_parse in vigil/net_switch.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/net_switch.h"

static bool good_name(const char *s, size_t n, size_t max)
{
	if (!n || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static int uplink(const char *text, struct vg_port_spec *o, struct vg_err *err)
{
	const char *rest;

	snprintf(o->name, sizeof(o->name), "uplink");
	o->kind = VG_PORT_TAP;
	o->uplink = true;
	if (!strncmp(text, "tap:", 4)) {
		rest = text + 4;
		if (!good_name(rest, strlen(rest), 16))
			return vg_errf(err, EINVAL, "uplink: '%s' is not an interface name", rest);
		snprintf(o->path, sizeof(o->path), "%s", rest);
		return 0;
	}
	if (!strncmp(text, "netns:", 6)) {
		const char *colon;
		size_t n;

		rest = text + 6;
		colon = strrchr(rest, ':');
		n = colon ? (size_t)(colon - rest) : strlen(rest);
		if (!n || n >= sizeof(o->netns))
			return vg_errf(err, EINVAL, "uplink: '%s' names no network namespace",
				       text);
		memcpy(o->netns, rest, n);
		o->netns[n] = 0;
		snprintf(o->path, sizeof(o->path), "%s", colon ? colon + 1 : "vigil0");
		if (!good_name(o->path, strlen(o->path), 16))
			return vg_errf(err, EINVAL, "uplink: '%s' is not an interface name",
				       o->path);
		return 0;
	}
	return vg_errf(err, EINVAL, "uplink '%s': expected tap:IFNAME or netns:NS[:IFNAME]", text);
}

int vg_port_spec_parse(const char *text, bool is_uplink, struct vg_port_spec *o, struct vg_err *err)
{
	const char *eq, *path;

	memset(o, 0, sizeof(*o));
	if (is_uplink)
		return uplink(text, o, err);
	eq = strchr(text, '=');
	if (!eq || !good_name(text, (size_t)(eq - text), sizeof(o->name)))
		return vg_errf(err, EINVAL,
			       "port '%s': expected NAME=PATH, NAME=stream:PATH or NAME=dgram:PATH "
			       "(NAME: letters, digits, '_', '.', '-')",
			       text);
	memcpy(o->name, text, (size_t)(eq - text));
	path = eq + 1;
	o->kind = VG_PORT_STREAM;
	if (!strncmp(path, "stream:", 7)) {
		path += 7;
	} else if (!strncmp(path, "dgram:", 6)) {
		path += 6;
		o->kind = VG_PORT_DGRAM;
	}
	if (!*path || strlen(path) >= sizeof(o->path))
		return vg_errf(err, EINVAL, "port %s: the socket path is empty or longer than %zu",
			       o->name, sizeof(o->path) - 1);
	snprintf(o->path, sizeof(o->path), "%s", path);
	if (!strcmp(o->name, "uplink"))
		return vg_errf(err, EINVAL, "port name 'uplink' is the uplink's");
	return 0;
}
