// SPDX-License-Identifier: MIT
/*
 * The rule file: lines (with '\' continuations and '#' comments), variables, check lines and
 * rule headers. A rule the subset cannot express is skipped and remembered with its line, so
 * a Suricata rule set loads with what it can and says what it left out; a bad variable or
 * check line is the operator's own configuration and fails the load instead.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_int.h"
#include "vigil/net_rules.h"

#define MAX_LINE (64u << 10)
#define MAX_RULES (1u << 20)

/* Suricata's default address and port groups, so rules written for it load unchanged. */
static const char *const default_vars[][2] = {
	{ "HOME_NET", "any" },
	{ "EXTERNAL_NET", "any" },
	{ "HTTP_SERVERS", "$HOME_NET" },
	{ "SMTP_SERVERS", "$HOME_NET" },
	{ "SQL_SERVERS", "$HOME_NET" },
	{ "DNS_SERVERS", "$HOME_NET" },
	{ "TELNET_SERVERS", "$HOME_NET" },
	{ "AIM_SERVERS", "$EXTERNAL_NET" },
	{ "DC_SERVERS", "$HOME_NET" },
	{ "DNP3_SERVER", "$HOME_NET" },
	{ "DNP3_CLIENT", "$HOME_NET" },
	{ "MODBUS_CLIENT", "$HOME_NET" },
	{ "MODBUS_SERVER", "$HOME_NET" },
	{ "ENIP_CLIENT", "$HOME_NET" },
	{ "ENIP_SERVER", "$HOME_NET" },
};
static const char *const default_port_vars[][2] = {
	{ "HTTP_PORTS", "80" },
	{ "SHELLCODE_PORTS", "!80" },
	{ "ORACLE_PORTS", "1521" },
	{ "SSH_PORTS", "22" },
	{ "DNP3_PORTS", "20000" },
	{ "MODBUS_PORTS", "502" },
	{ "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
	{ "FTP_PORTS", "21" },
	{ "GENEVE_PORTS", "6081" },
	{ "VXLAN_PORTS", "4789" },
	{ "TEREDO_PORTS", "3544" },
};

int vg_net_read_file(const char *path, size_t max, char **out, size_t *len, struct vg_err *err)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vg_errf(err, errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		return vg_errf(err, EFBIG, "%s is not a regular file of at most %zu MiB", path,
			       max >> 20);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return vg_errf(err, ENOMEM, "out of memory reading %s", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return vg_errf(err, e, "reading %s: %s", path, strerror(e));
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	*len = got;
	return 0;
}

static int add_var(struct vg_net_rules *r, const char *name, size_t nlen, const char *value,
		   bool port, bool fixed, struct vg_err *err)
{
	struct vg_net_var *v = NULL;

	for (uint32_t i = 0; i < r->nvars; i++)
		if (strlen(r->vars[i].name) == nlen && !memcmp(r->vars[i].name, name, nlen))
			v = &r->vars[i];
	if (v && v->fixed && !fixed)
		return 0; /* the command line's value wins over the file's */
	if (!v) {
		void *p = realloc(r->vars, (r->nvars + 1) * sizeof(*r->vars));

		if (!p)
			return vg_errf(err, ENOMEM, "out of memory for variables");
		r->vars = p;
		v = &r->vars[r->nvars++];
		memset(v, 0, sizeof(*v));
		v->name = strndup(name, nlen);
		if (!v->name)
			return vg_errf(err, ENOMEM, "out of memory for variables");
	}
	free(v->value);
	v->value = strdup(value);
	v->port = port;
	v->fixed = fixed;
	return v->value ? 0 : vg_errf(err, ENOMEM, "out of memory for variables");
}

static bool valid_name(const char *s, size_t n)
{
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Parses the value once so a bad variable fails where it is defined. */
static int check_var(struct vg_net_rules *r, const char *value, bool port, struct vg_err *err)
{
	struct vg_addrset a;
	struct vg_portset p;
	int ret;

	/* a file is read here once too, so a missing or bad list fails where it is named */
	if (port) {
		ret = vg_portset_parse(r, value, &p, err);
		vg_portset_free(&p);
	} else {
		ret = vg_addrset_parse(r, value, &a, err);
		vg_addrset_free(&a);
	}
	return ret;
}

int vg_net_rules_set_var(struct vg_net_rules *r, const char *asg, bool port, struct vg_err *err)
{
	const char *eq = strchr(asg, '=');
	size_t n = eq ? (size_t)(eq - asg) : 0;

	if (!eq || !valid_name(asg, n) || !eq[1])
		return vg_errf(err, EINVAL, "'%s' is not NAME=VALUE", asg);
	if (check_var(r, eq + 1, port, err))
		return vg_err_prefix(err, "variable %.*s", (int)n, asg);
	return add_var(r, asg, n, eq + 1, port, true, err);
}

int vg_net_rules_init(struct vg_net_rules *r, struct vg_err *err)
{
	int ret = 0;

	memset(r, 0, sizeof(*r));
	vg_net_checks_defaults(&r->checks);
	for (size_t i = 0; i < sizeof(default_vars) / sizeof(default_vars[0]) && !ret; i++)
		ret = add_var(r, default_vars[i][0], strlen(default_vars[i][0]), default_vars[i][1],
			      false, false, err);
	for (size_t i = 0; i < sizeof(default_port_vars) / sizeof(default_port_vars[0]) && !ret;
	     i++)
		ret = add_var(r, default_port_vars[i][0], strlen(default_port_vars[i][0]),
			      default_port_vars[i][1], true, false, err);
	if (ret)
		vg_net_rules_free(r);
	return ret;
}

static void skip(struct vg_net_rules *r, uint32_t line, const char *why)
{
	if (r->skipped < VG_NET_MAX_SKIPPED) {
		char buf[600];

		snprintf(buf, sizeof(buf), "line %u: %s", line, why);
		r->skip_msg[r->skipped] = strdup(buf);
	}
	r->skipped++;
}

/* Next header word; brackets may hold spaces ("[1.2.3.4, 5.6.7.8]"). */
static char *word(char **p)
{
	char *s = *p, *start;
	int depth = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '(')
		return NULL;
	start = s;
	for (; *s && (depth || !isspace((unsigned char)*s)) && !(depth == 0 && *s == '('); s++)
		depth += *s == '[' ? 1 : *s == ']' ? -1 : 0;
	if (*s && *s != '(')
		*s++ = 0;
	else if (*s == '(') {
		/* "any->any(" is not valid Suricata either; demand the space */
		return NULL;
	}
	*p = s;
	return start;
}

static int parse_action(const char *w, uint8_t *a)
{
	static const char *const names[] = { "alert", "drop", "reject", "pass" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(w, names[i])) {
			*a = (uint8_t)i;
			return 0;
		}
	if (!strcmp(w, "rejectsrc") || !strcmp(w, "rejectdst") || !strcmp(w, "rejectboth")) {
		*a = VG_ACT_REJECT;
		return 0;
	}
	return -EINVAL;
}

static void parse_proto(struct vg_rule *r, const char *w)
{
	if (!strcmp(w, "ip") || !strcmp(w, "any") || !strcmp(w, "pkthdr"))
		r->proto = VG_RP_IP;
	else if (!strcmp(w, "tcp") || !strcmp(w, "tcp-pkt") || !strcmp(w, "tcp-stream"))
		r->proto = VG_RP_TCP;
	else if (!strcmp(w, "udp"))
		r->proto = VG_RP_UDP;
	else if (!strcmp(w, "icmp") || !strcmp(w, "icmpv4") || !strcmp(w, "icmpv6"))
		r->proto = VG_RP_ICMP;
	else {
		r->proto = VG_RP_IP; /* an application protocol: matched through nDPI */
		r->app = strdup(w);
	}
}

/* One rule line; a nonzero return skips it with ERR's message. */
static int parse_rule(struct vg_net_rules *rs, char *line, struct vg_rule *r, struct vg_err *err)
{
	char *p = line, *w[7], *open, *close;

	for (int i = 0; i < 7; i++) {
		w[i] = word(&p);
		if (!w[i])
			return vg_errf(err, EINVAL, "incomplete rule header");
	}
	if (parse_action(w[0], &r->action))
		return vg_errf(err, EINVAL, "unknown action '%.40s'", w[0]);
	parse_proto(r, w[1]);
	if (strcmp(w[4], "->") && strcmp(w[4], "<>"))
		return vg_errf(err, EINVAL, "direction must be -> or <>, not '%.20s'", w[4]);
	r->bidir = w[4][0] == '<';
	if (vg_addrset_parse(rs, w[2], &r->src, err) || vg_portset_parse(rs, w[3], &r->sp, err) ||
	    vg_addrset_parse(rs, w[5], &r->dst, err) || vg_portset_parse(rs, w[6], &r->dp, err))
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	open = p;
	close = strrchr(p, ')');
	if (*open != '(' || !close)
		return vg_errf(err, EINVAL, "options must be in parentheses");
	for (char *t = close + 1; *t; t++)
		if (!isspace((unsigned char)*t))
			return vg_errf(err, EINVAL, "text after the options");
	*close = 0;
	return vg_rule_parse_options(r, open + 1, err);
}

static int add_rule(struct vg_net_rules *rs, struct vg_rule *r, struct vg_err *err)
{
	if (rs->n == rs->cap) {
		uint32_t cap = rs->cap ? rs->cap * 2 : 64;
		void *p;

		if (cap > MAX_RULES)
			return vg_errf(err, E2BIG, "more than %u rules", MAX_RULES);
		p = realloc(rs->v, cap * sizeof(*rs->v));
		if (!p)
			return vg_errf(err, ENOMEM, "out of memory for rules");
		rs->v = p;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	return 0;
}

static int handle_var(struct vg_net_rules *rs, char *rest, bool port, uint32_t ln, const char *name,
		      struct vg_err *err)
{
	char *nm = word(&rest), *val;

	while (rest && isspace((unsigned char)*rest))
		rest++;
	val = rest;
	if (val) {
		size_t n = strlen(val);

		while (n && isspace((unsigned char)val[n - 1]))
			val[--n] = 0;
	}
	if (!nm || !valid_name(nm, strlen(nm)) || !val || !*val)
		return vg_errf(err, EINVAL, "%s:%u: expected '%s NAME VALUE'", name, ln,
			       port ? "portvar" : "ipvar");
	if (check_var(rs, val, port, err))
		return vg_err_prefix(err, "%s:%u", name, ln);
	return add_var(rs, nm, strlen(nm), val, port, false, err);
}

static bool starts_word(const char *s, const char *w, char **rest)
{
	size_t n = strlen(w);

	if (strncmp(s, w, n) || (s[n] && !isspace((unsigned char)s[n])))
		return false;
	*rest = (char *)s + n;
	return true;
}

static int handle_line(struct vg_net_rules *rs, char *s, uint32_t ln, const char *name,
		       struct vg_err *err)
{
	struct vg_err rerr = { 0 };
	struct vg_rule r;
	char *rest;

	if (starts_word(s, "ipvar", &rest) || starts_word(s, "var", &rest))
		return handle_var(rs, rest, false, ln, name, err);
	if (starts_word(s, "portvar", &rest))
		return handle_var(rs, rest, true, ln, name, err);
	if (starts_word(s, "check", &rest)) {
		if (vg_net_check_parse(rs, rest, err))
			return vg_err_prefix(err, "%s:%u", name, ln);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.line = ln;
	r.severity = -1;
	if (parse_rule(rs, s, &r, &rerr)) {
		vg_rule_free(&r);
		skip(rs, ln, rerr.msg);
		return 0;
	}
	if (add_rule(rs, &r, err)) {
		vg_rule_free(&r);
		return -err->code;
	}
	return 0;
}

int vg_net_rules_parse(struct vg_net_rules *rs, const char *text, size_t len, const char *name,
		       struct vg_err *err)
{
	char *buf = malloc(MAX_LINE + 1);
	size_t pos = 0, bl = 0;
	uint32_t ln = 0, start_ln = 1;
	int ret = 0;

	if (!buf)
		return vg_errf(err, ENOMEM, "out of memory parsing %s", name);
	while (pos < len && !ret) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *s = text + pos;
		bool cont;

		pos += n + (nl ? 1 : 0);
		ln++;
		if (!bl)
			start_ln = ln;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		cont = n && s[n - 1] == '\\';
		if (cont)
			n--;
		if (memchr(s, 0, n)) {
			ret = vg_errf(err, EINVAL, "%s:%u: NUL byte in the rule file", name, ln);
			break;
		}
		if (bl + n > MAX_LINE) {
			ret = vg_errf(err, E2BIG, "%s:%u: line longer than %u bytes", name, ln,
				      MAX_LINE);
			break;
		}
		memcpy(buf + bl, s, n);
		bl += n;
		if (cont && pos < len)
			continue;
		buf[bl] = 0;
		bl = 0;
		{
			char *t = buf;

			while (isspace((unsigned char)*t))
				t++;
			if (*t && *t != '#')
				ret = handle_line(rs, t, start_ln, name, err);
		}
	}
	free(buf);
	return ret;
}

int vg_net_rules_load(struct vg_net_rules *r, const char *path, struct vg_err *err)
{
	char *text, *slash;
	size_t len;
	int ret = vg_net_read_file(path, 16u << 20, &text, &len, err);

	if (ret)
		return ret;
	free(r->dir);
	r->dir = strdup(path);
	slash = r->dir ? strrchr(r->dir, '/') : NULL;
	if (slash)
		*slash = 0;
	else if (r->dir)
		strcpy(r->dir, ".");
	ret = vg_net_rules_parse(r, text, len, path, err);
	free(text);
	return ret;
}

void vg_net_rules_free(struct vg_net_rules *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		vg_rule_free(&r->v[i]);
	free(r->v);
	for (uint32_t i = 0; i < r->nvars; i++) {
		free(r->vars[i].name);
		free(r->vars[i].value);
	}
	free(r->vars);
	for (uint32_t i = 0; i < r->skipped && i < VG_NET_MAX_SKIPPED; i++)
		free(r->skip_msg[i]);
	vg_net_checks_free(&r->checks);
	free(r->dir);
	memset(r, 0, sizeof(*r));
}

const char *vg_rule_action_name(uint8_t a)
{
	static const char *const names[] = { "alert", "drop", "reject", "pass" };

	return a < 4 ? names[a] : "?";
}

const char *vg_rule_proto_name(uint8_t p)
{
	static const char *const names[] = { "ip", "tcp", "udp", "icmp" };

	return p < 4 ? names[p] : "?";
}

enum vg_severity vg_rule_severity(const struct vg_rule *r)
{
	if (r->severity >= 0)
		return (enum vg_severity)r->severity;
	switch (r->priority) {
	case 1:
		return VG_SEV_HIGH;
	case 3:
		return VG_SEV_LOW;
	case 4:
		return VG_SEV_INFO;
	default:
		return VG_SEV_MEDIUM;
	}
}
