// SPDX-License-Identifier: MIT
/*
 * Reading a run's artifacts: the bounded line iterator and file reader every parser shares,
 * the two small JSON artifacts (status.json, services.json, through jansson), files.tsv, and
 * sbx_analyse() which ties the parsers to behaviours. The artifacts are written by an
 * environment from what a hostile sample did, so nothing here trusts their shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

bool sbx_next_line(struct sbx_lines *it, char *buf, size_t cap)
{
	const char *nl;
	size_t n, k;

	if (it->p >= it->end || it->n >= SBX_MAX_LINES || cap == 0)
		return false;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	n = (size_t)((nl ? nl : it->end) - it->p);
	k = n < cap - 1 ? n : cap - 1;
	memcpy(buf, it->p, k);
	buf[k] = '\0';
	if (k && buf[k - 1] == '\r')
		buf[k - 1] = '\0';
	it->p = nl ? nl + 1 : it->end;
	it->n++;
	return true;
}

int sbx_read_artifact(const char *dir, const char *name, char **buf, size_t *len,
		      struct vg_err *err)
{
	char path[4096];
	size_t got = 0;
	struct stat st;
	char *b;
	int fd;

	*buf = NULL;
	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* O_NOFOLLOW: the run directory is the sample's; a symlink there is not an artifact */
	/* the run directory may hold what the sample made of it: only a regular file, never
	 * through a symlink, counts as the artifact; anything else is as good as absent */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return -ENOENT;
		return vg_errf(err, errno, "%s: %m", path);
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	b = malloc(SBX_MAX_FILE + 1);
	if (!b) {
		close(fd);
		return vg_errf(err, ENOMEM, "%s: out of memory", path);
	}
	while (got < SBX_MAX_FILE) {
		ssize_t r = read(fd, b + got, SBX_MAX_FILE - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(b);
			close(fd);
			return vg_errf(err, e, "reading %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

void sbx_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

const char *sbx_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

void sbx_guest_name(const char *path, char *out, size_t cap)
{
	const char *b = sbx_basename(path);
	size_t n = strlen(b);

	/* kept as is when it is a plain file name, so self-deletion matches by name */
	if (n == 0 || n >= cap || b[0] == '.' ||
	    strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		b = "sample";
	snprintf(out, cap, "%s", b);
}

bool sbx_is_self(const char *path, const char *sample_name)
{
	const char *b = sbx_basename(path);

	return *b &&
	       ((sample_name && !strcmp(b, sbx_basename(sample_name))) || !strcmp(b, "sample"));
}

bool sbx_persist_path(const char *p)
{
	static const char *const prefix[] = {
		"/etc/init.d/",
		"/etc/rc",
		"/etc/inittab",
		"/etc/crontab",
		"/etc/cron.",
		"/var/spool/cron",
		"/etc/systemd/",
		"/lib/systemd/system/",
		"/usr/lib/systemd/system/",
		"/etc/profile",
		"/etc/bash.bashrc",
		"/etc/init/",
	};
	static const char *const suffix[] = { "/.profile", "/.bashrc", "/.bash_profile" };
	size_t n = strlen(p);

	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(p, prefix[i], strlen(prefix[i])))
			return true;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (n >= strlen(suffix[i]) && !strcmp(p + n - strlen(suffix[i]), suffix[i]))
			return true;
	return false;
}

double sbx_entropy_bar(uint64_t size)
{
	double bar;

	if (size < 16)
		return 99; /* too small to tell */
	/* random content of n bytes shows about log2(n) - small-sample loss; 0.85 of it is far
	 * above text (about 4.5) and code (about 6) at every size */
	bar = 0.85 * log2((double)(size < 256 ? size : 256));
	if (size >= 256)
		bar = 7.2;
	return bar;
}

static bool jbool(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static uint32_t count(json_t *v)
{
	json_int_t n = json_integer_value(v);

	return n > 0 && n < 0x7fffffff ? (uint32_t)n : 0;
}

void sbx_parse_status(struct sbx_status *st, const char *buf, size_t len)
{
	json_t *root, *v;

	memset(st, 0, sizeof(*st));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	st->present = true;
	st->started = jbool(root, "started");
	v = json_object_get(root, "exec_error");
	if (json_is_string(v))
		sbx_copy(st->exec_error, sizeof(st->exec_error), json_string_value(v));
	v = json_object_get(root, "exit_code");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255) {
		st->has_exit = true;
		st->exit_code = (int)json_integer_value(v);
	}
	v = json_object_get(root, "signal");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 128)
		st->signal = (int)json_integer_value(v);
	st->timed_out = jbool(root, "timed_out");
	v = json_object_get(root, "duration_ms");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		st->duration_ms = json_integer_value(v);
	v = json_object_get(root, "children_killed");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 1000000)
		st->children_killed = (int)json_integer_value(v);
	v = json_object_get(root, "limits");
	st->pids_max_hits = count(json_object_get(v, "pids_max_hits"));
	st->mem_max_hits = count(json_object_get(v, "mem_max_hits"));
	st->oom_kills = count(json_object_get(v, "oom_kills"));
	json_decref(root);
}

static void svc_get(struct sbx_svc *s, json_t *o)
{
	if (!json_is_object(o))
		return;
	s->known = true;
	s->before = jbool(o, "before");
	s->after = jbool(o, "after");
}

void sbx_parse_services(struct sbx_services *s, const char *buf, size_t len)
{
	json_t *root;

	memset(s, 0, sizeof(*s));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root)) {
		svc_get(&s->http, json_object_get(root, "http"));
		svc_get(&s->telnet, json_object_get(root, "telnet"));
		svc_get(&s->ssh, json_object_get(root, "ssh"));
	}
	json_decref(root);
}

