// SPDX-License-Identifier: MIT
/*
 * The inspection engine end to end on synthetic frames: each behaviour check, signatures with
 * nDPI and thresholds, IPS drops and source blocking, captures of flagged flows, flow records
 * and the flow table's bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "net_frames.h"
#include "vigil/net_engine.h"

#define MS 1000ll
#define SEC 1000000ll
#define MAX_ALERTS 64

struct run {
	struct vg_net_rules rs;
	struct vg_net_engine *e;
	struct {
		char check[40], target[160], summary[256];
		enum vg_severity sev;
		char *evidence;
	} al[MAX_ALERTS];
	int nal;
	char apps[16][32];
	int nflows;
	uint64_t evicted_recs;
};

static void on_alert(void *ctx, const struct vg_alert *a)
{
	struct run *r = ctx;

	if (r->nal == MAX_ALERTS)
		return;
	snprintf(r->al[r->nal].check, sizeof(r->al[0].check), "%s", a->check);
	snprintf(r->al[r->nal].target, sizeof(r->al[0].target), "%s", a->target_id);
	snprintf(r->al[r->nal].summary, sizeof(r->al[0].summary), "%s", a->summary);
	r->al[r->nal].sev = a->severity;
	r->al[r->nal++].evidence = strdup(a->evidence ? a->evidence : "{}");
	assert_string_equal(a->source, "switch");
}

static void on_flow(void *ctx, const struct vg_net_flow_rec *f)
{
	struct run *r = ctx;

	if (r->nflows < 16)
		snprintf(r->apps[r->nflows], sizeof(r->apps[0]), "%s", f->app);
	r->nflows++;
	if (!strcmp(f->reason, "evicted"))
		r->evicted_recs++;
}

static struct run *start(const char *rules, const char **vars, bool ips, const char *pcap_dir,
			 uint32_t max_flows)
{
	struct run *r = calloc(1, sizeof(*r));
	struct vg_err err = { 0 };
	struct vg_net_engine_opts o = {
		.ips = ips,
		.max_flows = max_flows,
		.pcap_dir = pcap_dir,
		.on_alert = on_alert,
		.alert_ctx = r,
		.on_flow = on_flow,
		.flow_ctx = r,
	};

	assert_int_equal(vg_net_rules_init(&r->rs, &err), 0);
	for (int i = 0; vars && vars[i]; i++)
		assert_int_equal(vg_net_rules_set_var(&r->rs, vars[i], false, &err), 0);
	if (rules && !strcmp(rules, "default"))
		assert_int_equal(vg_net_rules_load(&r->rs, VG_TEST_DEFAULT_RULES, &err), 0);
	else if (rules)
		assert_int_equal(vg_net_rules_parse(&r->rs, rules, strlen(rules), "t", &err), 0);
	assert_int_equal(vg_net_engine_open(&r->e, &r->rs, &o, &err), 0);
	return r;
}

static void stop(struct run *r)
{
	vg_net_engine_finish(r->e);
	vg_net_engine_close(r->e);
	vg_net_rules_free(&r->rs);
	for (int i = 0; i < r->nal; i++)
		free(r->al[i].evidence);
	free(r);
}

static int count(const struct run *r, const char *check)
{
	int n = 0;

	for (int i = 0; i < r->nal; i++)
		n += !strcmp(r->al[i].check, check);
	return n;
}

static enum vg_net_verdict feed(struct run *r, const struct tf *f, int64_t ts, int port)
{
	return vg_net_engine_frame(r->e, f->b, f->n, f->n, ts, port);
}

/* A full TCP session: handshake, one data segment, reset. Returns the last verdict of the
 * client's SYN. */
static enum vg_net_verdict session(struct run *r, const char *c, const char *s, uint16_t cp,
				   uint16_t sp, int64_t ts, const char *data)
{
	struct tf f;
	enum vg_net_verdict v;

	tf_tcp(&f, c, s, cp, sp, 0x02, NULL);
	v = feed(r, &f, ts, -1);
	tf_tcp(&f, s, c, sp, cp, 0x12, NULL);
	feed(r, &f, ts + 1, -1);
	tf_tcp(&f, c, s, cp, sp, 0x10, NULL);
	feed(r, &f, ts + 2, -1);
	tf_tcp(&f, c, s, cp, sp, 0x18, data);
	feed(r, &f, ts + 3, -1);
	tf_tcp(&f, c, s, cp, sp, 0x04, NULL);
	feed(r, &f, ts + 4, -1);
	return v;
}

