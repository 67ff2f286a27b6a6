// SPDX-License-Identifier: MIT
/*
 * vigil: the command table (wireguard-tools style). Each group lives in its own file and
 * dispatches its commands through cli_dispatch().
 */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "vigil/json.h"

static int cmd_version(int argc, char **argv)
{
	struct cli_common co;
	struct vg_json j;

	if (cli_parse_common(argc, argv, &co))
		return EXIT_ERROR;
	if (co.help) {
		printf("Usage: %s version [-j|-p]\n", PROG_NAME);
		return EXIT_OK;
	}
	if (!co.json) {
		printf("%s %s\n", PROG_NAME, VIGIL_VERSION);
		return EXIT_OK;
	}
	vg_json_init(&j, stdout, co.pretty);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "name", PROG_NAME);
	vg_json_kstr(&j, "version", VIGIL_VERSION);
	vg_json_obj_close(&j);
	vg_json_end(&j);
	return EXIT_OK;
}

static const struct cli_cmd groups[] = {
	{ "vmi", cmd_vmi, "introspect a running Linux guest from its RAM (info, ps, lsmod, read)" },
	{ "ids", cmd_ids, "out-of-VM intrusion detection: rootkit, backdoor and tampering checks" },
	{ "cfa", cmd_cfa, "control-flow attestation: model, trace, verify, run, reports" },
	{ "agent", cmd_agent, "device agent: record a program's syscalls and call sites for a gateway" },
	{ "sandbox", cmd_sandbox,
	  "malware sandbox: run ARM samples, verdicts, behaviours, scores" },
	{ "broker", cmd_broker, "serve guest memory to remote vigil hosts over the secure channel" },
	{ "key", cmd_key, "key pairs for the secure channel (gen, pub)" },
	{ "proxy", cmd_proxy, "run a service with its network calls executed in another domain" },
	{ "net", cmd_net, "virtual switch for QEMU guests with inline inspection, captures" },
	{ "disk", cmd_disk, "guest disk images and RAM disks: rootkit files, YARA, baselines" },
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
