"""vigil vmi against AArch64 guests (Debian's arm64 kernel, build-arm64.sh) with no configuration:
ps, lsmod, info, read and translate agree with the guest's own view on QEMU's virt machine (RAM
at 1 GiB; KASLR on and off; cortex-a57, and `-cpu max` whose kernel signs return addresses)
and on raspi3b (RAM at 0, 1 GiB, 4 cores), read live from the RAM file, from an ELF core with
the guest's VMCOREINFO note (QEMU's vmcoreinfo device) and from a raw copy. A forged
VMCOREINFO in the core is not believed: the answer stays the guest's, and a core whose only
page-table claim is the forged note is refused with one line.

One guest per configuration (module-scoped, parametrized), as test_vmi.py: boot, take the
guest's view, pause, run every vigil command, resume, take the view again, stop; the tests
only compare.
"""

import json
import os
import re
import shutil
import struct

import pytest

from conftest import BOOT_TIMEOUT, _boot_times, _describe, run_vigil
from guest import EXPECTED_MODULES, Arm64Guest, build_guest_arm64
from test_vmi import check_known, compare_ps, guest_extra, ok, sparse_copy, vigil_json

KIMAGE_VADDR = 0xFFFF800008000000  # _text's link address, Linux 6.x with 48-bit VA
PAGE_OFFSET = 0xFFFF000000000000
SEGMENT_ALIGN = 0x10000  # _stext - _text

# slid: whether the kernel can randomise itself. QEMU's virt machine hands it a kaslr-seed in
# the device tree; raspi3b takes the package's device tree as it is, without one (and a
# cortex-a53 has no RNDR), so that kernel stays at its link address whatever the command line.
CONFIGS = {
    "virt": dict(machine="virt", cpu="cortex-a57", kaslr=True, vmcoreinfo=True, dumps=True,
                 slid=True),
    "nokaslr": dict(machine="virt", cpu="cortex-a57", kaslr=False, dumps=False, slid=False),
    "max": dict(machine="virt", cpu="max", kaslr=True, dumps=False, slid=True),
    "raspi3b": dict(machine="raspi3b", kaslr=True, dumps=False, slid=False),
}


@pytest.fixture(scope="session")
def arm64_image():
    if not shutil.which("qemu-system-aarch64"):
        pytest.fail("qemu-system-aarch64 missing: install scripts/packages.txt")
    return build_guest_arm64()


def iomem(g):
    """{name: (start, end)} of the top-level and kernel lines of the guest's /proc/iomem."""
    res = {}
    for line in g.run("cat /proc/iomem").splitlines():
        m = re.match(r"\s*([0-9a-f]+)-([0-9a-f]+) : (.+)", line)
        if m and m.group(3) not in res:
            res[m.group(3)] = (int(m.group(1), 16), int(m.group(2), 16))
    return res


def note_patch(core, key, value):
    """Rewrites KEY=<hex> in the ELF core's VMCOREINFO note in place, keeping its length."""
    with open(core, "r+b") as f:
        data = f.read(64 << 20)
        m = re.search(re.escape(key.encode()) + rb"=(0x)?([0-9a-f]+)\n", data)
        assert m, f"{key} not in the core's VMCOREINFO note"
        digits = m.group(2)
        new = f"{value:0{len(digits)}x}".encode()[-len(digits):]
        f.seek(m.start(2))
        f.write(new)
    return int(digits, 16)


