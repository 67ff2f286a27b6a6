// SPDX-License-Identifier: MIT
/*
 * libFuzzer: a device's batch as the gateway receives it - header checks, the decoder and the
 * engine with its session layer (sequence, identity, definitions, folded repeats), against a
 * small model. Also the channel's control messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sys_fuzz_common.h"
#include "vigil/sysstream.h"

static struct vg_sys_model model;
static struct vg_sys_stream stream;
static void *model_buf;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_sys_stream_opts so = { .device = "fuzz", .program = "prog", .model = &model };
	enum vg_sys_batch_status st;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	struct vg_sb_hello h;
	uint64_t seq, next;
	uint32_t verdict;
	bool known;
	size_t len;

	if (!model_buf) {
		if (fuzz_small_model(&model_buf, &len) ||
		    vg_sys_model_from_buf(&model, model_buf, len, &err))
			abort();
	}
	vg_sb_hello_unpack(data, size, &h);
	vg_sb_reply_unpack(data, size, &known, &next);
	vg_sb_ack_unpack(data, size, &seq, &verdict);
	/* a fresh stream per input: each input is the start of a device's session */
	if (vg_sys_stream_init(&stream, &so, &err))
		return 0;
	vg_sys_stream_batch(&stream, data, size, &st, &res, &err);
	/* and the same bytes again: replay handling */
	vg_sys_stream_batch(&stream, data, size, &st, &res, &err);
	vg_sys_stream_free(&stream);
	return 0;
}
