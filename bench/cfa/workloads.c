// SPDX-License-Identifier: MIT
/*
 * CPU-bound device workloads for the CFA overhead benchmark: CRC-32, AES-128, JSON tokenising,
 * LZ77 compression, sorting, a protocol state machine and matrix multiply. Built once plain and
 * once instrumented (bench/cfa/run_bench.py); each run prints the workload's own time, so
 * process start-up and the drainer's set-up are not counted.
 * Usage: workloads NAME ROUNDS  ->  {"workload":NAME,"ns":N,"check":X}
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF (64 * 1024)
static uint8_t buf[BUF], out[2 * BUF];

static void fill(uint32_t seed)
{
	for (int i = 0; i < BUF; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* ---- CRC-32 (table driven, as on devices) ---- */
static uint32_t crc_table[256];

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return ~c;
}

static uint64_t w_crc(int rounds)
{
	uint64_t x = 0;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	for (int r = 0; r < rounds; r++)
		x += crc32(buf, BUF);
	return x;
}

/* ---- AES-128 encryption (FIPS-197, byte oriented) ---- */
static const uint8_t sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab,
	0x76, 0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4,
	0x72, 0xc0, 0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71,
	0xd8, 0x31, 0x15, 0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2,
	0xeb, 0x27, 0xb2, 0x75, 0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6,
	0xb3, 0x29, 0xe3, 0x2f, 0x84, 0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb,
	0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf, 0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45,
	0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8, 0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5,
	0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2, 0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44,
	0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73, 0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a,
	0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb, 0xe0, 0x32, 0x3a, 0x0a, 0x49,
	0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79, 0xe7, 0xc8, 0x37, 0x6d,
	0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08, 0xba, 0x78, 0x25,
	0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a, 0x70, 0x3e,
	0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e, 0xe1,
	0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb,
	0x16,
};

static uint8_t xtime(uint8_t x)
{
	return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b));
}

static void aes_expand(const uint8_t key[16], uint8_t rk[176])
{
	uint8_t rcon = 1;

	memcpy(rk, key, 16);
	for (int i = 16; i < 176; i += 4) {
		uint8_t t[4];

		memcpy(t, rk + i - 4, 4);
		if (i % 16 == 0) {
			uint8_t u = t[0];

			t[0] = sbox[t[1]] ^ rcon;
			t[1] = sbox[t[2]];
			t[2] = sbox[t[3]];
			t[3] = sbox[u];
			rcon = xtime(rcon);
		}
		for (int k = 0; k < 4; k++)
			rk[i + k] = rk[i - 16 + k] ^ t[k];
	}
}

static void aes_block(const uint8_t rk[176], uint8_t s[16])
{
	for (int k = 0; k < 16; k++)
		s[k] ^= rk[k];
	for (int round = 1; round <= 10; round++) {
		uint8_t t[16];

		for (int k = 0; k < 16; k++) /* SubBytes + ShiftRows */
			t[k] = sbox[s[(k + 4 * (k % 4)) % 16]];
		if (round < 10)
			for (int c = 0; c < 4; c++) { /* MixColumns */
				uint8_t *a = t + 4 * c, x = a[0] ^ a[1] ^ a[2] ^ a[3], a0 = a[0];

				a[0] ^= x ^ xtime(a[0] ^ a[1]);
				a[1] ^= x ^ xtime(a[1] ^ a[2]);
				a[2] ^= x ^ xtime(a[2] ^ a[3]);
				a[3] ^= x ^ xtime(a[3] ^ a0);
			}
		for (int k = 0; k < 16; k++)
			s[k] = t[k] ^ rk[16 * round + k];
	}
}

static uint64_t w_aes(int rounds)
{
	uint8_t rk[176], key[16] = "vigil-cfa-bench";
	uint64_t x = 0;

	aes_expand(key, rk);
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 4096; i += 16) {
			aes_block(rk, buf + i);
			x += buf[i];
		}
	return x;
}

/* ---- JSON tokeniser ---- */
static size_t make_json(char *p, size_t cap)
{
	size_t n = 0;

	n += (size_t)snprintf(p + n, cap - n, "[");
	for (int i = 0; n + 128 < cap; i++)
		n += (size_t)snprintf(p + n, cap - n,
				      "%s{\"id\":%d,\"name\":\"dev-%d\",\"temp\":%d.%d,\"ok\":%s,"
				      "\"tags\":[\"a\",\"b\\\"c\"],\"v\":null}",
				      i ? "," : "", i, i * 7, i % 90, i % 10,
				      i % 3 ? "true" : "false");
	n += (size_t)snprintf(p + n, cap - n, "]");
	return n;
}

static uint64_t json_tokens(const char *p, size_t n)
{
	uint64_t tok = 0, depth = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		switch (c) {
		case '{':
		case '[':
			depth++, tok++;
			break;
		case '}':
		case ']':
			depth--, tok++;
			break;
		case '"':
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			tok++;
			break;
		case ',':
		case ':':
			break;
		default:
			if ((c >= '0' && c <= '9') || c == '-') {
				while (i + 1 < n &&
				       ((p[i + 1] >= '0' && p[i + 1] <= '9') || p[i + 1] == '.'))
					i++;
				tok++;
			} else if (c == 't' || c == 'f' || c == 'n') {
				i += c == 'f' ? 4 : 3;
				tok++;
			}
		}
	}
	return tok + depth;
}

