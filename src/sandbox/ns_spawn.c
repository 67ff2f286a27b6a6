// SPDX-License-Identifier: MIT
/*
 * Starting an untrusted process in a namespace environment (env_ns.h): fork, enter a new user
 * namespace, wait for the supervisor to map root to SBX_UID and move the process into its
 * cgroup, then give up every capability and exec qemu-arm-static by file descriptor. The
 * handshake's order matters: the cgroup is joined and the identity mapped before the first
 * instruction of the sample runs, so a fork bomb is counted from its first fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "env_ns.h"

static void child_fail(int err_w, int e)
{
	(void)write(err_w, &e, sizeof(e));
	_exit(127);
}

static void drop_caps(int err_w)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };

	/* no capability regained by exec, not even as root of the user namespace */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
		  0, 0, 0) < 0)
		child_fail(err_w, errno);
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(err_w, errno);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) < 0)
		child_fail(err_w, errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(err_w, errno);
}

static int write_map(int proc_fd, pid_t pid, const char *file)
{
	char path[64], map[64];
	int fd, n, r = 0;

	snprintf(path, sizeof(path), "%d/%s", (int)pid, file);
	n = snprintf(map, sizeof(map), "0 %d 1\n", SBX_UID);
	fd = openat(proc_fd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, map, (size_t)n) != n)
		r = -errno;
	close(fd);
	return r;
}

pid_t sbx_ns_spawn(struct sbx_env *env, int which, char *const argv[], const int fds[4],
		   bool sample, int *exec_err)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
				      "TERM=vt100", "USER=root", NULL };
	int sync[2], go[2], ep[2], r;
	char c;
	pid_t pid;

	*exec_err = -1;
	if (pipe2(sync, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		r = -errno;
		close(sync[0]);
		close(sync[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		int e = ep[1];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		/* a session of its own: kill(0) or kill(-pgid) by one reaches no other */
		setsid();
		if (unshare(CLONE_NEWUSER) < 0)
			child_fail(e, errno);
		if (write(sync[1], "u", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(127);
		if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			child_fail(e, errno);
		if (sample) {
			/* no nested user namespaces: nothing below may regain capabilities */
			int fd = openat(env->proc_fd, "sys/user/max_user_namespaces",
					O_WRONLY | O_CLOEXEC);

			if (fd >= 0) {
				(void)write(fd, "0", 1);
				close(fd);
			}
		}
		if (chdir(sample ? NS_RUN_DIR : "/") < 0)
			child_fail(e, errno);
		/* fd layout: 0-2 stdio, 3 trace, 4 qemu, 5 exec errors; nothing else. Everything
		 * is first copied above 16 so no target number overwrites a source. */
		int hi[6];
		for (int i = 0; i < 4; i++)
			hi[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 16) : -2;
		hi[4] = fcntl(env->qemu_fd, F_DUPFD_CLOEXEC, 16);
		hi[5] = fcntl(e, F_DUPFD_CLOEXEC, 16);
		for (int i = 0; i < 6; i++)
			if (hi[i] == -1)
				child_fail(e, errno);
		for (int i = 0; i < 4; i++)
			if (hi[i] >= 0 && dup2(hi[i], i) < 0)
				child_fail(e, errno);
		if (dup3(hi[4], 4, O_CLOEXEC) < 0 || dup3(hi[5], 5, O_CLOEXEC) < 0)
			child_fail(e, errno);
		close_range(6, ~0u, 0);
		if (fds[3] < 0)
			close(3);
		drop_caps(5);
		syscall(SYS_execveat, 4, "", argv, envp, AT_EMPTY_PATH);
		child_fail(5, errno);
	}
	close(sync[1]);
	sync[1] = -1;
	if (read(sync[0], &c, 1) != 1) {
		r = -EIO; /* the child failed before its user namespace; ep tells why */
		goto fail_child;
	}
	if ((r = write_map(env->proc_fd, pid, "uid_map")) ||
	    (r = write_map(env->proc_fd, pid, "gid_map")) ||
	    (r = sbx_ns_cg_attach(&env->cg, which, pid)))
		goto fail_child;
	if (write(go[1], "g", 1) != 1) {
		r = -EIO;
		goto fail_child;
	}
	*exec_err = ep[0];
	ep[0] = -1;
	r = 0;
	goto out;
fail_child:
	kill(pid, SIGKILL);
out:
	for (int *p = (int[]){ sync[0], sync[1], go[0], go[1], ep[0], ep[1] }, i = 0; i < 6; i++)
		if (p[i] >= 0)
			close(p[i]);
	return r < 0 ? r : pid;
}
