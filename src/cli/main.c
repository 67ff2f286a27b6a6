// SPDX-License-Identifier: MIT
/*
 * vigil: the command table (wireguard-tools style). Each group lives in its own file and
 * dispatches its commands through cli_dispatch().
 */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	bool json = argc > 1 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json"));

	if (argc > 1 && !json) {
		if (strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
			return cli_fail("version: unknown option '%s'", argv[1]);
		printf("Usage: %s version [-j]\n", PROG_NAME);
		return EXIT_OK;
	}
	if (json)
		printf("{\"name\":\"%s\",\"version\":\"%s\"}\n", PROG_NAME, VIGIL_VERSION);
	else
		printf("%s %s\n", PROG_NAME, VIGIL_VERSION);
	return EXIT_OK;
}

static const struct cli_cmd groups[] = {
	{ "vmi", cmd_vmi, "introspect a running Linux guest from its RAM (info, ps, lsmod, read)" },
	{ "ids", cmd_ids, "out-of-VM intrusion detection: rootkit, backdoor and tampering checks" },
	{ "cfa", cmd_cfa, "control-flow attestation: model, trace, verify, run, reports" },
	{ "agent", cmd_agent, "device agent: record a program's syscalls and call sites for a gateway" },
	{ "sandbox", cmd_sandbox,
	  "malware sandbox: run ARM samples, verdicts, behaviours, scores" },
	{ "version", cmd_version, "print vigil's version" },
	{ NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	/* libbpf prints its own diagnostics; vigil reports one line per error itself */
	libbpf_set_print(NULL);
	return cli_dispatch(NULL, groups, argc - 1, argv + 1);
}
