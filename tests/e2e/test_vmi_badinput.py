"""Bad input to vigil vmi: every case exits 2, prints nothing on stdout and one line on stderr
("vigil: ...") that says what is wrong; hostile guest memory (a cyclic or poisoned task list,
an absurd argv length) is bounded and reported, never followed forever.

The corrupted inputs are made from a raw dump and an ELF core of one paused default guest
(512M, KASLR, 4-level): the raw file's offset is the guest physical address there (one flat
RAM block below the PCI hole), so a kernel virtual address is patched at the physical address
`vigil vmi translate` gives for it. Every run on a patched dump uses --no-cache, since the
discovery cache is keyed by path and size only.
"""

import json
import mmap
import os
import re
import shutil
import struct

import pytest

from conftest import run_vigil
from guest import EXPECTED_PROCESSES

BTF_MAGIC = b"\x9f\xeb\x01\x00"
CMDLINE_MAX = 4096  # VG_CMDLINE_MAX: bytes of argv vigil keeps
POISON = 0xDEAD000000000100  # LIST_POISON1 on x86-64


def fails(args, *words, env=None):
    """Runs vigil, asserts exit 2, empty stdout, one 'vigil: ' line naming WORDS (regexes,
    case-insensitive); returns that line."""
    rc, out, err = run_vigil(*args, timeout=120, env=env)
    assert rc == 2, f"vigil {' '.join(map(str, args))}: rc {rc}\nstdout: {out[:500]}\n{err}"
    assert out == "", f"stdout not empty: {out[:500]}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigil: "), f"stderr: {err!r}"
    for w in words:
        assert re.search(w, lines[0], re.I), f"{w!r} not in {lines[0]!r}"
    return lines[0]


def vjson(*args, env=None):
    rc, out, err = run_vigil(*args, timeout=120, env=env)
    assert rc == 0, f"vigil {' '.join(map(str, args))}: rc {rc}: {err}"
    return json.loads(out)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("vmi-bad-cache")
    return dict(os.environ, XDG_CACHE_HOME=str(d))


@pytest.fixture(scope="module")
def dumps(guest, tmp_path_factory, env):
    """Raw dump and ELF core of the paused default guest, with what the tests need to know."""
    tmp = tmp_path_factory.mktemp("vmi-bad")
    procs = guest.guest_ps()
    sleep = [p for p in procs if p["args"] == "sleep 7777"][0]
    stat = guest.run(f"cat /proc/{sleep['pid']}/stat").strip()
    fields = stat[stat.rfind(")") + 2:].split()  # fields[0] is field 3 (state)
    d = {"dir": tmp, "sleep_pid": sleep["pid"],
         "arg_start": int(fields[45]), "arg_end": int(fields[46])}
    guest.pause()
    try:
        d["raw"] = guest.dump_raw(str(tmp / "ram.raw"))
        d["elf"] = guest.dump_elf(str(tmp / "core.elf"))
    finally:
        guest.resume()
    d["ps"] = vjson("vmi", "ps", "-j", "--no-cache", "--vm", d["raw"], env=env)
    d["info"] = vjson("vmi", "info", "-j", "--no-cache", "--vm", d["raw"], env=env)
    assert d["info"]["layout"] == "flat", d["info"]  # file offset == guest physical below
    yield d
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def work(dumps, tmp_path):
    """A private copy of the raw dump to corrupt; removed after the test."""
    p = tmp_path / "bad.raw"
    shutil.copyfile(dumps["raw"], p)
    yield p
    p.unlink()


def translate(dump, what, env):
    return int(vjson("vmi", "translate", "-j", "--no-cache", "--vm", dump, what,
                     env=env)["physical"], 16)


def kread(dump, addr, length, env):
    r = vjson("vmi", "read", "-j", "--no-cache", "--vm", dump, hex(addr), hex(length), env=env)
    return bytes.fromhex(r["hex"])


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


# ---- not guest memory -------------------------------------------------------------------

def test_missing_file(tmp_path):
    fails(["vmi", "ps", "-j", "--vm", tmp_path / "nope"], r"nope", r"no such file|not exist")


def test_directory(tmp_path):
    fails(["vmi", "ps", "-j", "--vm", tmp_path], r"directory")


def test_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    fails(["vmi", "info", "-j", "--vm", tmp_path / "empty"], r"empty")


