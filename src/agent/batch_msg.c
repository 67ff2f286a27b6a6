// SPDX-License-Identifier: MIT
/* The channel's small control messages (hello, reply, ack): fixed little-endian layouts. */
#include <errno.h>
#include <string.h>

#include "vigil/sysbatch.h"

static void le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void vg_sb_hello_pack(uint8_t out[VG_SB_HELLO_LEN], const struct vg_sb_hello *h)
{
	memset(out, 0, VG_SB_HELLO_LEN);
	le_put(out, VG_SB_MAGIC_HELLO, 4);
	le_put(out + 4, VG_SB_VERSION, 2);
	le_put(out + 8, h->boot, 8);
	le_put(out + 16, h->next_seq, 8);
	memcpy(out + 24, h->device, strnlen(h->device, VG_SB_DEVICE_MAX - 1));
}

int vg_sb_hello_unpack(const uint8_t *buf, size_t len, struct vg_sb_hello *h)
{
	if (len != VG_SB_HELLO_LEN || le_get(buf, 4) != VG_SB_MAGIC_HELLO ||
	    le_get(buf + 4, 2) != VG_SB_VERSION || !memchr(buf + 24, 0, VG_SB_DEVICE_MAX))
		return -EBADMSG;
	h->boot = le_get(buf + 8, 8);
	h->next_seq = le_get(buf + 16, 8);
	memcpy(h->device, buf + 24, VG_SB_DEVICE_MAX);
	h->device[VG_SB_DEVICE_MAX] = 0;
	return 0;
}

void vg_sb_reply_pack(uint8_t out[VG_SB_REPLY_LEN], bool known, uint64_t next_seq)
{
	le_put(out, VG_SB_MAGIC_REPLY, 4);
	le_put(out + 4, known, 4);
	le_put(out + 8, next_seq, 8);
}

int vg_sb_reply_unpack(const uint8_t *buf, size_t len, bool *known, uint64_t *next_seq)
{
	if (len != VG_SB_REPLY_LEN || le_get(buf, 4) != VG_SB_MAGIC_REPLY)
		return -EBADMSG;
	*known = le_get(buf + 4, 4) != 0;
	*next_seq = le_get(buf + 8, 8);
	return 0;
}

void vg_sb_ack_pack(uint8_t out[VG_SB_ACK_LEN], uint64_t seq, uint32_t verdict)
{
	le_put(out, VG_SB_MAGIC_ACK, 4);
	le_put(out + 4, verdict, 4);
	le_put(out + 8, seq, 8);
}

int vg_sb_ack_unpack(const uint8_t *buf, size_t len, uint64_t *seq, uint32_t *verdict)
{
	if (len != VG_SB_ACK_LEN || le_get(buf, 4) != VG_SB_MAGIC_ACK)
		return -EBADMSG;
	*verdict = (uint32_t)le_get(buf + 4, 4);
	*seq = le_get(buf + 8, 8);
	return 0;
}
