// SPDX-License-Identifier: MIT
/*
 * A rule's options, "key:value;" pairs in Suricata's syntax. Values may be quoted, with '\'
 * escaping '"', ';', ':' and '\'; content strings mix text and |hex| bytes. Only the keywords
 * listed in vigil/net_rules.h are understood: anything else makes the whole rule unsupported
 * (a rule that silently lost a condition would alert on traffic its author never meant).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"
#include "vigil/alert.h"

/* Suricata's classification.config priorities for the common classtypes. */
static const struct {
	const char *name;
	int prio;
} classes[] = {
	{ "attempted-admin", 1 },
	{ "attempted-user", 1 },
	{ "shellcode-detect", 1 },
	{ "successful-admin", 1 },
	{ "successful-user", 1 },
	{ "trojan-activity", 1 },
	{ "web-application-attack", 1 },
	{ "exploit-kit", 1 },
	{ "command-and-control", 1 },
	{ "policy-violation", 1 },
	{ "attempted-recon", 2 },
	{ "attempted-dos", 2 },
	{ "bad-unknown", 2 },
	{ "denial-of-service", 2 },
	{ "misc-attack", 2 },
	{ "protocol-command-decode", 3 },
	{ "network-scan", 3 },
	{ "misc-activity", 3 },
	{ "not-suspicious", 3 },
	{ "unknown", 3 },
	{ "icmp-event", 4 },
	{ "tcp-connection", 4 },
};

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Removes surrounding quotes and escapes in place. */
static int unquote(char *s, struct vg_err *err)
{
	size_t n = strlen(s), k = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return vg_errf(err, EINVAL, "expected a quoted string, got '%.40s'", s);
	for (size_t i = 1; i < n - 1; i++) {
		if (s[i] == '\\' && i + 1 < n - 1)
			i++;
		s[k++] = s[i];
	}
	s[k] = 0;
	return 0;
}

