/* SPDX-License-Identifier: MIT */
/*
 * Launching the `system` sandbox guest (see qemu_ctl.h). The child enters the sinkhole's
 * network namespace before anything else, creates the tap there, routes the guest's address
 * to it, and execs QEMU with the tap's fd: the guest's NIC can only ever reach that
 * namespace, and QEMU has no user-mode network (slirp would reach the host's).
 *
 * The sinkhole namespace makes every IPv4 address local ("local 0.0.0.0/0 dev lo"), which
 * would swallow replies to the guest too; a /32 unicast route for the guest's address in the
 * local table is more specific and sends them out of the tap. The tap also carries the sink's
 * address, because the sinkhole's nftables redirect needs an address on the incoming interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/qemu_ctl.h"
#include "vigil/clock.h"

#define QEMU_BIN "qemu-system-arm"

static void nl_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends one rtnetlink request in the current netns and returns its acknowledgement. */
static int nl_request(struct nlmsghdr *h)
{
	char resp[512];
	int fd, e = 0;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, h, h->nlmsg_len, 0) < 0) {
		e = -errno;
	} else {
		ssize_t n = recv(fd, resp, sizeof(resp), 0);
		struct nlmsghdr *r = (struct nlmsghdr *)resp;
		if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			e = -EIO;
		else if (r->nlmsg_type == NLMSG_ERROR)
			e = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
	}
	close(fd);
	return e;
}

/* "ip route replace ip/32 dev ifindex table local" */
static int route_to_tap(struct in_addr dst, int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	req.rt.rtm_family = AF_INET;
	req.rt.rtm_dst_len = 32;
	req.rt.rtm_table = RT_TABLE_LOCAL;
	req.rt.rtm_protocol = RTPROT_STATIC;
	req.rt.rtm_scope = RT_SCOPE_LINK;
	req.rt.rtm_type = RTN_UNICAST;
	nl_attr(&req.nh, RTA_DST, &dst, sizeof(dst));
	nl_attr(&req.nh, RTA_OIF, &ifindex, sizeof(ifindex));
	return nl_request(&req.nh);
}

/*
 * "ip addr add addr/32 dev ifindex": the sinkhole's nftables redirect rewrites a packet's
 * destination to an address of the interface it came in on, and drops it if there is none.
 */
static int addr_on_tap(struct in_addr addr, int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = 32;
	req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	req.ifa.ifa_index = (unsigned)ifindex;
	nl_attr(&req.nh, IFA_LOCAL, &addr, sizeof(addr));
	nl_attr(&req.nh, IFA_ADDRESS, &addr, sizeof(addr));
	return nl_request(&req.nh);
}

/* In the child, inside netns: a tap device up with the guest's route; returns its fd. */
static int make_tap(const struct qemu_cfg *c, char *why, size_t why_len)
{
	struct in_addr gip, sip;
	struct ifreq ifr;
	int fd, s, e;

	if (inet_pton(AF_INET, c->guest_ip, &gip) != 1 ||
	    inet_pton(AF_INET, c->sink_ip, &sip) != 1) {
		snprintf(why, why_len, "bad IPv4 address %s or %s", c->guest_ip, c->sink_ip);
		return -1;
	}

	fd = open("/dev/net/tun", O_RDWR); /* no O_CLOEXEC: QEMU inherits it */
	if (fd < 0) {
		snprintf(why, why_len, "open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vgsys%%d");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(why, why_len, "TUNSETIFF: %s", strerror(errno));
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(why, why_len, "SIOCGIFFLAGS: %s", strerror(errno));
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		snprintf(why, why_len, "bringing %s up: %s", ifr.ifr_name, strerror(errno));
		return -1;
	}
	close(s);
	e = addr_on_tap(sip, ifr.ifr_ifindex);
	if (e) {
		snprintf(why, why_len, "address %s on %s: %s", c->sink_ip, ifr.ifr_name,
			 strerror(-e));
		return -1;
	}
	e = route_to_tap(gip, ifr.ifr_ifindex);
	if (e) {
		snprintf(why, why_len, "route %s/32 dev %s table local: %s", c->guest_ip,
			 ifr.ifr_name, strerror(-e));
		return -1;
	}
	return fd;
}

