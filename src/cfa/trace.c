// SPDX-License-Identifier: MIT
/* Trace file reader and writer (format in include/vigil/cfa_trace.h). Input is untrusted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/cfa_trace.h"

#define TRACE_MAGIC "VGCFATR1"
#define TRACE_VERSION 1u
#define BATCH_MAGIC 0x48435442u

struct fhdr {
	char magic[8];
	uint32_t version, kind;
	uint64_t base;
	uint32_t build_id_len;
	uint8_t build_id[32];
	uint32_t pad;
};

struct bhdr {
	uint32_t magic, stream, count, flags;
	uint64_t seq, lost;
};

_Static_assert(sizeof(struct fhdr) == 64, "trace header is 64 bytes");
_Static_assert(sizeof(struct bhdr) == 32, "batch header is 32 bytes");

int vg_cfa_trace_write_hdr(FILE *f, const struct vg_cfa_trace_hdr *h)
{
	struct fhdr x = { .version = TRACE_VERSION,
			  .kind = h->kind,
			  .base = h->base,
			  .build_id_len = h->build_id_len };

	memcpy(x.magic, TRACE_MAGIC, 8);
	memcpy(x.build_id, h->build_id, 32);
	return fwrite(&x, sizeof(x), 1, f) == 1 ? 0 : -EIO;
}

int vg_cfa_trace_write_batch(FILE *f, uint32_t stream, uint64_t seq, uint64_t lost,
			     const uint32_t *ev, uint32_t n)
{
	struct bhdr b = { BATCH_MAGIC, stream, n, 0, seq, lost };

	if (fwrite(&b, sizeof(b), 1, f) != 1 || (n && fwrite(ev, 4, n, f) != n))
		return -EIO;
	return 0;
}

int vg_cfa_trace_open(struct vg_cfa_trace_reader *r, const char *path, struct vg_err *err)
{
	struct fhdr x;

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rbe");
	if (!r->f)
		return vg_errf(err, errno, "trace %s: %m", path);
	if (fread(&x, sizeof(x), 1, r->f) != 1 || memcmp(x.magic, TRACE_MAGIC, 8)) {
		vg_cfa_trace_close(r);
		return vg_errf(err, EINVAL, "trace %s: not a vigil CFA trace", path);
	}
	if (x.version != TRACE_VERSION || x.build_id_len > 32) {
		vg_cfa_trace_close(r);
		return vg_errf(err, EINVAL, "trace %s: unsupported version %u", path, x.version);
	}
	r->hdr.kind = x.kind;
	r->hdr.base = x.base;
	r->hdr.build_id_len = x.build_id_len;
	memcpy(r->hdr.build_id, x.build_id, 32);
	r->off = sizeof(x);
	r->buf = malloc((size_t)VG_CFA_TRACE_MAX_BATCH * 4);
	if (!r->buf) {
		vg_cfa_trace_close(r);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	return 0;
}

int vg_cfa_trace_next(struct vg_cfa_trace_reader *r, struct vg_cfa_batch *b, struct vg_err *err)
{
	struct bhdr h;
	size_t got = fread(&h, 1, sizeof(h), r->f);

	if (!got)
		return 0;
	if (got != sizeof(h))
		return vg_errf(err, EBADMSG, "trace truncated inside the header of batch %llu",
			       (unsigned long long)r->batches);
	if (h.magic != BATCH_MAGIC)
		return vg_errf(err, EBADMSG, "batch %llu at offset %llu: bad magic",
			       (unsigned long long)r->batches, (unsigned long long)r->off);
	if (h.stream >= VG_RT_MAX_RINGS || h.count > VG_CFA_TRACE_MAX_BATCH)
		return vg_errf(err, EBADMSG, "batch %llu: stream %u or count %u out of range",
			       (unsigned long long)r->batches, h.stream, h.count);
	if (h.seq != r->next_seq[h.stream])
		return vg_errf(err, EBADMSG,
			       "batch %llu of stream %u starts at event %llu, expected %llu "
			       "(reordered, replayed or missing batch)",
			       (unsigned long long)r->batches, h.stream, (unsigned long long)h.seq,
			       (unsigned long long)r->next_seq[h.stream]);
	if (h.count && fread(r->buf, 4, h.count, r->f) != h.count)
		return vg_errf(err, EBADMSG, "trace truncated inside batch %llu",
			       (unsigned long long)r->batches);
	r->next_seq[h.stream] += h.count;
	r->off += sizeof(h) + 4ull * h.count;
	r->batches++;
	b->stream = h.stream;
	b->seq = h.seq;
	b->lost = h.lost;
	b->n = h.count;
	b->ev = r->buf;
	return 1;
}

void vg_cfa_trace_close(struct vg_cfa_trace_reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
