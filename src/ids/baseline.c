// SPDX-License-Identifier: MIT
/*
 * Baseline files: recording known-good state from a snapshot, and saving and loading it as
 * JSON (docs/baseline.md). Syscall handlers are stored by name, not address, so the baseline
 * survives a reboot's new KASLR slide; kernel text hashes (ids_text.h) do not, and say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/ids_baseline.h"
#include "vigil/ids_text.h"

#define BASELINE_MAX_BYTES (64 << 20)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vg_baseline_free(struct vg_baseline *b)
{
	for (size_t i = 0; i < b->nmodules; i++)
		free(b->modules[i]);
	free(b->modules);
	for (size_t i = 0; i < b->nlisten; i++) {
		free(b->listen[i].exe);
		free(b->listen[i].cmdline);
	}
	free(b->listen);
	for (int k = 0; k < b->nsct; k++) {
		for (int i = 0; i < b->sct[k].n; i++)
			free(b->sct[k].sym[i]);
		free(b->sct[k].sym);
	}
	for (size_t i = 0; i < b->nexes; i++)
		free(b->exes[i]);
	free(b->exes);
	if (b->text) {
		vg_text_ref_free(b->text);
		free(b->text);
	}
	memset(b, 0, sizeof(*b));
}

/* Appends a copy of S to a NULL-terminated, growing string array unless already present. */
static int add_unique(char ***arr, size_t *n, const char *s)
{
	char **p;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i], s))
			return 0;
	if (*n >= VG_BASELINE_MAX_ITEMS)
		return -E2BIG;
	p = realloc(*arr, (*n + 2) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*arr = p;
	p[*n] = strdup(s);
	if (!p[*n])
		return -ENOMEM;
	p[++*n] = NULL;
	return 0;
}

int vg_baseline_from_snapshot(struct vg_baseline *b, const struct vg_snapshot *s,
			      const char *banner, uint64_t text_va, struct vg_text_ref *text,
			      struct vg_err *err)
{
	int ret = 0;

