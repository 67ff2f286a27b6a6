/* SPDX-License-Identifier: MIT */
/* Canonical hexdump (like hexdump -C) of bytes read from a guest, with guest addresses. */
#ifndef VIGIL_HEXDUMP_H
#define VIGIL_HEXDUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void vg_hexdump(FILE *out, uint64_t addr, const uint8_t *buf, size_t len);

#endif
