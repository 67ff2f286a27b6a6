// SPDX-License-Identifier: MIT
/*
 * The policy file parser. The grammar (docs/policy.md):
 *
 *   file    = { line }
 *   line    = ws [ section | pair ] ws [ "#" comment ] "\n"
 *   section = "[" name "]"
 *   pair    = key ws "=" ws value          value: words separated by spaces or commas
 *
 * Strict on purpose: an unknown section or key, a pair outside a section, a bad number or an
 * over-long line is an error naming the line, because a policy that silently ignored a typo
 * would allow more than the operator meant.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/ids_policy.h"

#define LINE_MAX_LEN 4096
#define WORD_MAX_LEN 1024

void vg_policy_init(struct vg_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->new_executables = true;
	p->on_gone = VG_GONE_WAIT;
	p->gone_grace_ms = 0;
}

void vg_policy_free(struct vg_policy *p)
{
	for (size_t i = 0; i < p->nmodules; i++)
		free(p->modules[i]);
	for (size_t i = 0; i < p->ndisabled; i++)
		free(p->disabled[i]);
	for (size_t i = 0; i < p->nexes; i++)
		free(p->exes[i]);
	for (size_t i = 0; i < p->nlisteners; i++)
		free(p->listeners[i].exe);
	vg_policy_init(p);
}

int vg_parse_duration(const char *s, uint32_t *ms)
{
	char *end;
	double v;
	double mul = 1000;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else
		return -EINVAL;
	v *= mul;
	if (v < 1 || v > 86400000.0)
		return -EINVAL;
	*ms = (uint32_t)v;
	return 0;
}

enum section {
	SEC_NONE,
	SEC_MODULES,
	SEC_PORTS,
	SEC_CHECKS,
	SEC_PROCESSES,
	SEC_WATCH,
	SEC_LISTENERS
};

static const char *const section_names[] = { "",	  "modules", "ports",	 "checks",
					     "processes", "watch",   "listeners" };

static const struct vg_ids_check *find_check(const char *id)
{
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++)
		if (!strcmp(k->id, id))
			return k;
	return NULL;
}

static int parse_severity(const char *w, enum vg_severity *sev)
{
	for (int i = VG_SEV_INFO; i <= VG_SEV_CRITICAL; i++)
		if (!strcmp(w, vg_severity_name(i))) {
			*sev = i;
			return 0;
		}
	return -EINVAL;
}

/* Splits VALUE into words in place; returns the count or -E2BIG. */
static int split_words(char *value, char **words, int max)
{
	int n = 0;

	for (char *sv, *t = strtok_r(value, " \t,", &sv); t; t = strtok_r(NULL, " \t,", &sv)) {
		if (n == max || strlen(t) > WORD_MAX_LEN)
			return -E2BIG;
		words[n++] = t;
	}
	return n;
}

