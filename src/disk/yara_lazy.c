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
	int (*scanner_create)(YR_RULES *, YR_SCANNER **);
	void (*scanner_destroy)(YR_SCANNER *);
	void (*scanner_set_callback)(YR_SCANNER *, YR_CALLBACK_FUNC, void *);
	void (*scanner_set_timeout)(YR_SCANNER *, int);
	void (*scanner_set_flags)(YR_SCANNER *, int);
	int (*scanner_scan_mem)(YR_SCANNER *, const uint8_t *, size_t);
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
	*(void **)&yr.scanner_create = dlsym(h, "yr_scanner_create");
	*(void **)&yr.scanner_destroy = dlsym(h, "yr_scanner_destroy");
	*(void **)&yr.scanner_set_callback = dlsym(h, "yr_scanner_set_callback");
	*(void **)&yr.scanner_set_timeout = dlsym(h, "yr_scanner_set_timeout");
	*(void **)&yr.scanner_set_flags = dlsym(h, "yr_scanner_set_flags");
	*(void **)&yr.scanner_scan_mem = dlsym(h, "yr_scanner_scan_mem");
	yr.ok = yr.initialize && yr.finalize && yr.compiler_create && yr.compiler_destroy &&
		yr.compiler_set_callback && yr.compiler_add_string && yr.compiler_get_rules &&
		yr.rules_destroy && yr.scanner_create && yr.scanner_destroy &&
		yr.scanner_set_callback && yr.scanner_set_timeout && yr.scanner_set_flags &&
		yr.scanner_scan_mem;
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

int yr_scanner_create(YR_RULES *rules, YR_SCANNER **scanner)
{
	return yr.scanner_create(rules, scanner);
}

void yr_scanner_destroy(YR_SCANNER *scanner)
{
	yr.scanner_destroy(scanner);
}

void yr_scanner_set_callback(YR_SCANNER *scanner, YR_CALLBACK_FUNC callback, void *user_data)
{
	yr.scanner_set_callback(scanner, callback, user_data);
}

void yr_scanner_set_timeout(YR_SCANNER *scanner, int timeout)
{
	yr.scanner_set_timeout(scanner, timeout);
}

void yr_scanner_set_flags(YR_SCANNER *scanner, int flags)
{
	yr.scanner_set_flags(scanner, flags);
}

int yr_scanner_scan_mem(YR_SCANNER *scanner, const uint8_t *buffer, size_t buffer_size)
{
	return yr.scanner_scan_mem(scanner, buffer, buffer_size);
}
