// SPDX-License-Identifier: MIT
/*
 * Addresses and address/port sets of the rule language. A set expression ("any", "$VAR",
 * "10.0.0.0/8", "[a,b,!c]", "!x", ports "80", "1024:", "[22,23]") is evaluated to sorted,
 * disjoint ranges: a list is the union of its plain members minus its negated ones (all of the
 * space when it has only negated members; "[]" is the empty set), and a leading '!'
 * complements. Addresses and ports share
 * the range arithmetic; only their atoms differ. Variables nest at most MAX_DEPTH deep, so a
 * variable that names itself is an error rather than a loop.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"
#include "vigil/net_rules.h"

#define MAX_DEPTH 8
#define MAX_RANGES (1u << 22)
typedef unsigned __int128 u128;
#define U128_MAX (~(u128)0)

struct rl {
	struct vg_addr_range *v;
	uint32_t n, cap;
};

struct pctx {
	const struct vg_net_rules *r;
	struct vg_err *err;
	bool port;
	int depth;
};

void vg_ip_from4(struct vg_ip *a, const uint8_t v4[4])
{
	memset(a->b, 0, 10);
	a->b[10] = a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

const char *vg_ip_str(const struct vg_ip *a, char *buf, size_t len)
{
	if (vg_ip_is4(a))
		inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	return buf;
}

int vg_ip_parse(const char *s, struct vg_ip *a)
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		vg_ip_from4(a, v4);
		return 0;
	}
	return inet_pton(AF_INET6, s, a->b) == 1 ? 0 : -EINVAL;
}

static u128 ip_u128(const struct vg_ip *a)
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | a->b[i];
	return v;
}

static int rl_add(struct rl *l, u128 lo, u128 hi, struct pctx *c)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;
		void *p;

		if (cap > MAX_RANGES)
			return vg_errf(c->err, E2BIG, "more than %u addresses or ranges in one set",
				       MAX_RANGES);
		p = realloc(l->v, cap * sizeof(*l->v));
		if (!p)
			return vg_errf(c->err, ENOMEM, "out of memory for an address set");
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n].lo = lo;
	l->v[l->n++].hi = hi;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct vg_addr_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges overlapping or touching ranges. */
static void rl_norm(struct rl *l)
{
	uint32_t k = 0;

	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_range);
	for (uint32_t i = 1; i < l->n; i++) {
		if (l->v[k].hi == U128_MAX || l->v[i].lo <= l->v[k].hi + 1) {
			if (l->v[i].hi > l->v[k].hi)
				l->v[k].hi = l->v[i].hi;
		} else {
			l->v[++k] = l->v[i];
		}
	}
	l->n = k + 1;
}

/* The complement of a normalised list over [0, MAX]. */
static int rl_complement(struct rl *l, u128 max, struct pctx *c)
{
	struct rl out = { 0 };
	u128 next = 0;
	bool done = false;
	int ret = 0;

	for (uint32_t i = 0; i < l->n && !ret; i++) {
		if (l->v[i].lo > next)
			ret = rl_add(&out, next, l->v[i].lo - 1, c);
		if (l->v[i].hi >= max) {
			done = true;
			break;
		}
		next = l->v[i].hi + 1;
	}
	if (!ret && !done)
		ret = rl_add(&out, next, max, c);
	free(l->v);
	*l = out;
	return ret;
}

static int rl_union(struct rl *dst, struct rl *src, struct pctx *c)
{
	int ret = 0;

	for (uint32_t i = 0; i < src->n && !ret; i++)
		ret = rl_add(dst, src->v[i].lo, src->v[i].hi, c);
	free(src->v);
	memset(src, 0, sizeof(*src));
	rl_norm(dst);
	return ret;
}

static int eval(const char *s, size_t n, struct rl *out, struct pctx *c);

static size_t trim(const char **s, size_t n)
{
	while (n && isspace((unsigned char)**s)) {
		(*s)++;
		n--;
	}
	while (n && isspace((unsigned char)(*s)[n - 1]))
		n--;
	return n;
}

static const struct vg_net_var *find_var(const struct vg_net_rules *r, const char *name, size_t n)
{
	for (uint32_t i = r->nvars; i-- > 0;)
		if (strlen(r->vars[i].name) == n && !memcmp(r->vars[i].name, name, n))
			return &r->vars[i];
	return NULL;
}

