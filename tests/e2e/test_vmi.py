"""vigil vmi against real guests: ps, lsmod, info, read agree with the guest's own view (its
/proc over the serial console) with KASLR on and off, 4- and 5-level paging and RAM above
4 GiB, read live from the QEMU RAM file, from an ELF core and from a raw dump.

One guest per configuration (module-scoped, parametrized): the fixture boots it, takes the
guest's view, pauses it, runs every vigil command against the paused RAM file (and the dumps
where asked), resumes, takes the guest's view again and stops the guest. The tests then only
compare. Processes are compared where both guest views agree (the /proc loop's own children
and short-lived kworkers may differ between views); the known long-running processes and all
stable kernel threads must be there with identical fields.
"""

import json
import os
import shutil

import pytest

from conftest import _boot, run_vigil
from guest import EXPECTED_MODULES, EXPECTED_PROCESSES, Guest

DEFAULT_TEXT = 0xFFFFFFFF81000000  # _text without KASLR (__START_KERNEL_map + 16 MiB)
COMM_LEN = 15  # TASK_COMM_LEN - 1

CONFIGS = {
    "kaslr4": dict(kaslr=True, la57=False, mem="512M", dumps=True),
    "nokaslr": dict(kaslr=False, la57=False, mem="512M", dumps=False),
    "la57": dict(kaslr=True, la57=True, mem="512M", dumps=False),
    "mem5g": dict(kaslr=True, la57=False, mem="5G", dumps=True),
}


def vigil_json(args, env):
    rc, out, err = run_vigil(*args, timeout=300, env=env)
    res = {"rc": rc, "out": out, "err": err, "args": args, "json": None}
    if rc == 0:
        try:
            res["json"] = json.loads(out)
        except ValueError as e:
            res["json_error"] = str(e)
    return res


def ok(res):
    """The parsed JSON of a vigil run that must have succeeded."""
    assert res["rc"] == 0, f"vigil {' '.join(map(str, res['args']))} -> {res['rc']}: {res['err']}"
    assert res["json"] is not None, f"not JSON ({res.get('json_error')}): {res['out'][:500]}"
    return res["json"]


def guest_extra(g):
    """{pid: (gid, exe)} from the guest's /proc (exe '' for kernel threads)."""
    out = g.run('for d in /proc/[0-9]*; do e=$(readlink $d/exe); n=; '
                'while read -r k v r; do [ "$k" = Gid: ] && { n=$v; break; }; done < $d/status; '
                'echo "X|${d#/proc/}|$n|$e"; done', timeout=120)
    res = {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) == 4 and f[0] == "X" and f[1].isdigit():
            res[int(f[1])] = (int(f[2]) if f[2].isdigit() else None, f[3])
    return res


def sparse_copy(src, dst, chunk=1 << 20):
    """Raw dump of a paused guest without writing its untouched (zero) RAM to disk."""
    zero = bytes(chunk)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        size = os.fstat(fi.fileno()).st_size
        while True:
            b = fi.read(chunk)
            if not b:
                break
            if b == zero[:len(b)]:
                fo.seek(len(b), os.SEEK_CUR)
            else:
                fo.write(b)
        fo.truncate(size)
    return dst


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def snap(request, guest_image, tmp_path_factory):
    name = request.param
    cfg = dict(CONFIGS[name])
    dumps = cfg.pop("dumps")
    tmp = tmp_path_factory.mktemp(f"vmi-{name}")
    (tmp / "cache").mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))  # a cold cache of our own
    # a cache home that does not exist yet, as ~/.cache on a fresh machine
    env_fresh = dict(os.environ, XDG_CACHE_HOME=str(tmp / "fresh" / "cache"))
    s = {"name": name, "cfg": CONFIGS[name]}
    g = Guest(f"vmi{name}", image_dir=guest_image, **cfg)
    try:
        _boot(g)
        s["levels"] = g.paging_levels()
        s["ksyms"] = g.ksyms("_text", "linux_banner", "init_task")
        s["version"] = g.run("cat /proc/version").strip()
        s["release"] = g.run("uname -r").strip()
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
            vigil_json(["vmi", "ps", "-j", "--vm", mem], env_fresh)
            v["info_fresh"] = vigil_json(["vmi", "info", "-j", "--vm", mem], env_fresh)
            v["ps_threads"] = vigil_json(["vmi", "ps", "-j", "--threads", "--vm", mem], env)
            v["lsmod"] = vigil_json(["vmi", "lsmod", "-j", "--vm", mem], env)
            v["read"] = vigil_json(["vmi", "read", "-j", "--vm", mem, "linux_banner", "64"],
                                   env)
            if dumps:
                elf = g.dump_elf(str(tmp / "core.elf"))
                for kind, path in (("elf", elf), ("raw", None)):
                    if path is None:
                        path = sparse_copy(mem, str(tmp / "ram.raw"))
                    d = s[kind] = {}
                    d["info"] = vigil_json(["vmi", "info", "-j", "--no-cache", "--vm", path],
                                           env)
                    d["ps"] = vigil_json(["vmi", "ps", "-j", "--no-cache", "--vm", path], env)
                    d["lsmod"] = vigil_json(["vmi", "lsmod", "-j", "--no-cache", "--vm", path],
                                            env)
                    os.unlink(path)
        finally:
            g.resume()
        s["gps2"] = g.guest_ps()
        s["ram_layout"] = g.ram_layout()
    finally:
        g.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return s


