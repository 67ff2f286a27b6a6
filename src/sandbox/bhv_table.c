// SPDX-License-Identifier: MIT
/*
 * The behaviours' stable ids, ATT&CK techniques and default weights (docs/sandbox.md), and
 * lookups over them. Data and leaf helpers only: the rules that detect each behaviour are in
 * behaviour.c.
 */
#include <stdio.h>
#include <string.h>

#include "vigil/sandbox.h"

const struct sbx_bhv_info sbx_bhv_table[SBX_B__COUNT] = {
	[SBX_B_SCAN] = { "scan", "T1046", 15, "connections to many hosts or ports" },
	[SBX_B_BRUTE] = { "brute-force", "T1110.001", 20,
			  "login attempts on telnet (23, 2323) or SSH (22)" },
	[SBX_B_CNC] = { "c2", "T1071", 15,
			"connection to a resolved name or repeated sessions to one host" },
	[SBX_B_DNS] = { "dns-lookup", "T1071.004", 5, "DNS lookups" },
	[SBX_B_FLOOD] = { "flood", "T1498", 15, "many packets or sessions to one destination" },
	[SBX_B_LISTEN] = { "listen", "T1571", 20, "a listening socket (bind shell, backdoor)" },
	[SBX_B_SELF_DELETE] = { "self-delete", "T1070.004", 15, "deleted its own file" },
	[SBX_B_PERSIST] = { "persistence", "T1037", 20,
			    "wrote init scripts, rc files, crontabs, systemd units or profiles" },
	[SBX_B_ENCRYPT] = { "encrypt", "T1486", 30, "rewrote files with near-random content" },
	[SBX_B_DESTROY] = { "delete-files", "T1485", 10, "deleted files other than itself" },
	[SBX_B_FORK] = { "fork", "T1106", 2, "created processes" },
	[SBX_B_EXEC] = { "exec", "T1059", 5, "executed programs" },
	[SBX_B_KILL] = { "kill", "T1562.001", 10, "signalled processes outside its own tree" },
	[SBX_B_RENAME] = { "rename", "T1036.004", 10,
			   "renamed its process (prctl, or argv where the environment can see "
			   "it)" },
	[SBX_B_SERVICE_STOP] = { "service-stop", "T1489", 25,
				 "a service answering before the run did not answer after it" },
	[SBX_B_RESOURCE] = { "resource-hijack", "T1496", 10,
			     "mining protocol, or busy until the deadline" },
	[SBX_B_ESCAPE] = { "escape-attempt", "T1611", 25,
			   "mount, namespace, module, ptrace or device calls aimed at the host" },
	[SBX_B_REBOOT] = { "reboot", "T1529", 20, "tried to reboot or halt" },
	[SBX_B_EXHAUST] = { "exhaust-limits", "T1499", 15,
			    "hit the process-count or memory limit (fork or memory bomb)" },
};

int sbx_bhv_find(const char *id)
{
	for (int i = 0; i < SBX_B__COUNT; i++)
		if (!strcmp(sbx_bhv_table[i].id, id))
			return i;
	return -1;
}

void sbx_bhv_list(uint32_t bhv, char *buf, size_t len)
{
	size_t at = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (int b = 0; b < SBX_B__COUNT; b++) {
		int n;

		if (!(bhv & (1u << b)))
			continue;
		n = snprintf(buf + at, len - at, "%s%s", at ? ";" : "", sbx_bhv_table[b].id);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
}
