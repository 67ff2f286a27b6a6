/* SPDX-License-Identifier: MIT */
/*
 * vigil-sysagent: PID 1 of the `system` sandbox guest (the image's /init sets the guest up
 * and execs it). Being PID 1 is what keeps it alive: the kernel drops every signal a process
 * inside the guest sends to init unless init handles it, so a root sample that kills every
 * process (kill(-1, SIGKILL)) cannot kill the agent.
 *
 * Before the host saves the ready snapshot it probes the services and lists the file system
 * (the "before" state, kept in memory and so restored with the snapshot), then sends
 * SYSP_READY. Each restored copy then serves one request (sys_proto.h): write the sample,
 * reseed the RNG and set the clock, run it under the tracer, probe the services again, diff
 * the files, and send status.json, syscalls.log, files.tsv, services.json, stdout, stderr.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "sys_proto.h"

#define RUN_DIR "/tmp/run"   /* the sample's directory and cwd, as in the container environment */
#define OUT_DIR "/run/vigil" /* a 1 MiB tmpfs of its own (init), so output cannot fill RAM */

/*
 * The sample's cgroup: memory (which also bounds what it writes into the RAM-backed root)
 * and process count, so a memory hog or fork bomb meets a limit before the guest kernel runs
 * out of memory. A root sample may leave the cgroup; the guest as a whole stays bounded by
 * QEMU's RAM and the host's deadline.
 */
static void setup_cgroup(void)
{
	static const struct {
		const char *file, *val;
	} w[] = {
		{ "/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids" },
		{ SAMPLE_CGROUP "/memory.max", "96M" },
		{ SAMPLE_CGROUP "/memory.swap.max", "0" },
		{ SAMPLE_CGROUP "/pids.max", "256" },
	};

	mkdir("/sys/fs/cgroup", 0755);
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) < 0 ||
	    mkdir(SAMPLE_CGROUP, 0755) < 0) {
		fprintf(stderr, "vigil-sysagent: no cgroup for samples: %s\n", strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		int fd = open(w[i].file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, w[i].val, strlen(w[i].val)) < 0)
			fprintf(stderr, "vigil-sysagent: %s: %s\n", w[i].file, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

/* ---- the channel ---- */

static int open_port(void)
{
	char p[300], name[64];
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int fd = -1;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/virtio-ports/%.200s/name", de->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) &&
		    !strncmp(name, SYSP_PORT_NAME, strlen(SYSP_PORT_NAME))) {
			snprintf(p, sizeof(p), "/dev/%.200s", de->d_name);
			fd = open(p, O_RDWR | O_CLOEXEC);
		}
		fclose(f);
		if (fd >= 0)
			break;
	}
	if (d)
		closedir(d);
	return fd;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A virtio port reads 0 while no host is connected (after a restore, until the host's
 * socket connects): wait and retry. */
static int read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k > 0)
			got += (size_t)k;
		else if (k == 0 || errno == EINTR || errno == EAGAIN)
			nap_ms(5);
		else
			return -errno;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t k = write(fd, (const char *)p + put, n - put);
		if (k > 0)
			put += (size_t)k;
		else if (k < 0 && errno != EINTR && errno != EAGAIN && errno != ENODEV &&
			 errno != ENOTCONN)
			return -errno;
		else
			nap_ms(5);
	}
	return 0;
}

static int send_rec(int fd, uint32_t kind, const void *p, size_t n)
{
	struct sysp_rec r = { SYSP_REC_MAGIC, kind, 0 };

	if (n > sysp_max_len(kind) && kind != SYSP_READY && kind != SYSP_END)
		n = sysp_max_len(kind);
	r.len = (uint32_t)n;
	int e = write_full(fd, &r, sizeof(r));
	return e ? e : write_full(fd, p, n);
}

static void send_file(int port, uint32_t kind, const char *path)
{
	static char data[64 << 10];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, data, sizeof(data)) : 0;

	if (fd >= 0)
		close(fd);
	send_rec(port, kind, data, n > 0 ? (size_t)n : 0);
}

/* ---- services ---- */

static int connect_lo(int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
	socklen_t el = sizeof(e);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&p, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Reads what the service says within ms; returns the byte count (0: nothing). */
static ssize_t read_some(int fd, char *b, size_t n, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, ms) != 1)
		return 0;
	ssize_t k = recv(fd, b, n, 0);
	return k > 0 ? k : 0;
}

