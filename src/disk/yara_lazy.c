// SPDX-License-Identifier: MIT
/*
 * libyara, loaded when a scan first compiles rules. Linked normally, libyara and what it
 * pulls in (libcrypto, libmagic) are relocated at the start of every vigil process, about
 * 4.5 ms measured here, for a library only disk scans use. vigil defines the entry points it
 * calls and forwards them to the library opened with dlopen; when it cannot be opened,
 * yr_initialize fails with ERROR_COULD_NOT_OPEN_FILE and vg_yara_lazy_error() says why.
 * Only the soname of the API vigil was compiled against is accepted: YARA's structures
 * (which the header's iteration macros read directly) change between major versions.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <yara.h>

#include "yara_lazy.h"

#if YR_MAJOR_VERSION != 4
#error "vigil is written against YARA 4 (libyara.so.9 and later 4.x sonames)"
#endif
#define YARA_SONAME "libyara.so.9"

static struct {
	int (*initialize)(void);
	int (*finalize)(void);
	int (*compiler_create)(YR_COMPILER **);
	void (*compiler_destroy)(YR_COMPILER *);
	void (*compiler_set_callback)(YR_COMPILER *, YR_COMPILER_CALLBACK_FUNC, void *);
	int (*compiler_add_string)(YR_COMPILER *, const char *, const char *);
	int (*compiler_get_rules)(YR_COMPILER *, YR_RULES **);
	int (*rules_destroy)(YR_RULES *);
	int (*rules_scan_mem)(YR_RULES *, const uint8_t *, size_t, int, YR_CALLBACK_FUNC, void *,
			      int);
	bool ok;
	char why[256];
} yr;
static pthread_once_t yr_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(YARA_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(yr.why, sizeof(yr.why), "%s (install libyara9)", dlerror());
		return;
	}
	/* dlsym returns void *; POSIX guarantees it converts to a function pointer */
	*(void **)&yr.initialize = dlsym(h, "yr_initialize");
	*(void **)&yr.finalize = dlsym(h, "yr_finalize");
	*(void **)&yr.compiler_create = dlsym(h, "yr_compiler_create");
	*(void **)&yr.compiler_destroy = dlsym(h, "yr_compiler_destroy");
	*(void **)&yr.compiler_set_callback = dlsym(h, "yr_compiler_set_callback");
	*(void **)&yr.compiler_add_string = dlsym(h, "yr_compiler_add_string");
	*(void **)&yr.compiler_get_rules = dlsym(h, "yr_compiler_get_rules");
	*(void **)&yr.rules_destroy = dlsym(h, "yr_rules_destroy");
	*(void **)&yr.rules_scan_mem = dlsym(h, "yr_rules_scan_mem");
	yr.ok = yr.initialize && yr.finalize && yr.compiler_create && yr.compiler_destroy &&
		yr.compiler_set_callback && yr.compiler_add_string && yr.compiler_get_rules &&
		yr.rules_destroy && yr.rules_scan_mem;
	if (!yr.ok)
		snprintf(yr.why, sizeof(yr.why), "%s lacks an entry point vigil uses", YARA_SONAME);
}

const char *vg_yara_lazy_error(void)
{
	return yr.why;
}

/* Every other entry point is reached only after a successful yr_initialize. */
int yr_initialize(void)
{
	pthread_once(&yr_once, load);
	return yr.ok ? yr.initialize() : ERROR_COULD_NOT_OPEN_FILE;
}

int yr_finalize(void)
{
	return yr.ok ? yr.finalize() : ERROR_SUCCESS;
}

int yr_compiler_create(YR_COMPILER **compiler)
{
	return yr.compiler_create(compiler);
}

void yr_compiler_destroy(YR_COMPILER *compiler)
{
	yr.compiler_destroy(compiler);
}

void yr_compiler_set_callback(YR_COMPILER *compiler, YR_COMPILER_CALLBACK_FUNC callback,
			      void *user_data)
{
	yr.compiler_set_callback(compiler, callback, user_data);
}

int yr_compiler_add_string(YR_COMPILER *compiler, const char *rules_string, const char *ns)
{
	return yr.compiler_add_string(compiler, rules_string, ns);
}

int yr_compiler_get_rules(YR_COMPILER *compiler, YR_RULES **rules)
{
	return yr.compiler_get_rules(compiler, rules);
}

int yr_rules_destroy(YR_RULES *rules)
{
	return yr.rules_destroy(rules);
}

int yr_rules_scan_mem(YR_RULES *rules, const uint8_t *buffer, size_t buffer_size, int flags,
		      YR_CALLBACK_FUNC callback, void *user_data, int timeout)
{
	return yr.rules_scan_mem(rules, buffer, buffer_size, flags, callback, user_data, timeout);
}