static void vertical_scan_once(void **state)
{
	struct run *r = start("check vertical-scan ports 10 seconds 30\n", NULL, false, NULL, 0);
	struct tf f;

	for (int p = 1; p <= 40; p++) {
		tf_tcp(&f, "10.0.0.1", "10.0.0.2", 40000, (uint16_t)p, 0x02, NULL);
		assert_int_equal(feed(r, &f, p * MS, -1), VG_NET_PASS);
	}
	assert_int_equal(r->nal, 1);
	assert_string_equal(r->al[0].check, "vertical-scan");
	assert_non_null(strstr(r->al[0].summary, "10.0.0.1 probed 10 tcp ports on 10.0.0.2"));
	assert_non_null(strstr(r->al[0].evidence, "\"sample_ports\":[1,2,3,4,5,6,7,8]"));
	assert_non_null(strstr(r->al[0].evidence, "\"dst_port\":10"));
	stop(r);
}

static void ping_sweep(void **state)
{
	struct run *r = start("check horizontal-scan hosts 12 seconds 30\n", NULL, false, NULL, 0);
	struct tf f;
	char ip[32];

	for (int h = 1; h <= 30; h++) {
		snprintf(ip, sizeof(ip), "10.0.1.%d", h);
		tf_icmp_echo(&f, "10.0.0.1", ip);
		feed(r, &f, h * MS, -1);
	}
	assert_int_equal(count(r, "horizontal-scan"), 1);
	assert_non_null(strstr(r->al[0].summary, "ping sweep"));
	stop(r);
}

static void brute_force_then_blocked(void **state)
{
	struct run *r = start("check brute-force attempts 5 seconds 60 ports [23]\n"
			      "check ips-block seconds 60\n",
			      NULL, true, NULL, 0);
	struct tf f;
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(session(r, "10.0.0.66", "10.0.0.2", (uint16_t)(50000 + i), 23,
					 i * 100 * MS, "root\r\n"),
				 VG_NET_PASS);
	assert_int_equal(count(r, "brute-force"), 1);
	assert_non_null(strstr(r->al[0].summary, "5 login sessions to 10.0.0.2 port 23"));
	assert_non_null(strstr(r->al[0].evidence, "\"source_blocked_seconds\":60"));
	/* the source is blocked: its next connection attempt does not get through */
	tf_tcp(&f, "10.0.0.66", "10.0.0.2", 50100, 23, 0x02, NULL);
	assert_int_equal(feed(r, &f, 2 * SEC, -1), VG_NET_DROP);
	/* other hosts are not */
	tf_tcp(&f, "10.0.0.7", "10.0.0.2", 50100, 23, 0x02, NULL);
	assert_int_equal(feed(r, &f, 2 * SEC, -1), VG_NET_PASS);
	/* after the block time it may try again */
	tf_tcp(&f, "10.0.0.66", "10.0.0.2", 50101, 23, 0x02, NULL);
	assert_int_equal(feed(r, &f, 70 * SEC, -1), VG_NET_PASS);
	assert_true(vg_net_engine_stats(r->e)->dropped >= 1);
	stop(r);
}

static void spraying_counts_hosts(void **state)
{
	struct run *r = start("check brute-force attempts 6 seconds 60\n", NULL, false, NULL, 0);
	char ip[32];

	for (int i = 0; i < 6; i++) {
		snprintf(ip, sizeof(ip), "10.0.2.%d", i + 1);
		session(r, "10.0.0.66", ip, (uint16_t)(50000 + i), 2323, i * MS * 10, "x");
	}
	assert_int_equal(count(r, "brute-force"), 1);
	assert_non_null(strstr(r->al[0].summary, "on 6 hosts"));
	assert_non_null(strstr(r->al[0].summary, "credential spraying"));
	stop(r);
}

