// SPDX-License-Identifier: MIT
/*
 * vigil vmi mount|exec: the guest's /proc as a file system, or as the /proc of one command, so
 * unmodified tools (ps, netstat, lsmod, pstree, top) show the guest's kernel view.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "vigil/procview.h"
#include "vmi_open.h"
#include "vmi_view.h"

static void help(const char *cmd, const char *args, const char *what)
{
	printf("Usage: %s vmi %s --vm SOURCE [--ttl MS] [--format KIND] [--symbols FILE] "
	       "[--btf FILE] [--no-cache] %s\n\n%s\n\n"
	       "SOURCE is a QEMU memory-backend file, a dump, or remote://HOST:PORT/NAME.\n"
	       "  --ttl MS        how long one look at the guest answers (default 1000)\n",
	       PROG_NAME, cmd, args, what);
}

static int open_view(const struct vmi_args *a, struct vg_guest *g, struct vg_procview **pv)
{
	struct vg_procview_opts o = { .ttl_ms = a->ttl_ms };
	struct vg_err err = { 0 };

	if (vmi_open(a, g))
		return EXIT_ERROR;
	if (vg_procview_new(pv, g, &o, &err)) {
		vg_guest_close(g);
		return cli_fail_err(&err);
	}
	return 0;
}

int vmi_do_mount(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	struct vg_procview *pv;
	struct vg_err err = { 0 };
	int rc;

	if (vmi_parse(argc, argv, VMI_OPT_VIEW, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("mount", "[--allow-other] DIR",
		     "Mounts the guest's /proc, generated from its kernel's memory, at DIR and "
		     "serves it\nuntil DIR is unmounted or vigil is interrupted. Hidden processes "
		     "are listed and\nmarked (VigilHidden: in their status, and "
		     "DIR/vigil-hidden).\n"
		     "  --allow-other   let other users read it (they see the guest's processes)");
		return EXIT_OK;
	}
	if (a.npos != 1)
		return cli_fail("mount: expected one DIR; see --help");
	if (open_view(&a, &g, &pv))
		return EXIT_ERROR;
	rc = vg_procview_mount(pv, a.pos[0], a.allow_other, NULL, &err) ? cli_fail_err(&err)
									: EXIT_OK;
	vg_procview_free(pv);
	vg_guest_close(&g);
	return rc;
}

int vmi_do_exec(int argc, char **argv)
{
	struct vmi_args a;
	struct vg_guest g;
	struct vg_procview *pv;
	struct vg_err err = { 0 };
	int dash = 0, status = 0;

	for (int i = 1; i < argc && !dash; i++)
		if (!strcmp(argv[i], "--"))
			dash = i;
	if (vmi_parse(dash ? dash : argc, argv, VMI_OPT_VIEW, &a))
		return EXIT_ERROR;
	if (a.help) {
		help("exec", "-- CMD [ARG...]",
		     "Runs CMD with the guest's /proc in place of the host's (a private mount "
		     "namespace:\nnothing else changes), so ps, netstat, lsmod, pstree or top show "
		     "the guest.\nExits with CMD's status. Needs root.");
		return EXIT_OK;
	}
	if (a.npos)
		return cli_fail("exec: unexpected argument '%s' (the command goes after --)",
				a.pos[0]);
	if (!dash || dash == argc - 1)
		return cli_fail("exec: expected -- CMD [ARG...]; see --help");
	if (open_view(&a, &g, &pv))
		return EXIT_ERROR;
	fflush(stdout);
	if (vg_procview_exec(pv, argv + dash + 1, &status, &err)) {
		vg_procview_free(pv);
		vg_guest_close(&g);
		return cli_fail_err(&err);
	}
	vg_procview_free(pv);
	vg_guest_close(&g);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
