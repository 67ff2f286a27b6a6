// SPDX-License-Identifier: MIT
/* Correlation of switch alerts with a guest's sockets: the owner match and the alert feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/net_correlate.h"

static struct vg_guest_sock socks[4];
static struct vg_guest_socks gs = { .v = socks };

static void sock(int i, int kind, const char *l, uint16_t lp, const char *r, uint16_t rp,
		 uint8_t state, int pid, const char *comm)
{
	struct vg_guest_sock *g = &socks[i];

	memset(g, 0, sizeof(*g));
	g->kind = (uint8_t)kind;
	g->proto = kind == VG_GS_INET ? VG_IPPROTO_TCP : 0;
	g->type = kind == VG_GS_RAW ? 3 : 1;
	vg_ip_parse(l, &g->laddr);
	vg_ip_parse(r, &g->raddr);
	g->lport = lp;
	g->rport = rp;
	g->state = state;
	g->pid = pid;
	snprintf(g->comm, sizeof(g->comm), "%s", comm);
}

static void tuple(struct vg_flow_tuple *t, const char *s, uint16_t sp, const char *d, uint16_t dp)
{
	memset(t, 0, sizeof(*t));
	t->proto = VG_IPPROTO_TCP;
	vg_ip_parse(s, &t->src);
	vg_ip_parse(d, &t->dst);
	t->sport = sp;
	t->dport = dp;
}

/* Guest 10.9.0.1: nc connected to .2:31337, sshd-like listener on 22, a raw socket. */
static void guest(void)
{
	sock(0, VG_GS_INET, "10.9.0.1", 40000, "10.9.0.2", 31337, 1, 50, "nc");
	sock(1, VG_GS_INET, "0.0.0.0", 22, "0.0.0.0", 0, 10, 60, "dropbear");
	sock(2, VG_GS_RAW, "0.0.0.0", 0, "0.0.0.0", 0, 7, 70, "scanner");
	gs.n = 3;
	gs.naddrs = 1;
	vg_ip_parse("10.9.0.1", &gs.addrs[0]);
}

static void owner_match(void **state)
{
	const struct vg_guest_sock *g;
	struct vg_flow_tuple t;

	guest();
	tuple(&t, "10.9.0.1", 40000, "10.9.0.2", 31337);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_CONNECTED);
	assert_int_equal(g->pid, 50);
	/* the same flow written from the other end */
	tuple(&t, "10.9.0.2", 31337, "10.9.0.1", 40000);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_CONNECTED);
	/* someone reaching our port 22: the listener */
	tuple(&t, "10.9.0.66", 5555, "10.9.0.1", 22);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_LISTENING);
	assert_string_equal(g->comm, "dropbear");
	/* we sent it, no socket has it: the raw socket's holder */
	tuple(&t, "10.9.0.1", 6000, "10.9.0.9", 80);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_RAW);
	assert_int_equal(g->pid, 70);
	/* not this guest's flow at all */
	tuple(&t, "10.9.0.5", 6000, "10.9.0.9", 80);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_FOREIGN);
	/* to us, on a port nobody listens on */
	tuple(&t, "10.9.0.5", 6000, "10.9.0.1", 81);
	assert_int_equal(vg_flow_owner(&gs, &t, &g), VG_OWN_NONE);
}

static struct {
	char check[32], summary[300], target[32], sev[16];
	char evidence[1024];
} got[8];
static int ngot;

static void on_alert(void *ctx, const struct vg_alert *a)
{
	assert_true(ngot < 8);
	assert_string_equal(a->source, "ids");
	snprintf(got[ngot].check, sizeof(got[0].check), "%s", a->check);
	snprintf(got[ngot].summary, sizeof(got[0].summary), "%s", a->summary);
	snprintf(got[ngot].target, sizeof(got[0].target), "%s", a->target_id);
	snprintf(got[ngot].sev, sizeof(got[0].sev), "%s", vg_severity_name(a->severity));
	snprintf(got[ngot++].evidence, sizeof(got[0].evidence), "%s", a->evidence);
}

static const char line[] =
	"{\"ts\":\"2026-12-06T03:19:27.908510Z\",\"host\":\"switch\",\"source\":\"switch\","
	"\"target\":{\"kind\":\"flow\",\"id\":\"tcp 10.9.0.1:40000 -> 10.9.0.2:31337\"},"
	"\"check\":\"backdoor-port\",\"severity\":\"high\",\"summary\":\"connection attempt to a "
	"bindshell or backdoor port (sid 9000001)\",\"evidence\":{\"flow\":{\"id\":3,\"proto\":"
	"\"tcp\",\"src_ip\":\"10.9.0.1\",\"src_port\":40000,\"dst_ip\":\"10.9.0.2\",\"dst_port\":"
	"31337}},\"attack\":[\"T1571\"]}\n";

