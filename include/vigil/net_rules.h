/* SPDX-License-Identifier: MIT */
/*
 * The switch's rule file (docs/net.md): variables, vigil's behaviour checks and signatures in a
 * subset of Suricata's rule syntax, so existing rules can be reused.
 *
 *   ipvar HOME_NET [10.0.0.0/8,fd00::/8]          # Snort-style variables; @FILE reads one
 *   portvar LOGIN_PORTS [22,23,2323]              # address or port per line from FILE
 *   check vertical-scan ports 20 seconds 10       # a behaviour check and its settings
 *   alert tcp any any -> $HOME_NET 4444 (msg:"bindshell"; flow:to_server; flags:S; sid:1;)
 *
 * Supported rule keywords: msg, sid, rev, gid, classtype, priority, reference, metadata,
 * content (with nocase, depth, offset, distance, within, fast_pattern), flow, flags, dsize,
 * itype, icode, threshold, detection_filter, app-layer-protocol; headers take ip, tcp, udp,
 * icmp and application protocols (nDPI's names through vg_net_app_proto). A rule using any
 * other keyword is skipped and listed with its line and the keyword (`vigil net rules`), not
 * guessed at. The text is the operator's, but rule sets come from elsewhere: the parser bounds
 * every list and length and never trusts a number.
 */
#ifndef VIGIL_NET_RULES_H
#define VIGIL_NET_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/net_pkt.h"

/* A set of addresses: sorted, disjoint, inclusive ranges over the 128-bit space (IPv4 as
 * ::ffff:0:0/96), so negation and lists of any size cost one binary search. */
struct vg_addr_range {
	unsigned __int128 lo, hi;
};
struct vg_addrset {
	struct vg_addr_range *v;
	uint32_t n;
	bool any;
};
/* Ports the same way, as inclusive ranges. */
struct vg_port_range {
	uint16_t lo, hi;
};
struct vg_portset {
	struct vg_port_range *v;
	uint32_t n;
	bool any;
};

bool vg_addrset_has(const struct vg_addrset *s, const struct vg_ip *a);
bool vg_portset_has(const struct vg_portset *s, uint16_t port);
void vg_addrset_free(struct vg_addrset *s);
void vg_portset_free(struct vg_portset *s);

enum vg_rule_action { VG_ACT_ALERT, VG_ACT_DROP, VG_ACT_REJECT, VG_ACT_PASS };
enum vg_rule_proto { VG_RP_IP, VG_RP_TCP, VG_RP_UDP, VG_RP_ICMP };

#define VG_RULE_MAX_CONTENT 16
#define VG_RULE_MAX_CONTENT_LEN 1024

struct vg_rule_content {
	uint8_t *bytes;
	uint16_t len;
	bool nocase, negated, relative;
	int32_t offset, depth, distance, within; /* -1: not given */
};

enum vg_cmp { VG_CMP_NONE, VG_CMP_EQ, VG_CMP_LT, VG_CMP_GT, VG_CMP_RANGE, VG_CMP_NE };
struct vg_rule_cmp {
	uint8_t op; /* enum vg_cmp */
	uint32_t a, b;
};

enum vg_thresh_type { VG_TH_NONE, VG_TH_LIMIT, VG_TH_THRESHOLD, VG_TH_BOTH, VG_TH_DETECTION };
enum vg_track { VG_TRACK_SRC, VG_TRACK_DST, VG_TRACK_RULE };

/* flow: keyword bits */
enum {
	VG_FLOW_TO_SERVER = 1,
	VG_FLOW_TO_CLIENT = 2,
	VG_FLOW_ESTABLISHED = 4,
	VG_FLOW_NOT_ESTABLISHED = 8
};

