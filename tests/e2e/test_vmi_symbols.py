"""--symbols: symbols from text instead of the guest's in-memory kallsyms. Debian ships only a
placeholder System.map, so the guest's own /proc/kallsyms stands in: once as is (runtime
addresses) and once rewritten to link-time addresses like a real System.map, which vigil must
slide to the running kernel by linux_banner."""
import json

import pytest

from conftest import run_vigil as vigil


@pytest.fixture(scope="module")
def sym_env(guest, tmp_path_factory):
    d = tmp_path_factory.mktemp("syms")
    text = guest.run("cat /proc/kallsyms", timeout=300)
    lines = [l for l in text.splitlines() if len(l.split()) >= 3 and "[" not in l]
    assert len(lines) > 50000
    runtime = d / "kallsyms.txt"
    runtime.write_text("\n".join(lines) + "\n")
    rc, out, err = vigil("vmi", "info", "-j", "--no-cache", "--vm", guest.mem_path)
    assert rc == 0, err
    slide = int(json.loads(out)["kaslr_slide"], 16)
    linktime = d / "System.map"
    with linktime.open("w") as f:
        for l in lines:
            a, t, n = l.split()[:3]
            v = int(a, 16)
            # per-cpu symbols are small absolute values: not slid
            f.write(f"{(v - slide if v >= 0xffffffff80000000 else v):016x} {t} {n}\n")
    guest.pause()
    yield guest, runtime, linktime, len(lines)
    guest.resume()


def ps(run_vigil, mem, *extra):
    rc, out, err = run_vigil("vmi", "ps", "-j", "--no-cache", "--vm", mem, *extra)
    assert rc == 0, err
    return [(p["pid"], p["ppid"], p["comm"], p["cmdline"], p["exe"]) for p in json.loads(out)]


@pytest.mark.parametrize("which", ["runtime", "linktime"])
def test_symbols_override(sym_env, run_vigil, which):
    g, runtime, linktime, n = sym_env
    path = runtime if which == "runtime" else linktime
    assert ps(run_vigil, g.mem_path, "--symbols", path) == ps(run_vigil, g.mem_path)
    rc, out, err = run_vigil("vmi", "info", "-j", "--no-cache", "--vm", g.mem_path,
                             "--symbols", path)
    assert rc == 0, err
    assert json.loads(out)["symbols"] == n
    for sym in ("init_task", "linux_banner"):
        a = run_vigil("vmi", "translate", "-j", "--no-cache", "--vm", g.mem_path, sym)
        b = run_vigil("vmi", "translate", "-j", "--no-cache", "--vm", g.mem_path, sym,
                      "--symbols", path)
        assert a[0] == b[0] == 0 and json.loads(a[1]) == json.loads(b[1])


def test_symbols_file_errors(sym_env, run_vigil, tmp_path):
    g = sym_env[0]
    bad = tmp_path / "bad.map"
    bad.write_text("this is not a symbol file\n")
    for path, words in ((tmp_path / "missing.map", "no such file"), (bad, "symbol file")):
        rc, out, err = run_vigil("vmi", "ps", "--no-cache", "--vm", g.mem_path,
                                 "--symbols", path)
        assert rc == 2 and out == "" and err.count("\n") == 1, (rc, err)
        assert words in err.lower(), err