static int push_str(char **arr, size_t *n, const char *w)
{
	if (*n >= VG_POLICY_MAX_ITEMS)
		return -E2BIG;
	arr[*n] = strdup(w);
	if (!arr[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int parse_port(const char *w, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(w, &end, 10);

	if (*end || end == w || !(w[0] >= '0' && w[0] <= '9') || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* PORT:/absolute/executable */
static int push_listener(struct vg_policy *p, char *w, int line, struct vg_err *err)
{
	char *colon = strchr(w, ':');
	uint16_t port;

	if (!colon || colon[1] != '/')
		return vg_errf(err, EINVAL, "policy line %d: '%s' is not PORT:/path/of/executable",
			       line, w);
	*colon = 0;
	if (parse_port(w, &port))
		return vg_errf(err, EINVAL, "policy line %d: '%s' is not a port", line, w);
	if (p->nlisteners == VG_POLICY_MAX_ITEMS)
		return vg_errf(err, E2BIG, "policy line %d: too many listeners", line);
	p->listeners[p->nlisteners].exe = strdup(colon + 1);
	if (!p->listeners[p->nlisteners].exe)
		return vg_errf(err, ENOMEM, "policy line %d: out of memory", line);
	p->listeners[p->nlisteners++].port = port;
	return 0;
}

static int one_word(char **w, int n, const char **out)
{
	if (n != 1)
		return -EINVAL;
	*out = w[0];
	return 0;
}

static int pair(struct vg_policy *p, enum section sec, const char *key, char *value, int line,
		struct vg_err *err)
{
	char *w[VG_POLICY_MAX_ITEMS];
	const char *v;
	int n = split_words(value, w, VG_POLICY_MAX_ITEMS), ret = 0;

	if (n < 0)
		return vg_errf(err, E2BIG, "policy line %d: too many or too long values", line);
	switch (sec) {
	case SEC_MODULES:
		if (strcmp(key, "allow"))
			break;
		p->have_modules = true;
		for (int i = 0; i < n && !ret; i++)
			ret = push_str(p->modules, &p->nmodules, w[i]);
		p->modules[p->nmodules] = NULL;
		goto done;
	case SEC_PORTS:
		if (strcmp(key, "allow"))
			break;
		for (int i = 0; i < n; i++) {
			uint16_t port;

			if (parse_port(w[i], &port))
				return vg_errf(err, EINVAL, "policy line %d: '%s' is not a port",
					       line, w[i]);
			if (p->nports == VG_POLICY_MAX_ITEMS)
				return vg_errf(err, E2BIG, "policy line %d: too many ports", line);
			p->ports[p->nports++] = port;
		}
		return 0;
	case SEC_LISTENERS:
		if (strcmp(key, "allow"))
			break;
		for (int i = 0; i < n && !ret; i++)
			ret = push_listener(p, w[i], line, err);
		return ret;
	case SEC_CHECKS:
		if (!strcmp(key, "disable")) {
			for (int i = 0; i < n && !ret; i++) {
				if (!find_check(w[i]))
					return vg_errf(err, EINVAL,
						       "policy line %d: unknown check '%s'", line,
						       w[i]);
				ret = push_str(p->disabled, &p->ndisabled, w[i]);
			}
			goto done;
		}
		if (!strncmp(key, "severity.", 9)) {
			const struct vg_ids_check *k = find_check(key + 9);
			enum vg_severity sev;

			if (!k)
				return vg_errf(err, EINVAL, "policy line %d: unknown check '%s'",
					       line, key + 9);
			if (one_word(w, n, &v) || parse_severity(v, &sev))
				return vg_errf(err, EINVAL,
					       "policy line %d: severity is one of info, low, "
					       "medium, high, critical",
					       line);
			if (p->nsev == VG_POLICY_MAX_ITEMS)
				return vg_errf(err, E2BIG, "policy line %d: too many overrides",
					       line);
			p->sev_override[p->nsev].check = k->id;
			p->sev_override[p->nsev++].sev = sev;
			return 0;
		}
		break;
	case SEC_PROCESSES:
		if (!strcmp(key, "allow-exe")) {
			for (int i = 0; i < n && !ret; i++) {
				if (w[i][0] != '/')
					return vg_errf(
						err, EINVAL,
						"policy line %d: '%s' is not an absolute path",
						line, w[i]);
				ret = push_str(p->exes, &p->nexes, w[i]);
			}
			goto done;
		}
		if (!strcmp(key, "new-executables")) {
			if (one_word(w, n, &v) || (strcmp(v, "report") && strcmp(v, "ignore")))
				return vg_errf(
					err, EINVAL,
					"policy line %d: new-executables is report or ignore",
					line);
			p->new_executables = !strcmp(v, "report");
			return 0;
		}
		break;
	case SEC_WATCH:
		if (!strcmp(key, "interval") || !strcmp(key, "gone-grace")) {
			uint32_t ms;

			if (one_word(w, n, &v) || vg_parse_duration(v, &ms))
				return vg_errf(err, EINVAL,
					       "policy line %d: %s takes a duration like 500ms, 2s "
					       "or 1m",
					       line, key);
			if (key[0] == 'i')
				p->interval_ms = ms;
			else
				p->gone_grace_ms = ms;
			return 0;
		}
		if (!strcmp(key, "on-gone")) {
			if (one_word(w, n, &v) || (strcmp(v, "wait") && strcmp(v, "exit")))
				return vg_errf(err, EINVAL,
					       "policy line %d: on-gone is wait or exit", line);
			p->on_gone = !strcmp(v, "exit") ? VG_GONE_EXIT : VG_GONE_WAIT;
			return 0;
		}
		break;
	case SEC_NONE:
		return vg_errf(err, EINVAL, "policy line %d: '%s' outside a [section]", line, key);
	}
	return vg_errf(err, EINVAL, "policy line %d: unknown key '%s' in [%s]", line, key,
		       section_names[sec]);
done:
	if (ret)
		return vg_errf(err, -ret, "policy line %d: too many values", line);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int parse_line(struct vg_policy *p, enum section *sec, char *s, int line, struct vg_err *err)
{
	char *hash = strchr(s, '#'), *eq;

	if (hash)
		*hash = 0;
	s = trim(s);
	if (!*s)
		return 0;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return vg_errf(err, EINVAL, "policy line %d: control character", line);
	if (*s == '[') {
		size_t n = strlen(s);

		if (s[n - 1] != ']')
			return vg_errf(err, EINVAL, "policy line %d: section without ']'", line);
		s[n - 1] = 0;
		s = trim(s + 1);
		for (int i = SEC_MODULES; i <= SEC_LISTENERS; i++)
			if (!strcmp(s, section_names[i])) {
				*sec = i;
				return 0;
			}
		return vg_errf(err, EINVAL, "policy line %d: unknown section [%s]", line, s);
	}
	eq = strchr(s, '=');
	if (!eq)
		return vg_errf(err, EINVAL, "policy line %d: expected 'key = value'", line);
	*eq = 0;
	s = trim(s);
	if (!*s)
		return vg_errf(err, EINVAL, "policy line %d: empty key", line);
	return pair(p, *sec, s, trim(eq + 1), line, err);
}

int vg_policy_parse(struct vg_policy *p, const char *text, size_t len, struct vg_err *err)
{
	enum section sec = SEC_NONE;
	char buf[LINE_MAX_LEN + 1];
	int line = 0, ret;
	size_t pos = 0;

	vg_policy_init(p);
	if (len > VG_POLICY_MAX_BYTES)
		return vg_errf(err, EFBIG, "policy is larger than %d bytes", VG_POLICY_MAX_BYTES);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : len - pos;

		line++;
		if (n > LINE_MAX_LEN) {
			ret = vg_errf(err, EINVAL, "policy line %d: longer than %d bytes", line,
				      LINE_MAX_LEN);
			goto fail;
		}
		memcpy(buf, text + pos, n);
		buf[n] = 0;
		if (strlen(buf) != n) {
			ret = vg_errf(err, EINVAL, "policy line %d: NUL byte", line);
			goto fail;
		}
		ret = parse_line(p, &sec, buf, line, err);
		if (ret)
			goto fail;
		pos += n + 1;
	}
	return 0;
fail:
	vg_policy_free(p);
	return ret;
}

int vg_policy_load(struct vg_policy *p, const char *path, struct vg_err *err)
{
	struct stat st;
	char *text;
	ssize_t got = 0;
	int fd, ret;

	vg_policy_init(p);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vg_errf(err, errno, "policy %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > VG_POLICY_MAX_BYTES) {
		close(fd);
		return vg_errf(err, EINVAL, "policy %s: not a regular file under 1 MiB", path);
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		close(fd);
		return vg_errf(err, ENOMEM, "policy %s: out of memory", path);
	}
	while (got < st.st_size) {
		ssize_t r = read(fd, text + got, st.st_size - got);

		if (r <= 0)
			break;
		got += r;
	}
	close(fd);
	ret = vg_policy_parse(p, text, got, err);
	free(text);
	if (ret)
		vg_err_prefix(err, "%s", path);
	return ret;
}

bool vg_policy_check_enabled(const struct vg_policy *p, const char *check)
{
	for (size_t i = 0; i < p->ndisabled; i++)
		if (!strcmp(p->disabled[i], check))
			return false;
	return true;
}

bool vg_policy_exe_allowed(const struct vg_policy *p, const char *exe)
{
	for (size_t i = 0; i < p->nexes; i++)
		if (!strcmp(p->exes[i], exe))
			return true;
	return false;
}

int vg_policy_listener_opts(const struct vg_policy *p, const struct vg_baseline *b,
			    struct vg_ids_opts *o, struct vg_listener_rule **rules,
			    struct vg_err *err)
{
	size_t n = p->nlisteners + (b ? b->nlisten : 0), k = 0;
	struct vg_listener_rule *r;

	*rules = NULL;
	o->allowed_listeners = NULL;
	o->nallowed_listeners = 0;
	if (!n)
		return 0;
	r = calloc(n, sizeof(*r));
	if (!r)
		return vg_errf(err, ENOMEM, "out of memory merging %zu accepted listeners", n);
	for (size_t i = 0; i < p->nlisteners; i++)
		r[k++] = (struct vg_listener_rule){ p->listeners[i].port, p->listeners[i].exe,
						    NULL };
	/* a baseline listener held by no process, or from a baseline without owners, names no
	 * program to accept */
	for (size_t i = 0; b && i < b->nlisten; i++)
		if (b->listen[i].exe && b->listen[i].exe[0] && b->listen[i].cmdline)
			r[k++] = (struct vg_listener_rule){ b->listen[i].port, b->listen[i].exe,
							    b->listen[i].cmdline };
	*rules = r;
	o->allowed_listeners = r;
	o->nallowed_listeners = k;
	return 0;
}

/* The exe a suspicious-process finding names, from its evidence object. */
static bool finding_exe_allowed(const struct vg_policy *p, const struct vg_finding *x)
{
	json_t *ev, *exe;
	bool allowed = false;

	if (!p->nexes || strcmp(x->check, "suspicious-process"))
		return false;
	ev = json_loads(x->evidence, 0, NULL);
	exe = ev ? json_object_get(ev, "exe") : NULL;
	if (json_is_string(exe))
		allowed = vg_policy_exe_allowed(p, json_string_value(exe));
	json_decref(ev);
	return allowed;
}

void vg_policy_apply(const struct vg_policy *p, struct vg_findings *f)
{
	size_t out = 0;

	for (size_t i = 0; i < f->n; i++) {
		struct vg_finding *x = &f->v[i];

		if (!vg_policy_check_enabled(p, x->check) || finding_exe_allowed(p, x))
			continue;
		for (size_t k = 0; k < p->nsev; k++)
			if (!strcmp(p->sev_override[k].check, x->check))
				x->severity = p->sev_override[k].sev;
		f->v[out++] = *x;
	}
	f->n = out;
}