static void keep(char paths[][SBX_NOTE], const char *p)
{
	for (unsigned i = 0; i < SBX_MAX_PATHS; i++) {
		if (!paths[i][0]) {
			sbx_copy(paths[i], SBX_NOTE, p);
			return;
		}
		if (!strcmp(paths[i], p))
			return;
	}
}

void sbx_parse_files(struct sbx_files *f, const char *buf, size_t len, const char *sample_name)
{
	uint32_t created_high = 0, modified_high = 0;
	struct sbx_lines it;
	char line[SBX_MAX_LINE];

	memset(f, 0, sizeof(*f));
	sbx_lines_init(&it, buf, len);
	while (sbx_next_line(&it, line, sizeof(line))) {
		char *change = line, *path, *size_s, *ent_s, *end;
		unsigned long long size;
		double ent;

		if (!line[0])
			continue;
		path = strchr(change, '\t');
		size_s = path ? strchr(path + 1, '\t') : NULL;
		ent_s = size_s ? strchr(size_s + 1, '\t') : NULL;
		if (!ent_s) {
			f->bad++;
			continue;
		}
		*path++ = *size_s++ = *ent_s++ = '\0';
		size = strtoull(size_s, &end, 10);
		ent = strtod(ent_s, NULL);
		if (end == size_s || !(ent >= 0 && ent <= 8) || path[0] != '/') {
			f->bad++;
			continue;
		}
		if (!strcmp(change, "deleted")) {
			f->deleted++;
			if (sbx_is_self(path, sample_name))
				sbx_copy(f->self_deleted, sizeof(f->self_deleted), path);
			else
				keep(f->deleted_paths, path);
			continue;
		}
		if (!strcmp(change, "created"))
			f->created++;
		else if (!strcmp(change, "modified"))
			f->modified++;
		else {
			f->bad++;
			continue;
		}
		if (sbx_persist_path(path)) {
			f->persist++;
			keep(f->persist_paths, path);
		}
		if (ent >= sbx_entropy_bar(size)) {
			f->high_entropy_written++;
			if (change[0] == 'm')
				modified_high++;
			else
				created_high++;
			keep(f->encrypted_paths, path);
		}
	}
	/* a rewrite is either in place (modified) or a new near-random file standing in for one
	 * that was deleted (x -> x.locked); a new random file alone is not a rewrite */
	f->encrypted = modified_high + (created_high < f->deleted ? created_high : f->deleted);
	if (!f->encrypted)
		memset(f->encrypted_paths, 0, sizeof(f->encrypted_paths));
}

int sbx_analyse(struct sbx_report *r, const char *run_dir, const struct sbx_analyse_opts *o,
		struct vg_err *err)
{
	static const char *const names[] = { "status.json", "syscalls.log", "net.jsonl",
					     "files.tsv", "services.json" };
	const char *sample = o ? o->sample_name : NULL;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < 5; i++) {
		char *buf;
		size_t len;
		int rc = sbx_read_artifact(run_dir, names[i], &buf, &len, err);

		if (rc == -ENOENT) {
			size_t l = strlen(r->missing);

			snprintf(r->missing + l, sizeof(r->missing) - l, "%s%s", l ? " " : "",
				 names[i]);
			buf = NULL;
			len = 0;
		} else if (rc) {
			return rc;
		}
		switch (i) {
		case 0:
			sbx_parse_status(&r->st, buf ? buf : "", len);
			break;
		case 1:
			sbx_parse_syscalls(&r->sc, buf ? buf : "", len, sample);
			break;
		case 2:
			sbx_parse_net(&r->net, buf ? buf : "", len);
			break;
		case 3:
			sbx_parse_files(&r->files, buf ? buf : "", len, sample);
			break;
		default:
			sbx_parse_services(&r->svc, buf ? buf : "", len);
		}
		free(buf);
	}
	sbx_derive(r, o);
	return 0;
}
