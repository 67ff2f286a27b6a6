// SPDX-License-Identifier: MIT
/*
 * The sinkhole's resolver: every A query is answered with the sink address, anything else with
 * an empty NOERROR answer, so a sample resolving its C&C name connects into the sink. The query
 * is the sample's: the name is walked label by label within the packet and 255 bytes, and
 * compression pointers (which a question never needs) are refused.
 */
#include <stdbool.h>
#include <string.h>

#include "sink_int.h"

#define DNS_HDR 12
#define T_A 1
#define T_ANY 255

static int answer(const uint8_t *q, size_t qlen, uint32_t addr, uint8_t *out, size_t cap,
		  char *qname, size_t qname_cap)
{
	size_t off = DNS_HDR, nlen = 0, qend, n;
	uint16_t qtype, qclass;
	bool answer;

	if (qname_cap)
		qname[0] = '\0';
	if (qlen < DNS_HDR || qlen > 512)
		return -1;
	/* a query (QR = 0, opcode 0) with at least one question */
	if ((q[2] & 0x80) || (q[2] & 0x78) || (q[4] << 8 | q[5]) == 0)
		return -1;
	for (int labels = 0;; labels++) {
		uint8_t l;

		if (off >= qlen || labels > 127)
			return -1;
		l = q[off++];
		if (l == 0)
			break;
		if (l & 0xc0 || l > qlen - off || nlen + l + 1 > 255)
			return -1;
		for (unsigned i = 0; i < l; i++) {
			char c = (char)q[off + i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			else if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e || c == '"' ||
				 c == '\\')
				c = '_'; /* kept printable and JSON-safe for the log */
			if (nlen + 2 < qname_cap)
				qname[nlen] = c;
			nlen++;
		}
		if (nlen + 2 < qname_cap)
			qname[nlen] = '.';
		nlen++;
		off += l;
	}
	if (qname_cap) {
		n = nlen ? nlen - 1 : 0; /* drop the trailing dot */
		qname[n < qname_cap ? n : qname_cap - 1] = '\0';
	}
	if (off + 4 > qlen)
		return -1;
	qtype = (uint16_t)(q[off] << 8 | q[off + 1]);
	qclass = (uint16_t)(q[off + 2] << 8 | q[off + 3]);
	qend = off + 4;
	answer = (qtype == T_A || qtype == T_ANY) && (qclass == 1 || qclass == 255);
	if (qend + (answer ? 16 : 0) > cap)
		return -1;
	/* header and the first question only; further questions are not answered */
	memcpy(out, q, qend);
	out[2] = (uint8_t)(0x84 | (q[2] & 0x01)); /* QR, AA, keep RD */
	out[3] = 0x80;				  /* RA, NOERROR */
	out[4] = 0;
	out[5] = 1;
	out[6] = 0;
	out[7] = answer ? 1 : 0;
	memset(out + 8, 0, 4);
	if (!answer)
		return (int)qend;
	uint8_t *a = out + qend;
	a[0] = 0xc0; /* the name at offset 12 */
	a[1] = DNS_HDR;
	a[2] = 0;
	a[3] = T_A;
	a[4] = 0;
	a[5] = 1;
	a[6] = a[7] = a[8] = 0;
	a[9] = 60; /* TTL */
	a[10] = 0;
	a[11] = 4;
	memcpy(a + 12, &addr, 4);
	return (int)(qend + 16);
}

int sbx_sink_dns_answer(const uint8_t *q, size_t qlen, uint32_t addr, uint8_t *out, size_t cap,
			char *qname, size_t qname_cap)
{
	int n = answer(q, qlen, addr, out, cap, qname, qname_cap);

	/* a query given up on half-way leaves no half-written name */
	if (n < 0 && qname_cap)
		qname[0] = '\0';
	return n;
}