# ---- comparison helpers ------------------------------------------------------------------

def comm_matches(vcomm, gcomm, kthread):
    """The guest's /proc shows a kernel thread's full name (and a kworker's current work
    queue after '-'); task_struct.comm keeps the first 15 bytes."""
    if vcomm == gcomm:
        return True
    if not kthread:
        return False
    if len(vcomm) == COMM_LEN and gcomm.startswith(vcomm):
        return True
    return vcomm.startswith("kworker/") and gcomm.startswith(vcomm + "-")


def stable_guest_procs(s):
    """Processes present with the same identity in both guest views."""
    before = {p["pid"]: p for p in s["gps1"]}
    after = {p["pid"]: p for p in s["gps2"]}
    return {pid: p for pid, p in before.items()
            if pid in after and (after[pid]["comm"], after[pid]["ppid"], after[pid]["args"])
            == (p["comm"], p["ppid"], p["args"])}


def compare_ps(s, vps):
    """Asserts vigil's ps (JSON list) is the guest's process list; returns {pid: entry}."""
    by_pid = {}
    for p in vps:
        assert p["pid"] not in by_pid, f"pid {p['pid']} listed twice"
        by_pid[p["pid"]] = p
    stable = stable_guest_procs(s)
    assert len(stable) >= 40, f"guest views too unstable to compare: {len(stable)} processes"
    problems = []
    for pid, gp in sorted(stable.items()):
        vp = by_pid.get(pid)
        if vp is None:
            problems.append(f"pid {pid} ({gp['comm']}) missing from vigil")
            continue
        kthread = vp["kthread"]
        if not comm_matches(vp["comm"], gp["comm"], kthread):
            problems.append(f"pid {pid}: comm {vp['comm']!r} != guest {gp['comm']!r}")
        if vp["ppid"] != gp["ppid"]:
            problems.append(f"pid {pid}: ppid {vp['ppid']} != guest {gp['ppid']}")
        if vp["uid"] != gp["uid"]:
            problems.append(f"pid {pid}: uid {vp['uid']} != guest {gp['uid']}")
        if vp["tgid"] != pid:
            problems.append(f"pid {pid}: tgid {vp['tgid']} in the process list")
        if vp["cmdline"] != gp["args"]:
            problems.append(f"pid {pid}: cmdline {vp['cmdline']!r} != guest {gp['args']!r}")
        gid, exe = s["gextra"].get(pid, (None, None))
        if gid is not None and vp["gid"] != gid:
            problems.append(f"pid {pid}: gid {vp['gid']} != guest {gid}")
        if exe is not None and vp["exe"] != exe:
            problems.append(f"pid {pid}: exe {vp['exe']!r} != guest {exe!r}")
        # the guest says kernel thread by having no cmdline and no exe
        if kthread != (gp["args"] == "" and exe == ""):
            problems.append(f"pid {pid}: kthread={kthread} but guest args={gp['args']!r} "
                            f"exe={exe!r}")
    seen = {p["pid"] for p in s["gps1"]} | {p["pid"] for p in s["gps2"]}
    for pid, vp in sorted(by_pid.items()):
        # only kernel workers may come and go unseen by both guest views
        if pid not in seen and not (vp["kthread"] and vp["comm"].startswith("kworker/")):
            problems.append(f"vigil lists pid {pid} ({vp['comm']}, {vp['cmdline']!r}) "
                            "that the guest never showed")
    assert not problems, "\n".join(problems)
    return by_pid