/* "@FILE": one expression per line, '#' comments. */
static int eval_file(const char *path, struct rl *out, struct pctx *c)
{
	char full[4096], *text = NULL, *line, *save;
	size_t len;
	int ret;

	if (path[0] != '/' && c->r->dir)
		snprintf(full, sizeof(full), "%.2047s/%.1024s", c->r->dir, path);
	else
		snprintf(full, sizeof(full), "%.2047s", path);
	ret = vg_net_read_file(full, 16u << 20, &text, &len, c->err);
	if (ret)
		return ret;
	for (line = strtok_r(text, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		struct rl one = { 0 };
		const char *p = line;
		size_t n;

		if (hash)
			*hash = 0;
		n = trim(&p, strlen(p));
		if (!n)
			continue;
		ret = eval(p, n, &one, c);
		if (!ret)
			ret = rl_union(out, &one, c);
		free(one.v);
	}
	free(text);
	return ret ? vg_err_prefix(c->err, "%s", full) : 0;
}

static int eval_var(const char *s, size_t n, struct rl *out, struct pctx *c)
{
	const struct vg_net_var *v = find_var(c->r, s, n);
	int ret;

	if (!v)
		return vg_errf(c->err, ENOENT, "unknown variable $%.*s", (int)(n > 64 ? 64 : n), s);
	if (v->port != c->port)
		return vg_errf(c->err, EINVAL, "$%s is %s variable", v->name,
			       v->port ? "a port" : "an address");
	if (c->depth >= MAX_DEPTH)
		return vg_errf(c->err, ELOOP, "variables nest more than %d deep at $%s", MAX_DEPTH,
			       v->name);
	c->depth++;
	ret = eval(v->value, strlen(v->value), out, c);
	c->depth--;
	return ret;
}

static int atom_addr(const char *s, size_t n, struct rl *out, struct pctx *c)
{
	char buf[64], *slash;
	struct vg_ip ip;
	long bits = -1;
	int total;
	u128 base, mask;

	if (n >= sizeof(buf))
		return vg_errf(c->err, EINVAL, "'%.*s...' is not an address", 20, s);
	memcpy(buf, s, n);
	buf[n] = 0;
	slash = strchr(buf, '/');
	if (slash) {
		char *end;

		*slash = 0;
		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end)
			bits = -2;
	}
	if (vg_ip_parse(buf, &ip))
		return vg_errf(c->err, EINVAL, "'%s' is not an address", buf);
	total = vg_ip_is4(&ip) ? 32 : 128;
	if (bits == -1)
		bits = total;
	if (bits < 0 || bits > total)
		return vg_errf(c->err, EINVAL, "'%.*s' has a bad prefix length", (int)n, s);
	bits += 128 - total;
	mask = bits == 0 ? 0 : U128_MAX << (128 - bits);
	base = ip_u128(&ip) & mask;
	return rl_add(out, base, base | ~mask, c);
}

static int atom_port(const char *s, size_t n, struct rl *out, struct pctx *c)
{
	char buf[32], *colon, *end;
	unsigned long lo, hi;

	if (n >= sizeof(buf))
		return vg_errf(c->err, EINVAL, "'%.*s...' is not a port", 20, s);
	memcpy(buf, s, n);
	buf[n] = 0;
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	lo = buf[0] ? strtoul(buf, &end, 10) : 0;
	if ((buf[0] && (*end || !isdigit((unsigned char)buf[0]))) || lo > 65535)
		return vg_errf(c->err, EINVAL, "'%s' is not a port", s);
	hi = lo;
	if (colon) {
		hi = colon[1] ? strtoul(colon + 1, &end, 10) : 65535;
		if ((colon[1] && (*end || !isdigit((unsigned char)colon[1]))) || hi > 65535 ||
		    hi < lo)
			return vg_errf(c->err, EINVAL, "'%.*s' is not a port range", (int)n, s);
	}
	return rl_add(out, lo, hi, c);
}

/* Splits a bracketed list's inside at top-level commas. */
static int eval_list(const char *s, size_t n, struct rl *out, struct pctx *c)
{
	struct rl pos = { 0 }, neg = { 0 };
	bool any_pos = false, any_elem = false;
	size_t i = 0;
	int ret = 0;

	while (i < n && !ret) {
		size_t start = i, len;
		int depth = 0;
		const char *e;
		bool negated = false;
		struct rl one = { 0 };

		for (; i < n && (depth || s[i] != ','); i++)
			depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
		e = s + start;
		len = trim(&e, i - start);
		i++;
		if (!len)
			continue;
		if (*e == '!') {
			negated = true;
			e++;
			len = trim(&e, len - 1);
		}
		ret = eval(e, len, &one, c);
		if (!ret)
			ret = rl_union(negated ? &neg : &pos, &one, c);
		free(one.v);
		any_pos |= !negated;
		any_elem = true;
	}
	/* "[]" is the empty set; a list of exclusions alone excludes from everything */
	if (!ret && !any_pos && any_elem)
		ret = rl_add(&pos, 0, c->port ? 65535 : U128_MAX, c);
	if (!ret && neg.n) {
		/* pos minus neg = complement(complement(pos) + neg) */
		u128 max = c->port ? 65535 : U128_MAX;

		ret = rl_complement(&pos, max, c);
		if (!ret)
			ret = rl_union(&pos, &neg, c);
		if (!ret)
			ret = rl_complement(&pos, max, c);
	}
	if (!ret)
		ret = rl_union(out, &pos, c);
	free(pos.v);
	free(neg.v);
	return ret;
}