static void child(const struct qemu_cfg *c, int errpipe)
{
	char why[256] = "", netdev[64], chan[600], qmp[600], serial[600], incoming[600];
	const char *argv[64];
	int n = 0, ns, tap;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* no emulator outlives its worker */
	ns = open(c->netns, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
		snprintf(why, sizeof(why), "entering netns %s: %s", c->netns, strerror(errno));
		goto fail;
	}
	close(ns);
	tap = make_tap(c, why, sizeof(why));
	if (tap < 0)
		goto fail;
	snprintf(netdev, sizeof(netdev), "tap,id=n0,fd=%d,vhost=off", tap);
	snprintf(chan, sizeof(chan), "socket,id=ch0,path=%s,server=on,wait=off", c->chan_sock);
	snprintf(serial, sizeof(serial), "file:%s", c->console_log);
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", c->mem_mb);

	argv[n++] = QEMU_BIN;
	argv[n++] = "-M";
	argv[n++] = "virt";
	argv[n++] = "-cpu";
	argv[n++] = "cortex-a15";
	argv[n++] = "-m";
	argv[n++] = mem;
	argv[n++] = "-smp";
	argv[n++] = "1";
	argv[n++] = "-nodefaults";
	argv[n++] = "-no-user-config";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-no-reboot"; /* a sample's reboot ends the run instead of looping */
	/* the guest is saved stopped; without the saved run state a restored QEMU starts it
	 * at once, with no QMP "cont" round trip per run */
	argv[n++] = "-global";
	argv[n++] = "migration.store-global-state=off";
	argv[n++] = "-kernel";
	argv[n++] = c->kernel;
	argv[n++] = "-initrd";
	argv[n++] = c->initrd;
	argv[n++] = "-append";
	argv[n++] = c->append;
	argv[n++] = "-serial";
	argv[n++] = serial;
	argv[n++] = "-device";
	argv[n++] = "virtio-serial-device";
	argv[n++] = "-chardev";
	argv[n++] = chan;
	argv[n++] = "-device";
	argv[n++] = "virtserialport,chardev=ch0,name=vigil.0";
	argv[n++] = "-netdev";
	argv[n++] = netdev;
	argv[n++] = "-device";
	argv[n++] = "virtio-net-device,netdev=n0,mac=52:54:00:66:00:02";
	if (c->qmp_sock) {
		snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", c->qmp_sock);
		argv[n++] = "-qmp";
		argv[n++] = qmp;
	}
	if (c->incoming) {
		/* QEMU 7.2 has no file: URI; cat streams the saved state in */
		snprintf(incoming, sizeof(incoming), "exec:cat '%s'", c->incoming);
		argv[n++] = "-incoming";
		argv[n++] = incoming;
	}
	argv[n] = NULL;
	int nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	}
	execvp(QEMU_BIN, (char *const *)argv);
	snprintf(why, sizeof(why), "exec %s: %s", QEMU_BIN, strerror(errno));
fail:
	if (write(errpipe, why, strlen(why)) < 0)
		_exit(126);
	_exit(126);
}

static bool path_ok(const char *p)
{
	/* paths go into QEMU option strings, where ',' separates options and a quote would
	 * break the exec: URI */
	return p && strlen(p) < 500 && !strpbrk(p, ",'\n");
}

int sbx_qemu_start(struct qemu_proc *q, const struct qemu_cfg *c, struct vg_err *err)
{
	char why[257];
	int p[2];
	ssize_t n;

	q->pid = -1;
	if (!path_ok(c->chan_sock) || !path_ok(c->console_log) || !path_ok(c->kernel) ||
	    !path_ok(c->initrd) || (c->qmp_sock && !path_ok(c->qmp_sock)) ||
	    (c->incoming && !path_ok(c->incoming)) || !c->netns || !c->guest_ip || !c->sink_ip)
		return vg_errf(err, EINVAL, "unusable path for QEMU (',' or quote, or too long)");
	if (pipe2(p, O_CLOEXEC) < 0)
		return vg_errf(err, errno, "pipe: %s", strerror(errno));
	q->pid = fork();
	if (q->pid < 0) {
		close(p[0]);
		close(p[1]);
		return vg_errf(err, errno, "fork: %s", strerror(errno));
	}
	if (q->pid == 0) {
		close(p[0]);
		child(c, p[1]);
	}
	close(p[1]);
	n = read(p[0], why, sizeof(why) - 1); /* EOF: the exec happened */
	close(p[0]);
	if (n > 0) {
		why[n] = 0;
		sbx_qemu_stop(q);
		return vg_errf(err, EIO, "starting the system guest: %s", why);
	}
	return 0;
}

void sbx_qemu_stop(struct qemu_proc *q)
{
	if (q->pid <= 0)
		return;
	kill(q->pid, SIGKILL);
	while (waitpid(q->pid, NULL, 0) < 0 && errno == EINTR)
		;
	q->pid = -1;
}

int sbx_qemu_exited(struct qemu_proc *q)
{
	if (q->pid <= 0)
		return 1;
	if (waitpid(q->pid, NULL, WNOHANG) == q->pid) {
		q->pid = -1;
		return 1;
	}
	return 0;
}

