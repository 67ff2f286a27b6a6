// SPDX-License-Identifier: MIT
/* The switch's decoder, address/port sets, rule parser and content matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/match.h"
#include "net/net_int.h"
#include "net_frames.h"
#include "vigil/net_pkt.h"
#include "vigil/net_rules.h"

static void decodes_tcp4(void **state)
{
	struct tf f;
	struct vg_pkt p;
	char a[64];

	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 40000, 23, 0x18, "root\r\n");
	vg_net_decode(f.b, f.n, &p);
	assert_int_equal(p.anomalies, 0);
	assert_int_equal(p.l3, VG_L3_IP4);
	assert_int_equal(p.proto, VG_IPPROTO_TCP);
	assert_true(p.l4);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 23);
	assert_int_equal(p.tcp_flags, 0x18);
	assert_int_equal(p.plen, 6);
	assert_memory_equal(p.payload, "root\r\n", 6);
	assert_string_equal(vg_ip_str(&p.src, a, sizeof(a)), "10.0.0.1");
	assert_int_equal(p.src_mac[5], 1);
	assert_int_equal(p.l3_len, 46);
}

static void padding_is_not_payload(void **state)
{
	struct tf f;
	struct vg_pkt p;

	/* a bare SYN is 54 bytes, padded to 60: the IP length says where it ends */
	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x02, NULL);
	assert_int_equal(f.n, 60);
	vg_net_decode(f.b, f.n, &p);
	assert_int_equal(p.plen, 0);
	assert_int_equal(p.anomalies, 0);
}

static void decodes_vlan_arp_udp_icmp(void **state)
{
	struct tf f;
	struct vg_pkt p;
	uint8_t q[80];
	char a[64];

	tf_arp(&f, 2, 5, 5, "10.0.0.5", "10.0.0.1");
	vg_net_decode(f.b, f.n, &p);
	assert_int_equal(p.l3, VG_L3_ARP);
	assert_int_equal(p.arp_op, 2);
	assert_string_equal(vg_ip_str(&p.arp_spa, a, sizeof(a)), "10.0.0.5");
	assert_int_equal(p.anomalies, 0);
	tf_arp(&f, 2, 5, 9, "10.0.0.5", "10.0.0.1");
	vg_net_decode(f.b, f.n, &p);
	assert_int_equal(p.anomalies, VG_PA_ARP_SHA);

	tf_udp(&f, "10.0.0.1", "10.0.0.53", 5353, 53, (const uint8_t *)"abcd", 4);
	/* insert an 802.1Q tag with VLAN 42 */
	memcpy(q, f.b, 12);
	put16(q + 12, 0x8100);
	put16(q + 14, 42);
	memcpy(q + 16, f.b + 12, f.n - 12);
	vg_net_decode(q, f.n + 4, &p);
	assert_int_equal(p.vlan, 42);
	assert_int_equal(p.nvlan, 1);
	assert_int_equal(p.proto, VG_IPPROTO_UDP);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.plen, 4);

	tf_icmp_echo(&f, "10.0.0.1", "10.0.0.9");
	vg_net_decode(f.b, f.n, &p);
	assert_int_equal(p.icmp_type, 8);
	assert_true(p.l4);
}

static void decodes_ipv6_chain_and_fragments(void **state)
{
	uint8_t b[200] = { 0 };
	struct vg_pkt p;
	uint8_t *ip = b + 14, *e;

	put16(b + 12, 0x86dd);
	ip[0] = 0x60;
	ip[6] = 0; /* hop-by-hop */
	ip[7] = 64;
	inet_pton(AF_INET6, "fd00::1", ip + 8);
	inet_pton(AF_INET6, "fd00::2", ip + 24);
	e = ip + 40;
	e[0] = 44; /* next: fragment */
	e[1] = 0;  /* 8 bytes */
	e += 8;
	e[0] = 6;	 /* next: TCP */
	put16(e + 2, 1); /* offset 0, more fragments */
	put32(e + 4, 0x1234);
	e += 8;
	put16(e, 5555);
	put16(e + 2, 80);
	e[12] = 5 << 4;
	e[13] = 2;
	put16(ip + 4, 16 + 20);
	vg_net_decode(b, 14 + 40 + 36, &p);
	assert_int_equal(p.l3, VG_L3_IP6);
	assert_int_equal(p.proto, VG_IPPROTO_TCP);
	assert_true(p.frag);
	assert_true(p.more_frags);
	assert_int_equal(p.frag_id, 0x1234);
	assert_true(p.l4);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.anomalies, 0);

	/* the same first fragment cut inside the TCP header: a tiny fragment (RFC 1858) */
	put16(ip + 4, 16 + 8);
	vg_net_decode(b, 14 + 40 + 24, &p);
	assert_true(p.anomalies & VG_PA_FRAG_TINY);
	assert_false(p.l4);

	/* a chain longer than the decoder follows */
	put16(ip + 4, 100);
	for (int i = 0; i < 12; i++) {
		ip[40 + i * 8] = 60; /* destination options, again and again */
		ip[40 + i * 8 + 1] = 0;
	}
	ip[6] = 60;
	vg_net_decode(b, 14 + 40 + 100, &p);
	assert_true(p.anomalies & VG_PA_IP6_EXT);
}

