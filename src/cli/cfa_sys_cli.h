/* SPDX-License-Identifier: MIT */
/* Internal to `vigil cfa`: the syscall-level commands (cfa_sys.c, cfa_serve.c). */
#ifndef VIGIL_CLI_CFA_SYS_H
#define VIGIL_CLI_CFA_SYS_H

/* `vigil cfa model --syscalls ...`: cfa.c's model command hands over when it sees --syscalls. */
int cfa_sys_model(int argc, char **argv);
int cfa_sys_verify(int argc, char **argv);
int cfa_serve(int argc, char **argv);

#endif