def test_random_bytes(tmp_path):
    p = tmp_path / "random.bin"
    p.write_bytes(os.urandom(8 << 20))
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", p], r"no linux kernel|not guest ram")


def test_text_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("".join(f"line {i}: Linux is not in here\n" for i in range(200000)))
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", p], r"no linux kernel|not guest ram")


def test_elf_that_is_not_a_core():
    fails(["vmi", "ps", "-j", "--vm", "/bin/ls"], r"/bin/ls", r"not a core")


def test_ram_of_a_guest_without_kernel(tmp_path):
    """RAM of a guest that has not booted a kernel yet: all zeros."""
    p = tmp_path / "zeros.raw"
    with open(p, "wb") as f:
        f.truncate(256 << 20)
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", p], r"not booted|no linux kernel")


def test_truncated_elf_core(dumps, tmp_path):
    p = tmp_path / "half.elf"
    with open(dumps["elf"], "rb") as fi, open(p, "wb") as fo:
        size = os.fstat(fi.fileno()).st_size
        shutil.copyfileobj(fi, fo)
        fo.truncate(size // 2)
    try:
        fails(["vmi", "ps", "-j", "--no-cache", "--vm", p], r"truncated")
    finally:
        p.unlink()


# ---- a kernel without BTF ---------------------------------------------------------------

def find_kernel_btf(dump, env):
    """(file offset, size) of the kernel image's BTF in a raw dump: at __start_BTF when the
    symbol exists, else the largest valid blob in RAM."""
    with open(dump, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        def blob_at(off):
            if m[off:off + 8] != BTF_MAGIC + struct.pack("<I", 24):
                return None
            type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", m, off + 8)
            return 24 + max(type_off + type_len, str_off + str_len)

        rc, out, _ = run_vigil("vmi", "translate", "-j", "--no-cache", "--vm", dump,
                               "__start_BTF", env=env)
        if rc == 0:
            off = int(json.loads(out)["physical"], 16)
            size = blob_at(off)
            assert size, f"no BTF header at __start_BTF (physical {off:#x})"
            return off, size
        best, pos = None, 0
        while (pos := m.find(BTF_MAGIC, pos)) >= 0:
            size = blob_at(pos)
            if size and (best is None or size > best[1]):
                best = (pos, size)
            pos += 4
        assert best, "no BTF in the dump"
        return best


def test_no_btf_needs_btf_option(dumps, work, env, tmp_path):
    off, size = find_kernel_btf(work, env)
    assert size > 1 << 20, size  # the kernel's BTF, not a module's
    with open(work, "rb") as f:
        f.seek(off)
        blob = f.read(size)
    (tmp_path / "vmlinux.btf").write_bytes(blob)
    patch(work, off, bytes(24))  # the kernel now looks built without BTF
    ps = vjson("vmi", "ps", "-j", "--no-cache", "--vm", work, "--btf", tmp_path / "vmlinux.btf",
               env=env)
    assert ps == dumps["ps"]
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", work], r"BTF", r"--btf")


def test_btf_option_that_is_not_btf(dumps, tmp_path):
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", dumps["raw"], "--btf", "/bin/ls"],
          r"BTF")


# ---- hostile task list --------------------------------------------------------------------

def tasks_offset(dump, ps, env):
    """Offset of task_struct.tasks: the one qword that links consecutive tasks of ps's list
    (next == following task + off, and the following task's prev == this task + off). Only
    pairs with different parents count: siblings are linked the same way by .sibling; and the
    list closes at init_task (cg_list, which links them in the same order, closes at the
    css_set)."""
    pairs = [(int(a["task"], 16), int(b["task"], 16)) for a, b in zip(ps, ps[1:])
             if a["ppid"] != b["ppid"]][:4]
    assert len(pairs) >= 2, "too few consecutive tasks with different parents"
    cands = None
    for a, b in pairs:
        ma, mb = kread(dump, a, 0x2000, env), kread(dump, b, 0x2000, env)
        here = set()
        for off in range(0, 0x2000 - 16, 8):
            nxt, = struct.unpack_from("<Q", ma, off)
            prv, = struct.unpack_from("<Q", mb, off + 8)
            if nxt == b + off and prv == a + off:
                here.add(off)
        cands = here if cands is None else cands & here
    init_task = int(vjson("vmi", "read", "-j", "--no-cache", "--vm", dump, "init_task", "8",
                          env=env)["address"], 16)
    last = kread(dump, int(ps[-1]["task"], 16), 0x2000, env)
    cands = {off for off in cands if struct.unpack_from("<Q", last, off)[0] == init_task + off}
    assert cands and len(cands) == 1, f"task_struct.tasks not found unambiguously: {cands}"
    return cands.pop()


@pytest.mark.parametrize("how,value,words", [
    ("self", None, [r"task list", r"cycl"]),
    ("poison", POISON, [r"task list", r"broken"]),
    ("null", 0, [r"task list", r"broken"]),
], ids=["cycle", "poison", "null"])
def test_corrupted_task_list(dumps, work, env, how, value, words):
    ps = dumps["ps"]
    off = tasks_offset(work, ps, env)
    victim = [p for p in ps if p["cmdline"] == "sleep 7777"][0]
    link = int(victim["task"], 16) + off
    pa = translate(work, hex(link), env)
    assert struct.unpack("<Q", kread(work, link, 8, env))[0] != link
    patch(work, pa, struct.pack("<Q", link if value is None else value))
    assert struct.unpack("<Q", kread(work, link, 8, env))[0] == (link if value is None
                                                                  else value)
    fails(["vmi", "ps", "-j", "--no-cache", "--vm", work], *words, env=env)
    fails(["vmi", "ps", "--threads", "--no-cache", "--vm", work], *words, env=env)


def test_absurd_argv_length(dumps, work, env):
    """mm->arg_end far beyond arg_start: ps still answers and the cmdline is capped."""
    start, end = dumps["arg_start"], dumps["arg_end"]
    pattern = struct.pack("<QQ", start, end)
    with open(work, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        hits = []
        pos = 0
        while len(hits) < 3 and (pos := m.find(pattern, pos)) >= 0:
            if pos % 8 == 0:
                hits.append(pos)
            pos += 8
    if len(hits) != 1:
        pytest.skip(f"mm arg_start/arg_end pair found {len(hits)} times, not once")
    patch(work, hits[0] + 8, struct.pack("<Q", start + (1 << 40)))
    rc, out, err = run_vigil("vmi", "ps", "-j", "--no-cache", "--vm", work, timeout=60, env=env)
    assert rc == 0, err
    ps = json.loads(out)
    victim = [p for p in ps if p["pid"] == dumps["sleep_pid"]][0]
    assert victim["cmdline"].startswith("sleep 7777"), victim
    assert len(victim["cmdline"].encode()) < CMDLINE_MAX, len(victim["cmdline"])
    others = [p for p in ps if p["pid"] != dumps["sleep_pid"]]
    assert others == [p for p in dumps["ps"] if p["pid"] != dumps["sleep_pid"]]


def test_known_processes_in_dump(dumps):
    """The reference the corruption tests start from is right."""
    args = {p["cmdline"] for p in dumps["ps"]}
    for exp in EXPECTED_PROCESSES:
        assert exp["args"] in args


# ---- usage errors --------------------------------------------------------------------------

def test_ps_without_vm():
    fails(["vmi", "ps", "-j"], r"--vm")


def test_unknown_option(dumps):
    fails(["vmi", "ps", "--vm", dumps["raw"], "--frobnicate"], r"unknown option", r"frobnicate")


def test_unknown_command():
    fails(["vmi", "frobnicate"], r"frobnicate")


@pytest.mark.parametrize("length", ["0", str((1 << 20) + 1), "0x100001", "lots"])
def test_read_bad_length(dumps, length):
    fails(["vmi", "read", "--vm", dumps["raw"], "linux_banner", length], r"LEN")


def test_read_max_length_ok(dumps, env):
    r = vjson("vmi", "read", "-j", "--vm", dumps["raw"], "linux_banner", str(1 << 20), env=env)
    assert len(r["hex"]) == 2 << 20


def test_read_unknown_symbol(dumps, env):
    fails(["vmi", "read", "--vm", dumps["raw"], "no_such_symbol_xyz", "16"],
          r"no_such_symbol_xyz", env=env)


def test_read_unmapped(dumps, env):
    fails(["vmi", "read", "--vm", dumps["raw"], "0xffffffffff000000", "16"], r"not mapped",
          env=env)


def test_translate_unknown_symbol(dumps, env):
    fails(["vmi", "translate", "--vm", dumps["raw"], "no_such_symbol_xyz"],
          r"no_such_symbol_xyz", env=env)
