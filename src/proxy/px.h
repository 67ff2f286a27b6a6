/* SPDX-License-Identifier: MIT */
/*
 * Internals of the syscall proxy shared by its files: the supervisor <-> executor messages,
 * the supervisor's state (handles, parked calls, emulated epoll sets) and the helpers that
 * touch the service (memory, fds, responses). Public contract: include/vigil/proxy.h.
 */
#ifndef VIGIL_PX_H
#define VIGIL_PX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "vigil/proxy.h"

/* ---- supervisor <-> executor channel (chan.c, executor.c) ----
 * The executor is a socket factory in its network namespace: it answers SOCKET with a new
 * socket's descriptor (SCM_RIGHTS) and keeps nothing. Every later call on a socket is made by
 * the supervisor itself on that descriptor: the socket belongs to the executor's namespace
 * wherever its descriptor is held, and no call costs a round trip to another process. */
enum px_op {
	PX_SOCKET = 1, /* a0 domain, a1 type, a2 protocol -> ret 0 and the socket, or -errno */
};

/* The synchronous wake-up of kernel 6.6 (supervisor and service switch on one CPU): defined
 * here because Debian 12's kernel headers predate it. */
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define PX_IOCTL_SET_FLAGS SECCOMP_IOCTL_NOTIF_SET_FLAGS
#else
#define PX_IOCTL_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#define PX_SYNC_WAKE_UP 1ull

#define PX_F_REPLY 4u /* set on replies */

struct px_hdr {
	uint32_t op;
	uint32_t flags;
	uint32_t seq;
	uint32_t h;
	int64_t ret;
	int64_t a[4];
};

#define PX_ADDR_MAX 128u
#define PX_OPT_MAX 1024u

struct px_chan {
	int fd;
	uint32_t seq;
};

/* One request and its reply (REQ in, reply out); *FD receives a passed descriptor when FD is
 * not NULL. -EPIPE when the executor is gone. */
int vg_px_chan_call(struct px_chan *c, struct px_hdr *req, int *fd);
/* Low level, shared with the executor: whole header (+ one fd) in, whole header out. */
int vg_px_hdr_write(int fd, const struct px_hdr *m, int passfd);
int vg_px_hdr_read(int fd, struct px_hdr *m, int *passfd);

int vg_px_executor_loop(int chan, struct vg_err *err);

/* ---- the supervisor's view of a service's call ---- */
struct px_call {
	uint64_t id;
	pid_t pid; /* thread id, in the supervisor's pid namespace */
	int nr;
	uint64_t a[6];
	uint64_t deadline_ms; /* 0: not computed yet; UINT64_MAX: none */
	bool expired;	      /* the deadline passed: answer as a timeout */
	int stage;	      /* how far a call that waits got (connect: 1 = in progress) */
	int rfd;	      /* the descriptor resolved to handle RINO (0: none yet) */
	uint64_t rino;
};

/* Handler results other than a syscall's return value (>= 0 or -errno). */
#define PX_CONTINUE (INT64_MIN + 1) /* let the kernel run the call */
#define PX_WAIT (INT64_MIN + 2)	    /* park until the awaited readiness or the deadline */
#define PX_SENT (INT64_MIN + 3)	    /* the handler answered (or the caller is gone) */

struct px_handle {
	struct px_handle *next;
	uint64_t ino; /* the placeholder pipe's inode */
	int wfd;      /* our write end: EPOLLERR when the service closed its last copy */
	int sfd;      /* the real socket (non-blocking), made in the executor's namespace */
	int domain, type;
	uint8_t *pb; /* received data the service never got (its call was interrupted) */
	uint32_t pblen;
	struct sockaddr_storage pbaddr;
	socklen_t pbalen;
	int acq[16]; /* accepted connections (sockets) the service never got */
	unsigned nacq;
	int64_t rcvtimeo_ms, sndtimeo_ms; /* SO_RCVTIMEO/SO_SNDTIMEO, 0 = none */
	bool nonblock;			  /* the placeholder's O_NONBLOCK (its open file's) */
	uint32_t waitmask;		  /* events the socket is armed for in our epoll */
	bool in_ep;			  /* the socket is registered in our epoll */
};

/* A parked call waits on one handle (its inode), on any handle (PX_WAIT_ANY: a poll or epoll
 * set), or only on its own fds and deadline (0). */
#define PX_WAIT_ANY UINT64_MAX

struct px_park {
	struct px_park *next;
	struct px_call c;
	int *lfds; /* the service's own fds this wait watches (poll emulation) */
	unsigned nlfd;
	uint64_t wait_ino;
	bool fire;
};

struct px_epoll_member {
	struct px_handle *h;
	int fd;
	uint32_t events;
	uint64_t data;
	uint32_t armed; /* edge-triggered: the events that may fire again */
};

struct px_epoll {
	struct px_epoll *next;
	int dup; /* our reference to the service's epoll file (kcmp identity, real members) */
	struct px_epoll_member *m;
	unsigned n, cap;
};

struct px_pidfd {
	pid_t tid;
	int fd;
};

struct px_sup {
	enum vg_proxy_mode mode;
	int nfd; /* seccomp listener */
	int ep;	 /* the supervisor's epoll */
	struct px_chan ch;
	pid_t xpid;
	unsigned restarts, max_restarts;
	const char *exec_netns;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	uint8_t *buf; /* VG_PROXY_IO_MAX bytes: one transfer between the service and a socket */
	struct px_handle *tab[256];
	unsigned nhandles;
	dev_t pipe_dev; /* the device of our pipes (pipefs): an inode number alone is not unique */
	struct px_park *parked;
	struct px_park *arming; /* the park whose call is running (its watches are recorded) */
	struct px_epoll *epolls;
	struct px_pidfd pidfds[32];
	unsigned pidfd_next;
	struct vg_proxy_stats *st;
	struct vg_err *err;
};