struct vg_rule {
	uint32_t sid, rev, gid;
	uint8_t action, proto;
	char *app; /* application protocol from the header or app-layer-protocol, or NULL */
	bool app_negated;
	struct vg_addrset src, dst;
	struct vg_portset sp, dp;
	bool bidir;
	uint8_t flow;
	/* flags: the packet's flags outside IGNORE must satisfy MODE against WANT */
	uint8_t flags_want, flags_ignore;
	char flags_mode; /* 0 none, '=' exact, '+' all of and any other, '*' any of, '!' none of */
	struct vg_rule_cmp dsize, itype, icode;
	struct vg_rule_content content[VG_RULE_MAX_CONTENT];
	uint8_t ncontent;
	uint8_t th_type, th_track;
	uint32_t th_count, th_seconds;
	char *msg, *classtype;
	int priority; /* 1 (highest) .. 4; 0 when not given */
	char *check;  /* metadata vigil_check ID: the alert's check id (default "signature") */
	char *attack; /* metadata attack T1046[,...] */
	int severity; /* metadata severity NAME, -1 when not given */
	uint32_t line;
};

/* Behaviour checks ("check NAME key value ..."); each has its own settings. */
struct vg_net_checks {
	struct {
		bool on;
		uint32_t count, seconds; /* distinct hosts (horizontal) or ports (vertical) */
	} hscan, vscan;
	struct {
		bool on;
		uint32_t attempts, seconds;
		struct vg_portset ports;
	} brute;
	struct {
		bool on;
		uint32_t hold; /* seconds a learned IP-to-MAC binding holds */
	} arp_spoof;
	struct {
		bool on;
	} ip_spoof, malformed;
	struct {
		bool on;
		uint32_t learn; /* seconds of learning before new listeners alert */
		struct vg_portset allow;
	} listener;
	uint32_t block; /* IPS: seconds a scanning or brute-forcing source stays blocked */
};

struct vg_net_var {
	char *name, *value;
	bool port;
	bool fixed; /* set on the command line: the file's definition does not replace it */
};

#define VG_NET_MAX_SKIPPED 64

struct vg_net_rules {
	struct vg_rule *v;
	uint32_t n, cap;
	struct vg_net_checks checks;
	struct vg_net_var *vars;
	uint32_t nvars;
	uint32_t skipped;		    /* rules not loaded (unsupported keyword or syntax) */
	char *skip_msg[VG_NET_MAX_SKIPPED]; /* "line N: why", the first ones */
	char *dir;			    /* the file's directory, for @FILE variables */
};

/* Sets R to the built-in variables (HOME_NET any, ...) and checks (all off). */
int vg_net_rules_init(struct vg_net_rules *r, struct vg_err *err);
/* Defines (or redefines) a variable, "NAME=VALUE" form as from the command line; it applies to
 * rules parsed after it. */
int vg_net_rules_set_var(struct vg_net_rules *r, const char *assignment, bool port,
			 struct vg_err *err);
/* Parses TEXT (LEN bytes) into R. Unsupported rules are skipped and counted; a bad variable or
 * check line is an error naming its line. NAME is for messages. */
int vg_net_rules_parse(struct vg_net_rules *r, const char *text, size_t len, const char *name,
		       struct vg_err *err);
/* Reads and parses FILE (at most 16 MiB). */
int vg_net_rules_load(struct vg_net_rules *r, const char *path, struct vg_err *err);
void vg_net_rules_free(struct vg_net_rules *r);

const char *vg_rule_action_name(uint8_t action);
const char *vg_rule_proto_name(uint8_t proto);
/* The alert severity a rule's alerts carry (metadata severity, else priority, else medium). */
enum vg_severity vg_rule_severity(const struct vg_rule *r);

/* Internal to the parser but shared with tests: parses one address or port expression
 * ("[10.0.0.0/8,!10.1.2.3]", "$HOME_NET", "!80:90"). */
int vg_addrset_parse(const struct vg_net_rules *r, const char *text, struct vg_addrset *out,
		     struct vg_err *err);
int vg_portset_parse(const struct vg_net_rules *r, const char *text, struct vg_portset *out,
		     struct vg_err *err);

#endif
