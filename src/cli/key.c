// SPDX-License-Identifier: MIT
/*
 * vigil key: static key pairs for the secure channel (broker, remote clients), wireguard's
 * genkey/pubkey in one group. A secret key is only ever written to a new file created 0600
 * with O_EXCL, never to stdout, so it cannot land in a terminal log or a world-readable file.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "vigil/json.h"
#include "vigil/wire.h"

static int print_pub(const struct cli_common *co, const char *file, const uint8_t pk[32])
{
	char b64[VG_WIRE_KEY_B64_LEN];

	vg_wire_key_encode(pk, b64);
	if (co->json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co->pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "secret_key_file", file);
		vg_json_kstr(&j, "public_key", b64);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("%s\n", b64);
	}
	return EXIT_OK;
}

static int parse(int argc, char **argv, struct cli_common *co, const char **file)
{
	static const struct option opts[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
		if (!cli_common_opt(c, co))
			return cli_bad_option(argv[0], argc, argv);
	if (co->help)
		return 0;
	if (optind != argc - 1)
		return cli_fail("%s: expected one FILE; see --help", argv[0]);
	*file = argv[optind];
	return 0;
}

static int do_gen(int argc, char **argv)
{
	struct cli_common co = { 0 };
	struct vg_wire_keypair kp;
	struct vg_err err = { 0 };
	const char *file = NULL;
	int rc;

	if (parse(argc, argv, &co, &file))
		return EXIT_ERROR;
	if (co.help) {
		printf("Usage: %s key gen FILE [-j|-p]\n\n"
		       "Creates a new X25519 key pair: the secret key goes to FILE, a new file "
		       "made\n"
		       "mode 0600 (an existing FILE is never overwritten); the public key is "
		       "printed,\n"
		       "to be put in a broker's allow list (a client's) or a client's pub= (a "
		       "broker's).\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (sodium_init() < 0)
		return cli_fail("key gen: libsodium could not be initialised");
	vg_wire_keypair_new(&kp);
	rc = vg_wire_key_write_secret(file, &kp, &err);
	sodium_memzero(kp.sk, sizeof(kp.sk));
	if (rc)
		return cli_fail_err(&err);
	return print_pub(&co, file, kp.pk);
}

static int do_pub(int argc, char **argv)
{
	struct cli_common co = { 0 };
	struct vg_wire_keypair kp;
	struct vg_err err = { 0 };
	const char *file = NULL;
	bool loose = false;

	if (parse(argc, argv, &co, &file))
		return EXIT_ERROR;
	if (co.help) {
		printf("Usage: %s key pub FILE [-j|-p]\n\nPrints the public key of the secret key "
		       "in FILE.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (sodium_init() < 0)
		return cli_fail("key pub: libsodium could not be initialised");
	if (vg_wire_key_read_secret(file, &kp, &loose, &err))
		return cli_fail_err(&err);
	sodium_memzero(kp.sk, sizeof(kp.sk));
	if (loose)
		fprintf(stderr, "%s: warning: %s can be read by others (chmod 600 it)\n", PROG_NAME,
			file);
	return print_pub(&co, file, kp.pk);
}

static const struct cli_cmd key_cmds[] = {
	{ "gen", do_gen, "create a key pair: secret key to a new 0600 file, print the public key" },
	{ "pub", do_pub, "print the public key of a secret key file" },
	{ NULL, NULL, NULL },
};

int cmd_key(int argc, char **argv)
{
	return cli_dispatch("key", key_cmds, argc - 1, argv + 1);
}