static int number(const char *s, uint32_t max, uint32_t *out, struct vg_err *err)
{
	char *end;
	unsigned long v;

	while (isspace((unsigned char)*s))
		s++;
	v = strtoul(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (!isdigit((unsigned char)*s) || *end || v > max)
		return vg_errf(err, EINVAL, "'%.40s' is not a number up to %u", s, max);
	*out = (uint32_t)v;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_content(struct vg_rule *r, char *v, struct vg_err *err)
{
	struct vg_rule_content *c;
	uint8_t buf[VG_RULE_MAX_CONTENT_LEN];
	size_t n = 0, len;
	bool neg = false, hex = false;
	int half = -1;

	if (r->ncontent == VG_RULE_MAX_CONTENT)
		return vg_errf(err, E2BIG, "more than %d content matches", VG_RULE_MAX_CONTENT);
	if (*v == '!') {
		neg = true;
		v = trim(v + 1);
	}
	len = strlen(v);
	if (len < 3 || v[0] != '"' || v[len - 1] != '"')
		return vg_errf(err, EINVAL, "content must be a non-empty quoted string");
	for (size_t i = 1; i < len - 1; i++) {
		int ch = (unsigned char)v[i];

		if (n == sizeof(buf))
			return vg_errf(err, E2BIG, "content longer than %d bytes",
				       (int)sizeof(buf));
		if (ch == '|') {
			if (hex && half >= 0)
				return vg_errf(err, EINVAL, "odd number of hex digits in content");
			hex = !hex;
			continue;
		}
		if (hex) {
			int h = hexval(ch);

			if (isspace(ch))
				continue;
			if (h < 0)
				return vg_errf(err, EINVAL, "bad hex digit '%c' in content", ch);
			if (half < 0) {
				half = h;
			} else {
				buf[n++] = (uint8_t)(half << 4 | h);
				half = -1;
			}
			continue;
		}
		if (ch == '\\' && i + 1 < len - 1)
			ch = (unsigned char)v[++i];
		buf[n++] = (uint8_t)ch;
	}
	if (hex)
		return vg_errf(err, EINVAL, "unclosed |hex| in content");
	if (!n)
		return vg_errf(err, EINVAL, "empty content");
	c = &r->content[r->ncontent];
	memset(c, 0, sizeof(*c));
	c->bytes = malloc(n);
	if (!c->bytes)
		return vg_errf(err, ENOMEM, "out of memory for content");
	memcpy(c->bytes, buf, n);
	c->len = (uint16_t)n;
	c->negated = neg;
	c->offset = c->depth = c->distance = c->within = -1;
	r->ncontent++;
	return 0;
}

static int content_mod(struct vg_rule *r, const char *k, char *v, struct vg_err *err)
{
	struct vg_rule_content *c;
	uint32_t x;

	if (!r->ncontent)
		return vg_errf(err, EINVAL, "'%s' before any content", k);
	c = &r->content[r->ncontent - 1];
	if (!strcmp(k, "nocase")) {
		c->nocase = true;
		return 0;
	}
	if (!strcmp(k, "fast_pattern") || !strcmp(k, "rawbytes"))
		return 0; /* a prefilter hint and the packet view: both what vigil does anyway */
	if (!v || number(v, 65535, &x, err))
		return vg_errf(err, EINVAL, "'%s' takes a number up to 65535", k);
	if (!strcmp(k, "offset"))
		c->offset = (int32_t)x;
	else if (!strcmp(k, "depth"))
		c->depth = (int32_t)x;
	else if (!strcmp(k, "distance"))
		c->distance = (int32_t)x;
	else
		c->within = (int32_t)x;
	if (!strcmp(k, "distance") || !strcmp(k, "within"))
		c->relative = true;
	if (!strcmp(k, "depth") && x < c->len)
		return vg_errf(err, EINVAL, "depth %u is shorter than its content", x);
	return 0;
}

static int parse_flow(struct vg_rule *r, char *v, struct vg_err *err)
{
	char *save, *t;

	for (t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (!strcmp(t, "to_server") || !strcmp(t, "from_client"))
			r->flow |= VG_FLOW_TO_SERVER;
		else if (!strcmp(t, "to_client") || !strcmp(t, "from_server"))
			r->flow |= VG_FLOW_TO_CLIENT;
		else if (!strcmp(t, "established"))
			r->flow |= VG_FLOW_ESTABLISHED;
		else if (!strcmp(t, "not_established"))
			r->flow |= VG_FLOW_NOT_ESTABLISHED;
		else if (strcmp(t, "stateless") && strcmp(t, "no_stream") &&
			 strcmp(t, "only_stream"))
			return vg_errf(err, ENOTSUP, "unsupported flow option '%.30s'", t);
	}
	if ((r->flow & 3) == 3 || (r->flow & 12) == 12)
		return vg_errf(err, EINVAL, "contradictory flow options");
	return 0;
}

static int flag_bit(int ch)
{
	switch (toupper(ch)) {
	case 'F':
		return VG_TCP_FIN;
	case 'S':
		return VG_TCP_SYN;
	case 'R':
		return VG_TCP_RST;
	case 'P':
		return VG_TCP_PSH;
	case 'A':
		return VG_TCP_ACK;
	case 'U':
		return VG_TCP_URG;
	case 'E':
	case '2':
		return VG_TCP_ECE;
	case 'C':
	case '1':
		return VG_TCP_CWR;
	case '0':
		return 0;
	default:
		return -1;
	}
}

static int parse_flags(struct vg_rule *r, char *v, struct vg_err *err)
{
	char *comma = strchr(v, ',');

	r->flags_mode = '=';
	if (comma) {
		*comma = 0;
		for (char *s = trim(comma + 1); *s; s++) {
			int b = flag_bit(*s);

			if (b < 0)
				return vg_errf(err, EINVAL, "bad TCP flag '%c'", *s);
			r->flags_ignore |= (uint8_t)b;
		}
	}
	for (char *s = trim(v); *s; s++) {
		int b;

		if (*s == '!' || *s == '+' || *s == '*') {
			r->flags_mode = *s;
			continue;
		}
		b = flag_bit(*s);
		if (b < 0)
			return vg_errf(err, EINVAL, "bad TCP flag '%c'", *s);
		r->flags_want |= (uint8_t)b;
	}
	return 0;
}

/* "5", "<5", ">5", "!5", "5<>10" */
static int parse_cmp(struct vg_rule_cmp *c, char *v, uint32_t max, struct vg_err *err)
{
	char *rng = strstr(v, "<>");

	v = trim(v);
	if (rng) {
		*rng = 0;
		c->op = VG_CMP_RANGE;
		return number(v, max, &c->a, err) || number(rng + 2, max, &c->b, err) ? -EINVAL : 0;
	}
	c->op = VG_CMP_EQ;
	if (*v == '<' || *v == '>' || *v == '!') {
		c->op = *v == '<' ? VG_CMP_LT : *v == '>' ? VG_CMP_GT : VG_CMP_NE;
		v++;
	}
	return number(v, max, &c->a, err);
}

/* threshold: type T, track by_src, count N, seconds S (detection_filter has no type) */
static int parse_threshold(struct vg_rule *r, char *v, bool detection, struct vg_err *err)
{
	char *save, *t;
	bool have_count = false, have_secs = false;

	r->th_type = detection ? VG_TH_DETECTION : VG_TH_NONE;
	for (t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *val;

		t = trim(t);
		val = strpbrk(t, " \t");
		if (!val)
			return vg_errf(err, EINVAL, "threshold item '%.30s' has no value", t);
		*val++ = 0;
		val = trim(val);
		if (!strcmp(t, "type") && !detection) {
			if (!strcmp(val, "limit"))
				r->th_type = VG_TH_LIMIT;
			else if (!strcmp(val, "threshold"))
				r->th_type = VG_TH_THRESHOLD;
			else if (!strcmp(val, "both"))
				r->th_type = VG_TH_BOTH;
			else
				return vg_errf(err, EINVAL, "unknown threshold type '%.30s'", val);
		} else if (!strcmp(t, "track")) {
			if (!strcmp(val, "by_src"))
				r->th_track = VG_TRACK_SRC;
			else if (!strcmp(val, "by_dst"))
				r->th_track = VG_TRACK_DST;
			else if (!strcmp(val, "by_rule"))
				r->th_track = VG_TRACK_RULE;
			else
				return vg_errf(err, ENOTSUP, "unsupported track '%.30s'", val);
		} else if (!strcmp(t, "count")) {
			if (number(val, 1u << 24, &r->th_count, err) || !r->th_count)
				return vg_errf(err, EINVAL, "threshold count must be 1 or more");
			have_count = true;
		} else if (!strcmp(t, "seconds")) {
			if (number(val, 86400 * 7, &r->th_seconds, err) || !r->th_seconds)
				return vg_errf(err, EINVAL, "threshold seconds must be 1 or more");
			have_secs = true;
		} else {
			return vg_errf(err, EINVAL, "unknown threshold item '%.30s'", t);
		}
	}
	if (r->th_type == VG_TH_NONE || !have_count || !have_secs)
		return vg_errf(err, EINVAL, "threshold needs type, track, count and seconds");
	return 0;
}

static int parse_metadata(struct vg_rule *r, char *v, struct vg_err *err)
{
	char *save, *t;

	for (t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *val;

		t = trim(t);
		val = strpbrk(t, " \t");
		if (!val)
			continue;
		*val++ = 0;
		val = trim(val);
		if (!strcmp(t, "vigil_check")) {
			free(r->check);
			r->check = strdup(val);
		} else if (!strcmp(t, "attack")) {
			size_t old = r->attack ? strlen(r->attack) : 0;
			char *p = realloc(r->attack, old + strlen(val) + 2);

			if (!p)
				return vg_errf(err, ENOMEM, "out of memory");
			if (old)
				p[old++] = ',';
			strcpy(p + old, val);
			r->attack = p;
		} else if (!strcmp(t, "severity")) {
			enum vg_severity s;

			if (vg_severity_parse(val, &s))
				return vg_errf(err, EINVAL, "unknown severity '%.20s'", val);
			r->severity = (int)s;
		}
	}
	return 0;
}

static int set_str(char **dst, char *v, bool quoted, struct vg_err *err)
{
	if (quoted && unquote(v, err))
		return -EINVAL;
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : vg_errf(err, ENOMEM, "out of memory");
}

static int set_app(struct vg_rule *r, char *v, struct vg_err *err)
{
	if (*v == '!') {
		r->app_negated = true;
		v = trim(v + 1);
	}
	return set_str(&r->app, v, false, err);
}

static int priority_of(const char *cls)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!strcmp(classes[i].name, cls))
			return classes[i].prio;
	return 0;
}

