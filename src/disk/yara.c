// SPDX-License-Identifier: MIT
/*
 * YARA over file contents (libyara): the built-in rules (share/yara, compiled into vigil)
 * and every *.yar / *.yara file of a directory the user gives, each file in its own
 * namespace. Scans run in fast mode (the first match of each string is enough to report)
 * with a per-file timeout, so one hostile file cannot stall a scan. A scanner is made once
 * per thread and reused for every file: made per file, its allocations cost more than
 * scanning a small file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yara.h>

#include "vigil/disk_scan.h"
#include "yara_lazy.h"

#define RULE_FILE_MAX (16u << 20)
#define MAX_RULE_FILES 4096
#define SCAN_TIMEOUT_S 60

struct vg_yara {
	YR_RULES *rules;
	int nrules;
};

struct compile_ctx {
	const char *where;
	char msg[400];
	int errors;
};

static void on_compile(int level, const char *file, int line, const YR_RULE *rule,
		       const char *message, void *ud)
{
	struct compile_ctx *c = ud;

	if (level != YARA_ERROR_LEVEL_ERROR || c->errors++)
		return;
	snprintf(c->msg, sizeof(c->msg), "%s line %d: %s", c->where, line, message);
}

static int add_text(YR_COMPILER *comp, struct compile_ctx *cc, const char *where, const char *text,
		    const char *ns, struct vg_err *err)
{
	cc->where = where;
	if (yr_compiler_add_string(comp, text, ns) || cc->errors)
		return vg_errf(err, EINVAL, "YARA rules do not compile: %s",
			       cc->msg[0] ? cc->msg : where);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool rule_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 4 && !strcmp(name + n - 4, ".yar")) ||
				  (n > 5 && !strcmp(name + n - 5, ".yara")));
}

static int read_text(const char *path, char **out, struct vg_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text;
	ssize_t r;

	if (fd < 0)
		return vg_errf(err, errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > RULE_FILE_MAX) {
		close(fd);
		return vg_errf(err, EINVAL, "%s is not a rule file under %u bytes", path,
			       RULE_FILE_MAX);
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	r = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (r != st.st_size) {
		free(text);
		return vg_errf(err, EIO, "cannot read %s", path);
	}
	text[r] = '\0';
	*out = text;
	return 0;
}

/* Every rule file of DIR, in name order, each in a namespace named after it. */
static int add_dir(YR_COMPILER *comp, struct compile_ctx *cc, const char *dir, struct vg_err *err)
{
	DIR *d = opendir(dir);
	char *names[MAX_RULE_FILES];
	struct dirent *de;
	int n = 0, ret = 0;

	if (!d)
		return vg_errf(err, errno, "cannot open the rules directory %s: %s", dir,
			       strerror(errno));
	while ((de = readdir(d)) && n < MAX_RULE_FILES)
		if (rule_file(de->d_name) && !(names[n++] = strdup(de->d_name)))
			ret = vg_errf(err, ENOMEM, "out of memory");
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), cmp_str);
	for (int i = 0; i < n && !ret; i++) {
		char path[4096], *text = NULL;

		if (!names[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		ret = read_text(path, &text, err);
		if (!ret) {
			ret = add_text(comp, cc, path, text, names[i], err);
			free(text);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (!ret && !n)
		ret = vg_errf(err, ENOENT, "%s holds no *.yar or *.yara rule file", dir);
	return ret;
}

int vg_yara_open(struct vg_yara **out, const char *dir, bool no_defaults, struct vg_err *err)
{
	struct compile_ctx cc = { 0 };
	YR_COMPILER *comp = NULL;
	struct vg_yara *y;
	YR_RULE *rule;
	int ret = 0;

	*out = NULL;
	if (yr_initialize() != ERROR_SUCCESS)
		return vg_errf(err, ENOSYS, "YARA is unavailable: %s", vg_yara_lazy_error());
	y = calloc(1, sizeof(*y));
	if (!y || yr_compiler_create(&comp) != ERROR_SUCCESS) {
		free(y);
		yr_finalize();
		return vg_errf(err, ENOMEM, "out of memory");
	}
	yr_compiler_set_callback(comp, on_compile, &cc);
	for (const struct vg_yara_builtin *b = vg_yara_builtins; !no_defaults && b->name && !ret;
	     b++)
		ret = add_text(comp, &cc, b->name, b->text, "vigil", err);
	if (!ret && dir)
		ret = add_dir(comp, &cc, dir, err);
	if (!ret && yr_compiler_get_rules(comp, &y->rules) != ERROR_SUCCESS)
		ret = vg_errf(err, ENOMEM, "YARA could not build the rules");
	yr_compiler_destroy(comp);
	if (ret) {
		free(y);
		yr_finalize();
		return ret;
	}
	yr_rules_foreach(y->rules, rule)
	{
		y->nrules++;
	}
	*out = y;
	return 0;
}

void vg_yara_close(struct vg_yara *y)
{
	if (!y)
		return;
	yr_rules_destroy(y->rules);
	free(y);
	yr_finalize();
}

int vg_yara_count(const struct vg_yara *y)
{
	return y ? y->nrules : 0;
}

struct scan_ctx {
	void (*on_match)(void *ctx, const struct vg_yara_match *m);
	void *ctx;
};

struct vg_yara_scanner {
	YR_SCANNER *s;
	struct scan_ctx cb;
};

static int on_scan(YR_SCAN_CONTEXT *context, int message, void *message_data, void *user_data)
{
	struct scan_ctx *s = user_data;
	YR_RULE *rule = message_data;
	struct vg_yara_match m = { 0 };
	char tags[256] = "";
	const char *tag;
	YR_META *meta;
	YR_STRING *str;

	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	m.rule = rule->identifier;
	m.ns = rule->ns->name;
	yr_rule_metas_foreach(rule, meta)
	{
		if (meta->type != META_TYPE_STRING)
			continue;
		if (!strcmp(meta->identifier, "description"))
			m.description = meta->string;
		else if (!strcmp(meta->identifier, "severity"))
			m.severity = meta->string;
		else if (!strcmp(meta->identifier, "attack"))
			m.attack = meta->string;
	}
	yr_rule_tags_foreach(rule, tag)
	{
		size_t l = strlen(tags);

		snprintf(tags + l, sizeof(tags) - l, "%s%s", l ? " " : "", tag);
	}
	m.tags = tags;
	yr_rule_strings_foreach(rule, str)
	{
		YR_MATCH *match;

		if (m.nstrings >= 4)
			break;
		yr_string_matches_foreach(context, str, match)
		{
			m.strings[m.nstrings] = str->identifier;
			m.offsets[m.nstrings] = (uint64_t)(match->base + match->offset);
			m.nstrings++;
			break;
		}
	}
	s->on_match(s->ctx, &m);
	return CALLBACK_CONTINUE;
}

int vg_yara_scanner_open(struct vg_yara *y, struct vg_yara_scanner **out, struct vg_err *err)
{
	struct vg_yara_scanner *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || yr_scanner_create(y->rules, &s->s) != ERROR_SUCCESS) {
		free(s);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	yr_scanner_set_callback(s->s, on_scan, &s->cb);
	yr_scanner_set_timeout(s->s, SCAN_TIMEOUT_S);
	/* the buffers are vigil's own memory, never a mapped file that could fault: YARA's
	 * per-scan signal handlers (a sigaction and a sigsetjmp per file) are not needed */
	yr_scanner_set_flags(s->s, SCAN_FLAGS_FAST_MODE | SCAN_FLAGS_NO_TRYCATCH);
	*out = s;
	return 0;
}

void vg_yara_scanner_close(struct vg_yara_scanner *s)
{
	if (!s)
		return;
	yr_scanner_destroy(s->s);
	free(s);
}

int vg_yara_scan(struct vg_yara_scanner *s, const void *buf, size_t len,
		 void (*on_match)(void *ctx, const struct vg_yara_match *m), void *ctx,
		 struct vg_err *err)
{
	int r;

	s->cb = (struct scan_ctx){ .on_match = on_match, .ctx = ctx };
	r = yr_scanner_scan_mem(s->s, buf, len);
	if (r == ERROR_SCAN_TIMEOUT)
		return vg_errf(err, ETIMEDOUT, "YARA scan took over %d s", SCAN_TIMEOUT_S);
	if (r != ERROR_SUCCESS)
		return vg_errf(err, EIO, "YARA scan failed (libyara error %d)", r);
	return 0;
}
