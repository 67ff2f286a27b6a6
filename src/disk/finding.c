// SPDX-License-Identifier: MIT
/* Disk findings, the table of checks, and their alert form (the envelope is core/alert.c's). */
#include <stdlib.h>
#include <string.h>

#include "vigil/disk_scan.h"

const struct vg_disk_check vg_disk_checks[] = {
	{ "rootkit-file", "T1014", "files and directories known rootkits and worms leave" },
	{ "rootkit-config", "T1543", "backdoor lines in inetd.conf, passwd, crontabs, rc scripts" },
	{ "trojaned-binary", "T1554", "strings of known trojaned system binaries" },
	{ "preload-hider", "T1574.006", "/etc/ld.so.preload and the libraries it loads" },
	{ "log-tampering", "T1070.002", "deleted wtmp records, logins missing from lastlog" },
	{ "dev-file", "T1564.001", "regular files in /dev that hold rootkit configuration" },
	{ "hidden-file", "T1564.001", "dot and dot-space names in system paths, shadowed files" },
	{ "dir-link-count", "T1564.001",
	  "directories whose link count disagrees with their "
	  "subdirectories (chkdirs)" },
	{ "suid-file", "T1548.001", "setuid/setgid where none belongs" },
	{ "world-writable", "T1222.002", "system files and directories anyone may change" },
	{ "unreachable-inode", "T1564", "allocated inodes with links that no directory lists" },
	{ "deleted-open", "T1070.004", "files deleted while a process still holds them" },
	{ "fs-anomaly", NULL, "directory loops, corrupt entries, unreadable files, limits" },
	{ "yara-match", NULL, "a YARA rule matched a file's content" },
	{ "file-added", NULL, "a file the baseline does not have" },
	{ "file-removed", "T1070.004", "a baseline file that is gone" },
	{ "file-changed", "T1565.001", "content, mode, owner, size, link or inode times changed" },
	{ "deleted-in-use", "T1070.004", "memory: a running or open file deleted from the disk" },
	{ "hidden-in-use", "T1564",
	  "memory: a file the kernel holds that no directory on disk "
	  "lists" },
	{ "changed-on-disk", "T1565.001", "memory: cached content or inode differs from the disk" },
	{ NULL, NULL, NULL },
};

bool vg_disk_check_known(const char *id)
{
	for (const struct vg_disk_check *c = vg_disk_checks; c->id; c++)
		if (!strcmp(c->id, id))
			return true;
	return false;
}

void vg_dfinding_free(struct vg_dfinding *f)
{
	free(f->target);
	free(f->kind);
	free(f->summary);
	free(f->evidence);
	free(f->attack_owned);
	memset(f, 0, sizeof(*f));
}

void vg_dfindings_free(struct vg_dfindings *f)
{
	for (size_t i = 0; i < f->n; i++)
		vg_dfinding_free(&f->v[i]);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

void vg_dfinding_alert(const struct vg_dfinding *f, struct vg_alert *a)
{
	*a = (struct vg_alert){
		.source = "disk",
		.target_kind = f->kind,
		.target_id = f->target,
		.check = f->check,
		.severity = f->severity,
		.summary = f->summary,
		.evidence = f->evidence,
		.attack = f->attack,
	};
}