static int option(struct vg_rule *r, const char *k, char *v, struct vg_err *err)
{
	uint32_t x;

	if (!strcmp(k, "msg"))
		return v ? set_str(&r->msg, v, true, err) : vg_errf(err, EINVAL, "empty msg");
	if (!strcmp(k, "sid") || !strcmp(k, "rev") || !strcmp(k, "gid") || !strcmp(k, "priority")) {
		if (!v || number(v, UINT32_MAX, &x, err))
			return vg_errf(err, EINVAL, "'%s' takes a number", k);
		if (k[0] == 's')
			r->sid = x;
		else if (k[0] == 'r')
			r->rev = x;
		else if (k[0] == 'g')
			r->gid = x;
		else
			r->priority = x < 1 ? 1 : x > 4 ? 4 : (int)x;
		return 0;
	}
	if (!strcmp(k, "classtype")) {
		if (!v || set_str(&r->classtype, v, false, err))
			return vg_errf(err, EINVAL, "empty classtype");
		if (!r->priority)
			r->priority = priority_of(v);
		return 0;
	}
	if (!strcmp(k, "reference") || !strcmp(k, "target"))
		return 0; /* carried in the rule file, not needed to match or alert */
	if (!strcmp(k, "metadata"))
		return v ? parse_metadata(r, v, err) : 0;
	if (!strcmp(k, "content"))
		return v ? parse_content(r, v, err) : vg_errf(err, EINVAL, "empty content");
	if (!strcmp(k, "nocase") || !strcmp(k, "depth") || !strcmp(k, "offset") ||
	    !strcmp(k, "distance") || !strcmp(k, "within") || !strcmp(k, "fast_pattern") ||
	    !strcmp(k, "rawbytes"))
		return content_mod(r, k, v, err);
	if (!v)
		return vg_errf(err, ENOTSUP, "unsupported keyword '%.40s'", k);
	if (!strcmp(k, "flow"))
		return parse_flow(r, v, err);
	if (!strcmp(k, "flags"))
		return parse_flags(r, v, err);
	if (!strcmp(k, "dsize"))
		return parse_cmp(&r->dsize, v, 65535, err);
	if (!strcmp(k, "itype"))
		return parse_cmp(&r->itype, v, 255, err);
	if (!strcmp(k, "icode"))
		return parse_cmp(&r->icode, v, 255, err);
	if (!strcmp(k, "threshold"))
		return parse_threshold(r, v, false, err);
	if (!strcmp(k, "detection_filter"))
		return parse_threshold(r, v, true, err);
	if (!strcmp(k, "app-layer-protocol"))
		return set_app(r, v, err);
	return vg_errf(err, ENOTSUP, "unsupported keyword '%.40s'", k);
}