static void backdoor_port_ids_and_ips(void **state)
{
	struct tf f;

	for (int ips = 0; ips < 2; ips++) {
		struct run *r = start("default", NULL, ips, NULL, 0);

		tf_tcp(&f, "10.0.0.1", "10.0.0.2", 40000, 31337, 0x02, NULL);
		assert_int_equal(feed(r, &f, 1 * MS, -1), ips ? VG_NET_DROP : VG_NET_PASS);
		assert_int_equal(count(r, "backdoor-port"), 1);
		assert_string_equal(r->al[0].target, "tcp 10.0.0.1:40000 -> 10.0.0.2:31337");
		assert_non_null(strstr(r->al[0].evidence, "\"sid\":9000001"));
		/* the retransmitted SYN is the same flow: no second alert, still dropped */
		assert_int_equal(feed(r, &f, 1000 * MS, -1), ips ? VG_NET_DROP : VG_NET_PASS);
		assert_int_equal(r->nal, 1);
		stop(r);
	}
}

static void arp_spoofing(void **state)
{
	struct run *r = start("check arp-spoof\n", NULL, true, NULL, 0);
	struct tf f;

	tf_arp(&f, 2, 5, 5, "10.0.0.5", "10.0.0.1");
	assert_int_equal(feed(r, &f, 1 * MS, 0), VG_NET_PASS);
	tf_arp(&f, 2, 9, 9, "10.0.0.5", "10.0.0.1");
	assert_int_equal(feed(r, &f, 2 * MS, 1), VG_NET_DROP);
	assert_int_equal(count(r, "arp-spoof"), 1);
	assert_non_null(strstr(r->al[0].evidence, "\"owner_mac\":\"52:54:00:00:00:05\""));
	/* a poisoner repeats itself every second: one alert a minute */
	for (int i = 0; i < 5; i++)
		feed(r, &f, (3 + i) * SEC, 1);
	assert_int_equal(count(r, "arp-spoof"), 1);
	/* a sender hardware address that is not the frame's own */
	tf_arp(&f, 1, 7, 8, "10.0.0.7", "10.0.0.1");
	feed(r, &f, 100 * SEC, 2);
	assert_int_equal(count(r, "arp-spoof"), 2);
	stop(r);
}

static void ip_spoofing_by_port(void **state)
{
	const char *vars[] = { "HOME_NET=[10.0.0.0/24]", NULL };
	struct run *r = start("check ip-spoof\n", vars, false, NULL, 0);
	struct tf f;

	vg_net_engine_port(r->e, 0, "web", false);
	vg_net_engine_port(r->e, 1, "cam", false);
	vg_net_engine_port(r->e, 2, "uplink", true);
	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 40000, 80, 0x02, NULL);
	feed(r, &f, 1 * MS, 0);
	assert_int_equal(r->nal, 0);
	/* the camera sends with the web server's address (and even its MAC) */
	tf_tcp(&f, "10.0.0.1", "10.0.0.3", 40001, 80, 0x02, NULL);
	feed(r, &f, 2 * MS, 1);
	assert_int_equal(count(r, "ip-spoof"), 1);
	assert_non_null(strstr(r->al[0].evidence, "\"owner_port\":\"web\""));
	assert_non_null(strstr(r->al[0].evidence, "\"in_port\":\"cam\""));
	/* outside HOME_NET from a guest port; routed traffic on the uplink is fine */
	tf_tcp(&f, "192.0.2.1", "10.0.0.3", 40001, 80, 0x02, NULL);
	feed(r, &f, 3 * MS, 1);
	assert_int_equal(count(r, "ip-spoof"), 2);
	tf_tcp(&f, "192.0.2.9", "10.0.0.3", 40001, 80, 0x02, NULL);
	feed(r, &f, 4 * MS, 2);
	assert_int_equal(count(r, "ip-spoof"), 2);
	stop(r);
}