def zero_ram_but(core, keep):
    """Zeros every PT_LOAD byte of the ELF core except the physical ranges in KEEP."""
    with open(core, "r+b") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phnum, = struct.unpack_from("<H", eh, 56)
        f.seek(phoff)
        phs = [struct.unpack("<IIQQQQQQ", f.read(56)) for _ in range(phnum)]
        for ptype, _, off, _, paddr, filesz, _, _ in phs:
            if ptype != 1:
                continue
            pos = 0
            while pos < filesz:
                n = min(8 << 20, filesz - pos)
                buf = bytearray(n)
                for lo, hi in keep:
                    a, b = max(lo, paddr + pos), min(hi, paddr + pos + n)
                    if a < b:
                        f.seek(off + (a - paddr))
                        buf[a - paddr - pos:b - paddr - pos] = f.read(b - a)
                f.seek(off + pos)
                f.write(buf)
                pos += n


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def snap(request, arm64_image, tmp_path_factory):
    name = request.param
    cfg = dict(CONFIGS[name])
    dumps = cfg.pop("dumps")
    cfg.pop("slid")
    tmp = tmp_path_factory.mktemp(f"vmi-arm64-{name}")
    (tmp / "cache").mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
    s = {"name": name, "cfg": CONFIGS[name]}
    g = Arm64Guest(f"a64{name}{os.getpid()}", image_dir=arm64_image, **cfg)
    try:
        g.start()
        _boot_times.append((_describe(g) + f" {cfg['machine']}", g.wait_boot(BOOT_TIMEOUT)))
        s["ksyms"] = g.ksyms("_stext", "do_el0_svc", "invoke_syscall")
        s["version"] = g.run("cat /proc/version").strip()
        s["release"] = g.run("uname -r").strip()
        s["iomem"] = iomem(g)
        s["cpuinfo"] = g.run("cat /proc/cpuinfo")
        s["gps1"] = g.guest_ps()
        s["gextra"] = guest_extra(g)
        s["gmods"] = g.guest_modules()
        mem = g.mem_path
        g.pause()
        try:
            v = s["live"] = {}
            v["info_nc"] = vigil_json(["vmi", "info", "-j", "--no-cache", "--vm", mem], env)
            v["ps_nc"] = vigil_json(["vmi", "ps", "-j", "--no-cache", "--vm", mem], env)
            v["ps"] = vigil_json(["vmi", "ps", "-j", "--vm", mem], env)  # cold, fills cache
            v["info"] = vigil_json(["vmi", "info", "-j", "--vm", mem], env)  # cached
            v["ps_cached"] = vigil_json(["vmi", "ps", "-j", "--vm", mem], env)
            v["ps_threads"] = vigil_json(["vmi", "ps", "-j", "--threads", "--vm", mem], env)
            v["lsmod"] = vigil_json(["vmi", "lsmod", "-j", "--vm", mem], env)
            v["read"] = vigil_json(["vmi", "read", "-j", "--vm", mem, "linux_banner", "64"],
                                   env)
            v["read_text"] = vigil_json(["vmi", "read", "-j", "--vm", mem, "do_el0_svc", "16"],
                                        env)
            v["tr_init_task"] = vigil_json(["vmi", "translate", "-j", "--vm", mem,
                                            "init_task"], env)
            v["tr_stext"] = vigil_json(["vmi", "translate", "-j", "--vm", mem, "_stext"], env)
            if dumps:
                elf = g.dump_elf(str(tmp / "core.elf"))
                raw = sparse_copy(mem, str(tmp / "ram.raw"))
                for kind, path in (("elf", elf), ("raw", raw)):
                    d = s[kind] = {}
                    d["info"] = vigil_json(["vmi", "info", "-j", "--no-cache", "--vm", path],
                                           env)
                    d["ps"] = vigil_json(["vmi", "ps", "-j", "--no-cache", "--vm", path], env)
                    d["lsmod"] = vigil_json(["vmi", "lsmod", "-j", "--no-cache", "--vm", path],
                                            env)
                # bad input made from the raw copy: RAM cut short, and a kernel whose
                # exported-symbol table cannot be found (every "init_task" string zeroed)
                bad = s["bad"] = {}
                cut = str(tmp / "cut.raw")
                with open(raw, "rb") as fi, open(cut, "wb") as fo:
                    fo.write(fi.read(64 << 20))
                bad["truncated"] = run_vigil("vmi", "ps", "-j", "--no-cache", "--vm", cut,
                                             timeout=300, env=env)
                os.unlink(cut)
                with open(raw, "r+b") as f:
                    data = f.read()
                    for m in re.finditer(rb"init_task\x00", data):
                        f.seek(m.start())
                        f.write(b"\x00" * 9)
                bad["no_ksymtab"] = run_vigil("vmi", "ps", "-j", "--no-cache", "--vm", raw,
                                              timeout=300, env=env)
                os.unlink(raw)
                info = ok(s["elf"]["info"])
                # a note rewritten by a rootkit: another page as swapper_pg_dir
                swapper = note_patch(elf, "SYMBOL(swapper_pg_dir)", 0)
                note_patch(elf, "SYMBOL(swapper_pg_dir)", swapper - 0x1000)
                d = s["forged"] = {}
                d["info"] = vigil_json(["vmi", "info", "-j", "--no-cache", "--vm", elf], env)
                d["ps"] = vigil_json(["vmi", "ps", "-j", "--no-cache", "--vm", elf], env)
                # ... and a core with nothing but the banner and a note whose table is zeros
                note_patch(elf, "SYMBOL(swapper_pg_dir)", swapper)
                banner = int(info["banner_pa"], 16)
                zero_ram_but(elf, [(banner & ~0xfff, (banner & ~0xfff) + 0x1000)])
                d["alone"] = run_vigil("vmi", "ps", "-j", "--no-cache", "--vm", elf,
                                       timeout=300, env=env)
                os.unlink(elf)
        finally:
            g.resume()
        s["gps2"] = g.guest_ps()
        s["ram_layout"] = g.ram_layout()
    finally:
        g.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return s