def check_known(by_pid):
    """The long-running processes /init starts, init, the console shell and kthreadd."""
    for exp in EXPECTED_PROCESSES:
        hits = [p for p in by_pid.values() if p["cmdline"] == exp["args"]]
        assert len(hits) == 1, f"{exp['args']!r}: {hits}"
        p = hits[0]
        assert (p["comm"], p["uid"], p["ppid"], p["state"], p["kthread"]) == \
            (exp["comm"], exp["uid"], 1, "S", False), p
        assert p["exe"] in ("/bin/busybox", "/bin/vigil-worker"), p
        assert not p["exe_deleted"], p
    init = by_pid[1]
    # boot parameters the kernel does not know (nokaslr) are passed on to init as arguments
    assert init["cmdline"].startswith("/bin/sh /init"), init
    assert (init["comm"], init["exe"], init["ppid"], init["kthread"]) == \
        ("init", "/bin/busybox", 0, False), init
    kthreadd = by_pid[2]
    assert (kthreadd["comm"], kthreadd["ppid"], kthreadd["kthread"], kthreadd["cmdline"],
            kthreadd["exe"]) == ("kthreadd", 0, True, "", ""), kthreadd
    shells = [p for p in by_pid.values() if p["cmdline"] == "sh -l" and p["ppid"] == 1]
    assert len(shells) == 1 and shells[0]["exe"] == "/bin/busybox", shells
    httpd = [p for p in by_pid.values() if p["comm"] == "httpd"][0]
    assert (httpd["gid"], httpd["euid"], httpd["egid"]) == (1000, 1000, 1000), httpd
    kthreads = [p for p in by_pid.values() if p["kthread"]]
    assert len(kthreads) >= 30, len(kthreads)
    for p in kthreads:
        assert p["cmdline"] == "" and p["exe"] == "" and (p["pid"] == 2 or p["ppid"] == 2), p


# ---- the tests ---------------------------------------------------------------------------

def test_ps_matches_guest(snap):
    by_pid = compare_ps(snap, ok(snap["live"]["ps_nc"]))
    check_known(by_pid)


def test_lsmod_matches_proc_modules(snap):
    vm = ok(snap["live"]["lsmod"])
    gm = {m["name"]: m for m in snap["gmods"]}
    assert sorted(m["name"] for m in vm) == sorted(gm), (vm, snap["gmods"])
    assert set(EXPECTED_MODULES) <= set(gm)
    for m in vm:
        g = gm[m["name"]]
        assert (m["size"], m["refcount"], m["state"], int(m["base"], 16)) == \
            (g["size"], g["refcount"], g["state"], g["addr"]), (m, g)
        assert m["state"] == "Live"


def test_info_matches_guest(snap):
    info = ok(snap["live"]["info_nc"])
    assert info["levels"] == snap["levels"] == (5 if snap["cfg"]["la57"] else 4), \
        (info["levels"], snap["levels"])
    assert info["paging"] == f"x86-64 {info['levels']}-level"
    text = snap["ksyms"]["_text"]
    assert int(info["text_va"], 16) == text, (info["text_va"], hex(text))
    slide = int(info["kaslr_slide"], 16)
    assert slide == text - DEFAULT_TEXT, (info["kaslr_slide"], hex(text))
    if snap["cfg"]["kaslr"]:
        # the text slide can be 0 by chance (one slot in ~500); the direct map is randomized
        # independently, so KASLR must show in at least one of them
        default_pob = 0xff11000000000000 if info["levels"] == 5 else 0xffff888000000000
        assert slide != 0 or int(info["page_offset_base"], 16) != default_pob, info
    else:
        assert slide == 0 and text == DEFAULT_TEXT
    assert info["release"] == snap["release"]
    assert snap["version"].startswith(info["banner"].rstrip()[:100])
    assert info["symbols"] > 50000 and info["btf_types"] > 50000, info
    assert info["from_cache"] is False
    # what the guest calls RAM: all of -m except the legacy VGA/BIOS hole below 1 MiB
    total = sum(length for _, _, length in snap["ram_layout"])
    assert total - (1 << 20) <= info["ram_bytes"] <= total, (info["ram_bytes"], total)