static void flags_bad_input(void **state)
{
	struct tf f;
	struct vg_pkt p;

	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x03, NULL); /* SYN+FIN */
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_TCP_FLAGS);
	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x29, NULL); /* Xmas */
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_TCP_FLAGS);
	tf_tcp(&f, "10.0.0.7", "10.0.0.7", 9, 9, 0x02, NULL); /* land */
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_LAND);
	tf_tcp(&f, "127.0.0.1", "10.0.0.7", 9, 9, 0x02, NULL);
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_SRC_BAD);

	/* header length below 20, then total length beyond the frame */
	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x02, NULL);
	f.b[14] = 0x44;
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_IP_HLEN);
	f.b[14] = 0x45;
	put16(f.b + 16, 1400);
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.anomalies & VG_PA_IP_LEN);
	/* ...which still decodes the TCP header inside the frame */
	assert_true(p.l4);

	/* every prefix of a good frame decodes without reading past it */
	tf_tcp(&f, "10.0.0.1", "10.0.0.2", 1, 2, 0x18, "hello there");
	for (uint32_t n = 0; n < f.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, f.b, n);
		vg_net_decode(copy, n, &p);
		assert_true(n >= 14 + 20 + 20 + 11 || p.anomalies);
		free(copy);
	}
}

static void oversize_fragment(void **state)
{
	struct tf f;
	struct vg_pkt p;

	tf_udp(&f, "10.0.0.1", "10.0.0.2", 1, 2, (const uint8_t *)"xxxxxxxx", 8);
	put16(f.b + 14 + 6, 8190); /* offset 65520: 16 more bytes reach past 65535 */
	vg_net_decode(f.b, f.n, &p);
	assert_true(p.frag);
	assert_true(p.anomalies & VG_PA_FRAG_OVERSIZE);
	assert_false(p.l4);
	assert_int_equal(p.plen, 16);
}

static struct vg_net_rules rs;

static int rules_setup(void **state)
{
	struct vg_err err = { 0 };

	return vg_net_rules_init(&rs, &err);
}

static int rules_teardown(void **state)
{
	vg_net_rules_free(&rs);
	return 0;
}

static bool has(const char *set, const char *ip)
{
	struct vg_addrset s;
	struct vg_err err = { 0 };
	struct vg_ip a;
	bool r;

	assert_int_equal(vg_addrset_parse(&rs, set, &s, &err), 0);
	assert_int_equal(vg_ip_parse(ip, &a), 0);
	r = vg_addrset_has(&s, &a);
	vg_addrset_free(&s);
	return r;
}

static bool port_in(const char *set, uint16_t port)
{
	struct vg_portset s;
	struct vg_err err = { 0 };
	bool r;

	assert_int_equal(vg_portset_parse(&rs, set, &s, &err), 0);
	r = vg_portset_has(&s, port);
	vg_portset_free(&s);
	return r;
}