static uint64_t w_json(int rounds)
{
	size_t n = make_json((char *)out, sizeof(out));
	uint64_t x = 0;

	for (int r = 0; r < rounds; r++)
		x += json_tokens((const char *)out, n);
	return x;
}

/* ---- LZ77 compression (hash of 3 bytes, greedy) ---- */
static size_t lz77(const uint8_t *in, size_t n, uint8_t *o)
{
	static uint32_t head[4096];
	size_t i = 0, w = 0;

	memset(head, 0xff, sizeof(head));
	while (i + 3 <= n) {
		uint32_t h = ((uint32_t)in[i] << 8 ^ (uint32_t)in[i + 1] << 4 ^ in[i + 2]) & 4095;
		uint32_t cand = head[h];
		size_t len = 0;

		head[h] = (uint32_t)i;
		if (cand != 0xffffffffu && i - cand < 4096)
			while (len < 255 && i + len < n && in[cand + len] == in[i + len])
				len++;
		if (len >= 3) {
			o[w++] = 1;
			o[w++] = (uint8_t)(i - cand);
			o[w++] = (uint8_t)len;
			i += len;
		} else {
			o[w++] = 0;
			o[w++] = in[i++];
		}
	}
	return w;
}

static uint64_t w_lz(int rounds)
{
	uint64_t x = 0;

	for (int i = 0; i < BUF; i++) /* compressible: text-like with repeats */
		buf[i] =
			(uint8_t)("the quick brown fox jumps over the lazy dog "[(i * 7 / 5) % 44] +
				  (i % 97 == 0));
	for (int r = 0; r < rounds; r++)
		x += lz77(buf, 16384, out);
	return x;
}

/* ---- sorting (own quicksort + insertion sort, no libc callbacks) ---- */
static void isort(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t v = a[i];
		int j = i - 1;

		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static void qsort_u32(uint32_t *a, int n)
{
	while (n > 16) {
		uint32_t p = a[n / 2];
		int i = 0, j = n - 1;

		while (i <= j) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j) {
				uint32_t t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j + 1 < n - i) {
			qsort_u32(a, j + 1);
			a += i, n -= i;
		} else {
			qsort_u32(a + i, n - i);
			n = j + 1;
		}
	}
	isort(a, n);
}

static uint64_t w_sort(int rounds)
{
	uint32_t *a = (uint32_t *)out;
	uint64_t x = 0;

	for (int r = 0; r < rounds; r++) {
		uint32_t s = (uint32_t)r + 1;

		for (int i = 0; i < 8192; i++)
			a[i] = s = s * 1664525u + 1013904223u;
		qsort_u32(a, 8192);
		x += a[4096];
	}
	return x;
}

/* ---- protocol state machine (a tiny MQTT-like framer) ---- */
enum st { S_TYPE, S_LEN, S_TOPIC_LEN, S_TOPIC, S_PAYLOAD };

static uint64_t fsm(const uint8_t *p, size_t n)
{
	enum st s = S_TYPE;
	uint32_t len = 0, tl = 0, got = 0;
	uint64_t msgs = 0, sum = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		switch (s) {
		case S_TYPE:
			s = (c & 0xf0) == 0x30 ? S_LEN : S_TYPE;
			break;
		case S_LEN:
			len = c & 0x3f;
			s = len ? S_TOPIC_LEN : S_TYPE;
			break;
		case S_TOPIC_LEN:
			tl = c & 7;
			got = 0;
			s = tl ? S_TOPIC : S_PAYLOAD;
			break;
		case S_TOPIC:
			sum += c;
			if (++got == tl) {
				got = 0;
				s = S_PAYLOAD;
			}
			break;
		case S_PAYLOAD:
			sum ^= c;
			if (++got >= len) {
				msgs++;
				s = S_TYPE;
			}
			break;
		}
	}
	return msgs + sum;
}

static uint64_t w_fsm(int rounds)
{
	uint64_t x = 0;

	fill(42);
	for (int i = 0; i < BUF; i += 8)
		buf[i] = 0x30 | (buf[i] & 3);
	for (int r = 0; r < rounds; r++)
		x += fsm(buf, BUF);
	return x;
}

/* ---- matrix multiply ---- */
#define N 64
static double ma[N][N], mb[N][N], mc[N][N];

static uint64_t w_matmul(int rounds)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			ma[i][j] = i + j, mb[i][j] = i - j;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++) {
				double s = 0;

				for (int k = 0; k < N; k++)
					s += ma[i][k] * mb[k][j];
				mc[i][j] = s;
			}
	return (uint64_t)mc[N - 1][N - 1];
}

static const struct {
	const char *name;
	uint64_t (*fn)(int);
} W[] = {
	{ "crc32", w_crc }, { "aes128", w_aes }, { "json", w_json },	 { "lz77", w_lz },
	{ "sort", w_sort }, { "fsm", w_fsm },	 { "matmul", w_matmul },
};

int main(int argc, char **argv)
{
	struct timespec a, b;
	int rounds = argc > 2 ? atoi(argv[2]) : 1;

	fill(7);
	for (size_t i = 0; argc > 1 && i < sizeof(W) / sizeof(W[0]); i++) {
		if (strcmp(argv[1], W[i].name))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &a);
		uint64_t x = W[i].fn(rounds);

		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("{\"workload\":\"%s\",\"ns\":%lld,\"check\":%llu}\n", W[i].name,
		       (long long)(b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec),
		       (unsigned long long)x);
		return 0;
	}
	fprintf(stderr, "usage: workloads crc32|aes128|json|lz77|sort|fsm|matmul ROUNDS\n");
	return 2;
}