static int eval(const char *s, size_t n, struct rl *out, struct pctx *c)
{
	int ret;

	n = trim(&s, n);
	if (!n)
		return vg_errf(c->err, EINVAL, "empty %s", c->port ? "port" : "address");
	if (*s == '!') {
		struct rl inner = { 0 };

		if (c->depth >= MAX_DEPTH)
			return vg_errf(c->err, ELOOP, "expression nests too deep");
		c->depth++;
		ret = eval(s + 1, n - 1, &inner, c);
		c->depth--;
		if (!ret)
			ret = rl_complement(&inner, c->port ? 65535 : U128_MAX, c);
		if (!ret)
			ret = rl_union(out, &inner, c);
		free(inner.v);
		return ret;
	}
	if (*s == '[') {
		if (s[n - 1] != ']')
			return vg_errf(c->err, EINVAL, "unclosed '[' in '%.*s'",
				       (int)(n > 60 ? 60 : n), s);
		if (c->depth >= MAX_DEPTH)
			return vg_errf(c->err, ELOOP, "lists nest more than %d deep", MAX_DEPTH);
		c->depth++;
		ret = eval_list(s + 1, n - 2, out, c);
		c->depth--;
		return ret;
	}
	if (*s == '$')
		return eval_var(s + 1, n - 1, out, c);
	if (*s == '@') {
		char path[1024];

		if (n - 1 >= sizeof(path) || c->depth >= MAX_DEPTH)
			return vg_errf(c->err, EINVAL, "bad list file name");
		memcpy(path, s + 1, n - 1);
		path[n - 1] = 0;
		c->depth++; /* a list file naming itself would nest without end */
		ret = eval_file(path, out, c);
		c->depth--;
		return ret;
	}
	if (n == 3 && !memcmp(s, "any", 3))
		return rl_add(out, 0, c->port ? 65535 : U128_MAX, c);
	ret = c->port ? atom_port(s, n, out, c) : atom_addr(s, n, out, c);
	if (!ret)
		rl_norm(out);
	return ret;
}

int vg_addrset_parse(const struct vg_net_rules *r, const char *text, struct vg_addrset *out,
		     struct vg_err *err)
{
	struct pctx c = { .r = r, .err = err };
	struct rl l = { 0 };
	int ret = eval(text, strlen(text), &l, &c);

	memset(out, 0, sizeof(*out));
	if (ret) {
		free(l.v);
		return ret;
	}
	rl_norm(&l);
	out->any = l.n == 1 && l.v[0].lo == 0 && l.v[0].hi == U128_MAX;
	if (out->any) {
		free(l.v);
		return 0;
	}
	out->v = l.v;
	out->n = l.n;
	return 0;
}

int vg_portset_parse(const struct vg_net_rules *r, const char *text, struct vg_portset *out,
		     struct vg_err *err)
{
	struct pctx c = { .r = r, .err = err, .port = true };
	struct rl l = { 0 };
	int ret = eval(text, strlen(text), &l, &c);

	memset(out, 0, sizeof(*out));
	if (ret) {
		free(l.v);
		return ret;
	}
	rl_norm(&l);
	out->any = l.n == 1 && l.v[0].lo == 0 && l.v[0].hi >= 65535;
	if (!out->any && l.n) {
		out->v = malloc(l.n * sizeof(*out->v));
		if (!out->v) {
			free(l.v);
			return vg_errf(err, ENOMEM, "out of memory for a port set");
		}
		for (uint32_t i = 0; i < l.n; i++) {
			out->v[i].lo = (uint16_t)l.v[i].lo;
			out->v[i].hi = (uint16_t)l.v[i].hi;
		}
		out->n = l.n;
	}
	free(l.v);
	return 0;
}

bool vg_addrset_has(const struct vg_addrset *s, const struct vg_ip *a)
{
	uint32_t lo = 0, hi = s->n;
	u128 x;

	if (s->any)
		return true;
	x = ip_u128(a);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (x < s->v[mid].lo)
			hi = mid;
		else if (x > s->v[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool vg_portset_has(const struct vg_portset *s, uint16_t port)
{
	uint32_t lo = 0, hi = s->n;

	if (s->any)
		return true;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (port < s->v[mid].lo)
			hi = mid;
		else if (port > s->v[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

void vg_addrset_free(struct vg_addrset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void vg_portset_free(struct vg_portset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