	memset(b, 0, sizeof(*b));
	snprintf(b->release, sizeof(b->release), "%s", s->release);
	snprintf(b->banner, sizeof(b->banner), "%s", banner ? banner : "");
	b->text_va = text_va;
	b->text = text;
	for (size_t i = 0; i < s->modules.n && !ret; i++)
		ret = add_unique(&b->modules, &b->nmodules, s->modules.v[i].name);
	/* executables of user processes: the tasks the guest runs when it is known to be good */
	for (size_t i = 0; i < s->tasks.n && !ret; i++)
		if (s->tasks.v[i].exe && s->tasks.v[i].exe[0])
			ret = add_unique(&b->exes, &b->nexes, s->tasks.v[i].exe);
	if (ret)
		goto fail;
	if (b->nexes)
		qsort(b->exes, b->nexes, sizeof(*b->exes), cmp_str);
	if (s->nlisten) {
		b->listen = calloc(s->nlisten, sizeof(*b->listen));
		if (!b->listen) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	for (size_t i = 0; i < s->nlisten; i++) {
		const struct vg_task *owner = s->listen[i].owner;
		struct vg_bl_listen *l = &b->listen[b->nlisten++];

		snprintf(l->proto, sizeof(l->proto), "%s", s->listen[i].proto);
		snprintf(l->addr, sizeof(l->addr), "%s", s->listen[i].addr);
		l->port = s->listen[i].port;
		/* who held it, so that the same program with the same argv is accepted later */
		if (!owner || !owner->exe || !owner->cmdline)
			continue;
		l->exe = strdup(owner->exe);
		l->cmdline = strdup(owner->cmdline);
		if (!l->exe || !l->cmdline) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	for (int k = 0; k < s->nsct && k < 3; k++) {
		const struct vg_sct *t = &s->sct[k];

		snprintf(b->sct[k].name, sizeof(b->sct[k].name), "%s", t->name);
		b->sct[k].sym = calloc(t->n ? t->n : 1, sizeof(char *));
		if (!b->sct[k].sym) {
			ret = -ENOMEM;
			goto fail;
		}
		b->nsct = k + 1;
		for (int i = 0; i < t->n; i++) {
			b->sct[k].sym[i] = strdup(t->e[i].sym);
			if (!b->sct[k].sym[i]) {
				ret = -ENOMEM;
				goto fail;
			}
			b->sct[k].n = i + 1;
		}
	}
	return 0;
fail:
	vg_baseline_free(b);
	return vg_errf(err, -ret, "recording the baseline: %s", strerror(-ret));
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *to_json(const struct vg_baseline *b)
{
	json_t *root = json_object(), *kern, *listen, *sct;

	if (!root)
		return NULL;
	kern = json_pack("{s:s, s:s, s:s}", "release", b->release, "banner", b->banner, "text_va",
			 "");
	if (kern) {
		char va[24];

		snprintf(va, sizeof(va), "0x%016llx", (unsigned long long)b->text_va);
		json_object_set_new(kern, "text_va", json_string(va));
	}
	json_object_set_new(root, "vigil_baseline", json_integer(VG_BASELINE_VERSION));
	json_object_set_new(root, "kernel", kern);
	json_object_set_new(root, "modules", str_array(b->modules, b->nmodules));
	listen = json_array();
	for (size_t i = 0; listen && i < b->nlisten; i++) {
		const struct vg_bl_listen *l = &b->listen[i];
		json_t *e = json_pack("{s:s, s:i, s:s}", "proto", l->proto, "port", l->port, "addr",
				      l->addr);

		if (e && l->exe && l->cmdline) {
			json_object_set_new(e, "exe", json_string(l->exe));
			json_object_set_new(e, "cmdline", json_string(l->cmdline));
		}
		json_array_append_new(listen, e);
	}
	json_object_set_new(root, "listen", listen);
	sct = json_object();
	for (int k = 0; sct && k < b->nsct; k++)
		json_object_set_new(sct, b->sct[k].name, str_array(b->sct[k].sym, b->sct[k].n));
	json_object_set_new(root, "syscall_tables", sct);
	json_object_set_new(root, "executables", str_array(b->exes, b->nexes));
	if (b->text) {
		json_t *text = vg_text_ref_to_json(b->text);

		if (!text) {
			json_decref(root);
			return NULL;
		}
		json_object_set_new(root, "kernel_text", text);
	}
	return root;
}

int vg_baseline_save(const struct vg_baseline *b, const char *path, struct vg_err *err)
{
	json_t *root = to_json(b);
	char tmp[4096];
	int fd, ret = 0;

	if (!root)
		return vg_errf(err, ENOMEM, "baseline: out of memory");
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		json_decref(root);
		return vg_errf(err, ENAMETOOLONG, "baseline: path too long");
	}
	/* written whole to a temporary file and renamed, so a crash never leaves half a
	 * baseline that a later scan would trust */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_decref(root);
		return vg_errf(err, errno, "baseline %s: %s", tmp, strerror(errno));
	}
	if (json_dumpfd(root, fd, JSON_INDENT(1) | JSON_SORT_KEYS) || fsync(fd))
		ret = vg_errf(err, errno ? errno : EIO, "writing baseline %s", tmp);
	close(fd);
	json_decref(root);
	if (!ret && rename(tmp, path))
		ret = vg_errf(err, errno, "baseline %s: %s", path, strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}

static int load_strs(json_t *a, char ***out, size_t *n, bool sorted)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > VG_BASELINE_MAX_ITEMS)
		return -EINVAL;
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) > 4096)
			return -EINVAL;
		(*out)[i] = strdup(json_string_value(v));
		if (!(*out)[i])
			return -ENOMEM;
		*n = i + 1;
	}
	if (sorted && *n)
		qsort(*out, *n, sizeof(char *), cmp_str);
	return 0;
}

/* A listener's owner (optional: baselines before it, and listeners held by no process, have
 * none): both strings or neither, bounded as the task list bounds them. */
static int load_owner(json_t *v, struct vg_bl_listen *l)
{
	json_t *exe = json_object_get(v, "exe"), *cmd = json_object_get(v, "cmdline");

	if (!exe && !cmd)
		return 0;
	if (!json_is_string(exe) || !json_is_string(cmd) ||
	    json_string_length(exe) >= VG_PATH_MAX || json_string_length(cmd) >= VG_CMDLINE_MAX ||
	    strlen(json_string_value(exe)) != json_string_length(exe) ||
	    strlen(json_string_value(cmd)) != json_string_length(cmd))
		return -EINVAL;
	l->exe = strdup(json_string_value(exe));
	l->cmdline = strdup(json_string_value(cmd));
	return l->exe && l->cmdline ? 0 : -ENOMEM;
}

