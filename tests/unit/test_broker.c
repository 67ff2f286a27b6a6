// SPDX-License-Identifier: MIT
/*
 * The broker and its client over real TCP sockets on loopback: the configuration parser, the
 * request decoder's bounds, and a remote:// source read through a broker session — bytes equal
 * the file's, a refresh sees changes, a refused key, an unknown guest and a wrong broker key
 * are told apart, a lost broker is -EAGAIN and a reconnection recovers, a deleted file is
 * -ENOENT.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "vigil/broker.h"
#include "vigil/mem.h"

#define RAM_SIZE (8u << 20)

static char dir[] = "/tmp/vigil-test-broker-XXXXXX";
static char ram_path[128], cli_key[128], other_key[128], uri_opts[512];
static struct vg_wire_keypair srv_kp, cli_kp, other_kp;
static uint8_t *ram;
static struct vg_broker_config cfg;

struct server {
	int fd;
	int port;
	volatile int stop;
	pthread_t th;
	int sessions[64]; /* shut down with the server: a lost broker */
	int nsessions;
};

static struct server srv;

static void *session_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct vg_broker_opts o = { .cfg = &cfg, .kp = &srv_kp, .idle_timeout_ms = 20000 };
	struct vg_err err = { 0 };

	vg_broker_session(fd, &o, &err);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct server *s = arg;

	while (!s->stop) {
		int fd = accept(s->fd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (s->stop) {
			close(fd);
			break;
		}
		if (s->nsessions < 64)
			s->sessions[s->nsessions++] = fd;
		pthread_create(&t, NULL, session_main, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

static void server_start(int port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char p[16];
	struct vg_err err = { 0 };

	snprintf(p, sizeof(p), "%d", port);
	srv.fd = vg_wire_listen("127.0.0.1", p, &err);
	assert_true(srv.fd >= 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &al);
	srv.port = ntohs(a.sin_port);
	srv.stop = 0;
	pthread_create(&srv.th, NULL, accept_main, &srv);
}

static void server_stop(void)
{
	srv.stop = 1;
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.th, NULL);
	for (int i = 0; i < srv.nsessions; i++)
		shutdown(srv.sessions[i], SHUT_RDWR);
	srv.nsessions = 0;
}

static void uri(char *buf, size_t len, const char *name, const char *key, const char *pub)
{
	snprintf(buf, len, "remote://127.0.0.1:%d/%s?key=%s&pub=%s&remember=0", srv.port, name, key,
		 pub);
}

static void pub_b64(const struct vg_wire_keypair *kp, char out[VG_WIRE_KEY_B64_LEN])
{
	vg_wire_key_encode(kp->pk, out);
}

static int setup(void **state)
{
	char conf[2048], b64[VG_WIRE_KEY_B64_LEN], srv_b64[VG_WIRE_KEY_B64_LEN];
	struct vg_err err = { 0 };
	int fd;

	(void)state;
	assert_int_equal(sodium_init() < 0, 0);
	assert_non_null(mkdtemp(dir));
	snprintf(ram_path, sizeof(ram_path), "%s/ram", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/client.key", dir);
	snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
	ram = malloc(RAM_SIZE);
	randombytes_buf(ram, RAM_SIZE);
	memset(ram, 0, 64); /* raw RAM: no header a parser could take for another format */
	fd = open(ram_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ram, RAM_SIZE), RAM_SIZE);
	close(fd);
	vg_wire_keypair_new(&srv_kp);
	vg_wire_keypair_new(&cli_kp);
	vg_wire_keypair_new(&other_kp);
	assert_int_equal(vg_wire_key_write_secret(cli_key, &cli_kp, &err), 0);
	assert_int_equal(vg_wire_key_write_secret(other_key, &other_kp, &err), 0);
	pub_b64(&cli_kp, b64);
	snprintf(conf, sizeof(conf),
		 "[broker]\nlisten = 127.0.0.1:0\n\n[vm ram]\nmemory = %s\nformat = raw\n"
		 "allow = %s\n\n[vm other]\nmemory = %s\nallow = %s\n",
		 ram_path, b64, ram_path, (pub_b64(&other_kp, srv_b64), srv_b64));
	assert_int_equal(vg_broker_config_parse(&cfg, conf, strlen(conf), &err), 0);
	server_start(0);
	pub_b64(&srv_kp, srv_b64);
	snprintf(uri_opts, sizeof(uri_opts), "%s", srv_b64);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	server_stop();
	vg_broker_config_free(&cfg);
	free(ram);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* ---- configuration ---- */

static void expect_bad(const char *text, const char *msg_part)
{
	struct vg_broker_config c;
	struct vg_err err = { 0 };

	assert_int_not_equal(vg_broker_config_parse(&c, text, strlen(text), &err), 0);
	if (!strstr(err.msg, msg_part))
		fail_msg("'%s' lacks '%s'", err.msg, msg_part);
}

static void test_config(void **state)
{
	const char *k = "aeT3ZywdPD8V7B11nvt0S73sWIj8FowojkKBud09RAw=";
	char good[512];
	struct vg_broker_config c;
	struct vg_err err = { 0 };

	(void)state;
	snprintf(good, sizeof(good),
		 "# c\n[broker]\nlisten = [::1]:7070\nkey = /k\n[vm a-1.b]\nmemory = /m # x\n"
		 "allow = %s\n[vm b]\nmemory=/n\n",
		 k);
	assert_int_equal(vg_broker_config_parse(&c, good, strlen(good), &err), 0);
	assert_int_equal(c.nvms, 2);
	assert_string_equal(c.listen, "[::1]:7070");
	assert_string_equal(c.vms[0].memory, "/m");
	assert_int_equal(c.vms[0].nallow, 1);
	assert_true(vg_broker_config_knows(&c, c.vms[0].allow[0]));
	assert_false(vg_broker_vm_allows(&c.vms[1], c.vms[0].allow[0]));
	assert_null(vg_broker_config_vm(&c, "nope"));
	vg_broker_config_free(&c);

	expect_bad("[vm a]\nmemory = /m\nallow = notakey\n", "line 3");
	expect_bad("[vm a]\nmemory = /m\n[vm a]\nmemory = /m\n", "given twice");
	expect_bad("[vm a]\n", "no memory file");
	expect_bad("[vm ../x]\nmemory = /m\n", "guest name");
	expect_bad("[broker]\nlisten = nocolon\n", "HOST:PORT");
	expect_bad("[broker]\nport = 1\n", "unknown key");
	expect_bad("memory = /m\n", "outside a section");
	expect_bad("[vm a]\nmemory = /m\nformat = qcow2\n", "format");
	expect_bad("[other]\n", "unknown section");
	expect_bad("[vm a]\nmemory = /m\nallow = \n", "at least one key");
}

/* ---- requests ---- */

static void test_requests(void **state)
{
	static struct vg_broker_extent ext[VG_BROKER_MAX_EXTENTS];
	struct vg_broker_req req;
	struct vg_err err = { 0 };
	struct vg_bbuf b = { 0 };

	(void)state;
	vg_bbuf_u8(&b, VG_BR_READ);
	vg_bbuf_u32(&b, 2);
	vg_bbuf_u64(&b, 4096);
	vg_bbuf_u32(&b, 100);
	vg_bbuf_u64(&b, 1ull << 40);
	vg_bbuf_u32(&b, 8);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), 0);
	assert_int_equal(req.n, 2);
	assert_int_equal(req.total, 108);
	assert_int_equal(ext[1].off, 1ull << 40);
	/* trailing byte, short message, zero and oversized extents, too many */
	vg_bbuf_u8(&b, 0);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	assert_int_equal(vg_broker_req_decode(b.p, b.len - 5, &req, ext, &err), -EPROTO);
	b.len = 0;
	vg_bbuf_u8(&b, VG_BR_READ);
	vg_bbuf_u32(&b, 1);
	vg_bbuf_u64(&b, 0);
	vg_bbuf_u32(&b, 0);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	b.p[b.len - 1] = 0x10; /* 256 MiB */
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	b.len = 0;
	vg_bbuf_u8(&b, VG_BR_READ);
	vg_bbuf_u32(&b, VG_BROKER_MAX_EXTENTS + 1);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	b.len = 0;
	vg_bbuf_u8(&b, VG_BR_OPEN);
	vg_bbuf_u8(&b, 2);
	vg_bbuf_bytes(&b, "..", 2);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	b.len = 0;
	vg_bbuf_u8(&b, 99);
	assert_int_equal(vg_broker_req_decode(b.p, b.len, &req, ext, &err), -EPROTO);
	vg_bbuf_free(&b);
}

/* ---- a remote source ---- */

static int scan_cmp(void *ctx, uint64_t pa, const uint8_t *p, size_t n)
{
	size_t *seen = ctx;

	/* raw layout: physical == file offset */
	if (memcmp(p, ram + pa, n))
		return -EBADMSG;
	*seen += n;
	return 0;
}

static void test_remote_read(void **state)
{
	char u[1024];
	struct vg_mem *m;
	struct vg_err err = { 0 };
	uint8_t buf[10000];
	const uint8_t *p;
	size_t seen = 0;

	(void)state;
	uri(u, sizeof(u), "ram", cli_key, uri_opts);
	assert_int_equal(vg_mem_open(&m, u, &err), 0);
	assert_string_equal(vg_mem_kind_name(m), "raw");
	assert_int_equal(vg_mem_size(m), RAM_SIZE);
	assert_int_equal(vg_mem_total(m), RAM_SIZE - (0x100000 - 0xa0000));
	assert_int_equal(vg_mem_read(m, 0x100000 - 1 + 1, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, ram + 0x100000, sizeof(buf));
	assert_int_equal(vg_mem_read(m, 0x12345, buf, 77), 0);
	assert_memory_equal(buf, ram + 0x12345, 77);
	assert_int_equal(vg_mem_read(m, 0xa0000, buf, 1), -EFAULT);
	p = vg_mem_ptr_bulk(m, 0x200000, 1 << 20);
	assert_non_null(p);
	assert_memory_equal(p, ram + 0x200000, 1 << 20);
	assert_int_equal(vg_mem_scan(m, 1 << 20, 16, scan_cmp, &seen), 0);
	assert_true(seen >= vg_mem_total(m));
	assert_int_equal(vg_mem_check(m), 0);
	assert_int_equal(vg_mem_live(m), 0); /* nobody maps the file */
	assert_int_equal(vg_mem_ident(m, (char *)buf, sizeof(buf)), 0);
	assert_non_null(strstr((char *)buf, "remote://127.0.0.1:"));

	/* the guest changes: a refresh sees it */
	{
		int fd = open(ram_path, O_WRONLY);
		uint8_t x[64];

		memset(x, 0x5a, sizeof(x));
		assert_int_equal(pwrite(fd, x, sizeof(x), 0x300000), sizeof(x));
		close(fd);
		memcpy(ram + 0x300000, x, sizeof(x));
		vg_mem_refresh(m);
		assert_int_equal(vg_mem_read(m, 0x300000, buf, 64), 0);
		assert_memory_equal(buf, x, 64);
	}
	vg_mem_close(m);
}

static void test_remote_refusals(void **state)
{
	char u[1024], bad_pub[VG_WIRE_KEY_B64_LEN];
	struct vg_mem *m = NULL;
	struct vg_err err = { 0 };

	(void)state;
	/* a key no guest allows: refused at the handshake */
	{
		struct vg_wire_keypair kp;
		char path[160];

		vg_wire_keypair_new(&kp);
		snprintf(path, sizeof(path), "%s/stranger.key", dir);
		assert_int_equal(vg_wire_key_write_secret(path, &kp, &err), 0);
		uri(u, sizeof(u), "ram", path, uri_opts);
		assert_int_equal(vg_mem_open(&m, u, &err), -EACCES);
		assert_non_null(strstr(err.msg, "refused this client's key"));
		assert_null(m);
	}
	/* a known key asking for a guest it may not read, and for one that does not exist */
	vg_err_clear(&err);
	uri(u, sizeof(u), "ram", other_key, uri_opts);
	assert_int_equal(vg_mem_open(&m, u, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no guest 'ram'"));
	vg_err_clear(&err);
	uri(u, sizeof(u), "nosuch", cli_key, uri_opts);
	assert_int_equal(vg_mem_open(&m, u, &err), -ENOENT);
	/* a broker that is not the pinned one */
	vg_err_clear(&err);
	pub_b64(&other_kp, bad_pub);
	uri(u, sizeof(u), "ram", cli_key, bad_pub);
	assert_int_equal(vg_mem_open(&m, u, &err), -EPERM);
	/* malformed URIs */
	vg_err_clear(&err);
	assert_int_equal(vg_mem_open(&m, "remote://127.0.0.1/x", &err), -EINVAL);
	assert_int_equal(vg_mem_open(&m, "remote://h:1/x?bogus=1", &err), -EINVAL);
}

static void test_remote_drop(void **state)
{
	char u[1024];
	struct vg_mem *m;
	struct vg_err err = { 0 };
	uint8_t buf[64];
	int port = srv.port;

	(void)state;
	uri(u, sizeof(u), "ram", cli_key, uri_opts);
	assert_int_equal(vg_mem_open(&m, u, &err), 0);
	assert_int_equal(vg_mem_read(m, 0x400000, buf, 64), 0);
	/* the broker goes away: its listener and (by shutting down) the sessions */
	server_stop();
	sleep(1);
	assert_int_equal(vg_mem_check(m), -EAGAIN);
	/* and comes back on the same port: the same guest is found again */
	server_start(port);
	assert_int_equal(vg_mem_check(m), 0);
	assert_int_equal(vg_mem_read(m, 0x400000, buf, 64), 0);
	assert_memory_equal(buf, ram + 0x400000, 64);
	/* the file is deleted: the broker says the guest is gone */
	{
		char moved[160];

		snprintf(moved, sizeof(moved), "%s.moved", ram_path);
		assert_int_equal(rename(ram_path, moved), 0);
		assert_int_equal(vg_mem_check(m), -ENOENT);
		assert_int_equal(rename(moved, ram_path), 0);
	}
	vg_mem_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),	    cmocka_unit_test(test_requests),
		cmocka_unit_test(test_remote_read), cmocka_unit_test(test_remote_refusals),
		cmocka_unit_test(test_remote_drop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
