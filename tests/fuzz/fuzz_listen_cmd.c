// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the reading of a listener's argv (src/ids/listen_cmd.c), which is the
 * guest's: the first byte picks the process name (the netcats, a shell, an interpreter), the
 * rest is the argv as the task list keeps it (joined by spaces, at most VG_CMDLINE_MAX bytes).
 * The program it reports must be a NUL-terminated prefix of some word of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ids/checks_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const comms[] = { "nc",	   "ncat", "netcat",  "socat",
					     "nc.openbsd", "sh",   "python3", "httpd" };
	struct vg_listen_exec x;
	const char *comm;
	char *cmd;

	if (!size)
		return 0;
	comm = comms[data[0] % (sizeof(comms) / sizeof(comms[0]))];
	size--;
	if (size > VG_CMDLINE_MAX - 1)
		size = VG_CMDLINE_MAX - 1;
	cmd = malloc(size + 1);
	if (!cmd)
		return 0;
	memcpy(cmd, data + 1, size);
	cmd[size] = 0;
	vg_ids_listen_exec(comm, cmd, &x);
	if (strnlen(x.prog, sizeof(x.prog)) == sizeof(x.prog) || (x.prog[0] && !x.found) ||
	    (x.shell && !x.found) || (x.found && !x.netcat) || (x.prog[0] && !strstr(cmd, x.prog)))
		abort();
	vg_ids_stdin_shell(comm, cmd);
	vg_ids_shell_name(cmd);
	free(cmd);
	return 0;
}