static void address_sets(void **state)
{
	struct vg_err err = { 0 };
	struct vg_addrset s;

	assert_true(has("any", "1.2.3.4"));
	assert_true(has("10.0.0.0/8", "10.255.0.1"));
	assert_false(has("10.0.0.0/8", "11.0.0.1"));
	assert_true(has("[10.0.0.0/8,!10.1.0.0/16]", "10.2.0.1"));
	assert_false(has("[10.0.0.0/8,!10.1.0.0/16]", "10.1.2.3"));
	assert_false(has("!10.0.0.0/8", "10.1.2.3"));
	assert_true(has("!10.0.0.0/8", "fd00::1"));
	assert_true(has("[!192.168.1.1]", "192.168.1.2"));
	assert_false(has("[!192.168.1.1]", "192.168.1.1"));
	assert_true(has("[1.1.1.1, [2.2.2.0/24, !2.2.2.2]]", "2.2.2.3"));
	assert_false(has("[1.1.1.1, [2.2.2.0/24, !2.2.2.2]]", "2.2.2.2"));
	assert_true(has("fd00::/8", "fd12::1"));
	assert_false(has("fd00::/8", "fe80::1"));
	assert_false(has("[]", "1.2.3.4"));
	assert_false(has("!any", "1.2.3.4"));
	assert_int_equal(vg_net_rules_set_var(&rs, "HOME_NET=[10.9.0.0/24]", false, &err), 0);
	assert_true(has("$HOME_NET", "10.9.0.7"));
	assert_false(has("$EXTERNAL_NET", "10.9.0.7") == false);
	assert_false(has("!$HOME_NET", "10.9.0.7"));
	/* errors name what was wrong */
	assert_int_not_equal(vg_addrset_parse(&rs, "10.0.0.0/33", &s, &err), 0);
	assert_non_null(strstr(err.msg, "prefix"));
	vg_err_clear(&err);
	assert_int_not_equal(vg_addrset_parse(&rs, "$NOPE", &s, &err), 0);
	assert_non_null(strstr(err.msg, "unknown variable"));
	vg_err_clear(&err);
	assert_int_not_equal(vg_addrset_parse(&rs, "[1.2.3.4", &s, &err), 0);
	vg_err_clear(&err);
	assert_int_not_equal(vg_addrset_parse(&rs, "$HTTP_PORTS", &s, &err), 0);
	assert_non_null(strstr(err.msg, "port variable"));
}

static void variable_loops_end(void **state)
{
	const char text[] = "ipvar A $B\n";
	struct vg_err err = { 0 };
	struct vg_addrset s;

	/* B does not exist yet: the definition itself fails */
	assert_int_not_equal(vg_net_rules_parse(&rs, text, strlen(text), "t", &err), 0);
	vg_err_clear(&err);
	assert_int_equal(vg_net_rules_set_var(&rs, "A=[1.1.1.1]", false, &err), 0);
	assert_int_equal(vg_net_rules_set_var(&rs, "B=$A", false, &err), 0);
	/* redefining A in terms of B makes a loop; its use stops at the depth limit */
	free(rs.vars[rs.nvars - 2].value);
	rs.vars[rs.nvars - 2].value = strdup("$B");
	assert_int_not_equal(vg_addrset_parse(&rs, "$A", &s, &err), 0);
	assert_non_null(strstr(err.msg, "deep"));
}

static void port_sets(void **state)
{
	assert_true(port_in("any", 7));
	assert_true(port_in("80", 80));
	assert_false(port_in("80", 81));
	assert_true(port_in("1024:", 65535));
	assert_false(port_in("1024:", 1023));
	assert_true(port_in(":100", 0));
	assert_true(port_in("[22,23,2000:2010]", 2005));
	assert_false(port_in("[22,23,2000:2010]", 24));
	assert_false(port_in("!80", 80));
	assert_true(port_in("!80", 443));
	assert_true(port_in("[1:100,!50]", 49));
	assert_false(port_in("[1:100,!50]", 50));
	assert_true(port_in("$HTTP_PORTS", 80));
}

static const char rule_text[] =
	"# comment\n"
	"ipvar LAB [10.9.0.0/24]\n"
	"portvar TEL [23,2323]\n"
	"check vertical-scan ports 5 seconds 7\n"
	"check brute-force attempts 3 ports $TEL\n"
	"alert tcp $LAB any -> any $TEL (msg:\"telnet \\\"login\\\"; test\"; flow:to_server,"
	"established; content:\"ro\"; nocase; depth:4; content:\"|3a 20|\"; distance:0; within:8; "
	"dsize:>3; flags:PA+,12; threshold: type limit, track by_src, count 2, seconds 60; "
	"classtype:attempted-admin; metadata: vigil_check login, attack T1110, attack T1078; "
	"reference:url,example.org; sid:100; rev:3;)\n"
	"drop udp any any <> any 53 (msg:\"dns\"; \\\n"
	"  sid:101;)\n"
	"alert http any any -> any any (msg:\"uses a sticky buffer\"; http.uri; content:\"x\"; "
	"sid:102;)\n"
	"alert tcp any any -> any any (msg:\"no sid\";)\n"
	"alert icmp any any -> any any (msg:\"ping\"; itype:8; icode:0; sid:103;)\n"
	"alert tcp any any -> any any (msg:\"app\"; app-layer-protocol:!ssh; sid:104;)\n"
	"pass ip 10.9.0.1 any -> any any (msg:\"trusted\"; sid:105; priority:4;)\n"
	"alert tcp any any -> any 80 (msg:\"pcre\"; pcre:\"/x/\"; sid:106;)\n";