static bool probe_http(int ms)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
	char b[16];
	int fd = connect_lo(80, ms);
	bool ok;

	if (fd < 0)
		return false;
	ok = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1 &&
	     read_some(fd, b, 5, ms) == 5 && !memcmp(b, "HTTP/", 5);
	close(fd);
	return ok;
}

/* A telnet daemon opens with option negotiation (IAC, 0xff); a bot squatting on port 23
 * usually says nothing, and does not count as the service. */
static bool probe_telnet(int ms)
{
	unsigned char b[4];
	int fd = connect_lo(23, ms);
	bool ok;

	if (fd < 0)
		return false;
	ok = read_some(fd, (char *)b, 1, ms) == 1 && b[0] == 0xff;
	close(fd);
	return ok;
}

/* ---- one run ---- */

struct agent {
	int port;
	bool http_before, telnet_before;
	struct fs_snap before;
	char diag[2048];
	size_t diag_len;
};

static void diag(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag(struct agent *a, const char *fmt, ...)
{
	va_list ap;

	if (a->diag_len >= sizeof(a->diag) - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(a->diag + a->diag_len, sizeof(a->diag) - a->diag_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		a->diag_len += (size_t)n;
	if (a->diag_len >= sizeof(a->diag))
		a->diag_len = sizeof(a->diag) - 1;
}

static void prepare_guest(struct agent *a, const struct sysp_req *rq)
{
	struct timespec now = { (time_t)(((uint64_t)rq->time_sec_hi << 32) | rq->time_sec_lo), 0 };
	struct {
		struct rand_pool_info info;
		uint8_t bytes[32];
	} seed;
	int fd;

	if (now.tv_sec && clock_settime(CLOCK_REALTIME, &now) < 0)
		diag(a, "clock_settime: %s\n", strerror(errno));
	seed.info.entropy_count = 8 * sizeof(seed.bytes);
	seed.info.buf_size = sizeof(seed.bytes);
	memcpy(seed.bytes, rq->seed, sizeof(seed.bytes));
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &seed) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		diag(a, "reseeding the RNG: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int write_sample(int port, const char *path, uint32_t len)
{
	static char chunk[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int e = fd < 0 ? -errno : 0;

	while (len > 0) {
		uint32_t n = len < sizeof(chunk) ? len : sizeof(chunk);
		int r = read_full(port, chunk, n);
		if (r)
			return r; /* the channel broke; nothing more can happen */
		if (!e && write(fd, chunk, n) != (ssize_t)n)
			e = -ENOSPC;
		len -= n;
	}
	if (fd >= 0 && close(fd) < 0 && !e)
		e = -errno;
	return e;
}

static void send_status(struct agent *a, const struct trace_result *r)
{
	struct buf b;
	const char *en = r->exec_errno ? strerrorname_np(r->exec_errno) : NULL;
	/* no exec, no exit status of the sample (127 was the agent's child giving up) */
	bool code = r->started && r->exited && !r->main_killed && !r->signal;
	bool sig = r->started && r->exited && !r->main_killed && r->signal;

	buf_init(&b, sysp_max_len(SYSP_STATUS));
	buf_printf(&b, "{\"started\": %s, \"exec_error\": ", r->started ? "true" : "false");
	if (en)
		buf_printf(&b, "\"%s\"", en);
	else if (r->exec_errno)
		buf_printf(&b, "\"E%d\"", r->exec_errno);
	else
		buf_printf(&b, "null");
	buf_printf(&b, ", \"exit_code\": ");
	buf_printf(&b, code ? "%d" : "null", r->exit_code);
	buf_printf(&b, ", \"signal\": ");
	buf_printf(&b, sig ? "%d" : "null", r->signal);
	buf_printf(&b,
		   ", \"timed_out\": %s, \"duration_ms\": %ld, \"children_killed\": %d, "
		   "\"tasks_refused\": %d}\n",
		   r->timed_out ? "true" : "false", r->duration_ms, r->children_killed,
		   r->tasks_refused);
	send_rec(a->port, SYSP_STATUS, b.p ? b.p : "", b.len);
	buf_free(&b);
}

static void serve(struct agent *a, const struct sysp_req *rq)
{
	struct trace_result res;
	struct fs_snap after;
	struct buf log, files, svc;
	int e, out, err;

	char path[128] = RUN_DIR "/sample";
	bool name_ok = rq->name[0] && rq->name[0] != '.' && memchr(rq->name, 0, sizeof(rq->name)) &&
		       strspn(rq->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"0123456789._-") == strlen(rq->name);

	if (name_ok)
		snprintf(path, sizeof(path), RUN_DIR "/%s", rq->name);
	a->diag_len = 0;
	prepare_guest(a, rq);
	e = write_sample(a->port, path, rq->sample_len);
	if (e) {
		diag(a, "writing the sample: %s\n", strerror(-e));
		return;
	}
	fs_snap_add(&a->before, path); /* its deletion by itself must show */
	out = open(OUT_DIR "/stdout", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = open(OUT_DIR "/stderr", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	buf_init(&log, sysp_max_len(SYSP_SYSCALLS) - 256);
	e = trace_run(path, rq->timeout_s, out, err, &log, &res);
	if (e)
		diag(a, "tracer: %s\n", strerror(-e));
	if (log.dropped) {
		log.max += 256;
		buf_printf(&log, "# vigil-sysagent: %lu more lines not logged\n", log.dropped);
	}
	close(out);
	close(err);

	buf_init(&svc, sysp_max_len(SYSP_SERVICES));
	buf_printf(&svc,
		   "{\"http\": {\"before\": %s, \"after\": %s}, "
		   "\"telnet\": {\"before\": %s, \"after\": %s}}\n",
		   a->http_before ? "true" : "false", probe_http(2000) ? "true" : "false",
		   a->telnet_before ? "true" : "false", probe_telnet(2000) ? "true" : "false");

	buf_init(&files, sysp_max_len(SYSP_FILES));
	fs_snap_take(&after);
	fs_diff(&a->before, &after, &files);
	fs_snap_free(&after);

	send_status(a, &res);
	send_rec(a->port, SYSP_SYSCALLS, log.p ? log.p : "", log.len);
	send_rec(a->port, SYSP_FILES, files.p ? files.p : "", files.len);
	send_rec(a->port, SYSP_SERVICES, svc.p, svc.len);
	send_file(a->port, SYSP_STDOUT, OUT_DIR "/stdout");
	send_file(a->port, SYSP_STDERR, OUT_DIR "/stderr");
	buf_free(&log);
	buf_free(&files);
	buf_free(&svc);
}

int main(void)
{
	static struct agent a;
	struct sysp_req rq;

	signal(SIGPIPE, SIG_IGN);
	setup_cgroup();
	for (int i = 0; i < 600 && (a.port = open_port()) < 0; i++)
		nap_ms(100);
	if (a.port < 0) {
		fprintf(stderr, "vigil-sysagent: no virtio port named %s\n", SYSP_PORT_NAME);
		for (;;)
			pause(); /* PID 1 must not exit; the host times out */
	}
	/* the services were just started by /init: give them time to listen */
	for (int i = 0; i < 100 && !(a.http_before && a.telnet_before); i++) {
		a.http_before = a.http_before || probe_http(1000);
		a.telnet_before = a.telnet_before || probe_telnet(1000);
		if (!(a.http_before && a.telnet_before))
			nap_ms(100);
	}
	fs_snap_take(&a.before);
	fprintf(stderr, "vigil-sysagent: ready (http %d, telnet %d, %zu files)\n", a.http_before,
		a.telnet_before, a.before.n);
	send_rec(a.port, SYSP_READY, "", 0);

	for (;;) {
		if (read_full(a.port, &rq, sizeof(rq)))
			break;
		if (rq.magic != SYSP_REQ_MAGIC || rq.version != SYSP_VERSION ||
		    rq.sample_len > SYSP_MAX_SAMPLE || !rq.timeout_s || rq.timeout_s > 3600) {
			diag(&a, "bad request\n");
		} else {
			serve(&a, &rq);
		}
		send_rec(a.port, SYSP_LOG, a.diag, a.diag_len);
		send_rec(a.port, SYSP_END, "", 0);
	}
	for (;;)
		pause();
}