/* Tags of the supervisor's epoll events: the kind in the top two bits, then a park pointer or
 * a handle's inode (never a handle pointer: an event of a batch may name a handle an earlier
 * event of the same batch freed). */
#define PX_TAG_KIND(t) ((t) >> 62)
#define PX_TAG_VAL(t) ((t) & ((1ull << 62) - 1))
#define PX_TAG(kind, v) ((uint64_t)(kind) << 62 | (v))
/* The supervisor's own events: a notification, the executor's channel. */
#define PX_EV_NOTIFY PX_TAG(PX_TAG_CTL, 1)
#define PX_EV_CHAN PX_TAG(PX_TAG_CTL, 2)
enum { PX_TAG_CTL, PX_TAG_PARK, PX_TAG_SOCK, PX_TAG_PIPE };

/* target.c: reaching into the service */
int vg_px_target_pidfd(struct px_sup *s, const struct px_call *c);
int vg_px_target_getfd(struct px_sup *s, const struct px_call *c, int fd);
int vg_px_target_read(struct px_sup *s, const struct px_call *c, uint64_t addr, void *buf,
		      size_t len);
int vg_px_target_readv(struct px_sup *s, const struct px_call *c, const struct iovec *riov,
		       unsigned n, void *buf, size_t len);
int64_t vg_px_target_writev(struct px_sup *s, const struct px_call *c, const struct iovec *riov,
			    unsigned n, const void *buf, size_t len);
int vg_px_target_write(struct px_sup *s, const struct px_call *c, uint64_t addr, const void *buf,
		       size_t len);
bool vg_px_target_valid(struct px_sup *s, const struct px_call *c);
int vg_px_respond(struct px_sup *s, const struct px_call *c, int64_t val);
int vg_px_continue(struct px_sup *s, const struct px_call *c);
/* Installs FD into the service (at NEWFD when >= 0) and answers the call with its number. */
int vg_px_addfd_send(struct px_sup *s, const struct px_call *c, int fd, int newfd, bool cloexec);
/* The lowest number >= MIN free in the service's fd table; -EMFILE past the placeholder range. */
int vg_px_target_freefd(struct px_sup *s, const struct px_call *c, int min);
void vg_px_target_forget(struct px_sup *s);

/* handles.c */
struct px_handle *vg_px_handle_find(struct px_sup *s, uint64_t ino);
/* The handle behind the service's FD, or NULL when FD is not a placeholder. A call that
 * resolved FD before (it was parked) keeps that handle, as a blocked kernel call keeps its
 * file: -EBADF if the handle is gone. The answer is trusted only once the call is re-validated
 * (px_target_valid, or a px_target_read/write), before anything acts on it. */
int vg_px_resolve(struct px_sup *s, struct px_call *c, int fd, struct px_handle **h);
/* A new handle owning socket SFD (the caller keeps it on failure); *RFD gets the placeholder
 * to install (caller closes). */
int vg_px_handle_new(struct px_sup *s, int sfd, int domain, int type, struct px_handle **h,
		     int *rfd);
void vg_px_handle_free(struct px_sup *s, struct px_handle *h);
int vg_px_handle_push(struct px_handle *h, const void *data, size_t len,
		      const struct sockaddr_storage *a, socklen_t alen);
/* Arms our epoll for EVENTS on H's socket (union with what is armed) and records that the
 * running call waits on H. */
int vg_px_handle_watch(struct px_sup *s, struct px_handle *h, uint32_t events);
/* POLLIN (when in EVENTS) for what we hold for H: pushed-back data, accepted connections. */
short vg_px_handle_pending(const struct px_handle *h, short events);
/* Zero-timeout readiness of N handles (what px_handle_pending adds included). */
int vg_px_handles_poll(struct px_handle **h, const short *events, short *revents, unsigned n);

/* sockops.c, msgops.c, pollemu.c, epollemu.c: the data-mode emulation of one call */
int64_t vg_px_op_socket(struct px_sup *s, struct px_call *c);
int64_t vg_px_op_sockcall(struct px_sup *s, struct px_call *c);
int64_t vg_px_op_dup(struct px_sup *s, struct px_call *c);
int64_t vg_px_op_io(struct px_sup *s, struct px_call *c);
int64_t vg_px_op_mmsg(struct px_sup *s, struct px_call *c);
int64_t vg_px_op_poll(struct px_sup *s, struct px_call *c, struct px_park *p);
int64_t vg_px_op_epoll(struct px_sup *s, struct px_call *c, struct px_park *p);
void vg_px_epoll_drop_handle(struct px_sup *s, const struct px_handle *h);
void vg_px_epoll_free_all(struct px_sup *s);
/* The deadline of a blocking call from a relative timeout in ms (< 0: none). */
uint64_t vg_px_deadline(struct px_call *c, int64_t timeout_ms);

/* supervisor.c: registering a parked wait's own fds in the supervisor's epoll */
int vg_px_park_watch_fd(struct px_sup *s, struct px_park *p, int fd, uint32_t events);
/* Replaces a dead executor (within the restart budget); 0 when one runs again. */
int vg_px_exec_restart(struct px_sup *s);

/* filter.c */
int vg_px_filter_load(enum vg_proxy_mode mode, int *listener, struct vg_err *err);

/* spawn.c */
int vg_px_spawn_service(const struct vg_proxy_opts *o, int *listener, pid_t *pid,
			struct vg_err *err);
int vg_px_spawn_executor(struct px_sup *s, struct vg_err *err);

#endif
