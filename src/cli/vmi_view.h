/* SPDX-License-Identifier: MIT */
/* vigil vmi mount / exec: the guest's /proc view (vigil/procview.h). */
#ifndef VIGIL_CLI_VMI_VIEW_H
#define VIGIL_CLI_VMI_VIEW_H

int vmi_do_mount(int argc, char **argv);
int vmi_do_exec(int argc, char **argv);

#endif
