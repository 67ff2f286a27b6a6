// SPDX-License-Identifier: MIT
/*
 * Do-nothing instrumentation hooks: linked instead of libvigil-rt to measure what the compiler's
 * instrumentation alone costs, so the benchmark can separate it from the runtime's own cost.
 */
#include <stdint.h>

void __sanitizer_cov_trace_pc(void)
{
}

void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
	__asm__ volatile("" : : "r"(guard));
}

void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
	for (uint32_t *p = start; p < stop; p++)
		*p = 1;
}

void __sanitizer_cov_pcs_init(const uintptr_t *beg, const uintptr_t *end)
{
}

__attribute__((no_instrument_function)) void __cyg_profile_func_enter(void *fn, void *site)
{
	__asm__ volatile("" : : "r"(fn), "r"(site));
}

__attribute__((no_instrument_function)) void __cyg_profile_func_exit(void *fn, void *site)
{
	__asm__ volatile("" : : "r"(fn), "r"(site));
}
