// SPDX-License-Identifier: MIT
/*
 * vigil-agent: the device-side agent on its own, linking only the agent, the secure channel
 * and their libraries (libbpf, libseccomp, libsodium), not the rest of vigil. Same commands and
 * options as `vigil agent`.
 */
#include <stdio.h>

#include <bpf/libbpf.h>

#include "cli.h"

int main(int argc, char **argv)
{
	/* libbpf prints its own diagnostics; the agent reports one line per error itself */
	libbpf_set_print(NULL);
	return cmd_agent(argc, argv);
}
