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
 * Headers travel on a stream socket; payloads (data, addresses, option values, poll sets)
 * travel in a shared memory window both processes map, so a proxied byte is copied once into
 * the window and once out of it. The supervisor has at most one request outstanding. */
enum px_op {
	PX_SOCKET = 1, /* a0 domain, a1 type, a2 protocol -> ret handle (or passed fd) */
	PX_CONNECT,    /* aux: address, a0 length */
	PX_BIND,       /* aux: address, a0 length */
	PX_LISTEN,     /* a0 backlog */
	PX_ACCEPT,     /* -> ret handle, aux: peer address, a0 its length */
	PX_SEND,       /* data: bytes, a0 length, a1 flags; aux: address, a2 its length */
	PX_RECV,       /* a0 length, a1 flags -> data, aux: source, a0 its length, a1 msg flags */
	PX_SHUTDOWN,   /* a0 how */
	PX_SOCKNAME,   /* a0 0 own / 1 peer -> aux: address, a0 length */
	PX_GETSOCKOPT, /* a0 level, a1 name, a2 length -> aux: value, a0 length */
	PX_SETSOCKOPT, /* a0 level, a1 name, a2 length, aux: value */
	PX_CLOSE,      /* no reply */
	PX_POLL,       /* aux: a0 entries of struct px_pollent; revents filled, zero timeout */
	PX_WATCH,      /* a0 events: one EVENT when any of them is ready; no reply */
	PX_NREAD,      /* -> ret bytes queued for reading (FIONREAD) */
	PX_EVENT,      /* executor -> supervisor: a0 revents (a watch fired) */
};

/* The synchronous wake-up of kernel 6.6 (supervisor and service switch on one CPU): defined
 * here because Debian 12's kernel headers predate it. */
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define PX_IOCTL_SET_FLAGS SECCOMP_IOCTL_NOTIF_SET_FLAGS
#else
#define PX_IOCTL_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#define PX_SYNC_WAKE_UP 1ull

/* flags */
#define PX_F_PASSFD 2u /* fd mode: send the new socket's fd, keep nothing */
#define PX_F_REPLY 4u  /* set on replies */

struct px_hdr {
	uint32_t op;
	uint32_t flags;
	uint32_t seq;
	uint32_t h;
	int64_t ret;
	int64_t a[4];
};

struct px_pollent {
	uint32_t h;
	int16_t events;
	int16_t revents;
};

#define PX_AUX_MAX 65536u
#define PX_SHM_DATA 0u
#define PX_SHM_AUX VG_PROXY_IO_MAX
#define PX_SHM_SIZE (VG_PROXY_IO_MAX + PX_AUX_MAX)
#define PX_POLL_MAX (PX_AUX_MAX / sizeof(struct px_pollent))
#define PX_ADDR_MAX 128u
#define PX_OPT_MAX 1024u
#define PX_EVQ 1024u

struct px_chan {
	int fd;
	uint8_t *shm; /* PX_SHM_SIZE bytes, shared with the executor */
	uint32_t seq;
	struct px_hdr evq[PX_EVQ];
	unsigned nev;
	bool evq_lost; /* events overflowed: every parked call is retried */
};

/* One request and its reply (REQ in, reply out); *FD receives a passed descriptor when FD is
 * not NULL. -EPIPE when the executor is gone. */
int px_chan_call(struct px_chan *c, struct px_hdr *req, int *fd);
/* A request with no reply (CLOSE, WATCH). */
int px_chan_post(struct px_chan *c, struct px_hdr *req);
/* Reads the events waiting on the channel without blocking; -EPIPE when it closed. */
int px_chan_drain(struct px_chan *c);
/* Low level, shared with the executor: whole header (+ one fd) in, whole header out. */
int px_hdr_write(int fd, const struct px_hdr *m, int passfd);
int px_hdr_read(int fd, struct px_hdr *m, int *passfd);

int px_executor_loop(int chan, uint8_t *shm, struct vg_err *err);

/* ---- the supervisor's view of a service's call ---- */
struct px_call {
	uint64_t id;
	pid_t pid; /* thread id, in the supervisor's pid namespace */
	int nr;
	uint64_t a[6];
	uint64_t deadline_ms; /* 0: not computed yet; UINT64_MAX: none */
	bool expired;	      /* the deadline passed: answer as a timeout */
	int stage;	      /* how far a call that waits got (connect: 1 = in progress) */
};

/* Handler results other than a syscall's return value (>= 0 or -errno). */
#define PX_CONTINUE (INT64_MIN + 1) /* let the kernel run the call */
#define PX_WAIT (INT64_MIN + 2)	    /* park until the awaited readiness or the deadline */
#define PX_SENT (INT64_MIN + 3)	    /* the handler answered (or the caller is gone) */