static int from_json(struct vg_baseline *b, json_t *root, struct vg_err *err)
{
	json_t *kern = json_object_get(root, "kernel"), *listen, *sct, *v, *text;
	const char *key;
	size_t i;
	int ret;

	if (json_integer_value(json_object_get(root, "vigil_baseline")) != VG_BASELINE_VERSION)
		return vg_errf(err, EINVAL, "not a vigil baseline (version %d)",
			       VG_BASELINE_VERSION);
	if (!json_is_object(kern))
		return vg_errf(err, EINVAL, "baseline has no kernel object");
	snprintf(b->release, sizeof(b->release), "%s",
		 json_string_value(json_object_get(kern, "release")) ?: "");
	snprintf(b->banner, sizeof(b->banner), "%s",
		 json_string_value(json_object_get(kern, "banner")) ?: "");
	b->text_va = strtoull(json_string_value(json_object_get(kern, "text_va")) ?: "0", NULL, 0);
	ret = load_strs(json_object_get(root, "modules"), &b->modules, &b->nmodules, false);
	if (!ret)
		ret = load_strs(json_object_get(root, "executables"), &b->exes, &b->nexes, true);
	if (ret)
		return vg_errf(err, -ret, "baseline modules/executables: %s",
			       ret == -EINVAL ? "malformed" : strerror(-ret));
	listen = json_object_get(root, "listen");
	if (!json_is_array(listen) || json_array_size(listen) > VG_BASELINE_MAX_ITEMS)
		return vg_errf(err, EINVAL, "baseline listen is not an array");
	b->listen = calloc(json_array_size(listen) + 1, sizeof(*b->listen));
	if (!b->listen)
		return vg_errf(err, ENOMEM, "baseline: out of memory");
	json_array_foreach(listen, i, v)
	{
		struct vg_bl_listen *l = &b->listen[b->nlisten];
		json_int_t port = json_integer_value(json_object_get(v, "port"));

		if (port < 0 || port > 65535)
			return vg_errf(err, EINVAL, "baseline listen[%zu]: bad port", i);
		l->port = (uint16_t)port;
		snprintf(l->proto, sizeof(l->proto), "%s",
			 json_string_value(json_object_get(v, "proto")) ?: "");
		snprintf(l->addr, sizeof(l->addr), "%s",
			 json_string_value(json_object_get(v, "addr")) ?: "");
		b->nlisten++;
		ret = load_owner(v, l);
		if (ret)
			return vg_errf(err, -ret, "baseline listen[%zu]: %s", i,
				       ret == -EINVAL ? "bad exe or cmdline" : strerror(-ret));
	}
	sct = json_object_get(root, "syscall_tables");
	if (sct && !json_is_object(sct))
		return vg_errf(err, EINVAL, "baseline syscall_tables is not an object");
	json_object_foreach(sct, key, v)
	{
		size_t n = 0;

		if (b->nsct == 3)
			return vg_errf(err, EINVAL, "baseline has more than 3 syscall tables");
		snprintf(b->sct[b->nsct].name, sizeof(b->sct[0].name), "%s", key);
		if (json_array_size(v) > VG_IDS_MAX_SYSCALLS)
			return vg_errf(err, EINVAL, "baseline table %s is too long", key);
		ret = load_strs(v, &b->sct[b->nsct].sym, &n, false);
		b->sct[b->nsct++].n = (int)n;
		if (ret)
			return vg_errf(err, -ret, "baseline table %s is malformed", key);
	}
	text = json_object_get(root, "kernel_text");
	if (text) {
		b->text = calloc(1, sizeof(*b->text));
		if (!b->text)
			return vg_errf(err, ENOMEM, "baseline: out of memory");
		ret = vg_text_ref_from_json(text, b->text, err);
		if (ret) {
			free(b->text);
			b->text = NULL;
			vg_err_prefix(err, "baseline kernel_text");
			return ret;
		}
	}
	return 0;
}

/* The whole file in one buffer: jansson parses a buffer several times faster than a stream
 * it reads a character at a time, and the kernel text hashes make this 150 KB or more. */
static int slurp(const char *path, char **out, size_t *len, struct vg_err *err)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *buf = NULL;
	int ret = 0;

	if (!f)
		return vg_errf(err, errno, "baseline %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > BASELINE_MAX_BYTES)
		ret = vg_errf(err, EINVAL, "baseline %s: not a regular file of at most %d MiB",
			      path, BASELINE_MAX_BYTES >> 20);
	else if (!(buf = malloc((size_t)st.st_size + 1)) ||
		 fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		ret = vg_errf(err, EIO, "baseline %s: read failed", path);
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*len = (size_t)st.st_size;
	return 0;
}

int vg_baseline_load(struct vg_baseline *b, const char *path, struct vg_err *err)
{
	json_error_t je;
	json_t *root;
	size_t len = 0;
	char *buf = NULL;
	int ret;

	memset(b, 0, sizeof(*b));
	ret = slurp(path, &buf, &len, err);
	if (ret)
		return ret;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root)
		return vg_errf(err, EINVAL, "baseline %s: line %d: %s", path, je.line, je.text);
	ret = from_json(b, root, err);
	json_decref(root);
	if (ret) {
		vg_err_prefix(err, "baseline %s", path);
		vg_baseline_free(b);
	}
	return ret;
}

bool vg_baseline_has_exe(const struct vg_baseline *b, const char *exe)
{
	return b->nexes && bsearch(&exe, b->exes, b->nexes, sizeof(char *), cmp_str);
}

bool vg_baseline_has_module(const struct vg_baseline *b, const char *name)
{
	for (size_t i = 0; i < b->nmodules; i++)
		if (!strcmp(b->modules[i], name))
			return true;
	return false;
}

bool vg_baseline_has_port(const struct vg_baseline *b, uint16_t port)
{
	for (size_t i = 0; i < b->nlisten; i++)
		if (b->listen[i].port == port)
			return true;
	return false;
}