static void feed_reports_owner_once(void **state)
{
	char path[] = "/tmp/vigil-feed-XXXXXX";
	struct vg_flow_feed *f;
	struct vg_err err = { 0 };
	int fd = mkstemp(path);

	close(fd);
	unlink(path);
	assert_int_equal(vg_flow_feed_open(&f, path, &err), 0);
	guest();
	ngot = 0;
	vg_flow_feed_take(f, line, strlen(line));
	/* garbage, a non-switch alert and a flow with a bad port are ignored */
	vg_flow_feed_take(f, "{not json\n[]\n", 13);
	vg_flow_feed_take(f, "{\"source\":\"ids\",\"evidence\":{\"flow\":{}}}\n", 40);
	vg_flow_feed_take(f,
			  "{\"source\":\"switch\",\"evidence\":{\"flow\":{\"proto\":\"tcp\","
			  "\"src_ip\":\"1.1.1.1\",\"src_port\":99999,\"dst_ip\":\"1.1.1.2\","
			  "\"dst_port\":1}}}\n",
			  120);
	assert_int_equal(vg_flow_feed_pending(f), 1);
	vg_flow_feed_match(f, &gs, on_alert, NULL);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].check, "flow-owner");
	assert_string_equal(got[0].target, "50");
	assert_string_equal(got[0].sev, "high");
	assert_non_null(
		strstr(got[0].summary,
		       "process nc (pid 50) owns the flow tcp 10.9.0.1:40000 -> 10.9.0.2:31337"));
	assert_non_null(strstr(got[0].evidence, "\"socket\":\"connected\""));
	assert_non_null(strstr(got[0].evidence, "\"check\":\"backdoor-port\""));
	/* the switch alerts again about the same flow: already reported */
	vg_flow_feed_take(f, line, strlen(line));
	assert_int_equal(vg_flow_feed_pending(f), 0);
	vg_flow_feed_close(f);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void ownerless_after_three_looks(void **state)
{
	static const char l2[] =
		"{\"source\":\"switch\",\"check\":\"vertical-scan\","
		"\"severity\":\"medium\",\"evidence\":{\"flow\":{\"proto\":\"tcp\","
		"\"src_ip\":\"10.9.0.5\",\"src_port\":6000,\"dst_ip\":\"10.9.0.1\","
		"\"dst_port\":81}}}\n";
	char path[] = "/tmp/vigil-feed-XXXXXX";
	struct vg_flow_feed *f;
	struct vg_err err = { 0 };
	int fd = mkstemp(path);

	close(fd);
	unlink(path);
	assert_int_equal(vg_flow_feed_open(&f, path, &err), 0);
	guest();
	ngot = 0;
	vg_flow_feed_take(f, l2, strlen(l2));
	vg_flow_feed_match(f, &gs, on_alert, NULL);
	vg_flow_feed_match(f, &gs, on_alert, NULL);
	assert_int_equal(ngot, 0);
	vg_flow_feed_match(f, &gs, on_alert, NULL);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0].sev, "low");
	assert_non_null(strstr(got[0].summary, "no process in the guest holds the socket"));
	vg_flow_feed_close(f);
}

static void feed_over_the_socket(void **state)
{
	char path[] = "/tmp/vigil-feed-XXXXXX";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vg_flow_feed *f;
	struct vg_err err = { 0 };
	int fd = mkstemp(path), c, big = 100000;
	char *junk = malloc(big);

	close(fd);
	unlink(path);
	assert_int_equal(vg_flow_feed_open(&f, path, &err), 0);
	strcpy(a.sun_path, path);
	/* a peer sending one endless line is dropped; the next one is heard */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	memset(junk, 'x', big);
	assert_true(write(c, junk, 70000) > 0);
	close(c);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(c, line, strlen(line)), (ssize_t)strlen(line));
	guest();
	ngot = 0;
	for (int i = 0; i < 20 && !ngot; i++) {
		usleep(10000);
		vg_flow_feed_drain(f);
		if (vg_flow_feed_pending(f))
			vg_flow_feed_match(f, &gs, on_alert, NULL);
	}
	assert_int_equal(ngot, 1);
	close(c);
	free(junk);
	vg_flow_feed_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(owner_match),
		cmocka_unit_test(feed_reports_owner_once),
		cmocka_unit_test(ownerless_after_three_looks),
		cmocka_unit_test(feed_over_the_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