def test_ps_matches_guest(snap):
    by_pid = compare_ps(snap, ok(snap["live"]["ps_nc"]))
    check_known(by_pid)


def test_threads_superset(snap):
    plain = ok(snap["live"]["ps_nc"])
    threads = ok(snap["live"]["ps_threads"])
    key = {(p["pid"], p["task"]) for p in threads}
    assert not [p for p in plain if (p["pid"], p["task"]) not in key]
    compare_ps(snap, [p for p in threads if p["pid"] == p["tgid"]])


def test_lsmod_matches_proc_modules(snap):
    vm = ok(snap["live"]["lsmod"])
    gm = {m["name"]: m for m in snap["gmods"]}
    assert sorted(m["name"] for m in vm) == sorted(gm), (vm, snap["gmods"])
    assert set(EXPECTED_MODULES) <= set(gm)
    for m in vm:
        g = gm[m["name"]]
        assert (m["size"], m["refcount"], m["state"], int(m["base"], 16)) == \
            (g["size"], g["refcount"], g["state"], g["addr"]), (m, g)


def test_info_matches_guest(snap):
    info = ok(snap["live"]["info_nc"])
    assert (info["arch"], info["levels"], info["paging"]) == \
        ("arm64", 4, "AArch64 48-bit 4-level"), info
    stext = snap["ksyms"]["_stext"]
    text = int(info["text_va"], 16)
    assert text == stext - SEGMENT_ALIGN, (info["text_va"], hex(stext))
    assert int(info["kaslr_slide"], 16) == text - KIMAGE_VADDR
    if snap["cfg"]["slid"]:
        assert text != KIMAGE_VADDR, info
        # the linear map is randomised apart (memstart_addr moves down from the start of RAM,
        # usually far below physical 0) only when the CPU's physical range leaves room in it:
        # a cortex-a57's 44 bits do, `max`'s 48 or 52 do not
        if snap["cfg"]["cpu"] != "max":
            assert int(info["phys_offset"], 16) != snap["ram_layout"][0][0], info
    else:
        assert text == KIMAGE_VADDR, info
    assert int(info["page_offset_base"], 16) == PAGE_OFFSET
    # the kernel's own physical map of itself
    code = snap["iomem"]["Kernel code"]
    assert int(info["text_pa"], 16) == code[0] - SEGMENT_ALIGN, (info["text_pa"], code)
    base = snap["ram_layout"][0][0]
    assert info["layout"] == ("arm-low" if base == 0 else "arm-virt"), info
    assert info["ram_bytes"] == snap["ram_layout"][0][2]
    assert info["release"] == snap["release"]
    assert snap["version"].startswith(info["banner"].rstrip()[:100])
    assert info["symbols"] > 40000 and info["btf_types"] > 50000, info
    assert info["exported_symbols"] > 5000, info
    assert info["from_cache"] is False
    assert info["vmcoreinfo"] == "not consulted", info  # a RAM file carries no note