def test_read_banner(snap):
    r = ok(snap["live"]["read"])
    data = bytes.fromhex(r["hex"])
    assert len(data) == 64 and r["length"] == 64
    assert int(r["address"], 16) == snap["ksyms"]["linux_banner"]
    assert r.get("symbol") == "linux_banner" and r.get("symbol_offset") == 0, r
    text = data.decode("ascii", errors="replace")
    assert text.startswith("Linux version " + snap["release"]), text
    assert snap["version"].startswith(text), (text, snap["version"])


def test_cache_gives_same_answer(snap):
    live = snap["live"]
    cold = ok(live["ps_nc"])
    assert ok(live["ps"]) == cold
    info = ok(live["info"])
    assert info["from_cache"] is True, info
    assert ok(live["ps_cached"]) == cold
    nc = ok(live["info_nc"])
    for k in ("text_va", "kaslr_slide", "page_offset_base", "page_table_base", "levels",
              "symbols", "btf_types", "banner"):
        assert info[k] == nc[k], k


def test_cache_home_created(snap):
    """XDG_CACHE_HOME (or ~/.cache) that does not exist yet is created, not silently unused."""
    assert ok(snap["live"]["info_fresh"])["from_cache"] is True


def test_threads_superset(snap):
    plain = ok(snap["live"]["ps_nc"])
    threads = ok(snap["live"]["ps_threads"])
    key = {(p["pid"], p["task"]) for p in threads}
    missing = [p for p in plain if (p["pid"], p["task"]) not in key]
    assert not missing, missing
    by_pid = {p["pid"]: p for p in threads}
    assert len(by_pid) == len(threads), "a task listed twice with --threads"
    for p in threads:
        if p["pid"] != p["tgid"]:
            assert p["tgid"] in by_pid, p  # a thread's leader is listed too
    compare_ps(snap, [p for p in threads if p["pid"] == p["tgid"]])


@pytest.mark.parametrize("kind", ["elf", "raw"])
def test_dump_same_as_live(snap, kind):
    if kind not in snap:
        pytest.skip(f"dumps are taken for {[n for n, c in CONFIGS.items() if c['dumps']]}")
    d = snap[kind]
    live_ps = ok(snap["live"]["ps_nc"])
    assert ok(d["ps"]) == live_ps
    assert ok(d["lsmod"]) == ok(snap["live"]["lsmod"])
    info, live = ok(d["info"]), ok(snap["live"]["info_nc"])
    assert info["source_kind"] == ("elf-core" if kind == "elf" else "raw"), info
    for k in ("text_va", "kaslr_slide", "text_pa", "page_offset_base", "levels", "symbols",
              "btf_types", "release"):
        assert info[k] == live[k], (k, info[k], live[k])
    if kind == "elf":
        assert info["ram_bytes"] == live["ram_bytes"], (info["ram_bytes"], live["ram_bytes"])
    compare_ps(snap, ok(d["ps"]))


def test_ram_above_4g_layout(snap):
    if snap["name"] != "mem5g":
        pytest.skip("only the 5G guest has RAM above 4 GiB")
    assert len(snap["ram_layout"]) == 2 and snap["ram_layout"][1][0] == 1 << 32
    # q35 keeps 2 GiB below the PCI hole; the rest of the file is RAM from 4 GiB
    for src in ("live", "raw"):
        info = ok(snap[src]["info_nc" if src == "live" else "info"])
        assert info["layout"] == "split-2G", (src, info["layout"])
        assert info["ram_bytes"] > 4 << 30, info["ram_bytes"]
    assert ok(snap["elf"]["info"])["ram_bytes"] == ok(snap["live"]["info_nc"])["ram_bytes"]
