// SPDX-License-Identifier: MIT
/*
 * Bench workloads for the agent.
 *   getppid N      N getppid() calls: the cheapest syscall, the tracer's cost made visible
 *   service N      a steady request loop (stat, open/read/close, write to /dev/null, getppid,
 *                  nanosleep(0) every 64 requests): what a small device service does, N times
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	char buf[512];
	int out;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "getppid")) {
		for (long i = 0; i < n; i++)
			getppid();
		return 0;
	}
	out = open("/dev/null", O_WRONLY);
	for (long i = 0; i < n; i++) {
		struct stat st;
		int fd = open("/etc/hostname", O_RDONLY);
		ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;

		if (fd >= 0)
			close(fd);
		stat("/etc/passwd", &st);
		if (write(out, buf, r > 0 ? (size_t)r : 1) < 0)
			return 1;
		getppid();
		if (i % 64 == 0) {
			struct timespec ts = { 0, 0 };

			nanosleep(&ts, NULL);
		}
	}
	return 0;
}
