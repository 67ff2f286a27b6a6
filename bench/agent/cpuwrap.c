// SPDX-License-Identifier: MIT
/*
 * Runs a command and prints its CPU time (user + system, in ns, from wait4's rusage) and wall
 * time as one JSON line on stderr: what a traced program itself pays, separate from the
 * tracer's own CPU, on a machine shared with others.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/clock.h"

int main(int argc, char **argv)
{
	struct rusage ru;
	uint64_t t0 = vg_mono_ns(), t1;
	int st = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: sys_cpuwrap PROGRAM [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid)
		return 2;
	t1 = vg_mono_ns();
	fprintf(stderr, "{\"cpu_ns\":%llu,\"wall_ns\":%llu,\"status\":%d}\n",
		(unsigned long long)(ru.ru_utime.tv_sec * 1000000000ll +
				     ru.ru_utime.tv_usec * 1000ll +
				     ru.ru_stime.tv_sec * 1000000000ll +
				     ru.ru_stime.tv_usec * 1000ll),
		(unsigned long long)(t1 - t0), st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