static void new_listener_after_learning(void **state)
{
	struct run *r = start("check new-listener learn 2 allow [8080]\n", NULL, false, NULL, 0);

	session(r, "10.0.0.1", "10.0.0.2", 40000, 80, 0, "GET / HTTP/1.0\r\n\r\n");
	session(r, "10.0.0.1", "10.0.0.2", 40001, 80, 5 * SEC, "GET / HTTP/1.0\r\n\r\n");
	session(r, "10.0.0.1", "10.0.0.2", 40002, 8080, 5 * SEC, "x");
	assert_int_equal(r->nal, 0);
	session(r, "10.0.0.1", "10.0.0.2", 40003, 4242, 6 * SEC, "id\n");
	assert_int_equal(count(r, "new-listener"), 1);
	assert_non_null(strstr(r->al[0].summary, "10.0.0.2 answers on tcp port 4242"));
	session(r, "10.0.0.1", "10.0.0.2", 40004, 4242, 7 * SEC, "id\n");
	assert_int_equal(count(r, "new-listener"), 1);
	stop(r);
}

/* A DNS query for vigil.example, type A. */
static uint32_t dns_query(uint8_t *q)
{
	static const uint8_t msg[] = { 0x12, 0x34, 0x01, 0x00, 0,   1,	 0,   0, 0,   0,   0,
				       0,    5,	   'v',	 'i',  'g', 'i', 'l', 7, 'e', 'x', 'a',
				       'm',  'p',  'l',	 'e',  0,   0,	 1,   0, 1 };

	memcpy(q, msg, sizeof(msg));
	return sizeof(msg);
}

static void dns_to_unexpected_resolver(void **state)
{
	const char *vars[] = { "DNS_SERVERS=10.0.0.53", NULL };
	struct run *r = start("default", vars, false, NULL, 0);
	uint8_t q[64];
	uint32_t n = dns_query(q);
	struct tf f;

	tf_udp(&f, "10.0.0.1", "10.0.0.53", 33333, 53, q, n);
	feed(r, &f, 1 * MS, -1);
	assert_int_equal(r->nal, 0);
	tf_udp(&f, "10.0.0.1", "198.51.100.7", 33334, 53, q, n);
	feed(r, &f, 2 * MS, -1);
	assert_int_equal(count(r, "dns-resolver"), 1);
	assert_non_null(strstr(r->al[0].evidence, "\"app\":\"DNS\""));
	vg_net_engine_finish(r->e);
	assert_int_equal(r->nflows, 2);
	assert_string_equal(r->apps[0], "DNS");
	stop(r);
}

static void thresholds_and_pass(void **state)
{
	struct run *r = start("alert tcp any any -> any 80 (msg:\"syn\"; flags:S; threshold: type "
			      "threshold, track by_src, count 3, seconds 60; sid:1;)\n"
			      "pass tcp 10.0.0.9 any -> any 80 (msg:\"trusted\"; sid:2;)\n",
			      NULL, false, NULL, 0);
	struct tf f;

	for (int i = 0; i < 7; i++) {
		tf_tcp(&f, "10.0.0.1", "10.0.0.2", (uint16_t)(40000 + i), 80, 0x02, NULL);
		feed(r, &f, i * MS, -1);
	}
	assert_int_equal(count(r, "signature"), 2); /* the 3rd and the 6th */
	for (int i = 0; i < 7; i++) {
		tf_tcp(&f, "10.0.0.9", "10.0.0.2", (uint16_t)(40000 + i), 80, 0x02, NULL);
		feed(r, &f, i * MS, -1);
	}
	assert_int_equal(count(r, "signature"), 2);
	stop(r);
}

static void malformed_frames(void **state)
{
	struct run *r = start("check malformed\n", NULL, true, NULL, 0);
	struct tf f;

	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x02, NULL);
	f.b[14] = 0x43; /* header length 12 */
	assert_int_equal(feed(r, &f, 1 * MS, -1), VG_NET_DROP);
	feed(r, &f, 2 * MS, -1);
	assert_int_equal(count(r, "malformed-frame"), 1);
	assert_non_null(strstr(r->al[0].summary, "ip-header-length"));
	/* a capture cut short by its snap length is not malformed */
	tf_tcp(&f, "10.0.0.3", "10.0.0.2", 1, 2, 0x18, "some payload here");
	assert_int_equal(vg_net_engine_frame(r->e, f.b, 40, f.n, 3 * MS, -1), VG_NET_PASS);
	assert_int_equal(count(r, "malformed-frame"), 1);
	stop(r);
}