def test_pointer_authentication(snap):
    """`-cpu max` offers PAC and the kernel signs its return addresses with it."""
    feats = re.search(r"Features\s*:(.*)", snap["cpuinfo"]).group(1).split()
    assert ("paca" in feats) == (snap["cfg"].get("cpu") == "max"), feats
    info = ok(snap["live"]["info_nc"])
    assert int(info["pac_mask"], 16) == (~0 << 48) & (2**64 - 1), info


def test_read_and_translate(snap):
    r = ok(snap["live"]["read"])
    text = bytes.fromhex(r["hex"]).decode("ascii", errors="replace")
    assert text.startswith("Linux version " + snap["release"]), text
    assert snap["version"].startswith(text), (text, snap["version"])
    assert r.get("symbol") == "linux_banner", r
    t = ok(snap["live"]["read_text"])
    assert int(t["address"], 16) == snap["ksyms"]["do_el0_svc"], t
    assert t["symbol"] == "do_el0_svc" and len(bytes.fromhex(t["hex"])) == 16
    data = snap["iomem"]["Kernel data"]
    pa = int(ok(snap["live"]["tr_init_task"])["physical"], 16)
    assert data[0] <= pa <= data[1], (hex(pa), data)
    code = snap["iomem"]["Kernel code"]
    assert int(ok(snap["live"]["tr_stext"])["physical"], 16) == code[0]


def test_cache_gives_same_answer(snap):
    live = snap["live"]
    cold = ok(live["ps_nc"])
    assert ok(live["ps"]) == cold
    info = ok(live["info"])
    assert info["from_cache"] is True, info
    assert ok(live["ps_cached"]) == cold
    nc = ok(live["info_nc"])
    for k in ("text_va", "kaslr_slide", "page_offset_base", "page_table_base", "levels",
              "symbols", "btf_types", "banner", "text_pa", "arch"):
        assert info[k] == nc[k], k


@pytest.mark.parametrize("kind", ["elf", "raw"])
def test_dump_same_as_live(snap, kind):
    if kind not in snap:
        pytest.skip("dumps are taken on the virt guest")
    d = snap[kind]
    assert ok(d["ps"]) == ok(snap["live"]["ps_nc"])
    assert ok(d["lsmod"]) == ok(snap["live"]["lsmod"])
    info, live = ok(d["info"]), ok(snap["live"]["info_nc"])
    assert info["source_kind"] == ("elf-core" if kind == "elf" else "raw"), info
    for k in ("text_va", "kaslr_slide", "text_pa", "page_offset_base", "levels", "symbols",
              "btf_types", "release", "page_table_base", "arch"):
        assert info[k] == live[k], (k, info[k], live[k])
    # the core carries the guest's VMCOREINFO (QEMU's vmcoreinfo device): used, after checks
    assert info["vmcoreinfo"] == ("used" if kind == "elf" else "not consulted"), info


def test_forged_vmcoreinfo_not_believed(snap):
    if "forged" not in snap:
        pytest.skip("dumps are taken on the virt guest")
    f = snap["forged"]
    info = ok(f["info"])
    assert info["vmcoreinfo"].startswith("rejected"), info
    assert info["page_table_base"] == ok(snap["live"]["info_nc"])["page_table_base"]
    assert ok(f["ps"]) == ok(snap["live"]["ps_nc"])
    rc, out, err = f["alone"]
    assert rc == 2 and out == "", (rc, out[:300], err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigil: ") and "page tables" in lines[0], err


@pytest.mark.parametrize("case,words", [("truncated", r"page tables|truncated"),
                                        ("no_ksymtab", r"ksymtab|exported")])
def test_bad_input_one_line(snap, case, words):
    if "bad" not in snap:
        pytest.skip("made from the virt guest's raw copy")
    rc, out, err = snap["bad"][case]
    assert rc == 2 and out == "", (rc, out[:300], err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigil: "), err
    assert re.search(words, lines[0], re.I), lines[0]
