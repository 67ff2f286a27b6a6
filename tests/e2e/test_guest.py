"""The test guest itself: it boots in every configuration vigil must handle (KASLR on/off,
4/5-level paging, RAM above 4 GiB), runs the known processes and modules, answers on its
console, dumps its memory, and never leaks a QEMU process or a /dev/shm file."""

import hashlib
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from guest import (BUILD_SH, EXPECTED_LISTEN_PORTS, EXPECTED_MODULES, EXPECTED_PROCESSES,
                   GuestTimeout, read_system_map, sweep_stale_shm)

DEFAULT_TEXT = 0xFFFFFFFF81000000  # _text of the x86-64 kernel without KASLR
DEFAULT_VMALLOC_4L = 0xFFFFC90000000000
DEFAULT_VMALLOC_5L = 0xFFA0000000000000


def elf_loads(path):
    """PT_LOAD program headers of an ELF64 core: [(paddr, file offset, filesz)]."""
    with open(path, "rb") as f:
        eh = f.read(64)
        assert eh[:4] == b"\x7fELF" and eh[4] == 2, "not an ELF64 file"
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        assert eh[16] == 4, "not an ET_CORE"
        loads = []
        types = []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, _, p_paddr, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            types.append(p_type)
            if p_type == 1:
                loads.append((p_paddr, p_offset, p_filesz))
    assert 4 in types, "no PT_NOTE (CPU state) in the dump"
    return loads


def check_known_objects(g):
    procs = g.guest_ps()
    for exp in EXPECTED_PROCESSES:
        hits = [p for p in procs if p["args"] == exp["args"]]
        assert len(hits) == 1, f"{exp['args']!r} not running once: {hits}"
        p = hits[0]
        assert p["comm"] == exp["comm"] and p["uid"] == exp["uid"] and p["ppid"] == 1, p
    mods = {m["name"]: m for m in g.guest_modules()}
    for name in EXPECTED_MODULES:
        assert name in mods and mods[name]["state"] == "Live", mods
        assert mods[name]["addr"] >= 0xFFFFFFFF80000000, hex(mods[name]["addr"])


def vmalloc_base(g):
    first = g.run("head -n1 /proc/vmallocinfo").split("-")[0]
    return int(first, 16)


# ---- the default guest (512M, KASLR, 4-level) -------------------------------------------

def test_default_guest_known_processes_and_modules(guest):
    check_known_objects(guest)


def test_default_guest_is_4level_with_kaslr(guest):
    assert guest.paging_levels() == 4
    assert "la57" not in guest.run("cat /proc/cpuinfo").split()
    assert "nokaslr" not in guest.run("cat /proc/cmdline")
    text = guest.ksyms("_text")["_text"]
    # Either randomisation can land on its default slot by chance, both at once hardly.
    assert text != DEFAULT_TEXT or vmalloc_base(guest) != DEFAULT_VMALLOC_4L


def test_default_guest_listens(guest):
    out = guest.run("netstat -ltn")
    ports = {int(m) for m in re.findall(r":(\d+)\s+\S+\s+LISTEN", out)}
    assert set(EXPECTED_LISTEN_PORTS) <= ports, out


def test_console_output_is_exact(guest):
    assert guest.run("printf 'a\\nb\\n'") == "a\nb\n"
    assert guest.run("printf 'no newline'") == "no newline"
    assert guest.run("echo err >&2") == "err\n"
    assert guest.run_rc("exit_code() { return 3; }; exit_code") == (3, "")
    # Output that looks like the protocol's markers does not confuse it.
    assert guest.run("echo @@E0000 0; echo '@@B'") == "@@E0000 0\n@@B\n"
    big = guest.run("seq 1 20000")
    assert big.splitlines() == [str(i) for i in range(1, 20001)]
    with pytest.raises(ValueError):
        guest.run("echo " + "x" * 2000)


def test_console_recovers_after_timeout(guest):
    with pytest.raises(GuestTimeout):
        guest.run("sleep 60", timeout=2)
    assert guest.run("echo back", timeout=60) == "back\n"


def test_push_file(guest):
    data = os.urandom(5000)
    guest.push_file(data, "/tmp/pushed.bin")
    assert guest.run("sha256sum /tmp/pushed.bin").split()[0] == hashlib.sha256(data).hexdigest()


def test_pause_resume(guest):
    guest.pause()
    try:
        assert guest.is_paused()
    finally:
        guest.resume()
    assert not guest.is_paused()
    assert guest.run("echo alive") == "alive\n"