static void parses_rules(void **state)
{
	struct vg_err err = { 0 };
	const struct vg_rule *r;

	assert_int_equal(vg_net_rules_parse(&rs, rule_text, strlen(rule_text), "t", &err), 0);
	assert_int_equal(rs.n, 5);
	assert_int_equal(rs.skipped, 3);
	assert_non_null(strstr(rs.skip_msg[0], "line 9: unsupported keyword 'http.uri'"));
	assert_non_null(strstr(rs.skip_msg[1], "line 10: rule has no sid"));
	assert_non_null(strstr(rs.skip_msg[2], "pcre"));
	r = &rs.v[0];
	assert_int_equal(r->sid, 100);
	assert_int_equal(r->rev, 3);
	assert_string_equal(r->msg, "telnet \"login\"; test");
	assert_int_equal(r->flow, VG_FLOW_TO_SERVER | VG_FLOW_ESTABLISHED);
	assert_int_equal(r->ncontent, 2);
	assert_true(r->content[0].nocase);
	assert_int_equal(r->content[0].depth, 4);
	assert_int_equal(r->content[1].len, 2);
	assert_memory_equal(r->content[1].bytes, ": ", 2);
	assert_true(r->content[1].relative);
	assert_int_equal(r->content[1].within, 8);
	assert_int_equal(r->dsize.op, VG_CMP_GT);
	assert_int_equal(r->flags_mode, '+');
	assert_int_equal(r->flags_want, VG_TCP_PSH | VG_TCP_ACK);
	assert_int_equal(r->flags_ignore, VG_TCP_CWR | VG_TCP_ECE);
	assert_int_equal(r->th_type, VG_TH_LIMIT);
	assert_int_equal(r->th_count, 2);
	assert_string_equal(r->check, "login");
	assert_string_equal(r->attack, "T1110,T1078");
	assert_int_equal(vg_rule_severity(r), VG_SEV_HIGH); /* attempted-admin: priority 1 */
	assert_true(vg_portset_has(&r->dp, 2323));
	assert_false(vg_portset_has(&r->dp, 22));
	r = &rs.v[1];
	assert_int_equal(r->action, VG_ACT_DROP);
	assert_true(r->bidir);
	assert_int_equal(r->line, 7); /* a continued rule is numbered by its first line */
	assert_string_equal(rs.v[3].app, "ssh");
	assert_true(rs.v[3].app_negated);
	assert_int_equal(rs.v[4].action, VG_ACT_PASS);
	assert_int_equal(vg_rule_severity(&rs.v[4]), VG_SEV_INFO);
	assert_true(rs.checks.vscan.on);
	assert_int_equal(rs.checks.vscan.count, 5);
	assert_int_equal(rs.checks.vscan.seconds, 7);
	assert_true(rs.checks.brute.on);
	assert_int_equal(rs.checks.brute.attempts, 3);
	assert_true(vg_portset_has(&rs.checks.brute.ports, 2323));
	assert_false(rs.checks.hscan.on);
}

static void bad_config_lines_fail(void **state)
{
	static const char *const bad[] = {
		"check no-such-check\n",
		"check vertical-scan ports\n",
		"check vertical-scan ports 0\n",
		"check vertical-scan colour 3\n",
		"ipvar X\n",
		"ipvar X 300.1.1.1\n",
		"portvar P [1:2:3]\n",
		"ipvar BAD-NAME 1.2.3.4\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vg_err err = { 0 };

		assert_int_not_equal(vg_net_rules_parse(&rs, bad[i], strlen(bad[i]), "t", &err), 0);
		assert_non_null(strstr(err.msg, "t:1"));
	}
}

