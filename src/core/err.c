// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "vigil/err.h"

int vg_errf(struct vg_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code < 0)
		code = -code;
	if (!err)
		return -code;
	if (err->code)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -code;
}

int vg_err_prefix(struct vg_err *err, const char *fmt, ...)
{
	char head[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err || !err->code)
		return err ? -err->code : 0;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%.200s: %.300s", head, old);
	return -err->code;
}

void vg_err_clear(struct vg_err *err)
{
	err->code = 0;
	err->msg[0] = '\0';
}
