/* SPDX-License-Identifier: MIT */
/*
 * The remote memory driver's internals (remote.c: opening, the driver ops; remote_io.c: the
 * I/O thread). The guest's memory is presented as a read-only mapping of a memfd the size of
 * the broker's file, registered with userfaultfd: a page is fetched from the broker when it is
 * first touched (or before, when a prefetch asked for it), written into the memfd and mapped
 * with UFFDIO_CONTINUE. So every reader above sees plain memory, as with a mapped file, and a
 * pointer into it stays valid until close.
 *
 * Freshness: a page is current for one generation. vg_mem_refresh (between snapshots),
 * vg_mem_check and the max-age timer start a new one by zapping the mapping (the memfd keeps
 * its pages, so refetching one costs no fresh memory); the pages the last generation read are
 * then fetched again in a few large requests, since the next snapshot will read them too.
 * So are, at open, the pages the last run read (kept in the cache directory).
 *
 * Three ways a page arrives: a reader faulted on it (urgent: mapped at once), a bulk map asked
 * for a range (mapped at once), or a prefetch guessed it (written to the memfd, "ready", and
 * mapped by the fault its first reader takes, with no round trip). The last keeps the working
 * set exact: only pages somebody read are remembered for the next look.
 *
 * One thread owns the channel: it reads faults from the userfaultfd, sends batched READs
 * (at most WINDOW bytes outstanding, faults before prefetches), installs replies, and runs the
 * caller's commands (check, live, refresh, prefetch, streamed reads) posted through cmd.
 */
#ifndef VIGIL_REMOTE_INT_H
#define VIGIL_REMOTE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil/broker.h"
#include "vigil/wire.h"

#define RM_PAGE 4096u
#define RM_WINDOW (4u << 20)	   /* reply bytes outstanding */
#define RM_GUESS_WINDOW (1u << 20) /* ... of them for prefetch guesses */
#define RM_MAX_RA 64		   /* pages a sequential fault run reads ahead */
#define RM_MAP_RUN 16		   /* prefetched pages one fault maps */
#define RM_FAULT_WAIT_MS 10000	   /* a fault waits this long for a lost broker */
#define RM_RETRY_MS 1000	   /* reconnection attempts while the broker is lost */
#define RM_WS_MAX (16u << 10)	   /* pages of working set remembered (64 MiB) */

enum rm_cmd_type { CMD_CHECK, CMD_LIVE, CMD_REFRESH, CMD_PREFETCH, CMD_PREAD, CMD_STOP };

struct rm_cmd {
	enum rm_cmd_type type;
	uint64_t off;
	size_t len;
	uint8_t *buf;	/* CMD_PREAD */
	bool bulk;	/* CMD_PREFETCH: a range about to be read whole (mapped on arrival) */
	size_t pending; /* CMD_PREAD: replies still to come */
	int result;
	bool done;
};

enum rm_req_kind { RQ_PAGES, RQ_STREAM, RQ_CHECK, RQ_LIVE };

struct rm_run {
	uint32_t page, n;
};

/* A request sent and not yet answered; replies come in the order requests went out. */
struct rm_req {
	enum rm_req_kind kind;
	uint32_t gen;	    /* RQ_PAGES: the generation it fetches for */
	bool map;	    /* RQ_PAGES: map the pages on arrival (else leave them ready) */
	struct rm_run *run; /* RQ_PAGES */
	uint32_t nrun;
	uint8_t *dst; /* RQ_STREAM: where the bytes go */
	size_t bytes; /* reply payload expected */
	struct rm_cmd *cmd;
	struct rm_req *next;
};

struct rm_pages {
	uint32_t *v;
	size_t n, cap;
};

struct remote {
	/* set at open, read-only afterwards */
	char host[256], port[16], name[VG_BROKER_MAX_NAME + 1];
	char ident[512];
	struct vg_wire_keypair kp;
	uint8_t spk[VG_WIRE_KEY_LEN];
	int timeout_ms, max_age_ms;
	bool remember; /* keep the working set between runs */
	char ws_path[1024];
	uint64_t size;
	uint32_t npages;
	uint64_t info_hash; /* of the first OPEN reply: the same guest answers the same */
	int memfd, uffd, evfd;
	uint8_t *view;

	pthread_t io;
	bool io_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rm_cmd *cmd; /* posted by the caller, taken by the I/O thread */
	_Atomic uint64_t gen_ms;
	_Atomic int torn; /* a fault was answered with zeros: reads fail until a check */
	_Atomic int lost; /* 0, or -ENOENT (guest gone) / -ESTALE (replaced) */

	/* the I/O thread's own */
	struct vg_wire *w;
	uint32_t gen;
	uint32_t *state;    /* per page: the generation it is mapped for (0 never) */
	uint32_t *inflight; /* per page: the generation a request for it was sent in */
	uint32_t *ready;    /* per page: the generation its bytes were written for, unmapped */
	uint8_t *waiting;   /* per page: a reader is blocked on it */
	struct rm_req *qh, *qt;
	size_t qbytes;
	struct rm_pages urgent, bulk, background; /* pages to request, in this order */
	struct rm_pages ws, pws;		  /* mapped this generation / the last one */
	uint32_t lo_page, hi_page;		  /* extent ever mapped, for zapping */
	uint32_t last_fault, ra;
	size_t nwaiting;
	uint64_t fault_since_ms;
	struct vg_bbuf sb;
	char why[256]; /* under mu: why the channel failed, "" while it works */
	uint64_t faults, fetched_pages;
};

/* I/O thread (remote_io.c). */
void *vg_rm_io_main(void *arg);
/* Connects and opens the guest: fills size and (first time) info; -errno with a message. */
int vg_rm_connect(struct remote *r, struct vg_broker_info *info, uint64_t *hash,
		  struct vg_err *err);
int vg_rm_pages_push(struct rm_pages *p, uint32_t page);

#endif
