// SPDX-License-Identifier: MIT
/*
 * log-tampering: chkrootkit's wted (chkwtmp) and z2 (chklastlog) tests on the image's own
 * files. chkwtmp: a wtmp record whose time is zero was wiped by a log cleaner (zap, wipe);
 * each run of them between two intact records is reported with the times around it.
 * chklastlog: a user who logged in (a wtmp record naming them) but whose lastlog record is
 * empty was erased from lastlog. Unlike chkrootkit run with -r, users are resolved with the
 * image's /etc/passwd, not the host's. Records are glibc's x86-64 layouts (utmp 384 bytes,
 * lastlog 292 bytes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "scan_int.h"

#define UTMP_SIZE 384
#define UT_LINE 8
#define UT_USER 44
#define UT_NAMELEN 32
#define UT_TIME 340
#define LASTLOG_SIZE 292
#define MAX_UID 99999 /* chklastlog's MAX_ID */
#define MAX_USERS 4096

struct user {
	char name[UT_NAMELEN + 1];
	uint32_t uid;
	bool logged_in; /* seen in wtmp */
};

struct vg_logs {
	long wtmp, lastlog;
	struct user *users;
	size_t nusers;
	bool have_wtmp, have_passwd;
};

static int32_t le32s(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static void iso(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static void deletions(struct vg_scan *c, uint32_t idx, int count, int64_t from, int64_t to,
		      uint64_t first_record)
{
	const char *path = vg_fent_path(c->t, &c->t->v[idx]);
	char a[32], b[32];
	struct vg_json j;

	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	iso(from, a, sizeof(a));
	if (to)
		iso(to, b, sizeof(b));
	else
		snprintf(b, sizeof(b), "the end of the file");
	vg_json_kstr(&j, "chkrootkit_test", "wted");
	vg_json_kstr(&j, "path", path);
	vg_json_kint(&j, "deleted_records", count);
	vg_json_kuint(&j, "first_record", first_record);
	vg_json_kstr(&j, "after", from ? a : "the start of the file");
	vg_json_kstr(&j, "before", b);
	vg_scan_add(c, "log-tampering", VG_SEV_HIGH, "T1070.002", NULL, path, &j,
		    "%s: %d login record%s wiped between %s and %s (chkwtmp)", path, count,
		    count == 1 ? "" : "s", from ? a : "the start", b);
}

static struct user *user_named(struct vg_logs *l, const char *name)
{
	for (size_t i = 0; i < l->nusers; i++)
		if (!strcmp(l->users[i].name, name))
			return &l->users[i];
	return NULL;
}

static void on_wtmp(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
		    const void *arg)
{
	struct vg_logs *l = c->logs;
	int64_t last = 0;
	uint64_t run_start = 0;
	int run = 0;

	l->have_wtmp = true;
	for (size_t off = 0; off + UTMP_SIZE <= len; off += UTMP_SIZE) {
		const uint8_t *r = data + off;
		int64_t t = le32s(r + UT_TIME);

		if (!t) {
			if (!run++)
				run_start = off / UTMP_SIZE;
			continue;
		}
		if (run)
			deletions(c, idx, run, last, t, run_start);
		run = 0;
		last = t;
		if (r[UT_USER] && l->have_passwd) {
			char name[UT_NAMELEN + 1];
			struct user *u;

			memcpy(name, r + UT_USER, UT_NAMELEN);
			name[UT_NAMELEN] = '\0';
			/* chklastlog skips the shutdown pseudo-user and ftp sessions */
			if (strcmp(name, "shutdown") &&
			    strncmp((const char *)r + UT_LINE, "ftp", 3) &&
			    (u = user_named(l, name)))
				u->logged_in = true;
		}
	}
	if (run)
		deletions(c, idx, run, last, 0, run_start);
}

static bool passwd_line(void *ctx, const char *line)
{
	struct vg_logs *l = ctx;
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	struct user *u;
	char *end;
	unsigned long uid;

	if (!c2 || c1 == line || (size_t)(c1 - line) > UT_NAMELEN || l->nusers >= MAX_USERS)
		return l->nusers >= MAX_USERS;
	uid = strtoul(c2 + 1, &end, 10);
	if (end == c2 + 1 || *end != ':')
		return false;
	u = &l->users[l->nusers++];
	memset(u, 0, sizeof(*u));
	memcpy(u->name, line, (size_t)(c1 - line));
	u->uid = uid > UINT32_MAX ? UINT32_MAX : (uint32_t)uid;
	return false;
}

static void on_passwd(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
		      const void *arg)
{
	vg_lines(data, len, passwd_line, c->logs);
}

static long locate(const struct vg_ftab *t, const char *a, const char *b)
{
	long idx = vg_ftab_resolve(t, a);

	if (idx < 0 || !S_ISREG(t->v[idx].mode))
		idx = vg_ftab_resolve(t, b);
	return idx >= 0 && S_ISREG(t->v[idx].mode) ? idx : -1;
}

void vg_rules_logs(struct vg_scan *c)
{
	struct vg_logs *l;
	long passwd;

	if (!vg_scan_on(c, "log-tampering"))
		return;
	l = calloc(1, sizeof(*l));
	if (l)
		l->users = calloc(MAX_USERS, sizeof(*l->users));
	if (!l || !l->users) {
		free(l);
		c->ret = -ENOMEM;
		return;
	}
	c->logs = l;
	l->wtmp = locate(c->t, "/var/log/wtmp", "/var/adm/wtmp");
	l->lastlog = locate(c->t, "/var/log/lastlog", "/var/adm/lastlog");
	passwd = locate(c->t, "/etc/passwd", "/etc/passwd");
	/* passwd first: the wtmp reader resolves names as it goes */
	if (passwd >= 0 && (l->wtmp < 0 || passwd < l->wtmp)) {
		l->have_passwd = true;
		vg_scan_want(c, (uint32_t)passwd, on_passwd, NULL);
	} else if (passwd >= 0) {
		uint8_t *data;
		size_t len;

		if (!vg_scan_slurp(c, "/etc/passwd", 4 << 20, &data, &len)) {
			vg_lines(data, len, passwd_line, l);
			l->have_passwd = true;
			free(data);
		}
	}
	if (l->wtmp >= 0)
		vg_scan_want(c, (uint32_t)l->wtmp, on_wtmp, NULL);
}

static void lastlog_missing(struct vg_scan *c, const struct user *u, const char *lastlog)
{
	const char *wtmp = vg_fent_path(c->t, &c->t->v[c->logs->wtmp]);
	struct vg_json j;

	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "chkrootkit_test", "z2");
	vg_json_kstr(&j, "user", u->name);
	vg_json_kuint(&j, "uid", u->uid);
	vg_json_kstr(&j, "wtmp", wtmp);
	vg_json_kstr(&j, "lastlog", lastlog);
	vg_scan_add(c, "log-tampering", VG_SEV_HIGH, "T1070.002", "user", u->name, &j,
		    "user %s logged in (%s) but has no lastlog record: erased from %s (chklastlog)",
		    u->name, wtmp, lastlog);
}

void vg_rules_logs_end(struct vg_scan *c)
{
	struct vg_logs *l = c->logs;
	uint32_t maxuid = 0;
	uint8_t *data = NULL;
	size_t len = 0;

	if (!l)
		return;
	for (size_t i = 0; i < l->nusers; i++)
		if (l->users[i].logged_in && l->users[i].uid <= MAX_UID && l->users[i].uid > maxuid)
			maxuid = l->users[i].uid;
	if (!c->ret && l->have_wtmp && l->lastlog >= 0) {
		const char *path = vg_fent_path(c->t, &c->t->v[l->lastlog]);

		/* only the records of users seen in wtmp: lastlog is sparse and can be huge */
		if (!vg_scan_slurp(c, path, ((size_t)maxuid + 1) * LASTLOG_SIZE, &data, &len)) {
			for (size_t i = 0; i < l->nusers && !c->ret; i++) {
				const struct user *u = &l->users[i];
				size_t off = (size_t)u->uid * LASTLOG_SIZE;

				if (u->logged_in && u->uid <= MAX_UID &&
				    off + LASTLOG_SIZE <= len && !le32s(data + off))
					lastlog_missing(c, u, path);
			}
			free(data);
		}
	}
	free(l->users);
	free(l);
	c->logs = NULL;
}