static bool content(const char *opts, const char *payload)
{
	struct vg_rule r = { .severity = -1 };
	struct vg_err err = { 0 };
	char *o = strdup(opts);
	bool m;

	assert_int_equal(vg_rule_parse_options(&r, o, &err), 0);
	m = vg_rule_content_match(&r, (const uint8_t *)payload, (uint32_t)strlen(payload));
	vg_rule_free(&r);
	free(o);
	return m;
}

static void content_matching(void **state)
{
	assert_true(content("content:\"abc\"; sid:1;", "xxabcxx"));
	assert_false(content("content:\"abc\"; sid:1;", "xxabxcx"));
	assert_true(content("content:\"ABC\"; nocase; sid:1;", "xxabcxx"));
	assert_false(content("content:\"abc\"; offset:3; sid:1;", "xxabcxx"));
	assert_true(content("content:\"abc\"; offset:2; depth:3; sid:1;", "xxabcxx"));
	assert_false(content("content:\"abc\"; depth:4; sid:1;", "xxabcxx"));
	assert_true(content("content:\"|61 62|c\"; sid:1;", "abc"));
	assert_true(content("content:!\"evil\"; sid:1;", "good"));
	assert_false(content("content:!\"evil\"; sid:1;", "so evil"));
	/* the second content must follow the first within 3 bytes: only the second "user"
	 * occurrence satisfies it, which needs backtracking */
	assert_true(content("content:\"user\"; content:\"root\"; distance:1; within:5; sid:1;",
			    "user xxxxxxxxx user root"));
	assert_false(content("content:\"user\"; content:\"root\"; distance:1; within:5; sid:1;",
			     "user xxxxxxxxx root"));
	assert_true(content("content:\"a\"; content:\"b\"; distance:0; sid:1;", "ab"));
	assert_false(content("content:\"b\"; content:\"a\"; distance:0; sid:1;", "ab"));
}

static void content_errors(void **state)
{
	static const char *const bad[] = {
		"content:\"\"; sid:1;",	    "content:\"|4|\"; sid:1;",
		"content:\"|zz|\"; sid:1;", "content:\"abc; sid:1;",
		"nocase; sid:1;",	    "content:\"abcdef\"; depth:2; sid:1;",
		"flow:sideways; sid:1;",    "flow:to_server,to_client; sid:1;",
		"flags:SQ; sid:1;",	    "threshold: type limit, count 1; sid:1;",
		"dsize:abc; sid:1;",	    "sid:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vg_rule r = { .severity = -1 };
		struct vg_err err = { 0 };
		char *o = strdup(bad[i]);

		assert_int_not_equal(vg_rule_parse_options(&r, o, &err), 0);
		assert_true(err.msg[0]);
		vg_rule_free(&r);
		free(o);
	}
}

static void default_rules_load(void **state)
{
	struct vg_net_rules d;
	struct vg_err err = { 0 };

	assert_int_equal(vg_net_rules_init(&d, &err), 0);
	assert_int_equal(vg_net_rules_load(&d, VG_TEST_DEFAULT_RULES, &err), 0);
	assert_int_equal(d.skipped, 0);
	assert_true(d.n >= 8);
	assert_true(d.checks.hscan.on && d.checks.vscan.on && d.checks.brute.on);
	assert_true(d.checks.arp_spoof.on && d.checks.ip_spoof.on && d.checks.listener.on);
	vg_net_rules_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_tcp4),
		cmocka_unit_test(padding_is_not_payload),
		cmocka_unit_test(decodes_vlan_arp_udp_icmp),
		cmocka_unit_test(decodes_ipv6_chain_and_fragments),
		cmocka_unit_test(flags_bad_input),
		cmocka_unit_test(oversize_fragment),
		cmocka_unit_test_setup_teardown(address_sets, rules_setup, rules_teardown),
		cmocka_unit_test_setup_teardown(variable_loops_end, rules_setup, rules_teardown),
		cmocka_unit_test_setup_teardown(port_sets, rules_setup, rules_teardown),
		cmocka_unit_test_setup_teardown(parses_rules, rules_setup, rules_teardown),
		cmocka_unit_test_setup_teardown(bad_config_lines_fail, rules_setup, rules_teardown),
		cmocka_unit_test(content_matching),
		cmocka_unit_test(content_errors),
		cmocka_unit_test(default_rules_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