int sbx_unix_connect_retry(const char *path, int timeout_ms, const struct qemu_proc *q)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t end = vg_mono_ms() + timeout_ms;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		int e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED) || vg_mono_ms() > end)
			return -e;
		if (q && q->pid > 0 && waitpid(q->pid, NULL, WNOHANG) == q->pid)
			return -ECHILD;
		vg_sleep_ms(5);
	}
}

/* Reads one JSON line (QMP messages are one per line); events are skipped by the caller. */
static json_t *qmp_read(int fd, int timeout_ms, struct vg_err *err)
{
	char line[65536];
	size_t n = 0;
	uint64_t end = vg_mono_ms() + timeout_ms;

	while (n < sizeof(line) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = (int64_t)(end - vg_mono_ms());
		if (left <= 0 || poll(&p, 1, (int)left) != 1) {
			vg_errf(err, ETIMEDOUT, "QMP: no answer within %d ms", timeout_ms);
			return NULL;
		}
		ssize_t k = read(fd, line + n, 1); /* byte-wise: the next message stays queued */
		if (k <= 0) {
			vg_errf(err, EPIPE, "QMP: connection closed");
			return NULL;
		}
		if (line[n] == '\n') {
			line[n] = 0;
			json_error_t je;
			json_t *j = json_loads(line, 0, &je);
			if (!j)
				vg_errf(err, EPROTO, "QMP: bad JSON: %s", je.text);
			return j;
		}
		n++;
	}
	vg_errf(err, EPROTO, "QMP: line too long");
	return NULL;
}

int sbx_qmp_exec(int fd, const char *cmd_json, char *ret, size_t ret_len, int timeout_ms,
		 struct vg_err *err)
{
	size_t len = strlen(cmd_json);

	if (write(fd, cmd_json, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return vg_errf(err, errno ? errno : EIO, "QMP: write: %s", strerror(errno));
	for (;;) {
		json_t *j = qmp_read(fd, timeout_ms, err);
		if (!j)
			return -err->code;
		json_t *r = json_object_get(j, "return"), *e = json_object_get(j, "error");
		if (e) {
			json_t *d = json_object_get(e, "desc");
			int rc = vg_errf(err, EIO, "QMP %.60s: %s", cmd_json,
					 json_is_string(d) ? json_string_value(d) : "error");
			json_decref(j);
			return rc;
		}
		if (r) {
			if (ret && ret_len) {
				char *s = json_dumps(r, JSON_COMPACT);
				snprintf(ret, ret_len, "%s", s ? s : "");
				free(s);
			}
			json_decref(j);
			return 0;
		}
		json_decref(j); /* an event */
	}
}

int sbx_qmp_open(int *fd, const char *path, const struct qemu_proc *q, struct vg_err *err)
{
	json_t *g;

	*fd = sbx_unix_connect_retry(path, 10000, q);
	if (*fd < 0)
		return vg_errf(err, -*fd, "QMP socket %s: %s", path, strerror(-*fd));
	g = qmp_read(*fd, 10000, err);
	if (!g || !json_object_get(g, "QMP")) {
		json_decref(g);
		close(*fd);
		return vg_errf(err, EPROTO, "QMP: no greeting");
	}
	json_decref(g);
	int e = sbx_qmp_exec(*fd, "{\"execute\":\"qmp_capabilities\"}", NULL, 0, 10000, err);
	if (e)
		close(*fd);
	return e;
}

int sbx_qmp_save(int fd, const char *path, int timeout_ms, struct vg_err *err)
{
	char cmd[700], st[4096];
	uint64_t end = vg_mono_ms() + timeout_ms;
	int e;

	/* the default bandwidth cap (32 MiB/s) is for live migration over a network */
	e = sbx_qmp_exec(fd,
			 "{\"execute\":\"migrate-set-parameters\","
			 "\"arguments\":{\"max-bandwidth\":17179869184}}",
			 NULL, 0, 10000, err);
	if (!e)
		e = sbx_qmp_exec(fd, "{\"execute\":\"stop\"}", NULL, 0, 10000, err);
	if (e)
		return e;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > '%s'\"}}", path);
	e = sbx_qmp_exec(fd, cmd, NULL, 0, 10000, err);
	while (!e) {
		e = sbx_qmp_exec(fd, "{\"execute\":\"query-migrate\"}", st, sizeof(st), 10000, err);
		if (e)
			break;
		if (strstr(st, "\"status\":\"completed\""))
			return 0;
		if (strstr(st, "\"status\":\"failed\"") || strstr(st, "\"status\":\"cancelled\""))
			return vg_errf(err, EIO, "saving the guest failed: %.300s", st);
		if (vg_mono_ms() > end)
			return vg_errf(err, ETIMEDOUT, "saving the guest took over %d ms",
				       timeout_ms);
		vg_sleep_ms(20);
	}
	return e;
}