static void overlapping_fragments(void **state)
{
	struct run *r = start("check malformed\n", NULL, false, NULL, 0);
	struct tf f;

	tf_udp(&f, "10.0.0.1", "10.0.0.2", 1000, 2000, (const uint8_t *)"AAAAAAAAAAAAAAAA", 16);
	put16(f.b + 14 + 6, 0x2000); /* first fragment, more follow */
	feed(r, &f, 1 * MS, -1);
	put16(f.b + 14 + 6, 0x0001); /* offset 8 overlaps the first 24 bytes */
	feed(r, &f, 2 * MS, -1);
	assert_int_equal(count(r, "malformed-frame"), 1);
	assert_non_null(strstr(r->al[0].summary, "frag-overlap"));
	assert_string_equal(r->al[0].target, "10.0.0.1");
	/* the later fragment joined the first one's flow: it inherited the ports */
	vg_net_engine_finish(r->e);
	assert_int_equal(r->nflows, 1);
	stop(r);
}

static void flagged_flow_capture(void **state)
{
	char dir[] = "/tmp/vigil-net-test-XXXXXX";
	char errbuf[PCAP_ERRBUF_SIZE], path[512];
	struct pcap_pkthdr *h;
	const u_char *data;
	struct run *r;
	const char *ev, *p, *q;
	pcap_t *pc;
	int n = 0;

	assert_non_null(mkdtemp(dir));
	r = start("alert tcp any any -> any 23 (msg:\"telnet root\"; content:\"root\"; sid:7;)\n",
		  NULL, false, dir, 0);
	session(r, "10.0.0.1", "10.0.0.2", 41000, 23, 1 * SEC, "root\r\n");
	assert_int_equal(r->nal, 1);
	ev = r->al[0].evidence;
	p = strstr(ev, "\"pcap\":\"");
	assert_non_null(p);
	p += 8;
	q = strchr(p, '"');
	snprintf(path, sizeof(path), "%.*s", (int)(q - p), p);
	vg_net_engine_finish(r->e);
	pc = pcap_open_offline(path, errbuf);
	assert_non_null(pc);
	while (pcap_next_ex(pc, &h, &data) == 1)
		n++;
	pcap_close(pc);
	/* SYN, SYN-ACK, ACK before the alert; the data segment; the RST after */
	assert_int_equal(n, 5);
	stop(r);
	unlink(path);
	rmdir(dir);
}

static void flow_table_is_bounded(void **state)
{
	struct run *r = start(NULL, NULL, false, NULL, 64);
	struct tf f;
	char ip[32];

	for (int i = 0; i < 2000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 200, i % 200);
		tf_udp(&f, ip, "10.0.0.2", 1000, 2000, (const uint8_t *)"x", 1);
		feed(r, &f, i * MS, -1);
	}
	assert_true(vg_net_engine_stats(r->e)->flows_evicted > 1800);
	assert_true(r->evicted_recs > 1800);
	stop(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vertical_scan_once),
		cmocka_unit_test(ping_sweep),
		cmocka_unit_test(brute_force_then_blocked),
		cmocka_unit_test(spraying_counts_hosts),
		cmocka_unit_test(backdoor_port_ids_and_ips),
		cmocka_unit_test(arp_spoofing),
		cmocka_unit_test(ip_spoofing_by_port),
		cmocka_unit_test(new_listener_after_learning),
		cmocka_unit_test(dns_to_unexpected_resolver),
		cmocka_unit_test(thresholds_and_pass),
		cmocka_unit_test(malformed_frames),
		cmocka_unit_test(overlapping_fragments),
		cmocka_unit_test(flagged_flow_capture),
		cmocka_unit_test(flow_table_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