int vg_rule_parse_options(struct vg_rule *r, char *p, struct vg_err *err)
{
	int ret = 0;

	while (!ret) {
		char *key, *val = NULL;
		bool quoted = false;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		key = p;
		while (*p && *p != ':' && *p != ';')
			p++;
		if (*p == ':') {
			*p++ = 0;
			val = p;
			for (; *p && (quoted || *p != ';'); p++) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '"')
					quoted = !quoted;
			}
			if (quoted)
				return vg_errf(err, EINVAL, "unterminated string in '%.30s'", key);
		}
		if (*p != ';')
			return vg_errf(err, EINVAL, "option '%.30s' does not end in ';'",
				       trim(key));
		*p++ = 0;
		key = trim(key);
		if (val)
			val = trim(val);
		ret = option(r, key, val, err);
	}
	if (!ret && !r->sid)
		ret = vg_errf(err, EINVAL, "rule has no sid");
	if (!ret && r->app && r->proto == VG_RP_ICMP)
		ret = vg_errf(err, EINVAL, "an application protocol over ICMP");
	return ret;
}

void vg_rule_free(struct vg_rule *r)
{
	for (int i = 0; i < r->ncontent; i++)
		free(r->content[i].bytes);
	vg_addrset_free(&r->src);
	vg_addrset_free(&r->dst);
	vg_portset_free(&r->sp);
	vg_portset_free(&r->dp);
	free(r->app);
	free(r->msg);
	free(r->classtype);
	free(r->check);
	free(r->attack);
	memset(r, 0, sizeof(*r));
}
