/* SPDX-License-Identifier: MIT */
/*
 * Internals of the sinkhole (sinkhole.c sets up the namespace and the sink process,
 * sink_serve.c is that process's event loop, sink_dns.c answers DNS). Not a public API.
 */
#ifndef VIGIL_SINK_INT_H
#define VIGIL_SINK_INT_H

#include <stddef.h>
#include <stdint.h>

#define SINK_TCP_PORT 65001   /* where nftables redirects every TCP connection */
#define SINK_MAX_SESSIONS 512 /* open TCP sessions; the oldest is closed beyond this */
#define SINK_FIRST_BYTES 128  /* bytes kept of each session, logged as hex */
#define SINK_MAX_EVENTS 20000 /* net.jsonl lines per run; later events are counted only */
#define SINK_IDLE_MS 20000    /* a silent session is logged and closed after this */

/* Control messages on the SOCK_SEQPACKET pair between vigil and the sink process. */
#define SINK_CMD_BEGIN 'B' /* carries the log fd (SCM_RIGHTS) */
#define SINK_CMD_END 'E'
#define SINK_ACK_READY 'r'
#define SINK_ACK_BEGIN 'b'
#define SINK_ACK_END 'e'

struct sink_fds {
	int ctl;  /* control socket */
	int tcp;  /* listener on SINK_TCP_PORT */
	int dns;  /* UDP 0.0.0.0:53 with IP_PKTINFO */
	int icmp; /* raw ICMP, for logging echo requests the kernel answers */
	int udp;  /* raw UDP, for logging datagrams to other ports */
};

/* The sink process's loop; returns when the control socket closes. */
void sbx_sink_serve(const struct sink_fds *f, uint32_t sink_addr);

/*
 * Builds the answer to one DNS query in Q (QLEN bytes) into OUT (capacity CAP): every A query
 * is answered with ADDR (network order), other types get an empty NOERROR answer. Writes the
 * query name (dotted, lowercase, printable) into QNAME. Returns the answer's length, or -1
 * when Q is not a query to answer.
 */
int sbx_sink_dns_answer(const uint8_t *q, size_t qlen, uint32_t addr, uint8_t *out, size_t cap,
			char *qname, size_t qname_cap);

#endif