struct px_handle {
	struct px_handle *next;
	uint64_t ino; /* the placeholder pipe's inode */
	int wfd;      /* our write end: EPOLLERR when the service closed its last copy */
	uint32_t xh;  /* the executor's handle */
	uint32_t gen; /* the executor generation xh belongs to */
	int domain, type;
	uint8_t *pb; /* received data the service never got (its call was interrupted) */
	uint32_t pblen;
	struct sockaddr_storage pbaddr;
	socklen_t pbalen;
	uint32_t acq[16]; /* accepted connections the service never got */
	unsigned nacq;
	int64_t rcvtimeo_ms, sndtimeo_ms; /* SO_RCVTIMEO/SO_SNDTIMEO, 0 = none */
	uint32_t waitmask;		  /* events a watch is armed for in the executor */
};

struct px_park {
	struct px_park *next;
	struct px_call c;
	int *lfds; /* the service's own fds this wait watches (poll emulation) */
	unsigned nlfd;
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
	uint32_t gen;
	unsigned restarts, max_restarts;
	const char *exec_netns;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct px_handle *tab[256];
	unsigned nhandles;
	struct px_park *parked;
	struct px_epoll *epolls;
	struct px_pidfd pidfds[32];
	unsigned pidfd_next;
	int wait_tag; /* the epoll tag of the park being armed (pollemu) */
	struct vg_proxy_stats *st;
	struct vg_err *err;
};

/* target.c: reaching into the service */
int px_target_pidfd(struct px_sup *s, const struct px_call *c);
int px_target_getfd(struct px_sup *s, const struct px_call *c, int fd);
int px_target_read(struct px_sup *s, const struct px_call *c, uint64_t addr, void *buf, size_t len);
int px_target_readv(struct px_sup *s, const struct px_call *c, const struct iovec *riov, unsigned n,
		    void *buf, size_t len);
int64_t px_target_writev(struct px_sup *s, const struct px_call *c, const struct iovec *riov,
			 unsigned n, const void *buf, size_t len);
int px_target_write(struct px_sup *s, const struct px_call *c, uint64_t addr, const void *buf,
		    size_t len);
bool px_target_valid(struct px_sup *s, const struct px_call *c);
int px_respond(struct px_sup *s, const struct px_call *c, int64_t val);
int px_continue(struct px_sup *s, const struct px_call *c);
/* Installs FD into the service (at NEWFD when >= 0) and answers the call with its number. */
int px_addfd_send(struct px_sup *s, const struct px_call *c, int fd, int newfd, bool cloexec);
/* The lowest number >= MIN free in the service's fd table; -EMFILE past the placeholder range. */
int px_target_freefd(struct px_sup *s, const struct px_call *c, int min);
void px_target_forget(struct px_sup *s);

/* handles.c */
struct px_handle *px_handle_find(struct px_sup *s, uint64_t ino);
/* The handle behind the service's FD, or NULL when FD is not a placeholder. *NONBLOCK gets
 * the placeholder's O_NONBLOCK (shared by its copies, as a socket's is). */
int px_resolve(struct px_sup *s, const struct px_call *c, int fd, struct px_handle **h,
	       bool *nonblock);
/* A new handle for executor handle XH; *RFD gets the placeholder to install (caller closes). */
int px_handle_new(struct px_sup *s, uint32_t xh, int domain, int type, struct px_handle **h,
		  int *rfd);
void px_handle_free(struct px_sup *s, struct px_handle *h);
bool px_handle_dead(const struct px_sup *s, const struct px_handle *h);
int px_handle_push(struct px_handle *h, const void *data, size_t len,
		   const struct sockaddr_storage *a, socklen_t alen);
/* Arms the executor's watch for EVENTS on H (union with what is armed). */
int px_handle_watch(struct px_sup *s, struct px_handle *h, uint32_t events);
/* Zero-timeout readiness of N handles (pushed-back data and dead handles included). */
int px_handles_poll(struct px_sup *s, struct px_handle **h, const short *events, short *revents,
		    unsigned n);

/* sockops.c, msgops.c, pollemu.c, epollemu.c: the data-mode emulation of one call */
int64_t px_op_socket(struct px_sup *s, struct px_call *c);
int64_t px_op_sockcall(struct px_sup *s, struct px_call *c);
int64_t px_op_dup(struct px_sup *s, struct px_call *c);
int64_t px_op_io(struct px_sup *s, struct px_call *c);
int64_t px_op_mmsg(struct px_sup *s, struct px_call *c);
int64_t px_op_poll(struct px_sup *s, struct px_call *c, struct px_park *p);
int64_t px_op_epoll(struct px_sup *s, struct px_call *c, struct px_park *p);
void px_epoll_drop_handle(struct px_sup *s, const struct px_handle *h);
void px_epoll_free_all(struct px_sup *s);
/* The deadline of a blocking call from a relative timeout in ms (< 0: none). */
uint64_t px_deadline(struct px_call *c, int64_t timeout_ms);

/* supervisor.c: registering a parked wait's own fds in the supervisor's epoll */
int px_park_watch_fd(struct px_sup *s, struct px_park *p, int fd, uint32_t events);

/* filter.c */
int px_filter_load(enum vg_proxy_mode mode, int *listener, struct vg_err *err);

/* spawn.c */
int px_spawn_service(const struct vg_proxy_opts *o, int *listener, pid_t *pid, struct vg_err *err);
int px_spawn_executor(struct px_sup *s, struct vg_err *err);

#endif