def test_dumps_match_ram_file(guest, tmp_path):
    """An ELF dump and a raw copy taken while paused hold the same bytes at the places
    ram_layout() says, and they contain the running kernel's banner."""
    banner = guest.run("cat /proc/version").strip().encode()
    guest.pause()
    try:
        elf = guest.dump_elf(tmp_path / "guest.elf")
        raw = guest.dump_raw(tmp_path / "guest.raw")
        assert guest.is_paused(), "dumps must leave a paused guest paused"
    finally:
        guest.resume()
    assert os.path.getsize(raw) == guest.mem
    layout = guest.ram_layout()
    loads = elf_loads(elf)
    # QEMU also dumps the 256 KiB BIOS ROM at 0xfffc0000: count only what lies in RAM.
    in_ram = [s for s in loads if any(pa <= s[0] < pa + sz for pa, _, sz in layout)]
    assert sum(sz for _, _, sz in in_ram) == guest.mem
    compared = 0
    with open(elf, "rb") as fe, open(raw, "rb") as fr:
        for gpa, off, size in layout:
            segs = [s for s in loads if s[0] <= gpa < s[0] + s[2]]
            assert segs, f"no PT_LOAD for guest physical {gpa:#x}"
            for step in range(0, size, size // 16):
                seg_pa, seg_off, seg_sz = segs[0]
                pa = gpa + step
                if pa >= seg_pa + seg_sz:
                    continue
                fe.seek(seg_off + pa - seg_pa)
                fr.seek(off + step)
                assert fe.read(4096) == fr.read(4096), f"page at {pa:#x} differs"
                compared += 1
        fr.seek(0)
        assert banner in fr.read(), "kernel banner not in the raw dump"
    assert compared >= 16
    assert guest.run("echo alive") == "alive\n"


# ---- other configurations ---------------------------------------------------------------

@pytest.mark.parametrize("kaslr,la57", [(False, False), (True, True), (False, True)],
                         ids=["nokaslr-4level", "kaslr-5level", "nokaslr-5level"])
def test_configurations_boot(guest_factory, kaslr, la57):
    g = guest_factory(kaslr=kaslr, la57=la57)
    assert g.paging_levels() == (5 if la57 else 4)
    flags = g.run("cat /proc/cpuinfo").split()
    assert ("la57" in flags) == la57
    text = g.ksyms("_text")["_text"]
    vm = vmalloc_base(g)
    if not kaslr:
        assert text == DEFAULT_TEXT
        assert vm == (DEFAULT_VMALLOC_5L if la57 else DEFAULT_VMALLOC_4L)
        sysmap = read_system_map(g.image_dir, {"_text", "init_task", "init_mm"})
        if sysmap:  # only with the real System.map (VIGIL_GUEST_DBG=1)
            assert g.ksyms(*sysmap) == sysmap
    else:
        assert text != DEFAULT_TEXT or vm != DEFAULT_VMALLOC_5L
    if la57:
        assert vm < 0xFF00000000000000 or vm >= 0xFF11000000000000
    check_known_objects(g)


def test_ram_above_4g(guest_factory, tmp_path):
    g = guest_factory(mem="5G", la57=True, smp=2)
    layout = [(0, 0, 2 << 30), (4 << 30, 2 << 30, 3 << 30)]
    assert g.ram_layout() == layout
    assert g.qemu_ram_map() == layout
    iomem = g.run("cat /proc/iomem")
    assert re.search(r"^100000000-1bfffffff : System RAM$", iomem, re.M), iomem
    memtotal_kb = int(re.search(r"MemTotal:\s+(\d+)", g.run("cat /proc/meminfo")).group(1))
    assert memtotal_kb > (4 << 20)
    check_known_objects(g)
    # High RAM as QEMU dumps it equals the RAM file at the offset the layout gives.
    span = 64 << 20
    g.pause()
    try:
        elf = g.dump_elf(tmp_path / "high.elf", begin=4 << 30, length=span)
        with open(g.mem_path, "rb") as f:
            f.seek(2 << 30)
            ram = f.read(span)
    finally:
        g.resume()
    (pa, off, size), = elf_loads(elf)
    assert (pa, size) == (4 << 30, span)
    with open(elf, "rb") as f:
        f.seek(off)
        dumped = f.read(size)
    assert dumped == ram
    assert dumped.count(0) < len(dumped), "high RAM unused: nothing was compared"


# ---- no leaks ---------------------------------------------------------------------------

def test_known_object_check_can_fail(guest_factory):
    g = guest_factory()
    check_known_objects(g)
    g.run("kill $(pidof sleep)")
    with pytest.raises(AssertionError, match="sleep 7777"):
        check_known_objects(g)


def test_stop_removes_everything(guest_factory):
    g = guest_factory(boot=False)
    mem, tmp, pid = g.mem_path, g.tmpdir, g.proc.pid
    assert os.path.exists(mem) and os.path.isdir(tmp)
    os.kill(pid, signal.SIGKILL)  # a crashed QEMU must still be cleaned up
    g.stop()
    assert not os.path.exists(mem) and not os.path.exists(tmp)
    assert g.proc.poll() is not None


def test_killed_launcher_leaks_nothing(guest_image, tmp_path):
    """SIGKILL the Python process that owns a guest: QEMU dies with it (PDEATHSIG) and the
    next launcher sweeps its RAM file."""
    child = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from guest import Guest
        g = Guest("orphan", image_dir={str(guest_image)!r}).start()
        print(g.proc.pid, g.mem_path, g.tmpdir, flush=True)
        time.sleep(600)
    """)
    p = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        qpid, mem, tmp = p.stdout.readline().split()
        qpid = int(qpid)
        assert os.path.exists(mem) and os.path.isdir(tmp)
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{qpid}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{qpid}"), "QEMU outlived its launcher"
    sweep_stale_shm()
    assert not os.path.exists(mem) and not os.path.exists(tmp)


def test_build_is_cached(guest_image):
    r = subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(guest_image)
    assert "building guest" not in r.stderr
    for f in ("bzImage", "initramfs.cpio.gz", "System.map", "kernel-version", "modules"):
        assert (guest_image / f).stat().st_size > 0
    assert (guest_image / "modules").read_text().split() == EXPECTED_MODULES
