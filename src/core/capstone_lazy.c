// SPDX-License-Identifier: MIT
/*
 * Capstone, loaded when first used. Linked normally, libcapstone (every architecture's
 * tables: 77,000 relocations) is relocated at the start of every vigil process, about 6 ms
 * on this project's machines: more than a tenth of a one-shot scan that, with its
 * dispatcher disassembly remembered (src/ids/dispatch_memo.c), needs no disassembler at
 * all. So vigil defines the few capstone entry points it calls and forwards them to the
 * library opened with dlopen on the first cs_open. Only the soname of the API vigil was
 * compiled against is accepted: cs_insn's layout changes between major versions.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <capstone/capstone.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define CS_SONAME "libcapstone.so." STR(CS_API_MAJOR)

static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*close)(csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	cs_insn *(*malloc)(csh);
	void (*free)(cs_insn *, size_t);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
	bool (*insn_group)(csh, const cs_insn *, unsigned int);
	bool ok;
} cs;
static pthread_once_t cs_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(CS_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "vigil: %s\n", dlerror());
		return;
	}
	/* dlsym returns void *; POSIX guarantees it converts to a function pointer */
	*(void **)&cs.open = dlsym(h, "cs_open");
	*(void **)&cs.close = dlsym(h, "cs_close");
	*(void **)&cs.option = dlsym(h, "cs_option");
	*(void **)&cs.malloc = dlsym(h, "cs_malloc");
	*(void **)&cs.free = dlsym(h, "cs_free");
	*(void **)&cs.disasm_iter = dlsym(h, "cs_disasm_iter");
	*(void **)&cs.insn_group = dlsym(h, "cs_insn_group");
	cs.ok = cs.open && cs.close && cs.option && cs.malloc && cs.free && cs.disasm_iter &&
		cs.insn_group;
	if (!cs.ok)
		fprintf(stderr, "vigil: %s lacks an entry point vigil uses\n", CS_SONAME);
}

/* Every other entry point takes a handle, which only a successful cs_open hands out. */
cs_err CAPSTONE_API cs_open(cs_arch arch, cs_mode mode, csh *handle)
{
	pthread_once(&cs_once, load);
	return cs.ok ? cs.open(arch, mode, handle) : CS_ERR_ARCH;
}

cs_err CAPSTONE_API cs_close(csh *handle)
{
	return cs.ok ? cs.close(handle) : CS_ERR_CSH;
}

cs_err CAPSTONE_API cs_option(csh handle, cs_opt_type type, size_t value)
{
	return cs.ok ? cs.option(handle, type, value) : CS_ERR_CSH;
}

cs_insn *CAPSTONE_API cs_malloc(csh handle)
{
	return cs.ok ? cs.malloc(handle) : NULL;
}

void CAPSTONE_API cs_free(cs_insn *insn, size_t count)
{
	if (cs.ok)
		cs.free(insn, count);
}

bool CAPSTONE_API cs_disasm_iter(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
				 cs_insn *insn)
{
	return cs.ok && cs.disasm_iter(handle, code, size, address, insn);
}

bool CAPSTONE_API cs_insn_group(csh handle, const cs_insn *insn, unsigned int group_id)
{
	return cs.ok && cs.insn_group(handle, insn, group_id);
}
